"""Signals and kills at random points of real CLI runs (slow: each starts several processes).

- SIGINT (Ctrl-C) of predict, score-variants, evaluate and train: exit 130, one line saying
  so, no output or temporary file left (train: last.ckpt saved, and --resume continues).
- SIGKILL of predict: no complete-looking output is left; running the command again works.
- SIGKILL of train at a random step, then --resume: the same weights as a run never killed.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyBigWig
import pytest
import torch
import yaml

from tests.reliability.conftest import ROOT, run_cli, snapshot, tiny_config, write_data

pytestmark = pytest.mark.slow


def _start(*args: str, cwd: Path) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "GENODIL_ALLOCATOR": "default"}
    env["PYTHONWARNINGS"] = "ignore"
    return subprocess.Popen(
        [sys.executable, "-m", "genodil.cli", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _wait_for(path: Path, proc: subprocess.Popen, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)


def _weights(ckpt: Path) -> dict[str, torch.Tensor]:
    state = torch.load(ckpt, map_location="cpu", weights_only=True)["state_dict"]
    return {k: v for k, v in state.items() if k.startswith("model.")}


def _commands(shared, ws: Path) -> dict[str, tuple[list[str], Path]]:
    return {
        "predict": (
            [
                "predict", "--checkpoint", str(shared.ckpt), "--fasta", str(shared.fasta),
                "--genome", "--out", str(ws / "pred"), "--quiet", "--batch-size", "1",
            ],
            ws / "pred",
        ),
        "score-variants": (
            [
                "score-variants", "--checkpoint", str(shared.ckpt), "--fasta",
                str(shared.fasta), "--vcf", str(shared.vcf), "--out", str(ws / "s.tsv"),
                "--quiet",
            ],
            ws / "s.tsv",
        ),
        "evaluate": (
            ["evaluate", "--checkpoint", str(shared.run), "--out", str(ws / "m.json"),
             "--batch-size", "1"],
            ws / "m.json",
        ),
    }  # fmt: skip


@pytest.mark.parametrize("command", ["predict", "score-variants", "evaluate"])
def test_sigint_at_a_random_point_leaves_nothing(command, shared, tmp_path):
    rng = random.Random(command)
    for attempt in range(3):
        ws = tmp_path / f"ws{attempt}"
        ws.mkdir()
        args, out = _commands(shared, ws)[command]
        (ws / "keep.txt").write_text("pre-existing\n")
        before = snapshot(ws, shared.root)
        proc = _start(*args, cwd=ws)
        time.sleep(rng.uniform(1.0, 6.0))  # from import to the last write
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=120)
        assert "Traceback" not in err, err[-2000:]
        if proc.returncode == 0:  # it finished first: the output must be complete
            assert out.exists()
            continue
        # 130 from genodil's handler; -SIGINT when the interrupt lands where CPython itself
        # ends the process by SIGINT (interpreter start-up or shutdown). A shell reports both
        # as 130; either way nothing may be left behind. (Known gap: no message in the latter.)
        assert proc.returncode in (130, -signal.SIGINT), err[-2000:]
        if proc.returncode == 130:
            assert "interrupted" in err
        elif out.exists():  # the work had finished (renamed into place) when SIGINT landed
            continue
        assert snapshot(ws, shared.root) == before


def test_sigkill_of_predict_never_leaves_a_complete_looking_bigwig(shared, tmp_path):
    rng = random.Random(0)
    ws = tmp_path / "ws"
    ws.mkdir()
    args, out = _commands(shared, ws)["predict"]
    for _ in range(3):
        proc = _start(*args, "--overwrite", cwd=ws) if (out / "a.bw").exists() else None
        proc = proc or _start(*args, cwd=ws)
        time.sleep(rng.uniform(1.0, 6.0))
        proc.kill()
        proc.communicate()
        for bw_path in out.glob("*.bw"):
            bw = pyBigWig.open(str(bw_path))
            assert bw is not None and bw.isBigWig(), bw_path
            bw.close()
    done = run_cli(*args, *(["--overwrite"] if (out / "a.bw").exists() else []), cwd=ws)
    assert done.returncode == 0, done.stderr[-2000:]
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]


def _train_cfg(folder: Path, max_epochs: int = 2) -> Path:
    write_data(folder / "data")
    cfg = tiny_config(folder / "data")
    cfg["train"].update(
        max_epochs=max_epochs,
        limit_train_batches=6,
        limit_val_batches=1,
        checkpoint_every_n_steps=1,
    )
    path = folder / "run.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_sigint_of_train_saves_last_and_resume_continues(tmp_path):
    cfg = _train_cfg(tmp_path, max_epochs=20)  # long enough to still run when signalled
    run = tmp_path / "run"
    proc = _start("train", "--config", str(cfg), "--out", str(run), "--quiet", cwd=tmp_path)
    _wait_for(run / "checkpoints" / "last.ckpt", proc)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=300)
    if proc.returncode == 0:
        pytest.skip("training finished before the signal arrived")
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted; resume with --resume" in err
    assert "Traceback" not in err
    step = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)["global_step"]
    # Stopping earlier is a safe change on resume: 3 epochs.
    done = run_cli(
        "train", "--config", str(cfg), "--out", str(run), "--resume", "--quiet",
        "--train.max_epochs", "3", timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "train.max_epochs: 20 -> 3" in done.stderr
    final = torch.load(run / "checkpoints" / "last.ckpt", weights_only=True)
    assert final["epoch"] == 2 and final["global_step"] > step
    assert final["global_step"] % 3 == 0  # three whole epochs, none counted twice


def test_sigkill_of_train_at_a_random_step_then_resume_is_exact(tmp_path):
    cfg = _train_cfg(tmp_path)
    full = run_cli("train", "--config", str(cfg), "--out", str(tmp_path / "full"), "--quiet")
    assert full.returncode == 0, full.stderr[-2000:]
    run = tmp_path / "run"
    proc = _start("train", "--config", str(cfg), "--out", str(run), "--quiet", cwd=tmp_path)
    _wait_for(run / "checkpoints" / "last.ckpt", proc)
    time.sleep(random.Random(1).uniform(0.0, 3.0))
    proc.kill()
    proc.communicate()
    resumed = run_cli("train", "--config", str(cfg), "--out", str(run), "--resume", "--quiet")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    wa = _weights(tmp_path / "full" / "checkpoints" / "last.ckpt")
    wb = _weights(run / "checkpoints" / "last.ckpt")
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=0, atol=0, msg=k)
    wa = _weights(tmp_path / "full" / "checkpoints" / "best.ckpt")
    wb = _weights(run / "checkpoints" / "best.ckpt")
    for k in wa:
        torch.testing.assert_close(wa[k], wb[k], rtol=0, atol=0, msg=k)
