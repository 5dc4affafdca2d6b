"""``genodil demo``: the main job on built-in data, end to end, on a laptop CPU.

simulate (tiny preset) -> train (configs/demo.yaml, time-boxed) -> evaluate on the held-out
chromosome -> predict a test region to bigWig -> score the demo VCF -> summary + PNG.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path
from typing import Any

from genodil.errors import InputError
from genodil.outputs import write_atomic

__all__ = ["demo_config_path", "run_demo"]


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
    max_minutes: float = 6.0,
    progress: bool = True,
    overrides: list[str] | None = None,
) -> dict[str, Any]:
    """Run the demo into ``out``; returns a summary dict (also written as summary.json).

    Parameters
    ----------
    out : path
        Output folder: data/, run/, metrics.json, predictions/, variants.tsv, summary.png.
    max_minutes : float
        Training time budget (the run stops at the budget or the epoch limit).
    overrides : list of str
        Extra config overrides (``["--train.max_epochs", "1"]``), e.g. for tests.
    """
    from genodil.config import load_config
    from genodil.genome.io import Genome
    from genodil.genome.vcf import read_vcf
    from genodil.predict import tiles, variants
    from genodil.simulate import simulate
    from genodil.train.evaluate import evaluate
    from genodil.train.io import load_model
    from genodil.train.run import train

    t0 = time.perf_counter()
    out = Path(out)
    data_dir = out / "data"
    print(f"[1/5] simulating the tiny demo dataset into {data_dir}")
    written = simulate(data_dir, preset="tiny", seed=0)
    minutes = max(max_minutes, 0.1)
    secs = int(minutes * 60)
    budget = f"00:{secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}"  # DD:HH:MM:SS
    cfg = load_config(
        demo_config_path(),
        ["--train.max_time", budget, *(overrides or [])],
        data_root=data_dir,
    )
    run_dir = out / "run"
    if run_dir.exists():
        shutil.rmtree(run_dir)  # the demo always starts afresh
    print(f"[2/5] training on CPU for at most {minutes:g} min -> {run_dir}")
    train(cfg, run_dir, progress=progress)
    ckpt = run_dir / "checkpoints" / "best.ckpt"
    print("[3/5] evaluating on the held-out test chromosome")
    metrics = evaluate(
        ckpt, split="test", out=out / "metrics.json", plots=out / "plots", progress=progress
    )
    loaded = load_model(ckpt)
    genome = Genome(written["fasta"])
    region = _first_region(Path(written["regions_predict"]))
    print(f"[4/5] predicting {region[0]}:{region[1]}-{region[2]} -> {out / 'predictions'}")
    tiles.predict_regions(
        loaded.model,
        genome,
        [region],
        out / "predictions",
        track_names=loaded.track_names,
        window=loaded.window,
        strand_pairs=loaded.strand_pairs,
        progress=progress,
    )
    print(f"[5/5] scoring {written['vcf']} -> {out / 'variants.tsv'}")
    scored, skipped = variants.score_variants(
        loaded.model,
        genome,
        read_vcf(written["vcf"]),
        track_names=loaded.track_names,
        window=loaded.window,
        strand_pairs=loaded.strand_pairs,
        progress=progress,
    )
    variants.write_scores(scored, skipped, out / "variants.tsv")
    summary_png = out / "summary.png"
    shutil.copyfile(out / "plots" / "tracks.png", summary_png)
    summary = {
        "out": str(out),
        "minutes": round((time.perf_counter() - t0) / 60, 2),
        "test_pearson": {k: v["pearson"] for k, v in metrics["tracks"].items()},
        "test_pearson_bin128": {k: v.get("pearson_bin128") for k, v in metrics["tracks"].items()},
        "variants_scored": len(scored),
        "variants_skipped": len(skipped),
        "files": {
            "data": str(data_dir),
            "run": str(run_dir),
            "metrics": str(out / "metrics.json"),
            "predictions": str(out / "predictions"),
            "variants": str(out / "variants.tsv"),
            "summary_png": str(summary_png),
        },
    }
    write_atomic(out / "summary.json", json.dumps(summary, indent=2) + "\n", what="summary")
    print(f"\ngenodil demo finished in {summary['minutes']} min. Outputs in {out}/:")
    for key, path in summary["files"].items():
        print(f"  {key:12s} {path}")
    print("test Pearson r per base (per 128-bp bin):")
    for name, r in summary["test_pearson"].items():
        print(f"  {name:12s} {r:.3f} ({summary['test_pearson_bin128'][name]:.3f})")
    top = scored.reindex(scored.filter(like="SAD_").abs().max(axis=1).sort_values().index[::-1])
    print("strongest variant effects (SAD):")
    print(top.head(5)[["chrom", "pos", "id", "ref", "alt"]].to_string(index=False))
    return summary
