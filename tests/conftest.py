"""A small learnable dataset and run config for training tests (real FASTA + bigWig)."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.helpers import write_bigwig, write_fasta

MOTIF = "TGACTCAG"
SIZES = {"c1": 24_000, "c2": 16_000, "c3": 8_000, "c4": 8_000}


def write_learnable_data(root: Path, seed: int = 0) -> dict[str, Path]:
    """Random genome with planted motifs; track ``peak`` is a bump at every motif instance."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    seqs, peaks, plus, minus = {}, {}, {}, {}
    for chrom, n in SIZES.items():
        seq = rng.choice(list("ACGT"), size=n)
        rate = np.full(n, 0.2)
        strand_rate = np.full(n, 0.1)
        for pos in rng.choice(np.arange(200, n - 200, 150), size=n // 600, replace=False):
            seq[pos : pos + len(MOTIF)] = list(MOTIF)
            x = np.arange(n)
            rate += 20 * np.exp(-0.5 * ((x - pos - 4) / 12.0) ** 2)
            strand_rate[pos + 20 : pos + 24] += 10
        seqs[chrom] = "".join(seq)
        peaks[chrom] = rng.poisson(rate).astype(float)
        plus[chrom] = rng.poisson(strand_rate).astype(float)
        minus[chrom] = rng.poisson(strand_rate[::-1]).astype(float)[::-1]
    return {
        "fasta": write_fasta(root / "genome.fa", seqs),
        "peak": write_bigwig(root / "peak.bw", peaks),
        "plus": write_bigwig(root / "plus.bw", plus),
        "minus": write_bigwig(root / "minus.bw", minus),
    }


def run_config(root: Path, **sections) -> dict:
    """A tiny run config (docs/architecture.md §5) over the learnable data in ``root``."""
    cfg = {
        "data": {
            "fasta": "genome.fa",
            "tracks": [
                {"name": "peak", "path": "peak.bw"},
                {"name": "plus", "path": "plus.bw", "strand_pair": "minus"},
                {"name": "minus", "path": "minus.bw", "strand_pair": "plus"},
            ],
            "window": 1024,
            "crop": 128,
            "stride": 512,
            "splits": {"valid": ["c3"], "test": ["c4"]},
            "augment": {"reverse_complement": True, "max_shift": 2},
            "batch_size": 4,
        },
        "model": {
            "channels": 8,
            "stem_kernel": 9,
            "dilations": {"schedule": "exponential", "rate": 2, "blocks": 5},
            "dropout": 0.1,
        },
        "train": {
            "lr": 0.005,
            "warmup_steps": 2,
            "max_epochs": 2,
            "accelerator": "cpu",
            "log_every_n_steps": 1,
            "checkpoint_every_n_steps": 2,
        },
    }
    for section, values in sections.items():
        cfg.setdefault(section, {}).update(values)
    return cfg


@pytest.fixture
def tiny_data(tmp_path) -> Path:
    """Folder with genome.fa, peak.bw, plus.bw, minus.bw."""
    root = tmp_path / "data"
    write_learnable_data(root)
    return root


@pytest.fixture
def tiny_config(tiny_data) -> Path:
    """Path of a run config YAML next to the tiny data."""
    path = tiny_data / "run.yaml"
    path.write_text(yaml.safe_dump(run_config(tiny_data)))
    return path


@contextlib.contextmanager
def _read_only(folder: Path):
    """Make ``folder`` refuse new files, renames and deletions, then restore it.

    Without root, permission bits do it. Root ignores them, so there the folder gets the
    ext4/xfs immutable attribute (``chattr +i``), which binds root too; the test is skipped
    where neither works.
    """
    folder = Path(folder)
    if os.geteuid() != 0:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield folder
        finally:
            folder.chmod(mode)
        return
    if shutil.which("chattr") is None:
        pytest.skip("running as root without chattr: no way to make a folder read-only")
    res = subprocess.run(["chattr", "+i", str(folder)], capture_output=True, check=False)
    if res.returncode != 0:
        pytest.skip(f"chattr +i failed here: {res.stderr.decode().strip()}")
    try:
        yield folder
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


@pytest.fixture
def read_only_dir():
    """``with read_only_dir(folder):`` makes ``folder`` read-only for the block (root too)."""
    return _read_only
