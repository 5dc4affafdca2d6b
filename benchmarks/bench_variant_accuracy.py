"""Variant-effect accuracy against the simulator's truth after a fixed CPU training budget.

Issue 13: does genodil learn what causes long-range signal (enhancers kilobases away from a
promoter), not only where it sits? The benchmark

1. simulates a genome (``--preset``; reused when already there) whose tracks are a known
   function of the sequence and whose VCF comes with each variant's true summed effect;
2. trains ``--config`` (default ``configs/longrange.yaml``) for ``--minutes`` of wall time
   (12 by default; ``--smoke`` for a short run on the tiny preset);
3. scores the simulator's VCF with an inference window whose output covers the truth's
   summation window (the network is fully convolutional) and reports, per variant class and
   track, the Spearman correlation and the calibration slope (least squares of predicted on
   true effect; 1 = calibrated) of predicted against true summed effect;
4. reports an in-silico distance curve: an enhancer (consensus) inserted at distance d from a
   promoter (consensus) in random background sequence; predicted against true change of the
   long-range track summed around the promoter, for d = 0.5, 1, 2, 4, 8 kb (mean of
   ``--curve-reps`` backgrounds);
5. reports Pearson r against the noiseless tracks (``<track>.expected.bw``) on the test
   chromosome at 1 bp and in 32-bp bins.

The last line printed is one JSON object with every figure. Usage::

    python benchmarks/bench_variant_accuracy.py                 # 12 min of training
    python benchmarks/bench_variant_accuracy.py --smoke         # ~1 min, tiny preset
    python benchmarks/bench_variant_accuracy.py --minutes 6 --set model.channels=48

Run it under ``nice`` on a shared machine; the budget is wall time, so a loaded machine gives
fewer steps (the step count is reported).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DISTANCES = (500, 1000, 2000, 4000, 8000)
TRUTH_FLANK = 6000  # the older simulator sums true effects over +-6 kb of aligned positions
LONGRANGE_FLANK = 9000  # with the longrange track: +-9 kb (every base a variant can change)
#: (promoter motif, enhancer motif) of each long-range track
PAIRS = {"longrange": ("nfy", "gata"), "distal": ("sp1", "ets")}
PROMOTER_FLANK = 300  # the distance curve sums the promoter's peak: centre +-300 bp


def _preset(requested: str | None, smoke: bool) -> str:
    from genodil import simulate as sim

    presets = getattr(sim, "PRESETS", {})
    if requested:
        return requested
    if smoke:
        return "tiny"
    return "longrange" if "longrange" in presets else "small"


def make_data(root: Path, preset: str, seed: int) -> dict:
    """Simulate into ``root`` unless a manifest of the same preset and seed is there."""
    from genodil.simulate import simulate

    manifest = root / "manifest.json"
    if manifest.exists():
        m = json.loads(manifest.read_text())
        if m.get("preset") == preset and m.get("seed") == seed:
            return m
    t0 = time.perf_counter()
    simulate(root, preset=preset, seed=seed)
    print(f"simulated preset {preset} in {time.perf_counter() - t0:.0f} s -> {root}", flush=True)
    return json.loads(manifest.read_text())


def long_track(manifest: dict) -> str:
    """The track driven by enhancers at a distance (named by the simulator's manifest)."""
    names = [t["name"] for t in manifest["tracks"]]
    for cand in (manifest.get("long_range_track"), "longrange", "long_range", "distal"):
        if cand in names:
            return cand
    raise SystemExit(f"no long-range track among {names}")


def write_config(args, manifest: dict, data_dir: Path, out: Path) -> Path:
    """The run config: ``--config`` with the simulator's tracks and splits, time-boxed."""
    raw = yaml.safe_load(Path(args.config).read_text())
    raw["data_root"] = str(data_dir)
    raw["data"]["fasta"] = manifest["files"]["fasta"]
    # The simulator's tracks, keeping what the config sets per track (e.g. its head) by name.
    configured = {t["name"]: t for t in raw["data"].get("tracks", [])}
    raw["data"]["tracks"] = [
        {
            **{k: v for k, v in configured.get(t["name"], {}).items() if k != "path"},
            **{k: t[k] for k in ("name", "path", "strand_pair") if t.get(k) is not None},
        }
        for t in manifest["tracks"]
    ]
    splits = manifest.get("splits", {})
    raw["data"]["splits"] = {"valid": splits.get("valid", ["chr3"]), "test": splits["test"]}
    secs = max(int(args.minutes * 60), 5)
    raw.setdefault("train", {})
    raw["train"].update(
        max_time=f"00:{secs // 3600:02d}:{secs % 3600 // 60:02d}:{secs % 60:02d}",
        max_epochs=10_000,
        accelerator="cpu",
    )
    path = out / "config.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def train_model(args, config: Path, run_dir: Path) -> dict:
    """Train for the budget; returns steps and seconds."""
    import torch

    from genodil.config import load_config
    from genodil.train.run import train

    torch.set_num_threads(args.threads)
    overrides = []
    for item in args.set:
        key, _, value = item.partition("=")
        overrides += [f"--{key}", value]
    cfg = load_config(config, overrides)
    if run_dir.exists():
        shutil.rmtree(run_dir)
    t0 = time.perf_counter()
    train(cfg, run_dir, progress=False)
    seconds = time.perf_counter() - t0
    ckpt = torch.load(run_dir / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
    return {"train_s": round(seconds, 1), "steps": int(ckpt["global_step"])}


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman correlation (average ranks for ties); NaN below 3 points or if constant."""
    if len(x) < 3:
        return float("nan")
    rx, ry = pd.Series(x).rank().to_numpy(), pd.Series(y).rank().to_numpy()
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def slope(true: np.ndarray, pred: np.ndarray) -> float:
    """Least-squares slope of predicted on true effect (1 = calibrated)."""
    if len(true) < 2 or np.var(true) == 0:
        return float("nan")
    return float(np.cov(true, pred, bias=True)[0, 1] / np.var(true))


def variant_class(vid: str) -> str:
    """The simulator's variant class: the ID without its running number."""
    return vid.rsplit("_", 1)[0]


def score_vcf(loaded, data_dir: Path, manifest: dict, rc: bool) -> pd.DataFrame:
    """Predicted SAD of every simulator variant, joined to its true effects."""
    from genodil.genome.io import Genome
    from genodil.genome.vcf import read_vcf
    from genodil.predict.variants import score_variants

    flank = LONGRANGE_FLANK if "longrange" in manifest else TRUTH_FLANK
    window = 2 * loaded.crop + 2 * flank + 64  # output covers the truth's window and indels
    scored, _ = score_variants(
        loaded.model,
        Genome(data_dir / manifest["files"]["fasta"]),
        read_vcf(data_dir / manifest["files"]["vcf"]),
        track_names=loaded.track_names,
        window=window,
        scores="SAD",
        score_width=2 * flank,
        rc_average=rc,
        strand_pairs=loaded.strand_pairs,
        batch_size=4,
        progress=False,
    )
    truth = pd.read_csv(data_dir / manifest["files"]["variants_truth"], sep="\t")
    keys = ["chrom", "pos", "ref", "alt"]
    return scored.merge(truth.drop(columns=["id"]), on=keys, how="inner")


def variant_table(joined: pd.DataFrame, tracks: list[str]) -> dict:
    """Per class and track: n, Spearman, slope, median true and predicted effect."""
    joined = joined.assign(cls=joined["id"].map(variant_class))
    groups = {name: g for name, g in joined.groupby("cls")}
    if "class" in joined:  # the simulator's own classes (snv_break, enhancer_break, ...)
        groups.update({name: g for name, g in joined.groupby("class")})
    groups["indel"] = joined[joined["ref"].str.len() != joined["alt"].str.len()]
    out: dict[str, dict] = {}
    for cls, g in sorted(groups.items()):
        for t in tracks:
            true, pred = g[f"true_sad_{t}"].to_numpy(float), g[f"SAD_{t}"].to_numpy(float)
            out.setdefault(cls, {})[t] = {
                "n": len(g),
                "spearman": spearman(true, pred),
                "slope": slope(true, pred),
                "median_true": float(np.median(true)),
                "median_pred": float(np.median(pred)),
            }
    return out


def distance_curve(loaded, track: str, reps: int, seed: int) -> dict:
    """Predicted and true change of ``track`` around a promoter when an enhancer is inserted.

    Background: uniform random bases; promoter: its motif's consensus (:data:`PAIRS`) at the
    centre; enhancer: its consensus, centred d bp upstream of the promoter's centre. Sums run
    over the promoter's peak, +-``PROMOTER_FLANK`` bp around its centre.
    """
    import torch

    from genodil import simulate as sim
    from genodil.genome.encode import one_hot_torch

    prom_name, enh_name = PAIRS[track]
    prom, enh = sim.MOTIFS[prom_name].codes, sim.MOTIFS[enh_name].codes
    idx = loaded.track_names.index(track)
    out_len = 2 * TRUTH_FLANK
    length = out_len + 2 * loaded.crop
    rng = np.random.default_rng(seed)
    rows = {d: {"true": [], "pred": []} for d in DISTANCES}
    for _ in range(reps):
        bg = rng.integers(0, 4, length).astype(np.uint8)
        centre = length // 2
        p0 = centre - len(prom) // 2
        bg[p0 : p0 + len(prom)] = prom
        seqs, truths = [bg], []
        for d in DISTANCES:
            s = bg.copy()
            e0 = centre - d - len(enh) // 2
            s[e0 : e0 + len(enh)] = enh
            seqs.append(s)
        lo, hi = centre - PROMOTER_FLANK, centre + PROMOTER_FLANK
        exp = [sim.expected_tracks(s)[track][lo:hi].astype(np.float64).sum() for s in seqs]
        truths = [e - exp[0] for e in exp[1:]]
        out_lo, out_hi = lo - loaded.crop, hi - loaded.crop
        with torch.no_grad():
            x = one_hot_torch(np.stack(seqs))
            signal = loaded.model(x)["signal"][:, idx, out_lo:out_hi]
            pred = signal.double().sum(-1).numpy()
        for d, t, p in zip(DISTANCES, truths, pred[1:] - pred[0], strict=True):
            rows[d]["true"].append(t)
            rows[d]["pred"].append(float(p))
    curve = {}
    for d, r in rows.items():
        t, p = float(np.mean(r["true"])), float(np.mean(r["pred"]))
        ratio = p / t if abs(t) > 1e-6 else float("nan")
        curve[str(d)] = {"true": t, "pred": p, "ratio": ratio}
    return curve


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    if x.std() == 0 or y.std() == 0:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def noiseless_r(loaded, data_dir: Path, manifest: dict, rc: bool, max_bp: int) -> dict:
    """Pearson r of predictions against the expected (noise-free) tracks on the test split.

    Tiles the first ``max_bp`` bases of the test chromosome with abutting output windows.
    """
    import pyBigWig
    import torch

    from genodil.genome.encode import one_hot_torch, reverse_complement
    from genodil.genome.io import Genome

    genome = Genome(data_dir / manifest["files"]["fasta"])
    chrom = manifest["splits"]["test"][0].split(":")[0]
    size = min(manifest["chromosomes"][chrom], max_bp)
    crop, win = loaded.crop, loaded.window
    step = win - 2 * crop
    model = loaded.model
    preds, starts = [], list(range(0, size - win + 1, step))
    with torch.no_grad():
        for i in range(0, len(starts), 4):
            codes = np.stack([genome.fetch(chrom, s, s + win) for s in starts[i : i + 4]])
            x = one_hot_torch(codes)
            y = model(x)["signal"]
            if rc:
                y = 0.5 * (y + model.rc_map(model(reverse_complement(x))["signal"]))
            preds.append(y.numpy())
    pred = np.concatenate(preds)  # (n, T, step)
    lo, hi = crop, crop + len(starts) * step
    out = {}
    for k, t in enumerate(manifest["tracks"]):
        with pyBigWig.open(str(data_dir / t["expected_path"])) as bw:
            truth = np.nan_to_num(np.asarray(bw.values(chrom, lo, hi), dtype=np.float64))
        p = pred[:, k].reshape(-1).astype(np.float64)
        n32 = len(p) // 32 * 32
        out[t["name"]] = {
            "r_1bp": _pearson(p, truth),
            "r_32bp": _pearson(p[:n32].reshape(-1, 32).sum(1), truth[:n32].reshape(-1, 32).sum(1)),
        }
    return out


def headline(table: dict, curve: dict, r: dict, long: str, manifest: dict) -> dict:
    """The issue's target figures, picked out of the full tables."""

    def get(cls_prefix: str, track: str, key: str) -> float | None:
        vals = [v[track][key] for c, v in table.items() if c.startswith(cls_prefix)]
        return None if not vals else vals[0]

    strand = [t["name"] for t in manifest["tracks"] if t.get("strand_pair")]
    enh = "enhancer_break" if "enhancer_break" in table else None
    enh = enh or next((c for c in table if "break" in c and "ets" in c), None)
    snv_break = ("snv_break", "break_")  # current and newer simulator class names
    motif = "snv_break" if "snv_break" in table else None
    motif = motif or next((c for c in table if c.startswith(snv_break) and "local" in c), None)
    within2 = [
        abs(math.log2(v["ratio"])) <= 1 if v["ratio"] and v["ratio"] > 0 else False
        for v in curve.values()
        if abs(v["true"]) > 1e-6
    ]
    return {
        "enhancer_class": enh,
        "enhancer_spearman": None if enh is None else table[enh][long]["spearman"],
        "enhancer_slope": None if enh is None else table[enh][long]["slope"],
        "motif_class": motif,
        "motif_spearman_local": None if motif is None else table[motif]["local"]["spearman"],
        "indel_spearman": _indel_spearman(table),
        "strand_pair_r_1bp": {t: r[t]["r_1bp"] for t in strand},
        "distance_curve_within_2x": f"{sum(within2)}/{len(within2)}",
        "long_track_r_1bp": r[long]["r_1bp"],
    }


def _indel_spearman(table: dict) -> float | None:
    """Spearman of the indel group on each variant's own primary track is not tabulated;
    use the ``local`` track (the simulator's indels break or create local sites)."""
    g = table.get("indel")
    return None if g is None else g["local"]["spearman"]


def _parse(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=12.0, help="training budget (wall time)")
    p.add_argument("--smoke", action="store_true", help="0.5 min on the tiny preset")
    p.add_argument("--preset", help="simulator preset (default: longrange if any, else small)")
    p.add_argument("--seed", type=int, default=0, help="simulator seed")
    p.add_argument("--config", default=str(ROOT / "configs" / "longrange.yaml"))
    p.add_argument("--set", action="append", default=[], help="config override KEY=VALUE")
    p.add_argument("--rc-eval", action="store_true", help="average with the reverse strand")
    p.add_argument("--curve-reps", type=int, default=16, help="backgrounds per distance")
    p.add_argument("--r-bp", type=int, default=600_000, help="test bases for the r figures")
    p.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "out" / "variant_accuracy"))
    p.add_argument("--tag", default="run", help="run sub-folder name under --out")
    p.add_argument("--reuse", action="store_true", help="skip training; use --tag's model")
    args = p.parse_args(argv)
    if args.smoke:
        args.minutes = min(args.minutes, 0.5)
        args.curve_reps = min(args.curve_reps, 4)
    return args


