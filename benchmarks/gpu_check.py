"""GPU check (issue 13), run by ``benchmarks/gpu_check.sh``: one short pass over what a GPU
changes, each part timed and guarded so a failure is reported and the rest still runs.

1. bf16 training steps per second on the ``configs/basenji_1bp.yaml`` shape (C = 128,
   C_mid = 64, 14 blocks, 65,536-bp windows, batch 4), fp32 for comparison;
2. the cached loader's batches per second (``cache_dir``, 2 workers) against the GPU's
   appetite (steps per second from part 1);
3. ``genodil train`` on CUDA (a few steps), then ``genodil predict`` and
   ``genodil score-variants`` with ``--device cuda``;
4. a 1-GPU DDP start (``strategy: ddp``, ``devices: 1``).

Without CUDA (``--cpu``) the same code runs on the CPU at toy sizes, so the script stays
tested. The last line printed is one JSON object.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _sizes(cpu: bool) -> dict:
    if cpu:
        return {"channels": 16, "mid": 8, "blocks": 6, "window": 4096, "crop": 256, "batch": 2}
    return {"channels": 128, "mid": 64, "blocks": 14, "window": 65536, "crop": 16384, "batch": 4}


def train_steps(device: str, sz: dict, steps: int) -> dict:
    """Steps per second of forward + backward + AdamW, fp32 and bf16 autocast."""
    import torch
    import torch.nn.functional as F

    from genodil.models import DilatedResNet

    dil = {"schedule": "exponential", "rate": 2, "blocks": sz["blocks"]}
    model = DilatedResNet(
        n_tracks=4, channels=sz["channels"], mid_channels=sz["mid"], dilations=dil, crop=sz["crop"]
    ).to(device)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    codes = torch.randint(0, 4, (sz["batch"], sz["window"]))
    x = F.one_hot(codes, 4).transpose(1, 2).float().to(device)
    y = torch.poisson(torch.ones(sz["batch"], 4, model.output_length(sz["window"]))).to(device)
    out = {}
    for name, dtype in (("fp32", None), ("bf16", torch.bfloat16)):
        for i in range(steps + 2):
            if i == 2:  # two warm-up steps
                if device.startswith("cuda"):
                    torch.cuda.synchronize()
                t0 = time.perf_counter()
            with torch.autocast(device.split(":")[0], dtype=dtype, enabled=dtype is not None):
                pred = model(x)["signal"].float()
            loss = (pred - y * torch.log(pred + 1e-8)).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        out[f"{name}_steps_per_s"] = steps / (time.perf_counter() - t0)
    if device.startswith("cuda"):
        out["peak_gpu_gb"] = torch.cuda.max_memory_allocated() / 1e9
        out["gpu"] = torch.cuda.get_device_name()
    return out


def loader_rate(data: Path, sz: dict, cache: Path, batches: int) -> dict:
    """Batches per second of the cached loader with 2 workers (first epoch's cache built)."""
    from genodil.data.datamodule import GenomeDataModule
    from genodil.simulate import STRAND_PAIRS, TRACKS

    tracks = [
        {"name": t, "path": str(data / f"{t}.bw"), "strand_pair": STRAND_PAIRS.get(t)}
        for t in TRACKS
    ]
    dm = GenomeDataModule(
        fasta=str(data / "genome.fa"),
        tracks=tracks,
        window=sz["window"],
        crop=sz["crop"],
        stride=4096,
        max_n_fraction=1.0,
        splits={"valid": ["chr3"], "test": ["chr4"]},
        augment={"reverse_complement": True, "max_shift": 3},
        batch_size=sz["batch"],
        num_workers=2,
        cache_dir=str(cache),
    )
    t0 = time.perf_counter()
    dm.setup("fit")
    build = time.perf_counter() - t0
    n, t0 = 0, time.perf_counter()
    while n < batches:
        for _ in dm.train_dataloader():
            n += 1
            if n >= batches:
                break
    return {"cache_build_s": build, "loader_batches_per_s": n / (time.perf_counter() - t0)}


def _run(cmd: list[str], timeout: int) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd[:3])} exited {proc.returncode}: {proc.stderr[-1500:]}")
    return time.perf_counter() - t0


