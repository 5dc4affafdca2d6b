"""Building blocks of the dilated residual tower.

Tensor contract: every block maps features ``(B, C, L)`` to ``(B, C, L)`` ('same' padding, odd
kernels), so output base i stays aligned with input base i. :func:`crop_sides` and
:func:`pool_bins` shorten the length axis at the end of the network.

Activation checkpointing (``checkpoint=True``) recomputes a block's inner activations during
the backward pass instead of storing them (``torch.utils.checkpoint`` with
``use_reentrant=False``, https://pytorch.org/docs/stable/checkpoint.html). The recomputation
runs the block's forward a second time; to keep BatchNorm's running statistics identical to a
run without checkpointing, the second run normalises with the batch statistics (exactly as the
first) but does not update the running buffers. Dropout masks agree because checkpoint
restores the RNG state before recomputing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.checkpoint import checkpoint as _checkpoint

# Modules, not functions, so DeepLIFT's rules can hook them.
ACTIVATIONS: dict[str, type[nn.Module]] = {"gelu": nn.GELU, "relu": nn.ReLU}
BLOCKS = ("bottleneck", "plain")

__all__ = [
    "ACTIVATIONS",
    "ASPP",
    "BLOCKS",
    "DilatedResidualBlock",
    "PlainDilatedBlock",
    "batch_norm",
    "center_crop",
    "checkpointed",
    "crop_sides",
    "logsumexp_bins",
    "pool_bins",
    "spread_init",
]


def center_crop(x: Tensor, target_len: int) -> Tensor:
    """Trim equal flanks so the last axis has length ``target_len``.

    Parameters
    ----------
    x : Tensor, shape (B, C, L)
    target_len : int
        Output length in bp; ``L - target_len`` must be even and non-negative.

    Returns
    -------
    Tensor, shape (B, C, target_len)
    """
    excess = x.shape[-1] - target_len
    if excess < 0 or excess % 2:
        raise ValueError(f"cannot crop length {x.shape[-1]} to {target_len}")
    flank = excess // 2
    return x[..., flank : x.shape[-1] - flank]  # (B, C, target_len)


def crop_sides(x: Tensor, crop: int) -> Tensor:
    """Remove ``crop`` positions from each end of the last axis.

    Parameters
    ----------
    x : Tensor, shape (B, C, L)
    crop : int
        Positions cut on each side, ``0 <= 2 * crop < L``.

    Returns
    -------
    Tensor, shape (B, C, L - 2 * crop)
    """
    if crop < 0 or 2 * crop >= x.shape[-1]:
        raise ValueError(f"cannot crop {crop} from each side of length {x.shape[-1]}")
    return x[..., crop : x.shape[-1] - crop] if crop else x


def pool_bins(x: Tensor, bin_size: int, mode: Literal["sum", "mean"] = "sum") -> Tensor:
    """Sum or average consecutive positions of the last axis into bins (torch).

    Remainder rule (the same as :func:`genodil.data.tracks.pool_bins_np`, its numpy twin):
    bins start at position 0 and a partial last bin is dropped, so the output has
    ``L // bin_size`` bins.

    Parameters
    ----------
    x : Tensor, shape (B, T, L)
    bin_size : int
    mode : {"sum", "mean"}

    Returns
    -------
    Tensor, shape (B, T, L // bin_size) (``x`` itself when ``bin_size`` is 1)
    """
    if bin_size == 1:
        return x
    n = x.shape[-1] // bin_size
    binned = x[..., : n * bin_size].reshape(*x.shape[:-1], n, bin_size)  # (B, T, n, bin)
    if mode == "sum":
        return binned.sum(-1)
    if mode == "mean":
        return binned.mean(-1)
    raise ValueError(f"pool mode {mode!r}; allowed: sum, mean")


def logsumexp_bins(logits: Tensor, bin_size: int) -> Tensor:
    """Pool per-base logits into per-bin logits whose softmax is the binned softmax.

    ``softmax(logsumexp_bins(z, b))[j] == sum(softmax(z)[j*b : (j+1)*b])``.

    Parameters
    ----------
    logits : Tensor, shape (B, T, L)
    bin_size : int

    Returns
    -------
    Tensor, shape (B, T, L // bin_size)
    """
    if bin_size == 1:
        return logits
    n = logits.shape[-1] // bin_size
    binned = logits[..., : n * bin_size].reshape(*logits.shape[:-1], n, bin_size)
    return torch.logsumexp(binned, dim=-1)


def batch_norm(x: Tensor, norm: nn.BatchNorm1d, update_stats: bool) -> Tensor:
    """Apply ``norm``; in training mode with ``update_stats=False`` leave its buffers alone.

    The statistics update goes to copies of the running buffers, so the same operation (and
    the same tensors saved for backward, which checkpoint verifies) runs as in ``norm(x)``.
    """
    if norm.training and not update_stats and norm.track_running_stats:
        return F.batch_norm(
            x,
            norm.running_mean.clone(),
            norm.running_var.clone(),
            norm.weight,
            norm.bias,
            True,
            0.1 if norm.momentum is None else norm.momentum,
            norm.eps,
        )
    return norm(x)


def checkpointed(fn: Callable[..., Any], x: Tensor) -> Any:
    """``fn(x, update_stats=True)`` with its activations recomputed in the backward pass.

    ``fn`` must accept ``update_stats``; it is False on the recomputation so that BatchNorm
    running statistics are updated once, as without checkpointing (see the module docstring).

    Parameters
    ----------
    fn : callable ``(x, update_stats: bool) -> output``
    x : Tensor
        The only tensor kept for the backward pass.
    """
    calls = 0

    def run(inp: Tensor) -> Any:
        nonlocal calls
        calls += 1  # 1: the forward pass; 2: the recomputation during backward
        return fn(inp, update_stats=calls == 1)

    return _checkpoint(run, x, use_reentrant=False)


class _Residual(nn.Module):
    """x + branch(x), with optional activation checkpointing of the branch."""

    def __init__(self, checkpoint: bool = False) -> None:
        super().__init__()
        self.checkpoint = checkpoint

    def branch(self, x: Tensor, update_stats: bool = True) -> Tensor:
        raise NotImplementedError

    def forward(self, x: Tensor) -> Tensor:
        """Residual block output.

        Parameters
        ----------
        x : Tensor, shape (B, C, L)

        Returns
        -------
        Tensor, shape (B, C, L)
        """
        if not (self.checkpoint and torch.is_grad_enabled()):
            return x + self.branch(x)
        return x + checkpointed(self.branch, x)


def dilated_conv(c_in: int, c_out: int, kernel: int, dilation: int) -> nn.Conv1d:
    """A length-preserving dilated Conv1d (odd ``kernel``, ``dilation`` >= 1)."""
    if kernel % 2 == 0 or dilation < 1:
        raise ValueError(f"kernel must be odd and dilation >= 1, got {kernel}, {dilation}")
    return nn.Conv1d(c_in, c_out, kernel, dilation=dilation, padding=dilation * (kernel - 1) // 2)


def spread_init(conv: nn.Conv1d, n: int) -> None:
    """Start the first ``n`` output channels of ``conv`` as spreaders of their own input.

    Output channel ``j < n`` reads only input channel ``j``, with weight ``1/k`` on each of its
    ``k`` taps (a box over the dilated taps). Stacked in residual blocks of growing dilation,
    these channels carry a feature found at one base to every base within the receptive field
    from the first step, so a promoter's output can learn to use an enhancer kilobases away
    through a short gradient path instead of one that must first be built layer by layer.
    """
    with torch.no_grad():
        conv.weight[:n] = 0.0
        idx = torch.arange(n)
        conv.weight[idx, idx, :] = 1.0 / conv.kernel_size[0]


class DilatedResidualBlock(_Residual):
    """BN → GELU → Conv1d(C → C_mid, k, dilation d) → BN → GELU → Conv1d(C_mid → C, 1) → dropout.

    The block returns its input plus that branch. The last BatchNorm's scale starts at
    ``init_scale`` and the last convolution's bias at 0, so the block starts near the identity
    (exactly the identity for ``init_scale=0``).

    Parameters
    ----------
    channels : int
        C, the tower width.
    mid_channels : int
        C_mid, the width inside the block.
    kernel : int
        Odd kernel size k of the dilated convolution.
    dilation : int
        d >= 1; the convolution reads offsets -d*(k-1)/2, ..., 0, ..., d*(k-1)/2.
    dropout : float
    init_scale : float
        Initial scale of the last BatchNorm.
    checkpoint : bool
        Recompute the branch in the backward pass instead of storing its activations.
    activation : {"gelu", "relu"}
    """

    def __init__(
        self,
        channels: int,
        mid_channels: int,
        kernel: int = 3,
        dilation: int = 1,
        dropout: float = 0.0,
        init_scale: float = 0.1,
        checkpoint: bool = False,
        activation: str = "gelu",
    ) -> None:
        super().__init__(checkpoint)
        self.dilation = dilation
        self.act = ACTIVATIONS[activation]()
        self.norm1 = nn.BatchNorm1d(channels)
        self.conv = dilated_conv(channels, mid_channels, kernel, dilation)
        self.norm2 = nn.BatchNorm1d(mid_channels)
        self.proj = nn.Conv1d(mid_channels, channels, 1)
        self.dropout = nn.Dropout(dropout)
        nn.init.constant_(self.norm2.weight, init_scale)
        nn.init.zeros_(self.proj.bias)  # with init_scale 0 the block is exactly the identity

    def branch(self, x: Tensor, update_stats: bool = True) -> Tensor:
        """The residual branch; shape (B, C, L) to (B, C, L)."""
        h = self.conv(self.act(batch_norm(x, self.norm1, update_stats)))  # (B, C_mid, L)
        h = self.proj(self.act(batch_norm(h, self.norm2, update_stats)))  # (B, C, L)
        return self.dropout(h) if self.dropout.p > 0 else h


class PlainDilatedBlock(_Residual):
    """BN → activation → Conv1d(C → C, k, dilation d) → dropout, added to the input.

    One normalisation and one convolution per block: on CPUs the bottleneck's second
    convolution and BatchNorm cost about as much as the dilated convolution itself (oneDNN's
    backward pass of a 64 → 32 channel convolution is hardly cheaper than 64 → 64), so this
    block trains faster per step at equal width and depth (docs/benchmarks.md). The
    convolution's weights start scaled by ``init_scale`` and its bias at 0, so the block
    starts near the identity (exactly the identity for ``init_scale=0``).

    Parameters
    ----------
    channels : int
        C, the tower width.
    kernel : int
        Odd kernel size k.
    dilation : int
        d >= 1.
    dropout : float
    init_scale : float
        Factor on the convolution's initial weights.
    checkpoint : bool
        Recompute the branch in the backward pass instead of storing its activations.
    activation : {"gelu", "relu"}
    """

    def __init__(
        self,
        channels: int,
        kernel: int = 3,
        dilation: int = 1,
        dropout: float = 0.0,
        init_scale: float = 0.1,
        checkpoint: bool = False,
        activation: str = "gelu",
    ) -> None:
        super().__init__(checkpoint)
        self.dilation = dilation
        self.act = ACTIVATIONS[activation]()
        self.norm1 = nn.BatchNorm1d(channels)
        self.conv = dilated_conv(channels, channels, kernel, dilation)
        self.dropout = nn.Dropout(dropout)
        with torch.no_grad():
            self.conv.weight.mul_(init_scale)
        nn.init.zeros_(self.conv.bias)

    def branch(self, x: Tensor, update_stats: bool = True) -> Tensor:
        """The residual branch; shape (B, C, L) to (B, C, L)."""
        h = self.conv(self.act(batch_norm(x, self.norm1, update_stats)))  # (B, C, L)
        return self.dropout(h) if self.dropout.p > 0 else h


class ASPP(_Residual):
    """Atrous spatial pyramid pooling block (DeepLab) closing the tower, as a residual block.

    BN → GELU, then parallel Conv1d(C → C_mid, k, dilation r) for each rate r, merged by sum
    (C_mid channels) or concatenation (C_mid * n_rates), then BN → GELU → Conv1d(→ C, 1) →
    dropout, added to the input. Offsets read: the union over branches of their taps.

    Parameters
    ----------
    channels, mid_channels, kernel : int
    rates : sequence of int
        Dilation of each branch.
    merge : {"sum", "concat"}
    dropout, init_scale : float
    checkpoint : bool
    activation : {"gelu", "relu"}
    """

    def __init__(
        self,
        channels: int,
        mid_channels: int,
        kernel: int,
        rates: Sequence[int],
        merge: Literal["sum", "concat"] = "sum",
        dropout: float = 0.0,
        init_scale: float = 0.1,
        checkpoint: bool = False,
        activation: str = "gelu",
    ) -> None:
        super().__init__(checkpoint)
        self.act = ACTIVATIONS[activation]()
        if merge not in ("sum", "concat"):
            raise ValueError(f"merge {merge!r}; allowed: sum, concat")
        self.rates = tuple(rates)
        self.merge = merge
        self.norm_in = nn.BatchNorm1d(channels)
        self.branches = nn.ModuleList(
            nn.Conv1d(channels, mid_channels, kernel, dilation=r, padding=r * (kernel - 1) // 2)
            for r in self.rates
        )
        merged = mid_channels if merge == "sum" else mid_channels * len(self.rates)
        self.norm_out = nn.BatchNorm1d(merged)
        self.proj = nn.Conv1d(merged, channels, 1)
        self.dropout = nn.Dropout(dropout)
        nn.init.constant_(self.norm_out.weight, init_scale)
        nn.init.zeros_(self.proj.bias)

    def branch(self, x: Tensor, update_stats: bool = True) -> Tensor:
        """The ASPP branches merged and projected; shape (B, C, L) to (B, C, L)."""
        h = self.act(batch_norm(x, self.norm_in, update_stats))
        outs = [conv(h) for conv in self.branches]  # each (B, C_mid, L)
        m = torch.stack(outs).sum(0) if self.merge == "sum" else torch.cat(outs, dim=1)
        return self.dropout(self.proj(self.act(batch_norm(m, self.norm_out, update_stats))))