def main(argv: list[str] | None = None) -> int:
    from genodil.train.io import load_model

    args = _parse(argv)
    preset = _preset(args.preset, args.smoke)
    out_root = Path(args.out)
    data_dir = out_root / f"data_{preset}_{args.seed}"
    manifest = make_data(data_dir, preset, args.seed)
    long = long_track(manifest)
    out = out_root / args.tag
    out.mkdir(parents=True, exist_ok=True)
    config = write_config(args, manifest, data_dir, out)
    print(f"training {args.config} for {args.minutes:g} min on preset {preset}", flush=True)
    if args.reuse:
        trained = json.loads((out / "train.json").read_text())
    else:
        trained = train_model(args, config, out / "model")
        (out / "train.json").write_text(json.dumps(trained))
    print(f"trained {trained['steps']} steps in {trained['train_s']:.0f} s", flush=True)
    loaded = load_model(out / "model" / "checkpoints" / "last.ckpt")
    t0 = time.perf_counter()
    joined = score_vcf(loaded, data_dir, manifest, args.rc_eval)
    table = variant_table(joined, loaded.track_names)
    curve = distance_curve(loaded, long, args.curve_reps, args.seed + 1)
    r = noiseless_r(loaded, data_dir, manifest, args.rc_eval, args.r_bp)
    print(f"evaluated in {time.perf_counter() - t0:.0f} s", flush=True)
    _print_report(table, curve, r, long)
    summary = {
        "benchmark": "bench_variant_accuracy",
        "preset": preset,
        "config": str(args.config),
        "overrides": args.set,
        "minutes": args.minutes,
        "rc_eval": args.rc_eval,
        **trained,
        "long_track": long,
        **headline(table, curve, r, long, manifest),
        "distance_curve": curve,
        "noiseless_r": r,
        "variants": table,
    }
    print(json.dumps(summary, default=lambda x: None))
    return 0


def _print_report(table: dict, curve: dict, r: dict, long: str) -> None:
    print("\nper class, tracks it moves (|median true| >= 1): n, Spearman / slope (pred on true)")
    for cls, tracks in table.items():
        cells = "  ".join(
            f"{t} {v['spearman']:+.2f}/{v['slope']:+.3f}"
            for t, v in tracks.items()
            if abs(v["median_true"]) >= 1.0
        )
        print(f"  {cls:<22} n={next(iter(tracks.values()))['n']:<4} {cells}")
    print(f"\ndistance curve on {long} (sum around the promoter): d, true, predicted, ratio")
    for d, v in curve.items():
        print(f"  {int(d):>5} bp  {v['true']:9.2f}  {v['pred']:9.2f}  {v['ratio']:.3f}")
    print("\nPearson r against the noiseless tracks (test chromosome): 1 bp, 32 bp")
    for t, v in r.items():
        print(f"  {t:<12} {v['r_1bp']:.3f}  {v['r_32bp']:.3f}")


if __name__ == "__main__":
    raise SystemExit(main())
