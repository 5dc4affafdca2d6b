"""Training with data.oversample: bad settings exit 2 before anything is written, and a run
stopped mid-epoch and resumed draws the same oversampled batches as an uninterrupted one."""

from __future__ import annotations

import pytest
import torch

from genodil.cli import main
from genodil.config import load_config
from genodil.train.run import TrainingInterrupted, train
from tests.train.test_resume import COMMON, _assert_same_weights, _SigintAt, _with_callback

# On the tiny data about a third of the training windows reach 28 on track peak.
OVERSAMPLE = ["--data.oversample.track", "peak", "--data.oversample.min_signal", "28"]


@pytest.mark.parametrize(
    "options, message",
    [
        (["--data.oversample.track", "peek"], "did you mean 'peak'"),
        (["--data.oversample.track=peak", "--data.oversample.fraction=1.5"], "between 0 and 1"),
        (["--data.oversample", "{track: peak, min_signal: 1e9}"], "lower data.oversample"),
    ],
)
def test_bad_oversample_exits_2_before_anything_is_written(
    tiny_config, tmp_path, capsys, options, message
):
    out = tmp_path / "run"
    assert main(["train", "--config", str(tiny_config), "--out", str(out), *options]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    assert not out.exists() or not any(out.iterdir())


@pytest.mark.slow
def test_oversampled_run_stopped_mid_epoch_resumes_exactly(tiny_config, tmp_path, monkeypatch):
    options = [*COMMON, *OVERSAMPLE]
    full = train(load_config(tiny_config, options), tmp_path / "full", progress=False)
    _with_callback(monkeypatch, _SigintAt([1, 6]))
    part = tmp_path / "part"
    stops = []
    for attempt in range(3):
        try:
            train(load_config(tiny_config, options), part, resume=attempt > 0, progress=False)
            break
        except TrainingInterrupted:
            stops.append(torch.load(part / "checkpoints" / "last.ckpt")["global_step"])
    assert stops == [2, 7]
    _assert_same_weights(full / "checkpoints" / "last.ckpt", part / "checkpoints" / "last.ckpt")
