"""Benchmark variant scoring and genome-wide prediction against the raw model forward pass.

Measures, on a synthetic genome and in one process:

1. ``score_variants`` end to end (read VCF, build windows, forward, align, score, write TSV)
   for SNVs and indels with the demo-shaped model and with a 32-kb model, next to the raw
   forward pass over the same number of windows (2 per variant) of the same length and batch
   size. Overhead fraction = 1 - t_forward / t_pipeline.
2. ``predict_regions`` over a whole synthetic genome (bp/s) next to the raw forward pass over
   the same number of windows.
3. The same pipelines with a model that costs nearly nothing (a 1x1 convolution): the
   pipeline's own ceiling, which a fast GPU model would approach.
4. Peak RSS of ``predict_regions`` in fresh subprocesses for a 1-Mb and a 10-Mb region of the
   same genome (a light model, since memory, not speed, is measured there).

Overhead is measured two ways. (a) The model is wrapped in a clock, so the pipeline's own time
(everything but the model's forward calls, in the same run and the same calls) is exact; this
is ``*_overhead_fraction`` in the JSON line. (b) Against the raw forward pass timed separately,
alternating in rounds with the pipeline so that other load hits both alike, in wall and in CPU
time (``*_vs_raw_*``); on a machine shared with other jobs (b) carries their noise, which can
exceed the overhead itself. Ends with one JSON line.

Run: ``.venv/bin/python benchmarks/bench_variants.py [--quick]``
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Self

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genodil.genome.encode import one_hot
from genodil.genome.io import Genome
from genodil.genome.vcf import read_vcf
from genodil.predict import predict_regions, score_variants, write_scores

TRACKS = ["plus", "minus"]


class FreeModel(torch.nn.Module):
    """A 1x1 convolution with the demo geometry: the pipeline's own ceiling, model cost ~0."""

    def __init__(self, crop: int = 512) -> None:
        super().__init__()
        self.conv = torch.nn.Conv1d(4, 2, 1)
        self.crop = crop
        self.bin_size = 1

    def forward(self, seq: torch.Tensor) -> dict[str, torch.Tensor]:
        return {"signal": self.conv(seq[..., self.crop : seq.shape[-1] - self.crop])}


def demo_model(kind: str) -> tuple[torch.nn.Module, int, str]:
    """(model, window, description) for ``demo``, ``32k``, ``light`` or ``free``."""
    from genodil.models import DilatedResNet

    if kind == "free":
        return FreeModel().eval(), 4096, "1x1 Conv1d (model cost ~0), crop 512, window 4096"

    if kind == "demo":
        blocks, channels, crop, window = 8, 32, 512, 4096
    elif kind == "32k":
        blocks, channels, crop, window = 14, 64, 4096, 32768
    else:
        blocks, channels, crop, window = 3, 8, 512, 4096
    torch.manual_seed(0)
    model = DilatedResNet(
        n_tracks=2,
        channels=channels,
        dilations={"schedule": "exponential", "rate": 2, "blocks": blocks},
        crop=crop,
    ).eval()
    desc = (
        f"DilatedResNet(channels={channels}, blocks={blocks}, crop={crop}), window {window}, "
        f"receptive field {model.receptive_field}"
    )
    return model, window, desc


def write_genome(path: Path, sizes: dict[str, int], seed: int = 0) -> Genome:
    """A random-sequence FASTA (60 bases a line) with its .fai."""
    rng = np.random.default_rng(seed)
    letters = np.frombuffer(b"ACGT", dtype=np.uint8)
    fai, offset = [], 0
    with open(path, "wb") as fh:
        for name, size in sizes.items():
            header = f">{name}\n".encode()
            fh.write(header)
            offset += len(header)
            fai.append(f"{name}\t{size}\t{offset}\t60\t61\n")
            seq = letters[rng.integers(0, 4, size)].tobytes()
            data = b"\n".join(seq[i : i + 60] for i in range(0, size, 60)) + b"\n"
            fh.write(data)
            offset += len(data)
    Path(str(path) + ".fai").write_text("".join(fai))
    return Genome(path)


