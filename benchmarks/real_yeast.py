"""Real data: train configs/yeast_r64.yaml on S. cerevisiae for a bounded time, against baselines.

Three predictors of the same held-out test region (IV:1,000,000-1,531,933), scored with the
same exact split metrics (per-base Pearson r and after summing into 50-bp bins, the tiles
the source averaged the tracks into):

1. the dilated ResNet of configs/yeast_r64.yaml (receptive field ~4.1 kb);
2. the same network with 9 blocks (receptive field ~1 kb, BPNet-like);
3. a GC-content regression: per-base least squares on GC fractions in centred windows of
   51, 151, 501, 1001 and 2001 bp, fitted on training windows.

Usage (writes docs/results.md unless --no-write; ends with one JSON line):

    python benchmarks/real_yeast.py --minutes 12 --short-minutes 6 --out benchmarks/out/yeast
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
YEAST = ROOT.parent / "shared" / "data" / "real" / "yeast_r64"
BINS = (32, 50, 128)


def train_and_eval(
    name: str, minutes: float, out: Path, overrides: list[str], steps: int | None = None
) -> dict:
    from genodil.config import load_config
    from genodil.train.evaluate import evaluate
    from genodil.train.run import train

    secs = int(minutes * 60)
    budget = f"00:{secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"
    stop = ["--train.max_steps", str(steps)] if steps else []
    cfg = load_config(
        ROOT / "configs" / "yeast_r64.yaml",
        ["--train.max_time", budget, "--train.accelerator", "cpu", *stop, *overrides],
        data_root=YEAST,
    )
    run_dir = out / name
    t0 = time.perf_counter()
    train(cfg, run_dir, progress=False)
    took = time.perf_counter() - t0
    metrics = evaluate(run_dir, split="test", progress=False, bins=BINS)
    metrics["train_seconds"] = round(took, 1)
    last = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    metrics["train_steps"] = int(last["global_step"])
    return metrics


def gc_baseline(batch_windows: int = 300) -> dict:
    """Least squares of each track on multi-scale GC fractions; scored on the test split."""
    from genodil.config import build_datamodule, load_config
    from genodil.train.metrics import TrackMetrics, mean_over_tracks

    cfg = load_config(ROOT / "configs" / "yeast_r64.yaml", [], data_root=YEAST)
    dm = build_datamodule(cfg)
    dm.setup("fit")
    crop = dm.crop
    widths = (51, 151, 501, 1001, 2001)

    def features(seq: torch.Tensor) -> torch.Tensor:
        gc = (seq[:, 1] + seq[:, 2])[:, None]  # (B, 1, L)
        cols = [torch.ones_like(gc)]
        for w in widths:
            box = torch.ones(1, 1, w) / w
            cols.append(torch.nn.functional.conv1d(gc, box, padding=w // 2))
        x = torch.cat(cols, 1)[:, :, crop : seq.shape[-1] - crop]  # (B, F, L_out)
        return x.permute(0, 2, 1).reshape(-1, x.shape[1]).double()

    rng = np.random.default_rng(0)
    train_ds = dm.dataset("train")
    idx = rng.choice(len(train_ds), size=min(batch_windows, len(train_ds)), replace=False)
    xs, ys = [], []
    for i in idx:
        item = train_ds[(int(i), 0)]
        xs.append(features(torch.as_tensor(item["seq"])[None].float()))
        ys.append(torch.as_tensor(item["target"]).T.double())
    coef = torch.linalg.lstsq(torch.cat(xs), torch.cat(ys)).solution  # (F, T)
    metrics = TrackMetrics(dm.track_names, bins=BINS)
    for batch in dm.test_dataloader():
        x = features(batch["seq"].float())
        pred = (x @ coef).reshape(batch["seq"].shape[0], -1, len(dm.track_names))
        metrics.update(pred.permute(0, 2, 1).clamp_min(0), batch["target"])
    per_track = metrics.compute()
    return {"tracks": per_track, "mean": mean_over_tracks(per_track)}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--minutes", type=float, default=12.0, help="training budget, main model")
    p.add_argument("--short-minutes", type=float, default=6.0, help="budget, short-RF model")
    p.add_argument("--steps", type=int, help="stop each model after this many steps too")
    p.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "out" / "yeast")
    p.add_argument("--no-write", action="store_true", help="do not write docs/results.md")
    args = p.parse_args(argv)
    if not YEAST.exists():
        print(f"real data not found at {YEAST}; nothing to do")
        return 0
    torch.manual_seed(0)
    args.out.mkdir(parents=True, exist_ok=True)
    results = {
        "dilated_4kb": train_and_eval("dilated_4kb", args.minutes, args.out, [], args.steps),
        "short_rf_1kb": train_and_eval(
            "short_rf_1kb",
            args.short_minutes,
            args.out,
            ["--model.dilations", "{schedule: exponential, rate: 2, blocks: 9}"],
            args.steps,
        ),
        "gc_regression": gc_baseline(),
    }
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    tracks = list(results["dilated_4kb"]["tracks"])
    lines = [
        "| model | " + " | ".join(f"{t} r 1bp / 50bp" for t in tracks) + " | mean 1bp / 50bp |",
        "|---" * (len(tracks) + 2) + "|",
    ]
    for name, res in results.items():
        cells = [
            f"{res['tracks'][t]['pearson']:.3f} / {res['tracks'][t]['pearson_bin50']:.3f}"
            for t in tracks
        ]
        mean = f"{res['mean']['pearson']:.3f} / {res['mean']['pearson_bin50']:.3f}"
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {mean} |")
    table = "\n".join(lines)
    print(table)
    figures = {
        name: {"pearson": res["mean"]["pearson"], "pearson_bin50": res["mean"]["pearson_bin50"]}
        for name, res in results.items()
    }
    for key in ("train_seconds", "train_steps"):
        figures[key] = {k: results[k][key] for k in ("dilated_4kb", "short_rf_1kb")}
    if not args.no_write:
        write_results_md(table, results, args)
    print(json.dumps(figures))
    return 0


def write_results_md(table: str, results: dict, args) -> None:
    steps = f" --steps {args.steps}" if args.steps else ""
    text = f"""# Results on real data: yeast R64-1-1

Produced by `python benchmarks/real_yeast.py --minutes {args.minutes:g} --short-minutes \
{args.short_minutes:g}{steps}` on a 2-core CPU (no GPU). Training is
bounded, so these are the numbers of a short CPU run, not of a converged model.

Data: `../shared/data/real/yeast_r64` (chromosomes II, IV, XVI; MNase-seq, Pol II ChIP-seq,
stranded RNA-seq; the source averaged every track into 50-bp tiles). Split by region
(configs/yeast_r64.yaml): validation XVI:0-300,000, test IV:1,000,000-1,531,933, the rest trains.
Test-region Pearson r, exact over the whole region, per base and after summing into 50-bp bins:

{table}

Training time (s): dilated_4kb {results["dilated_4kb"]["train_seconds"]}, short_rf_1kb \
{results["short_rf_1kb"]["train_seconds"]}; test windows:
{results["dilated_4kb"]["n_windows"]}.

(Discussion: written by hand after each run.)
"""
    (ROOT / "docs" / "results.md").write_text(text)


if __name__ == "__main__":
    sys.exit(main())
