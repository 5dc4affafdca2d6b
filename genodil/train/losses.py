"""Losses on model outputs against per-base count targets.

Every loss returns a per-(window, track) tensor of shape (B, T); callers average it. The model
output is the dict of :class:`genodil.models.DilatedResNet` (key ``signal`` always, and
``profile_logits``/``log_counts`` for the profile + count head).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch
from torch import Tensor

from genodil.models.layers import pool_bins

__all__ = [
    "LOSSES",
    "binned_poisson_loss",
    "compute_loss",
    "loss_options",
    "mse_loss",
    "multinomial_loss",
    "poisson_loss",
]

LOSSES = ("poisson", "multinomial", "mse")
LossName = Literal["poisson", "multinomial", "mse"]

_EPS = 1e-8


def poisson_loss(signal: Tensor, target: Tensor) -> Tensor:
    """Poisson negative log-likelihood per position, without the ``log(y!)`` constant.

    ``rate - y * log(rate)``, averaged over positions.

    Parameters
    ----------
    signal : Tensor, shape (B, T, L), predicted rates (>= 0)
    target : Tensor, shape (B, T, L), observed counts

    Returns
    -------
    Tensor, shape (B, T)
    """
    return (signal - target * torch.log(signal + _EPS)).mean(dim=-1)


def mse_loss(signal: Tensor, target: Tensor) -> Tensor:
    """Mean squared error per (window, track); shapes as :func:`poisson_loss`."""
    return ((signal - target) ** 2).mean(dim=-1)


def multinomial_loss(
    profile_logits: Tensor, log_counts: Tensor, target: Tensor, count_weight: float = 1.0
) -> Tensor:
    """BPNet-style profile multinomial NLL plus a weighted total-count MSE.

    The profile term is the full multinomial negative log-likelihood of the observed counts
    given the predicted position probabilities ``softmax(profile_logits)``, divided by the
    profile length so its scale does not depend on the window; the count term is
    ``(log(1 + sum y) - log_counts)^2`` (see bpnet-lite's ``MNLLLoss`` and ``log1pMSELoss``).

    Parameters
    ----------
    profile_logits : Tensor, shape (B, T, L)
    log_counts : Tensor, shape (B, T), predicted ``log(1 + total count)``
    target : Tensor, shape (B, T, L)
    count_weight : float
        Weight of the count term.

    Returns
    -------
    Tensor, shape (B, T)
    """
    log_p = torch.log_softmax(profile_logits.float(), dim=-1)
    target = target.float()
    total = target.sum(dim=-1)
    log_fact = torch.lgamma(total + 1) - torch.lgamma(target + 1).sum(dim=-1)
    nll = -(log_fact + (target * log_p).sum(dim=-1)) / target.shape[-1]
    count = (torch.log1p(total) - log_counts.float()) ** 2
    return nll + count_weight * count


def binned_poisson_loss(signal: Tensor, target: Tensor, bin_positions: int) -> Tensor:
    """Poisson NLL of bin totals, per position: the ``train.bin_loss_weight`` term.

    ``signal`` and ``target`` are summed over non-overlapping bins of ``bin_positions`` output
    positions (:func:`~genodil.models.layers.pool_bins`); the result is :func:`poisson_loss` of
    the sums (averaged over bins) divided by ``bin_positions``, so that its gradient per
    position is on the scale of the per-position term whatever the bin width.

    Parameters
    ----------
    signal : Tensor, shape (B, T, L), predicted rates (>= 0)
    target : Tensor, shape (B, T, L), observed counts
    bin_positions : int
        Output positions per bin; ``L`` is a multiple of it (checked with the config).

    Returns
    -------
    Tensor, shape (B, T)
    """
    pooled = poisson_loss(pool_bins(signal, bin_positions), pool_bins(target, bin_positions))
    return pooled / bin_positions


def loss_options(train: Mapping[str, Any], bin_size: int) -> dict[str, Any]:
    """The :func:`compute_loss` keywords of a run's ``train`` settings (dict form).

    Parameters
    ----------
    train : mapping
        ``TrainSettings.to_dict()`` or a checkpoint's stored ``train`` section (older
        checkpoints lack the newer keys: their defaults apply).
    bin_size : int
        ``data.bin_size``: bp per output position.
    """
    return {
        "loss": train.get("loss", "poisson"),
        "count_weight": float(train.get("count_weight", 1.0)),
        "bin_loss_weight": float(train.get("bin_loss_weight", 0.0)),
        "bin_positions": max(int(train.get("bin_loss_size", 128)) // int(bin_size), 1),
    }


def compute_loss(
    out: dict[str, Tensor],
    target: Tensor,
    loss: LossName,
    count_weight: float = 1.0,
    bin_loss_weight: float = 0.0,
    bin_positions: int = 1,
) -> Tensor:
    """The named loss, plus ``bin_loss_weight`` times :func:`binned_poisson_loss`; shape (B, T).

    For ``multinomial`` with a head that only gives ``signal``, the profile logits are
    ``log(signal)`` and the predicted log count ``log(1 + sum signal)``. The binned term is
    computed on ``signal`` (bins of ``bin_positions`` output positions) and only when its
    weight is not 0.
    """
    signal = out["signal"].float()
    target = target.float()
    if loss == "poisson":
        value = poisson_loss(signal, target)
    elif loss == "mse":
        value = mse_loss(signal, target)
    elif loss == "multinomial":
        if "profile_logits" in out:
            logits, log_counts = out["profile_logits"], out["log_counts"]
        else:
            logits = torch.log(signal + _EPS)
            log_counts = torch.log1p(signal.sum(dim=-1))
        value = multinomial_loss(logits, log_counts, target, count_weight)
    else:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
    if bin_loss_weight:
        value = value + bin_loss_weight * binned_poisson_loss(signal, target, bin_positions)
    return value
