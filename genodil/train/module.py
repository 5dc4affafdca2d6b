"""SeqModule: the Lightning system that trains a plain sequence-to-signal network.

The network (:class:`genodil.models.DilatedResNet`) is injected; this module owns the loss,
the metrics, the optimiser and its schedule, and what goes into a checkpoint.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import lightning as L
import torch
from lightning.pytorch.callbacks import Timer
from torch import Tensor, nn

import genodil
from genodil.train.losses import LossName, compute_loss
from genodil.train.metrics import TrackMetrics, mean_over_tracks, metric_keys

__all__ = ["SeqModule", "logged_metrics", "lr_factor", "ramped_weights"]


def logged_metrics(track_names: list[str], output_length: int) -> list[str]:
    """Every metric name :class:`SeqModule` logs (what ``train.monitor`` may name).

    ``train_loss`` and ``val_loss``, ``val_<key>`` averaged over tracks and ``val_<key>/<track>``
    per track, for each correlation key of :func:`~genodil.train.metrics.metric_keys`.
    """
    keys = metric_keys(output_length)
    return [
        "val_loss",
        "train_loss",
        *(f"val_{k}" for k in keys),
        *(f"val_{k}/{t}" for k in keys for t in track_names),
    ]


def lr_factor(
    schedule: str,
    step: int,
    warmup: int,
    total: int,
    min_ratio: float,
    decay_fraction: float = 0.2,
    time_fraction: float = 0.0,
) -> float:
    """Learning rate at optimiser step ``step``, as a fraction of the peak.

    Linear warm-up over ``warmup`` steps, then ``constant`` (1), ``cosine`` (to ``min_ratio``
    at the end) or ``wsd`` (1, then linear to ``min_ratio`` over the last ``decay_fraction``).
    Progress through the run is the larger of the step share (of ``total`` after warm-up) and
    ``time_fraction`` (the share of ``max_time`` spent), so a run stopped by its time limit
    ends annealed.
    """
    if step < warmup:
        return (step + 1) / (warmup + 1)
    if schedule == "constant":
        return 1.0
    progress = min(max((step - warmup) / max(total - warmup, 1), time_fraction), 1.0)
    if schedule == "cosine":
        return min_ratio + (1 - min_ratio) * 0.5 * (1 + math.cos(math.pi * progress))
    start = 1.0 - decay_fraction
    if progress <= start:
        return 1.0
    return 1.0 - (1.0 - min_ratio) * (progress - start) / decay_fraction


def ramped_weights(weights: list[float], ramp: list[int] | None, step: int) -> list[float]:
    """The track weights at optimiser ``step`` under ``train.loss_weight_ramp``.

    1 before ``ramp[0]``, the full weights from ``ramp[1]`` on, linear in between; ``ramp``
    None: the full weights at every step.
    """
    if ramp is None:
        return list(weights)
    start, end = ramp
    if step >= end:
        return list(weights)
    t = 0.0 if step < start else (step - start) / (end - start)
    return [1.0 + (w - 1.0) * t for w in weights]


class SeqModule(L.LightningModule):
    """Train ``model`` on batches ``{"seq": (B, 4, L), "target": (B, T, L_out)}``.

    Parameters
    ----------
    model : nn.Module
        Maps ``seq`` (B, 4, L) to a dict with ``signal`` (B, T, L_out).
    track_names : list of str
    loss : {"poisson", "multinomial", "mse"}
    count_weight : float
        Weight of the total-count term of the multinomial loss.
    bin_loss_weight : float
        Weight of the binned Poisson count term (:func:`~genodil.train.losses.compute_loss`).
    bin_positions : int
        Output positions per bin of that term.
    lr, weight_decay : float
        AdamW settings.
    warmup_steps : int
        Linear warm-up of the learning rate from 0.
    schedule : {"cosine", "constant", "wsd"}
        Learning rate after warm-up (:func:`lr_factor`); the run ends at the planned steps or
        at the trainer's ``max_time``, whichever comes first.
    min_lr_ratio : float
    decay_fraction : float
        The share of the run over which ``wsd`` decays.
    track_weights : list of float or None
        Per track, the factor on its loss term (the tracks' ``loss_weight``); None: all 1.
        ``train_loss`` and ``val_loss`` are the mean over tracks of the weighted terms.
    weight_ramp : [start, end] or None
        In training, every weight is 1 before step ``start`` and reaches its value at step
        ``end`` linearly (:func:`ramped_weights`); evaluation always uses the full weights.
    spec : dict or None
        Everything needed to rebuild the model and its data (model kwargs, data spec); saved in
        every checkpoint under ``"genodil"``.
    """

    def __init__(
        self,
        model: nn.Module,
        track_names: list[str],
        loss: LossName = "poisson",
        count_weight: float = 1.0,
        bin_loss_weight: float = 0.0,
        bin_positions: int = 1,
        lr: float = 1e-3,
        weight_decay: float = 1e-4,
        warmup_steps: int = 100,
        schedule: Literal["cosine", "constant", "wsd"] = "cosine",
        min_lr_ratio: float = 0.01,
        decay_fraction: float = 0.2,
        track_weights: list[float] | None = None,
        weight_ramp: list[int] | None = None,
        spec: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["model", "spec"])
        self.model = model
        self.spec = dict(spec or {})
        self.val_metrics = TrackMetrics(track_names)
        self.test_metrics = TrackMetrics(track_names)

    def forward(self, seq: Tensor) -> dict[str, Tensor]:
        """Inference: ``seq`` (B, 4, L) -> dict with ``signal`` (B, T, L_out)."""
        return self.model(seq)

    def _loss(self, batch: dict[str, Tensor]) -> tuple[dict[str, Tensor], Tensor]:
        out = self.model(batch["seq"])
        hp = self.hparams
        per_track = compute_loss(
            out, batch["target"], hp.loss, hp.count_weight, hp.bin_loss_weight, hp.bin_positions
        )  # (B, T)
        return out, per_track

    def _weighted_mean(self, per_track: Tensor, step: int | None = None) -> Tensor:
        """Mean over windows and tracks of each track's loss times its weight; (B, T) in.

        ``step``: the optimiser step of a training batch (the weights follow the ramp);
        None: the full weights.
        """
        weights = self.hparams.get("track_weights")
        if weights is None:
            return per_track.mean()
        if step is not None:
            weights = ramped_weights(weights, self.hparams.get("weight_ramp"), step)
        w = torch.as_tensor(weights, dtype=per_track.dtype, device=per_track.device)
        return (per_track * w).mean()

    def training_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        """Mean loss over the batch and tracks; logged as ``train_loss``."""
        _, per_track = self._loss(batch)
        loss = self._weighted_mean(per_track, self.global_step)
        self.log("train_loss", loss, prog_bar=True, batch_size=batch["seq"].shape[0])
        return loss

    def _eval_step(self, batch: dict[str, Tensor], metrics: TrackMetrics, prefix: str) -> Tensor:
        out, per_track = self._loss(batch)
        metrics.update(out["signal"], batch["target"], per_track)
        loss = self._weighted_mean(per_track)
        self.log(
            f"{prefix}_loss", loss, prog_bar=True, sync_dist=True, batch_size=batch["seq"].shape[0]
        )
        return loss

    def validation_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        """Log ``val_loss`` and accumulate the validation metrics."""
        return self._eval_step(batch, self.val_metrics, "val")

    def test_step(self, batch: dict[str, Tensor], batch_idx: int) -> Tensor:
        """Log ``test_loss`` and accumulate the test metrics."""
        return self._eval_step(batch, self.test_metrics, "test")

    def _log_metrics(self, metrics: TrackMetrics, prefix: str) -> None:
        per_track = metrics.compute()
        for name, values in per_track.items():
            for key, v in values.items():
                if key != "loss":
                    self.log(f"{prefix}_{key}/{name}", v, sync_dist=False)
        for key, v in mean_over_tracks(per_track).items():
            if key != "loss":
                self.log(f"{prefix}_{key}", v, prog_bar=key == "pearson", sync_dist=False)
        metrics.reset()

    def on_validation_epoch_end(self) -> None:
        """Log the per-track and mean validation metrics (``val_pearson``, ...)."""
        self._log_metrics(self.val_metrics, "val")

    def on_test_epoch_end(self) -> None:
        """Log the per-track and mean test metrics."""
        self._log_metrics(self.test_metrics, "test")

    def configure_optimizers(self) -> dict[str, Any]:
        """AdamW (no decay on norms and biases) with the schedule of :func:`lr_factor`."""
        hp = self.hparams
        decay, no_decay = [], []
        for p in self.model.parameters():
            # Norm scales and biases are not decayed (standard AdamW practice).
            (no_decay if p.ndim <= 1 else decay).append(p)
        opt = torch.optim.AdamW(
            [
                {"params": decay, "weight_decay": hp.weight_decay},
                {"params": no_decay, "weight_decay": 0.0},
            ],
            lr=hp.lr,
        )
        total = max(int(self.trainer.estimated_stepping_batches), 1)

        def factor(step: int) -> float:
            return lr_factor(
                hp.schedule,
                step,
                hp.warmup_steps,
                total,
                hp.min_lr_ratio,
                hp.decay_fraction,
                self._time_fraction(),
            )

        sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}

    def _time_fraction(self) -> float:
        """Share of ``max_time`` spent training so far (resumes included); 0 without one."""
        timer = next((c for c in self.trainer.callbacks if isinstance(c, Timer)), None)
        remaining = None if timer is None else timer.time_remaining("train")
        if remaining is None:
            return 0.0
        elapsed = timer.time_elapsed("train")
        return elapsed / max(elapsed + remaining, 1e-9)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        """Store the run's spec and the genodil version under ``checkpoint["genodil"]``."""
        checkpoint["genodil"] = {**self.spec, "version": genodil.__version__}
