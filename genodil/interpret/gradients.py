"""Gradient x input: the gradient of the explained scalar times the one-hot input.

``gradient_x_input`` returns both the gradient (the *hypothetical* contribution of each of
the four bases at each position, as TF-MoDISco reads it) and the gradient times the input
(the *projected* contribution of the base present). ``saliency`` is an alias kept for the
command line's old ``--method saliency``: it computes the same gradient x input.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import torch
from torch import Tensor, nn

from genodil.interpret.objective import Objective, ScalarModel

__all__ = ["attribution_mode", "gradient_x_input", "saliency"]


@contextlib.contextmanager
def attribution_mode(model: nn.Module) -> Iterator[None]:
    """Turn off activation checkpointing while gradients are taken, then restore it.

    Checkpointing recomputes blocks in the backward pass, which would run forward hooks
    (DeepLIFT's) twice and costs time; attributions need no memory savings of that kind.
    """
    had = getattr(model, "checkpoint_blocks", None)
    if had:
        model.checkpoint_blocks = False
    try:
        yield
    finally:
        if had:
            model.checkpoint_blocks = had


def _as_seq(seq: Tensor | np.ndarray) -> Tensor:
    seq = torch.as_tensor(seq).float()
    if seq.ndim != 3 or seq.shape[1] != 4:
        raise ValueError(f"seq must be one-hot of shape (N, 4, L), got {tuple(seq.shape)}")
    return seq


def gradient_x_input(
    model: nn.Module,
    seq: Tensor | np.ndarray,
    objective: Objective | None = None,
    *,
    batch_size: int = 16,
    device: str = "auto",
    rc_average: bool = False,
    strand_pairs: list[int] | None = None,
) -> tuple[Tensor, Tensor]:
    """Gradient of the explained scalar with respect to the one-hot input, and gradient x input.

    Parameters
    ----------
    model : nn.Module
        A genodil model; its device and training flags are restored afterwards.
    seq : Tensor or np.ndarray, shape (N, 4, L), one-hot
    objective : Objective or None
        The explained scalar; None = the signal summed over all tracks and outputs.
    batch_size : int
    device : {"auto", "cpu", "cuda"} or "cuda:N"
    rc_average : bool
        Explain the strand-averaged scalar (see :class:`ScalarModel`).
    strand_pairs : list of int or None

    Returns
    -------
    (grad, grad_x_input) : Tensors of shape (N, 4, L), float32, on the CPU. ``grad`` is the
    hypothetical contribution; ``grad_x_input`` the projected one. Computed in float32.
    """
    from genodil.predict.runner import ModelRunner

    seq = _as_seq(seq)
    scalar = ScalarModel(model, objective or Objective(), rc_average, strand_pairs)
    grads = []
    with ModelRunner(model, device, "32") as runner, attribution_mode(model):
        for i in range(0, seq.shape[0], batch_size):
            x = seq[i : i + batch_size].to(runner.device).requires_grad_(True)
            with torch.enable_grad():
                (g,) = torch.autograd.grad(scalar(x).sum(), x)
            grads.append(g.detach().cpu())
    grad = torch.cat(grads)
    return grad, grad * seq


def saliency(*args, **kwargs) -> tuple[Tensor, Tensor]:
    """Alias of :func:`gradient_x_input` (the name the command line once used)."""
    return gradient_x_input(*args, **kwargs)
