"""Per-track metrics that are exact over a whole split.

Pearson r (per base and after summing into 32-bp and 128-bp bins), Spearman on 128-bp bins and
the loss are accumulated across batches (and across processes under DDP, through torchmetrics'
state syncing), so the value at the end of an epoch equals the statistic computed on the
concatenated split, not an average of per-batch values.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import torch
from torch import Tensor, nn
from torchmetrics import MeanMetric, PearsonCorrCoef, SpearmanCorrCoef

from genodil.models.layers import pool_bins

DEFAULT_BINS = (32, 128)  # bin widths (output positions) of the binned metrics

__all__ = ["DEFAULT_BINS", "TrackMetrics", "mean_over_tracks", "metric_keys", "undefined_to_null"]


def _rows(x: Tensor) -> Tensor:
    """(B, T, L) -> (B * L, T) float64 rows for the correlation metrics."""
    return x.permute(0, 2, 1).reshape(-1, x.shape[1]).double()


class TrackMetrics(nn.Module):
    """Accumulate per-track metrics over a split.

    Parameters
    ----------
    track_names : sequence of str
    bins : sequence of int
        Bin widths (bp, in output positions) for binned Pearson r; the largest also gets
        Spearman.
    """

    def __init__(self, track_names: Sequence[str], bins: Sequence[int] = DEFAULT_BINS) -> None:
        super().__init__()
        self.track_names = list(track_names)
        self.bins = [int(b) for b in bins]
        t = len(self.track_names)
        self.pearson = PearsonCorrCoef(num_outputs=t)
        self.pearson_bins = nn.ModuleList([PearsonCorrCoef(num_outputs=t) for _ in self.bins])
        with warnings.catch_warnings():
            # Spearman keeps its inputs; they are 128-bp bins, so the buffer stays small.
            warnings.simplefilter("ignore", UserWarning)
            self.spearman = SpearmanCorrCoef(num_outputs=t)
        self.loss = nn.ModuleList([MeanMetric() for _ in range(t)])
        self._seen_bins = [False] * len(self.bins)

    def update(self, signal: Tensor, target: Tensor, loss: Tensor | None = None) -> None:
        """Add a batch.

        Parameters
        ----------
        signal, target : Tensor, shape (B, T, L)
        loss : Tensor, shape (B, T), optional per-(window, track) loss
        """
        signal = signal.detach().double()
        target = target.detach().double()
        self.pearson.update(_rows(signal), _rows(target))
        for i, (b, metric) in enumerate(zip(self.bins, self.pearson_bins, strict=True)):
            if signal.shape[-1] // b == 0:
                continue
            ps, ts = _rows(pool_bins(signal, b)), _rows(pool_bins(target, b))
            metric.update(ps, ts)
            self._seen_bins[i] = True
            if b == self.bins[-1]:
                self.spearman.update(ps.float(), ts.float())
        if loss is not None:
            for j, m in enumerate(self.loss):
                m.update(loss[:, j].detach().float())

    def compute(self) -> dict[str, dict[str, float]]:
        """Return ``{track: {"pearson", "pearson_bin32", ..., "spearman_bin128", "loss"}}``."""

        def per_track(metric: nn.Module) -> list[float]:
            v = metric.compute().reshape(-1)
            return [float(x) for x in v]

        out: dict[str, dict[str, float]] = {n: {} for n in self.track_names}
        cols = {"pearson": per_track(self.pearson)}
        for b, metric, seen in zip(self.bins, self.pearson_bins, self._seen_bins, strict=True):
            if seen:
                cols[f"pearson_bin{b}"] = per_track(metric)
        if self._seen_bins and self._seen_bins[-1]:
            spearman = per_track(self.spearman)
            # A constant track has no ranks to correlate: torchmetrics returns 0 there while
            # Pearson is NaN. Both are undefined; say so in both.
            pearson_last = cols[f"pearson_bin{self.bins[-1]}"]
            spearman = [
                float("nan") if math.isnan(p) else s
                for s, p in zip(spearman, pearson_last, strict=True)
            ]
            cols[f"spearman_bin{self.bins[-1]}"] = spearman
        if self.loss[0].update_count:
            cols["loss"] = [float(m.compute()) for m in self.loss]
        for key, values in cols.items():
            for name, v in zip(self.track_names, values, strict=True):
                out[name][key] = v
        return out

    def reset(self) -> None:
        """Forget everything accumulated."""
        self.pearson.reset()
        self.spearman.reset()
        for m in [*self.pearson_bins, *self.loss]:
            m.reset()
        self._seen_bins = [False] * len(self.bins)


def metric_keys(output_length: int, bins: Sequence[int] = DEFAULT_BINS) -> list[str]:
    """The correlation keys :meth:`TrackMetrics.compute` gives for outputs of this length.

    A binned key needs at least one whole bin of ``output_length`` positions.
    """
    keys = ["pearson"] + [f"pearson_bin{b}" for b in bins if output_length // b]
    if bins and output_length // bins[-1]:
        keys.append(f"spearman_bin{bins[-1]}")
    return keys


def mean_over_tracks(per_track: dict[str, dict[str, float]]) -> dict[str, float]:
    """Average each metric over tracks (NaN-aware)."""
    keys = sorted({k for v in per_track.values() for k in v})
    out = {}
    for k in keys:
        vals = torch.tensor([v[k] for v in per_track.values() if k in v], dtype=torch.float64)
        out[k] = float(torch.nanmean(vals))
    return out


UNDEFINED_NOTE = (
    "null: undefined because the observed or the predicted values are "
    "constant (for example all zero) over this split"
)


def undefined_to_null(metrics: dict) -> tuple[dict, dict[str, str]]:
    """Replace NaN metric values by None (JSON ``null``) and say why, per track.

    Parameters
    ----------
    metrics : dict
        ``{track: {metric: float}}`` (or ``{metric: float}`` under the key ``"mean"``).

    Returns
    -------
    (dict, dict)
        The same nesting with NaN as None, and ``{track: note}`` for each track with a null.
    """
    notes: dict[str, str] = {}
    out: dict = {}
    for name, values in metrics.items():
        nulls = sorted(k for k, v in values.items() if isinstance(v, float) and math.isnan(v))
        out[name] = {k: (None if k in nulls else v) for k, v in values.items()}
        if nulls:
            notes[name] = f"{', '.join(nulls)} {UNDEFINED_NOTE}"
    return out, notes
