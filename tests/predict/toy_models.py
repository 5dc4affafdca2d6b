"""Hand-built models with known outputs, and slow reference implementations of them.

All follow the model contract: ``forward(seq (B, 4, L)) -> {"signal": (B, T, L_out)}`` with
``.crop`` and ``.bin_size``; ``L_out = (L - 2 * crop) // bin_size``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from genodil.genome.encode import encode


class KernelModel(nn.Module):
    """A centred Conv1d(4 -> T, K) with given integer weights, then optional sum pooling.

    Output base ``i`` (input position ``crop + i``) is
    ``sum_tap w[t, :, tap] . onehot(x[crop + i - h + tap])`` with ``h = (K - 1) // 2``.
    Integer weights make every float32 sum exact, so equalities hold bit for bit.
    """

    def __init__(self, weight: np.ndarray, crop: int, bin_size: int = 1, strand_pairs=None) -> None:
        super().__init__()
        weight = np.asarray(weight, dtype=np.float32)  # (T, 4, K)
        self.k = weight.shape[-1]
        self.h = (self.k - 1) // 2
        if crop < max(self.h, self.k - 1 - self.h):
            raise ValueError("crop must cover the kernel")
        self.conv = nn.Conv1d(4, weight.shape[0], self.k, bias=False)
        with torch.no_grad():
            self.conv.weight.copy_(torch.from_numpy(weight))
        self.crop = crop
        self.bin_size = bin_size
        self.strand_pairs = strand_pairs
        self.calls = 0

    def forward(self, seq: torch.Tensor) -> dict[str, torch.Tensor]:
        self.calls += 1
        y = self.conv(seq)  # (B, T, L - K + 1); y[j] sees x[j : j + K]
        n = seq.shape[-1] - 2 * self.crop
        first = self.crop - self.h
        y = y[..., first : first + n]  # (B, T, L - 2 crop)
        if self.bin_size > 1:
            nb = n // self.bin_size
            y = y[..., : nb * self.bin_size].reshape(*y.shape[:2], nb, self.bin_size).sum(-1)
        return {"signal": y}


def motif_weight(motif: str, strands: bool = False) -> np.ndarray:
    """Weights that give +1 per matching base; with ``strands`` a second track for the RC.

    Use with :class:`MotifCounter`, which turns a full match into 1 and anything else into 0.
    """
    codes = encode(motif)
    w = np.zeros((2 if strands else 1, 4, len(motif)), dtype=np.float32)
    w[0, codes, np.arange(len(motif))] = 1
    if strands:
        rc = encode(motif[::-1].translate(str.maketrans("ACGT", "TGCA")))
        w[1, rc, np.arange(len(motif))] = 1
    return w


class MotifCounter(KernelModel):
    """1 at the base where a full motif match starts (forward track; RC track with strands).

    Output base ``i`` is 1 when ``x[crop + i : crop + i + K]`` equals the motif.
    """

    def __init__(self, motif: str, crop: int, bin_size: int = 1, strands: bool = False):
        w = motif_weight(motif, strands)
        super().__init__(w, crop, bin_size, strand_pairs=[1, 0] if strands else None)
        self.h = 0  # the match starts at the output base
        self.need = float(len(motif))

    def forward(self, seq: torch.Tensor) -> dict[str, torch.Tensor]:
        y = self.conv(seq)  # (B, T, L - K + 1)
        n = seq.shape[-1] - 2 * self.crop
        y = (y[..., self.crop : self.crop + n] == self.need).float()  # (B, T, L - 2 crop)
        if self.bin_size > 1:
            nb = n // self.bin_size
            y = y[..., : nb * self.bin_size].reshape(*y.shape[:2], nb, self.bin_size).sum(-1)
        return {"signal": y}


class SmoothNet(nn.Module):
    """A small float network with random weights (two dilated convs), for equality tests."""

    def __init__(self, n_tracks: int = 2, seed: int = 0, crop: int = 8) -> None:
        super().__init__()
        torch.manual_seed(seed)
        self.c1 = nn.Conv1d(4, 6, 5, padding=2)
        self.c2 = nn.Conv1d(6, n_tracks, 3, dilation=3, padding=3)
        self.crop = crop
        self.bin_size = 1

    def forward(self, seq: torch.Tensor) -> dict[str, torch.Tensor]:
        y = nn.functional.softplus(self.c2(torch.relu(self.c1(seq))))
        return {"signal": y[..., self.crop : seq.shape[-1] - self.crop]}


class FailingModel(KernelModel):
    """A KernelModel that raises on its ``fail_at``-th forward call."""

    def __init__(self, weight: np.ndarray, crop: int, fail_at: int) -> None:
        super().__init__(weight, crop)
        self.fail_at = fail_at

    def forward(self, seq: torch.Tensor) -> dict[str, torch.Tensor]:
        if self.calls + 1 >= self.fail_at:
            raise RuntimeError("simulated failure mid-way")
        return super().forward(seq)


def reference_track(seq: str, weight: np.ndarray) -> np.ndarray:
    """Slow loop: per-base output of a centred kernel over ``seq`` (N/outside = zeros).

    Returns
    -------
    np.ndarray, shape (T, len(seq)), float64
    """
    weight = np.asarray(weight, dtype=np.float64)
    n_tracks, _, k = weight.shape
    h = (k - 1) // 2
    out = np.zeros((n_tracks, len(seq)))
    for p in range(len(seq)):
        for tap in range(k):
            q = p - h + tap
            if 0 <= q < len(seq) and seq[q] in "ACGT":
                out[:, p] += weight[:, "ACGT".index(seq[q]), tap]
    return out


def motif_starts(seq: str, motif: str) -> np.ndarray:
    """Slow loop: 1.0 where ``motif`` starts in ``seq``."""
    out = np.zeros(len(seq))
    for p in range(len(seq) - len(motif) + 1):
        if seq[p : p + len(motif)] == motif:
            out[p] = 1.0
    return out


def integer_weight(n_tracks: int, k: int, seed: int = 0) -> np.ndarray:
    """Random small integer weights (T, 4, K)."""
    rng = np.random.default_rng(seed)
    return rng.integers(-3, 4, size=(n_tracks, 4, k)).astype(np.float32)


class FarTapModel(KernelModel):
    """Output base ``i`` reads only the bases ``reach`` bp left and right of it.

    ``signal[i] = left[x[i - reach]] + right[x[i + reach]]`` (per base A, C, G, T; N gives 0),
    so a change at ``p`` alters only outputs ``p - reach`` and ``p + reach``. It declares its
    ``receptive_field`` (``2 * reach + 1``) as DilatedResNet does.
    """

    def __init__(self, left, right, reach: int, crop: int | None = None) -> None:
        weight = np.zeros((1, 4, 2 * reach + 1), dtype=np.float32)
        weight[0, :, 0] = left
        weight[0, :, -1] = right
        super().__init__(weight, crop=reach if crop is None else crop)
        self.receptive_field = 2 * reach + 1
