"""Training progress in a log: plain lines, no bar (issue 11: long work shows progress)."""

from __future__ import annotations

import io

from genodil.config import load_config
from genodil.train.progress import StepProgress
from genodil.train.run import train

SHORT = ["--train.max_epochs", "2", "--train.limit_train_batches", "3"]
SHORT += ["--train.limit_val_batches", "1"]


def test_training_log_gets_plain_lines_not_a_bar(tiny_config, tmp_path, capfd):
    """stderr is not a terminal here: no Lightning bar, a line after each validation."""
    train(load_config(tiny_config, SHORT), tmp_path / "run", progress=True)
    err = capfd.readouterr().err
    assert "\r" not in err and "it/s" not in err, err[-2000:]
    lines = [s for s in err.splitlines() if s.startswith("train: validation at step")]
    assert [s.split()[4] for s in lines] == ["3:", "6:"], err[-2000:]
    assert "val_pearson" in lines[-1]
    steps = [s for s in err.splitlines() if s.startswith("train: step ")]
    assert steps and steps[0].startswith("train: step 1 of 6 (17%)") and "ETA" in steps[0]


def test_quiet_training_writes_no_progress(tiny_config, tmp_path, capfd):
    train(load_config(tiny_config, SHORT), tmp_path / "run", progress=False)
    assert "train:" not in capfd.readouterr().err


class _Trainer:
    """What StepProgress reads from a Lightning trainer."""

    max_steps, estimated_stepping_batches, global_step, is_global_zero = 100, 100, 0, True


def test_step_line_reports_fraction_and_eta():
    stream = io.StringIO()
    bar = StepProgress(stream=stream, interval=0.0)
    trainer = _Trainer()
    bar.on_train_start(trainer, None)
    bar.start = (bar.start[0] - 10.0, 0)  # 10 s ago
    trainer.global_step = 25
    bar.on_train_batch_end(trainer, None, None, None, 0)
    line = stream.getvalue().strip()
    # 25 steps in 10 s: 2.5 steps/s, 75 steps left -> 30 s
    assert line.startswith("train: step 25 of 100 (25%), 10s elapsed, ETA 30s (2.5 steps/s)"), line
