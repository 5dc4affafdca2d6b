"""A small real genome with coverage tracks, written per test (function scope)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import random_seq, write_bigwig, write_fasta

# chromosome k carries offset k * OFFSET in the index track, so a wrong chromosome shows too
OFFSET = 100_000
SIZES = {"c1": 6000, "c2": 4000, "c3": 3000}


@dataclass
class SmallData:
    """Paths and the exact values written."""

    root: Path
    fasta: Path
    seqs: dict[str, str]
    index: Path  # value at base i of chromosome k is k * OFFSET + i
    plus: Path
    minus: Path
    plus_values: dict[str, np.ndarray]
    minus_values: dict[str, np.ndarray]

    def tracks(self, **index_opts) -> list[dict]:
        """Track dicts as a config gives them: index, and a plus/minus strand pair."""
        return [
            {"name": "index", "path": str(self.index), **index_opts},
            {"name": "plus", "path": str(self.plus), "strand_pair": "minus"},
            {"name": "minus", "path": str(self.minus), "strand_pair": "plus"},
        ]


def write_small_data(root: Path, sizes: dict[str, int] = SIZES) -> SmallData:
    """Write the FASTA (soft-masked stretch, an N run) and three bigWigs under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    seqs = {c: random_seq(n, seed=k) for k, (c, n) in enumerate(sizes.items())}
    s = seqs["c1"]
    seqs["c1"] = s[:1000] + s[1000:1300].lower() + "N" * 400 + s[1700:]
    fasta = write_fasta(root / "genome.fa", seqs)
    rng = np.random.default_rng(0)
    index_values = {
        c: k * OFFSET + np.arange(n, dtype=float) for k, (c, n) in enumerate(sizes.items())
    }
    plus = {c: np.round(rng.gamma(0.5, 4.0, n), 2) for c, n in sizes.items()}
    minus = {c: np.round(rng.gamma(0.5, 4.0, n), 2) for c, n in sizes.items()}
    plus["c2"][100:150] = np.nan  # uncovered: reads as 0
    return SmallData(
        root=root,
        fasta=fasta,
        seqs=seqs,
        index=write_bigwig(root / "index.bw", index_values),
        plus=write_bigwig(root / "plus.bw", plus),
        minus=write_bigwig(root / "minus.bw", minus),
        plus_values={c: np.nan_to_num(v) for c, v in plus.items()},
        minus_values=minus,
    )


@pytest.fixture
def small(tmp_path) -> SmallData:
    return write_small_data(tmp_path / "data")
