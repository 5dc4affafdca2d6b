"""Run-directory safety and exact resume (issue 10, items 1-3; docs/reliability.md).

What resume reproduces, and is tested here: weights, optimizer and scheduler state, RNG
states, the epoch, the step and the position inside the epoch (the same batches follow), so
a run stopped at any step boundary and resumed ends with bit-identical weights on CPU. What
it does not: a kill between two ``last.ckpt`` writes loses the steps since the last one (they
are trained again, identically); logs start a new ``logs/version_N``.
"""

from __future__ import annotations

import os
import signal

import lightning as L
import pytest
import torch

from genodil.config import load_config
from genodil.errors import InputError
from genodil.train import run as run_mod
from genodil.train.run import TrainingInterrupted, train

COMMON = [
    "--train.limit_train_batches",
    "4",
    "--train.limit_val_batches",
    "1",
    "--train.max_epochs",
    "2",
    "--train.checkpoint_every_n_steps",
    "2",
]


def _weights(ckpt, key: str = "state_dict") -> dict[str, torch.Tensor]:
    state = torch.load(ckpt, map_location="cpu", weights_only=True)[key]
    return {k: v for k, v in state.items() if k.startswith("model.") or k == "n_averaged"}


def _assert_same_weights(a, b) -> None:
    """Same weights; with train.ema_decay also the same trained weights and update count."""
    ckpt = torch.load(a, map_location="cpu", weights_only=True)
    keys = ["state_dict"] + [k for k in ("current_model_state", "averaging_state") if k in ckpt]
    for key in keys:
        wa, wb = _weights(a, key), _weights(b, key)
        assert wa.keys() == wb.keys() and wa, key
        for k in wa:
            torch.testing.assert_close(wa[k], wb[k], rtol=0, atol=0, msg=f"{key}: {k}")


class _SigintAt(L.Callback):
    """Send this process a real SIGINT when a training step at one of ``steps`` starts."""

    def __init__(self, steps: list[int]) -> None:
        self.steps = steps

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if trainer.global_step in self.steps:
            self.steps.remove(trainer.global_step)
            os.kill(os.getpid(), signal.SIGINT)


