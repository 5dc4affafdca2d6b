"""Interpret a trained demo model against the simulator's ground truth (issue 12).

``python benchmarks/explain_demo.py RUN_DIR DATA_DIR --out DIR [--quick]``

``RUN_DIR`` is a run trained on simulated data (``genodil demo``'s ``run/``, or any run on
``genodil simulate`` output); ``DATA_DIR`` is that simulated data (``genome.fa``, the
bigWigs, ``truth.tsv``, ``motifs.meme``, ``variants.vcf``, ``variants_truth.tsv``). Sites
and peaks come from the held-out chromosomes (the checkpoint's valid and test splits). The
script measures, writing its outputs and figures under ``DIR``:

a. **Agreement** of DeepLIFT/SHAP with ISM at planted sites (``truth.tsv``, kind
   ``planted``): for each site, the projected contributions (hypothetical x one-hot; for
   ISM the change minus the mean change at each position) over the site +- 15 bp, explaining
   the model's output over the site +- 15 bp (as ``tests/interpret/test_agreement.py``) on
   ``local``, and each motif's own track where the model predicts it (``sp1``: ``distal``,
   50 bp each side; ``tata``: the cage track of its strand, the 60 bp downstream where its
   start peak lies; ``gata``/``nfy``: ``longrange``). Pearson r pooled over every site, per
   motif and per track; the issue's bar is r >= 0.8.
b. **Motif recovery**: ``genodil motifs``' pipeline (DeepLIFT/SHAP with ``--motif-shuffles``
   references, TF-MoDISco, Tomtom) on the top peaks of each ``--peaks`` track (default the
   predicted peaks of ``local``, ``cage_plus`` and ``distal``), against the planted PWMs plus
   JASPAR vertebrates as decoys. A planted motif is recovered when some pattern matches its
   PWM at Tomtom q < 0.05 (q as ``genodil motifs`` computes it, over every database motif;
   JASPAR's AP-1 family is the same motif as the planted ``ap1``, so the best match overall
   may be a decoy). For each planted motif missed: how many of its sites lay in the regions.
   Also: the share of the top predicted peaks that are top observed peaks.
c. **Marginalization**: each planted motif's consensus, and a shuffled control of the same
   letters, inserted into dinucleotide-shuffled held-out windows: predicted mean change
   summed over the output, beside the simulator's true change (its expected tracks of the
   same sequences). And a spacing curve for the cooperative pair the model predicts: ``ets``
   (enhancer) at several distances from ``sp1`` (promoter) on ``distal`` (the simulator's
   ``gata``+``nfy`` pair drives ``longrange``, used instead when the model predicts it).
d. **Variant explanation**: ``genodil explain-variants`` on ``variants.vcf`` (top 5 by
   |SAD| of ``local``) with the planted motifs; the named motif and effect against the
   simulator's (``variants_truth.tsv``).

Sizes (``--sites``, ``--n-shuffles``, ``--peaks``, ``--motif-shuffles``,
``--n-backgrounds``) set the cost. On the demo model, one thread: (a) ~2.9 CPU-s per
site-track pair (ISM of 41 positions on the whole 4,096-bp window, plus 20 references), so
~140 s at the default 6 sites per motif; (c) 24 s; (d) 9 s; (b) is dominated by
DeepLIFT/SHAP over every peak window (estimated ~0.04 CPU-s per window and reference).
``--sections`` runs a subset (the parts can run as parallel processes). ``--quick`` makes a
smoke run for tests. Prints progress lines and ends with one JSON line of every figure
(also ``DIR/explain_demo.json``).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from genodil.genome.encode import one_hot
from genodil.genome.io import Genome
from genodil.interpret import plots
from genodil.interpret.deeplift import deep_lift_shap
from genodil.interpret.ism import ism, ism_hypothetical
from genodil.interpret.objective import Objective
from genodil.simulate import MOTIFS, SPLITS
from genodil.train.io import load_model

HALF = 15  # bp each side of a site whose contributions are compared
PRIMARY = {"sp1": "distal", "gata": "longrange", "nfy": "longrange"}  # tata: by strand


def held_out(loaded) -> list[str]:
    """The checkpoint's valid + test chromosomes (the simulator's suggestion if unrecorded)."""
    splits = loaded.data.get("splits") or SPLITS
    return [c for key in ("valid", "test") for c in splits.get(key, [])]


def explained_span(motif: str, strand: str, track: str, start: int, end: int):
    """Input columns [lo, hi) whose outputs are explained for a site on ``track``."""
    if track.startswith("cage"):
        return (end, end + 60) if strand == "+" else (start - 60, start)
    if track in ("distal", "longrange"):
        return start - 50, end + 50
    return start - HALF, end + HALF


def site_tracks(motif: str, strand: str, names: list[str]) -> list[str]:
    """The tracks explained at a site: ``local`` and the motif's own, when predicted."""
    own = PRIMARY.get(motif)
    if motif == "tata":
        own = "cage_plus" if strand == "+" else "cage_minus"
    return [t for t in dict.fromkeys(["local", own]) if t in names]


