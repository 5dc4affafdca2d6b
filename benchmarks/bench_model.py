"""Benchmark of DilatedResNet training steps: throughput and peak memory, with and without
activation checkpointing, glibc malloc tunables and bf16 autocast.

A step is forward + backward (``signal.mean()``) of a model in train mode (dropout 0.1,
BatchNorm), gradients dropped after each step. Full run, CPU: input 4 x 32,768 bp, C = 64,
14 blocks (exponential rate 2, R = 32,781 bp). Every run is a fresh subprocess, so its peak
RSS (``resource.getrusage(RUSAGE_SELF).ru_maxrss``) is its own and
``GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736``
(docs/architecture.md §8: the allocator dominates CPU training) applies from process start:

- memory runs (one step each): plain and checkpointed, default malloc and tuned; and the long
  window, batch 1 x 131,072 bp with C = 128, checkpointed, tuned (must fit in 24 GB);
- timing runs: plain vs checkpointed (default malloc), and plain vs checkpointed vs bf16
  autocast (tuned), interleaved step by step on one model (checkpointing toggled) after one
  warm-up round, so every variant meets the same machine load; medians of ``--rounds`` rounds.

The machine's 2 cores are shared, so wall time is noisy; each step's CPU time (user + system,
all threads, from ``getrusage``) is reported too and the ratios use it.

On CUDA (``--device cuda``) one timing run covers fp32, bf16 autocast and bf16 +
``torch.compile`` (eager vs compiled), each variant's peak ``torch.cuda.max_memory_allocated``,
and a long-window memory run with and without checkpointing.

Usage::

    .venv/bin/python benchmarks/bench_model.py            # full CPU run, ~10 min on 2 cores
    .venv/bin/python benchmarks/bench_model.py --quick    # smaller sizes, a few minutes
    .venv/bin/python benchmarks/bench_model.py --device cuda

The last line printed is one JSON object: ``bp_per_s`` (fp32, default malloc),
``peak_rss_gb``, ``ckpt_memory_saving`` (peak RSS without / with checkpointing;
``ckpt_step_memory_saving`` the same for the memory a step adds over the built model),
``ckpt_time_ratio`` (CPU seconds per step with / without; ``ckpt_wall_time_ratio`` in wall
time), the same under the tuned allocator, the allocator and bf16 speed-ups, the long-window
peak RSS, and every run's figures.
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


def _cpu_s() -> float:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


def worker(cfg: dict) -> dict:
    """Run training steps of the variants in ``cfg['variants']`` on one model, interleaved.

    Each round runs one step of every variant (checkpointing toggled on the same model,
    autocast on or off), so all variants meet the same machine load. The first ``warmup``
    rounds are not timed. Returns per-variant medians of wall and CPU seconds per step, the
    peak RSS of the process and, on CUDA, each variant's peak GPU memory.
    """
    import torch
    import torch._dynamo  # checkpoint imports it lazily (~70 MB): same baseline for every run

    from genodil.models import DilatedResNet

    device = torch.device(cfg["device"])
    torch.manual_seed(0)
    model = DilatedResNet(
        channels=cfg["channels"],
        dilations={"schedule": "exponential", "rate": 2, "blocks": cfg["blocks"]},
    ).to(device)
    model.train()
    compiled = {}
    codes = torch.randint(0, 4, (cfg["batch"], cfg["length"]))
    seq = torch.nn.functional.one_hot(codes, 4).transpose(1, 2).float().to(device)  # (B, 4, L)

    def step(variant: dict) -> None:
        model.checkpoint_blocks = variant["ckpt"]
        net = model
        if variant.get("compile"):
            net = compiled.setdefault(variant["name"], torch.compile(model))
        dtype = torch.bfloat16 if variant["bf16"] else None
        with torch.autocast(device.type, dtype=dtype, enabled=dtype is not None):
            loss = net(seq)["signal"].float().mean()
        loss.backward()
        model.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize()

    rss0 = _rss_bytes()
    wall: dict[str, list[float]] = {v["name"]: [] for v in cfg["variants"]}
    cpu: dict[str, list[float]] = {v["name"]: [] for v in cfg["variants"]}
    gpu_peak: dict[str, float] = {}
    for r in range(cfg["warmup"] + cfg["rounds"]):
        for variant in cfg["variants"]:
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
            t0, c0 = time.perf_counter(), _cpu_s()
            step(variant)
            t1, c1 = time.perf_counter(), _cpu_s()
            if device.type == "cuda":
                peak = torch.cuda.max_memory_allocated() / 1e9
                gpu_peak[variant["name"]] = max(gpu_peak.get(variant["name"], 0.0), peak)
            if r >= cfg["warmup"]:
                wall[variant["name"]].append(t1 - t0)
                cpu[variant["name"]].append(c1 - c0)
    peak_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    bp = cfg["batch"] * cfg["length"]
    out = {
        "peak_rss_gb": peak_rss / 1e9,
        "step_rss_gb": (peak_rss - rss0) / 1e9,
        "threads": torch.get_num_threads(),
        "variants": {},
    }
    for name, walls in wall.items():
        w, c = statistics.median(walls), statistics.median(cpu[name])
        out["variants"][name] = {
            "step_s": w,
            "cpu_s": c,
            "bp_per_s": bp / w,
            "bp_per_cpu_s": bp / c,
            "steps": len(walls),
        }
        if name in gpu_peak:
            out["variants"][name]["peak_gpu_gb"] = gpu_peak[name]
    if device.type == "cuda":
        out["gpu"] = torch.cuda.get_device_name()
    return out


def reference_stack(channels: int, blocks: int, n_tracks: int = 1, stem_kernel: int = 15):
    """The in-process reference: a plain conv-BN-ReLU dilated stack of the same width and depth.

    Stem Conv1d(4 -> C, stem_kernel) -> ReLU, then ``blocks`` residual layers
    ``h + ReLU(BN(Conv1d(C -> C, 3, dilation 2**i)))`` (gReLU's DilatedConvModel pattern), then
    Conv1d(C -> T, 1) -> softplus.
    """
    import torch.nn.functional as F
    from torch import nn

    class Reference(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv1d(4, channels, stem_kernel, padding=stem_kernel // 2)
            self.convs = nn.ModuleList(
                nn.Conv1d(channels, channels, 3, dilation=2**i, padding=2**i) for i in range(blocks)
            )
            self.norms = nn.ModuleList(nn.BatchNorm1d(channels) for _ in range(blocks))
            self.head = nn.Conv1d(channels, n_tracks, 1)

        def forward(self, seq):
            h = F.relu(self.stem(seq))  # (B, C, L)
            for conv, norm in zip(self.convs, self.norms, strict=True):
                h = h + F.relu(norm(conv(h)))
            return {"signal": F.softplus(self.head(h))}

    return Reference()


def _sim_loader(cfg: dict, prefetch: int):
    """Training loader over the simulator's tiny preset (4 tracks), window ``cfg['length']``."""
    from genodil.data.datamodule import GenomeDataModule
    from genodil.simulate import TRACKS, simulate

    root = ROOT / "benchmarks" / "out" / "bench_model_sim"
    if not (root / "manifest.json").exists():
        simulate(root, preset="tiny", seed=0, write_expected=False)
    pairs = {"cage_plus": "cage_minus", "cage_minus": "cage_plus"}
    tracks = [
        {"name": t, "path": str(root / f"{t}.bw"), "strand_pair": pairs.get(t)} for t in TRACKS
    ]
    dm = GenomeDataModule(
        fasta=str(root / "genome.fa"),
        tracks=tracks,
        window=cfg["length"],
        stride=2048,
        max_n_fraction=1.0,
        splits={"valid": ["chr3"], "test": ["chr4"]},
        augment={"reverse_complement": True, "max_shift": 3, "jitter": 0},
        batch_size=cfg["batch"],
        prefetch=prefetch,
    )
    dm.setup("fit")
    return dm.train_dataloader()


def matched_worker(cfg: dict) -> dict:
    """Training steps (Poisson loss + AdamW) of the reference stack and genodil variants.

    Every round runs each variant once (``inner`` consecutive steps, default 1), interleaved,
    on one random batch; the ``data`` entries instead draw ``inner`` batches from a fresh
    iterator of the simulator loader (prefetch on or off) per round, so the first batch of
    every round is loaded while nothing else runs, and the same variant runs ``inner`` steps
    on the fixed batch (``no_data``) for the ratio. Returns medians per step per variant.
    """
    import torch
    import torch.nn.functional as F

    from genodil.models import DilatedResNet

    torch.manual_seed(0)
    n_tracks = 4
    codes = torch.randint(0, 4, (cfg["batch"], cfg["length"]))
    seq = F.one_hot(codes, 4).transpose(1, 2).float()  # (B, 4, L)
    target = torch.poisson(torch.full((cfg["batch"], n_tracks, cfg["length"]), 0.5))
    steps = {}
    for v in cfg["variants"]:
        if v["kind"] == "reference":
            model = reference_stack(cfg["channels"], cfg["blocks"], n_tracks)
        else:
            dil = {"schedule": "exponential", "rate": 2, "blocks": cfg["blocks"]}
            model = DilatedResNet(
                n_tracks=n_tracks, channels=cfg["channels"], dilations=dil, **v["model"]
            )
        model.train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        batches = None
        if v.get("data") is not None:
            batches = _sim_loader(cfg, v["data"])
        steps[v["name"]] = (model, opt, v.get("bf16", False), batches)
    params = {name: sum(p.numel() for p in s[0].parameters()) for name, s in steps.items()}
    inner = {v["name"]: v.get("inner", 1) for v in cfg["variants"]}

    def run(name: str) -> None:
        model, opt, bf16, batches = steps[name]
        source = iter(batches) if batches is not None else None
        for _ in range(inner[name]):
            x, y = seq, target
            if source is not None:
                batch = next(source)
                x, y = batch["seq"], batch["target"]
            with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                out = model(x)["signal"].float()
            loss = (out - y * torch.log(out + 1e-8)).mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if source is not None and hasattr(source, "close"):
            source.close()

    wall: dict[str, list[float]] = {name: [] for name in steps}
    cpu: dict[str, list[float]] = {name: [] for name in steps}
    for r in range(cfg["warmup"] + cfg["rounds"]):
        for name in steps:
            t0, c0 = time.perf_counter(), _cpu_s()
            run(name)
            t1, c1 = time.perf_counter(), _cpu_s()
            if r >= cfg["warmup"]:
                wall[name].append((t1 - t0) / inner[name])
                cpu[name].append((c1 - c0) / inner[name])
    out = {"threads": torch.get_num_threads(), "variants": {}}
    for name in steps:
        w = statistics.median(wall[name])
        out["variants"][name] = {
            "step_s": w,
            "cpu_s": statistics.median(cpu[name]),
            "samples_per_s": cfg["batch"] / w,
            "params": params[name],
            "steps": len(wall[name]) * inner[name],
        }
    return out


def _matched_plan(quick: bool, rounds: int) -> dict:
    """Variants of the matched comparison (issue 13): 4 x 16,384 bp, C = 64, 11 blocks."""
    genodil_variants = [
        ("genodil_default", {}),  # bottleneck, GELU, dropout 0.1
        ("bottleneck_d0", {"dropout": 0.0}),
        ("bottleneck_relu_d0", {"dropout": 0.0, "activation": "relu"}),
        ("plain_gelu_d0", {"block": "plain", "dropout": 0.0}),
        ("plain_relu_d0", {"block": "plain", "dropout": 0.0, "activation": "relu"}),
    ]
    fast = {"block": "plain", "dropout": 0.0, "activation": "relu"}
    inner = 4
    variants = [{"name": "reference", "kind": "reference"}]
    variants += [{"name": n, "kind": "genodil", "model": m} for n, m in genodil_variants]
    variants += [
        {"name": "plain_relu_d0_bf16", "kind": "genodil", "model": fast, "bf16": True},
        {"name": "no_data", "kind": "genodil", "model": fast, "inner": inner},
        {"name": "data_no_prefetch", "kind": "genodil", "model": fast, "data": 0, "inner": inner},
        {"name": "data_prefetch", "kind": "genodil", "model": fast, "data": 2, "inner": inner},
    ]
    return {
        "device": "cpu",
        "batch": 2 if quick else 4,
        "length": 4096 if quick else 16384,
        "channels": 16 if quick else 64,
        "blocks": 11,
        "warmup": 1,
        "rounds": rounds,
        "variants": variants,
    }


def matched_summary(res: dict) -> dict:
    """Samples/s of every variant against the reference, and the data overlap figures."""
    v = res["variants"]
    ref = v["reference"]["samples_per_s"]
    out = {name: round(x["samples_per_s"] / ref, 3) for name, x in v.items()}
    return {
        "reference_samples_per_s": ref,
        "ratio_vs_reference": out,
        "default_vs_reference": out["genodil_default"],
        "plain_relu_vs_reference": out["plain_relu_d0"],
        # step time without data / step time with data (1.0 = loading fully hidden)
        "data_overlap_ratio": v["no_data"]["step_s"] / v["data_prefetch"]["step_s"],
        "data_no_prefetch_ratio": v["no_data"]["step_s"] / v["data_no_prefetch"]["step_s"],
        "data_overlap_ratio_cpu": v["no_data"]["cpu_s"] / v["data_prefetch"]["cpu_s"],
        "ratio_vs_reference_cpu": {
            name: round(v["reference"]["cpu_s"] / x["cpu_s"], 3) for name, x in v.items()
        },
        "params": {name: x["params"] for name, x in v.items()},
    }


def run_worker(name: str, cfg: dict, tuned: bool, timeout: int) -> dict:
    """Run :func:`worker` in a fresh interpreter (GLIBC_TUNABLES set or unset) and print it."""
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
    res["glibc_tunables"] = tuned
    res.update({k: cfg[k] for k in ("batch", "length", "channels")})
    for vname, v in res["variants"].items():
        extra = f", peak GPU {v['peak_gpu_gb']:.2f} GB" if "peak_gpu_gb" in v else ""
        what = "s/step" if cfg["warmup"] else "s first step"
        print(
            f"  {name:<15} {vname:<14} {v['step_s']:7.2f} {what} ({v['cpu_s']:6.2f} CPU s), "
            f"{v['bp_per_s']:9,.0f} bp/s{extra}",
            flush=True,
        )
    print(
        f"  {name:<15} peak RSS {res['peak_rss_gb']:.2f} GB "
        f"(+{res['step_rss_gb']:.2f} GB over the built model)",
        flush=True,
    )
    return res


def _variant(name: str, ckpt: bool = False, bf16: bool = False, compile: bool = False) -> dict:
    return {"name": name, "ckpt": ckpt, "bf16": bf16, "compile": compile}


def run_matched(args: argparse.Namespace) -> int:
    """The matched comparison in one subprocess (2 threads, tuned malloc); prints JSON last."""
    cfg = {**_matched_plan(args.quick, args.rounds), "matched": True}
    print(
        f"matched step: input {cfg['batch']} x {cfg['length']} bp, C = {cfg['channels']}, "
        f"{cfg['blocks']} dilated layers (rate 2), Poisson loss + AdamW, "
        f"{cfg['rounds']} rounds, interleaved",
        flush=True,
    )
    env = dict(os.environ, GLIBC_TUNABLES=TUNABLES, OMP_NUM_THREADS="2")
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(cfg)],
        check=False,
        env=env,
        capture_output=True,
        text=True,
    )
    if proc.returncode != 0:
        print(proc.stderr[-3000:], file=sys.stderr)
        return 1
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    summary = matched_summary(res)
    for name, v in res["variants"].items():
        print(
            f"  {name:<22} {v['step_s']:6.2f} s/step ({v['cpu_s']:5.2f} CPU s) "
            f"{v['samples_per_s']:6.2f} samples/s  x{summary['ratio_vs_reference'][name]:.2f} "
            f"vs reference (CPU s: x{summary['ratio_vs_reference_cpu'][name]:.2f}) "
            f"({v['params']:,} parameters)",
            flush=True,
        )
    print(
        json.dumps(
            {"benchmark": "bench_model_matched", "quick": args.quick, **summary, "runs": res}
        )
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes for a smoke run")
    parser.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    parser.add_argument("--rounds", type=int, default=2, help="timed rounds per timing run")
    parser.add_argument(
        "--matched",
        action="store_true",
        help="only the matched-size comparison against the conv-BN-ReLU reference stack "
        "and the data-overlap figure (issue 13)",
    )
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        cfg = json.loads(args.worker)
        fn = matched_worker if cfg.get("matched") else worker
        print(json.dumps(fn(cfg)))
        return 0
    if args.matched:
        return run_matched(args)

    quick = args.quick
    base = {
        "device": args.device,
        "batch": 2 if quick else 4,
        "length": 8192 if quick else 32768,
        "channels": 32 if quick else 64,
        "blocks": 14,
    }
    long = {**base, "batch": 1, "length": 32768 if quick else 131072, "channels": 128}
    one = {"warmup": 0, "rounds": 1}  # memory runs: the peak of one step
    timed = {"warmup": 1, "rounds": args.rounds}
    timeout = 900
    print(
        f"DilatedResNet forward+backward, {base['blocks']} blocks, device {args.device}, "
        f"{'quick' if quick else 'full'} run; input {base['batch']} x {base['length']} bp, "
        f"C = {base['channels']}",
        flush=True,
    )
    runs: dict[str, dict] = {}
    if args.device == "cpu":
        plan = [
            ("mem", {**base, **one, "variants": [_variant("fp32")]}, False),
            ("mem_ckpt", {**base, **one, "variants": [_variant("fp32_ckpt", True)]}, False),
            ("mem_tuned", {**base, **one, "variants": [_variant("fp32")]}, True),
            ("mem_ckpt_tuned", {**base, **one, "variants": [_variant("fp32_ckpt", True)]}, True),
            ("long_ckpt_tuned", {**long, **one, "variants": [_variant("fp32_ckpt", True)]}, True),
            (
                "time",
                {**base, **timed, "variants": [_variant("fp32"), _variant("fp32_ckpt", True)]},
                False,
            ),
            (
                "time_tuned",
                {
                    **base,
                    **timed,
                    "variants": [
                        _variant("fp32"),
                        _variant("fp32_ckpt", True),
                        _variant("bf16", bf16=True),
                    ],
                },
                True,
            ),
        ]
    else:
        gpu_variants = [
            _variant("fp32"),
            _variant("fp32_ckpt", True),
            _variant("bf16", bf16=True),
            _variant("bf16_ckpt", True, True),
            _variant("bf16_compiled", bf16=True, compile=True),
        ]
        plan = [
            ("gpu", {**base, **timed, "variants": gpu_variants}, False),
            (
                "gpu_long",
                {**long, **one, "variants": [_variant("fp32_ckpt", True), _variant("fp32")]},
                False,
            ),
        ]
    for name, cfg, tuned in plan:
        try:
            runs[name] = run_worker(name, cfg, tuned, timeout)
        except (RuntimeError, subprocess.TimeoutExpired) as err:
            print(f"  {name:<15} FAILED: {str(err)[-500:]}", flush=True)

    def get(run: str, key: str, variant: str | None = None) -> float | None:
        if run not in runs:
            return None
        src = runs[run] if variant is None else runs[run]["variants"].get(variant, {})
        return src.get(key)

    def ratio(a: float | None, b: float | None) -> float | None:
        return None if a is None or b is None else a / b

    summary: dict = {
        "benchmark": "bench_model",
        "device": args.device,
        "quick": quick,
        "input": f"{base['batch']}x{base['length']}",
        "channels": base["channels"],
        "blocks": base["blocks"],
    }
    if args.device == "cpu":
        summary.update(
            bp_per_s=get("time", "bp_per_s", "fp32"),
            bp_per_cpu_s=get("time", "bp_per_cpu_s", "fp32"),
            peak_rss_gb=get("mem", "peak_rss_gb"),
            ckpt_memory_saving=ratio(get("mem", "peak_rss_gb"), get("mem_ckpt", "peak_rss_gb")),
            ckpt_step_memory_saving=ratio(
                get("mem", "step_rss_gb"), get("mem_ckpt", "step_rss_gb")
            ),
            ckpt_time_ratio=ratio(get("time", "cpu_s", "fp32_ckpt"), get("time", "cpu_s", "fp32")),
            ckpt_wall_time_ratio=ratio(
                get("time", "step_s", "fp32_ckpt"), get("time", "step_s", "fp32")
            ),
            tuned_bp_per_s=get("time_tuned", "bp_per_s", "fp32"),
            tuned_speedup_cpu=ratio(
                get("time", "cpu_s", "fp32"), get("time_tuned", "cpu_s", "fp32")
            ),
            tuned_peak_rss_gb=get("mem_tuned", "peak_rss_gb"),
            tuned_ckpt_memory_saving=ratio(
                get("mem_tuned", "peak_rss_gb"), get("mem_ckpt_tuned", "peak_rss_gb")
            ),
            tuned_ckpt_time_ratio=ratio(
                get("time_tuned", "cpu_s", "fp32_ckpt"), get("time_tuned", "cpu_s", "fp32")
            ),
            bf16_bp_per_s=get("time_tuned", "bp_per_s", "bf16"),
            bf16_speedup_cpu=ratio(
                get("time_tuned", "cpu_s", "fp32"), get("time_tuned", "cpu_s", "bf16")
            ),
            long_input=f"{long['batch']}x{long['length']}, C={long['channels']}, checkpointed",
            long_peak_rss_gb=get("long_ckpt_tuned", "peak_rss_gb"),
            long_step_s=get("long_ckpt_tuned", "step_s", "fp32_ckpt"),
        )
        if summary["long_peak_rss_gb"] is not None:
            summary["long_fits_24gb"] = summary["long_peak_rss_gb"] < 24
    else:
        summary.update(
            gpu=get("gpu", "gpu"),
            bp_per_s=get("gpu", "bp_per_s", "fp32"),
            peak_gpu_gb=get("gpu", "peak_gpu_gb", "fp32"),
            ckpt_memory_saving=ratio(
                get("gpu", "peak_gpu_gb", "fp32"), get("gpu", "peak_gpu_gb", "fp32_ckpt")
            ),
            ckpt_time_ratio=ratio(get("gpu", "step_s", "fp32_ckpt"), get("gpu", "step_s", "fp32")),
            bf16_bp_per_s=get("gpu", "bp_per_s", "bf16"),
            bf16_speedup=ratio(get("gpu", "step_s", "fp32"), get("gpu", "step_s", "bf16")),
            compiled_bf16_bp_per_s=get("gpu", "bp_per_s", "bf16_compiled"),
            compile_speedup=ratio(
                get("gpu", "step_s", "bf16"), get("gpu", "step_s", "bf16_compiled")
            ),
            long_peak_gpu_gb=get("gpu_long", "peak_gpu_gb", "fp32_ckpt"),
            long_nockpt_peak_gpu_gb=get("gpu_long", "peak_gpu_gb", "fp32"),
        )
    summary["runs"] = runs
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