class _DieInValidation(L.Callback):
    """Stand-in for a kill: raise during the validation that ends epoch ``epoch``."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_validation_batch_start(self, trainer, pl_module, batch, batch_idx, dataloader_idx=0):
        if not trainer.sanity_checking and trainer.current_epoch == self.epoch:
            raise RuntimeError("killed during validation")


def _with_callback(monkeypatch, callback: L.Callback) -> None:
    orig = run_mod._trainer

    def make(*args, **kwargs):
        trainer = orig(*args, **kwargs)
        trainer.callbacks.insert(0, callback)
        return trainer

    monkeypatch.setattr(run_mod, "_trainer", make)


@pytest.mark.slow
@pytest.mark.parametrize(
    "extra",
    [
        [],
        ["--train.ema_decay", "0.9"],
        # about a third of the tiny training windows reach 28 on track peak
        ["--data.oversample.track", "peak", "--data.oversample.min_signal", "28"],
    ],
    ids=["plain", "ema", "oversample"],
)
def test_sigint_mid_epoch_then_resume_equals_uninterrupted(
    tiny_config, tmp_path, monkeypatch, extra
):
    # With ema_decay, the average (state_dict), the trained weights and the update count must
    # all continue exactly.
    options = [*COMMON, *extra]
    full = train(load_config(tiny_config, options), tmp_path / "full", progress=False)
    _with_callback(monkeypatch, _SigintAt([1, 6]))  # mid-epoch 0 and mid-epoch 1
    part = tmp_path / "part"
    stops = []
    for attempt in range(3):
        try:
            train(load_config(tiny_config, options), part, resume=attempt > 0, progress=False)
            break
        except TrainingInterrupted as e:
            assert "resume with --resume" in str(e)
            stops.append(torch.load(part / "checkpoints" / "last.ckpt")["global_step"])
    assert stops == [2, 7]
    _assert_same_weights(full / "checkpoints" / "last.ckpt", part / "checkpoints" / "last.ckpt")
    _assert_same_weights(full / "checkpoints" / "best.ckpt", part / "checkpoints" / "best.ckpt")


@pytest.mark.slow
def test_validation_cut_short_runs_again_on_resume(tiny_config, tmp_path, monkeypatch):
    cfg = load_config(tiny_config, COMMON)
    full = train(cfg, tmp_path / "full", progress=False)
    run = tmp_path / "run"
    _with_callback(monkeypatch, _DieInValidation(epoch=1))
    with pytest.raises(RuntimeError, match="killed during validation"):
        train(cfg, run, progress=False)
    # The last step checkpoint comes from before the final validation (step 6 of 8) ...
    assert torch.load(run / "checkpoints" / "last.ckpt")["global_step"] == 6
    monkeypatch.undo()
    train(cfg, run, resume=True, progress=False)
    # ... so the resumed run trains steps 7-8 again, runs that validation and picks the same
    # best checkpoint as the uninterrupted run.
    best = torch.load(run / "checkpoints" / "best.ckpt")
    assert best["epoch"] == torch.load(full / "checkpoints" / "best.ckpt")["epoch"]
    _assert_same_weights(full / "checkpoints" / "best.ckpt", run / "checkpoints" / "best.ckpt")


@pytest.fixture
def short_run(tiny_config, tmp_path):
    cfg = load_config(tiny_config, ["--train.max_epochs", "1", "--train.limit_train_batches", "2"])
    return cfg, train(cfg, tmp_path / "run", progress=False)


def _snapshot(run) -> dict[str, bytes]:
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def test_resume_with_a_changed_model_is_refused_before_anything_is_written(short_run, tiny_config):
    _, run = short_run
    before = _snapshot(run)
    cfg = load_config(
        tiny_config,
        ["--model.channels", "16", "--train.lr", "0.1", "--train.max_epochs", "3"],
    )
    with pytest.raises(InputError) as e:
        train(cfg, run, resume=True, progress=False)
    msg = str(e.value)
    assert "model.channels: 8 in the run, 16 now" in msg
    assert "train.lr" in msg and "train.max_epochs" not in msg.split("only")[0]
    assert "train.max_epochs, train.max_steps, train.max_time" in msg
    assert _snapshot(run) == before


def test_resume_lists_the_safe_changes(short_run, tiny_config, caplog):
    _, run = short_run
    cfg = load_config(tiny_config, ["--train.max_epochs", "2", "--train.limit_train_batches", "2"])
    with caplog.at_level("WARNING", logger="genodil.train.run"):
        train(cfg, run, resume=True, progress=False)
    assert "train.max_epochs: 1 -> 2" in caplog.text
    assert torch.load(run / "checkpoints" / "last.ckpt")["epoch"] == 1


def test_run_dir_with_only_a_step_checkpoint_is_not_restarted(short_run):
    cfg, run = short_run
    (run / "checkpoints" / "best.ckpt").unlink()
    (run / "config.yaml").unlink()
    before = _snapshot(run)
    with pytest.raises(InputError, match=r"already holds a run \(logs, checkpoints/last.ckpt"):
        train(cfg, run, progress=False)
    assert _snapshot(run) == before


def test_overwrite_discards_the_earlier_run(short_run):
    cfg, run = short_run
    (run / "checkpoints" / "stale.ckpt").write_bytes(b"old")
    train(cfg, run, progress=False, overwrite=True)
    names = sorted(p.name for p in (run / "checkpoints").iterdir())
    assert names == ["best.ckpt", "last.ckpt"]
    with pytest.raises(InputError, match="not both"):
        train(cfg, run, resume=True, overwrite=True, progress=False)


def test_truncated_last_checkpoint_falls_back_to_best(short_run, tiny_config, caplog):
    _, run = short_run
    last = run / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[:5000])
    chosen = run_mod.resume_checkpoint(run)
    assert chosen.name == "best.ckpt"
    cfg = load_config(tiny_config, ["--train.max_epochs", "2", "--train.limit_train_batches", "2"])
    with caplog.at_level("WARNING", logger="genodil.train.run"):
        train(cfg, run, resume=True, progress=False)
    assert "last.ckpt is truncated or unreadable; resuming from" in caplog.text
    assert torch.load(last, weights_only=True)["global_step"] == 4


def test_resume_with_no_readable_checkpoint_raises(short_run):
    cfg, run = short_run
    for p in (run / "checkpoints").glob("*.ckpt"):
        p.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(InputError, match=r"no checkpoint in .* is readable"):
        train(cfg, run, resume=True, progress=False)