def make_vcf(path: Path, genome: Genome, n: int, margin: int, seed: int) -> None:
    """Half SNVs, a quarter insertions (1-10 bp), a quarter deletions (1-10 bp)."""
    rng = np.random.default_rng(seed)
    chroms = genome.chroms
    lines = ["##fileformat=VCFv4.2", "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    for i in range(n):
        chrom = chroms[i % len(chroms)]
        pos = int(rng.integers(margin, genome.chrom_sizes[chrom] - margin))
        kind = "snv" if i % 2 == 0 else ("ins" if i % 4 == 1 else "del")
        size = int(rng.integers(1, 11))
        ref_len = 1 + size if kind == "del" else 1
        ref = "".join("ACGT"[c] for c in genome.fetch(chrom, pos - 1, pos - 1 + ref_len))
        if kind == "snv":
            alt = "ACGT"[("ACGT".index(ref) + int(rng.integers(1, 4))) % 4]
        elif kind == "ins":
            alt = ref + "".join(rng.choice(list("ACGT"), size))
        else:
            alt = ref[0]
        lines.append(f"{chrom}\t{pos}\tv{i}\t{ref}\t{alt}\t.\t.\t.")
    path.write_text("\n".join(lines) + "\n")


class Clock:
    """Accumulates wall time and this process's CPU time (all threads) of timed blocks.

    CPU time is robust against other load on a shared machine; wall time is what a user sees.
    """

    def __init__(self) -> None:
        self.wall = 0.0
        self.cpu = 0.0

    def __enter__(self) -> Self:
        self._w, self._c = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc) -> None:
        self.wall += time.perf_counter() - self._w
        self.cpu += time.process_time() - self._c


class TimedModel(torch.nn.Module):
    """Wraps a model and clocks its forward calls (the model's own share of a pipeline)."""

    def __init__(self, model: torch.nn.Module) -> None:
        super().__init__()
        self.inner = model
        self.crop = model.crop
        self.bin_size = model.bin_size
        self.strand_pairs = getattr(model, "strand_pairs", None)
        self.clock = Clock()
        self.train(model.training)  # prediction restores this mode afterwards

    def forward(self, seq: torch.Tensor) -> dict[str, torch.Tensor]:
        with self.clock:
            return self.inner(seq)


@torch.inference_mode()
def raw_forward(model: torch.nn.Module, n_windows: int, window: int, batch: int, seed: int):
    """Run the bare forward pass over ``n_windows`` random windows (inputs prepared first)."""
    assert not model.training
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(min(n_windows, batch), window), dtype=np.uint8)
    x = torch.from_numpy(one_hot(codes))  # (B, 4, L)
    done = 0
    while done < n_windows:
        b = min(batch, n_windows - done)
        model(x[:b])
        done += b


