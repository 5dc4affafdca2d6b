"""Exponential moving average (EMA) of the weights during training (``train.ema_decay``).

Lightning's :class:`~lightning.pytorch.callbacks.WeightAveraging` keeps a
:class:`torch.optim.swa_utils.AveragedModel` of the Lightning module and does the rest:

- the average is updated after every optimiser step (after ``accumulate_grad_batches``
  batches), before ``last.ckpt`` is written at that step (checkpoint callbacks run last);
- validation runs with the averaged weights swapped in, so ``val_loss``, ``best.ckpt``'s
  choice and early stopping judge the averaged model;
- every checkpoint holds the averaged weights in ``state_dict`` (so ``predict``,
  ``score-variants``, ``evaluate`` and :func:`genodil.train.io.load_model` use them without
  knowing about the average), the weights being trained in ``current_model_state`` and the
  number of updates in ``averaging_state``; resume restores both exactly.

Choices made here (docs/results.md):

- BatchNorm running statistics are averaged like the weights (``use_buffers=True``): averaged
  weights are paired with averaged statistics rather than with the statistics of the latest
  weights; integer buffers (``num_batches_tracked``) are copied.
- The decay warms up: the first update copies the weights, the update after ``n`` earlier
  ones uses ``min(decay, (1 + n) / (10 + n))`` (TensorFlow's ``num_updates`` rule), so in a
  short run the average spans roughly the last tenth of training instead of being dominated
  by the first steps.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from lightning.pytorch.callbacks import WeightAveraging
from torch import Tensor

__all__ = ["EMAWeights", "ema_decay_at", "ema_multi_avg_fn"]


def ema_decay_at(decay: float, n: int) -> float:
    """The decay of the update that follows ``n`` earlier ones: ``min(decay, (1+n)/(10+n))``."""
    return min(decay, (1 + n) / (10 + n))


def ema_multi_avg_fn(decay: float) -> Callable[[list[Tensor], list[Tensor], Tensor], None]:
    """An ``AveragedModel`` ``multi_avg_fn``: ``avg <- d * avg + (1 - d) * current``.

    ``d`` is :func:`ema_decay_at` of the number of earlier updates; integer tensors (BatchNorm's
    ``num_batches_tracked``) take the current value.
    """

    def update(averaged: list[Tensor], current: list[Tensor], n_averaged: Tensor) -> None:
        if torch.is_floating_point(averaged[0]) or torch.is_complex(averaged[0]):
            d = ema_decay_at(decay, int(n_averaged))
            torch._foreach_lerp_(averaged, current, 1.0 - d)
        else:
            torch._foreach_copy_(averaged, current)

    return update


class EMAWeights(WeightAveraging):
    """Keep an exponential moving average of the module's weights and BatchNorm statistics.

    Parameters
    ----------
    decay : float
        ``train.ema_decay``, in (0, 1); warmed up as :func:`ema_decay_at` says.
    """

    def __init__(self, decay: float) -> None:
        super().__init__(use_buffers=True, multi_avg_fn=ema_multi_avg_fn(decay))
        self.decay = decay

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        """Move the average to the module's device (it is built in ``setup``, before the move)."""
        if self._average_model is not None:
            self._average_model.to(pl_module.device)
