"""Where attributions are computed: regions, their model windows and attributed intervals.

A region ``chrom:start-end`` is *explained*: the scalar is the prediction summed over the
output bins covering it. The model's input window is centred on the region. Attributions are
kept over the *attributed interval*: a fixed width (the longest region plus ``flank`` bp on
each side, at most the window), centred on the region and shifted to stay inside the
chromosome when it fits. Every region then gives an array of the same width, as TF-MoDISco
needs; row ``i``, column ``j`` of those arrays is base ``start_i + j`` of the BED written
beside them (columns past a chromosome end are N).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from genodil.errors import InputError
from genodil.genome.io import Genome

__all__ = ["Layout", "check_regions", "plan_layout"]


def check_regions(regions: pd.DataFrame, genome: Genome, what: str = "region") -> pd.DataFrame:
    """Reject regions outside their chromosome (as ``predict`` does) with the region named.

    Returns the regions with int64 coordinates and a ``name`` column (``chrom:start-end``).
    """
    rows = []
    for chrom, start, end in regions[["chrom", "start", "end"]].itertuples(index=False):
        chrom, start, end = str(chrom), int(start), int(end)
        size = genome.check_chrom(chrom)
        if start < 0 or end <= start:
            raise InputError(f"{what} {chrom}:{start}-{end} needs 0 <= start < end")
        if end > size:
            raise InputError(
                f"{what} {chrom}:{start}-{end} lies outside {chrom} (length {size} in "
                f"{genome.path}); give a region inside the chromosome"
            )
        rows.append((chrom, start, end, f"{chrom}:{start}-{end}"))
    if not rows:
        raise InputError(f"no {what}s to explain: give at least one")
    frame = pd.DataFrame(rows, columns=["chrom", "start", "end", "name"])
    return frame.astype({"start": "int64", "end": "int64"})


@dataclass(frozen=True)
class Layout:
    """Model windows, explained bins and attributed intervals of a list of regions.

    Attributes
    ----------
    regions : DataFrame
        chrom, start, end, name of each explained region (input order).
    window_start : np.ndarray (N,)
        Genome coordinate of each model input window's first base.
    bins : np.ndarray (N, 2)
        Explained output bins ``[lo, hi)`` of each window.
    attr_start : np.ndarray (N,)
        Genome coordinate of each attributed interval's first base.
    width : int
        Attributed interval length (the same for every region).
    window : int
    """

    regions: pd.DataFrame
    window_start: np.ndarray
    bins: np.ndarray
    attr_start: np.ndarray
    width: int
    window: int

    @property
    def offsets(self) -> np.ndarray:
        """Column of each attributed interval's first base inside its window."""
        return self.attr_start - self.window_start

    def bed(self, genome: Genome) -> pd.DataFrame:
        """The attributed intervals as BED rows (end clipped to the chromosome)."""
        sizes = np.array([genome.chrom_sizes[c] for c in self.regions["chrom"]])
        end = np.minimum(self.attr_start + self.width, sizes)
        return pd.DataFrame(
            {
                "chrom": self.regions["chrom"].to_numpy(),
                "start": self.attr_start,
                "end": end,
                "name": self.regions["name"].to_numpy(),
            }
        )


def plan_layout(
    regions: pd.DataFrame, genome: Genome, window: int, crop: int, bin_size: int, flank: int
) -> Layout:
    """Centre a model window on each region and choose the attributed intervals.

    Raises InputError when a region is longer than one window's output span.
    """
    if flank < 0:
        raise InputError(f"--flank must be >= 0, got {flank}")
    span = window - 2 * crop
    lengths = (regions["end"] - regions["start"]).to_numpy()
    too_long = np.flatnonzero(lengths > span)
    if len(too_long):
        name = regions["name"].iloc[too_long[0]]
        raise InputError(
            f"region {name} is {lengths[too_long[0]]} bp but one model window predicts "
            f"{span} bp (window {window} - 2 x crop {crop}); split it into shorter regions"
        )
    mid = (regions["start"].to_numpy() + regions["end"].to_numpy()) // 2
    w0 = mid - window // 2
    lo = (regions["start"].to_numpy() - w0 - crop) // bin_size
    hi = -(-(regions["end"].to_numpy() - w0 - crop) // bin_size)
    bins = np.stack([np.maximum(lo, 0), hi], axis=1)
    width = int(min(lengths.max() + 2 * flank, window))
    sizes = np.array([genome.chrom_sizes[c] for c in regions["chrom"]])
    a0 = mid - width // 2
    a0 = np.where(sizes >= width, np.clip(a0, 0, sizes - width), 0)
    a0 = np.clip(a0, w0, w0 + window - width)  # stay inside the model window
    return Layout(regions, w0, bins, a0, width, window)
