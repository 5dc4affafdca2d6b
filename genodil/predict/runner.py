"""The model runner: the one place that batches, moves devices, casts precision.

It is also the one place that averages reverse complements.

Model contract: ``model(seq)`` with ``seq`` of shape (B, 4, L) float returns a dict whose key
``"signal"`` holds (B, T, L_out), where ``L_out = (L - 2 * model.crop) // model.bin_size`` and
output bin ``k`` covers input positions ``[crop + k * bin_size, crop + (k + 1) * bin_size)``
(a partial bin at the right end is dropped, as ``genodil.models.layers.pool_bins`` does).

:func:`predict` runs a model on one-hot sequences held in memory; :class:`ModelRunner` is the
batch-at-a-time form that tiling (:mod:`genodil.predict.tiles`), variant scoring
(:mod:`genodil.predict.variants`) and evaluation use.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Literal, Self

import numpy as np
import torch
from torch import nn

from genodil.errors import InputError
from genodil.genome.encode import one_hot, one_hot_torch, reverse_complement
from genodil.genome.strands import check_strand_pairs, rc_average
from genodil.models.schedules import TowerGeometry, geometry_of

__all__ = [
    "Device",
    "ModelRunner",
    "Precision",
    "auto_batch_size",
    "predict",
    "prefetched",
    "resolve_device",
]

Device = Literal["auto", "cpu", "cuda"]
Precision = Literal["auto", "32", "bf16"]


#: Bytes of float32 activations kept per output unit and base by a backward pass through the
#: network (convolutions, normalisations, activations, attribution hooks): calibrated on a
#: DeepLIFT/SHAP run of the yeast model (48 channels, 8,192-bp windows: ~240 MB a window).
_BYTES_PER_UNIT_BASE = 48


def auto_batch_size(
    model: nn.Module, window: int, budget_bytes: int = 2 << 30, cap: int = 64
) -> int:
    """Windows per batch whose attribution pass keeps about ``budget_bytes`` of activations.

    Gradient-based attribution (DeepLIFT/SHAP, gradient x input) holds every layer's output
    for the backward pass, so memory grows with the window and the network's width and
    depth: a fixed batch of 64 that suits the demo model needs 15 GB on an 8-kb, 48-channel
    model. The estimate counts the output channels of every convolution.

    Parameters
    ----------
    model : nn.Module
    window : int
        Input length (bp) of each window.
    budget_bytes : int
        Activation memory to aim for (default 2 GiB).
    cap : int
        Largest batch returned.

    Returns
    -------
    int, between 1 and ``cap``.
    """
    units = sum(m.out_channels for m in model.modules() if isinstance(m, nn.Conv1d)) or 1
    per_window = units * window * _BYTES_PER_UNIT_BASE
    return int(max(1, min(cap, budget_bytes // per_window)))


def resolve_device(device: str) -> torch.device:
    """Turn ``"auto" | "cpu" | "cuda" | "cuda:N"`` into a torch device."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cpu":
        return torch.device("cpu")
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            raise InputError(
                f"--device {device} was asked for but CUDA is not available here; "
                "use --device cpu or auto"
            )
        return torch.device(device)
    raise ValueError(f"device must be 'auto', 'cpu' or 'cuda', not {device!r}")


