"""Tiled prediction over genome regions, streamed to one bigWig per track.

Tensor contract: the model maps one-hot windows ``(B, 4, L)`` to ``"signal"`` of shape
``(B, T, L_out)`` with ``L_out = (L - 2 * crop) // bin_size`` (see :mod:`genodil.predict.runner`).

Tiling: each window of length L yields ``L - 2 * crop`` bases of output, every one of them
predicted with the model's full context. Windows are laid end to end in output space (the
inputs overlap by ``2 * crop``), so the stitched track equals what predicting each window alone
gives. Bases past a chromosome end are read as N (all-zero columns). Output bins are aligned
to multiples of ``bin_size`` in chromosome coordinates. Results stream to the bigWig writer in
coordinate order, so memory does not grow with the region length; files are written under a
temporary name and renamed only when complete.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from torch import nn

from genodil.data.tracks import TrackSpec, untransform_tracks
from genodil.errors import InputError
from genodil.genome.intervals import interval_frame, merge_intervals, tile_intervals
from genodil.genome.io import Genome, parse_region, read_bed
from genodil.models.schedules import TowerGeometry, geometry_of
from genodil.outputs import atomic_output, check_outputs, scratch_dir
from genodil.predict.bigwig import BigWigWriter
from genodil.predict.npz import NpyStream, pack_npz
from genodil.predict.runner import (
    Device,
    ModelRunner,
    Precision,
    prefetched,
)
from genodil.progress import progress_bar

__all__ = [
    "merge_regions",
    "predict_regions",
    "predict_sequences",
    "regions_from_bed",
    "regions_from_strings",
    "whole_genome_regions",
]

log = logging.getLogger(__name__)

_TRACK_NAME_RE = re.compile(r"^[A-Za-z0-9_.+\-]+$")


def regions_from_bed(
    path: str | os.PathLike, chrom_sizes: Mapping[str, int] | None = None
) -> pd.DataFrame:
    """Read the first three columns of a BED file (via :func:`genodil.genome.io.read_bed`).

    ``track``/``browser`` lines, ``#`` comments and blank lines are skipped; empty intervals
    (start == end) are dropped, since they hold no base to predict. With ``chrom_sizes``, a
    line on an unknown chromosome or starting past its end is an error naming the line.

    Returns
    -------
    pd.DataFrame with columns chrom (str), start, end (int64; 0-based half-open)
    """
    bed = read_bed(path, "regions BED", within=chrom_sizes)
    bed = bed[bed["end"] > bed["start"]]
    if not len(bed):
        raise InputError(f"regions BED {path} holds only empty intervals (start == end)")
    return bed[["chrom", "start", "end"]].reset_index(drop=True)


def regions_from_strings(texts: Sequence[str]) -> pd.DataFrame:
    """Parse ``chrom:start-end`` strings (0-based half-open) into a region table."""
    rows = [parse_region(t) for t in texts]
    return pd.DataFrame(rows, columns=["chrom", "start", "end"])


def whole_genome_regions(genome: Genome) -> pd.DataFrame:
    """One region per FASTA record, covering it whole."""
    rows = [(c, 0, n) for c, n in genome.chrom_sizes.items() if n > 0]
    return pd.DataFrame(rows, columns=["chrom", "start", "end"])


def _as_frame(regions: pd.DataFrame | Sequence[tuple]) -> pd.DataFrame:
    if isinstance(regions, pd.DataFrame):
        missing = {"chrom", "start", "end"} - set(regions.columns)
        if missing:
            raise ValueError(f"regions table lacks columns {sorted(missing)}")
        return regions[["chrom", "start", "end"]]
    return pd.DataFrame([tuple(r)[:3] for r in regions], columns=["chrom", "start", "end"])


def merge_regions(
    regions: pd.DataFrame | Sequence[tuple], genome: Genome, bin_size: int = 1
) -> pd.DataFrame:
    """Check, clip, snap to the bin grid, sort in FASTA order and merge regions.

    Regions that overlap or touch (after widening to whole bins) become one. Regions reaching
    past a chromosome end are clipped to it.

    Parameters
    ----------
    regions : DataFrame (chrom, start, end) or list of (chrom, start, end), 0-based half-open
    genome : Genome
    bin_size : int
        Starts are rounded down and ends up to multiples of it (ends stop at the chromosome
        end).

    Returns
    -------
    pd.DataFrame with columns chrom, start, end, sorted by FASTA order then start
    """
    frame = _as_frame(regions)
    chroms, starts, ends = [], [], []
    for chrom, start, end in frame.itertuples(index=False):
        chrom, start, end = str(chrom), int(start), int(end)
        size = genome.check_chrom(chrom)
        if start < 0 or end <= start:
            raise InputError(f"region {chrom}:{start}-{end} needs 0 <= start < end")
        if start >= size:
            raise InputError(
                f"region {chrom}:{start}-{end} starts past the end of {chrom} "
                f"(length {size} in {genome.path})"
            )
        if end > size:
            log.warning("region %s:%d-%d clipped to the chromosome end %d", chrom, start, end, size)
        chroms.append(chrom)
        starts.append((start // bin_size) * bin_size)
        ends.append(min(-(-end // bin_size) * bin_size, size))
    snapped = interval_frame(chroms, starts, ends)
    return merge_intervals(snapped, chrom_order=genome.chroms)


@dataclass(frozen=True)
class _Tile:
    region: int  # index into the merged region table
    chrom: str
    out_start: int  # genome coordinate of the first output bin
    n_bins: int  # output bins of this tile that fall inside the region
    chrom_size: int


def _plan_tiles(merged: pd.DataFrame, genome: Genome, geom: TowerGeometry) -> Iterator[_Tile]:
    """Output tiles of one window each, laid end to end over every merged region."""
    tiles = tile_intervals(merged, geom.out_span, geom.out_span, last="partial")
    b = geom.bin_size
    for chrom, start, end, region in tiles.itertuples(index=False):
        n_bins = -(-(end - start) // b)
        yield _Tile(int(region), chrom, int(start), int(n_bins), genome.chrom_sizes[chrom])


def _batches(tiles: Iterator[_Tile], batch_size: int) -> Iterator[list[_Tile]]:
    batch: list[_Tile] = []
    for tile in tiles:
        batch.append(tile)
        if len(batch) == batch_size:
            yield batch
            batch = []
    if batch:
        yield batch


def _check_track_names(track_names: Sequence[str]) -> list[str]:
    names = [str(t) for t in track_names]
    if not names:
        raise ValueError("track_names is empty: give one name per model output track")
    for name in names:
        if not _TRACK_NAME_RE.match(name):
            raise InputError(
                f"track name {name!r} cannot be a file name; use letters, digits, '_', '-', "
                "'.', '+'"
            )
    if len(set(names)) != len(names):
        raise InputError(f"track names must be unique, got {names}")
    return names


def _region_key(chrom: str, start: int, end: int, size: int) -> str:
    return chrom if (start == 0 and end == size) else f"{chrom}:{start}-{end}"


def predict_regions(
    model: nn.Module,
    genome: Genome,
    regions: pd.DataFrame | Sequence[tuple],
    out_dir: str | os.PathLike,
    track_names: Sequence[str],
    window: int,
    batch_size: int = 8,
    device: Device = "auto",
    rc_average: bool = False,
    strand_pairs: Sequence[int] | None = None,
    precision: Precision = "auto",
    progress: bool = True,
    npz: str | os.PathLike | None = None,
    zooms: int = 0,
    track_specs: Sequence[TrackSpec] | None = None,
) -> dict[str, Path]:
    """Predict tracks over genome regions and write ``out_dir/<track>.bw``.

    Parameters
    ----------
    model : nn.Module
        ``forward(seq (B, 4, L)) -> {"signal": (B, T, L_out), ...}`` with ``.crop`` and
        ``.bin_size``; its training mode and device are restored afterwards.
    genome : Genome
        Reference; the bigWig header lists all its chromosomes in FASTA order.
    regions : DataFrame (chrom, start, end) or list of (chrom, start, end)
        0-based half-open; clipped to chromosome ends, overlapping ones merged.
    out_dir : path
        Created if needed. Existing ``<track>.bw`` files are replaced only on success.
    track_names : list of str
        One name per output track (T names); each becomes a file name.
    window : int
        Model input length L in bp.
    batch_size : int
        Windows per forward pass.
    device : {"auto", "cpu", "cuda"}
    rc_average : bool
        Average forward and reverse-complement predictions (tracks swapped by
        ``strand_pairs``, default ``model.strand_pairs``).
    strand_pairs : list of int or None
    precision : {"auto", "32", "bf16"}
        ``auto``: bf16 autocast on CUDA, float32 on CPU.
    progress : bool
        Progress on stderr (:func:`genodil.progress.progress_bar`).
    npz : path or None
        Also write the predictions to this ``.npz``: one float32 array of shape (T, n_bins)
        per merged region, keyed ``chrom`` when it covers the whole record and
        ``chrom:start-end`` otherwise, plus ``_track_names`` and ``_bin_size``.
    zooms : int
        bigWig zoom levels. 0 (default) keeps memory independent of the predicted length;
        libBigWig builds zoom levels in memory when the file is closed (~14 bytes per
        predicted base), which is fine for small genomes and makes browsers faster when
        zoomed out.
    track_specs : list of TrackSpec or None
        The tracks the model was trained on: values are written in each track's own units
        (:func:`genodil.data.tracks.untransform_tracks`). None writes the model's outputs.

    Returns
    -------
    dict mapping track name to the written bigWig path
    """
    geom = geometry_of(model).at_window(window)
    names = _check_track_names(track_names)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    merged = merge_regions(regions, genome, geom.bin_size)
    if merged.empty:
        raise InputError("no regions to predict: give at least one region")
    final = {name: Path(out_dir) / f"{name}.bw" for name in names}
    outputs = {f"bigWig of track {name}": path for name, path in final.items()}
    outputs["--npz"] = npz
    check_outputs(outputs, {"--out": out_dir}, writable=True)
    runner = ModelRunner(model, device, precision, rc_average, strand_pairs, len(names))
    total_bp = int((merged["end"] - merged["start"]).sum())
    with contextlib.ExitStack() as stack:
        writers = [stack.enter_context(BigWigWriter(final[n], genome, zooms)) for n in names]
        arrays = stack.enter_context(_RegionArrays(npz, merged, len(names), geom)) if npz else None
        bar = stack.enter_context(
            progress_bar(total_bp, "predict", "bp", enabled=progress, unit_scale=True)
        )
        stack.enter_context(runner)
        for batch, pred in _run_batches(runner, genome, merged, geom, batch_size):
            for tile, vals in zip(batch, pred, strict=True):  # vals: (T, L_out)
                vals = vals[:, : tile.n_bins]
                if track_specs is not None:
                    vals = untransform_tracks(vals, track_specs, geom.bin_size)
                _write_tile(writers, tile, vals, geom.bin_size)
                if arrays is not None:
                    arrays.add(tile, vals)
                bar.update(min(tile.n_bins * geom.bin_size, tile.chrom_size - tile.out_start))
        if arrays is not None:
            arrays.finish(names)
    return final


class _RegionArrays:
    """Stream one (T, n_bins) array per merged region into an ``.npz`` (bounded memory).

    A context manager: the archive is built on a temporary name and renamed by
    :func:`genodil.outputs.atomic_output` only after :meth:`finish`; the per-region ``.npy``
    parts live in a hidden staging folder removed in every case.
    """

    def __init__(self, path, merged: pd.DataFrame, n_tracks: int, geom: TowerGeometry) -> None:
        self.path, self.merged, self.n_tracks, self.geom = Path(path), merged, n_tracks, geom
        self.stack = contextlib.ExitStack()
        self.files: list[tuple[str, Path]] = []
        self.npy: NpyStream | None = None
        self.current = -1

    def __enter__(self):
        self.tmp = self.stack.enter_context(atomic_output(self.path, what="--npz"))
        self.dir = self.stack.enter_context(scratch_dir(self.path, what="--npz"))
        return self

    def add(self, tile: _Tile, vals: np.ndarray) -> None:
        if tile.region != self.current:
            self.npy, self.current = _next_npy(
                self.npy, self.dir, self.files, self.merged, tile, self.n_tracks, self.geom
            )
        self.npy.write(vals.T)  # (n_bins, T) rows = column-major (T, n_bins)

    def finish(self, names: list[str]) -> None:
        if self.npy is not None:
            self.npy.close()
            self.npy = None
        members = [
            *self.files,
            ("_track_names", np.array(names)),
            ("_bin_size", np.array(self.geom.bin_size)),
        ]
        pack_npz(self.tmp, iter(members))

    def __exit__(self, *exc):
        if self.npy is not None:
            self.npy.abandon()
        return self.stack.__exit__(*exc)


def _next_npy(
    npy: NpyStream | None,
    npz_dir: Path,
    npy_files: list[tuple[str, Path]],
    merged: pd.DataFrame,
    tile: _Tile,
    n_tracks: int,
    geom: TowerGeometry,
) -> tuple[NpyStream, int]:
    """Close the current region's array and start the next one, shape (T, n_bins)."""
    if npy is not None:
        npy.close()
    chrom, start, end = merged.iloc[tile.region]
    n_bins = -(-(int(end) - int(start)) // geom.bin_size)
    key = _region_key(chrom, int(start), int(end), tile.chrom_size)
    path = npz_dir / f"{len(npy_files)}.npy"
    npy_files.append((key, path))
    return NpyStream(path, (n_tracks, n_bins), fortran_order=True), tile.region


def _run_batches(
    runner: ModelRunner, genome: Genome, merged: pd.DataFrame, geom: TowerGeometry, batch_size: int
) -> Iterator[tuple[list[_Tile], np.ndarray]]:
    """Yield (tiles, predictions (B, T, L_out)); the next batch is read while the model runs."""

    def load(batch: list[_Tile]) -> np.ndarray:
        return np.stack(
            [
                genome.fetch(
                    t.chrom, t.out_start - geom.crop, t.out_start - geom.crop + geom.window
                )
                for t in batch
            ]
        )  # (B, L) uint8

    batches = _batches(_plan_tiles(merged, genome, geom), batch_size)
    for batch, codes in prefetched(batches, load):
        yield batch, runner(codes)


def _write_tile(writers, tile: _Tile, vals: np.ndarray, bin_size: int) -> None:
    """Add one tile's values (T, n_bins) to every track's bigWig (one writer per track)."""
    start = tile.out_start
    n = tile.n_bins
    n_full = n if start + n * bin_size <= tile.chrom_size else n - 1
    last = start + n_full * bin_size
    for k, writer in enumerate(writers):
        writer.add(tile.chrom, start, vals[k, :n_full], span=bin_size)
        if n_full < n:  # the chromosome ends inside the last bin
            writer.add(tile.chrom, last, vals[k, n_full:n], span=tile.chrom_size - last)


def predict_sequences(
    model: nn.Module,
    fasta_path: str | os.PathLike,
    out_dir: str | os.PathLike,
    track_names: Sequence[str],
    window: int,
    batch_size: int = 8,
    device: Device = "auto",
    rc_average: bool = False,
    strand_pairs: Sequence[int] | None = None,
    precision: Precision = "auto",
    progress: bool = True,
    npz: str | os.PathLike | None = None,
    zooms: int = 0,
    track_specs: Sequence[TrackSpec] | None = None,
) -> dict[str, Path]:
    """Predict every record of a FASTA of arbitrary sequences (designed, haplotypes, ...).

    Each record is tiled like a chromosome (N padding beyond its ends) and written as its
    own chromosome in ``out_dir/<track>.bw``; with ``npz`` also as an array (T, n_bins) keyed
    by the record name. Parameters are those of :func:`predict_regions`.

    Returns
    -------
    dict mapping track name to the written bigWig path
    """
    genome = Genome(fasta_path)
    return predict_regions(
        model,
        genome,
        whole_genome_regions(genome),
        out_dir,
        track_names,
        window,
        batch_size=batch_size,
        device=device,
        rc_average=rc_average,
        strand_pairs=strand_pairs,
        precision=precision,
        progress=progress,
        npz=npz,
        zooms=zooms,
        track_specs=track_specs,
    )