def pick_sites(truth: pd.DataFrame, chroms: list[str], n: int, seed: int) -> pd.DataFrame:
    """Up to ``n`` planted sites per motif on ``chroms``."""
    planted = truth[(truth["kind"] == "planted") & truth["chrom"].isin(chroms)]
    parts = [
        g.sample(min(n, len(g)), random_state=seed) for _, g in planted.groupby("motif", sort=True)
    ]
    return pd.concat(parts).reset_index(drop=True)


def site_contributions(loaded, genome, site, track: str, n_shuffles: int, seed: int):
    """ISM and DeepLIFT/SHAP projected contributions over the site +- HALF bp."""
    w, crop, b = loaded.window, loaded.crop, loaded.bin_size
    w0 = (site.start + site.end) // 2 - w // 2
    x = torch.from_numpy(one_hot(genome.fetch(site.chrom, w0, w0 + w)))[None]
    s, e = site.start - w0, site.end - w0
    lo, hi = explained_span(site.motif, site.strand, track, s, e)
    bins = (max((lo - crop) // b, 0), min(-(-(hi - crop) // b), (w - 2 * crop) // b))
    objective = Objective((loaded.track_names.index(track),), bins)
    run = {"device": "cpu", "strand_pairs": loaded.strand_pairs}
    cols = range(s - HALF, e + HALF)
    d = ism(loaded.model, x, cols, objective, batch_size=64, **run)
    ism_p = (ism_hypothetical(d) * x[:, :, cols.start : cols.stop]).sum(1)[0]
    h = deep_lift_shap(loaded.model, x, objective, n_shuffles=n_shuffles, seed=seed, **run)
    dls_p = (h * x)[0, :, cols.start : cols.stop].sum(0)
    return ism_p.numpy(), dls_p.numpy(), x[0, :, cols.start : cols.stop].numpy()


def _pearson(a: list, b: list) -> float:
    return float(np.corrcoef(np.concatenate(a), np.concatenate(b))[0, 1])


def agreement(loaded, genome, sites: pd.DataFrame, n_shuffles: int, log) -> tuple[dict, list]:
    """Pearson r of ISM and DeepLIFT/SHAP per (motif, track), per track, per motif and pooled."""
    rows = []
    for i, site in enumerate(sites.itertuples(index=False)):
        for track in site_tracks(site.motif, site.strand, loaded.track_names):
            a, b, ohe = site_contributions(loaded, genome, site, track, n_shuffles, seed=i)
            rows.append({"motif": site.motif, "track": track, "ism": a, "dls": b, "ohe": ohe})
        log(f"  site {i + 1}/{len(sites)} ({site.motif} {site.chrom}:{site.start})")
    out: dict = {"n_sites": len(sites), "n_site_tracks": len(rows)}
    out["pearson"] = _pearson([r["ism"] for r in rows], [r["dls"] for r in rows])
    local = [r for r in rows if r["track"] == "local"]
    if local:
        out["pearson_local"] = _pearson([r["ism"] for r in local], [r["dls"] for r in local])
    for key in ("motif", "track"):
        out[f"per_{key}"] = {
            name: {
                "pearson": _pearson([r["ism"] for r in g], [r["dls"] for r in g]),
                "n": len(g),
            }
            for name in sorted({r[key] for r in rows})
            for g in [[r for r in rows if r[key] == name]]
        }
    out["per_motif_track"] = {
        f"{m}/{t}": _pearson([r["ism"] for r in g], [r["dls"] for r in g])
        for m, t in sorted({(r["motif"], r["track"]) for r in rows})
        for g in [[r for r in rows if (r["motif"], r["track"]) == (m, t)]]
    }
    per_site = [float(np.corrcoef(r["ism"], r["dls"])[0, 1]) for r in rows]
    out["per_site_median"] = float(np.nanmedian(per_site))
    return out, rows


def agreement_figure(path: Path, rows: list, result: dict) -> Path:
    """Scatter of ISM against DeepLIFT/SHAP per base, and one site's two logos."""
    plt = plots._pyplot()
    fig = plt.figure(figsize=(10, 4.2))
    ax = fig.add_axes([0.07, 0.13, 0.36, 0.78])
    for motif in sorted({r["motif"] for r in rows}):
        g = [r for r in rows if r["motif"] == motif]
        ax.scatter(
            np.concatenate([r["ism"] for r in g]),
            np.concatenate([r["dls"] for r in g]),
            s=4,
            alpha=0.6,
            label=f"{motif} (r {result['per_motif'][motif]['pearson']:.2f})",
        )
    ax.set_xlabel("ISM projected contribution", fontsize=8)
    ax.set_ylabel("DeepLIFT/SHAP projected contribution", fontsize=8)
    ax.set_title(f"planted sites +-{HALF} bp: r = {result['pearson']:.3f}", fontsize=9)
    ax.legend(fontsize=6, markerscale=2)
    best = max(rows, key=lambda r: np.abs(r["ism"]).sum() * (r["track"] == "local"))
    for k, (key, name) in enumerate((("ism", "ISM"), ("dls", "DeepLIFT/SHAP"))):
        lax = fig.add_axes([0.52, 0.58 - 0.45 * k, 0.46, 0.33])
        plots.logo_axes(lax, best["ohe"] * best[key][None], -HALF)
        lax.set_title(
            f"{name}, {best['motif']} site ({best['track']}); x: bp from the site start", fontsize=8
        )
    return plots.save_figure(fig, path)


def motif_db(data: Path) -> tuple[dict, dict]:
    """Planted PWMs (keyed by motif name) plus JASPAR vertebrates as decoys, and the planted."""
    from genodil.interpret.motifs import load_motif_db

    planted = {k.split()[0]: v for k, v in load_motif_db(meme=str(data / "motifs.meme")).items()}
    return {**load_motif_db(jaspar="vertebrates"), **planted}, planted


def planted_qvalues(meme: Path, db: dict, planted: dict) -> pd.DataFrame:
    """Tomtom q-value of each pattern (rows) against each planted PWM (columns).

    As ``genodil motifs`` computes ``match_qvalue``: Benjamini-Hochberg over every database
    motif (planted and decoys) of one pattern's p-values.
    """
    from memelite import tomtom
    from memelite.io import read_meme

    from genodil.interpret.motifs import _bh

    patterns = read_meme(str(meme))
    names = list(db)
    if not patterns:
        return pd.DataFrame(columns=list(planted))
    p = np.asarray(tomtom([np.asarray(v) for v in patterns.values()], [db[n] for n in names])[0])
    q = np.stack([_bh(row) for row in p])
    cols = [names.index(m) for m in planted]
    return pd.DataFrame(q[:, cols], index=list(patterns), columns=list(planted))


def sites_in(regions: pd.DataFrame, sites: pd.DataFrame) -> dict[str, int]:
    """Per motif, planted sites lying wholly inside one of ``regions``."""
    counts: dict[str, int] = {}
    for r in regions.itertuples(index=False):
        inside = sites[
            (sites["chrom"] == r.chrom) & (sites["start"] >= r.start) & (sites["end"] <= r.end)
        ]
        for m in inside["motif"]:
            counts[m] = counts.get(m, 0) + 1
    return counts


def recovery(loaded, genome, track, n_peaks, source, chroms, db, planted, truth, out, args):
    """Top peaks -> genodil motifs' pipeline; which planted motifs are recovered (q < 0.05)."""
    from genodil.interpret.motifs import discover_motifs, top_peaks

    regions = top_peaks(
        loaded, genome, n_peaks, track, 400, chroms=chroms, source=source, device="cpu"
    )
    folder = out / f"motifs_{track}_{source}"
    written = discover_motifs(
        loaded,
        genome,
        regions,
        folder,
        db,
        track=track,
        flank=0,
        n_shuffles=args.motif_shuffles,
        device="cpu",
        progress=False,
        overwrite=True,
        final_min_cluster_size=10,
        min_metacluster_size=20,
    )
    table = pd.read_csv(written["patterns"], sep="\t")
    q = planted_qvalues(Path(written["meme"]), db, planted)  # (patterns, planted) q-values
    best_q = {m: float(q[m].min()) if len(q) else 1.0 for m in planted}
    recovered = sorted(m for m in planted if best_q[m] < 0.05)
    planted_sites = truth[(truth["kind"] == "planted") & truth["chrom"].isin(chroms)]
    present = sites_in(regions, planted_sites)
    return {
        "track": track,
        "peaks_from": source,
        "n_regions": len(regions),
        "n_patterns": len(table),
        "recovered": recovered,
        "best_planted_q": {m: float(f"{v:.2g}") for m, v in best_q.items()},
        "best_match_planted": sorted(set(table["best_match"]) & set(planted)),
        "missed": {m: present.get(m, 0) for m in planted if m not in recovered},
        "sites_in_regions": present,
        "patterns": table[["pattern", "sign", "n_seqlets", "consensus", "best_match"]]
        .assign(q=table["match_qvalue"].map(lambda q: float(f"{q:.2g}")))
        .to_dict(orient="records"),
        "folder": str(folder),
    }


def best_case_score(text: str, motif, reach: int = 3) -> float:
    """Highest log-odds ``motif`` can reach on a window overlapping ``text``, either strand.

    Windows reach at most ``reach`` bp past either end of ``text``; those bases count at
    their best (any flanking context).
    """
    from genodil.genome.encode import encode

    codes = encode(text.upper())
    best = -np.inf
    m = len(motif)
    for lo in (motif.log_odds[:, :4], motif.log_odds[::-1, [3, 2, 1, 0]]):
        for off in range(-reach, len(codes) - m + reach + 1):
            j = np.arange(m)
            inside = (off + j >= 0) & (off + j < len(codes))
            score = lo[j[inside], codes[off + j[inside]]].sum() + lo[~inside].max(1).sum()
            best = max(best, float(score))
    return best


def peak_overlap(loaded, genome, peaks: str, chroms: list[str]) -> dict:
    """Share of the top predicted peaks of each track among its top observed ones."""
    from genodil.interpret.motifs import top_peaks

    out = {}
    for spec in peaks.split(","):
        track, n, _ = spec.split(":")
        got = {
            source: top_peaks(
                loaded, genome, int(n), track, 400, chroms=chroms, source=source, device="cpu"
            )
            for source in ("predicted", "observed")
        }
        obs = got["observed"]
        hits = sum(
            ((obs["chrom"] == r.chrom) & ((obs["start"] - r.start).abs() < 200)).any()
            for r in got["predicted"].itertuples(index=False)
        )
        out[track] = {"n": int(n), "predicted_in_observed": hits / len(got["predicted"])}
    return out


def shuffled_control(consensus: str, seed: int = 0) -> str:
    """The consensus' letters shuffled so that no planted motif can bind over them.

    Of 2,000 shuffles, the first whose best-case score (any flanking bases) stays below every
    motif's occupancy threshold; failing that, the one with the lowest best-case occupancy.
    """
    rng = np.random.default_rng(seed)
    letters = list(consensus.upper())
    best, best_occ = None, np.inf
    for _ in range(2000):
        rng.shuffle(letters)
        text = "".join(letters)
        occ = max(float(m.occupancy(best_case_score(text, m))) for m in MOTIFS.values())
        if occ < best_occ:
            best, best_occ = text, occ
        if all(best_case_score(text, m) < m.min_score for m in MOTIFS.values()):
            return text
    return best


def true_effect(codes_before: np.ndarray, codes_after: np.ndarray, tracks, crop: int):
    """The simulator's expected change summed over the output span, (n, T)."""
    from genodil.simulate import expected_tracks

    def summed(codes):
        rows = []
        for c in codes:
            rate = expected_tracks(c)
            rows.append([float(rate[t][crop : len(c) - crop].sum()) for t in tracks])
        return np.array(rows)

    return summed(codes_after) - summed(codes_before)


def marginal_effects(loaded, backgrounds: np.ndarray) -> dict:
    """Each planted motif's and its shuffled control's predicted and true summed change."""
    from genodil.interpret.marginalize import insert, marginalize

    names = loaded.track_names
    sim_tracks = [t for t in names if t in {"local", "distal", "cage_plus", "cage_minus"}]
    run = {"device": "cpu", "batch_size": 16, "track_specs": loaded.track_specs}
    out = {}
    for name, m in MOTIFS.items():
        row = {}
        for kind, seq in (
            ("motif", m.consensus.upper()),
            ("control", shuffled_control(m.consensus)),
        ):
            res = marginalize(loaded.model, backgrounds, seq, **run)
            truth = true_effect(
                backgrounds, insert(backgrounds, seq, res.start), sim_tracks, loaded.crop
            )
            row[kind] = {
                "sequence": seq,
                "predicted": {t: float(res.total[:, names.index(t)].mean()) for t in names},
                "true": {t: float(truth[:, j].mean()) for j, t in enumerate(sim_tracks)},
            }
        out[name] = row
    return out


def spacing_curve(loaded, backgrounds: np.ndarray, spacings: list[int]) -> dict | None:
    """Interaction of the cooperative pair on the track it drives, predicted and true."""
    from genodil.interpret.marginalize import insert, spacing_effects

    pair = None
    if "longrange" in loaded.track_names:
        pair = ("nfy", "gata", "longrange")
    elif "distal" in loaded.track_names:
        pair = ("sp1", "ets", "distal")
    if pair is None:
        return None
    first, second, track = pair
    a, b = MOTIFS[first].consensus.upper(), MOTIFS[second].consensus.upper()
    w = backgrounds.shape[1]
    c = w // 2
    spacings = [d for d in spacings if c + d + len(b) < w]
    if not spacings:
        return None
    run = {"device": "cpu", "batch_size": 16, "track_specs": loaded.track_specs}
    res = spacing_effects(loaded.model, backgrounds, a, b, spacings, **run)
    t = loaded.track_names.index(track)
    s1 = c - len(a) // 2
    one = insert(backgrounds, a, s1)
    true = []
    for d in spacings:
        s2 = c + d - len(b) // 2
        eff = [
            true_effect(backgrounds, x, [track], loaded.crop)[:, 0].mean()
            for x in (insert(one, b, s2), one, insert(backgrounds, b, s2))
        ]
        true.append(float(eff[0] - eff[1] - eff[2]))
    return {
        "first": first,
        "second": second,
        "track": track,
        "spacing": spacings,
        "predicted_interaction": [float(v) for v in res["interaction"][:, t]],
        "true_interaction": true,
        "predicted_first_alone": float(res["single_first"][t]),
        "predicted_pair": [float(v) for v in res["pair"][:, t]],
    }


def marginal_figure(path: Path, marg: dict, spacing: dict | None) -> Path:
    """Bars: predicted vs true change of each motif and its control on local; spacing curve."""
    plt = plots._pyplot()
    fig, axes = plt.subplots(1, 2 if spacing else 1, figsize=(10, 3.4), squeeze=False)
    ax = axes[0, 0]
    names = list(marg)
    x = np.arange(len(names))
    for k, (kind, key, label) in enumerate(
        (
            ("motif", "predicted", "motif, predicted"),
            ("motif", "true", "motif, simulator"),
            ("control", "predicted", "shuffled control, predicted"),
            ("control", "true", "shuffled control, simulator"),
        )
    ):
        vals = [marg[n][kind][key].get("local", np.nan) for n in names]
        ax.bar(x + (k - 1.5) * 0.2, vals, 0.2, label=label)
    ax.set_xticks(x, names, fontsize=8)
    ax.set_ylabel("mean change of local, summed (track units)", fontsize=8)
    ax.set_title("motif inserted into shuffled held-out windows", fontsize=9)
    ax.legend(fontsize=6)
    if spacing:
        ax = axes[0, 1]
        ax.plot(spacing["spacing"], spacing["predicted_interaction"], "o-", label="predicted")
        ax.plot(spacing["spacing"], spacing["true_interaction"], "s--", label="simulator")
        ax.axhline(0, color="0.6", lw=0.5)
        ax.set_xlabel(f"{spacing['second']} distance from {spacing['first']} (bp)", fontsize=8)
        ax.set_ylabel(f"interaction on {spacing['track']} (track units)", fontsize=8)
        ax.set_title("pair - first - second", fontsize=9)
        ax.legend(fontsize=7)
    fig.tight_layout()
    return plots.save_figure(fig, path)


def explain_top_variants(loaded, genome, data: Path, planted: dict, out: Path, top: int) -> dict:
    """genodil explain-variants on the demo VCF, checked against the simulator's truth."""
    from genodil.genome.vcf import read_vcf
    from genodil.interpret.explain import explain_variants

    written = explain_variants(
        loaded,
        genome,
        read_vcf(data / "variants.vcf"),
        out / "explain",
        top=top,
        track="local",
        db=planted,
        device="cpu",
        progress=False,
    )
    table = pd.read_csv(written["table"], sep="\t", dtype={"id": str})
    truth = pd.read_csv(data / "variants_truth.tsv", sep="\t", dtype={"id": str, "alt": str})
    merged = table.merge(truth, on=["id", "alt"], how="left", suffixes=("", "_truth"))
    rows = []
    for r in merged.to_dict(orient="records"):
        named = None if pd.isna(r["motif"]) else str(r["motif"])
        effect = None if pd.isna(r["effect"]) else str(r["effect"])
        want = {"break": "breaks", "create": "creates"}.get(str(r["effect_truth"]))
        rows.append(
            {
                "id": r["id"],
                "class": str(r["class"]),
                "sad_local": float(r["SAD_local"]),
                "true_sad_local": float(r["true_sad_local"]),
                "named_motif": named,
                "named_effect": effect,
                "true_motif": str(r["motif_truth"]),
                "true_effect": str(r["effect_truth"]),
                "correct": named == str(r["motif_truth"]) and effect == want,
            }
        )
    return {"variants": rows, "n_correct": sum(r["correct"] for r in rows), "folder": str(out)}


def _section(result: dict, key: str, fn, *args):
    """Run one section, record its CPU and wall seconds, print its figures."""
    t0, c0 = time.perf_counter(), time.process_time()
    value = fn(*args)
    result[key] = value
    result.setdefault("seconds", {})[key] = {
        "cpu": round(time.process_time() - c0, 1),
        "wall": round(time.perf_counter() - t0, 1),
    }
    shown = (
        {k: v for k, v in value.items() if k not in ("patterns", "variants")}
        if isinstance(value, dict)
        else value
    )
    print(f"{key}: {json.dumps(shown, default=str)[:1500]}", flush=True)
    return value


def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", type=Path, help="trained run folder or checkpoint")
    ap.add_argument("data", type=Path, help="its simulated data folder")
    ap.add_argument("--out", type=Path, required=True, help="output folder")
    ap.add_argument("--quick", action="store_true", help="tiny sizes: a smoke run for tests")
    ap.add_argument("--sites", type=int, default=6, help="planted sites per motif (a)")
    ap.add_argument("--n-shuffles", type=int, default=20, help="DeepLIFT/SHAP references")
    ap.add_argument(
        "--peaks",
        default="local:400:predicted,cage_plus:80:predicted,distal:40:predicted",
        help="TRACK:N:SOURCE,...: top peaks (SOURCE observed or predicted) for motif recovery",
    )
    ap.add_argument("--motif-shuffles", type=int, default=10, help="references for (b)")
    ap.add_argument("--n-backgrounds", type=int, default=32, help="marginalization windows")
    ap.add_argument("--spacings", default="250,500,1000,1250,1500,1750,2000")
    ap.add_argument("--top", type=int, default=5, help="variants explained (d)")
    ap.add_argument("--sections", default="abcd", help="which of a, b, c, d to run")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    if args.quick:
        args.sites, args.n_shuffles, args.n_backgrounds, args.top = 1, 4, 4, 2
        args.peaks, args.spacings, args.motif_shuffles = "local:40:predicted", "100,1500", 4
    return args


def main(argv=None) -> dict:
    from genodil.interpret.marginalize import background_windows

    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    args.out.mkdir(parents=True, exist_ok=True)
    figures = args.out / "figures"
    figures.mkdir(exist_ok=True)
    loaded = load_model(args.run)
    genome = Genome(args.data / "genome.fa")
    truth = pd.read_csv(args.data / "truth.tsv", sep="\t")
    chroms = held_out(loaded)
    result: dict = {"run": str(args.run), "held_out": chroms, "quick": args.quick}
    result["model"] = {"tracks": loaded.track_names, "window": loaded.window}
    t0, c0 = time.perf_counter(), time.process_time()
    if "a" in args.sections:
        sites = pick_sites(truth, chroms, args.sites, args.seed)
        rows: list = []

        def run_a():
            value, got = agreement(loaded, genome, sites, args.n_shuffles, print)
            rows.extend(got)
            return value

        _section(result, "agreement", run_a)
        agreement_figure(figures / "agreement.png", rows, result["agreement"])
    if "b" in args.sections:
        db, planted = motif_db(args.data)
        for spec in args.peaks.split(","):
            track, n, source = spec.split(":")
            _section(
                result, f"motifs_{track}_{source}", recovery, loaded, genome, track, int(n),
                source, chroms, db, planted, truth, args.out, args,
            )  # fmt: skip
        _section(result, "peak_overlap", peak_overlap, loaded, genome, args.peaks, chroms)
    if "c" in args.sections:
        bg = background_windows(
            genome, args.n_backgrounds, loaded.window, "shuffled", chroms, args.seed
        )
        marg = _section(result, "marginalize", marginal_effects, loaded, bg)
        spacings = [int(d) for d in args.spacings.split(",")]
        spacing = _section(result, "spacing", spacing_curve, loaded, bg, spacings)
        marginal_figure(figures / "marginalize.png", marg, spacing)
    if "d" in args.sections:
        planted = motif_db(args.data)[1] if "b" not in args.sections else planted
        _section(result, "variants", explain_top_variants, loaded, genome, args.data, planted,
                 args.out, args.top)  # fmt: skip
    result["total_seconds"] = {
        "cpu": round(time.process_time() - c0, 1),
        "wall": round(time.perf_counter() - t0, 1),
    }
    text = json.dumps(result, default=str)
    (args.out / "explain_demo.json").write_text(text + "\n")
    print(text)
    return result


if __name__ == "__main__":
    main()
