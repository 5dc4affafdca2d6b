"""Window tables: tiling, BED-centred windows, splits, N-fraction and blacklist filters.

A window table is a pandas DataFrame with columns ``chrom`` (str), ``start`` and ``end``
(int64), 0-based half-open coordinates of the model's INPUT window (length ``window``); its
output region is ``[start + crop, end - crop)``.

Splits. ``splits`` maps a split name (``valid``, ``test``; optionally ``train``) to a list of
entries, each a chromosome name (``chrII``) or a region (``IV:0-500000``). The held-out
splits must not overlap each other. The training intervals are the chromosomes used (or the
``train`` entries) minus every held-out region widened by ``margin`` bases on each side, where
``margin`` is the largest distance a training window can move (jitter + shift): so no training
window, however it is shifted, overlaps a validation or test region.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from genodil.errors import InputError
from genodil.genome.intervals import (
    interval_frame,
    intervals_contain,
    intervals_overlap,
    merge_intervals,
    merge_sorted,
    subtract_intervals,
    tile_intervals,
)
from genodil.genome.io import Genome, parse_region

__all__ = [
    "HELD_OUT",
    "SPLITS",
    "drop_blacklisted",
    "filter_n_fraction",
    "find_n_runs",
    "n_fraction",
    "region_windows",
    "split_intervals",
    "split_windows",
    "tile_windows",
]

log = logging.getLogger(__name__)

SPLITS = ("train", "valid", "test")
HELD_OUT = ("valid", "test")
_SPLIT_ALIASES = {"val": "valid", "validation": "valid", "training": "train"}

NRuns = Mapping[str, tuple[np.ndarray, np.ndarray]]


def _normalise_splits(splits: Mapping[str, Sequence[str]] | None) -> dict[str, list[str]]:
    import difflib

    out: dict[str, list[str]] = {}
    for key, entries in (splits or {}).items():
        name = _SPLIT_ALIASES.get(key, key)
        if name not in SPLITS:
            near = difflib.get_close_matches(key, [*SPLITS, "val"], n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise InputError(
                f"data.splits: unknown split {key!r}{hint}; use valid, test and optionally train"
            )
        if isinstance(entries, str):
            entries = [entries]
        out.setdefault(name, []).extend(str(e) for e in entries)
    return out


def _entries_to_intervals(
    split: str, entries: Sequence[str], chrom_sizes: Mapping[str, int]
) -> pd.DataFrame:
    chroms, starts, ends = [], [], []
    for entry in entries:
        if entry in chrom_sizes:
            chrom, start, end = entry, 0, chrom_sizes[entry]
        elif ":" in entry:
            chrom, start, end = parse_region(entry)
        else:
            chrom, start, end = entry, 0, 0
        if chrom not in chrom_sizes:
            alt = chrom[3:] if chrom.startswith("chr") else "chr" + chrom
            hint = f" (did you mean {alt!r}?)" if alt in chrom_sizes else ""
            raise InputError(
                f"data.splits.{split}: chromosome {chrom!r} is not among the chromosomes used"
                f"{hint}; they are {', '.join(list(chrom_sizes)[:12])}"
            )
        if end > chrom_sizes[chrom]:
            raise InputError(
                f"data.splits.{split}: region {entry!r} runs past the end of {chrom} "
                f"({chrom_sizes[chrom]:,} bp)"
            )
        chroms.append(chrom)
        starts.append(start)
        ends.append(end)
    return interval_frame(chroms, starts, ends)


def split_intervals(
    chrom_sizes: Mapping[str, int],
    splits: Mapping[str, Sequence[str]] | None,
    margin: int = 0,
) -> dict[str, pd.DataFrame]:
    """Genome intervals of each split.

    Parameters
    ----------
    chrom_sizes : mapping
        The chromosomes used and their lengths.
    splits : mapping or None
        Split name -> chromosome names or ``chrom:start-end`` regions. ``valid`` and ``test``
        are held out; ``train`` (optional) limits training, otherwise the rest trains.
    margin : int
        Bases kept free of training intervals on each side of every held-out region.

    Returns
    -------
    dict with keys train, valid, test: merged interval tables (possibly empty).

    Raises
    ------
    InputError
        Unknown split names or chromosomes, regions past a chromosome end, held-out splits
        that overlap each other.
    """
    sp = _normalise_splits(splits)
    out = {name: _entries_to_intervals(name, sp.get(name, []), chrom_sizes) for name in SPLITS}
    for name in HELD_OUT:
        out[name] = merge_intervals(out[name])
    if len(out["valid"]) and len(out["test"]):
        both = intervals_overlap(out["valid"], out["test"])
        if both.any():
            row = out["valid"][both].iloc[0]
            raise InputError(
                f"data.splits: valid and test overlap (at {row.chrom}:{row.start}-{row.end}); "
                "held-out splits must be disjoint"
            )
    whole = interval_frame(list(chrom_sizes), [0] * len(chrom_sizes), list(chrom_sizes.values()))
    train = out["train"] if "train" in sp else whole
    held = pd.concat([out["valid"], out["test"]], ignore_index=True)
    if margin and len(held):
        held = held.assign(start=held["start"] - margin, end=held["end"] + margin)
    out["train"] = subtract_intervals(train, held)
    return out


def tile_windows(intervals: pd.DataFrame, window: int, stride: int) -> pd.DataFrame:
    """Tile each interval with windows of length ``window`` every ``stride`` bases.

    Windows lie inside their interval; when the last regular window stops short of the
    interval end, one more window flush with the end is added. Intervals shorter than
    ``window`` give no window (:func:`genodil.genome.intervals.tile_intervals` with
    ``last="flush"``).

    Returns
    -------
    pd.DataFrame with columns chrom, start, end.
    """
    if window <= 0 or stride <= 0:
        raise InputError(f"window ({window}) and stride ({stride}) must be positive")
    return tile_intervals(intervals, window, stride, last="flush")[["chrom", "start", "end"]]


def region_windows(bed: pd.DataFrame, window: int, chrom_sizes: Mapping[str, int]) -> pd.DataFrame:
    """One window of length ``window`` centred on each BED region.

    A window that would run past a chromosome end is moved inside it (regions on
    chromosomes shorter than ``window`` are dropped).

    Returns
    -------
    pd.DataFrame with columns chrom, start, end (and name when the BED has one).
    """
    bed = bed[bed["chrom"].isin(list(chrom_sizes))]
    size = bed["chrom"].map(chrom_sizes).to_numpy(np.int64)
    centre = (bed["start"].to_numpy() + bed["end"].to_numpy()) // 2
    start = centre - window // 2
    start = np.minimum(np.maximum(start, 0), size - window)
    keep = size >= window
    out = interval_frame(bed["chrom"].to_numpy()[keep], start[keep], start[keep] + window)
    if "name" in bed:
        out["name"] = bed["name"].to_numpy()[keep]
    return out


def split_windows(
    windows: pd.DataFrame, intervals: Mapping[str, pd.DataFrame]
) -> dict[str, pd.DataFrame]:
    """Assign windows to the split whose intervals contain them entirely (others dropped)."""
    return {
        name: windows[intervals_contain(windows, iv)].reset_index(drop=True)
        for name, iv in intervals.items()
    }


def find_n_runs(genome: Genome, chunk: int = 1 << 22) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Runs of N (or any non-ACGT base) in every chromosome, read in chunks.

    Returns
    -------
    dict chrom -> (starts, ends), sorted, merged, int64.
    """
    out = {}
    for chrom, size in genome.chrom_sizes.items():
        starts, ends = [], []
        for lo in range(0, size, chunk):
            hi = min(lo + chunk, size)
            is_n = genome.read_raw(chrom, lo, hi) > 3
            if not is_n.any():
                continue
            edges = np.diff(np.r_[np.int8(0), is_n.view(np.int8), np.int8(0)])
            starts.append(np.flatnonzero(edges == 1) + lo)
            ends.append(np.flatnonzero(edges == -1) + lo)
        if starts:
            out[chrom] = merge_sorted(np.concatenate(starts), np.concatenate(ends))
        else:
            out[chrom] = (np.zeros(0, np.int64), np.zeros(0, np.int64))
    return out


