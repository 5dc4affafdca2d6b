"""Coverage tracks: per-base values from bigWig, per-track transforms, pooling, strand pairs.

Tensor contract: :meth:`Tracks.values` gives raw values of shape (T, L) (float32, NaN -> 0,
zeros outside the chromosome); :func:`transform_tracks` maps (T, L) to (T, L // bin_size).

Transforms run per track in this fixed order (each one skipped when unset):

1. ``scale``: multiply by ``scale``.
2. ``clip_soft``: above a threshold t, v becomes t + sqrt(v - t) (Basenji).
3. ``clip``: values above ``clip`` become ``clip``.
4. ``log1p``: v becomes log(1 + v).
5. pooling to ``bin_size`` by ``pool`` ("sum" or "mean") over consecutive bins.

pyBigWig handles do not survive fork or pickle, so :class:`Tracks` opens them lazily in each
process (reopening when the process id changes) and never in ``__init__``.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

from genodil.config.types import ConfigTypeError, as_number, check_type
from genodil.errors import InputError
from genodil.genome.io import ChromAlias, alias_chrom, bigwig_chrom_sizes, check_file
from genodil.genome.strands import check_strand_pairs
from genodil.models.heads import TRACK_ACTIVATIONS

__all__ = [
    "LARGE_VALUE",
    "TrackSpec",
    "Tracks",
    "check_track_values",
    "describe_units",
    "pool_bins_np",
    "strand_pair_index",
    "to_track_specs",
    "track_head_list",
    "track_loss_weights",
    "transform_tracks",
    "untransform_tracks",
]


@dataclass
class TrackSpec:
    """One coverage track and how its values become targets.

    Parameters
    ----------
    name : str
        Track name (used in metrics, prediction file names and ``strand_pair``): letters,
        digits, ``_``, ``-``, ``.`` and ``+`` only, since predictions are written as
        ``<name>.bw``.
    path : str
        bigWig file.
    scale : float
        Multiplier applied first.
    clip_soft : float or None
        Soft clip threshold t: values above t become t + sqrt(v - t).
    clip : float or None
        Hard clip: values above it become it.
    log1p : bool
        Apply log(1 + v) after clipping.
    strand_pair : str or None
        Name of the opposite-strand partner (e.g. RNA forward / reverse); the two swap
        under reverse-complement augmentation.
    pool : {"sum", "mean"}
        How per-base values are pooled into ``bin_size`` bins.
    head : {"softplus", "exp", "identity", "product"} or None
        This track's output activation, overriding ``model.head``: ``exp`` (the log link) or
        ``product`` (``e^g · softplus(s)``) for a track whose signal is a product (an enhancer
        multiplies its promoter's peak), ``softplus`` for a sum of peaks. None: ``model.head``.
    loss_weight : float
        Factor on this track's term of the training loss (>= 0; 1 for every track by
        default). Raising it for a sparse track gives its errors more say in the shared tower
        (for the Poisson loss, weight w equals ``scale: w`` without changing the units).
    """

    name: str
    path: str
    scale: float = 1.0
    clip_soft: float | None = None
    clip: float | None = None
    log1p: bool = False
    strand_pair: str | None = None
    pool: Literal["sum", "mean"] = "sum"
    head: Literal["softplus", "exp", "identity", "product"] | None = None
    loss_weight: float = 1.0

    def is_identity(self) -> bool:
        """True when no per-base transform is set (pooling aside)."""
        return self.scale == 1.0 and self.clip_soft is None and self.clip is None and not self.log1p


_SPEC_FIELDS = [f.name for f in dataclasses.fields(TrackSpec)]
# Track names become file names (<name>.bw) and table columns.
_SAFE_NAME = re.compile(r"[A-Za-z0-9_.+\-]+")


def to_track_specs(tracks: Iterable[TrackSpec | Mapping[str, Any]]) -> list[TrackSpec]:
    """Turn a list of TrackSpec or plain dicts (from YAML) into validated TrackSpecs.

    Raises
    ------
    InputError
        Unknown or missing keys, duplicate names, a bad ``pool``, a ``strand_pair`` that is not
        another track or is not mutual.
    """
    import difflib

    specs: list[TrackSpec] = []
    for i, t in enumerate(tracks):
        if isinstance(t, TrackSpec):
            spec = dataclasses.replace(t)
        elif isinstance(t, Mapping):
            unknown = [k for k in t if k not in _SPEC_FIELDS]
            if unknown:
                near = difflib.get_close_matches(unknown[0], _SPEC_FIELDS, n=1)
                hint = f" (did you mean {near[0]!r}?)" if near else ""
                raise InputError(
                    f"track {i} ({t.get('name', '?')}): unknown key {unknown[0]!r}{hint}; "
                    f"valid keys: {', '.join(_SPEC_FIELDS)}"
                )
            missing = [k for k in ("name", "path") if k not in t]
            if missing:
                raise InputError(f"track {i}: needs keys name and path (missing {missing[0]})")
            spec = TrackSpec(**t)
        else:
            raise InputError(f"track {i}: expected a mapping with name and path, got {t!r}")
        spec.path = str(spec.path)
        if not isinstance(spec.name, str) or not _SAFE_NAME.fullmatch(spec.name):
            raise InputError(
                f"track {i}: name {spec.name!r} cannot be used as a file name (predictions are "
                "written as <name>.bw); use only letters, digits, '_', '-', '.' and '+'"
            )
        if spec.pool not in ("sum", "mean"):
            raise InputError(
                f"track {spec.name!r}: pool must be 'sum' or 'mean', not {spec.pool!r}"
            )
        if spec.head is not None and spec.head not in TRACK_ACTIVATIONS:
            raise InputError(
                f"track {spec.name!r}: head must be one of {', '.join(TRACK_ACTIVATIONS)} "
                f"(or left out for model.head), not {spec.head!r}"
            )
        spec.loss_weight = _loss_weight(spec.name, spec.loss_weight)
        _check_transform(spec)
        if spec.clip_soft is not None and spec.clip is not None and spec.clip < spec.clip_soft:
            raise InputError(
                f"track {spec.name!r}: clip ({spec.clip}) is below clip_soft ({spec.clip_soft}); "
                "the hard clip must be the larger threshold"
            )
        specs.append(spec)
    if not specs:
        raise InputError("data.tracks is empty: give at least one track with name and path")
    names = [s.name for s in specs]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise InputError(f"track names must be unique; repeated: {', '.join(dup)}")
    strand_pair_index(specs)  # validates pairs
    return specs


def track_head_list(specs: Sequence[TrackSpec], default: str) -> list[str] | None:
    """Each track's head activation (its ``head``, else ``default``); None when no track sets one.

    Parameters
    ----------
    specs : sequence of TrackSpec
    default : str
        ``model.head``.
    """
    if all(s.head is None for s in specs):
        return None
    return [default if s.head is None else s.head for s in specs]


_TRANSFORM_KEYS = ("scale", "clip_soft", "clip", "log1p", "strand_pair")


def _check_transform(spec: TrackSpec) -> None:
    """Type-check a track's transform keys in place (YAML text such as ``1e3`` accepted).

    ``scale`` must be finite and > 0 (targets are divided by it to give the track's units);
    the clips finite.
    """
    import typing

    hints = typing.get_type_hints(TrackSpec)
    for key in _TRANSFORM_KEYS:
        try:
            value = check_type(getattr(spec, key), hints[key], f"track {spec.name!r}: {key}")
        except ConfigTypeError as e:
            raise InputError(f"{e} (see docs/data.md)") from None
        setattr(spec, key, value)
    if not 0 < spec.scale < math.inf:
        raise InputError(
            f"track {spec.name!r}: scale must be a finite number > 0 (1 = the track's own "
            f"values), not {spec.scale!r}"
        )
    for key in ("clip_soft", "clip"):
        value = getattr(spec, key)
        if value is not None and not math.isfinite(value):
            raise InputError(
                f"track {spec.name!r}: {key} must be a finite number or null, not {value!r}"
            )


def _loss_weight(track: str, value: Any) -> float:
    """A track's ``loss_weight`` as a finite float >= 0 (YAML text such as ``1e3`` accepted)."""
    number = as_number(value)
    if number is None or not 0 <= number < math.inf:
        raise InputError(
            f"track {track!r}: loss_weight must be a finite number >= 0 (1 = the usual "
            f"weight), not {value!r}"
        )
    return number


def track_loss_weights(specs: Sequence[TrackSpec]) -> list[float] | None:
    """Each track's ``loss_weight``; None when every track keeps the usual weight 1."""
    weights = [float(s.loss_weight) for s in specs]
    return None if all(w == 1.0 for w in weights) else weights


def strand_pair_index(specs: Sequence[TrackSpec]) -> list[int] | None:
    """Permutation giving each track's strand partner (itself when unpaired).

    Returns
    -------
    list of int, or None when no track names a partner.

    Raises
    ------
    InputError
        A partner that is not a track, or pairs that are not mutual
        (:func:`genodil.genome.strands.check_strand_pairs`).
    """
    names = [s.name for s in specs]
    if all(s.strand_pair is None for s in specs):
        return None
    perm = list(range(len(specs)))
    for i, s in enumerate(specs):
        if s.strand_pair is None:
            continue
        if s.strand_pair not in names:
            raise InputError(
                f"track {s.name!r}: strand_pair {s.strand_pair!r} is not a track; tracks: "
                f"{', '.join(names)}"
            )
        perm[i] = names.index(s.strand_pair)
        if perm[i] == i:
            raise InputError(
                f"track {s.name!r} names itself as strand_pair; leave strand_pair out for an "
                "unstranded track"
            )
    return check_strand_pairs(perm, len(specs), names, "data.tracks strand_pair")


def pool_bins_np(x: np.ndarray, bin_size: int, how: str = "sum") -> np.ndarray:
    """Sum or average consecutive positions of the last axis into bins (numpy).

    Remainder rule (the same as :func:`genodil.models.layers.pool_bins`, its torch twin): bins
    start at position 0 and a partial last bin is dropped, so the output has
    ``L // bin_size`` bins.

    Parameters
    ----------
    x : np.ndarray, shape (..., L)
    bin_size : int
    how : {"sum", "mean"}

    Returns
    -------
    np.ndarray, shape (..., L // bin_size), float32 (``x`` itself when ``bin_size`` is 1)
    """
    if bin_size == 1:
        return x
    n = x.shape[-1] // bin_size
    binned = x[..., : n * bin_size].reshape(*x.shape[:-1], n, bin_size)  # (..., n, bin)
    if how == "sum":
        return binned.sum(-1, dtype=np.float32)
    if how == "mean":
        return binned.mean(-1, dtype=np.float32)
    raise ValueError(f"pool must be 'sum' or 'mean', not {how!r}")


def _transform_one(v: np.ndarray, spec: TrackSpec) -> None:
    """Apply scale, clip_soft, clip, log1p to one track in place."""
    if spec.scale != 1.0:
        v *= np.float32(spec.scale)
    if spec.clip_soft is not None:
        # min(v, t) + sqrt(max(v - t, 0)) without boolean indexing (faster)
        t = np.float32(spec.clip_soft)
        excess = np.subtract(v, t)
        np.maximum(excess, np.float32(0.0), out=excess)
        np.sqrt(excess, out=excess)
        np.minimum(v, t, out=v)
        v += excess
    if spec.clip is not None:
        np.minimum(v, np.float32(spec.clip), out=v)
    if spec.log1p:
        np.log1p(v, out=v)


def transform_tracks(
    values: np.ndarray, specs: Sequence[TrackSpec], bin_size: int = 1, inplace: bool = False
) -> np.ndarray:
    """Apply each track's transforms, in the documented order, then pool to ``bin_size``.

    Parameters
    ----------
    values : np.ndarray, shape (T, L), float32
        Raw values, one row per spec.
    specs : sequence of TrackSpec, length T
    bin_size : int
        Output resolution; L must be divisible by it.
    inplace : bool
        Allow overwriting ``values`` (saves a copy).

    Returns
    -------
    np.ndarray, shape (T, L // bin_size), float32
    """
    if values.shape[0] != len(specs):
        raise ValueError(f"{values.shape[0]} rows of values for {len(specs)} track specs")
    if not inplace and not all(s.is_identity() for s in specs):
        values = values.astype(np.float32, copy=True)
    for i, spec in enumerate(specs):
        if not spec.is_identity():
            _transform_one(values[i], spec)
    if bin_size == 1:
        return values
    pools = {s.pool for s in specs}
    if len(pools) == 1:
        return pool_bins_np(values, bin_size, pools.pop())
    return np.stack([pool_bins_np(values[i], bin_size, s.pool) for i, s in enumerate(specs)])


def _read(bw, chrom: str, start: int, end: int) -> np.ndarray:
    """Per-base values; a chromosome without any entries gives NaN (pyBigWig gives [])."""
    v = bw.values(chrom, start, end, numpy=True)
    return v if len(v) == end - start else np.full(end - start, np.nan, dtype=np.float32)


# Raw values above this are probably not counts per base (e.g. a signal scaled by 1e9).
LARGE_VALUE = 1e6
COUNT_LOSSES = ("poisson", "multinomial")


def check_track_values(
    specs: Sequence[TrackSpec],
    chroms: Sequence[str],
    chrom_alias: ChromAlias = "none",
    loss: str = "poisson",
) -> None:
    """Check each track's values on the training chromosomes, from the bigWig summaries.

    Rules (docs/reliability.md): a track with no value on any of ``chroms`` is an error; one
    without values on some of them gets a warning (those bases train as 0); negative values
    are an error under a count loss (poisson, multinomial); values above ``LARGE_VALUE``
    (after ``scale``) get a warning about scale.

    Raises
    ------
    InputError
    """
    import logging

    import pyBigWig

    log = logging.getLogger(__name__)
    for spec in specs:
        bw = pyBigWig.open(spec.path)
        try:
            lows, highs, empty = {}, {}, []
            for c in chroms:
                name = alias_chrom(c, chrom_alias)
                if name not in bw.chroms():
                    continue
                hi = bw.stats(name, type="max", exact=False)[0]
                if hi is None:
                    empty.append(c)
                    continue
                highs[c] = hi
                lows[c] = bw.stats(name, type="min", exact=False)[0]
        finally:
            bw.close()
        what = f"track {spec.name!r} ({spec.path})"
        if not highs:
            raise InputError(
                f"{what} has no values on any training chromosome ({', '.join(chroms[:6])}): "
                "an empty bigWig, or one for another assembly? Check the file"
            )
        if empty:
            log.warning(
                "%s has no values on training chromosome(s) %s: their bases train as 0; "
                "list the chromosomes to use in data.chroms to leave them out",
                what,
                ", ".join(empty[:8]),
            )
        low_chrom = min(lows, key=lows.get)
        if loss in COUNT_LOSSES and lows[low_chrom] < 0:
            raise InputError(
                f"{what} has negative values (down to {lows[low_chrom]:g} on {low_chrom}), but "
                f"the {loss} loss models counts >= 0: use train.loss: mse, or a count track"
            )
        high_chrom = max(highs, key=highs.get)
        if abs(highs[high_chrom] * spec.scale) > LARGE_VALUE:
            log.warning(
                "%s reaches %.3g on %s (after scale %g): targets this large train poorly; set "
                "scale, log1p or clip_soft for this track (see docs/data.md)",
                what,
                highs[high_chrom] * spec.scale,
                high_chrom,
                spec.scale,
            )


def _untransform_one(v: np.ndarray, spec: TrackSpec) -> None:
    """Undo log1p, clip_soft and scale on one track in place (clip cannot be undone)."""
    if spec.log1p:
        np.expm1(v, out=v)
    if spec.clip_soft is not None:
        # y > t came from v = t + (y - t)^2; y <= t was left alone.
        t = np.float32(spec.clip_soft)
        excess = np.subtract(v, t)
        np.maximum(excess, np.float32(0.0), out=excess)
        np.square(excess, out=excess)
        np.minimum(v, t, out=v)
        v += excess
    if spec.scale != 1.0:
        v /= np.float32(spec.scale)


def untransform_tracks(
    values: np.ndarray, specs: Sequence[TrackSpec], bin_size: int = 1
) -> np.ndarray:
    """Map model-unit values back to each track's own units (the bigWig's), per base.

    The inverse of :func:`transform_tracks`, applied to predictions: ``log1p`` is undone by
    ``expm1``, ``clip_soft`` by squaring the excess over the threshold, ``scale`` by dividing.
    A hard ``clip`` cannot be undone: values at the clip stay there (a floor of the truth).
    With ``bin_size`` > 1 each bin is first turned into a per-base value (a ``sum`` bin is
    divided by ``bin_size``; a ``mean`` bin is one already) and that mean is inverted; for the
    non-linear transforms this is the transform's inverse at the bin's mean, not the mean of
    the per-base inverses (which the pooled value no longer determines).

    Parameters
    ----------
    values : np.ndarray, shape (T, L_out) or (B, T, L_out)
        Model outputs, one row per spec along the track axis.
    specs : sequence of TrackSpec, length T
    bin_size : int
        The model's output bin.

    Returns
    -------
    np.ndarray, same shape, float32
        Per-base values in each track's own units (a new array).
    """
    values = np.array(values, dtype=np.float32, copy=True)
    if values.shape[-2] != len(specs):
        raise ValueError(f"{values.shape[-2]} tracks of values for {len(specs)} track specs")
    for i, spec in enumerate(specs):
        row = values[..., i, :]
        if bin_size > 1 and spec.pool == "sum":
            row /= np.float32(bin_size)
        if not spec.is_identity():
            _untransform_one(row, spec)
    return values


def describe_units(specs: Sequence[TrackSpec], units: str, bin_size: int = 1) -> dict[str, str]:
    """Per track, a sentence saying which units an output holds (for sidecar JSON files).

    Parameters
    ----------
    specs : sequence of TrackSpec
    units : {"track", "model"}
    bin_size : int

    Returns
    -------
    dict of track name to description
    """
    out = {}
    for spec in specs:
        steps = [f"scale={spec.scale:g}"] if spec.scale != 1.0 else []
        steps += [f"clip_soft={spec.clip_soft:g}"] if spec.clip_soft is not None else []
        steps += [f"clip={spec.clip:g}"] if spec.clip is not None else []
        steps += ["log1p"] if spec.log1p else []
        chain = ", ".join(steps) or "no transform"
        if units == "model":
            pooled = f", {spec.pool} over {bin_size}-bp bins" if bin_size > 1 else ""
            out[spec.name] = f"model units: bigWig values after {chain}{pooled}"
        else:
            clipped = f"; values above clip={spec.clip:g} are floors" if spec.clip else ""
            per_base = f", mean per base over {bin_size}-bp bins" if bin_size > 1 else ""
            out[spec.name] = f"track units: as in {spec.path} (undid {chain}{per_base}){clipped}"
    return out


class TrackSourceBase:
    """Base of per-track value sources (bigWig readers, the cache): names and length.

    Attributes named in ``_per_process`` (file handles, memory maps) are dropped when the
    object is pickled to a DataLoader worker, which reopens them.
    """

    specs: list[TrackSpec]
    _per_process: tuple[str, ...] = ("_pid",)

    @property
    def names(self) -> list[str]:
        """Track names in order."""
        return [s.name for s in self.specs]

    def __len__(self) -> int:
        return len(self.specs)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for key in self._per_process:
            state[key] = None
        return state


class Tracks(TrackSourceBase):
    """Read raw per-base values of several bigWig tracks.

    Parameters
    ----------
    specs : sequence of TrackSpec or dicts
    chrom_alias : {"none", "add_chr", "strip_chr"}
        How a FASTA chromosome name becomes a bigWig name.
    """

    def __init__(
        self,
        specs: Sequence[TrackSpec | Mapping[str, Any]],
        chrom_alias: ChromAlias = "none",
    ) -> None:
        self.specs = to_track_specs(specs)
        for s in self.specs:
            check_file(s.path, f"bigWig of track {s.name!r}")
        self.chrom_alias = chrom_alias
        self._handles: list | None = None
        self._sizes: list[dict[str, int]] | None = None
        self._pid: int | None = None

    _per_process = ("_handles", "_pid")

    def _open(self) -> list:
        pid = os.getpid()
        if self._handles is None or self._pid != pid:
            import pyBigWig

            handles = []
            for s in self.specs:
                try:
                    bw = pyBigWig.open(s.path)
                except RuntimeError:
                    bw = None
                if bw is None:
                    raise InputError(f"bigWig of track {s.name!r} ({s.path}) cannot be opened")
                handles.append(bw)
            self._handles = handles
            self._sizes = [dict(bw.chroms()) for bw in handles]
            self._pid = pid
        return self._handles

    def close(self) -> None:
        """Close the handles opened by this process."""
        if self._handles is not None and self._pid == os.getpid():
            for bw in self._handles:
                bw.close()
        self._handles = None
        self._pid = None

    def chrom_sizes(self) -> dict[str, dict[str, int]]:
        """Chromosome sizes of each bigWig header, keyed by path."""
        return {
            s.path: bigwig_chrom_sizes(s.path, f"bigWig of track {s.name!r}") for s in self.specs
        }

    def values(
        self,
        chrom: str,
        start: int,
        end: int,
        out: np.ndarray | Sequence[np.ndarray] | None = None,
    ) -> np.ndarray | Sequence[np.ndarray]:
        """Raw per-base values of every track over ``chrom:start-end``.

        Parameters
        ----------
        chrom : str
            FASTA chromosome name (mapped through ``chrom_alias``).
        start, end : int
            0-based half-open; may run past the chromosome ends (zeros there).
        out : np.ndarray of shape (T, end - start), or T float32 arrays of length end - start
            Where to write (rows may be strided views, e.g. reversed).

        Returns
        -------
        np.ndarray, shape (T, end - start), float32 (``out`` when given); NaN (no coverage)
        reads as 0.
        """
        handles = self._open()
        name = alias_chrom(chrom, self.chrom_alias)
        if out is None:
            out = np.empty((len(handles), end - start), dtype=np.float32)
        for i, bw in enumerate(handles):
            size = self._sizes[i].get(name)
            if size is None:
                raise InputError(
                    f"bigWig of track {self.specs[i].name!r} ({self.specs[i].path}) has no "
                    f"chromosome {name!r}; check data.chrom_alias or the chromosomes used"
                )
            lo, hi = max(start, 0), min(end, size)
            row = out[i]
            if lo == start and hi == end:
                row[:] = _read(bw, name, lo, hi)
            else:
                row[:] = 0.0
                if hi > lo:
                    row[lo - start : hi - start] = _read(bw, name, lo, hi)
            # several times faster than np.nan_to_num here
            row[np.isnan(row)] = 0.0
        return out
