"""Typed training settings: the ``train`` section of a run config (docs/architecture.md §5)."""

from __future__ import annotations

import datetime
import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

from genodil.errors import InputError

__all__ = ["TrainSettings", "parse_duration"]

_UNITS = {
    unit: seconds
    for seconds, units in (
        (1, "s sec secs second seconds"),
        (60, "m min mins minute minutes"),
        (3600, "h hr hrs hour hours"),
        (86400, "d day days"),
    )
    for unit in units.split()
}
_PART = re.compile(r"\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*")
DURATION_FORMATS = "DD:HH:MM:SS (e.g. 00:02:30:00) or a number with a unit: 90s, 10min, 2h, 1d"


def parse_duration(text: str, key: str = "train.max_time") -> datetime.timedelta:
    """A time budget: ``"DD:HH:MM:SS"`` (Lightning's form), ``"90s"``, ``"10min"``, ``"1h30min"``.

    Raises
    ------
    InputError
        Naming ``key`` and the accepted formats, for anything else or a budget that is not
        positive.
    """
    value = str(text).strip().lower()
    seconds: float | None = None
    if re.fullmatch(r"\d+:\d+:\d+:\d+", value):
        d, h, m, s = (int(x) for x in value.split(":"))
        seconds = ((d * 24 + h) * 60 + m) * 60 + s
    elif re.fullmatch(f"(?:{_PART.pattern})+", value):
        parts = _PART.findall(value)
        if all(unit in _UNITS for _, unit in parts):
            seconds = sum(float(n) * _UNITS[unit] for n, unit in parts)
    if seconds is None or seconds <= 0:
        raise InputError(f"{key} is {text!r}; give a positive time budget as {DURATION_FORMATS}")
    return datetime.timedelta(seconds=seconds)


