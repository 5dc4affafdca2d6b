"""Output heads: trunk features (B, C, L_out) in, a dict of track predictions out.

- :class:`TrackHead`: Conv1d(C → T, 1), then softplus or exp (counts, Poisson loss) or identity
  (MSE), or the product link ``exp(g) · softplus(s)`` (a second 1×1 convolution gives ``s``),
  then optional sum/mean pooling to ``bin_size``.
  Returns ``{"signal": (B, T, L_out // bin)}``.
- :class:`ProfileCountHead` (BPNet-style): per-base profile logits from Conv1d(C → T, 1), pooled
  to bins with log-sum-exp so their softmax is the binned profile; total log counts from the
  length-averaged features through Linear(C → T). Returns ``profile_logits`` (B, T, n_bins),
  ``log_counts`` (B, T) and ``signal = softmax(profile_logits) * exp(log_counts)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from genodil.models.layers import logsumexp_bins, pool_bins

__all__ = [
    "EXP_MAX",
    "TRACK_ACTIVATIONS",
    "Exp",
    "LogSoftplus",
    "ProfileCountHead",
    "TrackHead",
    "profile_signal",
]

#: The per-position heads' activations (``model.head`` and a track's ``head``).
TRACK_ACTIVATIONS = ("softplus", "exp", "identity", "product")
EXP_MAX = 20.0  # the exp head's largest log rate (4.9e8 per base): no overflow, even in bf16


class Exp(nn.Module):
    """``exp(min(x, EXP_MAX))``, a module so that DeepLIFT's rules can hook it.

    The log link: features add in log space, so a feature multiplies the rate (an enhancer
    scales its promoter's whole peak).
    """

    def forward(self, x: Tensor) -> Tensor:
        """Elementwise exponential of ``x`` capped at :data:`EXP_MAX`."""
        return torch.exp(torch.clamp(x, max=EXP_MAX))


class LogSoftplus(nn.Module):
    """``log(softplus(x))``, computed in float32 and equal to ``x`` below -15 (no underflow).

    The product link's additive part in log space: ``exp(g + log softplus(s))`` is
    ``exp(g) · softplus(s)`` with both factors' DeepLIFT rules on elementwise modules.
    """

    def forward(self, x: Tensor) -> Tensor:
        """Elementwise ``log(log(1 + e^x))``, stable for very negative ``x``."""
        x = x.float()
        low = x < -15.0
        return torch.where(low, x, torch.log(F.softplus(torch.clamp(x, min=-15.0))))


def profile_signal(profile_logits: Tensor, log_counts: Tensor) -> Tensor:
    """Expected counts per position from profile logits and total log counts.

    Parameters
    ----------
    profile_logits : Tensor, shape (B, T, L)
    log_counts : Tensor, shape (B, T)

    Returns
    -------
    Tensor, shape (B, T, L): ``softmax(profile_logits, -1) * exp(log_counts)[..., None]``
    """
    return torch.softmax(profile_logits, dim=-1) * torch.exp(log_counts).unsqueeze(-1)


class TrackHead(nn.Module):
    """Per-base track values: Conv1d(C → T, 1), activation, pooling to bins.

    Parameters
    ----------
    channels : int
    n_tracks : int
    activation : {"softplus", "exp", "identity", "product"} or sequence of them, one per track
        softplus: ``log(1 + e^z)``, linear for large z; exp: the log link, ``e^z``, where
        features multiply the rate; identity: any sign; product: ``e^g · softplus(s)``, a gain
        that multiplies (a promoter's strength) times an input that adds (the enhancers in
        reach, each with its contact), with ``s`` from a second 1×1 convolution. A sequence
        gives each track its own (exp or product for a track whose signal is a product,
        softplus for one that is a sum of peaks).
    bin_size : int
    pool : {"sum", "mean"}
    """

    def __init__(
        self,
        channels: int,
        n_tracks: int,
        activation: str | Sequence[str] = "softplus",
        bin_size: int = 1,
        pool: Literal["sum", "mean"] = "sum",
    ) -> None:
        super().__init__()
        per_track = [activation] * n_tracks if isinstance(activation, str) else list(activation)
        if len(per_track) != n_tracks or any(a not in TRACK_ACTIVATIONS for a in per_track):
            raise ValueError(
                f"activation {activation!r}: one of {', '.join(TRACK_ACTIVATIONS)}, or a list of "
                f"them with one per track ({n_tracks})"
            )
        self.activation = per_track[0] if len(set(per_track)) == 1 else tuple(per_track)
        # Mixed activations: the tracks of each kind, and where each track lands after the
        # kinds are concatenated (index selection is linear, so DeepLIFT's rules still hold).
        kinds = [k for k in TRACK_ACTIVATIONS if k in per_track]
        groups = [[t for t, a in enumerate(per_track) if a == k] for k in kinds]
        self._groups = list(zip(kinds, groups, strict=True))
        order = [t for g in groups for t in g]
        self.register_buffer("_unsort", torch.argsort(torch.tensor(order)), persistent=False)
        self.bin_size = bin_size
        self.pool = pool
        self.conv = nn.Conv1d(channels, n_tracks, 1)
        self.softplus = nn.Softplus()  # a module, so DeepLIFT's rules can hook it
        self.exp = Exp()
        n_product = per_track.count("product")
        if n_product:  # the additive input s of each product track, in track order
            self.additive = nn.Conv1d(channels, n_product, 1)
            self.log_softplus = LogSoftplus()

    def forward(self, h: Tensor) -> dict[str, Tensor]:
        """Predict tracks.

        Parameters
        ----------
        h : Tensor, shape (B, C, L)

        Returns
        -------
        dict with "signal": Tensor, shape (B, T, L // bin_size)
        """
        y = self.conv(h)  # (B, T, L)
        if isinstance(self.activation, str):
            y = self._activate(self.activation, y, h)
        else:
            parts = [self._activate(k, y[:, idx], h) for k, idx in self._groups]
            y = torch.cat(parts, dim=1)[:, self._unsort]
        return {"signal": pool_bins(y, self.bin_size, self.pool)}

    def _activate(self, kind: str, y: Tensor, h: Tensor) -> Tensor:
        if kind == "softplus":
            return self.softplus(y)
        if kind == "exp":
            return self.exp(y)
        if kind == "product":  # e^g · softplus(s) = exp(g + log softplus(s))
            return self.exp(y.float() + self.log_softplus(self.additive(h)))
        return y


class ProfileCountHead(nn.Module):
    """BPNet-style profile (shape) + total count head.

    Parameters
    ----------
    channels : int
    n_tracks : int
    bin_size : int
    """

    def __init__(self, channels: int, n_tracks: int, bin_size: int = 1) -> None:
        super().__init__()
        self.bin_size = bin_size
        self.profile = nn.Conv1d(channels, n_tracks, 1)
        self.count = nn.Linear(channels, n_tracks)

    def forward(self, h: Tensor) -> dict[str, Tensor]:
        """Predict profile logits, log total counts and the implied signal.

        Parameters
        ----------
        h : Tensor, shape (B, C, L)

        Returns
        -------
        dict with "profile_logits" (B, T, L // bin_size), "log_counts" (B, T) and
        "signal" (B, T, L // bin_size)
        """
        logits = logsumexp_bins(self.profile(h), self.bin_size)  # (B, T, n_bins)
        covered = h[..., : logits.shape[-1] * self.bin_size]  # the bases the bins cover
        log_counts = self.count(covered.mean(dim=-1))  # (B, T)
        return {
            "profile_logits": logits,
            "log_counts": log_counts,
            "signal": profile_signal(logits, log_counts),
        }
