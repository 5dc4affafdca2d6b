"""Training runs: loss falls, overfitting, checkpoint round trip, resume, kill, DDP."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
import yaml

from genodil.config import load_config
from genodil.errors import InputError
from genodil.train.io import load_model
from genodil.train.run import build_run, train

BIN = Path(sys.executable).parent


def _weights(ckpt: Path) -> dict[str, torch.Tensor]:
    state = torch.load(ckpt, map_location="cpu", weights_only=False)["state_dict"]
    return {k: v for k, v in state.items() if k.startswith("model.")}


def test_training_loss_falls_and_overfits_one_batch(tiny_config, tmp_path):
    cfg = load_config(
        tiny_config,
        [
            "--train.max_epochs",
            "4",
            "--train.limit_train_batches",
            "8",
            "--train.limit_val_batches",
            "1",
            "--train.lr",
            "0.01",
        ],
    )
    run = train(cfg, tmp_path / "run", progress=False)
    log = pd.read_csv(run / "logs" / "version_0" / "metrics.csv")
    losses = log["train_loss"].dropna().to_numpy()
    assert len(losses) >= 30
    assert losses[-5:].mean() < 0.85 * losses[:3].mean()


@pytest.mark.filterwarnings("ignore:You requested to overfit:UserWarning")
def test_overfit_single_batch(tiny_config, tmp_path):
    cfg = load_config(
        tiny_config,
        [
            "--train.max_epochs",
            "80",
            "--data.augment",
            "{}",
            "--model.dropout",
            "0",
            "--train.lr",
            "0.02",
            "--train.schedule",
            "constant",
        ],
    )
    cfg.trainer = {"overfit_batches": 1, "check_val_every_n_epoch": 40, "num_sanity_val_steps": 0}
    run = train(cfg, tmp_path / "run", progress=False)
    losses = (
        pd.read_csv(run / "logs" / "version_0" / "metrics.csv")["train_loss"].dropna().to_numpy()
    )
    # The Poisson NLL (without log y!) of a perfect fit is >= 0 for these counts; memorising
    # one batch must cut the loss well below where it started.
    assert losses[-1] < 0.5 * losses[0]


def test_checkpoint_reload_gives_identical_predictions(tiny_config, tmp_path):
    cfg = load_config(tiny_config, ["--train.max_epochs", "1", "--train.limit_train_batches", "3"])
    run = train(cfg, tmp_path / "run", progress=False)
    loaded = load_model(run / "checkpoints" / "last.ckpt")
    assert loaded.track_names == ["peak", "plus", "minus"]
    assert (loaded.window, loaded.crop, loaded.bin_size) == (1024, 128, 1)
    assert loaded.strand_pairs == [0, 2, 1]
    _, module, _ = build_run(cfg)
    state = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)["state_dict"]
    module.load_state_dict(state)
    module.eval()
    x = torch.nn.functional.one_hot(torch.randint(0, 4, (2, 1024)), 4).float().transpose(1, 2)
    with torch.no_grad():
        torch.testing.assert_close(loaded.model(x)["signal"], module(x)["signal"], rtol=0, atol=0)
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", weights_only=False)
    assert ckpt["genodil"]["version"]
    assert ckpt["genodil"]["data"]["tracks"][1]["strand_pair"] == "minus"
    assert (run / "config.yaml").exists()


def test_bin_loss_settings_reach_the_training_loss(tiny_config):
    from genodil.train.losses import binned_poisson_loss, poisson_loss

    options = ["--train.bin_loss_weight", "0.5", "--train.bin_loss_size", "64"]
    cfg = load_config(tiny_config, [*options, "--data.bin_size", "2"])
    dm, module, _ = build_run(cfg)
    assert (module.hparams.bin_loss_weight, module.hparams.bin_positions) == (0.5, 32)
    dm.setup("fit")
    batch = next(iter(dm.val_dataloader()))
    module.eval()
    with torch.no_grad():
        out, per_track = module._loss(batch)
    signal, target = out["signal"].float(), batch["target"].float()
    want = poisson_loss(signal, target) + 0.5 * binned_poisson_loss(signal, target, 32)
    torch.testing.assert_close(per_track, want)
    assert not torch.allclose(per_track, poisson_loss(signal, target))


def test_track_loss_weights_reach_the_training_loss(tiny_config):
    import yaml

    raw = yaml.safe_load(tiny_config.read_text())
    n = len(raw["data"]["tracks"])
    raw["data"]["tracks"][-1]["loss_weight"] = 3
    raw["train"]["loss_weight_ramp"] = [10, 20]
    path = tiny_config.parent / "weighted.yaml"
    path.write_text(yaml.safe_dump(raw))
    _, module, _ = build_run(load_config(path))
    assert module.hparams.track_weights == [1.0] * (n - 1) + [3.0]
    per_track = torch.rand(2, n)
    want = per_track.clone()
    want[:, -1] *= 3
    torch.testing.assert_close(module._weighted_mean(per_track), want.mean())
    # train.loss_weight_ramp reaches the training loss: plain mean before step 10
    torch.testing.assert_close(module._weighted_mean(per_track, 0), per_track.mean())
    _, plain, _ = build_run(load_config(tiny_config))
    assert plain.hparams.track_weights is None


def test_a_ramp_with_no_weighted_track_says_it_does_nothing(tiny_config, caplog):
    raw = yaml.safe_load(tiny_config.read_text())
    raw["train"]["loss_weight_ramp"] = [10, 20]
    path = tiny_config.parent / "idle_ramp.yaml"
    path.write_text(yaml.safe_dump(raw))
    with caplog.at_level("WARNING", logger="genodil.train.run"):
        build_run(load_config(path))
    assert "loss_weight_ramp is [10, 20] but every track has loss_weight 1" in caplog.text
    caplog.clear()
    raw["data"]["tracks"][0]["loss_weight"] = 2
    path.write_text(yaml.safe_dump(raw))
    with caplog.at_level("WARNING", logger="genodil.train.run"):
        build_run(load_config(path))
    assert "loss_weight_ramp" not in caplog.text


def test_resume_at_epoch_boundary_equals_uninterrupted(tiny_config, tmp_path):
    # A constant schedule after a 6-step warm-up that spans the epoch boundary (step 4): the
    # first part may then stop at max_epochs 1 and still follow the same LR curve, while the
    # scheduler, optimizer, RNG and data order must all be restored for the weights to match.
    common = [
        "--train.limit_train_batches",
        "4",
        "--train.limit_val_batches",
        "2",
        "--train.schedule",
        "constant",
        "--train.warmup_steps",
        "6",
    ]
    full = train(
        load_config(tiny_config, [*common, "--train.max_epochs", "3"]),
        tmp_path / "a",
        progress=False,
    )
    part = tmp_path / "b"
    train(load_config(tiny_config, [*common, "--train.max_epochs", "1"]), part, progress=False)
    train(
        load_config(tiny_config, [*common, "--train.max_epochs", "3"]),
        part,
        resume=True,
        progress=False,
    )
    wa, wb = (
        _weights(full / "checkpoints" / "last.ckpt"),
        _weights(part / "checkpoints" / "last.ckpt"),
    )
    assert wa.keys() == wb.keys()
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=0, atol=0, msg=k)
    ca = torch.load(full / "checkpoints" / "last.ckpt", weights_only=False)
    cb = torch.load(part / "checkpoints" / "last.ckpt", weights_only=False)
    assert ca["global_step"] == cb["global_step"] == 12
    assert ca["epoch"] == cb["epoch"]


def test_resume_without_checkpoint_and_reuse_of_finished_run_raise(tiny_config, tmp_path):
    cfg = load_config(tiny_config, ["--train.max_epochs", "1", "--train.limit_train_batches", "1"])
    with pytest.raises(InputError, match="--resume given but"):
        train(cfg, tmp_path / "new", resume=True, progress=False)
    train(cfg, tmp_path / "done", progress=False)
    with pytest.raises(InputError, match="already holds a run"):
        train(cfg, tmp_path / "done", progress=False)


@pytest.mark.slow
def test_killed_mid_epoch_resumes_to_valid_best(tiny_data, tmp_path):
    cfg_path = tiny_data / "slow.yaml"
    from tests.conftest import run_config

    cfg = run_config(
        tiny_data,
        train={"max_epochs": 2, "checkpoint_every_n_steps": 2, "limit_val_batches": 2},
    )
    cfg_path.write_text(yaml.safe_dump(cfg))
    run = tmp_path / "run"
    cmd = [str(BIN / "genodil"), "train", "--config", str(cfg_path), "--out", str(run), "--quiet"]
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    last = run / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 120
    while not last.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    assert last.exists(), proc.communicate()[0].decode()[-2000:]
    step_at_kill = torch.load(last, weights_only=False)["global_step"]
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert step_at_kill < 2 * 19, "the run finished before it could be killed"
    # No half-written checkpoint is left looking complete.
    leftovers = [p.name for p in last.parent.iterdir() if p.name not in ("best.ckpt", "last.ckpt")]
    assert all(name.startswith(".") for name in leftovers)
    done = subprocess.run([*cmd, "--resume"], env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    best = load_model(run / "checkpoints" / "best.ckpt")
    assert best.track_names == ["peak", "plus", "minus"]
    final = torch.load(last, weights_only=False)
    assert final["global_step"] > step_at_kill
    assert final["epoch"] == 1


DDP_SCRIPT = r"""
import hashlib, sys
from pathlib import Path
import lightning as L
import torch
from genodil.config import load_config
from genodil.train import run as run_mod

