"""``genodil interpret``: attributions over regions, written for people and for TF-MoDISco.

Outputs in ``out_dir``:

- ``ohe.npz``: one-hot input of the attributed intervals, ``arr_0`` of shape (N, 4, W);
- ``regions.bed``: the attributed intervals, one line per row of the arrays, in the same
  order (4th column: the explained region);
- per explained target (a track, or ``all`` tracks summed) a folder ``<target>/`` with
  ``shap.npz`` (hypothetical contributions, ``arr_0`` (N, 4, W)), ``contrib.bw`` (projected
  contributions: hypothetical x one-hot summed over bases, per base of the intervals),
  ``logo.png`` and, for ISM, ``ism.npz`` (raw changes) and ``ism.png`` (4 x W heatmap);
- ``interpret.json``: what was computed, and the units.

``modisco motifs -s ohe.npz -a <target>/shap.npz`` reads the arrays as they are.
Contributions are in the units of the explained scalar: the model's predicted signal summed
over the explained bins. That is the model's output unit: the track's own unit only for a
track trained without transforms (with ``scale``/``clip_soft``/``log1p`` the gradient of a
transformed output has no track-unit counterpart; docs/data.md).
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from genodil.errors import InputError
from genodil.genome.encode import one_hot
from genodil.genome.io import Genome
from genodil.interpret.objective import Objective
from genodil.interpret.regions import Layout, check_regions, plan_layout
from genodil.outputs import atomic_output, write_atomic

__all__ = ["METHODS", "Target", "attribute", "interpret_regions", "resolve_targets"]

log = logging.getLogger(__name__)

METHODS = ("ism", "gradxinput", "deepliftshap")
ALIASES = {"saliency": "gradxinput", "gradient_x_input": "gradxinput"}
N_PLOTTED = 6  # regions drawn in each figure


@dataclass(frozen=True)
class Target:
    """One explained scalar: a track (or all tracks summed) and its folder name."""

    name: str
    tracks: tuple[int, ...] | None


def resolve_targets(tracks: list[str] | None, track_names: list[str]) -> list[Target]:
    """``--track`` values to targets: none = every track on its own; ``all`` = their sum."""
    if not tracks:
        return [Target(name, (i,)) for i, name in enumerate(track_names)]
    out = []
    for name in tracks:
        if name == "all":
            out.append(Target("all", None))
        elif name in track_names:
            out.append(Target(name, (track_names.index(name),)))
        else:
            raise InputError(
                f"--track {name!r} is not a track of this model; it has {track_names} "
                "(or use --track all for their sum)"
            )
    return out


def canonical_method(method: str) -> str:
    """The method's canonical name (``saliency`` is a documented alias of gradxinput)."""
    method = ALIASES.get(method, method)
    if method not in METHODS:
        raise InputError(f"unknown --method {method!r}; choose one of {', '.join(METHODS)}")
    return method


def _groups(layout: Layout) -> dict[tuple[int, int, int], list[int]]:
    """Regions sharing explained bins and attributed offset (one objective, one call)."""
    groups: dict[tuple[int, int, int], list[int]] = defaultdict(list)
    for i, ((lo, hi), off) in enumerate(zip(layout.bins, layout.offsets, strict=True)):
        groups[(int(lo), int(hi), int(off))].append(i)
    return groups


def attribute(
    model, seq: torch.Tensor, layout: Layout, target: Target, method: str, form: str, **run
) -> tuple[np.ndarray, np.ndarray | None]:
    """Hypothetical contributions (N, 4, W) over the attributed intervals; ISM changes too.

    ``run`` holds batch_size, device, rc_average, strand_pairs, n_shuffles, seed, progress.
    """
    from genodil.interpret import deeplift, gradients, ism

    width = layout.width
    hyp = np.zeros((seq.shape[0], 4, width), dtype=np.float32)
    raw = np.zeros_like(hyp) if method == "ism" else None
    common = {k: run[k] for k in ("batch_size", "device", "rc_average", "strand_pairs")}
    for (lo, hi, off), rows in _groups(layout).items():
        objective = Objective(target.tracks, (lo, hi), form)
        x = seq[rows]
        if method == "ism":
            d = ism.ism(
                model, x, range(off, off + width), objective, progress=run["progress"], **common
            )
            raw[rows] = d.numpy()
            hyp[rows] = ism.ism_hypothetical(d).numpy()
            continue
        if method == "gradxinput":
            g, _ = gradients.gradient_x_input(model, x, objective, **common)
        else:
            g = deeplift.deep_lift_shap(
                model,
                x,
                objective,
                n_shuffles=run["n_shuffles"],
                seed=run["seed"],
                progress=run["progress"],
                **common,
            )
        hyp[rows] = g[:, :, off : off + width].numpy()
    return hyp, raw


