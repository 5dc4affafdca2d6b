"""Benchmark attributions: ISM positions/s and its overhead, DeepLIFT/SHAP bases/s, agreement.

Measures, in one process, on the demo-shaped model (random weights: speed does not depend on
them) and on a short-reach model of the same width:

1. ISM over ``--positions`` positions of ``--regions`` windows: positions/s, and the overhead
   ratio ``t_ism / t_forward - 1`` where ``t_forward`` is the raw forward pass
   (``ModelRunner.signal``) over the same number of windows of the same (sub-)window length
   and batch size, with the inputs prepared beforehand. Timed in alternating rounds so that
   other load on the machine hits both alike; the median round is reported.
2. ISM's receptive-field shrinking: on the short-reach model, ISM time with shrinking
   against ISM forced to use the whole window.
3. DeepLIFT/SHAP (20 dinucleotide shuffles) bases/s over whole windows.
4. Agreement of DeepLIFT/SHAP with ISM at motif sites (Pearson r of projected contributions
   over each site +- 15 bp): on the simulator's motif-occupancy function written as a network
   (tests/interpret/models.py), and with ``--checkpoint RUN --data SIMDIR`` on a trained
   demo model at planted sites of the held-out chromosome.

Ends with one JSON line. Run:
``.venv/bin/python benchmarks/bench_interpret.py [--quick]``, add
``--checkpoint runs/demo --data data/demo`` for the trained-model agreement figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genodil.interpret import ism as ism_mod
from genodil.interpret.deeplift import deep_lift_shap
from genodil.interpret.objective import Objective
from genodil.models import DilatedResNet
from genodil.predict.runner import ModelRunner

DEMO = {"channels": 32, "stem_kernel": 15, "kernel": 3, "dropout": 0.0, "head": "softplus"}


def demo_model(short: bool = False) -> DilatedResNet:
    """The demo config's model (R 6.6 kb) or one of the same width with R ~ 0.5 kb."""
    torch.manual_seed(0)
    dil = (
        [1, 2, 4, 8, 16, 32, 64, 128]
        if short
        else {"schedule": "exponential", "rate": 3, "blocks": 8}
    )
    return DilatedResNet(n_tracks=4, crop=1024, dilations=dil, **DEMO).eval()


def _windows(n: int, length: int, seed: int = 0) -> torch.Tensor:
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 4, size=(n, length))
    return torch.from_numpy(np.eye(4, dtype=np.float32)[codes].transpose(0, 2, 1).copy())


def _clock() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def _since(t0: tuple[float, float]) -> tuple[float, float]:
    """(wall, CPU) seconds since ``t0``; CPU time is robust to other jobs on the machine."""
    return time.perf_counter() - t0[0], time.process_time() - t0[1]


def time_ism(model, seq, positions, objective, batch_size, shrink=True) -> tuple[float, float]:
    saved = ism_mod.model_reach
    if not shrink:
        ism_mod.model_reach = lambda m: None
    try:
        t0 = _clock()
        ism_mod.ism(model, seq, positions, objective, batch_size=batch_size, device="cpu")
        return _since(t0)
    finally:
        ism_mod.model_reach = saved


def time_forward(model, n_rows: int, width: int, batch_size: int) -> tuple[float, float]:
    """Raw forward passes over ``n_rows`` windows of ``width`` bp, inputs prepared."""
    x = _windows(batch_size, width, seed=1)
    with ModelRunner(model, "cpu", "32") as runner, torch.inference_mode():
        t0 = _clock()
        for i in range(0, n_rows, batch_size):
            runner.signal(x[: min(batch_size, n_rows - i)])
        return _since(t0)


def ism_rows(model, seq, positions, objective) -> tuple[int, int]:
    """Forward rows ISM runs (reference rows included) and their window length."""
    plan = ism_mod._plan(model, objective, seq.shape[-1], len(positions))
    rows = sum(1 for _ in ism_mod._rows(seq, positions, objective, plan, model))
    return rows, plan.width