def n_fraction(windows: pd.DataFrame, n_runs: NRuns, chrom_sizes: Mapping[str, int]) -> np.ndarray:
    """Fraction of each window that is N (bases past a chromosome end count as N).

    Returns
    -------
    np.ndarray, shape (n_windows,), float64
    """
    frac = np.zeros(len(windows))
    for chrom, idx in windows.groupby("chrom", sort=False).indices.items():
        s_n, e_n = n_runs.get(chrom, (np.zeros(0, np.int64), np.zeros(0, np.int64)))
        # a zero-length run at -1 makes every position have a run at or before it
        s_n, e_n = np.r_[-1, s_n], np.r_[-1, e_n]
        cum = np.cumsum(e_n - s_n) - (e_n - s_n)  # N bases before each run

        def n_before(x: np.ndarray, s_n=s_n, e_n=e_n, cum=cum) -> np.ndarray:
            """Number of N bases in [0, x)."""
            i = np.searchsorted(s_n, x, side="right") - 1
            return cum[i] + np.clip(x - s_n[i], 0, e_n[i] - s_n[i])

        size = chrom_sizes[chrom]
        ws = windows["start"].to_numpy()[idx]
        we = windows["end"].to_numpy()[idx]
        cs, ce = np.clip(ws, 0, size), np.clip(we, 0, size)
        n = n_before(ce) - n_before(cs) + (cs - ws) + (we - ce)
        frac[idx] = n / (we - ws)
    return frac


def filter_n_fraction(
    windows: pd.DataFrame,
    n_runs: NRuns,
    chrom_sizes: Mapping[str, int],
    max_n_fraction: float,
) -> pd.DataFrame:
    """Drop windows whose N fraction exceeds ``max_n_fraction``."""
    if max_n_fraction >= 1.0 or not len(windows):
        return windows
    keep = n_fraction(windows, n_runs, chrom_sizes) <= max_n_fraction
    return windows[keep].reset_index(drop=True)


def drop_blacklisted(windows: pd.DataFrame, blacklist: pd.DataFrame, crop: int = 0) -> pd.DataFrame:
    """Drop windows whose output region ``[start + crop, end - crop)`` overlaps the blacklist."""
    if not len(windows) or not len(blacklist):
        return windows
    out_region = windows.assign(start=windows["start"] + crop, end=windows["end"] - crop)
    keep = ~intervals_overlap(out_region, blacklist)
    return windows[keep].reset_index(drop=True)