def _write_npz(path: Path, array: np.ndarray) -> None:
    """``np.savez(path, array)`` (key ``arr_0``, as ``modisco motifs`` reads), atomically."""
    with atomic_output(path, what="interpret output") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, array)


def _write_text(path: Path, text: str) -> None:
    write_atomic(path, text, what="interpret output")


def write_contribution_bigwig(
    path: Path, genome: Genome, bed: pd.DataFrame, projected: np.ndarray
) -> Path:
    """Write per-base projected contributions of the attributed intervals to a bigWig.

    Intervals are written in FASTA order; where two overlap, the bases already written (by
    the interval starting first) are kept. Bases past a chromosome end are dropped.
    """
    from genodil.predict.bigwig import BigWigWriter

    order = {c: i for i, c in enumerate(genome.chroms)}
    rows = sorted(range(len(bed)), key=lambda i: (order[bed["chrom"].iat[i]], bed["start"].iat[i]))
    written: dict[str, int] = {}
    with BigWigWriter(path, genome) as writer:
        for i in rows:
            chrom, start, end = (
                bed["chrom"].iat[i],
                int(bed["start"].iat[i]),
                int(bed["end"].iat[i]),
            )
            lo = max(start, written.get(chrom, 0))
            if lo < end:
                writer.add(chrom, lo, projected[i, lo - start : end - start])
                written[chrom] = end
    return path


def _check_out_dir(out_dir: Path, overwrite: bool) -> None:
    if (out_dir / "interpret.json").exists() and not overwrite:
        raise InputError(
            f"{out_dir} already holds interpret outputs (interpret.json); choose another --out "
            "or pass --overwrite to replace them"
        )
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"--out {out_dir} is a file; give a folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise InputError(f"cannot create the output folder {out_dir}: {err.strerror}") from None
    if not os.access(out_dir, os.W_OK):
        raise InputError(f"cannot write into {out_dir}: the folder is not writable")


def _window_onehot(genome: Genome, layout: Layout) -> tuple[torch.Tensor, np.ndarray]:
    """One-hot model windows (N, 4, window) and the codes of the attributed intervals."""
    codes = np.stack(
        [
            genome.fetch(chrom, int(w0), int(w0) + layout.window)
            for chrom, w0 in zip(layout.regions["chrom"], layout.window_start, strict=True)
        ]
    )
    cols = layout.offsets[:, None] + np.arange(layout.width)
    return torch.from_numpy(one_hot(codes)), np.take_along_axis(codes, cols, axis=1)


def _write_target(out: Path, genome, layout, codes, hyp, raw, target, method) -> dict:
    """Write one target's arrays, contribution bigWig and figures; return their paths."""
    from genodil.interpret import plots

    out.mkdir(exist_ok=True)
    ohe = one_hot(codes)
    projected = (hyp * ohe).sum(1)  # (N, W)
    bed = layout.bed(genome)
    written = {"shap": out / "shap.npz", "contrib": out / "contrib.bw", "logo": out / "logo.png"}
    _write_npz(written["shap"], hyp)
    write_contribution_bigwig(written["contrib"], genome, bed, projected)
    k = min(len(bed), N_PLOTTED)
    labels = [f"{bed['name'].iat[i]} ({method}, {target.name})" for i in range(k)]
    starts = [int(s) for s in bed["start"].iloc[:k]]
    plots.sequence_logos(
        [hyp[i] * ohe[i] for i in range(k)],
        labels,
        starts,
        "projected contributions",
        written["logo"],
    )
    if raw is not None:
        written["ism"] = out / "ism.npz"
        written["ism_png"] = out / "ism.png"
        _write_npz(written["ism"], raw)
        plots.ism_heatmap(
            [raw[i] for i in range(k)],
            [codes[i] for i in range(k)],
            labels,
            starts,
            "ISM: change of the explained scalar",
            written["ism_png"],
        )
    return written


