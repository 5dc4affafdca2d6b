"""``genodil demo``: the main job on built-in data, end to end, on a laptop CPU.

simulate (tiny preset) -> train (configs/demo.yaml, a fixed step budget) -> evaluate on the
held-out chromosome -> predict a test region to bigWig -> score the demo VCF and compare the
scores with the simulator's true effects -> summary.json + summary.png.

The budget is in optimiser steps, not minutes, so the same command learns the same model on
an idle or a busy machine (a busy one takes longer); the training prints an ETA.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genodil.errors import InputError
from genodil.outputs import write_atomic

__all__ = ["DEMO_STEPS", "demo_config_path", "run_demo", "variant_recovery"]

#: Optimiser steps of the demo's training: 40 epochs of the tiny set at batch 8.
DEMO_STEPS = 1320


def demo_config_path() -> Path:
    """configs/demo.yaml from the source tree, or its copy inside an installed wheel."""
    here = Path(__file__).resolve().parent
    for cand in (here.parent / "configs" / "demo.yaml", here / "_configs" / "demo.yaml"):
        if cand.exists():
            return cand
    raise InputError("configs/demo.yaml is missing from this installation; reinstall genodil")


def _first_region(bed: Path) -> tuple[str, int, int]:
    for line in bed.read_text().splitlines():
        if line.strip() and not line.startswith(("#", "track", "browser")):
            f = line.split("\t")
            return f[0], int(f[1]), int(f[2])
    raise InputError(f"{bed} holds no region")


def run_demo(
    out: str | Path = "demo_out",
    steps: int = DEMO_STEPS,
    progress: bool = True,
    overrides: list[str] | None = None,
) -> dict[str, Any]:
    """Run the demo into ``out``; returns a summary dict (also written as summary.json).

    Parameters
    ----------
    out : path
        Output folder: data/, run/, metrics.json, plots/, predictions/, variants.tsv,
        variant_recovery.tsv, summary.json, summary.png.
    steps : int
        Training budget in optimiser steps (the default is 40 epochs of the tiny set).
    progress : bool
        Progress bars and the training ETA.
    overrides : list of str
        Extra config overrides (``["--train.limit_val_batches", "2"]``), e.g. for tests.
    """
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise InputError(f"demo steps must be a positive integer, got {steps!r}")
    t0 = time.perf_counter()
    out = Path(out)
    print(f"[1/5] simulating the tiny demo dataset into {out / 'data'}")
    from genodil.simulate import simulate

    written = simulate(out / "data", preset="tiny", seed=0)
    ckpt = _train(out, written, steps, progress, overrides)
    print("[3/5] evaluating on the held-out test chromosome")
    from genodil.train.evaluate import evaluate

    metrics = evaluate(
        ckpt, split="test", out=out / "metrics.json", plots=out / "plots", progress=progress
    )
    scored, skipped = _predict_and_score(out, written, ckpt, progress)
    recovery = variant_recovery(scored, Path(written["variants_truth"]))
    table = recovery.to_csv(sep="\t", index=False, float_format="%.4g")
    write_atomic(out / "variant_recovery.tsv", table, what="variant recovery table")
    from genodil.report.demo import write_summary_png

    write_summary_png(out / "summary.png", metrics, recovery)
    summary = _summary(out, t0, steps, metrics, recovery, scored, skipped)
    write_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n", what="summary")
    _print_summary(summary, recovery)
    return summary


def _train(
    out: Path, written: dict[str, Path], steps: int, progress: bool, overrides: list[str] | None
) -> Path:
    """Train configs/demo.yaml for ``steps`` optimiser steps; returns best.ckpt."""
    from genodil.config import load_config
    from genodil.train.run import train

    cfg = load_config(
        demo_config_path(),
        ["--train.max_steps", str(steps), "--train.max_epochs", "-1", *(overrides or [])],
        data_root=written["fasta"].parent,
    )
    run_dir = out / "run"
    if run_dir.exists():
        shutil.rmtree(run_dir)  # the demo always starts afresh
    print(f"[2/5] training on CPU for {steps:,} steps -> {run_dir}")
    train(cfg, run_dir, progress=progress)
    return run_dir / "checkpoints" / "best.ckpt"


def _predict_and_score(
    out: Path, written: dict[str, Path], ckpt: Path, progress: bool
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predict the first test region to bigWig and score the demo VCF."""
    from genodil.genome.io import Genome
    from genodil.genome.vcf import read_vcf
    from genodil.predict import tiles, variants
    from genodil.train.io import load_model

    loaded = load_model(ckpt)
    genome = Genome(written["fasta"])
    region = _first_region(Path(written["regions_predict"]))
    print(f"[4/5] predicting {region[0]}:{region[1]}-{region[2]} -> {out / 'predictions'}")
    geometry = {
        "track_names": loaded.track_names,
        "window": loaded.window,
        "strand_pairs": loaded.strand_pairs,
        "progress": progress,
    }
    tiles.predict_regions(loaded.model, genome, [region], out / "predictions", **geometry)
    print(f"[5/5] scoring {written['vcf']} -> {out / 'variants.tsv'}")
    vcf = read_vcf(written["vcf"])
    scored, skipped = variants.score_variants(loaded.model, genome, vcf, **geometry)
    variants.write_scores(scored, skipped, out / "variants.tsv")
    return scored, skipped


