"""Interval tables: merge, subtract, overlap, containment and the one window tiling.

An interval table is a pandas DataFrame with columns ``chrom`` (str), ``start`` and ``end``
(int64), 0-based half-open (BED, bioframe). Everything here is vectorised per chromosome with
numpy (``searchsorted`` on merged, sorted intervals).

:func:`tile_intervals` is the one window tiling: training and evaluation windows
(:func:`genodil.data.windows.tile_windows`) and prediction tiles
(:mod:`genodil.predict.tiles`) are both made by it.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Literal

import numpy as np
import pandas as pd

__all__ = [
    "interval_frame",
    "intervals_contain",
    "intervals_overlap",
    "merge_intervals",
    "merge_sorted",
    "merged_by_chrom",
    "subtract_intervals",
    "tile_intervals",
]

_EMPTY = (np.zeros(0, np.int64), np.zeros(0, np.int64))


def interval_frame(
    chroms: Sequence[str], starts: Iterable[int], ends: Iterable[int]
) -> pd.DataFrame:
    """An interval table with the standard dtypes (chrom object, start/end int64)."""
    return pd.DataFrame(
        {
            "chrom": pd.Series(list(chroms), dtype=object),
            "start": np.asarray(
                starts if isinstance(starts, np.ndarray) else list(starts), dtype=np.int64
            ),
            "end": np.asarray(ends if isinstance(ends, np.ndarray) else list(ends), dtype=np.int64),
        }
    )


def merge_sorted(starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort and merge overlapping or touching intervals of one chromosome.

    Parameters
    ----------
    starts, ends : np.ndarray, shape (n,)

    Returns
    -------
    (starts, ends) : np.ndarray, int64, sorted and disjoint (touching intervals are joined)
    """
    if len(starts) == 0:
        return _EMPTY
    order = np.argsort(starts, kind="stable")
    s, e = np.asarray(starts, np.int64)[order], np.asarray(ends, np.int64)[order]
    run_end = np.maximum.accumulate(e)
    new = np.ones(len(s), bool)
    new[1:] = s[1:] > run_end[:-1]
    idx = np.flatnonzero(new)
    last = np.r_[idx[1:] - 1, len(s) - 1]
    return s[idx], run_end[last]