def interpret_regions(
    loaded,
    genome: Genome,
    regions: pd.DataFrame,
    out_dir: str | os.PathLike,
    *,
    method: str = "deepliftshap",
    tracks: list[str] | None = None,
    flank: int = 100,
    form: str = "sum",
    batch_size: int = 64,
    device: str = "auto",
    rc_average: bool = False,
    n_shuffles: int = 20,
    seed: int = 0,
    progress: bool = True,
    overwrite: bool = False,
) -> dict[str, Path]:
    """Explain the prediction over each region and write the outputs of the module docstring.

    Parameters
    ----------
    loaded : genodil.train.io.Loaded
        The model and its window, crop, bin size, track names and strand pairs.
    genome : Genome
        Reference (or a FASTA of sequences, each record a chromosome).
    regions : DataFrame
        chrom, start, end (0-based half-open); each must lie inside its chromosome and be at
        most one window's output span long.
    out_dir : path
    method : {"ism", "gradxinput", "deepliftshap"} (``saliency`` = gradxinput)
    tracks : list of str or None
        Targets: track names, or ``all`` for their sum; None = every track on its own.
    flank : int
        Bases attributed beyond each side of the longest region.
    form : {"sum", "profile", "counts"}
        The explained scalar (:class:`~genodil.interpret.objective.Objective`).
    batch_size, device, rc_average
        As for prediction.
    n_shuffles, seed : int
        DeepLIFT/SHAP references per sequence and their seed.
    progress : bool
    overwrite : bool
        Replace the outputs of an earlier run in ``out_dir``.

    Returns
    -------
    dict mapping output keys (``ohe``, ``bed``, ``manifest``, ``<target>/shap`` ...) to paths
    """
    method = canonical_method(method)
    targets = resolve_targets(tracks, loaded.track_names)
    regions = check_regions(regions, genome)
    layout = plan_layout(regions, genome, loaded.window, loaded.crop, loaded.bin_size, flank)
    out_dir = Path(out_dir)
    _check_out_dir(out_dir, overwrite)
    seq, codes = _window_onehot(genome, layout)
    written = {"ohe": out_dir / "ohe.npz", "bed": out_dir / "regions.bed"}
    _write_npz(written["ohe"], one_hot(codes))
    bed = layout.bed(genome)
    _write_text(written["bed"], bed.to_csv(sep="\t", header=False, index=False))
    run = {
        "batch_size": batch_size,
        "device": device,
        "rc_average": rc_average,
        "strand_pairs": loaded.strand_pairs,
        "n_shuffles": n_shuffles,
        "seed": seed,
        "progress": progress,
    }
    for target in targets:
        hyp, raw = attribute(loaded.model, seq, layout, target, method, form, **run)
        paths = _write_target(
            out_dir / target.name, genome, layout, codes, hyp, raw, target, method
        )
        written.update({f"{target.name}/{k}": p for k, p in paths.items()})
    manifest = {
        "method": method,
        "targets": {
            t.name: None if t.tracks is None else [loaded.track_names[i] for i in t.tracks]
            for t in targets
        },
        "objective": form,
        "units": "explained scalar: the model's predicted signal (model units: the track's own "
        "only for tracks trained without transforms), summed over the output bins covering "
        "the region"
        if form == "sum"
        else f"profile_count {form}",
        "checkpoint": str(loaded.path) if loaded.path else None,
        "n_regions": len(regions),
        "width": layout.width,
        "flank": flank,
        "rc_average": rc_average,
        "n_shuffles": n_shuffles if method == "deepliftshap" else None,
        "seed": seed,
        "modisco": "modisco motifs -s ohe.npz -a <target>/shap.npz -w <= width",
    }
    written["manifest"] = out_dir / "interpret.json"
    _write_text(written["manifest"], json.dumps(manifest, indent=2) + "\n")
    return written
