"""Shared inputs of the reliability catalogue: one tiny genome, its tracks and one trained run.

Everything here is a real file (FASTA + .fai, bigWig, VCF, BED, a checkpoint written by
``genodil train``); the session builds them once and cases only read them.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.helpers import random_seq, write_bed, write_bigwig, write_fasta, write_vcf

ROOT = Path(__file__).resolve().parents[2]
SIZES = {"c1": 6000, "c2": 3000, "c3": 3000}


@dataclass
class Shared:
    """Paths of the session's shared inputs."""

    root: Path
    fasta: Path
    bw: Path
    bw2: Path
    vcf: Path
    bed: Path
    config: Path
    run: Path

    @property
    def ckpt(self) -> Path:
        return self.run / "checkpoints" / "best.ckpt"


def tiny_config(data: Path, **data_overrides) -> dict:
    """A run config over ``data`` (genome.fa, a.bw, b.bw) that trains in seconds."""
    cfg = {
        "data": {
            "fasta": str(data / "genome.fa"),
            "tracks": [
                {"name": "a", "path": str(data / "a.bw")},
                {"name": "b", "path": str(data / "b.bw")},
            ],
            "window": 512,
            "crop": 64,
            "splits": {"valid": ["c2"], "test": ["c3"]},
            "batch_size": 4,
            **data_overrides,
        },
        "model": {"channels": 4, "dilations": {"schedule": "exponential", "rate": 2, "blocks": 3}},
        "train": {
            "max_epochs": 1,
            "limit_train_batches": 2,
            "limit_val_batches": 1,
            "accelerator": "cpu",
            "warmup_steps": 1,
            "log_every_n_steps": 1,
        },
    }
    return cfg


def write_data(folder: Path, seed: int = 0) -> dict[str, Path]:
    """genome.fa (+ .fai), a.bw, b.bw (counts >= 0) in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    seqs = {c: random_seq(n, seed=seed + i) for i, (c, n) in enumerate(SIZES.items())}
    fasta = write_fasta(folder / "genome.fa", seqs)
    a = write_bigwig(
        folder / "a.bw", {c: rng.poisson(2.0, n).astype(float) for c, n in SIZES.items()}
    )
    b = write_bigwig(
        folder / "b.bw", {c: rng.poisson(1.0, n).astype(float) for c, n in SIZES.items()}
    )
    return {"fasta": fasta, "a": a, "b": b, "seqs": seqs}


class Zygote:
    """Client of tests/reliability/zygote.py: ``run(argv, ...)`` like :func:`run_cli`."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.reliability.zygote"],
            cwd=ROOT,
            env=_env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.lock = threading.Lock()

    def run(
        self, *args: str, cwd: Path | None = None, fsize: int | None = None, **_
    ) -> subprocess.CompletedProcess:
        with tempfile.TemporaryDirectory() as tmp, self.lock:
            out, err = Path(tmp, "out"), Path(tmp, "err")
            req = {"argv": list(args), "cwd": str(cwd or ROOT), "fsize": fsize,
                   "out": str(out), "err": str(err)}  # fmt: skip
            self.proc.stdin.write(json.dumps(req) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the zygote process died")
            code = json.loads(line)["code"]
            return subprocess.CompletedProcess(
                list(args), code, out.read_text(errors="replace"), err.read_text(errors="replace")
            )

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.proc.stdout.close()


@pytest.fixture(scope="session")
def cli():
    """Run the CLI in a fresh process per call: forked from a zygote that imported genodil
    once, or, with GENODIL_CATALOGUE_EXEC=1, as ``python -m genodil.cli`` (slower)."""
    if os.environ.get("GENODIL_CATALOGUE_EXEC") == "1":
        yield run_cli
        return
    zygote = Zygote()
    try:
        yield zygote.run
    finally:
        zygote.close()


@pytest.fixture(scope="session")
def shared(tmp_path_factory, cli) -> Shared:
    """The session's genome, tracks, VCF, BED and one trained run (read-only for cases)."""
    root = tmp_path_factory.mktemp("reliability_shared")
    files = write_data(root / "data")
    seqs = files["seqs"]
    vcf = write_vcf(
        root / "data" / "variants.vcf",
        [("c1", 3000, "v1", seqs["c1"][2999], "A" if seqs["c1"][2999] != "A" else "C")],
        contigs=SIZES,
    )
    bed = write_bed(root / "data" / "regions.bed", [("c1", 1000, 1400)])
    config = root / "data" / "run.yaml"
    config.write_text(yaml.safe_dump(tiny_config(root / "data")))
    run = root / "run"
    res = cli("train", "--config", str(config), "--out", str(run), "--quiet", timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    return Shared(root, files["fasta"], files["a"], files["b"], vcf, bed, config, run)


def _limits(fsize: int | None):
    def apply() -> None:
        if fsize is not None:
            # A file may not grow past fsize bytes: writes beyond fail with EFBIG, as on a full
            # disk, for Python and C writers alike (SIGXFSZ ignored so the write returns).
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))

    return apply


def run_cli(
    *args: str,
    cwd: Path | None = None,
    timeout: float = 300,
    fsize: int | None = None,
    env: dict[str, str] | None = None,
) -> subprocess.CompletedProcess:
    """Run ``python -m genodil.cli ARGS`` in a subprocess; text stdout/stderr."""
    return subprocess.run(
        [sys.executable, "-m", "genodil.cli", *args],
        cwd=cwd or ROOT,
        env=_env(env),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        preexec_fn=_limits(fsize),
    )


def _env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "GENODIL_ALLOCATOR": "default",
        "PYTHONWARNINGS": "ignore",
        **(extra or {}),
    }
    env.pop("GENODIL_DEBUG", None)
    return env


def snapshot(*folders: Path) -> dict[str, bytes]:
    """Every file under ``folders`` (hidden ones too) -> its bytes."""
    out = {}
    for folder in folders:
        for p in sorted(Path(folder).rglob("*")):
            if p.is_file():
                out[str(p)] = p.read_bytes()
    return out
