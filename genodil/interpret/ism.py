"""In-silico mutagenesis (ISM), batched through the prediction runner.

ISM sets each base of a span to each other base and records the change of the explained
scalar (:class:`~genodil.interpret.objective.Objective`). It is exact (no gradients), costs
three forward passes per position, and runs every pass through
:class:`genodil.predict.runner.ModelRunner` (device, precision, reverse-complement averaging).

**Receptive-field shrinking.** At 1-bp resolution a substitution at input position ``p`` can
only change outputs within the model's reach ``h = (R - 1) // 2`` of ``p`` (``R`` the receptive
field). For the summed-signal objective of a model whose outputs are local (a convolutional
tower with a per-position head; not the ``profile_count`` head, whose softmax and total count
see the whole window), positions are grouped in blocks and each block runs on the shortest
sub-window that contains every explained output within reach of the block plus that output's
own receptive field (or the true window edge, so zero padding matches). Blocks whose reach
misses the explained span are skipped (their effect is exactly zero). The change is taken per
output (``alt - ref`` on the same sub-window, then summed), so untouched outputs contribute 0.
When the sub-window would not be shorter than the window, the whole window is used.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor, nn

from genodil.interpret.objective import Objective, as_dict, rc_map_outputs

__all__ = ["ism", "ism_hypothetical"]


@dataclass(frozen=True)
class _Plan:
    """How ISM lays out its forward passes."""

    width: int  # sub-window length W (the full window when not shrinking)
    block: int  # positions per block (one reference pass per block)
    margin_bins: int  # e: bins of context added on each side beyond crop
    local: bool  # whether outputs outside the reach are known unchanged


def _geometry(model: nn.Module, length: int) -> tuple[int, int, int]:
    crop = int(getattr(model, "crop", 0))
    bin_size = int(getattr(model, "bin_size", 1))
    return crop, bin_size, (length - 2 * crop) // bin_size


def model_reach(model: nn.Module) -> int | None:
    """Half-width ``h`` of the input span one output base depends on, or None if unknown.

    Known for genodil's convolutional models with a per-position head; None for the
    ``profile_count`` head (its outputs see the whole window) and models without a
    ``receptive_field`` attribute.
    """
    rf = getattr(model, "receptive_field", None)
    if rf is None or getattr(model, "head_kind", None) == "profile_count":
        return None
    return (int(rf) - 1) // 2


def _plan(model: nn.Module, objective: Objective, length: int, n_pos: int) -> _Plan:
    crop, b, n_out = _geometry(model, length)
    h = model_reach(model) if objective.form == "sum" else None
    full = _Plan(length, max(n_pos, 1), 0, False)
    if h is None or (length - 2 * crop) % b:
        return full
    lo, hi = objective.bins or (0, n_out)
    e = max(0, -(-(h - crop) // b))  # context bins beyond the crop on each side
    best, best_cost = full, 3.0 * length
    for s in (2**k for k in range(int(math.log2(max(n_pos, 1))) + 1)):
        n_bins = min(hi - lo, -(-(s - 1 + 2 * h) // b) + 1)
        width = n_bins * b + 2 * (crop + e * b)
        cost = (3.0 + 1.0 / s) * width
        if width < length and cost < best_cost:
            best, best_cost = _Plan(width, s, e, True), cost
    return best


def _rows(
    seq: Tensor, positions: range, objective: Objective, plan: _Plan, model: nn.Module
) -> Iterator[tuple[int, int, int, int, int]]:
    """Yield (block id, sequence, sub-window start, position or -1, base or -1) rows.

    Each block starts with its reference row (position -1); the substituted rows follow.
    """
    n_seq, _, length = seq.shape
    crop, b, n_out = _geometry(model, length)
    lo, hi = objective.bins or (0, n_out)
    ref_base = seq.argmax(1).numpy()  # (N, L)
    has_base = (seq.sum(1) > 0).numpy()
    h = model_reach(model) or 0
    block_id = 0
    for n in range(n_seq):
        for p0 in range(positions.start, positions.stop, plan.block):
            p1 = min(p0 + plan.block, positions.stop)
            if plan.local:
                k_lo = max(lo, (p0 - h - crop) // b)
                k_hi = min(hi - 1, (p1 - 1 + h - crop) // b)
                if k_lo > k_hi:
                    continue  # no explained output within reach: every change is 0
                s0 = min(max((k_lo - plan.margin_bins) * b, 0), length - plan.width)
            else:
                s0 = 0
            yield block_id, n, s0, -1, -1
            for p in range(p0, p1):
                for base in range(4):
                    if not (has_base[n, p] and ref_base[n, p] == base):
                        yield block_id, n, s0, p, base
            block_id += 1


def _values(runner, objective: Objective, x: Tensor, offsets: Tensor, bin_size: int) -> Tensor:
    """Per-row terms (B, K) whose sum is the scalar; outputs outside the span are zeroed."""
    if objective.form == "sum":
        sig = runner.signal(x)  # (B, T, L_out), reverse complements averaged by the runner
        if objective.tracks is not None:
            sig = sig[:, list(objective.tracks)]
        if objective.bins is not None:
            k = torch.arange(sig.shape[-1], device=sig.device)[None] + offsets[:, None]
            keep = (k >= objective.bins[0]) & (k < objective.bins[1])  # (B, L_out)
            sig = sig * keep[:, None, :]
        return sig.reshape(sig.shape[0], -1)
    out = {k: v.float() for k, v in runner.outputs(x).items()}
    vals = objective.values(out)
    if runner.rc_average:
        rev = rc_map_outputs(as_dict(runner.outputs(torch.flip(x, (-2, -1)))), runner.strand_pairs)
        vals = 0.5 * (vals + objective.values({k: v.float() for k, v in rev.items()}))
    return vals


@torch.inference_mode()
def ism(
    model: nn.Module,
    seq: Tensor | np.ndarray,
    positions: range | None = None,
    objective: Objective | None = None,
    *,
    batch_size: int = 64,
    device: str = "auto",
    precision: str = "32",
    rc_average: bool = False,
    strand_pairs: list[int] | None = None,
    progress: bool = False,
) -> Tensor:
    """In-silico mutagenesis of one-hot sequences.

    Parameters
    ----------
    model : nn.Module
        A genodil model (``forward(seq (B, 4, L)) -> {"signal": (B, T, L_out), ...}``).
    seq : Tensor or np.ndarray, shape (N, 4, L)
        One-hot input windows; N positions are all-zero columns.
    positions : range or None
        Input positions mutated (the same for every sequence); None = all ``L``.
    objective : Objective or None
        The explained scalar; None = the signal summed over all tracks and outputs.
    batch_size : int
        Substituted windows per forward pass.
    device, precision, rc_average, strand_pairs
        As for :func:`genodil.predict.runner.predict`. ``precision`` defaults to ``"32"``:
        ISM takes differences of predictions, which bf16 rounding would swamp.
    progress : bool
        Report progress (a bar on a terminal, periodic lines in a log).

    Returns
    -------
    Tensor, shape (N, 4, len(positions)), float32, on the CPU: the change of the scalar when
    the base at each position is set to A, C, G or T (0 for the reference base).
    """
    from genodil.predict.runner import ModelRunner

    seq = torch.as_tensor(np.asarray(seq) if not isinstance(seq, Tensor) else seq).float()
    if seq.ndim != 3 or seq.shape[1] != 4:
        raise ValueError(f"seq must be one-hot of shape (N, 4, L), got {tuple(seq.shape)}")
    length = seq.shape[-1]
    positions = range(length) if positions is None else positions
    if positions.step != 1 or positions.start < 0 or positions.stop > length:
        raise ValueError(f"positions {positions} must be a contiguous range within 0..{length}")
    objective = objective or Objective()
    plan = _plan(model, objective, length, len(positions))
    _, bin_size, _ = _geometry(model, length)
    result = torch.zeros(seq.shape[0], 4, len(positions))
    runner = ModelRunner(model, device, precision, rc_average, strand_pairs)
    rows = _rows(seq, positions, objective, plan, model)
    total = _count_rows(seq, positions, objective, plan, model)
    with runner, _progress(total, progress) as bar:
        dev_seq = seq.to(runner.device)
        refs: dict[int, Tensor] = {}
        cols = torch.arange(plan.width, device=runner.device)
        for chunk in _chunks(rows, batch_size):
            arr = torch.as_tensor(np.array(chunk, dtype=np.int64), device=runner.device)
            blk, n_idx, s0, pos, base = arr.T
            x = torch.gather(dev_seq[n_idx], 2, (s0[:, None] + cols).unsqueeze(1).expand(-1, 4, -1))
            mut = (pos >= 0).nonzero().squeeze(1)
            x[mut, :, pos[mut] - s0[mut]] = 0.0
            x[mut, base[mut], pos[mut] - s0[mut]] = 1.0
            vals = _values(runner, objective, x, s0 // bin_size, bin_size)  # (B, K)
            for i in (pos < 0).nonzero().squeeze(1).tolist():
                refs[int(blk[i])] = vals[i]
            ref_vals = torch.stack([refs[int(k)] for k in blk[mut].tolist()]) if len(mut) else None
            if ref_vals is not None:
                delta = (vals[mut] - ref_vals).sum(1).float().cpu()
                m = mut.cpu()
                result[n_idx.cpu()[m], base.cpu()[m], pos.cpu()[m] - positions.start] = delta
            for k in [k for k in refs if k < int(blk[-1])]:
                del refs[k]  # blocks run in order: earlier ones are finished
            bar.update(len(mut))
    return result


def _count_rows(seq, positions, objective, plan, model) -> int:
    return sum(1 for r in _rows(seq, positions, objective, plan, model) if r[3] >= 0)


def _chunks(rows: Iterator, size: int) -> Iterator[list]:
    chunk: list = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _progress(total: int, progress: bool):
    from genodil.progress import progress_bar

    return progress_bar(total, "ism", "substitutions", enabled=progress)


def ism_hypothetical(deltas: Tensor) -> Tensor:
    """ISM changes as hypothetical contributions: each position centred on its 4-base mean.

    ``h[b, p] = delta[b, p] - mean_b' delta[b', p]``; times the one-hot input it gives the
    reference base's contribution ``-mean_b delta[b, p]`` (how much the scalar would drop, on
    average, if the base were replaced), the usual ISM score for logos and TF-MoDISco.
    """
    return deltas - deltas.mean(dim=-2, keepdim=True)