def cli_checks(data: Path, work: Path, device: str, cpu: bool) -> dict:
    """genodil train (CUDA, bf16 auto), predict, score-variants; then a 1-GPU DDP start."""
    exe = [sys.executable, "-m", "genodil.cli"]
    accel = "cpu" if cpu else "gpu"
    common = [
        "--config", str(ROOT / "configs" / "demo.yaml"), "--data_root", str(data),
        "--train.accelerator", accel, "--train.max_steps", "4", "--train.max_epochs", "1",
        "--train.limit_val_batches", "2", "--quiet",
    ]  # fmt: skip
    out: dict = {}
    limit = 900 if cpu else 240  # seconds per command; a shared CPU is slow to start Lightning
    run = work / "run"
    out["train_s"] = _run([*exe, "train", *common, "--out", str(run), "--overwrite"], limit)
    region = (data / "regions_predict.bed").read_text().split("\n")[0].split("\t")[:3]
    out["predict_s"] = _run(
        [*exe, "predict", "--checkpoint", str(run), "--fasta", str(data / "genome.fa"),
         "--region", f"{region[0]}:{region[1]}-{region[2]}", "--out", str(work / "pred"),
         "--device", device, "--quiet"],
        limit,
    )  # fmt: skip
    out["score_variants_s"] = _run(
        [*exe, "score-variants", "--checkpoint", str(run), "--fasta", str(data / "genome.fa"),
         "--vcf", str(data / "variants.vcf"), "--out", str(work / "scores.tsv"),
         "--device", device, "--quiet"],
        limit,
    )  # fmt: skip
    ddp = [*common, "--train.strategy", "ddp", "--train.devices", "1"]
    out["ddp_1gpu_s"] = _run(
        [*exe, "train", *ddp, "--out", str(work / "ddp"), "--overwrite"], limit
    )
    return out


def main(argv: list[str] | None = None) -> int:
    import torch

    from genodil.simulate import simulate

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cpu", action="store_true", help="toy sizes on the CPU (the script's test)")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "out" / "gpu_check"))
    p.add_argument("--parts", default="train_steps,loader,cli", help="comma-separated parts")
    args = p.parse_args(argv)
    cpu = args.cpu or not torch.cuda.is_available()
    device = "cpu" if cpu else "cuda"
    sz = _sizes(cpu)
    work = Path(args.out)
    data = work / "data"
    if not (data / "manifest.json").exists():
        simulate(data, preset="tiny", seed=0)
    summary: dict = {"benchmark": "gpu_check", "device": device, "sizes": sz, "errors": {}}
    parts = (
        ("train_steps", lambda: train_steps(device, sz, 3 if cpu else 20)),
        ("loader", lambda: loader_rate(data, sz, work / "cache", 4 if cpu else 40)),
        ("cli", lambda: cli_checks(data, work, device, cpu)),
    )
    for name, fn in (part for part in parts if part[0] in args.parts.split(",")):
        t0 = time.perf_counter()
        try:
            summary.update(fn())
        except Exception as err:  # noqa: BLE001 - reported, the other parts still run
            summary["errors"][name] = f"{type(err).__name__}: {err}"[-800:]
            traceback.print_exc()
        print(f"{name}: {time.perf_counter() - t0:.1f} s", flush=True)
    steps = summary.get("bf16_steps_per_s")
    batches = summary.get("loader_batches_per_s")
    if steps and batches:
        summary["loader_over_appetite"] = batches / steps  # >= 1: the loader keeps up
    print(json.dumps(summary))
    return 1 if summary["errors"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