class Dump(L.Callback):
    def on_fit_end(self, trainer, pl_module):
        h = hashlib.sha256()
        for k, v in sorted(pl_module.model.state_dict().items()):
            h.update(k.encode()); h.update(v.detach().cpu().contiguous().numpy().tobytes())
        bn = any(isinstance(m, torch.nn.SyncBatchNorm) for m in pl_module.model.modules())
        Path(sys.argv[2], f"rank{trainer.global_rank}.txt").write_text(f"{h.hexdigest()} {bn}")

orig = run_mod._trainer


def _with_dump(*args, **kwargs):
    trainer = orig(*args, **kwargs)
    trainer.callbacks.append(Dump())
    return trainer


run_mod._trainer = _with_dump
cfg = load_config(sys.argv[1], ["--train.devices", "2", "--train.strategy", "ddp",
                                "--train.max_epochs", "1", "--train.limit_train_batches", "3",
                                "--train.limit_val_batches", "2"])
run_mod.train(cfg, sys.argv[2], progress=False)
"""


@pytest.mark.slow
def test_ddp_two_cpu_processes_agree_on_weights(tiny_config, tmp_path):
    script = tmp_path / "ddp_run.py"
    script.write_text(DDP_SCRIPT)
    out = tmp_path / "run"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    res = subprocess.run(
        [sys.executable, str(script), str(tiny_config), str(out)],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert res.returncode == 0, res.stderr[-3000:]
    r0 = (out / "rank0.txt").read_text().split()
    r1 = (out / "rank1.txt").read_text().split()
    assert r0[0] == r1[0]
    # SyncBatchNorm needs CUDA: on CPU (gloo) each process keeps its own BatchNorm statistics.
    assert r0[1] == r1[1] == "False"


@pytest.mark.parametrize("var", ["RANK", "LOCAL_RANK", "NODE_RANK"])
def test_run_folder_guard_is_rank_zeros_job(tiny_config, tmp_path, monkeypatch, var):
    from genodil.train.run import _is_launch_rank_zero

    for name in ("RANK", "LOCAL_RANK", "NODE_RANK"):
        monkeypatch.delenv(name, raising=False)
    assert _is_launch_rank_zero()
    monkeypatch.setenv(var, "0")
    assert _is_launch_rank_zero()
    monkeypatch.setenv(var, "1")
    assert not _is_launch_rank_zero()


def test_precision_auto_uses_bf16_only_on_cpus_with_native_bf16(monkeypatch):
    from genodil.train import run as run_mod

    assert not run_mod.cpu_has_native_bf16("flags : fpu sse avx2 avx512f")
    with_flag = "flags : fpu avx512f amx_bf16 amx_tile"
    assert run_mod.cpu_has_native_bf16(with_flag) == bool(
        torch.ops.mkldnn._is_mkldnn_bf16_supported()
    )
    assert run_mod._precision("32", "cpu") == "32"  # an explicit choice is kept
    monkeypatch.setattr(run_mod, "cpu_has_native_bf16", lambda: False)
    assert run_mod._precision("auto", "cpu") == "32-true"
    monkeypatch.setattr(run_mod, "cpu_has_native_bf16", lambda: True)
    assert run_mod._precision("auto", "cpu") == "bf16-mixed"


def test_lr_factor_schedules_against_hand_values():
    from genodil.train.module import lr_factor

    # warm-up 10 steps, 110 in all: progress (step - 10) / 100 after warm-up
    assert lr_factor("wsd", 4, 10, 110, 0.01) == pytest.approx(5 / 11)
    assert lr_factor("constant", 100, 10, 110, 0.01) == 1.0
    assert lr_factor("wsd", 90, 10, 110, 0.01, 0.2) == 1.0  # progress 0.8: decay starts
    assert lr_factor("wsd", 100, 10, 110, 0.01, 0.2) == pytest.approx(1 - 0.99 * 0.5)
    assert lr_factor("wsd", 110, 10, 110, 0.01, 0.2) == pytest.approx(0.01)
    assert lr_factor("cosine", 60, 10, 110, 0.0) == pytest.approx(0.5)
    # the time limit drives progress when it is further along than the steps
    assert lr_factor("wsd", 20, 10, 10**6, 0.01, 0.2, time_fraction=0.9) == pytest.approx(0.505)
    assert lr_factor("cosine", 20, 10, 10**6, 0.0, time_fraction=1.0) == pytest.approx(0.0)
    assert lr_factor("wsd", 20, 10, 10**6, 0.01, 0.2, time_fraction=1.7) == pytest.approx(0.01)


def test_time_boxed_wsd_run_ends_annealed(tiny_config, tmp_path):
    # max_time stops this run long before its planned epochs; the schedule follows the clock,
    # so its last learning rate is near the floor, not the peak a step count alone would give.
    cfg = load_config(
        tiny_config,
        [
            *("--train.max_epochs", "1000", "--train.max_time", "4s"),
            *("--train.schedule", "wsd", "--train.decay_fraction", "1.0"),
            *("--train.min_lr_ratio", "0.0", "--train.warmup_steps", "0", "--train.lr", "0.01"),
            *("--train.limit_train_batches", "4", "--train.limit_val_batches", "1"),
        ],
    )
    run = train(cfg, tmp_path / "run", progress=False)
    ckpt = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=False)
    last_lr = ckpt["lr_schedulers"][0]["_last_lr"][0]
    # The last update comes after the step that used up the time, so it sees the whole run
    # spent, however slow the host (a step-based schedule over 1000 epochs would give ~0.01).
    assert ckpt["global_step"] >= 1
    assert last_lr < 0.05 * 0.01
