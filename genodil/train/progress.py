"""Training progress: the optimiser step, elapsed time and ETA, on a terminal or in a log.

On a terminal Lightning's own bar shows the epoch and the running metrics, and this callback
adds one line every 10% of the step budget with the ETA of the whole run. When stderr is not a
terminal (a log file, a Snakemake job, a pipe) Lightning's bar is switched off, since its
carriage returns make an unreadable log, and this callback writes a plain line at the first
10% of the budget (an early ETA), then at most every :data:`genodil.progress.LOG_INTERVAL`
seconds, plus one after each validation round. ``--quiet``
adds neither.
"""

from __future__ import annotations

import math
import sys
import time
from typing import IO

from lightning.pytorch.callbacks import Callback

from genodil.progress import LOG_INTERVAL, format_duration

__all__ = ["StepProgress"]


class StepProgress(Callback):
    """Step, elapsed time and ETA of a training run (see the module docstring).

    Parameters
    ----------
    stream : file, optional
        Where to write; default ``sys.stderr``. Whether it is a terminal picks the form.
    interval : float, optional
        Seconds between two plain lines when ``stream`` is not a terminal.
    """

    def __init__(self, stream: IO[str] | None = None, interval: float | None = None) -> None:
        self.stream = sys.stderr if stream is None else stream
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = LOG_INTERVAL if interval is None else interval
        self.start: tuple[float, int] | None = None
        self.total = 0
        self.next_step = 0
        self.last_line = 0.0

    def on_train_start(self, trainer, pl_module) -> None:  # noqa: D102
        estimated = trainer.max_steps
        if estimated <= 0:
            estimated = trainer.estimated_stepping_batches
        self.total = int(estimated) if math.isfinite(estimated) else 0
        self.start = (time.monotonic(), trainer.global_step)
        self.last_line = self.start[0]
        self.next_step = trainer.global_step + max(1, self.total // 10)
        if trainer.global_step:
            self._write(f"train: resuming at step {trainer.global_step:,}")

    def line(self, step: int, now: float) -> str:
        """``train: step 400 of 1,320 (30%), 1m12s elapsed, ETA 2m48s (5.6 steps/s)``."""
        assert self.start is not None
        elapsed = now - self.start[0]
        rate = (step - self.start[1]) / max(elapsed, 1e-9)
        if not self.total:
            return f"train: step {step:,}, {format_duration(elapsed)} elapsed ({rate:.2g} steps/s)"
        eta = format_duration((self.total - step) / rate) if rate > 0 else "unknown"
        return (
            f"train: step {step:,} of {self.total:,} ({step / self.total:.0%}), "
            f"{format_duration(elapsed)} elapsed, ETA {eta} ({rate:.2g} steps/s)"
        )

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:  # noqa: D102
        if self.start is None or not trainer.is_global_zero:
            return
        step, now = trainer.global_step, time.monotonic()
        first = self.total and step >= self.next_step and self.last_line == self.start[0]
        if self.tty or first:  # in a log: the first 10% mark gives an early ETA
            if self.total and step >= self.next_step:
                self.next_step += max(1, self.total // 10)
                self.last_line = now
                self._write(self.line(step, now))
        elif now - self.last_line >= self.interval:
            self.last_line = now
            self._write(self.line(step, now))

    def on_validation_end(self, trainer, pl_module) -> None:  # noqa: D102
        if self.tty or trainer.sanity_checking or not trainer.is_global_zero:
            return
        metrics = {
            k: float(v)
            for k, v in trainer.callback_metrics.items()
            if k.startswith("val_") and v.numel() == 1
        }
        shown = ", ".join(f"{k} {v:.4g}" for k, v in sorted(metrics.items())[:6])
        self._write(f"train: validation at step {trainer.global_step:,}: {shown}")

    def _write(self, text: str) -> None:
        if self.tty:
            from tqdm import tqdm

            tqdm.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)