def bench_variants(kind: str, n_variants: int, rounds: int, tmp: Path, batch: int) -> dict:
    model, window, desc = demo_model(kind)
    timed = TimedModel(model)
    sizes = {f"chr{i}": 400_000 for i in range(1, 4)}
    genome = write_genome(tmp / f"genome_{kind}.fa", sizes, seed=1)
    per_round = -(-n_variants // rounds)
    vcfs = []
    for r in range(rounds):
        n = min(per_round, n_variants - r * per_round)
        if n > 0:
            vcfs.append(tmp / f"{kind}_{r}.vcf")
            make_vcf(vcfs[-1], genome, n, margin=window, seed=100 + r)
    # warm-up (allocator, oneDNN kernels) outside the timings
    score_variants(model, genome, read_vcf(vcfs[0]).head(2), TRACKS, window, batch_size=batch)
    raw_forward(model, batch, window, batch, seed=0)
    pipe, raw = Clock(), Clock()
    n_done = n_windows = 0
    for r, vcf in enumerate(vcfs):
        with pipe:
            variants = read_vcf(vcf)
            scored, skipped = score_variants(
                timed, genome, variants, TRACKS, window, batch_size=batch, progress=False
            )
            write_scores(scored, skipped, tmp / f"scores_{kind}_{r}.tsv")
        assert skipped.empty, skipped.head()
        n_done += len(scored)
        windows = 2 * len(scored)
        n_windows += windows
        with raw:
            raw_forward(model, windows, window, batch, seed=r)
    return _summary(desc, "variants", n_done, n_windows, pipe, raw, timed.clock)


def _summary(desc, unit: str, n: float, n_windows: int, pipe: Clock, raw: Clock, inner: Clock):
    return {
        "model": desc,
        unit: n,
        "windows": n_windows,
        "pipeline_s": pipe.wall,
        "raw_forward_s": raw.wall,
        "pipeline_cpu_s": pipe.cpu,
        "raw_forward_cpu_s": raw.cpu,
        f"{unit}_per_s": n / pipe.wall,
        f"raw_{unit}_per_s": n / raw.wall,
        "model_in_pipeline_s": inner.wall,
        # everything in the pipeline that is not the model's forward call
        "overhead_fraction": 1.0 - inner.wall / pipe.wall,
        # against the separately timed raw forward (noisy on a shared machine)
        "overhead_fraction_vs_raw_wall": 1.0 - raw.wall / pipe.wall,
        "overhead_fraction_vs_raw_cpu": 1.0 - raw.cpu / pipe.cpu,
    }


def bench_predict(genome_mb: float, rounds: int, tmp: Path, batch: int, kind: str = "demo") -> dict:
    model, window, desc = demo_model(kind)
    timed = TimedModel(model)
    n_chroms = 2 * rounds
    size = int(genome_mb * 1e6 / n_chroms)
    sizes = {f"chr{i}": size for i in range(1, n_chroms + 1)}
    genome = write_genome(tmp / f"genome_predict_{kind}.fa", sizes, seed=2)
    chroms = list(sizes)
    predict_regions(model, genome, [(chroms[0], 0, 2 * window)], tmp / "warm", TRACKS, window)
    out_span = (window - 2 * model.crop) // model.bin_size * model.bin_size
    pipe, raw = Clock(), Clock()
    n_windows = 0
    for r in range(rounds):
        regions = [(c, 0, size) for c in chroms[2 * r : 2 * r + 2]]
        with pipe:
            predict_regions(
                timed, genome, regions, tmp / f"pred_{kind}{r}", TRACKS, window, batch_size=batch,
                progress=False,
            )  # fmt: skip
        windows = sum(-(-size // out_span) for _ in regions)
        n_windows += windows
        with raw:
            raw_forward(model, windows, window, batch, seed=r)
    return _summary(desc, "bp", size * n_chroms, n_windows, pipe, raw, timed.clock)


def peak_rss_mib() -> float:
    """Peak resident memory of this process in MiB.

    Linux's ``ru_maxrss`` survives ``exec`` and so includes the forking parent's memory; the
    ``VmHWM`` line of /proc/self/status starts afresh with the new program.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def rss_child(fasta: str, region_bp: int, out: str) -> None:
    """Predict one region of ``region_bp`` and print the peak RSS (MiB) as JSON."""
    torch.set_num_threads(1)
    model, window, _ = demo_model("light")
    genome = Genome(fasta)
    t0 = time.perf_counter()
    predict_regions(model, genome, [("chr1", 0, region_bp)], out, TRACKS, window, progress=False)
    peak = peak_rss_mib()
    print(json.dumps({"region_bp": region_bp, "peak_rss_mib": peak, "s": time.perf_counter() - t0}))


def bench_rss(tmp: Path, sizes_bp: list[int]) -> list[dict]:
    fasta = tmp / "genome_rss.fa"
    write_genome(fasta, {"chr1": max(sizes_bp) + 10_000}, seed=3)
    results = []
    for n in sizes_bp:
        cmd = [sys.executable, __file__, "--rss-child", str(fasta), str(n), str(tmp / f"rss{n}")]
        proc = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return results


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (about a minute)")
    parser.add_argument("--variants", type=int, default=None, help="demo-model variants")
    parser.add_argument("--variants-32k", type=int, default=None, help="32-kb model variants")
    parser.add_argument("--predict-mb", type=float, default=None, help="genome size to predict")
    parser.add_argument("--batch-size", type=int, default=8, help="windows per forward pass")
    parser.add_argument(
        "--rss-child", nargs=3, metavar=("FASTA", "BP", "OUT"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)
    if args.rss_child:
        rss_child(args.rss_child[0], int(args.rss_child[1]), args.rss_child[2])
        return
    n_demo = args.variants or (60 if args.quick else 500)
    n_32k = args.variants_32k or (2 if args.quick else 10)
    predict_mb = args.predict_mb or (0.2 if args.quick else 1.0)
    rss_sizes = [1_000_000, 10_000_000]
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, cpus {os.cpu_count()}")
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        demo = bench_variants("demo", n_demo, rounds=8, tmp=tmp, batch=args.batch_size)
        _report("variants, demo model", demo, "variants")
        big = bench_variants("32k", n_32k, rounds=2, tmp=tmp, batch=2)
        _report("variants, 32-kb model", big, "variants")
        pred = bench_predict(predict_mb, rounds=4, tmp=tmp, batch=args.batch_size)
        _report("predict genome-wide, demo model", pred, "bp")
        free = bench_variants("free", 1000, rounds=2, tmp=tmp, batch=64)
        _report("variants, pipeline alone (model cost ~0), batch 64", free, "variants")
        free_pred = bench_predict(4.0, rounds=2, tmp=tmp, batch=64, kind="free")
        _report("predict, pipeline alone (model cost ~0), batch 64", free_pred, "bp")
        rss = bench_rss(tmp, rss_sizes)
        for r in rss:
            mb, peak = r["region_bp"] / 1e6, r["peak_rss_mib"]
            print(f"predict RSS: {mb:.0f} Mb region -> peak {peak:.0f} MiB ({r['s']:.1f} s)")
    ratio = rss[1]["peak_rss_mib"] / rss[0]["peak_rss_mib"]
    print(f"RSS ratio 10 Mb / 1 Mb: {ratio:.3f}; total {time.perf_counter() - t_start:.0f} s")
    summary = {
        "variants_per_s": round(demo["variants_per_s"], 3),
        "variant_overhead_fraction": round(demo["overhead_fraction"], 4),
        "raw_forward_variants_per_s": round(demo["raw_variants_per_s"], 3),
        "n_variants": demo["variants"],
        "variants_per_s_32k": round(big["variants_per_s"], 4),
        "variant_overhead_fraction_32k": round(big["overhead_fraction"], 4),
        "variant_overhead_fraction_vs_raw_wall": round(demo["overhead_fraction_vs_raw_wall"], 4),
        "variant_overhead_fraction_vs_raw_cpu": round(demo["overhead_fraction_vs_raw_cpu"], 4),
        "n_variants_32k": big["variants"],
        "predict_bp_per_s": round(pred["bp_per_s"]),
        "predict_raw_forward_bp_per_s": round(pred["raw_bp_per_s"]),
        "predict_overhead_fraction": round(pred["overhead_fraction"], 4),
        "predict_overhead_fraction_vs_raw_wall": round(pred["overhead_fraction_vs_raw_wall"], 4),
        "predict_overhead_fraction_vs_raw_cpu": round(pred["overhead_fraction_vs_raw_cpu"], 4),
        "variants_per_s_free_model": round(free["variants_per_s"], 1),
        "predict_bp_per_s_free_model": round(free_pred["bp_per_s"]),
        "predict_peak_rss_mib_1mb": round(rss[0]["peak_rss_mib"], 1),
        "predict_peak_rss_mib_10mb": round(rss[1]["peak_rss_mib"], 1),
        "predict_rss_ratio_10mb_vs_1mb": round(ratio, 4),
        "quick": bool(args.quick),
    }
    print(json.dumps(summary))


def _report(title: str, r: dict, unit: str) -> None:
    rate = r[f"{unit}_per_s"]
    raw = r[f"raw_{unit}_per_s"]
    print(f"{title}: {r['model']}")
    print(
        f"  {r[unit]} {unit} ({r['windows']} windows): pipeline {r['pipeline_s']:.1f} s "
        f"= {rate:,.1f} {unit}/s; raw forward {r['raw_forward_s']:.1f} s = {raw:,.1f} {unit}/s"
    )
    print(
        f"  model forward inside the pipeline {r['model_in_pipeline_s']:.1f} s: overhead "
        f"{100 * r['overhead_fraction']:.1f}% of the pipeline time"
    )
    print(
        f"  vs the raw forward: {100 * r['overhead_fraction_vs_raw_wall']:.1f}% of wall time, "
        f"{100 * r['overhead_fraction_vs_raw_cpu']:.1f}% of CPU time (pipeline "
        f"{r['pipeline_cpu_s']:.1f} CPU-s, raw {r['raw_forward_cpu_s']:.1f} CPU-s)"
    )


if __name__ == "__main__":
    main()
