"""Typed training settings: the ``train`` section of a run config (docs/architecture.md §5)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any, Literal

__all__ = ["TrainSettings"]


@dataclass
class TrainSettings:
    """Loss, optimiser and Trainer settings of a run.

    Attributes
    ----------
    loss : {"poisson", "multinomial", "mse"}
        Training loss; ``multinomial`` is the BPNet-style profile NLL plus ``count_weight`` times
        the squared error of log total counts.
    lr, weight_decay, warmup_steps, schedule, min_lr_ratio
        AdamW and its schedule: linear warm-up, then cosine decay to ``min_lr_ratio * lr`` (or
        constant).
    max_epochs, max_steps, max_time
        Stopping; ``max_time`` is Lightning's ``"DD:HH:MM:SS"``.
    precision : str
        ``auto`` is ``bf16-mixed`` on GPU and ``32`` on CPU; any Lightning precision string.
    accelerator, devices, num_nodes, strategy
        Passed to ``lightning.Trainer``; ``strategy: ddp`` for several GPUs or nodes.
    sync_batchnorm : bool or None
        ``None`` turns it on when more than one process trains.
    seed : int
        Seeds Python, numpy, torch and the data module's augmentation.
    gradient_clip_val : float or None
        Clip the gradient norm.
    monitor, monitor_mode
        Metric for the best checkpoint and early stopping (``val_loss``, ``val_pearson``, ...);
        ``auto`` maximises correlations and minimises losses.
    early_stopping_patience : int or None
        Validation rounds without improvement before stopping; ``None`` disables.
    checkpoint_every_n_steps : int or None
        Also write ``last.ckpt`` every N optimiser steps, so a long epoch loses little.
    compile : bool
        ``torch.compile`` the network (about 10% faster CPU steps after a compile delay).
    """

    loss: Literal["poisson", "multinomial", "mse"] = "poisson"
    count_weight: float = 1.0
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    schedule: Literal["cosine", "constant"] = "cosine"
    min_lr_ratio: float = 0.01
    max_epochs: int = 10
    max_steps: int = -1
    max_time: str | None = None
    precision: str = "auto"
    accelerator: Literal["auto", "cpu", "gpu", "cuda", "mps"] = "auto"
    devices: int | str | list[int] = "auto"
    num_nodes: int = 1
    strategy: str = "auto"
    sync_batchnorm: bool | None = None
    seed: int = 0
    gradient_clip_val: float | None = 1.0
    accumulate_grad_batches: int = 1
    monitor: str = "val_loss"
    monitor_mode: Literal["auto", "min", "max"] = "auto"
    early_stopping_patience: int | None = None
    checkpoint_every_n_steps: int | None = 200
    limit_train_batches: int | float | None = None
    limit_val_batches: int | float | None = None
    val_check_interval: int | float | None = None
    log_every_n_steps: int = 20
    compile: bool = False
    deterministic: bool = False

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for checkpoints and YAML)."""
        return asdict(self)

    @property
    def resolved_monitor_mode(self) -> Literal["min", "max"]:
        """``min`` for losses, ``max`` for correlations when ``monitor_mode`` is ``auto``."""
        if self.monitor_mode != "auto":
            return self.monitor_mode
        return "min" if "loss" in self.monitor else "max"