@dataclass
class TrainSettings:
    """Loss, optimiser and Trainer settings of a run.

    Attributes
    ----------
    loss : {"poisson", "multinomial", "mse"}
        Training loss; ``multinomial`` is the BPNet-style profile NLL plus ``count_weight`` times
        the squared error of log total counts.
    count_weight : float
        Weight of the total-count term of the ``multinomial`` loss.
    bin_loss_weight : float
        Weight of an extra Poisson term on bin totals: the predicted and observed signal are
        summed in non-overlapping bins of ``bin_loss_size`` bp and the Poisson NLL of the bin
        sums, averaged over bins and divided by the bin's positions (so weight 1 moves the
        weights about as much as the per-base term), is added to the loss, so the total
        signal of a region (a promoter) must be explained, not only its shape. 0: off. Needs
        count targets (``loss`` poisson or multinomial).
    bin_loss_size : int
        Bin width (bp) of the ``bin_loss_weight`` term; a multiple of ``data.bin_size`` that
        divides the output window (``data.window - 2 * data.crop``).
    lr : float
        Peak learning rate of AdamW.
    weight_decay : float
        AdamW weight decay (norm scales and biases are not decayed).
    warmup_steps : int
        Optimiser steps of linear learning-rate warm-up from 0.
    schedule : {"cosine", "constant", "wsd"}
        Learning rate after warm-up: cosine decay to ``min_lr_ratio * lr`` at the end of the
        run; constant; or ``wsd`` (warm-up, stable, decay): constant, then a linear decay to
        ``min_lr_ratio * lr`` over the last ``decay_fraction`` of the run. The end of the run
        is whichever limit comes first: the planned steps (``max_steps``, ``max_epochs``) or
        ``max_time`` (wall time, counted across resumes), so a time-boxed run anneals before
        it stops.
    min_lr_ratio : float
        Final learning rate of the cosine and wsd schedules, as a fraction of ``lr``.
    decay_fraction : float
        The share of the run over which ``wsd`` decays, in (0, 1].
    loss_weight_ramp : list of int or None
        ``[start, end]`` optimiser steps over which the tracks' ``loss_weight`` take effect in
        the training loss: every weight is 1 before ``start``, rises linearly to its configured
        value at ``end`` and stays there (``start == end``: a step change). A heavily weighted
        track can then take over the shared tower's gradient only after the other tracks have
        trained the features it reads (docs/results.md, round 6). ``val_loss`` always uses
        the configured weights, so it stays comparable across the run. null: the weights apply
        from the first step. A ramp with every track at ``loss_weight`` 1 does nothing, and
        training warns about it.
    ema_decay : float or None
        Keep an exponential moving average of the weights (and BatchNorm statistics) with this
        decay (e.g. 0.999), updated after every optimiser step; validation, ``best.ckpt``,
        ``last.ckpt`` and every command that loads a checkpoint use the averaged weights. The
        decay warms up as ``min(ema_decay, (1 + n) / (10 + n))`` after ``n`` updates, so a
        short run is not dominated by its first steps. null: off.
    max_epochs : int
        Stop after this many epochs.
    max_steps : int
        Stop after this many optimiser steps; -1: no step limit.
    max_time : str or None
        Stop after this much training time: ``"DD:HH:MM:SS"`` or a number with a unit
        (``90s``, ``10min``, ``2h``, ``1d``, ``1h30min``); null: no time limit.
    precision : str
        ``auto`` is ``bf16-mixed`` on GPU and on CPUs with native bf16 (AMX-BF16, AVX512-BF16),
        else ``32``; any Lightning precision string.
    accelerator : {"auto", "cpu", "gpu", "cuda", "mps"}
        Where training runs (``lightning.Trainer``'s accelerator).
    devices : int, str or list of int
        Devices per node (``auto``, a count, or GPU indices).
    num_nodes : int
        Machines taking part in distributed training.
    strategy : str
        Lightning strategy; ``ddp`` for several GPUs or nodes.
    sync_batchnorm : bool or None
        Synchronise BatchNorm statistics across processes; null turns it on when more than one
        GPU process trains.
    seed : int
        Seeds Python, numpy, torch and the data module's augmentation.
    gradient_clip_val : float or None
        Clip the gradient norm to this value; null: no clipping.
    accumulate_grad_batches : int
        Batches whose gradients are summed before each optimiser step.
    monitor : str
        Metric that picks ``best.ckpt`` and drives early stopping: ``val_loss``,
        ``val_pearson``, ``val_pearson_bin32``, ``val_pearson_bin128``,
        ``val_spearman_bin128``, ``train_loss`` or a per-track ``val_pearson/<track>``.
    monitor_mode : {"auto", "min", "max"}
        Whether the monitored metric improves downwards or upwards; ``auto`` maximises
        correlations and minimises losses.
    early_stopping_patience : int or None
        Validation rounds without improvement before stopping; null disables early stopping.
    checkpoint_every_n_steps : int or None
        Also write ``last.ckpt`` every N optimiser steps, so a long epoch loses little.
    limit_train_batches : int, float or None
        Batches per training epoch (an int) or a fraction of them (a float); null: all.
    limit_val_batches : int, float or None
        Batches per validation round (an int) or a fraction of them (a float); null: all.
    val_check_interval : int, float or None
        Validate every N training batches (an int) or fraction of an epoch (a float); null:
        once per epoch.
    log_every_n_steps : int
        Write training metrics to the logs every N optimiser steps.
    compile : bool
        ``torch.compile`` the network (about 10% faster CPU steps after a compile delay).
    deterministic : bool
        Ask PyTorch for deterministic algorithms (slower; some operations refuse).
    """

    loss: Literal["poisson", "multinomial", "mse"] = "poisson"
    count_weight: float = 1.0
    bin_loss_weight: float = 0.0
    bin_loss_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 1e-4
    warmup_steps: int = 100
    schedule: Literal["cosine", "constant", "wsd"] = "cosine"
    min_lr_ratio: float = 0.01
    decay_fraction: float = 0.2
    loss_weight_ramp: list[int] | None = None
    ema_decay: float | None = None
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

    def __post_init__(self) -> None:
        if self.max_time is not None:
            parse_duration(self.max_time)
        self._check_ramp()
        if self.ema_decay is not None and not 0 < self.ema_decay < 1:
            raise InputError(
                f"train.ema_decay is {self.ema_decay!r}; give a decay between 0 and 1 "
                "(e.g. 0.999), or null to train without a moving average of the weights"
            )
        if not 0 < self.decay_fraction <= 1:
            raise InputError(
                f"train.decay_fraction is {self.decay_fraction!r}; give the share of the run "
                "over which schedule wsd decays, in (0, 1] (e.g. 0.2)"
            )
        if not self.bin_loss_weight >= 0:
            raise InputError(
                f"train.bin_loss_weight is {self.bin_loss_weight!r}; give a weight >= 0 "
                "(0 turns the binned count term off)"
            )
        if self.bin_loss_size < 1:
            raise InputError(
                f"train.bin_loss_size is {self.bin_loss_size!r}; give a bin width in bp >= 1"
            )

    def _check_ramp(self) -> None:
        ramp = self.loss_weight_ramp
        if ramp is None:
            return
        ok = (
            isinstance(ramp, (list, tuple))
            and len(ramp) == 2
            and all(isinstance(x, int) and not isinstance(x, bool) for x in ramp)
            and 0 <= ramp[0] <= ramp[1]
        )
        if not ok:
            raise InputError(
                f"train.loss_weight_ramp is {ramp!r}; give [start, end] optimiser steps with "
                "0 <= start <= end (e.g. [1000, 1500]), or null to apply the tracks' "
                "loss_weight from the first step"
            )
        self.loss_weight_ramp = [int(ramp[0]), int(ramp[1])]

    @property
    def max_time_delta(self) -> datetime.timedelta | None:
        """``max_time`` as a timedelta (None: no time limit)."""
        return None if self.max_time is None else parse_duration(self.max_time)

    def to_dict(self) -> dict[str, Any]:
        """Plain dict (for checkpoints and YAML)."""
        return asdict(self)

    @property
    def resolved_monitor_mode(self) -> Literal["min", "max"]:
        """``min`` for losses, ``max`` for correlations when ``monitor_mode`` is ``auto``."""
        if self.monitor_mode != "auto":
            return self.monitor_mode
        return "min" if "loss" in self.monitor else "max"
