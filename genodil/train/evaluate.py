"""Evaluate a checkpoint on a held-out split: per-track metrics JSON and plots."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch

from genodil.config import build_datamodule
from genodil.errors import InputError
from genodil.models.layers import pool_bins
from genodil.outputs import check_outputs, write_atomic
from genodil.progress import progress_bar
from genodil.train.io import Loaded, load_model
from genodil.train.losses import compute_loss, loss_options
from genodil.train.metrics import TrackMetrics, mean_over_tracks, undefined_to_null

__all__ = ["evaluate", "relocate_data"]

_SPLITS = {"test": "test", "valid": "validate", "val": "validate", "validation": "validate"}


_DATA_FILES = ("fasta", "blacklist", "regions")


def relocate_data(
    data: dict[str, Any],
    data_root: str | os.PathLike | None = None,
    fasta: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """The data section with its files moved: ``fasta`` replaced, the rest under ``data_root``.

    Every file path saved in the checkpoint (FASTA, bigWigs, blacklist, regions) is taken
    relative to the folder they all share, then placed under ``data_root``; ``fasta``, if
    given, replaces the FASTA path. A copy is returned.
    """
    data = {**data, "tracks": [dict(t) for t in data["tracks"]]}
    if data_root is not None:
        saved = [data[k] for k in _DATA_FILES if data.get(k)] + [t["path"] for t in data["tracks"]]
        common = Path(os.path.commonpath([str(Path(p).parent) for p in saved]))
        root = Path(data_root).expanduser().resolve()

        def moved(p: str) -> str:
            return str(root / Path(p).relative_to(common))

        for k in _DATA_FILES:
            if data.get(k):
                data[k] = moved(data[k])
        for t in data["tracks"]:
            t["path"] = moved(t["path"])
    if fasta is not None:
        data["fasta"] = str(Path(fasta).expanduser().resolve())
    return data


def _check_data_files(loaded: Loaded, data: dict[str, Any]) -> None:
    missing = [data[k] for k in _DATA_FILES if data.get(k) and not Path(data[k]).exists()]
    missing += [t["path"] for t in data["tracks"] if not Path(t["path"]).exists()]
    if missing:
        raise InputError(
            f"checkpoint {loaded.path} was trained on files that are not there any more: "
            f"{', '.join(missing[:4])}{' ...' if len(missing) > 4 else ''}. If the data moved, "
            "pass --data-root NEW_FOLDER (it replaces the folder the files shared) and/or "
            "--fasta GENOME.fa"
        )


def _save_png(fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return write_atomic(path, buf.getvalue(), what="plot")


def _bed_lane(ax, bed: pd.DataFrame | None, chrom: str, lo: int, hi: int) -> None:
    """Draw the BED intervals overlapping ``chrom:lo-hi`` as boxes with their names."""
    ax.set_yticks([])
    ax.set_ylabel("BED", rotation=0, ha="right", fontsize=8)
    if bed is None:
        return
    hits = bed[(bed["chrom"] == chrom) & (bed["end"] > lo) & (bed["start"] < hi)]
    for row in hits.itertuples(index=False):
        ax.axvspan(max(row.start, lo), min(row.end, hi), color="C2", alpha=0.6)
        name = getattr(row, "name", None)
        if isinstance(name, str) and name not in ("", "."):
            ax.text(
                (max(row.start, lo) + min(row.end, hi)) / 2,
                0.5,
                name,
                fontsize=6,
                ha="center",
                va="center",
            )


def examples_figure(
    examples: list[dict[str, Any]],
    track_names: list[str],
    units: str = "track units",
    bed: pd.DataFrame | None = None,
):
    """The figure of :func:`plot_examples` (a matplotlib Figure, not attached to pyplot)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import StrMethodFormatter

    per = len(track_names) + (bed is not None)
    heights = [
        0.5 if bed is not None and r % per == per - 1 else 1.6 for r in range(len(examples) * per)
    ]
    fig = Figure(figsize=(11, sum(heights)))
    FigureCanvasAgg(fig)
    axes = fig.subplots(len(heights), 1, squeeze=False, gridspec_kw={"height_ratios": heights})
    for k, ex in enumerate(examples):
        x = np.arange(ex["target"].shape[-1]) * ex["bin_size"] + ex["out_start"]
        lo, hi = int(x[0]), int(x[-1] + ex["bin_size"])
        rows = axes[k * per : (k + 1) * per, 0]
        for t, name in enumerate(track_names):
            ax = rows[t]
            ax.fill_between(x, ex["target"][t], color="0.6", step="mid", label="observed")
            ax.plot(x, ex["pred"][t], color="C3", lw=0.8, label="predicted")
            ax.set_ylabel(f"{name}\n({units})", rotation=0, ha="right", fontsize=8)
            ax.set_title(f"{ex['chrom']}:{lo:,}-{hi:,}", fontsize=8)
        if bed is not None:
            _bed_lane(rows[-1], bed, ex["chrom"], lo, hi)
        for ax in rows:
            ax.set_xlim(lo, hi)
            ax.xaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))  # no 1e6 offset
            ax.tick_params(labelsize=7)
        rows[-1].set_xlabel(f"{ex['chrom']} position (bp, 0-based)", fontsize=8)
    axes[0, 0].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    return fig