def merged_by_chrom(df: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Merged intervals per chromosome, in order of first appearance.

    Returns
    -------
    dict chrom -> (starts, ends), int64, sorted and disjoint
    """
    return {
        chrom: merge_sorted(g["start"].to_numpy(), g["end"].to_numpy())
        for chrom, g in df.groupby("chrom", sort=False)
    }


def merge_intervals(df: pd.DataFrame, chrom_order: Sequence[str] | None = None) -> pd.DataFrame:
    """Merge overlapping or touching intervals.

    Parameters
    ----------
    df : pd.DataFrame
        Interval table.
    chrom_order : sequence of str or None
        Order of chromosomes in the result (e.g. FASTA order); None keeps the order of first
        appearance. Chromosomes missing from it follow, in order of appearance.

    Returns
    -------
    pd.DataFrame, interval table sorted by chromosome then start
    """
    merged = merged_by_chrom(df)
    order = [c for c in (chrom_order or []) if c in merged]
    order += [c for c in merged if c not in set(order)]
    return interval_frame(
        [c for c in order for _ in range(len(merged[c][0]))],
        np.concatenate([merged[c][0] for c in order]) if order else [],
        np.concatenate([merged[c][1] for c in order]) if order else [],
    )


def subtract_intervals(a: pd.DataFrame, b: pd.DataFrame) -> pd.DataFrame:
    """Parts of intervals ``a`` not covered by intervals ``b`` (both interval tables).

    Returns
    -------
    pd.DataFrame, merged intervals sorted by chromosome order of ``a`` and start.
    """
    bb = merged_by_chrom(b)
    chroms, starts, ends = [], [], []
    for chrom, (s_a, e_a) in merged_by_chrom(a).items():
        s_b, e_b = bb.get(chrom, _EMPTY)
        for s, e in zip(s_a.tolist(), e_a.tolist(), strict=True):
            cur = s
            # intervals of b that overlap [s, e)
            lo = np.searchsorted(e_b, s, side="right")
            hi = np.searchsorted(s_b, e, side="left")
            for hs, he in zip(s_b[lo:hi].tolist(), e_b[lo:hi].tolist(), strict=True):
                if hs > cur:
                    chroms.append(chrom)
                    starts.append(cur)
                    ends.append(hs)
                cur = max(cur, he)
            if cur < e:
                chroms.append(chrom)
                starts.append(cur)
                ends.append(e)
    return interval_frame(chroms, starts, ends)


def _per_chrom(windows: pd.DataFrame, intervals: pd.DataFrame) -> Iterator[tuple]:
    """Yield (window indices, starts, ends, merged interval starts, ends) per shared chromosome."""
    merged = merged_by_chrom(intervals)
    starts, ends = windows["start"].to_numpy(), windows["end"].to_numpy()
    for chrom, idx in windows.groupby("chrom", sort=False).indices.items():
        if chrom in merged:
            yield idx, starts[idx], ends[idx], *merged[chrom]


def intervals_overlap(windows: pd.DataFrame, intervals: pd.DataFrame, pad: int = 0) -> np.ndarray:
    """Which rows of ``windows`` overlap any interval (each widened by ``pad`` per side).

    Returns
    -------
    np.ndarray, shape (n_windows,), bool
    """
    hit = np.zeros(len(windows), bool)
    for idx, ws, we, s_b, e_b in _per_chrom(windows, intervals):
        ws, we = ws - pad, we + pad
        j = np.searchsorted(s_b, we, side="left") - 1  # last interval starting before we
        ok = j >= 0
        hit[idx[ok]] = e_b[j[ok]] > ws[ok]
    return hit


def intervals_contain(windows: pd.DataFrame, intervals: pd.DataFrame) -> np.ndarray:
    """Which rows of ``windows`` lie entirely inside one of the (merged) intervals.

    Returns
    -------
    np.ndarray, shape (n_windows,), bool
    """
    inside = np.zeros(len(windows), bool)
    for idx, ws, we, s_b, e_b in _per_chrom(windows, intervals):
        j = np.searchsorted(s_b, ws, side="right") - 1
        ok = j >= 0
        inside[idx[ok]] = e_b[j[ok]] >= we[ok]
    return inside


def tile_intervals(
    intervals: pd.DataFrame,
    size: int,
    stride: int,
    last: Literal["flush", "partial"] = "flush",
) -> pd.DataFrame:
    """Tile each interval with pieces of ``size`` bases starting every ``stride`` bases.

    Parameters
    ----------
    intervals : pd.DataFrame
        Interval table; pieces start at each interval's start.
    size, stride : int
        Piece length and step in bases, both >= 1.
    last : {"flush", "partial"}
        ``"flush"``: pieces lie inside their interval; when the last regular piece stops
        short of the interval end, one more piece flush with the end is added; intervals
        shorter than ``size`` give none (training and evaluation windows).
        ``"partial"``: the last piece is cut at the interval end, so every base is covered
        exactly once when ``stride == size`` (prediction tiles).

    Returns
    -------
    pd.DataFrame with columns chrom, start, end and ``interval`` (row number in
    ``intervals`` of the interval each piece comes from), in input order.
    """
    size, stride = int(size), int(stride)
    if size < 1 or stride < 1:
        raise ValueError(f"size ({size}) and stride ({stride}) must be >= 1")
    if last not in ("flush", "partial"):
        raise ValueError(f"last must be 'flush' or 'partial', not {last!r}")
    chroms: list[str] = []
    starts: list[np.ndarray] = []
    rows: list[np.ndarray] = []
    columns = (intervals["chrom"], intervals["start"], intervals["end"])
    for i, (chrom, s, e) in enumerate(zip(*columns, strict=True)):
        if last == "partial":
            st = np.arange(s, e, stride, dtype=np.int64)
        elif e - s < size:
            continue
        else:
            st = np.arange(s, e - size + 1, stride, dtype=np.int64)
            if st[-1] + size < e:
                st = np.r_[st, e - size]
        chroms.extend([chrom] * len(st))
        starts.append(st)
        rows.append(np.full(len(st), i, dtype=np.int64))
    st = np.concatenate(starts) if starts else np.zeros(0, np.int64)
    out = interval_frame(chroms, st, st + size)
    if last == "partial" and len(out):
        ends = intervals["end"].to_numpy(np.int64)[np.concatenate(rows)]
        out["end"] = np.minimum(out["end"].to_numpy(), ends)
    out["interval"] = np.concatenate(rows) if rows else np.zeros(0, np.int64)
    return out
