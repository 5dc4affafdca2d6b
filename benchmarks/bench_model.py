"""Benchmark of DilatedResNet training steps: throughput and peak memory, with and without
activation checkpointing, glibc malloc tunables and bf16 autocast.

Every configuration runs in a fresh subprocess (so its peak RSS, from
``resource.getrusage(RUSAGE_SELF).ru_maxrss``, is its own and glibc tunables apply from
process start). A step is forward + backward (``signal.mean()``) of a model in train mode
(dropout 0.1, BatchNorm), gradients dropped after each step; 1 warm-up step, then the median
of ``--steps`` timed steps (default 1; 2 with ``--quick``). Configurations (full run, CPU):

- ``fp32``, ``fp32_ckpt``: batch 4 x 32,768 bp, C = 64, 14 blocks (exponential rate 2,
  R = 32,781 bp), default glibc malloc, without / with checkpointing of every block;
- ``fp32_tuned``, ``fp32_ckpt_tuned``: the same with
  ``GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736``
  (DESIGN section 7: the allocator dominates CPU training);
- ``bf16_tuned``: the same under ``torch.autocast("cpu", torch.bfloat16)``;
- ``long_ckpt_tuned``: batch 1 x 131,072 bp, C = 128, checkpointed (must fit in 24 GB); one
  step, no warm-up (its point is the peak memory).

On a CUDA device (``--device cuda``) peak memory is ``torch.cuda.max_memory_allocated`` and the
runs are fp32, bf16 autocast and bf16 + ``torch.compile`` (eager vs compiled), each with and
without checkpointing.

Usage::

    .venv/bin/python benchmarks/bench_model.py            # full CPU run, ~10 min on 2 cores
    .venv/bin/python benchmarks/bench_model.py --quick    # smaller sizes, a few minutes
    .venv/bin/python benchmarks/bench_model.py --device cuda

The last line printed is one JSON object: ``bp_per_s`` and ``peak_rss_gb`` of the fp32 baseline,
``ckpt_memory_saving`` (peak RSS without / with checkpointing; ``ckpt_activation_saving`` the
same for the memory added by the step), ``ckpt_time_ratio`` (step time with / without), the
allocator and bf16 speed-ups, the long-window peak, and every configuration's figures.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TUNABLES = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736"


def _rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def worker(cfg: dict) -> dict:
    """Time ``cfg['steps']`` training steps of one configuration in this process."""
    import torch

    from genodil.models import DilatedResNet

    device = torch.device(cfg["device"])
    torch.manual_seed(0)
    model = DilatedResNet(
        channels=cfg["channels"],
        dilations={"schedule": "exponential", "rate": 2, "blocks": cfg["blocks"]},
        checkpoint_blocks=cfg["ckpt"],
    ).to(device)
    model.train()
    step_model = torch.compile(model) if cfg.get("compile") else model
    codes = torch.randint(0, 4, (cfg["batch"], cfg["length"]))
    seq = torch.nn.functional.one_hot(codes, 4).transpose(1, 2).float().to(device)  # (B, 4, L)
    dtype = torch.bfloat16 if cfg["bf16"] else None

    def step() -> None:
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = step_model(seq)["signal"].float().mean()
        loss.backward()
        model.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()

    rss0 = _rss_bytes()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    times = []
    warmup = cfg.get("warmup", 1)
    for _ in range(warmup + cfg["steps"]):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    step_s = statistics.median(times[warmup:])
    out = {
        "step_s": step_s,
        "min_step_s": min(times[warmup:]),
        "first_step_s": times[0],
        "bp_per_s": cfg["batch"] * cfg["length"] / step_s,
        "peak_rss_gb": peak / 1e9,
        "step_rss_gb": (peak - rss0) / 1e9,
        "threads": torch.get_num_threads(),
    }
    if device.type == "cuda":
        out["peak_gpu_gb"] = torch.cuda.max_memory_allocated() / 1e9
        out["gpu"] = torch.cuda.get_device_name()
    return out


def run_config(name: str, cfg: dict, tuned: bool, timeout: int) -> dict:
    """Run one configuration in a fresh interpreter and return its figures."""
    env = dict(os.environ)
    env.pop("GLIBC_TUNABLES", None)
    if tuned:
        env["GLIBC_TUNABLES"] = TUNABLES
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    cmd = [sys.executable, __file__, "--worker", json.dumps(cfg)]
    t0 = time.perf_counter()
    proc = subprocess.run(
        cmd, check=False, env=env, capture_output=True, text=True, timeout=timeout
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{name} failed:\n{proc.stderr[-3000:]}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["wall_s"] = time.perf_counter() - t0
    res.update({k: cfg[k] for k in ("batch", "length", "channels", "ckpt", "bf16")})
    res["glibc_tunables"] = tuned
    shown = ", ".join(
        f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}"
        for k, v in res.items()
        if k in ("step_s", "bp_per_s", "peak_rss_gb", "step_rss_gb", "peak_gpu_gb")
    )
    print(f"{name:<18} {shown}", flush=True)
    return res


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes for a smoke run")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--steps", type=int, default=None, help="timed steps per config")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker))))
        return 0

    quick = args.quick
    # 2 cores shared with other work: one timed step after one warm-up keeps the full run
    # near 10 minutes; --steps raises it.
    steps = args.steps or (2 if quick else 1)
    base = {
        "device": args.device,
        "batch": 2 if quick else 4,
        "length": 8192 if quick else 32768,
        "channels": 32 if quick else 64,
        "blocks": 14,
        "steps": steps,
        "bf16": False,
        "ckpt": False,
    }
    long = {
        **base,
        "batch": 1,
        "length": 32768 if quick else 131072,
        "channels": 128,
        "warmup": 0,  # its point is the peak memory; one step measures it
        "steps": 1,
    }
    timeout = 600
    print(
        f"DilatedResNet fwd+bwd, {base['blocks']} blocks, device {args.device}, "
        f"{'quick' if quick else 'full'} run, median of {steps} step(s) after 1 warm-up "
        "(long window: 1 step)",
        flush=True,
    )
    res: dict[str, dict] = {}
    if args.device == "cpu":
        plan = [
            ("fp32", base, False),
            ("fp32_ckpt", {**base, "ckpt": True}, False),
            ("fp32_tuned", base, True),
            ("fp32_ckpt_tuned", {**base, "ckpt": True}, True),
            ("bf16_tuned", {**base, "bf16": True}, True),
            ("long_ckpt_tuned", {**long, "ckpt": True}, True),
        ]
    else:
        plan = [
            ("fp32", base, False),
            ("fp32_ckpt", {**base, "ckpt": True}, False),
            ("bf16", {**base, "bf16": True}, False),
            ("bf16_ckpt", {**base, "bf16": True, "ckpt": True}, False),
            ("bf16_compiled", {**base, "bf16": True, "compile": True}, False),
            ("bf16_ckpt_compiled", {**base, "bf16": True, "ckpt": True, "compile": True}, False),
            ("long_ckpt", {**long, "ckpt": True}, False),
            ("long", long, False),
        ]
    for name, cfg, tuned in plan:
        try:
            res[name] = run_config(name, cfg, tuned, timeout)
        except (RuntimeError, subprocess.TimeoutExpired) as err:
            print(f"{name:<18} FAILED: {str(err)[-500:]}", flush=True)

    mem = "peak_rss_gb" if args.device == "cpu" else "peak_gpu_gb"

    def ratio(a: str, b: str, key: str) -> float | None:
        if a in res and b in res:
            return res[a][key] / res[b][key]
        return None

    summary = {
        "benchmark": "bench_model",
        "device": args.device,
        "quick": quick,
        "input": f"{base['batch']}x{base['length']}",
        "channels": base["channels"],
        "blocks": base["blocks"],
        "bp_per_s": res.get("fp32", {}).get("bp_per_s"),
        "peak_rss_gb": res.get("fp32", {}).get("peak_rss_gb"),
        "ckpt_memory_saving": ratio("fp32", "fp32_ckpt", mem),
        "ckpt_activation_saving": ratio("fp32", "fp32_ckpt", "step_rss_gb"),
        "ckpt_time_ratio": ratio("fp32_ckpt", "fp32", "step_s"),
    }
    if args.device == "cpu":
        summary.update(
            tuned_speedup=ratio("fp32", "fp32_tuned", "step_s"),
            tuned_ckpt_memory_saving=ratio("fp32_tuned", "fp32_ckpt_tuned", mem),
            tuned_ckpt_time_ratio=ratio("fp32_ckpt_tuned", "fp32_tuned", "step_s"),
            bf16_speedup_vs_tuned=ratio("fp32_tuned", "bf16_tuned", "step_s"),
            long_input=f"{long['batch']}x{long['length']}, C={long['channels']}",
            long_peak_rss_gb=res.get("long_ckpt_tuned", {}).get(mem),
            long_bp_per_s=res.get("long_ckpt_tuned", {}).get("bp_per_s"),
        )
        if summary["long_peak_rss_gb"] is not None:
            summary["long_fits_24gb"] = summary["long_peak_rss_gb"] < 24
    else:
        summary.update(
            bf16_speedup=ratio("fp32", "bf16", "step_s"),
            compile_speedup=ratio("bf16", "bf16_compiled", "step_s"),
            long_peak_gpu_gb=res.get("long_ckpt", {}).get(mem),
            long_nockpt_peak_gpu_gb=res.get("long", {}).get(mem),
        )
    summary["configs"] = res
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