def plot_examples(
    examples: list[dict[str, Any]],
    track_names: list[str],
    path: Path,
    units: str = "track units",
    bed: pd.DataFrame | None = None,
) -> Path:
    """Predicted vs observed tracks over a few windows (one row per window and track).

    The x axis is in plain genomic coordinates of the window's chromosome; the y axis says
    which ``units`` the values are in. With ``bed`` (chrom, start, end[, name]), a lane under
    each window marks the annotated intervals (e.g. TSSs).
    """
    return _save_png(examples_figure(examples, track_names, units, bed), path)


def plot_scatter(binned: dict[str, tuple[np.ndarray, np.ndarray]], path: Path) -> Path:
    """Predicted against observed 128-bp bin sums, one panel per track (log-log)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(binned)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3.2), squeeze=False)
    for ax, (name, (obs, pred)) in zip(axes[0], binned.items(), strict=True):
        ax.scatter(np.log1p(obs), np.log1p(pred), s=3, alpha=0.3, color="C0", rasterized=True)
        r = np.corrcoef(obs, pred)[0, 1] if len(obs) > 1 and obs.std() and pred.std() else np.nan
        ax.set_title(f"{name}  r={r:.2f}", fontsize=9)
        ax.set_xlabel("log1p observed (128-bp bin sums, model units)", fontsize=8)
        ax.set_ylabel("log1p predicted (model units)", fontsize=8)
    fig.tight_layout()
    out = _save_png(fig, path)
    plt.close(fig)
    return out


def evaluate(
    checkpoint: str | os.PathLike,
    split: str = "test",
    out: str | os.PathLike | None = None,
    plots: str | os.PathLike | None = None,
    batch_size: int = 8,
    device: str = "auto",
    progress: bool = True,
    n_examples: int = 3,
    bins: tuple[int, ...] = (32, 128),
    data_root: str | os.PathLike | None = None,
    fasta: str | os.PathLike | None = None,
    units: str = "track",
    bed: str | os.PathLike | None = None,
) -> dict[str, Any]:
    """Per-track metrics of a checkpoint on a split, exact over the whole split.

    ``data_root`` and ``fasta`` find data that moved since training (:func:`relocate_data`).
    Metrics compare the model's outputs with the targets in the model's units (what it was
    trained on). The track plots show both in ``units``: ``"track"`` (default, the bigWig's
    own, see :func:`genodil.data.tracks.untransform_tracks`) or ``"model"``; ``bed`` adds an
    annotation lane to them.

    Returns
    -------
    dict
        ``{"split", "checkpoint", "n_windows", "tracks": {track: {metric: value}}, "mean"}``
        (docs/architecture.md §6), plus ``"notes"`` when a metric is undefined: such a value is
        ``None`` (JSON ``null``), never NaN. Also written to ``out`` when given.
    """
    from genodil.predict.runner import ModelRunner

    stage = _SPLITS.get(split)
    if stage is None:
        raise InputError(f"unknown split {split!r}; choose test or valid")
    check_outputs({"--out": out}, {"--plots": plots}, writable=True)
    loaded = load_model(checkpoint)
    data = relocate_data(loaded.data, data_root, fasta)
    _check_data_files(loaded, data)
    # The data the checkpoint was trained with, without augmentation (eval loaders never use it).
    dm = build_datamodule(data, batch_size=batch_size, num_workers=0)
    dm.setup(stage)
    loader = dm.test_dataloader() if stage == "test" else dm.val_dataloader()
    runner = ModelRunner(loaded.model, device, precision="32")
    # The training objective as configured (count weight, binned count term).
    loss_kw = loss_options(loaded.spec.get("train", {}), loaded.bin_size)
    metrics = TrackMetrics(loaded.track_names, bins=bins).to(runner.device)
    kept = _Examples(n_examples, loaded.crop, loaded.bin_size)
    bar = progress_bar(len(loader), f"evaluate {split}", "batches", enabled=progress)
    with runner, torch.inference_mode(), bar:
        for batch in loader:
            target = batch["target"].to(runner.device)
            out_ = runner.outputs(batch["seq"])
            metrics.update(out_["signal"], target, compute_loss(out_, target, **loss_kw))
            kept.add(batch, out_["signal"].float().cpu(), target.cpu())
            bar.update(1)
    n_windows = kept.n_windows
    if n_windows == 0:
        raise InputError(
            f"split {split!r} of {loaded.path} has no windows; check data.splits in the config"
        )
    per_track = metrics.compute()
    tracks, notes = undefined_to_null(per_track)
    mean, mean_notes = undefined_to_null({"mean": mean_over_tracks(per_track)})
    result = {
        "split": split,
        "checkpoint": str(loaded.path),
        "n_windows": n_windows,
        "tracks": tracks,
        "mean": mean["mean"],
    }
    if notes or mean_notes:
        result["notes"] = {**notes, **mean_notes}
    if out:
        write_atomic(out, json.dumps(result, indent=2, allow_nan=False) + "\n", what="--out")
    if plots:
        plots = Path(plots)
        result["plots"] = [str(_plot_examples_in(units, kept.examples, loaded, plots, bed))]
        obs, prd = kept.binned()
        if obs.shape[1] > 1:
            scatter = {n: (obs[t], prd[t]) for t, n in enumerate(loaded.track_names)}
            result["plots"].append(str(plot_scatter(scatter, plots / "scatter_bin128.png")))
    return result


class _Examples:
    """The highest-signal windows to plot, and up to 20,000 128-bp bin sums per track."""

    def __init__(self, n_examples: int, crop: int, bin_size: int) -> None:
        self.n_examples, self.crop, self.bin_size = n_examples, crop, bin_size
        self.examples: list[dict[str, Any]] = []
        self.obs: list[torch.Tensor] = []
        self.pred: list[torch.Tensor] = []
        self.n_windows = 0

    def add(self, batch: dict[str, Any], pred: torch.Tensor, tgt: torch.Tensor) -> None:
        """One batch: predictions and targets of shape (B, T, L_out), on the CPU."""
        self.n_windows += pred.shape[0]
        if sum(b.shape[1] for b in self.obs) < 20_000:
            self.obs.append(pool_bins(tgt, 128).permute(1, 0, 2).reshape(tgt.shape[1], -1))
            self.pred.append(pool_bins(pred, 128).permute(1, 0, 2).reshape(tgt.shape[1], -1))
        for i in range(pred.shape[0]):
            self.examples.append(
                {
                    "total": float(tgt[i].sum()),
                    "chrom": batch["chrom"][i],
                    "out_start": int(batch["start"][i]) + self.crop,
                    "bin_size": self.bin_size,
                    "target": tgt[i].numpy(),
                    "pred": pred[i].numpy(),
                }
            )
        # Keep only the windows with the most signal, to plot something worth seeing.
        self.examples = sorted(self.examples, key=lambda e: -e["total"])[: self.n_examples]

    def binned(self) -> tuple[np.ndarray, np.ndarray]:
        """Observed and predicted 128-bp bin sums, each (T, n_bins)."""
        if not self.obs:
            return np.zeros((0, 0)), np.zeros((0, 0))
        return torch.cat(self.obs, dim=1).numpy(), torch.cat(self.pred, dim=1).numpy()


def examples_in_units(examples: list[dict[str, Any]], specs, units: str) -> list[dict[str, Any]]:
    """Example windows with ``target`` and ``pred`` in ``units`` ("track" or "model")."""
    from genodil.data.tracks import untransform_tracks

    if units not in ("track", "model"):
        raise InputError(f"units must be 'track' or 'model', not {units!r}")
    if units == "model":
        return examples
    return [
        {
            **ex,
            "target": untransform_tracks(ex["target"], specs, ex["bin_size"]),
            "pred": untransform_tracks(ex["pred"], specs, ex["bin_size"]),
        }
        for ex in examples
    ]


def _plot_examples_in(units: str, examples, loaded: Loaded, plots: Path, bed) -> Path:
    """Draw the example windows in ``units`` ("track" or "model"), with an optional BED lane."""
    from genodil.data.tracks import to_track_specs
    from genodil.genome.io import read_bed

    examples = examples_in_units(examples, to_track_specs(loaded.data["tracks"]), units)
    table = read_bed(bed) if bed is not None else None
    label = "track units" if units == "track" else "model units"
    return plot_examples(examples, loaded.track_names, plots / "tracks.png", label, table)
