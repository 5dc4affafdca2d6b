"""Dataset presets: chromosome sizes, the suggested split and how many variants to plant."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import numpy as np

from genodil.errors import InputError
from genodil.outputs import ensure_writable_dir

__all__ = ["CHROMS", "PRESETS", "SPLITS"]

Preset = Literal["tiny", "small", "longrange", "large"]

#: Chromosome sizes (bp) of each preset, for ``chr1`` .. ``chr4``.
_SMALL = (2_240_000, 2_080_000, 1_920_000, 1_760_000)
PRESETS: dict[str, tuple[int, int, int, int]] = {
    "tiny": (280_000, 260_000, 240_000, 220_000),
    "small": _SMALL,
    "longrange": _SMALL,
    "large": (28_000_000, 26_000_000, 24_000_000, 22_000_000),
}
CHROMS = ("chr1", "chr2", "chr3", "chr4")
#: Suggested chromosome split (configs own the real one).
SPLITS = {"train": ["chr1", "chr2"], "valid": ["chr3"], "test": ["chr4"]}
#: Variant counts per chromosome scale with the preset.
_VARIANT_SCALE = {"tiny": 1, "small": 2, "longrange": 2, "large": 4}
#: Enhancer-less ``nfy`` promoters per controlled long-range pair. ``longrange`` is ``small``
#: plus as many lonely promoters as pairs, so that the data can tell a promoter's own signal
#: from what its enhancer adds (docs/results.md, issue 13).
_LONELY_SHARE = {"longrange": 1.0}


def _check_args(out_dir: str | os.PathLike, preset: str, seed: int) -> Path:
    if preset not in PRESETS:
        raise InputError(
            f"unknown simulate preset {preset!r}: choose one of {', '.join(PRESETS)} "
            "(tiny ~1 Mb for the demo, small ~8 Mb, longrange ~8 Mb with enhancer-less promoters, "
            "large ~100 Mb for benchmarks)"
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"simulate seed must be a non-negative integer, got {seed!r}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"simulate output {out} exists and is not a folder: give a folder path")
    return ensure_writable_dir(out, "simulate --out folder")
