"""Over-represent training windows that carry signal on one track (``data.oversample``).

A sparse track (a long-range track non-zero on ~2% of bases) leaves most training windows
without any of its signal. With ``data.oversample: {track: NAME, fraction: F}`` each training
epoch still draws as many windows as the training split holds, but about ``F`` of them (exactly
``round(F * n)``) come from the "positive" windows:

* A window is positive when the largest absolute raw value of track NAME (bigWig units, before
  ``scale``/``log1p``; uncovered bases count as 0) over the bases its output region can cover
  exceeds ``min_signal`` (default 0: any non-zero value). With ``augment.jitter`` /
  ``max_shift`` that region is the output region widened by ``jitter + max_shift`` on each side.
  The values come from the bigWig summaries (``pyBigWig.stats(..., exact=True)``), once per
  window at ``setup("fit")``; nothing is decoded base by base.
* The positive slots of an epoch are filled by going through the positive windows in a fresh
  random order, again and again as needed (each positive window is drawn ``floor`` or ``ceil``
  of ``k / n_pos`` times); the other slots likewise from the other windows (a random subset
  of them when they outnumber their slots). The slots are then shuffled together. The draw
  depends only on ``(seed, epoch)``, so a resumed run replays it.

Validation and test windows are never resampled.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from genodil.config.types import as_number
from genodil.errors import InputError
from genodil.genome.io import ChromAlias, alias_chrom

__all__ = [
    "OVERSAMPLE_KEYS",
    "check_oversample",
    "oversample_order",
    "positive_slots",
    "window_signal",
]

OVERSAMPLE_KEYS = ("track", "fraction", "min_signal")
_DEFAULTS = {"fraction": 0.5, "min_signal": 0.0}
# Mixed into the seed of the draw, so it never repeats the plain shuffle's random stream.
_STREAM = 0x0517


def check_oversample(
    oversample: Mapping[str, Any] | None, track_names: Sequence[str] | None = None
) -> dict[str, Any] | None:
    """The ``data.oversample`` mapping with every key filled in (None: off).

    Parameters
    ----------
    oversample : mapping or None
        ``{track: NAME, fraction: 0.5, min_signal: 0.0}``; ``track`` is required.
    track_names : sequence of str or None
        The configured tracks; ``track`` must be one of them (not checked when None).

    Returns
    -------
    dict or None
        ``{"track": str, "fraction": float, "min_signal": float}``, or None when off.

    Raises
    ------
    InputError
        An unknown key, a missing or unknown track, a fraction outside (0, 1) or a negative
        ``min_signal``.
    """
    if oversample is None:
        return None
    if not isinstance(oversample, Mapping):
        raise InputError(
            f"data.oversample must be a mapping such as {{track: NAME, fraction: 0.5}} or "
            f"null, not {oversample!r}"
        )
    for key in oversample:
        if key not in OVERSAMPLE_KEYS:
            near = difflib.get_close_matches(str(key), OVERSAMPLE_KEYS, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise InputError(
                f"data.oversample: unknown key {key!r}{hint}; valid keys: "
                f"{', '.join(OVERSAMPLE_KEYS)}"
            )
    out = {**_DEFAULTS, **{k: v for k, v in oversample.items() if v is not None}}
    track = out.get("track")
    if not isinstance(track, str) or not track:
        raise InputError(
            "data.oversample.track must name the track whose signal is over-represented, "
            "e.g. oversample: {track: longrange, fraction: 0.5}"
        )
    if track_names is not None and track not in track_names:
        near = difflib.get_close_matches(track, list(track_names), n=1)
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        raise InputError(
            f"data.oversample.track {track!r} is not a track{hint}; tracks: "
            f"{', '.join(track_names)}"
        )
    fraction = as_number(out["fraction"])
    if fraction is None or not 0.0 < fraction < 1.0:
        raise InputError(
            f"data.oversample.fraction must be a number between 0 and 1 (exclusive), the share "
            f"of each epoch drawn from windows with signal, not {out['fraction']!r}"
        )
    min_signal = as_number(out["min_signal"])
    if min_signal is None or not math.isfinite(min_signal) or min_signal < 0:
        raise InputError(
            f"data.oversample.min_signal must be a number >= 0 (raw bigWig units; 0: any "
            f"non-zero value), not {out['min_signal']!r}"
        )
    return {"track": track, "fraction": fraction, "min_signal": min_signal}


def window_signal(
    path: str,
    windows: pd.DataFrame,
    pad_start: int,
    pad_end: int,
    chrom_alias: ChromAlias = "none",
) -> np.ndarray:
    """Largest absolute value of a bigWig over each window's region, from its summaries.

    Parameters
    ----------
    path : str
        bigWig file.
    windows : pd.DataFrame
        Columns chrom (FASTA names), start, end.
    pad_start, pad_end : int
        The region read is ``[start + pad_start, end - pad_end)``, clipped to the chromosome
        (e.g. ``crop - reach`` and ``crop - reach`` for the output region widened by the
        augmentation reach).
    chrom_alias : {"none", "add_chr", "strip_chr"}

    Returns
    -------
    np.ndarray, shape (len(windows),), float64
        0 where the region has no covered base (or the bigWig lacks the chromosome).
    """
    import pyBigWig

    try:
        bw = pyBigWig.open(str(path))
    except RuntimeError:
        bw = None
    if bw is None:
        raise InputError(f"bigWig {path} cannot be opened (data.oversample.track)")
    out = np.zeros(len(windows), dtype=np.float64)
    try:
        sizes = bw.chroms()
        rows = zip(windows["chrom"], windows["start"], windows["end"], strict=True)
        for i, (chrom, start, end) in enumerate(rows):
            name = alias_chrom(str(chrom), chrom_alias)
            size = sizes.get(name)
            lo, hi = max(int(start) + pad_start, 0), min(int(end) - pad_end, size or 0)
            if hi <= lo:
                continue
            top = bw.stats(name, lo, hi, type="max", exact=True)[0]
            low = bw.stats(name, lo, hi, type="min", exact=True)[0]
            values = [abs(v) for v in (top, low) if v is not None and not math.isnan(v)]
            out[i] = max(values, default=0.0)
    finally:
        bw.close()
    return out


def _cycle(indices: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """``k`` draws from ``indices``: fresh random orders of all of them, end to end."""
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    rounds = -(-k // len(indices))
    return np.concatenate([rng.permutation(indices) for _ in range(rounds)])[:k]


def positive_slots(n: int, fraction: float) -> int:
    """Draws of an ``n``-window epoch taken from the positive windows.

    ``round(fraction * n)``, kept within [1, n - 1] so that both kinds are drawn.
    """
    return min(max(round(fraction * n), 1), n - 1) if n > 1 else n


def oversample_order(positive: np.ndarray, fraction: float, seed: int, epoch: int) -> np.ndarray:
    """The window indices of one training epoch, ``positive_slots`` of them positive.

    Parameters
    ----------
    positive : np.ndarray of bool, shape (n,)
        Which windows carry signal; at least one must and one must not.
    fraction : float
        Share of the epoch drawn from the positive windows, in (0, 1).
    seed, epoch : int
        The draw depends on these only.

    Returns
    -------
    np.ndarray of int64, shape (n,)
        Indices into the window table (positive ones repeat when they are fewer than their
        slots; the others are a random subset, or repeat too).
    """
    positive = np.asarray(positive, dtype=bool)
    pos, neg = np.flatnonzero(positive), np.flatnonzero(~positive)
    if not len(pos) or not len(neg):
        raise ValueError("oversampling needs both windows with and without signal")
    n = len(positive)
    k = positive_slots(n, fraction)
    rng = np.random.default_rng([int(seed), int(epoch), _STREAM])
    order = np.concatenate([_cycle(pos, k, rng), _cycle(neg, n - k, rng)])
    rng.shuffle(order)
    return order.astype(np.int64)