def variant_recovery(scored: pd.DataFrame, truth_tsv: Path) -> pd.DataFrame:
    """Join predicted SAD with the simulator's true effects, one row per scored allele.

    Returns
    -------
    pandas.DataFrame
        id, alt, class, effect, track (the planted track, or for neutral variants the track
        with the largest predicted |SAD|), sad (predicted, on that track), true (the true
        summed effect there), max_abs_sad (over the model's tracks).
    """
    truth = pd.read_csv(truth_tsv, sep="\t", dtype={"id": str, "alt": str})
    truth = truth.rename(columns={"class": "vclass"})
    sad_cols = [c for c in scored.columns if c.startswith("SAD_")]
    tracks = [c.removeprefix("SAD_") for c in sad_cols]
    merged = scored[["id", "alt", *sad_cols]].merge(truth, on=["id", "alt"], how="inner")
    sad = merged[sad_cols].to_numpy(dtype=np.float64)
    strongest = [tracks[i] for i in np.abs(sad).argmax(axis=1)] if len(merged) else []
    rows = []
    for i, r in enumerate(merged.itertuples(index=False)):
        track = r.track if r.track in tracks else None
        shown = track or strongest[i]
        rows.append(
            {
                "id": r.id,
                "alt": r.alt,
                "class": r.vclass,
                "effect": r.effect,
                "planted_track": r.track,
                "track": shown,
                "sad": float(getattr(r, f"SAD_{shown}")),
                "true": float(getattr(r, f"true_sad_{shown}")),
                "max_abs_sad": float(np.abs(sad[i]).max()),
                "predicted_track": track is not None or r.effect == "neutral",
            }
        )
    return pd.DataFrame(rows)


def recovery_stats(recovery: pd.DataFrame) -> dict[str, Any]:
    """Spearman of predicted against true effect per variant class, and an AUROC.

    The AUROC separates breaking from neutral variants, each scored by its largest |SAD| over
    the model's tracks. Neutral variants get no Spearman (their true effects are ~0).
    """
    from scipy.stats import rankdata, spearmanr

    per_class: dict[str, Any] = {}
    for cls, part in recovery.groupby("class", sort=True):
        if cls == "neutral":
            continue
        own = part[part["predicted_track"]]
        rho = float(spearmanr(own["sad"], own["true"])[0]) if len(own) >= 3 else None
        note = None if len(own) else "its track is not among the model's tracks"
        per_class[str(cls)] = {"n": len(own), "spearman": rho, "note": note}
    brk = recovery.loc[recovery["effect"] == "break", "max_abs_sad"].to_numpy()
    neu = recovery.loc[recovery["effect"] == "neutral", "max_abs_sad"].to_numpy()
    auroc = None
    if len(brk) and len(neu):
        ranks = rankdata(np.concatenate([brk, neu]))
        auroc = float(ranks[: len(brk)].sum() - len(brk) * (len(brk) + 1) / 2)
        auroc /= len(brk) * len(neu)
    return {"spearman_by_class": per_class, "auroc_break_vs_neutral": auroc}


def _summary(
    out: Path,
    t0: float,
    steps: int,
    metrics: dict,
    recovery: pd.DataFrame,
    scored: pd.DataFrame,
    skipped: pd.DataFrame,
) -> dict[str, Any]:
    files = {
        "data": out / "data",
        "run": out / "run",
        "metrics": out / "metrics.json",
        "plots": out / "plots",
        "predictions": out / "predictions",
        "variants": out / "variants.tsv",
        "recovery": out / "variant_recovery.tsv",
        "summary_png": out / "summary.png",
    }
    top = recovery.reindex(recovery["max_abs_sad"].sort_values(ascending=False).index).head(5)
    return {
        "out": str(out),
        "minutes": round((time.perf_counter() - t0) / 60, 2),
        "train_steps": steps,
        "test_pearson": {k: v["pearson"] for k, v in metrics["tracks"].items()},
        "test_pearson_bin128": {k: v.get("pearson_bin128") for k, v in metrics["tracks"].items()},
        "variants_scored": len(scored),
        "variants_skipped": len(skipped),
        "variant_recovery": recovery_stats(recovery),
        "strongest_variants": top[["id", "alt", "class", "track", "sad", "true"]].to_dict(
            orient="records"
        ),
        "files": {k: str(v) for k, v in files.items()},
    }


def _print_summary(summary: dict[str, Any], recovery: pd.DataFrame) -> None:
    print(f"\ngenodil demo finished in {summary['minutes']} min. Outputs in {summary['out']}/:")
    for key, path in summary["files"].items():
        print(f"  {key:12s} {path}")
    print("test Pearson r per base (per 128-bp bin):")
    for name, r in summary["test_pearson"].items():
        print(f"  {name:12s} {r:.3f} ({summary['test_pearson_bin128'][name]:.3f})")
    stats = summary["variant_recovery"]
    print("predicted SAD against the simulator's true effect (Spearman, per variant class):")
    for cls, s in stats["spearman_by_class"].items():
        shown = f"{s['spearman']:.3f}" if s["spearman"] is not None else "n/a"
        print(f"  {cls:15s} {shown:>6s}  n={s['n']}" + (f"  ({s['note']})" if s["note"] else ""))
    auroc = stats["auroc_break_vs_neutral"]
    print(f"  AUROC breaking vs neutral (max |SAD|): {auroc:.3f}" if auroc is not None else "")
    print("strongest variant effects (SAD and true effect on the track shown, track units):")
    table = pd.DataFrame(summary["strongest_variants"])
    print(table.to_string(index=False, float_format=lambda x: f"{x:,.1f}") if len(table) else "")
