"""Receptive field and gridding analysis of a DilatedResNet, analytic and empirical.

An output base (or the first base of an output bin) depends on a set of input offsets. The
analytic set composes the layers: the stem reads offsets -(s-1)/2 .. (s-1)/2, a residual block
with kernel k and dilation d maps a set S to S ∪ (S ⊕ {j·d : |j| <= (k-1)/2}) (the union with
the identity path; ⊕ is the Minkowski sum), an ASPP block adds the union of its branches' taps,
pooling to bins adds {0, ..., bin_size-1}, and reverse-complement averaging adds the mirror
image. Offsets inside the span [min, max] that are not in the set are blind: the output's
gradient with respect to them is exactly zero ("gridding"; docs/architecture.md §3).

The empirical set is the support of the gradient of one output bin with respect to the one-hot
input of a float64 twin of the model (same geometry, 2 channels) whose weights, biases and
BatchNorm parameters are all positive: every pre-activation is then positive, GELU, softplus
and the BN affine maps have positive derivatives, and every path from a reached offset
contributes a positive term, so no cancellation can hide an offset.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from genodil.models.dilated_resnet import DilatedResNet
from genodil.models.schedules import TowerGeometry

__all__ = [
    "analytic_reach",
    "blind_fraction",
    "blind_runs",
    "empirical_reach",
    "gridding_layers",
    "layer_growth",
    "receptive_field_analysis",
    "sensitivity_profile",
    "single_layer_blind_fraction",
    "tower_geometry",
]

ModelLike = DilatedResNet | TowerGeometry | Mapping[str, Any]


def tower_geometry(model: ModelLike) -> TowerGeometry:
    """The :class:`TowerGeometry` of a model, a geometry or a config's ``model`` arguments."""
    if isinstance(model, DilatedResNet):
        return model.geometry
    if isinstance(model, TowerGeometry):
        return model
    return TowerGeometry.from_config(**model)


def _config(model: ModelLike) -> dict[str, Any]:
    if isinstance(model, DilatedResNet):
        return copy.deepcopy(model.config)
    if isinstance(model, TowerGeometry):
        return {
            "stem_kernel": model.stem_kernel,
            "kernel": model.kernel,
            "dilations": list(model.dilations),
            "aspp": list(model.aspp) or None,
            "crop": model.crop,
            "bin_size": model.bin_size,
            "rc_equivariant": model.rc_equivariant,
        }
    return copy.deepcopy(dict(model))


class _Reach:
    """A set of integer offsets stored as a boolean mask over [lo, lo + len(mask))."""

    def __init__(self, mask: np.ndarray, lo: int) -> None:
        self.mask = mask
        self.lo = lo

    @classmethod
    def origin(cls) -> _Reach:
        return cls(np.ones(1, dtype=bool), 0)

    def offsets(self) -> np.ndarray:
        return np.flatnonzero(self.mask) + self.lo

    def apply(self, taps: Sequence[int], residual: bool) -> _Reach:
        """S ⊕ taps, united with S itself when the layer has an identity path."""
        shifts = sorted(set(taps) | ({0} if residual else set()))
        lo_t, hi_t = shifts[0], shifts[-1]
        n = len(self.mask)
        out = np.zeros(n + hi_t - lo_t, dtype=bool)
        for t in shifts:
            out[t - lo_t : t - lo_t + n] |= self.mask
        return _Reach(out, self.lo + lo_t)

    def mirror(self, bin_size: int) -> _Reach:
        """S ∪ (bin_size - 1 - S): the offsets seen through reverse-complement averaging."""
        offs = self.offsets()
        both = np.union1d(offs, bin_size - 1 - offs)
        lo = int(both[0])
        mask = np.zeros(int(both[-1]) - lo + 1, dtype=bool)
        mask[both - lo] = True
        return _Reach(mask, lo)

    def span_stats(self) -> tuple[int, int, int, int]:
        """(min offset, max offset, n reached, n blind inside [min, max])."""
        idx = np.flatnonzero(self.mask)
        lo, hi = int(idx[0]), int(idx[-1])
        n = len(idx)
        return lo + self.lo, hi + self.lo, n, (hi - lo + 1) - n


def _walk(geo: TowerGeometry) -> list[tuple[Any, _Reach]]:
    reach = _Reach.origin()
    steps = []
    for layer in geo.layers:
        reach = reach.apply(layer.taps, layer.residual)
        steps.append((layer, reach))
    return steps


