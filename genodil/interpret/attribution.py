"""Attribution of a scalar prediction to input bases.

The scalar explained is the predicted signal summed over a set of output positions (and over
one track or all tracks). Two methods:

- :func:`ism`: in-silico mutagenesis, the change of the scalar when each base of a span is
  replaced by each other base (exact, costs 3 forward passes per position, batched);
- :func:`gradient_x_input`: the gradient of the scalar with respect to the one-hot input, times
  the input (one backward pass).
"""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from torch import Tensor, nn

from genodil.errors import InputError
from genodil.genome.encode import one_hot_torch
from genodil.outputs import atomic_output, check_outputs, write_atomic
from genodil.predict.runner import ModelRunner, predict

__all__ = ["gradient_x_input", "interpret_region", "ism", "plot_attribution"]


def _objective(signal: Tensor, out_slice: slice, track: int | None) -> Tensor:
    """Sum of ``signal[:, track, out_slice]`` per sequence; shape (B,)."""
    sel = signal[:, :, out_slice] if track is None else signal[:, track : track + 1, out_slice]
    return sel.sum(dim=(1, 2))


def gradient_x_input(
    model: nn.Module, seq: Tensor, out_slice: slice, track: int | None = None
) -> tuple[Tensor, Tensor]:
    """Gradient x input of the summed prediction.

    Parameters
    ----------
    model : nn.Module
        Returns a dict with ``signal`` (B, T, L_out).
    seq : Tensor, shape (B, 4, L), one-hot
    out_slice : slice
        Output positions summed into the explained scalar.
    track : int or None
        One track, or all summed.

    Returns
    -------
    (grad, grad_x_input) : Tensors of shape (B, 4, L)
    """
    device = str(seq.device)
    with ModelRunner(model, device, precision="32") as runner:
        x = seq.detach().clone().float().requires_grad_(True)
        signal = runner.outputs(x)["signal"].float()  # (B, T, L_out)
        _objective(signal, out_slice, track).sum().backward()
        grad = x.grad.detach()
    return grad, grad * seq


def ism(
    model: nn.Module,
    seq: Tensor,
    positions: range,
    out_slice: slice,
    track: int | None = None,
    batch_size: int = 32,
) -> Tensor:
    """In-silico mutagenesis of one sequence.

    Parameters
    ----------
    seq : Tensor, shape (4, L), one-hot
    positions : range
        Input positions to mutate.

    Returns
    -------
    Tensor, shape (4, len(positions)): the change of the explained scalar when the base at
    each position is set to A, C, G or T (0 for the reference base).
    """
    device = str(seq.device)

    def objective(x: Tensor) -> Tensor:
        signal = predict(model, x, batch_size=batch_size, device=device, precision="32")
        return _objective(signal, out_slice, track)

    ref = objective(seq[None])[0]
    variants = [(p, b) for p in positions for b in range(4)]
    deltas = torch.zeros(4, len(positions), dtype=torch.float64)
    for i in range(0, len(variants), batch_size):
        chunk = variants[i : i + batch_size]
        x = seq[None].repeat(len(chunk), 1, 1)
        for j, (p, b) in enumerate(chunk):
            x[j, :, p] = 0
            x[j, b, p] = 1
        values = objective(x)
        for j, (p, b) in enumerate(chunk):
            deltas[b, p - positions.start] = float(values[j] - ref)
    ref_rows = seq[:, positions.start : positions.stop].argmax(0)
    has_base = seq[:, positions.start : positions.stop].sum(0) > 0
    cols = torch.arange(len(positions))
    deltas[ref_rows[has_base], cols[has_base]] = 0.0
    return deltas


