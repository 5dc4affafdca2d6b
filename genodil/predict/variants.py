"""Variant effect scores: predict reference and alternative windows, compare the tracks.

Tensor contract: the model maps one-hot windows ``(B, 4, L)`` to ``"signal"`` of shape
``(B, T, L_out)`` (see :mod:`genodil.predict.runner`). For every variant one reference and one
alternative window of length L go through the model in the same forward pass.

Windows (docs/variants.md has the full rule):

- The VCF ``POS`` base sits at window index ``c = L // 2``; the window starts at
  ``pos - 1 - c`` (0-based). Bases past chromosome ends are N.
- REF and ALT are trimmed of their shared leading bases, then of their shared trailing
  bases; what is left is the changed block: ``m`` reference bases replaced by ``n`` others.
- The alternative window is the reference window up to the block, the ``n`` new bases, then
  the genome after the block, read as far as needed to keep length L (indels take more or
  less genome on the right).
- At ``bin_size == 1`` the alternative output is mapped back onto reference coordinates:
  positions left of the block pair with themselves, positions right of it are shifted by
  ``n - m``; the block itself (deleted reference bases, inserted alternative bases; both for
  a complex substitution with ``m != n``) has no partner and is left out. SNVs and MNVs
  (``m == n``) compare every position. At ``bin_size > 1`` bins are compared index by index.

Scores per track over the aligned positions (optionally only a central ``score_width``):
SAD = sum(alt - ref); logFC = log2((sum alt + 1) / (sum ref + 1)); maxabs = max |alt - ref|;
JSD = Jensen-Shannon divergence (base 2, in [0, 1]) of the two profiles clipped at 0 and
normalised to sum 1 (an all-zero profile counts as uniform).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from genodil.data.tracks import TrackSpec, untransform_tracks
from genodil.errors import InputError
from genodil.genome.encode import codes_to_str, encode
from genodil.genome.io import Genome
from genodil.genome.vcf import VARIANT_COLUMNS
from genodil.models.schedules import TowerGeometry, geometry_of
from genodil.outputs import atomic_output, atomic_outputs, scratch_dir, write_atomic
from genodil.predict.npz import NpyStream, pack_npz
from genodil.predict.runner import (
    Device,
    ModelRunner,
    Precision,
    prefetched,
)
from genodil.predict.tiles import _check_track_names
from genodil.progress import progress_bar

__all__ = [
    "SCORES",
    "is_vcf_output",
    "score_variants",
    "skipped_path",
    "units_path",
    "write_scores",
]

log = logging.getLogger(__name__)

SCORES = ("SAD", "logFC", "maxabs", "JSD")
_SCORE_BY_LOWER = {s.lower(): s for s in SCORES}
_BASES = frozenset("ACGTN")


@dataclass(frozen=True)
class _Variant:
    """A variant that passed the checks, with its window geometry."""

    row: int  # position in the input table
    chrom: str
    win_start: int  # 0-based genome coordinate of window index 0
    block: int  # window index of the first changed base
    m: int  # reference bases in the changed block
    n: int  # alternative bases in the changed block
    alt_codes: np.ndarray  # (n,) uint8 codes of the inserted bases
    geom: TowerGeometry  # bound to this variant's inference window (see _reach_geometry)


def _parse_scores(scores: Sequence[str] | str) -> list[str]:
    if isinstance(scores, str):
        scores = [s for s in scores.split(",") if s.strip()]
    out = []
    for s in scores:
        canon = _SCORE_BY_LOWER.get(str(s).strip().lower())
        if canon is None:
            raise InputError(f"unknown score {s!r}; choose from {', '.join(SCORES)}")
        if canon not in out:
            out.append(canon)
    if not out:
        raise InputError(f"no scores requested; choose from {', '.join(SCORES)}")
    return out


def _as_variant_frame(variants: pd.DataFrame) -> pd.DataFrame:
    missing = {"chrom", "pos", "ref", "alt"} - set(variants.columns)
    if missing:
        raise InputError(
            f"variant table lacks columns {sorted(missing)}; it needs chrom, pos (1-based), "
            "ref, alt and optionally id"
        )
    ids = variants["id"].astype(str).to_numpy() if "id" in variants else ["."] * len(variants)
    df = pd.DataFrame(
        {
            "chrom": variants["chrom"].astype(str).to_numpy(),
            "pos": variants["pos"].astype("int64").to_numpy(),
            "id": ids,
            "ref": variants["ref"].astype(str).str.upper().to_numpy(),
            "alt": variants["alt"].astype(str).to_numpy(),
        }
    )
    return df[VARIANT_COLUMNS]


def _trim(ref: str, alt: str) -> tuple[int, int, int]:
    """Shared prefix length k, then the changed block lengths (m, n) after suffix trimming."""
    k = 0
    while k < len(ref) and k < len(alt) and ref[k] == alt[k]:
        k += 1
    m, n = len(ref) - k, len(alt) - k
    while m and n and ref[k + m - 1] == alt[k + n - 1]:
        m -= 1
        n -= 1
    return k, m, n


def _reach_geometry(geom: TowerGeometry, half_reach: int | None, span: int) -> TowerGeometry:
    """The geometry at an inference window whose output holds the variant's whole reach.

    A change of ``span`` bases right of the window centre (the trimmed prefix plus the changed
    block) can alter output bases up to ``half_reach`` (half the receptive field) beyond
    either end. The configured window is kept when its output already covers them; otherwise
    the window grows (the network is fully convolutional) in steps of ``2 * bin_size``, so the
    centre keeps its place within an output bin. Spans are rounded up to a power of two (at
    least 16) so that SNVs and short indels share one longer window.
    """
    if half_reach is None:
        return geom
    need = geom.crop + half_reach  # output bases needed left of the centre
    window = geom.window
    if window // 2 >= need and window - window // 2 >= need + span:
        return geom
    span = max(16, 1 << (span - 1).bit_length())
    step = 2 * geom.bin_size
    grow = 2 * (need + span) - window
    return geom.at_window(window + -(-grow // step) * step)


def _check_variant(
    genome: Genome,
    row: int,
    variant: tuple,
    geom: TowerGeometry,
    reach: int | None,
    skip_edge: bool,
) -> tuple[str | None, _Variant | None]:
    """Return (reason to skip, None) or (None, the variant with its window geometry)."""
    chrom, pos, _, ref, alt = variant
    pos = int(pos)
    if chrom not in genome.chrom_sizes:
        hint = genome.chrom_hint(chrom)
        return f"chromosome {chrom!r} not in FASTA {genome.path.name}{hint}", None
    if alt.startswith("<") or "[" in alt or "]" in alt or alt == "*":
        return f"symbolic or breakend ALT {alt!r} is not scored", None
    if alt == ".":
        return "no ALT allele ('.')", None
    alt_up = alt.upper()
    if not set(alt_up) <= _BASES:
        return f"ALT {alt!r} has characters other than A, C, G, T, N", None
    if not ref or not set(ref) <= _BASES:
        return f"REF {ref!r} has characters other than A, C, G, T, N", None
    size = genome.chrom_sizes[chrom]
    p0 = pos - 1
    if p0 < 0 or p0 + len(ref) > size:
        return f"REF allele {chrom}:{pos} runs past the chromosome end (length {size})", None
    fasta = codes_to_str(genome.fetch(chrom, p0, p0 + len(ref)))
    if fasta != ref:
        return f"REF mismatch: VCF REF={ref}, FASTA has {fasta} at {chrom}:{pos}", None
    k, m, n = _trim(ref, alt_up)
    limit = geom.window - geom.crop - geom.window // 2 - k
    if max(m, n) > limit:
        reason = (
            f"allele change of {max(m, n)} bp reaches past the model's output region "
            f"(at most {limit} bp here); use a model with a longer window"
        )
        return reason, None
    vgeom = _reach_geometry(geom, reach, k + max(m, n))
    centre = vgeom.window // 2
    if skip_edge and (p0 - centre < 0 or p0 - centre + vgeom.window + max(0, m - n) > size):
        return "window reaches past the chromosome end (skip_edge)", None
    alt_codes = encode(alt_up[k : k + n])
    return None, _Variant(row, chrom, p0 - centre, centre + k, m, n, alt_codes, vgeom)


def _score_width_bins(score_width: int | None, geom: TowerGeometry) -> tuple[int, int]:
    """Output index range [lo, hi) holding the central ``score_width`` bp around POS."""
    if score_width is None:
        return 0, geom.out_bins
    w = int(score_width)
    if w < 1 or w > geom.out_bins * geom.bin_size:
        raise InputError(
            f"score width {w} must be between 1 and the model's output length "
            f"{geom.out_bins * geom.bin_size} bp"
        )
    first = geom.window // 2 - w // 2 - geom.crop  # output base of the first scored position
    b = geom.bin_size
    return max(first // b, 0), min(-(-(first + w) // b), geom.out_bins)


def _pair_index(
    batch: list[_Variant], geom: TowerGeometry, width: tuple[int, int]
) -> tuple[np.ndarray, np.ndarray]:
    """Alternative partner of every scored reference output index, per variant.

    Returns
    -------
    alt_index : np.ndarray, shape (B, K), int64
        For reference output index ``lo + j``, the alternative output index it pairs with.
    valid : np.ndarray, shape (B, K), bool
        False where the reference position has no partner (deleted or replaced bases, or a
        partner shifted past the end of the alternative output).
    """
    lo, hi = width
    ref_index = np.arange(lo, hi)
    alt_index = np.broadcast_to(ref_index, (len(batch), hi - lo)).copy()
    valid = np.ones(alt_index.shape, dtype=bool)
    if geom.bin_size > 1:
        return alt_index, valid
    for row, v in enumerate(batch):
        if v.m == v.n:
            continue
        block = v.block - geom.crop  # output index of the first changed base
        right = ref_index >= block + v.m
        alt_index[row, right] += v.n - v.m
        valid[row] = (ref_index < block) | (right & (alt_index[row] < geom.out_bins))
    np.clip(alt_index, 0, geom.out_bins - 1, out=alt_index)  # invalid ones point anywhere
    return alt_index, valid


def _score_arrays(ref, alt, valid, scores: Sequence[str]):
    """Scores of paired tracks, in numpy (CPU) or torch (on the prediction's device).

    Numpy is used on CPU: its element-wise kernels stay fast on a busy machine, where torch's
    intra-op threads wait on each other.

    Parameters
    ----------
    ref, alt : np.ndarray or Tensor, shape (B, T, K)
        Paired values; pairs where ``valid`` is False are ignored.
    valid : np.ndarray or Tensor, shape (B, 1, K), bool
    scores : list of str

    Returns
    -------
    np.ndarray or Tensor, shape (B, len(scores), T), float64
    """
    if isinstance(ref, torch.Tensor):
        xp, w = torch, valid.to(torch.float64)
        ref, alt = ref.to(torch.float64) * w, alt.to(torch.float64) * w
    else:
        xp, w = np, valid.astype(np.float64)
        ref, alt = ref.astype(np.float64) * w, alt.astype(np.float64) * w
    diff = alt - ref  # (B, T, K); exactly 0 where unpaired or equal
    out = []
    with np.errstate(invalid="ignore", divide="ignore"):
        for name in scores:
            if name == "SAD":
                out.append(_sum(diff))
            elif name == "logFC":
                out.append(xp.log2((_sum(alt) + 1.0) / (_sum(ref) + 1.0)))
            elif name == "maxabs":
                out.append(_amax(xp.abs(diff)))
            elif name == "JSD":
                out.append(_jsd(ref, alt, w, xp))
            else:
                raise ValueError(f"unknown score {name!r}; choose from {', '.join(SCORES)}")
    return xp.stack(out, 1)


def _sum(x, keepdims: bool = False):
    """Sum over the last axis of an array or tensor."""
    if isinstance(x, torch.Tensor):
        return x.sum(-1, keepdim=keepdims)
    return x.sum(-1, keepdims=keepdims)


def _amax(x):
    """Maximum over the last axis of an array or tensor."""
    return x.amax(-1) if isinstance(x, torch.Tensor) else x.max(-1)


def _jsd(ref, alt, w, xp):
    """Jensen-Shannon divergence in bits of (B, T, K) profiles over the positions in ``w``."""
    n_valid = _sum(w, keepdims=True)
    uniform = w / xp.where(n_valid > 0, n_valid, 1.0)  # (B, 1, K)

    def normalise(x):
        x = xp.where(x > 0, x, 0.0)
        total = _sum(x, keepdims=True)
        return xp.where(total > 0, x / xp.where(total > 0, total, 1.0), uniform)

    p, q = normalise(ref), normalise(alt)
    mid = 0.5 * (p + q)
    safe_mid = xp.where(mid > 0, mid, 1.0)

    def kl(a):
        return _sum(a * xp.log2(xp.where(a > 0, a, 1.0) / safe_mid))

    jsd = 0.5 * (kl(p) + kl(q))
    return xp.where(jsd > 0, jsd, 0.0)


def score_variants(
    model: nn.Module,
    genome: Genome,
    variants: pd.DataFrame,
    track_names: Sequence[str],
    window: int,
    scores: Sequence[str] | str = SCORES,
    score_width: int | None = None,
    rc_average: bool = False,
    strand_pairs: Sequence[int] | None = None,
    batch_size: int = 16,
    device: Device = "auto",
    precision: Precision = "auto",
    skip_edge: bool = False,
    strict: bool = False,
    save_tracks: str | os.PathLike | None = None,
    progress: bool = True,
    track_specs: Sequence[TrackSpec] | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Score the effect of each variant on every predicted track (docs/variants.md).

    Parameters
    ----------
    model : nn.Module
        ``forward(seq (B, 4, L)) -> {"signal": (B, T, L_out), ...}`` with ``.crop``,
        ``.bin_size`` and, for reach-wide windows, ``.receptive_field``.
    genome : Genome
        The reference the variants are called against.
    variants : pd.DataFrame
        Columns chrom, pos (1-based, as in VCF), ref, alt and optionally id; one ALT per row
        (:func:`genodil.genome.vcf.read_vcf` gives this).
    track_names : list of str
        T names, used in the output column names.
    window : int
        Configured input length L in bp. A variant whose reach (half the receptive field
        around the change) does not fit in this window's output is scored on a longer one.
    scores : list of str or comma-separated str
        Any of SAD, logFC, maxabs, JSD (case-insensitive).
    score_width : int or None
        Score only the central ``score_width`` bp around POS (or the bins overlapping them);
        None scores the whole output region.
    rc_average, strand_pairs, device, precision
        As in :func:`genodil.predict.runner.predict`.
    batch_size : int
        Windows per forward pass (each variant takes two: reference and alternative).
    skip_edge : bool
        Skip variants whose window reaches past a chromosome end instead of padding with N.
    strict : bool
        Raise :class:`InputError` if any variant would be skipped.
    save_tracks : path or None
        Write an ``.npz`` with the reference and alternative tracks of every scored variant
        (``ref``, ``alt``, ``alt_raw``, ``start``, ...; see docs/variants.md).
    progress : bool
        Progress on stderr (:func:`genodil.progress.progress_bar`).
    track_specs : list of TrackSpec or None
        The tracks the model was trained on: predictions are mapped back to each track's own
        units (:func:`genodil.data.tracks.untransform_tracks`) before scoring, and saved
        tracks are in those units too. None scores the model's outputs as they are.

    Returns
    -------
    scored : pd.DataFrame
        Columns chrom, pos, id, ref, alt, then ``<SCORE>_<track>`` for each score and track,
        then ``n_padded``: bases of the reference window past a chromosome end, read as N
        (0 for most variants); rows in input order.
    skipped : pd.DataFrame
        Columns chrom, pos, id, ref, alt, reason.
    """
    names = _check_track_names(track_names)
    score_names = _parse_scores(scores)
    geom = geometry_of(model).at_window(window)
    _check_options(geom, score_width, batch_size)
    table = _as_variant_frame(variants)
    ready, skipped = _check_variants(genome, table, geom, _half_reach(model), skip_edge, strict)

    rows = table.iloc[[v.row for v in ready]].reset_index(drop=True)
    runner = ModelRunner(model, device, precision, rc_average, strand_pairs, len(names))
    saver = _saving(save_tracks, ready, rows, names, geom)
    bar = progress_bar(len(ready), "score-variants", "variants", enabled=progress)
    with saver as save, runner, bar:
        values = _predict_scores(
            runner, genome, ready, batch_size, score_width, score_names, save, bar, track_specs
        )
    pairs = [(i, s, j, t) for i, s in enumerate(score_names) for j, t in enumerate(names)]
    cols = {f"{s}_{t}": values[:, i, j] for i, s, j, t in pairs}
    cols["n_padded"] = np.array([_n_padded(v, genome) for v in ready], dtype=np.int64)
    return pd.concat([rows, pd.DataFrame(cols)], axis=1), skipped


def _n_padded(v: _Variant, genome: Genome) -> int:
    """Bases of the variant's reference window that lie past a chromosome end (read as N)."""
    size = genome.chrom_sizes[v.chrom]
    return max(0, -v.win_start) + max(0, v.win_start + v.geom.window - size)


def _check_options(geom: TowerGeometry, score_width: int | None, batch_size: int) -> None:
    _score_width_bins(score_width, geom)  # checks the width against the configured window
    if batch_size < 2:
        raise ValueError(
            f"batch_size must be >= 2 (a reference and an alternative window), got {batch_size}"
        )


@contextlib.contextmanager
def _saving(
    path: str | os.PathLike | None,
    ready: list[_Variant],
    rows: pd.DataFrame,
    names: list[str],
    geom: TowerGeometry,
) -> Iterator[_TrackSaver | None]:
    """Yield a track saver for ``path`` (None without one); finish it only on success."""
    if not path:
        yield None
        return
    out_bins = max((v.geom.out_bins for v in ready), default=geom.out_bins)
    with contextlib.ExitStack() as stack:
        save = _TrackSaver(stack, path, len(ready), len(names), out_bins, geom.bin_size)
        yield save
        save.finish(rows, names)  # renamed when the stack exits


def _predict_scores(
    runner: ModelRunner,
    genome: Genome,
    ready: list[_Variant],
    batch_size: int,
    score_width: int | None,
    score_names: list[str],
    save: _TrackSaver | None,
    bar,
    track_specs: Sequence[TrackSpec] | None = None,
) -> np.ndarray:
    """Predict and score every variant; returns (N, len(score_names), T) float64."""
    values = np.full((len(ready), len(score_names), runner.n_tracks), np.nan)
    batches = _batches(ready, max(1, batch_size // 2))
    for (lo, batch), codes in prefetched(batches, lambda b: _window_codes(genome, b[1])):
        pred = runner.predict_codes(codes)  # (B + B_changed, T, L_out) on the device
        if track_specs is not None:  # score in the tracks' own units
            bin_size = batch[0].geom.bin_size
            pred = torch.from_numpy(untransform_tracks(_to_numpy(pred), track_specs, bin_size))
        width = _score_width_bins(score_width, batch[0].geom)
        values[lo : lo + len(batch)] = _score_batch(pred, batch, width, score_names, save)
        bar.update(len(batch))
    return values


def _half_reach(model: nn.Module) -> int | None:
    """Output bases a one-base change can alter on either side, or None when unknown."""
    receptive_field = getattr(model, "receptive_field", None)
    return None if receptive_field is None else int(receptive_field) // 2


def _check_variants(
    genome: Genome,
    table: pd.DataFrame,
    geom: TowerGeometry,
    half_reach: int | None,
    skip_edge: bool,
    strict: bool,
) -> tuple[list[_Variant], pd.DataFrame]:
    """The scorable variants, in input order, and the table of skipped ones with reasons."""
    ready: list[_Variant] = []
    skipped_rows: list[tuple] = []
    for i, row in enumerate(table.itertuples(index=False)):
        reason, variant = _check_variant(genome, i, tuple(row), geom, half_reach, skip_edge)
        if reason is not None:
            skipped_rows.append((*row, reason))
        else:
            ready.append(variant)
    skipped = pd.DataFrame(skipped_rows, columns=[*VARIANT_COLUMNS, "reason"])
    if strict and len(skipped):
        first = skipped.iloc[0]
        raise InputError(
            f"{len(skipped)} of {len(table)} variant(s) cannot be scored (strict mode); first: "
            f"{first.chrom}:{first.pos} {first.ref}>{first.alt}: {first.reason}"
        )
    if skipped_rows:
        log.warning("%d of %d variants skipped (see the skipped table)", len(skipped), len(table))
    return ready, skipped


def _batches(ready: list[_Variant], per_batch: int) -> Iterator[tuple[int, list[_Variant]]]:
    """Yield (index of the first variant, batch): consecutive variants sharing one window."""
    lo = 0
    while lo < len(ready):
        hi = lo + 1
        while hi < min(lo + per_batch, len(ready)) and ready[hi].geom == ready[lo].geom:
            hi += 1
        yield lo, ready[lo:hi]
        lo = hi


def _score_batch(
    pred: torch.Tensor,
    batch: list[_Variant],
    width: tuple[int, int],
    score_names: list[str],
    save: _TrackSaver | None,
) -> np.ndarray:
    """Scores of one batch of variants (all with the same window geometry).

    Parameters
    ----------
    pred : Tensor, shape (B + B_changed, T, L_out)
        Predictions of the reference windows, then of the alternative windows of the
        variants that change the sequence (see :func:`_window_codes`).
    batch : list of _Variant, length B

    Returns
    -------
    np.ndarray, shape (B, len(score_names), T), float64
    """
    n = len(batch)
    alt_rows, nxt = [], n
    for j, v in enumerate(batch):
        if v.m or v.n:
            alt_rows.append(nxt)
            nxt += 1
        else:  # REF == ALT: the same window, so exactly the same prediction
            alt_rows.append(j)
    if pred.device.type == "cpu":
        pred = pred.numpy()
    ref_pred = pred[:n]  # (B, T, L_out)
    alt_pred = pred[alt_rows]
    alt_index, valid = _pair_index(batch, batch[0].geom, width)  # (B, K)
    if isinstance(pred, torch.Tensor):
        alt_index = torch.from_numpy(alt_index).to(pred.device)
        valid = torch.from_numpy(valid).to(pred.device)
        alt_sel = alt_pred.gather(-1, alt_index[:, None, :].expand(n, pred.shape[1], -1))
    else:
        alt_sel = np.take_along_axis(alt_pred, alt_index[:, None, :], axis=-1)
    ref_sel = ref_pred[..., width[0] : width[1]]  # (B, T, K)
    scores = _to_numpy(_score_arrays(ref_sel, alt_sel, valid[:, None, :], score_names))
    if save is not None:
        ref_np, alt_np = _to_numpy(ref_pred), _to_numpy(alt_pred)
        for j, v in enumerate(batch):
            save.add(v, ref_np[j], alt_np[j])
    return scores


def _to_numpy(x) -> np.ndarray:
    return x.cpu().numpy() if isinstance(x, torch.Tensor) else x


def _window_codes(genome: Genome, batch: list[_Variant]) -> np.ndarray:
    """Reference windows, then alternative windows of the variants that change the sequence.

    Returns
    -------
    np.ndarray, shape (B + B_changed, L), uint8; L is the batch's shared window
    """
    L = batch[0].geom.window
    refs, alts = [], []
    for v in batch:
        ref = genome.fetch(v.chrom, v.win_start, v.win_start + L)
        refs.append(ref)
        if not (v.m or v.n):
            continue
        after = v.win_start + v.block + v.m  # genome coordinate right after the changed block
        right = genome.fetch(v.chrom, after, after + L - v.block - v.n)
        alts.append(np.concatenate([ref[: v.block], v.alt_codes, right]))  # (L,)
    return np.stack(refs + alts)


class _TrackSaver:
    """Stream reference and alternative tracks of every scored variant into an ``.npz``.

    The archive is built on a temporary name registered on ``stack`` (renamed when the stack
    exits cleanly, removed otherwise); the per-array ``.npy`` parts live in a hidden folder
    removed in every case. Arrays have ``out_bins`` values per track: the longest output of
    the run. A variant scored on a shorter window (see :func:`_reach_geometry`) is padded with
    NaN on the right.
    """

    def __init__(
        self,
        stack: contextlib.ExitStack,
        path,
        n: int,
        n_tracks: int,
        out_bins: int,
        bin_size: int,
    ) -> None:
        self.path = Path(path)
        self.out_bins = out_bins
        self.bin_size = bin_size
        self.tmp = stack.enter_context(atomic_output(self.path, what="--save-tracks"))
        self.dir = stack.enter_context(scratch_dir(self.path, what="--save-tracks"))
        shape = (n, n_tracks, out_bins)
        self.streams: dict[str, NpyStream] = {}
        stack.callback(self._abandon)
        for k in ("ref", "alt", "alt_raw"):
            self.streams[k] = NpyStream(self.dir / f"{k}.npy", shape)
        self.starts: list[int] = []

    def add(self, v: _Variant, ref: np.ndarray, alt: np.ndarray) -> None:
        n_out = v.geom.out_bins
        on_ref = np.full_like(ref, np.nan)
        alt_index, valid = _pair_index([v], v.geom, (0, n_out))
        on_ref[:, valid[0]] = alt[:, alt_index[0, valid[0]]]
        pad = np.full((ref.shape[0], self.out_bins - n_out), np.nan, dtype=np.float32)
        self.streams["ref"].write(np.concatenate([ref, pad], axis=1))
        self.streams["alt"].write(np.concatenate([on_ref, pad], axis=1))
        self.streams["alt_raw"].write(np.concatenate([alt, pad], axis=1))
        self.starts.append(v.win_start + v.geom.crop)

    def finish(self, rows: pd.DataFrame, names: list[str]) -> None:
        for stream in self.streams.values():
            stream.close()
        members: list[tuple[str, Path | np.ndarray]] = [
            (k, s.path) for k, s in self.streams.items()
        ]
        members += [
            ("start", np.array(self.starts, dtype=np.int64)),
            ("chrom", rows["chrom"].to_numpy(dtype=str)),
            ("pos", rows["pos"].to_numpy(dtype=np.int64)),
            ("id", rows["id"].to_numpy(dtype=str)),
            ("ref_allele", rows["ref"].to_numpy(dtype=str)),
            ("alt_allele", rows["alt"].to_numpy(dtype=str)),
            ("track_names", np.array(names)),
            ("bin_size", np.array(self.bin_size)),
        ]
        pack_npz(self.tmp, iter(members))

    def _abandon(self) -> None:
        for stream in self.streams.values():
            stream.abandon()


def skipped_path(out_path: str | os.PathLike) -> Path:
    """Where :func:`write_scores` puts the skipped-variants table for ``out_path``.

    ``scores.tsv`` gives ``scores.skipped.tsv``; any other name keeps its full name, so
    ``scores.parquet`` gives ``scores.parquet.skipped.tsv`` and ``scores.tsv.gz`` gives
    ``scores.tsv.gz.skipped.tsv`` (two outputs never share one skipped table).
    """
    out_path = Path(out_path)
    name = out_path.name
    if name.lower().endswith(".tsv"):
        return out_path.with_name(f"{name[:-4]}.skipped.tsv")
    return out_path.with_name(f"{name}.skipped.tsv")


def units_path(out_path: str | os.PathLike) -> Path:
    """The sidecar saying which units the scores in ``out_path`` are in: ``<out>.units.json``."""
    out_path = Path(out_path)
    return out_path.with_name(f"{out_path.name}.units.json")


def is_vcf_output(out_path: str | os.PathLike) -> bool:
    """True for ``.vcf`` / ``.vcf.gz`` outputs (an annotated copy of the input VCF)."""
    name = Path(out_path).name.lower()
    return name.endswith((".vcf", ".vcf.gz"))


def write_scores(
    scored: pd.DataFrame,
    skipped: pd.DataFrame,
    out_path: str | os.PathLike,
    vcf: str | os.PathLike | None = None,
    units: dict | None = None,
) -> tuple[Path, ...]:
    """Write scores as TSV, Parquet or an annotated VCF, the skipped variants beside.

    ``.parquet``/``.pq`` gives Parquet; ``.vcf``/``.vcf.gz`` gives a copy of ``vcf`` (the
    input) with each score column as a per-allele INFO field
    (:func:`genodil.genome.vcf.write_annotated_vcf`); anything else a TSV (gzipped for
    ``.gz``). The skipped table goes to :func:`skipped_path` (always written, with only a
    header when nothing was skipped). With ``units`` (``{"units": ..., "tracks": {...}}``),
    a :func:`units_path` sidecar records which units the scores are in. Every file is written
    under a temporary name and renamed when complete.

    Returns
    -------
    tuple of Path: scores, skipped table and, with ``units``, the units sidecar
    """
    out_path = Path(out_path)
    skipped_out = skipped_path(out_path)
    if is_vcf_output(out_path):
        if vcf is None:
            raise InputError(f"{out_path}: an annotated VCF output needs the input VCF")
        from genodil.genome.vcf import write_annotated_vcf

        cols = [c for c in scored.columns if c not in (*VARIANT_COLUMNS, "n_padded")]
        note = (units or {}).get("units", "model")
        text = {c: f"genodil {c} ({note} units; see {units_path(out_path).name})" for c in cols}
        write_annotated_vcf(vcf, scored, out_path, cols, text)
        with atomic_output(skipped_out, what="skipped table") as tmp_skipped:
            skipped.to_csv(tmp_skipped, sep="\t", index=False)
    else:
        what = ["--out", "skipped table"]
        with atomic_outputs([out_path, skipped_out], what=what) as (tmp, tmp_skipped):
            _write_table(scored, out_path, tmp)
            skipped.to_csv(tmp_skipped, sep="\t", index=False)
    if units is None:
        return out_path, skipped_out
    side = units_path(out_path)
    write_atomic(side, json.dumps(units, indent=2) + "\n", what="units sidecar")
    return out_path, skipped_out, side


def _write_table(scored: pd.DataFrame, out_path: Path, tmp: Path) -> None:
    if out_path.suffix.lower() in (".parquet", ".pq"):
        try:
            scored.to_parquet(tmp, index=False)
        except ImportError as e:
            raise InputError(
                f"writing {out_path} needs pyarrow: `pip install 'genodil[parquet]'`, or "
                "give a .tsv output"
            ) from e
    else:
        compression = "gzip" if out_path.name.endswith(".gz") else None
        scored.to_csv(tmp, sep="\t", index=False, float_format="%.7g", compression=compression)
