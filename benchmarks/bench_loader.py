"""Benchmark of the FASTA + bigWig window loader against references timed in the same run.

Generates a synthetic genome (default 50 Mb, 5 chromosomes, soft-masked stretches and N runs)
with 4 per-base bigWig tracks under ``--out`` (default benchmarks/out/loader, git-ignored;
reused when present), draws one random set of windows and times on it, in interleaved rounds
(medians reported):

- ``raw_read``: pyfaidx fetch + ``values(numpy=True)`` of each track, nothing else;
- genodil streaming: ``GenomeDataModule.train_dataloader()`` (transforms, reverse complement
  and shift augmentation, batches of 8, 0 workers; genome not in memory);
- ``naive``: pyfaidx string, per-character dict one-hot, ``values()`` as Python lists;
- genodil cached (``cache_dir``) and the memory-bound reference (slicing a preloaded uint8
  genome and float32 tracks + one-hot);
- genodil streaming with 2 DataLoader workers;
- peak RSS of streaming in fresh subprocesses on the genome and on one 4x larger.

Usage::

    .venv/bin/python benchmarks/bench_loader.py            # full run (first run writes ~1.2 GB)
    .venv/bin/python benchmarks/bench_loader.py --quick    # small smoke run

The last line printed is one JSON object with all figures.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

N_TRACKS = 4
LINE = 60


# ----------------------------------------------------------------------------- synthetic data
def write_dataset(root: Path, total_bp: int, n_chroms: int = 5, seed: int = 0) -> dict:
    """Write genome.fa (+ .fai) and t0..t3.bw under ``root`` unless already there."""
    import pyBigWig

    stamp = root / "done.json"
    params = {"total_bp": total_bp, "n_chroms": n_chroms, "seed": seed, "version": 3}
    if stamp.exists() and json.loads(stamp.read_text()) == params:
        return params
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    size = total_bp // n_chroms
    sizes = {f"chr{k + 1}": size for k in range(n_chroms)}
    letters = np.frombuffer(b"ACGTacgtN", np.uint8)
    t0 = time.perf_counter()
    with open(root / "genome.fa", "wb") as fa, open(root / "genome.fa.fai", "w") as fai:
        offset = 0
        for chrom, n in sizes.items():
            header = f">{chrom}\n".encode()
            fa.write(header)
            offset += len(header)
            fai.write(f"{chrom}\t{n}\t{offset}\t{LINE}\t{LINE + 1}\n")
            codes = rng.integers(0, 4, n).astype(np.uint8)
            for s in rng.integers(0, n - 20_000, n // 2_000_000 + 1):  # soft-masked repeats
                codes[s : s + 20_000] |= 4
            for s in rng.integers(0, n - 50_000, n // 10_000_000 + 1):  # assembly gaps
                codes[s : s + 50_000] = 8
            text = letters[codes]
            n_full = n // LINE
            body = np.empty((n_full, LINE + 1), np.uint8)
            body[:, :LINE] = text[: n_full * LINE].reshape(n_full, LINE)
            body[:, LINE] = ord("\n")
            fa.write(body.tobytes())
            tail = text[n_full * LINE :].tobytes()
            fa.write(tail + (b"\n" if tail else b""))
            offset += body.size + len(tail) + (1 if tail else 0)
    for t in range(N_TRACKS):
        bw = pyBigWig.open(str(root / f"t{t}.bw"), "w")
        bw.addHeader(list(sizes.items()), maxZooms=0)
        for chrom, n in sizes.items():
            for lo in range(0, n, 1 << 22):
                hi = min(lo + (1 << 22), n)
                v = rng.gamma(1.0, 3.0 * (t + 1), hi - lo)  # one value per base
                bw.addEntries(chrom, lo, values=v, span=1, step=1)
        bw.close()
    print(
        f"wrote {total_bp / 1e6:.0f} Mb genome + {N_TRACKS} tracks to {root} in "
        f"{time.perf_counter() - t0:.0f} s",
        file=sys.stderr,
    )
    stamp.write_text(json.dumps(params))
    return params


def track_specs(root: Path, all_transforms: bool = False) -> list[dict]:
    """Four tracks: a plain one, a log1p one and a strand pair (transformed too if asked)."""
    pair = {"scale": 0.5, "clip_soft": 20.0, "clip": 50.0} if all_transforms else {}
    return [
        {"name": "t0", "path": str(root / "t0.bw")},
        {"name": "t1", "path": str(root / "t1.bw"), "log1p": True},
        {"name": "t2", "path": str(root / "t2.bw"), "strand_pair": "t3", **pair},
        {"name": "t3", "path": str(root / "t3.bw"), "strand_pair": "t2", **pair},
    ]


def peak_rss_mb() -> float:
    """VmHWM of this process (ru_maxrss would carry the parent's peak across fork + exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def chrom_sizes(root: Path) -> dict[str, int]:
    return {
        line.split("\t")[0]: int(line.split("\t")[1])
        for line in (root / "genome.fa.fai").read_text().splitlines()
    }


def random_windows(sizes: dict[str, int], n: int, window: int, seed: int) -> list[tuple]:
    rng = np.random.default_rng(seed)
    chroms = list(sizes)
    out = []
    for _ in range(n):
        c = chroms[rng.integers(len(chroms))]
        s = int(rng.integers(0, sizes[c] - window))
        out.append((c, s, s + window))
    return out


# ----------------------------------------------------------------------------- loaders
def raw_read_pass(fasta: Path, bw_paths: list[Path], windows: list[tuple]) -> None:
    """pyfaidx fetch + values(numpy=True) per track: the unavoidable decoding."""
    import pyBigWig
    import pyfaidx

    fa = pyfaidx.Fasta(str(fasta), as_raw=True, sequence_always_upper=False)
    bws = [pyBigWig.open(str(p)) for p in bw_paths]
    for c, s, e in windows:
        fa[c][s:e]
        for bw in bws:
            bw.values(c, s, e, numpy=True)


_NAIVE = {"A": (1, 0, 0, 0), "C": (0, 1, 0, 0), "G": (0, 0, 1, 0), "T": (0, 0, 0, 1)}


def naive_pass(fasta: Path, bw_paths: list[Path], windows: list[tuple]) -> None:
    """What a first loader looks like: strings, a dict per base, Python lists."""
    import pyBigWig
    import pyfaidx
    import torch

    fa = pyfaidx.Fasta(str(fasta), as_raw=True)
    bws = [pyBigWig.open(str(p)) for p in bw_paths]
    for c, s, e in windows:
        seq = fa[c][s:e].upper()
        x = np.array([_NAIVE.get(b, (0, 0, 0, 0)) for b in seq], dtype=np.float32).T
        y = np.array(
            [[0.0 if math.isnan(v) else v for v in bw.values(c, s, e)] for bw in bws],
            dtype=np.float32,
        )
        torch.from_numpy(x), torch.from_numpy(y)


def memory_bound_pass(codes: dict, tracks: list[dict], windows: list[tuple]) -> None:
    """Slicing preloaded uint8 codes and float32 tracks, plus one-hot."""
    ar = np.arange(4, dtype=np.uint8)[:, None]
    for c, s, e in windows:
        (codes[c][s:e][None, :] == ar).astype(np.float32)
        np.stack([t[c][s:e] for t in tracks])


def loader_pass(loader) -> int:
    n = 0
    for batch in loader:
        n += len(batch["chrom"])
    return n


def rate(fn, n_windows: int, min_s: float = 1.0, cpu: list | None = None) -> float:
    """Windows per second of ``fn`` (one pass over ``n_windows``), repeated to ``min_s``.

    With ``cpu``, also appends windows per second of this process's CPU time (robust to
    other load on a shared machine; meaningless when worker processes do the work).
    """
    passes, t0, c0 = 0, time.perf_counter(), time.process_time()
    while True:
        fn()
        passes += 1
        dt = time.perf_counter() - t0
        if dt >= min_s:
            if cpu is not None:
                cpu.append(passes * n_windows / (time.process_time() - c0))
            return passes * n_windows / dt


def make_dm(root: Path, bed: Path, window: int, all_transforms: bool = False, **kw):
    from genodil.data.datamodule import GenomeDataModule

    args = {
        "fasta": str(root / "genome.fa"),
        "tracks": track_specs(root, all_transforms),
        "window": window,
        "regions": str(bed),
        "max_n_fraction": 1.0,
        "augment": {"reverse_complement": True, "max_shift": 3},
        "batch_size": 8,
        "in_memory": False,
    }
    args.update(kw)
    dm = GenomeDataModule(**args)
    dm.setup("fit")
    return dm


# ----------------------------------------------------------------------------- RSS child
def rss_child(root: Path, window: int, n_windows: int) -> None:
    """Peak RSS of streaming over the first ``n_windows`` training windows of ``root``."""
    from genodil.data.datamodule import GenomeDataModule

    base = peak_rss_mb()
    dm = GenomeDataModule(
        fasta=str(root / "genome.fa"),
        tracks=track_specs(root),
        window=window,
        in_memory=False,
        augment={"reverse_complement": True, "max_shift": 3},
        batch_size=8,
    )
    dm.setup("fit")
    seen = 0
    for batch in dm.train_dataloader():
        seen += len(batch["chrom"])
        if seen >= n_windows:
            break
    peak = peak_rss_mb()
    print(
        json.dumps(
            {
                "peak_rss_mb": peak,
                "import_rss_mb": base,
                "windows": seen,
                "train_windows": len(dm.windows("train")),
            }
        )
    )


def run_rss(root: Path, window: int, n_windows: int) -> dict:
    cmd = [
        sys.executable,
        __file__,
        "--rss-child",
        str(root),
        "--window",
        str(window),
        "--windows",
        str(n_windows),
    ]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


# ----------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks/out/loader")
    p.add_argument("--genome-mb", type=float, default=50.0)
    p.add_argument("--window", type=int, default=32768)
    p.add_argument("--windows", type=int, default=400, help="size of the random window set")
    p.add_argument("--naive-windows", type=int, default=40)
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--rss-windows", type=int, default=400)
    p.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke run")
    p.add_argument("--rss-child", type=Path, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.rss_child:
        rss_child(args.rss_child, args.window, args.windows)
        return
    if args.quick:
        args.genome_mb, args.windows, args.naive_windows, args.rounds = 5.0, 64, 8, 1
        args.rss_windows, args.window = 64, 8192
        args.out = args.out.with_name(args.out.name + "_quick")

    import torch

    torch.set_num_threads(1)
    load_start = os.getloadavg()[0]
    total = int(args.genome_mb * 1e6)
    base_dir, big_dir = args.out / "genome_1x", args.out / "genome_4x"
    write_dataset(base_dir, total, seed=0)
    fasta = base_dir / "genome.fa"
    bw_paths = [base_dir / f"t{t}.bw" for t in range(N_TRACKS)]
    sizes = chrom_sizes(base_dir)
    windows = random_windows(sizes, args.windows, args.window, seed=1)
    bed = args.out / "windows.bed"
    bed.write_text(
        "".join(f"{c}\t{s + args.window // 2}\t{s + args.window // 2 + 1}\n" for c, s, _ in windows)
    )

    stream = make_dm(base_dir, bed, args.window)
    assert len(stream.windows("train")) == len(windows)
    t0 = time.perf_counter()
    cached = make_dm(base_dir, bed, args.window, cache_dir=str(args.out / "cache"))
    cache_setup_s = time.perf_counter() - t0
    cached_all = make_dm(
        base_dir, bed, args.window, all_transforms=True, cache_dir=str(args.out / "cache")
    )
    ca_loader = cached_all.train_dataloader()
    workers = make_dm(base_dir, bed, args.window, num_workers=2)
    s_loader, c_loader, w_loader = (
        stream.train_dataloader(),
        cached.train_dataloader(),
        workers.train_dataloader(),
    )

    # the memory-bound reference: the cached arrays loaded into RAM
    g, t = cached._seq_source, cached._track_source
    codes = {c: np.array(g.read_raw(c, 0, n)) for c, n in sizes.items()}
    tracks = [
        {c: np.array(t._map()[i][off : off + n]) for c, (off, n) in t.offsets[i].items()}
        for i in range(N_TRACKS)
    ]

    n = len(windows)
    raw_read_pass(fasta, bw_paths, windows)  # warm the page cache
    loader_pass(w_loader)  # start the persistent workers
    passes = {
        "raw": lambda: raw_read_pass(fasta, bw_paths, windows),
        "stream": lambda: loader_pass(s_loader),
        "memory": lambda: memory_bound_pass(codes, tracks, windows),
        "cached": lambda: loader_pass(c_loader),
        "cached_all": lambda: loader_pass(ca_loader),
        "w2": lambda: loader_pass(w_loader),
    }
    # Each comparison alternates its two loaders, so both see the same load on a shared
    # machine; a figure is the median over rounds, a ratio the median of per-round ratios.
    pairs = [("raw", "stream"), ("memory", "cached"), ("memory", "cached_all"), ("stream", "w2")]
    res: dict[str, list[float]] = {k: [] for k in passes}
    ratios: dict[tuple[str, str], list[float]] = {pair: [] for pair in pairs}
    cpu_ratios: dict[tuple[str, str], list[float]] = {pair: [] for pair in pairs}
    for r in range(args.rounds):
        for ref, ours in pairs:
            min_s = 0.3 if ref == "memory" else 0.6
            cpu: list[float] = []
            a, b = rate(passes[ref], n, min_s, cpu), rate(passes[ours], n, min_s, cpu)
            res[ref].append(a)
            res[ours].append(b)
            ratios[(ref, ours)].append(b / a)
            cpu_ratios[(ref, ours)].append(cpu[1] / cpu[0])
        print(
            f"round {r}: " + ", ".join(f"{k} {v[-1]:.0f}/s" for k, v in res.items()),
            file=sys.stderr,
        )
    med = {k: statistics.median(v) for k, v in res.items()}
    ratio = {pair: statistics.median(v) for pair, v in ratios.items()}
    cpu_ratio = {pair: statistics.median(v) for pair, v in cpu_ratios.items()}
    naive_set = windows[: args.naive_windows]
    naive = rate(lambda: naive_pass(fasta, bw_paths, naive_set), len(naive_set), 1.0)
    stream_now = rate(passes["stream"], n, 0.6)
    per_track = rate(lambda: raw_read_pass(fasta, bw_paths[:1], windows), n, 0.5)

    write_dataset(big_dir, 4 * total, seed=2)
    rss_1x = run_rss(base_dir, args.window, args.rss_windows)
    rss_4x = run_rss(big_dir, args.window, args.rss_windows)

    result = {
        "genome_mb": total / 1e6,
        "window": args.window,
        "n_windows": n,
        "n_tracks": N_TRACKS,
        "windows_per_s": round(med["stream"], 1),
        "raw_read_windows_per_s": round(med["raw"], 1),
        "fraction_of_raw_read": round(ratio[("raw", "stream")], 3),
        "naive_windows_per_s": round(naive, 1),
        "speedup_vs_naive": round(stream_now / naive, 2),
        "cached_windows_per_s": round(med["cached"], 1),
        "memory_bound_windows_per_s": round(med["memory"], 1),
        "cached_fraction_of_memory_bound": round(ratio[("memory", "cached")], 3),
        "fraction_of_raw_read_cpu_time": round(cpu_ratio[("raw", "stream")], 3),
        "cached_fraction_of_memory_bound_cpu_time": round(cpu_ratio[("memory", "cached")], 3),
        "cached_windows_per_s_all_transforms": round(med["cached_all"], 1),
        "cached_fraction_all_transforms": round(ratio[("memory", "cached_all")], 3),
        "windows_per_s_2workers": round(med["w2"], 1),
        "speedup_2workers": round(ratio[("stream", "w2")], 2),
        "rss_growth_4x_genome": round(rss_4x["peak_rss_mb"] / rss_1x["peak_rss_mb"], 3),
        "peak_rss_mb_1x": round(rss_1x["peak_rss_mb"], 1),
        "peak_rss_mb_4x": round(rss_4x["peak_rss_mb"], 1),
        "import_rss_mb": round(rss_1x["import_rss_mb"], 1),
        "rss_above_import_mb_1x_4x": [
            round(rss_1x["peak_rss_mb"] - rss_1x["import_rss_mb"], 1),
            round(rss_4x["peak_rss_mb"] - rss_4x["import_rss_mb"], 1),
        ],
        "train_windows_1x_4x": [rss_1x["train_windows"], rss_4x["train_windows"]],
        "raw_read_one_track_windows_per_s": round(per_track, 1),
        "cache_build_s": round(cache_setup_s, 1),
        "cpu_count": os.cpu_count(),
        "load_avg_1min_start_end": [round(load_start, 1), round(os.getloadavg()[0], 1)],
        "rounds": args.rounds,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
