"""Dilation schedules of the residual tower, and the tower's geometry without weights.

A schedule is what a config's ``model.dilations`` holds: a plain list of integers, or a dict
naming one of :data:`SCHEDULES`::

    {schedule: exponential, rate: 2, blocks: 14}            # 1, 2, 4, ..., 8192
    {schedule: multiplier, start: 1, factor: 1.5, blocks: 11}  # Basenji: 1, 2, 2, 3, 5, 8, ...
    {schedule: hybrid, cycle: [1, 2, 5], repeats: 3}        # HDC: 1, 2, 5, 1, 2, 5, 1, 2, 5
    {schedule: hybrid, cycle: [1, 2, 5], repeats: 3, scale: 8}  # 1, 2, 5, 8, 16, 40, 64, 128, 320
    {schedule: list, values: [1, 4, 16]}

:class:`TowerGeometry` holds the numbers the data module and the CLI need (receptive field,
crop, output length, the tap offsets of every layer) computed from the same arguments as
:class:`~genodil.models.DilatedResNet`, without building any weights.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from genodil.errors import InputError

__all__ = [
    "DEFAULT_DILATIONS",
    "SCHEDULES",
    "LayerTaps",
    "TowerGeometry",
    "geometry_of",
    "resolve_dilations",
]

DEFAULT_DILATIONS = {"schedule": "exponential", "rate": 2, "blocks": 14}

# schedule name -> (required keys, optional keys with defaults)
SCHEDULES: dict[str, tuple[tuple[str, ...], dict[str, object]]] = {
    "exponential": (("blocks",), {"rate": 2, "start": 1}),
    "multiplier": (("blocks",), {"start": 1, "factor": 1.5}),
    "hybrid": (("cycle", "repeats"), {"scale": 1}),
    "list": (("values",), {}),
}


def _nearest(name: str, allowed: Sequence[str]) -> str:
    close = [a for a in allowed if name and a.startswith(name)]
    close = close or difflib.get_close_matches(name, allowed, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _as_int(value: object, what: str, minimum: int) -> int:
    """An integer >= ``minimum`` (floats equal to an integer are accepted), else InputError."""
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InputError(f"{what} must be an integer >= {minimum}, got {value!r}")
    if float(value) != int(value) or int(value) < minimum:
        raise InputError(f"{what} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _as_number(value: object, what: str, minimum: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise InputError(f"{what} must be a number >= {minimum}, got {value!r}")
    if not float(value) >= minimum:
        raise InputError(f"{what} must be a number >= {minimum}, got {value!r}")
    return float(value)


def _check_values(values: object, what: str) -> list[int]:
    if isinstance(values, str | bytes) or not isinstance(values, Sequence):
        raise InputError(f"{what} must be a list of integer dilations >= 1, got {values!r}")
    if len(values) == 0:
        raise InputError(f"{what} is empty: give at least one dilation (integers >= 1)")
    return [_as_int(v, f"{what}[{i}] (a dilation)", 1) for i, v in enumerate(values)]


def resolve_dilations(spec: Mapping[str, object] | Sequence[int] | None) -> list[int]:
    """Turn a dilation schedule into the list of per-block dilations.

    Parameters
    ----------
    spec : dict, list of int or None
        A plain list of dilations, a dict ``{"schedule": name, ...}`` with ``name`` one of
        ``exponential`` (keys ``blocks``, ``rate`` = 2, ``start`` = 1: d_i = start * rate**i),
        ``multiplier`` (keys ``blocks``, ``start`` = 1, ``factor`` = 1.5: Basenji's rate
        multiplier, d_i = round(start * factor**i) with numpy's round, as Basenji does),
        ``hybrid`` (keys ``cycle``, ``repeats``, ``scale`` = 1: the cycle repeated, repeat j
        multiplied by scale**j), ``list`` (key ``values``), or None for
        :data:`DEFAULT_DILATIONS` (exponential, rate 2, 14 blocks).

    Returns
    -------
    list of int
        One dilation (>= 1) per residual block.

    Raises
    ------
    InputError
        Unknown schedule or key, a missing key, a dilation below 1, an empty tower.
    """
    if spec is None:
        spec = DEFAULT_DILATIONS
    if not isinstance(spec, Mapping):
        return _check_values(spec, "model.dilations")
    name = spec.get("schedule")
    if name not in SCHEDULES:
        allowed = ", ".join(SCHEDULES)
        hint = _nearest(str(name), list(SCHEDULES)) if isinstance(name, str) else ""
        raise InputError(
            f"model.dilations.schedule is {name!r}{hint}; allowed schedules: {allowed} "
            "(or give a plain list of dilations)"
        )
    required, optional = SCHEDULES[name]
    allowed_keys = ["schedule", *required, *optional]
    for key in spec:
        if key not in allowed_keys:
            raise InputError(
                f"model.dilations has unknown key {key!r}{_nearest(str(key), allowed_keys)} "
                f"for schedule {name!r}; allowed keys: {', '.join(allowed_keys)}"
            )
    for key in required:
        if key not in spec:
            raise InputError(
                f"model.dilations (schedule {name!r}) needs key {key!r}; "
                f"keys: {', '.join(allowed_keys)}"
            )
    args = {**optional, **{k: v for k, v in spec.items() if k != "schedule"}}
    where = f"model.dilations ({name})"
    if name == "exponential":
        blocks = _as_int(args["blocks"], f"{where}.blocks", 1)
        rate = _as_int(args["rate"], f"{where}.rate", 1)
        start = _as_int(args["start"], f"{where}.start", 1)
        return [start * rate**i for i in range(blocks)]
    if name == "multiplier":
        blocks = _as_int(args["blocks"], f"{where}.blocks", 1)
        start = _as_number(args["start"], f"{where}.start", 1.0)
        factor = _as_number(args["factor"], f"{where}.factor", 1.0)
        # Basenji keeps the float rate and rounds at use: int(np.round(current_dilation)).
        return [int(np.round(start * factor**i)) for i in range(blocks)]
    if name == "hybrid":
        cycle = _check_values(args["cycle"], f"{where}.cycle")
        repeats = _as_int(args["repeats"], f"{where}.repeats", 1)
        scale = _as_int(args["scale"], f"{where}.scale", 1)
        return [d * scale**j for j in range(repeats) for d in cycle]
    return _check_values(args["values"], f"{where}.values")


@dataclass(frozen=True)
class LayerTaps:
    """One layer of the tower as the receptive-field analysis sees it.

    ``taps`` are the input offsets one output position of this layer reads, relative to it;
    ``residual`` layers also pass their input through unchanged (offset 0 on a skip path).
    """

    name: str
    kind: str  # "stem", "block", "aspp", "pool"
    kernel: int
    dilation: int | tuple[int, ...]
    taps: tuple[int, ...]
    residual: bool


@dataclass(frozen=True)
class TowerGeometry:
    """Receptive field, crop and output length of a DilatedResNet, computed without weights.

    Build it with :meth:`from_config` from the same arguments as ``DilatedResNet`` (extra
    model arguments such as ``channels`` are accepted and ignored), read ``model.geometry``,
    or call :func:`geometry_of` for any model with ``crop`` and ``bin_size``.
    :meth:`at_window` binds it to one input length L, which gives :attr:`out_bins` and
    :attr:`out_span`: output bin ``k`` covers input positions
    ``[crop + k * bin_size, crop + (k + 1) * bin_size)`` and a partial last bin is dropped.
    """

    stem_kernel: int
    kernel: int
    dilations: tuple[int, ...]
    aspp: tuple[int, ...] = ()
    crop: int = 0
    bin_size: int = 1
    rc_equivariant: bool = False
    window: int | None = None  # input length L in bp, once bound by at_window

    @classmethod
    def from_config(
        cls,
        stem_kernel: int = 15,
        kernel: int = 3,
        dilations: Mapping[str, object] | Sequence[int] | None = None,
        crop: int = 0,
        bin_size: int = 1,
        aspp: Sequence[int] | None = None,
        rc_equivariant: bool = False,
        **_ignored: object,
    ) -> TowerGeometry:
        """Validate the geometric model arguments and resolve the dilation schedule.

        Raises
        ------
        InputError
            Even or non-positive kernels, dilations below 1, negative crop, bin size below 1.
        """
        stem_kernel = _as_int(stem_kernel, "model.stem_kernel", 1)
        kernel = _as_int(kernel, "model.kernel", 1)
        for name, k in (("model.stem_kernel", stem_kernel), ("model.kernel", kernel)):
            if k % 2 == 0:
                raise InputError(
                    f"{name} is {k}; it must be odd (1, 3, 5, ...) so that 'same' padding is "
                    "symmetric and output base i stays aligned with input base i"
                )
        dil = tuple(resolve_dilations(dilations))
        rates: tuple[int, ...] = ()
        if aspp is not None:
            if isinstance(aspp, str | bytes) or not isinstance(aspp, Sequence) or not aspp:
                raise InputError(f"model.aspp must be null or a list of rates >= 1, got {aspp!r}")
            rates = tuple(_as_int(r, f"model.aspp[{i}] (a rate)", 1) for i, r in enumerate(aspp))
        crop = _as_int(crop, "model.crop", 0)
        bin_size = _as_int(bin_size, "model.bin_size", 1)
        return cls(stem_kernel, kernel, dil, rates, crop, bin_size, bool(rc_equivariant))

    @property
    def layers(self) -> tuple[LayerTaps, ...]:
        """Stem, blocks, ASPP (if any) and output pooling (if bin_size > 1), in order."""
        half_stem = (self.stem_kernel - 1) // 2
        half_k = (self.kernel - 1) // 2
        layers = [
            LayerTaps(
                "stem", "stem", self.stem_kernel, 1, tuple(range(-half_stem, half_stem + 1)), False
            )
        ]
        for i, d in enumerate(self.dilations):
            taps = tuple(j * d for j in range(-half_k, half_k + 1))
            layers.append(LayerTaps(f"block{i}", "block", self.kernel, d, taps, True))
        if self.aspp:
            taps_set = {j * r for r in self.aspp for j in range(-half_k, half_k + 1)}
            layers.append(
                LayerTaps("aspp", "aspp", self.kernel, self.aspp, tuple(sorted(taps_set)), True)
            )
        if self.bin_size > 1:
            # Offsets relative to the first base of an output bin.
            layers.append(
                LayerTaps("pool", "pool", self.bin_size, 1, tuple(range(self.bin_size)), False)
            )
        return tuple(layers)

    @property
    def receptive_field(self) -> int:
        """Span in bp of the input that one output base depends on (before binning).

        R = 1 + (stem_kernel - 1) + (kernel - 1) * (sum of dilations + max ASPP rate).
        """
        aspp = max(self.aspp) if self.aspp else 0
        return 1 + (self.stem_kernel - 1) + (self.kernel - 1) * (sum(self.dilations) + aspp)

    @property
    def receptive_field_bin(self) -> int:
        """Span in bp of the input that one output bin depends on: R + bin_size - 1."""
        return self.receptive_field + self.bin_size - 1

    def output_length(self, seq_len: int) -> int:
        """Number of output positions (bins) for an input of ``seq_len`` bp.

        ``(seq_len - 2 * crop) // bin_size``; may be <= 0 for a too short input, which
        :meth:`check_input_length` reports.
        """
        return (int(seq_len) - 2 * self.crop) // self.bin_size

    def check_input_length(self, seq_len: int) -> None:
        """Raise InputError unless an input of ``seq_len`` bp gives at least one output bin.

        In reverse-complement equivariant mode ``seq_len - 2 * crop`` must also be a multiple
        of ``bin_size`` so that the bins of the reverse strand line up with the forward ones.
        """
        seq_len = int(seq_len)
        if self.output_length(seq_len) <= 0:
            raise InputError(
                f"model.crop = {self.crop} bp on each side leaves {seq_len - 2 * self.crop} bp "
                f"of a {seq_len}-bp input window, fewer than one output bin of "
                f"{self.bin_size} bp: make crop smaller than {(seq_len - self.bin_size) // 2 + 1}"
                " or the window longer"
            )
        if self.rc_equivariant and (seq_len - 2 * self.crop) % self.bin_size:
            raise InputError(
                f"with model.rc_equivariant the cropped length {seq_len - 2 * self.crop} bp "
                f"(window {seq_len} - 2 * crop {self.crop}) must be a multiple of "
                f"bin_size {self.bin_size}: change the window or the crop"
            )

    def at_window(self, window: int) -> TowerGeometry:
        """Bind the geometry to input length ``window``, checked to give an output.

        Raises
        ------
        InputError
            When ``window`` leaves no whole output bin after cropping (see
            :meth:`check_input_length`).
        """
        window = int(window)
        self.check_input_length(window)
        return dataclasses.replace(self, window=window)

    @property
    def out_bins(self) -> int:
        """L_out, output bins of one window (needs :meth:`at_window`)."""
        if self.window is None:
            raise ValueError("this geometry has no window: call at_window(L) first")
        return self.output_length(self.window)

    @property
    def out_span(self) -> int:
        """Bases covered by one window's output, ``out_bins * bin_size``."""
        return self.out_bins * self.bin_size


def geometry_of(model: object) -> TowerGeometry:
    """The geometry of any model that follows the genodil model contract.

    Parameters
    ----------
    model : nn.Module
        A :class:`~genodil.models.DilatedResNet` (its ``geometry``), or any model with
        ``crop`` and ``bin_size`` attributes (both optional: 0 and 1). For the latter the
        tower is unknown: only crop, bin size and the output layout are meaningful.

    Returns
    -------
    TowerGeometry
    """
    geometry = getattr(model, "geometry", None)
    if isinstance(geometry, TowerGeometry):
        return geometry
    crop = int(getattr(model, "crop", 0))
    bin_size = int(getattr(model, "bin_size", 1))
    if bin_size < 1 or crop < 0:
        raise ValueError(f"model has crop={crop}, bin_size={bin_size}; need crop >= 0, bin >= 1")
    return TowerGeometry(stem_kernel=1, kernel=1, dilations=(), crop=crop, bin_size=bin_size)