def _final_reach(geo: TowerGeometry) -> _Reach:
    steps = _walk(geo)
    reach = steps[-1][1]
    return reach.mirror(geo.bin_size) if geo.rc_equivariant else reach


def analytic_reach(model: ModelLike) -> np.ndarray:
    """Input offsets one output position can depend on, from the architecture alone.

    Parameters
    ----------
    model : DilatedResNet, TowerGeometry or dict of model arguments (a config's ``model``)

    Returns
    -------
    np.ndarray of int64, sorted
        Offsets relative to the output base (for bin_size > 1: to the bin's first base).
    """
    return _final_reach(tower_geometry(model)).offsets()


def blind_fraction(offsets: np.ndarray) -> float:
    """Fraction of the span [min, max] of ``offsets`` that is not in ``offsets``."""
    offsets = np.unique(np.asarray(offsets))
    span = int(offsets[-1] - offsets[0] + 1)
    return (span - len(offsets)) / span


def single_layer_blind_fraction(kernel: int, dilation: int) -> float:
    """Closed form for one dilated layer: (k − 1)(d − 1) / (d(k − 1) + 1)."""
    return (kernel - 1) * (dilation - 1) / (dilation * (kernel - 1) + 1)


def blind_runs(offsets: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs [first, last] of missing offsets inside the span of ``offsets``."""
    offsets = np.unique(np.asarray(offsets))
    gaps = np.flatnonzero(np.diff(offsets) > 1)
    return [(int(offsets[i] + 1), int(offsets[i + 1] - 1)) for i in gaps]


def layer_growth(model: ModelLike) -> list[dict[str, Any]]:
    """How the reach grows layer by layer.

    Returns
    -------
    list of dict
        One row per layer (stem, blocks, ASPP, pooling, then "rc" for reverse-complement
        averaging): name, kind, kernel, dilation, span_bp, min/max offset, n_reached,
        n_blind and blind_fraction of the reach after that layer.
    """
    geo = tower_geometry(model)
    rows = []
    steps = _walk(geo)
    if geo.rc_equivariant:
        steps.append((None, steps[-1][1].mirror(geo.bin_size)))
    for i, (layer, reach) in enumerate(steps):
        lo, hi, n, blind = reach.span_stats()
        dil = layer.dilation if layer is not None else 1
        rows.append(
            {
                "index": i,
                "name": layer.name if layer is not None else "rc",
                "kind": layer.kind if layer is not None else "rc",
                "kernel": layer.kernel if layer is not None else 1,
                "dilation": list(dil) if isinstance(dil, tuple) else dil,
                "span_bp": hi - lo + 1,
                "min_offset": lo,
                "max_offset": hi,
                "n_reached": n,
                "n_blind": blind,
                "blind_fraction": blind / (hi - lo + 1),
            }
        )
    return rows


def gridding_layers(model: ModelLike) -> list[dict[str, Any]]:
    """Layers whose tap spacing exceeds the contiguous reach built by the finer layers.

    The reach is a Minkowski sum, so layer order does not matter: layers are taken by
    increasing largest gap between their taps; a layer is reported when that gap is wider
    than the contiguous run of offsets around 0 reached by all layers before it, i.e. when it
    leaves holes between the copies of that run.

    Returns
    -------
    list of dict
        name, index (in the tower: 0 = stem, block i = i + 1), kind, dilation, tap_gap (bp),
        contiguous_bp (the run it had to cover), in tower order.
    """
    geo = tower_geometry(model)
    layers = [layer for layer in geo.layers if layer.kind != "pool"]

    def gap(layer: Any) -> int:
        return max(np.diff(layer.taps).max(initial=1), 1)

    order = sorted(range(len(layers)), key=lambda i: (gap(layers[i]), i))
    reach = _Reach.origin()
    found = []
    for i in order:
        layer = layers[i]
        offs = reach.offsets()
        # contiguous run of reached offsets around 0
        zero = int(np.searchsorted(offs, 0))
        lo = hi = zero
        while lo > 0 and offs[lo - 1] == offs[lo] - 1:
            lo -= 1
        while hi + 1 < len(offs) and offs[hi + 1] == offs[hi] + 1:
            hi += 1
        width = int(offs[hi] - offs[lo] + 1)
        if gap(layer) > width:
            dil = layer.dilation
            found.append(
                {
                    "name": layer.name,
                    "index": i,
                    "kind": layer.kind,
                    "dilation": list(dil) if isinstance(dil, tuple) else dil,
                    "tap_gap": int(gap(layer)),
                    "contiguous_bp": width,
                }
            )
        reach = reach.apply(layer.taps, layer.residual)
    return sorted(found, key=lambda r: r["index"])


# -- empirical ------------------------------------------------------------------------------


def _probe_input(model: DilatedResNet, margin: int, seed: int) -> tuple[torch.Tensor, int, int]:
    """A one-hot input, the output bin to probe and its first base (input coordinates)."""
    b, crop = model.bin_size, model.crop
    n_bins = -(-(2 * margin + 3 * b) // b)
    seq_len = 2 * crop + n_bins * b
    gen = torch.Generator().manual_seed(seed)
    codes = torch.randint(0, 4, (seq_len,), generator=gen)
    seq = torch.nn.functional.one_hot(codes, 4).T.unsqueeze(0).to(torch.float64)  # (1, 4, L)
    j = n_bins // 2
    return seq, j, crop + j * b


def _input_gradient(model: DilatedResNet, key: str, margin: int, seed: int) -> tuple:
    seq, j, first = _probe_input(model, margin, seed)
    seq.requires_grad_(True)
    out = model(seq)[key]  # (1, T, n_bins)
    out[0, :, j].sum().backward()
    sens = seq.grad[0].abs().sum(0).numpy()  # (L,)
    return sens, first


def _positive_twin(model: ModelLike, seed: int) -> DilatedResNet:
    cfg = _config(model)
    cfg.update(
        channels=2,
        mid_channels=2,
        dropout=0.0,
        head="identity",
        crop=0,
        checkpoint_blocks=False,
    )
    twin = DilatedResNet(**cfg).to(torch.float64).eval()
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in twin.modules():
            if isinstance(module, torch.nn.BatchNorm1d):
                module.running_mean.zero_()
                module.running_var.fill_(1.0)
        for p in twin.parameters():
            p.copy_(0.1 + torch.rand(p.shape, generator=gen, dtype=p.dtype))
    return twin


def empirical_reach(model: ModelLike, seed: int = 0) -> np.ndarray:
    """Offsets where the gradient of one output bin with respect to the input is non-zero.

    Computed on a float64 twin with the same geometry, 2 channels and positive parameters
    (see the module docstring), on an input with a margin of a whole receptive field beyond
    the analytic reach on each side, so offsets the analysis missed would show.

    Parameters
    ----------
    model : DilatedResNet, TowerGeometry or dict of model arguments
    seed : int
        Seed of the positive weights and the random input sequence.

    Returns
    -------
    np.ndarray of int64, sorted; offsets as in :func:`analytic_reach`.
    """
    twin = _positive_twin(model, seed)
    sens, first = _input_gradient(twin, "signal", twin.geometry.receptive_field_bin, seed)
    return np.flatnonzero(sens > 0) - first


def sensitivity_profile(model: ModelLike, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """|d output / d input| of one central output bin, summed over tracks and bases.

    A DilatedResNet is used with its own weights (a float64 copy in eval mode, blocks
    checkpointed to bound memory); a config or geometry gets a freshly initialised model
    (``torch.manual_seed(seed)``).

    Returns
    -------
    offsets : np.ndarray of int64, shape (N,)
        Every offset within the receptive field (relative to the bin's first base).
    sensitivity : np.ndarray of float64, shape (N,)
    """
    if isinstance(model, DilatedResNet):
        net = copy.deepcopy(model)
    else:
        cfg = _config(model)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            net = DilatedResNet(**cfg)
    net = net.to(torch.float64).eval()
    net.checkpoint_blocks = True  # bounds memory for long receptive fields
    key = "profile_logits" if net.head_kind == "profile_count" else "signal"
    geo = net.geometry
    half = (geo.receptive_field - 1) // 2
    sens, first = _input_gradient(net, key, half + geo.bin_size, seed)
    offsets = np.arange(-half, half + geo.bin_size, dtype=np.int64)
    return offsets, sens[first + offsets]


# -- report ---------------------------------------------------------------------------------


def _hybrid_suggestion(geo: TowerGeometry) -> dict[str, Any] | None:
    """A gap-free schedule reaching at least as far, or None.

    For k = 3: the HDC cycle 1, 2, 5 scaled by 8 per repeat (1, 2, 5, 8, 16, 40, 64, ...),
    cut when the sum of dilations reaches the target, the last one shortened to match it;
    every such prefix is gap-free (checked below). For other kernels: exponential with rate k.
    """
    target = sum(geo.dilations) + (max(geo.aspp) if geo.aspp else 0)
    if geo.kernel == 3:
        values: list[int] = []
        for i in range(60):
            # the last block only needs to make up the difference; any dilation up to the
            # contiguous width already reached keeps the reach gap-free
            values.append(min((1, 2, 5)[i % 3] * 8 ** (i // 3), target - sum(values)))
            if sum(values) >= target:
                break
        spec: dict[str, Any] = {"schedule": "list", "values": values}
    else:
        blocks = 1
        while sum(geo.kernel**i for i in range(blocks)) < target and blocks < 30:
            blocks += 1
        spec = {"schedule": "exponential", "rate": geo.kernel, "blocks": blocks}
    probe = TowerGeometry.from_config(
        stem_kernel=geo.stem_kernel, kernel=geo.kernel, dilations=spec
    )
    if blind_fraction(analytic_reach(probe)) > 0:
        return None
    return {
        "dilations": spec,
        "blocks": len(probe.dilations),
        "receptive_field_bp": probe.receptive_field,
    }


def receptive_field_analysis(
    model: ModelLike, empirical: bool = False, seed: int = 0
) -> dict[str, Any]:
    """The receptive field and gridding figures of ``model``, as a JSON-able dict.

    :func:`genodil.report.receptive.receptive_field_report` adds the warning text and the plot.

    Parameters
    ----------
    model : DilatedResNet, TowerGeometry or dict of model arguments (a config's ``model``)
    empirical : bool
        Also compute the gradient reach of a positive float64 twin and compare it with the
        analytic set (``empirical_match``).
    seed : int

    Returns
    -------
    dict
        receptive_field_bp (per output base), receptive_field_bin_bp (per output bin), crop,
        bin_size, kernel, stem_kernel, dilations, aspp, reach (min/max offset, n_reached,
        n_span, n_blind, blind_runs: up to 20 runs nearest 0, n_blind_runs), blind_fraction,
        blind_layers, layers (per-layer growth table), suggestion (a gap-free schedule, when
        gridded) and, when asked, empirical_match, empirical (n_reached, missing: analytic
        offsets without gradient, extra: gradient offsets outside the analytic set, up to 20
        each).
    """
    geo = tower_geometry(model)
    offsets = analytic_reach(geo)
    frac = blind_fraction(offsets)
    runs = blind_runs(offsets)
    runs_near = sorted(runs, key=lambda r: (min(abs(r[0]), abs(r[1])), r[0]))[:20]
    report: dict[str, Any] = {
        "receptive_field_bp": geo.receptive_field,
        "receptive_field_bin_bp": geo.receptive_field_bin,
        "crop": geo.crop,
        "bin_size": geo.bin_size,
        "stem_kernel": geo.stem_kernel,
        "kernel": geo.kernel,
        "dilations": list(geo.dilations),
        "aspp": list(geo.aspp) or None,
        "rc_equivariant": geo.rc_equivariant,
        "reach": {
            "min_offset": int(offsets[0]),
            "max_offset": int(offsets[-1]),
            "n_reached": len(offsets),
            "n_span": int(offsets[-1] - offsets[0] + 1),
            "n_blind": int(offsets[-1] - offsets[0] + 1 - len(offsets)),
            "n_blind_runs": len(runs),
            "blind_runs": [list(r) for r in runs_near],
        },
        "blind_fraction": frac,
        "blind_layers": gridding_layers(geo) if frac > 0 else [],
        "layers": layer_growth(geo),
        "suggestion": _hybrid_suggestion(geo) if frac > 0 else None,
    }
    if empirical:
        emp = empirical_reach(model, seed=seed)
        missing = np.setdiff1d(offsets, emp)
        extra = np.setdiff1d(emp, offsets)
        report["empirical_match"] = bool(len(missing) == 0 and len(extra) == 0)
        report["empirical"] = {
            "n_reached": len(emp),
            "missing": missing[:20].tolist(),
            "extra": extra[:20].tolist(),
        }
    return report