def plot_attribution(scores: np.ndarray, codes: np.ndarray, start: int, title: str, path: Path):
    """Bar plot of per-base attribution coloured by base (A green, C blue, G orange, T red)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    colors = np.array(["#109648", "#255C99", "#F7B32B", "#D62839", "#999999"])
    x = np.arange(len(scores)) + start
    fig, ax = plt.subplots(figsize=(min(2 + len(scores) / 12, 30), 2.6))
    ax.bar(x, scores, width=1.0, color=colors[np.minimum(codes, 4)])
    ax.axhline(0, color="0.3", lw=0.5)
    ax.set_title(title, fontsize=9)
    ax.set_xlabel("position (bp)")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return write_atomic(path, buf.getvalue(), what="plot")


def interpret_region(
    loaded,
    genome,
    chrom: str,
    start: int,
    end: int,
    method: Literal["ism", "saliency"] = "saliency",
    track: str | None = None,
    out_dir: str | os.PathLike = "interpret",
    device: str = "auto",
    flank: int = 100,
) -> dict[str, Path]:
    """Explain the prediction summed over ``chrom:start-end`` and write npz + png.

    The model's input window is centred on the region; saliency covers the whole window, ISM
    the region plus ``flank`` bp on each side.
    """
    from genodil.predict.runner import resolve_device

    model, window, crop, bin_size = loaded.model, loaded.window, loaded.crop, loaded.bin_size
    span = window - 2 * crop
    if end - start > span:
        raise InputError(
            f"region {chrom}:{start}-{end} is {end - start} bp but one window's output covers "
            f"{span} bp; choose a shorter region"
        )
    size = genome.check_chrom(chrom)
    if start < 0 or end > size:
        raise InputError(
            f"region {chrom}:{start}-{end} runs past the end of {chrom} ({size:,} bp in FASTA "
            f"{genome.path}); choose a region inside the chromosome"
        )
    track_idx = None
    if track is not None:
        if track not in loaded.track_names:
            raise InputError(f"unknown track {track!r}; this model has {loaded.track_names}")
        track_idx = loaded.track_names.index(track)
    mid = (start + end) // 2
    w_start = mid - window // 2
    codes = genome.fetch(chrom, w_start, w_start + window)
    dev = resolve_device(device)
    model = model.to(dev)
    seq = one_hot_torch(torch.from_numpy(codes)).to(dev)  # (4, L)
    o0 = (start - w_start - crop) // bin_size
    o1 = -(-(end - w_start - crop) // bin_size)
    out_slice = slice(max(o0, 0), o1)
    out_dir = Path(out_dir)
    check_outputs(
        {"attribution archive": out_dir / f"{method}.npz", "plot": out_dir / f"{method}.png"},
        {"--out": out_dir},
        writable=True,
    )
    label = f"{chrom}:{start}-{end} {track or 'all tracks'}"
    # Positions shown and scored: the region plus `flank` bp each side, within the window.
    p0 = max(start - w_start - flank, 0)
    p1 = min(end - w_start + flank, window)
    if method == "saliency":
        grad, gxi = gradient_x_input(model, seq[None], out_slice, track_idx)
        scores = gxi[0].sum(0).cpu().numpy()[p0:p1]
        arrays = {"grad": grad[0].cpu().numpy()[:, p0:p1], "grad_x_input": gxi[0].cpu().numpy()}
        arrays["grad_x_input"] = arrays["grad_x_input"][:, p0:p1]
    elif method == "ism":
        deltas = ism(model, seq, range(p0, p1), out_slice, track_idx).numpy()
        # Per base: mean effect of mutating it away (positive = the base supports the signal).
        scores = -deltas.sum(0) / 3.0
        arrays = {"ism": deltas}
    else:
        raise InputError(f"unknown method {method!r}; choose ism or saliency")
    npz_path = out_dir / f"{method}.npz"
    with atomic_output(npz_path, what="attribution archive") as tmp, open(tmp, "wb") as fh:
        np.savez_compressed(
            fh, codes=codes[p0:p1], scores=scores, start=w_start + p0, chrom=chrom, **arrays
        )
    png = plot_attribution(
        scores, codes[p0:p1], w_start + p0, f"{method}: {label}", out_dir / f"{method}.png"
    )
    return {"npz": npz_path, "png": png}
