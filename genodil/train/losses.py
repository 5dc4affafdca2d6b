"""Losses on model outputs against per-base count targets.

Every loss returns a per-(window, track) tensor of shape (B, T); callers average it. The model
output is the dict of :class:`genodil.models.DilatedResNet` (key ``signal`` always, and
``profile_logits``/``log_counts`` for the profile + count head).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

__all__ = ["LOSSES", "compute_loss", "mse_loss", "multinomial_loss", "poisson_loss"]

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


def compute_loss(
    out: dict[str, Tensor], target: Tensor, loss: LossName, count_weight: float = 1.0
) -> Tensor:
    """Dispatch to the named loss; returns shape (B, T).

    For ``multinomial`` with a head that only gives ``signal``, the profile logits are
    ``log(signal)`` and the predicted log count ``log(1 + sum signal)``.
    """
    signal = out["signal"].float()
    target = target.float()
    if loss == "poisson":
        return poisson_loss(signal, target)
    if loss == "mse":
        return mse_loss(signal, target)
    if loss == "multinomial":
        if "profile_logits" in out:
            logits, log_counts = out["profile_logits"], out["log_counts"]
        else:
            logits = torch.log(signal + _EPS)
            log_counts = torch.log1p(signal.sum(dim=-1))
        return multinomial_loss(logits, log_counts, target, count_weight)
    raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(LOSSES)}")