class ModelRunner:
    """Run a model on batches with device, precision and reverse-complement handling.

    The one place that moves models and inputs between devices, casts precision and averages
    reverse complements; :func:`predict`, tiling, variant scoring and evaluation all use it.
    Use as a context manager: on entry the model is put in eval mode on ``device``; on exit
    every submodule's training flag and the model's device are restored.

    Parameters
    ----------
    model : nn.Module
        ``forward(seq (B, 4, L))`` returns a dict whose ``"signal"`` is (B, T, L_out), or
        that tensor itself. When the model has ``crop``/``bin_size`` attributes the output
        length is checked against ``L_out = (L - 2 * crop) // bin_size``.
    device : {"auto", "cpu", "cuda"} or "cuda:N"
    precision : {"auto", "32", "bf16"}
        ``auto`` is bf16 autocast on CUDA and float32 on CPU.
    rc_average : bool
        Average the prediction of each window with the flipped prediction of its reverse
        complement (tracks permuted by ``strand_pairs``).
    strand_pairs : list of int or None
        Track ``t`` becomes track ``strand_pairs[t]`` under reverse complement; None takes
        ``model.strand_pairs`` when the model has it, else every track maps to itself.
    n_tracks : int or None
        Expected T, checked against the first output; None accepts any.
    """

    def __init__(
        self,
        model: nn.Module,
        device: str = "auto",
        precision: str = "auto",
        rc_average: bool = False,
        strand_pairs: Sequence[int] | None = None,
        n_tracks: int | None = None,
    ) -> None:
        self.model = model
        self.device = resolve_device(device)
        if precision not in ("auto", "32", "bf16"):
            raise ValueError(f"precision must be 'auto', '32' or 'bf16', not {precision!r}")
        use_bf16 = precision == "bf16" or (precision == "auto" and self.device.type == "cuda")
        self.autocast_dtype = torch.bfloat16 if use_bf16 else None
        self.rc_average = bool(rc_average)
        if strand_pairs is None:
            strand_pairs = getattr(model, "strand_pairs", None)
        self.n_tracks = None if n_tracks is None else int(n_tracks)
        self.strand_pairs = (
            None
            if strand_pairs is None
            else check_strand_pairs(strand_pairs, len(strand_pairs), source="strand_pairs")
        )
        self._checked: set[int] = set()

    def __enter__(self) -> Self:
        self._modes = [(m, m.training) for m in self.model.modules()]
        first = next(iter(self.model.parameters()), None)
        if first is None:
            first = next(iter(self.model.buffers()), None)
        self._orig_device = first.device if first is not None else torch.device("cpu")
        self.model.eval().to(self.device)
        return self

    def __exit__(self, *exc) -> None:
        self.model.to(self._orig_device)
        for module, training in self._modes:
            module.training = training

    def outputs(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """The model's raw output dict for one batch, under the chosen precision.

        Parameters
        ----------
        x : Tensor, shape (B, 4, L)
            One-hot input; moved to the runner's device as float32.

        Returns
        -------
        dict of Tensor, as the model returns it (a bare tensor becomes ``{"signal": ...}``)
        """
        x = x.to(self.device, torch.float32)
        ctx = (
            torch.autocast(self.device.type, dtype=self.autocast_dtype)
            if self.autocast_dtype is not None
            else contextlib.nullcontext()
        )
        with ctx:
            out = self.model(x)
        if isinstance(out, torch.Tensor):
            return {"signal": out}
        if not isinstance(out, dict) or "signal" not in out:
            raise TypeError("the model must return a dict with key 'signal' of shape (B, T, L_out)")
        return out

    def _signal(self, x: torch.Tensor) -> torch.Tensor:
        signal = self.outputs(x)["signal"].float()
        length = x.shape[-1]
        if length not in self._checked:
            self._check_output(tuple(x.shape), tuple(signal.shape))
            self._checked.add(length)
        return signal

    def _check_output(self, in_shape: tuple[int, ...], out_shape: tuple[int, ...]) -> None:
        geom = _geometry_if_known(self.model, in_shape[-1])
        n_tracks = self.n_tracks if self.n_tracks is not None else out_shape[1]
        want = (in_shape[0], n_tracks, geom.out_bins if geom else out_shape[-1])
        if len(out_shape) != 3 or out_shape != want:
            detail = f" from crop={geom.crop}, bin_size={geom.bin_size}" if geom else ""
            raise ValueError(
                f"model output 'signal' has shape {out_shape} for input {in_shape}; expected "
                f"{want} (batch, tracks, (window - 2*crop) // bin_size){detail}"
            )
        if self.strand_pairs is not None and len(self.strand_pairs) != n_tracks:
            raise ValueError(
                f"strand_pairs {self.strand_pairs} list {len(self.strand_pairs)} tracks but the "
                f"model predicts {n_tracks}"
            )
        if self.rc_average and geom is not None and (geom.window - 2 * geom.crop) % geom.bin_size:
            raise ValueError(
                f"rc_average needs window - 2 * crop ({geom.window - 2 * geom.crop}) to be a "
                f"multiple of bin_size ({geom.bin_size}), so that reversed bins cover the same "
                "bases"
            )

    def signal(self, x: torch.Tensor) -> torch.Tensor:
        """Predict one batch of one-hot windows, leaving the result on the device.

        Parameters
        ----------
        x : Tensor, shape (B, 4, L)
            One-hot input on any device.

        Returns
        -------
        Tensor, shape (B, T, L_out), float32, on the runner's device; with ``rc_average``
        the mean of the forward prediction and the mapped reverse-complement prediction.
        """
        if not self.rc_average:
            return self._signal(x)
        b = x.shape[0]
        both = self._signal(torch.cat([x, reverse_complement(x)]))  # (2B, T, L_out)
        return rc_average(both[:b], both[b:], self.strand_pairs)

    @torch.inference_mode()
    def predict_codes(self, codes: np.ndarray) -> torch.Tensor:
        """Predict windows given as base codes, leaving the result on the device.

        Parameters
        ----------
        codes : np.ndarray, shape (B, L), uint8 base codes 0..4

        Returns
        -------
        Tensor, shape (B, T, L_out), float32, on the runner's device
        """
        if self.device.type == "cpu":
            # numpy's one-hot is ~1000x faster than torch's on CPU here (0.02 vs 39 ms, 8 x 4 kb)
            x = torch.from_numpy(one_hot(codes))  # (B, 4, L)
        else:  # move 1 byte per base, encode on the device
            x = one_hot_torch(torch.from_numpy(np.ascontiguousarray(codes)).to(self.device))
        return self.signal(x)

    def __call__(self, codes: np.ndarray) -> np.ndarray:
        """Predict windows: codes (B, L) uint8 -> np.ndarray (B, T, L_out) float32."""
        return self.predict_codes(codes).cpu().numpy()


def _geometry_if_known(model: nn.Module, window: int) -> TowerGeometry | None:
    if not any(hasattr(model, name) for name in ("geometry", "crop", "bin_size")):
        return None
    return geometry_of(model).at_window(window)


def predict(
    model: nn.Module,
    seq: torch.Tensor | np.ndarray,
    *,
    batch_size: int = 32,
    device: Device = "auto",
    precision: Precision = "auto",
    rc_average: bool = False,
    strand_pairs: Sequence[int] | None = None,
) -> torch.Tensor:
    """Predict tracks for one-hot sequences held in memory.

    Parameters
    ----------
    model : nn.Module
        ``forward(seq (B, 4, L))`` returns ``{"signal": (B, T, L_out), ...}`` or that tensor
        (any genodil model, or one wrapped by :func:`genodil.models.as_tensor_model`). Its
        device and the training flag of every submodule are restored afterwards.
    seq : Tensor or np.ndarray, shape (N, 4, L)
        One-hot DNA, rows A, C, G, T; N is an all-zero column.
    batch_size : int
        Sequences per forward pass (doubled internally with ``rc_average``).
    device : {"auto", "cpu", "cuda"} or "cuda:N"
    precision : {"auto", "32", "bf16"}
        ``auto`` is bf16 autocast on CUDA and float32 on CPU.
    rc_average : bool
        Average each prediction with the flipped prediction of the reverse complement,
        tracks swapped by ``strand_pairs``.
    strand_pairs : list of int or None
        Default ``model.strand_pairs`` when present, else every track is its own partner.

    Returns
    -------
    Tensor, shape (N, T, L_out), float32, on the CPU
    """
    seq = torch.as_tensor(seq)
    if seq.ndim != 3 or seq.shape[1] != 4:
        raise ValueError(f"seq must be one-hot of shape (N, 4, L), got {tuple(seq.shape)}")
    if isinstance(batch_size, bool) or int(batch_size) < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    batch_size = int(batch_size)
    runner = ModelRunner(model, device, precision, rc_average, strand_pairs)
    parts = []
    with runner, torch.inference_mode():
        for i in range(0, seq.shape[0], batch_size):
            parts.append(runner.signal(seq[i : i + batch_size]).cpu())
    if not parts:
        raise ValueError("seq holds no sequences (N = 0)")
    return torch.cat(parts)  # outside inference mode: an ordinary tensor


def prefetched(items: Iterator, load) -> Iterator[tuple[object, object]]:
    """Yield ``(item, load(item))``, computing the next ``load`` in a thread meanwhile.

    Reading and encoding the next batch then overlaps the model's forward pass (torch releases
    the GIL inside its kernels).
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        item = next(items, None)
        pending = pool.submit(load, item) if item is not None else None
        while item is not None:
            loaded = pending.result()
            nxt = next(items, None)
            pending = pool.submit(load, nxt) if nxt is not None else None
            yield item, loaded
            item = nxt