def bench_ism(model, n_regions, n_pos, batch_size, rounds) -> dict:
    window = 4096
    seq = _windows(n_regions, window)
    mid = window // 2
    positions = range(mid - n_pos // 2, mid + n_pos // 2)
    objective = Objective(bins=(mid - 100 - 1024, mid + 100 - 1024))  # a 200-bp region
    rows, width = ism_rows(model, seq, positions, objective)
    time_ism(model, seq, range(positions.start, positions.start + 4), objective, batch_size)
    time_forward(model, batch_size, width, batch_size)  # warm-up of both
    t_ism, t_fwd = [], []
    for _ in range(rounds):  # alternating, so that other load hits both alike
        t_ism.append(time_ism(model, seq, positions, objective, batch_size))
        t_fwd.append(time_forward(model, rows, width, batch_size))
    wall_i, wall_f = (statistics.median(t[0] for t in ts) for ts in (t_ism, t_fwd))
    cpu_i, cpu_f = (statistics.median(t[1] for t in ts) for ts in (t_ism, t_fwd))
    return {
        "positions_per_s": n_regions * n_pos / wall_i,
        "substitutions_per_s": 3 * n_regions * n_pos / wall_i,
        "forward_rows": rows,
        "window_bp": width,
        "ism_wall_s": wall_i,
        "forward_wall_s": wall_f,
        "overhead_ratio_wall": wall_i / wall_f - 1,
        "overhead_ratio_cpu": cpu_i / cpu_f - 1,
    }


def bench_shrink(n_pos, batch_size) -> dict:
    model = demo_model(short=True)
    seq = _windows(1, 4096)
    positions = range(2048 - n_pos // 2, 2048 + n_pos // 2)
    objective = Objective(bins=(2048 - 100 - 1024, 2048 + 100 - 1024))
    t_full = time_ism(model, seq, positions, objective, batch_size, shrink=False)[1]
    t_shrunk = time_ism(model, seq, positions, objective, batch_size)[1]
    _, width = ism_rows(model, seq, positions, objective)
    return {
        "receptive_field": model.receptive_field,
        "sub_window_bp": width,
        "full_cpu_s": t_full,
        "shrunk_cpu_s": t_shrunk,
        "speedup": t_full / t_shrunk,
    }


def bench_dls(model, n_regions, batch_size) -> dict:
    seq = _windows(n_regions, 4096)
    objective = Objective(bins=(1024 - 100, 1024 + 100))
    t0 = time.perf_counter()
    deep_lift_shap(model, seq, objective, n_shuffles=20, batch_size=batch_size, device="cpu")
    dt = time.perf_counter() - t0
    return {"bases_per_s": n_regions * 4096 / dt, "seconds": dt, "n_shuffles": 20}


def agreement(model, seq, sites, crop: int, track=None, half: int = 15) -> float:
    """Pearson r of ISM and DeepLIFT/SHAP projected contributions over sites +- ``half`` bp."""
    ism_p, dls_p = [], []
    tracks = None if track is None else (track,)
    for i, (start, end) in enumerate(sites):
        x = seq[i : i + 1]
        lo, hi = start - half, end + half
        objective = Objective(tracks, (lo - crop, hi - crop))
        d = ism_mod.ism(model, x, range(lo, hi), objective, device="cpu")
        ism_p.append((ism_mod.ism_hypothetical(d) * x[:, :, lo:hi]).sum(1).ravel())
        h = deep_lift_shap(model, x, objective, n_shuffles=20, device="cpu", seed=i)
        dls_p.append((h * x)[:, :, lo:hi].sum(1).ravel())
    return float(np.corrcoef(torch.cat(ism_p).numpy(), torch.cat(dls_p).numpy())[0, 1])


def agreement_oracle(n: int) -> float:
    from tests.interpret.models import MotifOccupancyModel, planted_sequences

    seq, sites = planted_sequences(n, 200, seed=0)
    return agreement(MotifOccupancyModel(crop=20).eval(), seq, [s[1:] for s in sites], 20)


def agreement_checkpoint(checkpoint: str, data: str, n: int, chrom: str) -> dict:
    """On a trained demo model: planted sites of ``chrom``, explaining the ``local`` track."""
    import pandas as pd

    from genodil.genome.encode import one_hot
    from genodil.genome.io import Genome
    from genodil.train.io import load_model

    loaded = load_model(checkpoint)
    genome = Genome(Path(data) / "genome.fa")
    truth = pd.read_csv(Path(data) / "truth.tsv", sep="\t")
    planted = truth[(truth["kind"] == "planted") & (truth["chrom"] == chrom)]
    rows = planted.sample(min(n, len(planted)), random_state=0)
    w = loaded.window
    codes, sites = [], []
    for start, end in zip(rows["start"], rows["end"], strict=True):
        w0 = (start + end) // 2 - w // 2
        codes.append(genome.fetch(chrom, w0, w0 + w))
        sites.append((start - w0, end - w0))
    seq = torch.from_numpy(one_hot(np.stack(codes)))
    track = loaded.track_names.index("local")
    r = agreement(loaded.model, seq, sites, loaded.crop, track)
    return {"pearson": r, "n_sites": len(sites), "motifs": rows["motif"].value_counts().to_dict()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer positions and rounds")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--checkpoint", help="trained demo run for the agreement figure")
    ap.add_argument("--data", help="its simulated data folder (truth.tsv)")
    ap.add_argument("--chrom", default="chr4", help="held-out chromosome for the sites")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    n_pos, rounds, n_sites = (24, 3, 6) if args.quick else (64, 5, 20)
    model = demo_model()
    result = {"threads": args.threads, "quick": args.quick}
    result["ism_demo"] = bench_ism(model, 1, n_pos, 32, rounds)
    print("ISM, demo model:", json.dumps(result["ism_demo"]), flush=True)
    result["ism_shrink"] = bench_shrink(n_pos, 32)
    print("ISM shrinking, short-reach model:", json.dumps(result["ism_shrink"]), flush=True)
    result["deepliftshap"] = bench_dls(model, 1 if args.quick else 2, 40)
    print("DeepLIFT/SHAP:", json.dumps(result["deepliftshap"]), flush=True)
    result["agreement_oracle_r"] = agreement_oracle(n_sites)
    print("agreement, motif-occupancy network:", result["agreement_oracle_r"], flush=True)
    if args.checkpoint:
        result["agreement_demo"] = agreement_checkpoint(
            args.checkpoint, args.data, n_sites, args.chrom
        )
        print("agreement, trained demo model:", json.dumps(result["agreement_demo"]), flush=True)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
