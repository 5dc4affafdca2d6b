"""``genodil explain-variants``: why the top-scoring variants change the prediction.

For the ``top`` variants by absolute SAD of the chosen track (scored with
:func:`genodil.predict.variants.score_variants`), one figure each with:

- the reference and alternative predicted track around the variant;
- reference and alternative attribution logos over +-50 bp (projected contributions of the
  track summed over the outputs within ``span`` bp of the variant);
- with a motif database, the motif whose best match over the variant changes most, named as
  broken (score falls) or created (score rises), with its log-odds scores.

Substitutions (SNVs and equal-length MNVs) get logos; indels get the track panel only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from genodil.errors import InputError
from genodil.genome.encode import encode, one_hot
from genodil.outputs import scratch_dir, write_atomic

__all__ = ["explain_variants", "motif_change"]

HALF = 50  # bp of logo each side of the variant


def _log_odds(ppm: np.ndarray) -> np.ndarray:
    """(4, L) probabilities -> log2 odds against a uniform background."""
    p = (ppm + 0.01) / (ppm + 0.01).sum(0, keepdims=True)
    return np.log2(p / 0.25)


def _best_score(codes: np.ndarray, lo: np.ndarray, at: int) -> float:
    """Best log-odds of motif ``lo`` (4, m) over windows holding ``at``, both strands."""
    m = lo.shape[1]
    best = -np.inf
    rc = lo[::-1, ::-1]
    for s in range(max(0, at - m + 1), min(at, len(codes) - m) + 1):
        w = codes[s : s + m]
        if (w > 3).any():
            continue
        cols = np.arange(m)
        best = max(best, lo[w, cols].sum(), rc[w, cols].sum())
    return float(best)


def motif_change(ref: np.ndarray, alt: np.ndarray, at: int, db: dict) -> dict | None:
    """The database motif whose best match over position ``at`` changes most (ref vs alt).

    Only motifs matching at >= 60% of their best possible score in ref or alt count.
    Returns name, ref and alt scores, and ``effect`` ("breaks" or "creates"), or None.
    """
    best = None
    for name, ppm in db.items():
        lo = _log_odds(np.asarray(ppm))
        top = lo.max(0).sum()
        r, a = _best_score(ref, lo, at), _best_score(alt, lo, at)
        if max(r, a) < 0.6 * top or not np.isfinite(r + a):
            continue
        if best is None or abs(a - r) > abs(best["alt_score"] - best["ref_score"]):
            best = {"motif": name, "ref_score": r, "alt_score": a}
    if best is None or best["alt_score"] == best["ref_score"]:
        return None
    best["effect"] = "breaks" if best["alt_score"] < best["ref_score"] else "creates"
    return best


def _attributions(
    loaded, codes: np.ndarray, bins: tuple[int, int], track: int, method: str, **run
) -> np.ndarray:
    """Projected contributions (2, L) of ref and alt windows (codes (2, L))."""
    from genodil.interpret import deeplift, gradients
    from genodil.interpret.objective import Objective

    seq = torch.from_numpy(one_hot(codes))
    objective = Objective((track,), bins)
    common = {k: run[k] for k in ("batch_size", "device", "rc_average", "strand_pairs")}
    if method == "deepliftshap":
        hyp = deeplift.deep_lift_shap(loaded.model, seq, objective, n_shuffles=20, **common)
    else:
        hyp, _ = gradients.gradient_x_input(loaded.model, seq, objective, **common)
    return (hyp * seq).sum(1).numpy()


@dataclass
class _Case:
    """One explained variant: its row, windows and predictions."""

    id: str
    chrom: str
    pos: int  # 1-based
    ref: str
    alt: str
    sad: float
    codes: np.ndarray | None = None  # (2, window) ref and alt, substitutions only
    center: int = 0  # column of the variant's first base in ``codes``
    logos: np.ndarray | None = None  # (2, 2 * HALF + 1) projected contributions
    change: dict | None = None


def _figure(path: Path, case: _Case, track: str, x, ref_pred, alt_pred) -> Path:
    """Predicted tracks, then ref and alt logos (+-HALF bp), titled with the motif change."""
    from genodil.interpret import plots

    plt = plots._pyplot()
    n = 1 + (2 if case.logos is not None else 0)
    fig, axes = plt.subplots(n, 1, figsize=(11, 2.2 * n), squeeze=False)
    ax = axes[0, 0]
    ax.plot(x, ref_pred, lw=0.8, label=f"ref {case.ref}")
    ax.plot(x, alt_pred, lw=0.8, label=f"alt {case.alt}")
    ax.axvline(case.pos - 1, color="0.5", lw=0.5, ls="--")
    ax.set_ylabel(f"{track} (track units)", fontsize=8)
    ax.legend(fontsize=7)
    title = f"{case.id} {case.chrom}:{case.pos} {case.ref}>{case.alt}  SAD {case.sad:+.3g}"
    if case.change is not None:
        c = case.change
        title += f"  {c['effect']} {c['motif']} (log-odds {c['ref_score']:.1f} -> "
        title += f"{c['alt_score']:.1f})"
    ax.set_title(title, fontsize=9, loc="left")
    if case.logos is not None:
        lim = float(np.abs(case.logos).max()) or 1.0
        cols = np.arange(case.logos.shape[-1])
        for k, label in enumerate(("ref", "alt")):
            codes = case.codes[k][case.center - HALF : case.center + HALF + 1]
            heights = np.zeros((4, len(cols)))
            known = codes < 4
            heights[codes[known], cols[known]] = case.logos[k][known]
            plots.logo_axes(axes[1 + k, 0], heights, case.pos - 1 - HALF)
            axes[1 + k, 0].set_ylim(-1.1 * lim, 1.1 * lim)
            axes[1 + k, 0].set_ylabel(f"{label} contribution", fontsize=8)
    axes[-1, 0].set_xlabel(f"{case.chrom} position (bp)")
    fig.tight_layout()
    return plots.save_figure(fig, path)


def _substitution_case(
    case: _Case, genome, loaded, track: int, method: str, span: int, db: dict | None, run: dict
) -> None:
    """Fill ``case`` with ref/alt windows, logos and the motif change (substitutions only)."""
    w = loaded.window
    p0 = case.pos - 1
    w0 = p0 - w // 2
    ref = genome.fetch(case.chrom, w0, w0 + w)
    alt = ref.copy()
    alt[w // 2 : w // 2 + len(case.alt)] = encode(case.alt)
    case.codes, case.center = np.stack([ref, alt]), w // 2
    b, crop = loaded.bin_size, loaded.crop
    lo = max((w // 2 - span - crop) // b, 0)
    hi = min((w // 2 + span - crop) // b + 1, (w - 2 * crop) // b)
    contrib = _attributions(loaded, case.codes, (lo, hi), track, method, **run)
    case.logos = contrib[:, w // 2 - HALF : w // 2 + HALF + 1]
    if db:
        case.change = motif_change(
            ref[w // 2 - 30 : w // 2 + 31], alt[w // 2 - 30 : w // 2 + 31], 30, db
        )


def explain_variants(
    loaded,
    genome,
    variants: pd.DataFrame,
    out_dir: str | os.PathLike,
    *,
    top: int = 10,
    track: str | None = None,
    db: dict | None = None,
    method: str = "gradxinput",
    span: int = 100,
    batch_size: int = 16,
    device: str = "auto",
    rc_average: bool = False,
    progress: bool = True,
) -> dict[str, Path]:
    """Score variants, then explain the ``top`` by |SAD| of ``track`` (see module docstring).

    Returns
    -------
    dict with ``table`` (explain.tsv: rank, id, chrom, pos, ref, alt, SAD, motif, effect,
    ref_score, alt_score, figure) and one ``figure_<rank>`` per variant
    """
    from genodil.predict.variants import score_variants

    track = track or loaded.track_names[0]
    if track not in loaded.track_names:
        raise InputError(f"--track {track!r} is not a track of this model: {loaded.track_names}")
    t = loaded.track_names.index(track)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    run = {
        "batch_size": batch_size,
        "device": device,
        "rc_average": rc_average,
        "strand_pairs": loaded.strand_pairs,
    }
    with scratch_dir(out_dir / "explain.tsv", what="--out") as scratch:
        scored, _ = score_variants(
            loaded.model,
            genome,
            variants,
            loaded.track_names,
            loaded.window,
            scores=["SAD"],
            save_tracks=scratch / "tracks.npz",
            progress=progress,
            track_specs=loaded.track_specs,  # the figure's ref/alt tracks in track units
            **run,
        )
        tracks = dict(np.load(scratch / "tracks.npz", allow_pickle=False))
    if not len(scored):
        raise InputError("no variant could be scored, so none can be explained")
    order = np.argsort(-np.abs(scored[f"SAD_{track}"].to_numpy()))[:top]
    rows, written = [], {}
    for rank, i in enumerate(order, 1):
        ctx = (genome, loaded, t, track, method, span, db, run)
        row, fig = _explain_one(rank, scored.iloc[i], tracks, i, out_dir, ctx)
        written[f"figure_{rank}"] = fig
        rows.append(row)
    cols = [
        "rank",
        "id",
        "chrom",
        "pos",
        "ref",
        "alt",
        f"SAD_{track}",
        "motif",
        "effect",
        "ref_score",
        "alt_score",
        "figure",
    ]
    table = pd.DataFrame(rows, columns=cols)
    written["table"] = write_atomic(
        out_dir / "explain.tsv", table.to_csv(sep="\t", index=False), what="--out table"
    )
    return written


def _explain_one(rank: int, r, tracks: dict, i: int, out_dir: Path, ctx) -> tuple[tuple, Path]:
    """Explain one scored variant: its figure and its row of explain.tsv."""
    genome, loaded, t, track, method, span, db, run = ctx
    case = _Case(
        str(r["id"]), str(r["chrom"]), int(r["pos"]), str(r["ref"]), str(r["alt"]),
        float(r[f"SAD_{track}"]),
    )  # fmt: skip
    if len(case.ref) == len(case.alt):
        _substitution_case(case, genome, loaded, t, method, span, db, run)
    x = int(tracks["start"][i]) + np.arange(tracks["ref"].shape[-1]) * loaded.bin_size
    keep = np.abs(x - case.pos) <= 500
    fig = _figure(
        out_dir / f"variant_{rank:03d}.png",
        case,
        track,
        x[keep],
        tracks["ref"][i, t][keep],
        tracks["alt"][i, t][keep],
    )
    c = case.change or {}
    row = (
        rank, case.id, case.chrom, case.pos, case.ref, case.alt, case.sad, c.get("motif"),
        c.get("effect"), c.get("ref_score"), c.get("alt_score"), fig.name,
    )  # fmt: skip
    return row, fig
