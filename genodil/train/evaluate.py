"""Evaluate a checkpoint on a held-out split: per-track metrics JSON and plots."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from genodil.errors import InputError
from genodil.outputs import check_outputs, write_atomic
from genodil.train.io import Loaded, load_model
from genodil.train.losses import compute_loss
from genodil.train.metrics import TrackMetrics, mean_over_tracks, sum_bins, undefined_to_null

__all__ = ["build_datamodule", "evaluate"]

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


def build_datamodule(
    loaded: Loaded,
    batch_size: int = 8,
    data_root: str | os.PathLike | None = None,
    fasta: str | os.PathLike | None = None,
    **overrides: Any,
):
    """The data module a checkpoint was trained with (no augmentation is used for eval).

    ``data_root`` and ``fasta`` point at moved data, see :func:`relocate_data`.
    """
    from genodil.data.datamodule import GenomeDataModule
    from genodil.data.tracks import TrackSpec

    data = relocate_data(loaded.data, data_root, fasta)
    _check_data_files(loaded, data)
    tracks = [TrackSpec(**t) for t in data.pop("tracks")]
    data.update(batch_size=batch_size, num_workers=0, **overrides)
    return GenomeDataModule(tracks=tracks, **data)


def _save_png(fig, path: Path) -> Path:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    return write_atomic(path, buf.getvalue(), what="plot")


def plot_examples(examples: list[dict[str, Any]], track_names: list[str], path: Path) -> Path:
    """Predicted vs observed tracks over a few windows (one row per window and track)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n_rows = len(examples) * len(track_names)
    fig, axes = plt.subplots(n_rows, 1, figsize=(11, 1.6 * n_rows), squeeze=False)
    row = 0
    for ex in examples:
        x = np.arange(ex["target"].shape[-1]) * ex["bin_size"] + ex["out_start"]
        for t, name in enumerate(track_names):
            ax = axes[row, 0]
            ax.fill_between(x, ex["target"][t], color="0.6", step="mid", label="observed")
            ax.plot(x, ex["pred"][t], color="C3", lw=0.8, label="predicted")
            ax.set_ylabel(name, rotation=0, ha="right", fontsize=8)
            ax.set_title(
                f"{ex['chrom']}:{ex['out_start']:,}-{x[-1] + ex['bin_size']:,}", fontsize=8
            )
            ax.tick_params(labelsize=7)
            row += 1
    axes[0, 0].legend(fontsize=7, loc="upper right")
    fig.tight_layout()
    out = _save_png(fig, path)
    plt.close(fig)
    return out


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
        ax.set_xlabel("log1p observed (128-bp bins)", fontsize=8)
        ax.set_ylabel("log1p predicted", fontsize=8)
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
) -> dict[str, Any]:
    """Per-track metrics of a checkpoint on a split, exact over the whole split.

    ``data_root`` and ``fasta`` find data that moved since training (:func:`relocate_data`).

    Returns
    -------
    dict
        ``{"split", "checkpoint", "n_windows", "tracks": {track: {metric: value}}, "mean"}``
        (DESIGN section 6), plus ``"notes"`` when a metric is undefined: such a value is
        ``None`` (JSON ``null``), never NaN. Also written to ``out`` when given.
    """
    from genodil.predict.runner import ModelRunner

    stage = _SPLITS.get(split)
    if stage is None:
        raise InputError(f"unknown split {split!r}; choose test or valid")
    check_outputs({"--out": out}, {"--plots": plots}, writable=True)
    loaded = load_model(checkpoint)
    dm = build_datamodule(loaded, batch_size=batch_size, data_root=data_root, fasta=fasta)
    dm.setup(stage)
    loader = dm.test_dataloader() if stage == "test" else dm.val_dataloader()
    runner = ModelRunner(loaded.model, device, precision="32")
    dev = runner.device
    loss_name = loaded.spec.get("train", {}).get("loss", "poisson")
    metrics = TrackMetrics(loaded.track_names, bins=bins).to(dev)
    examples: list[dict[str, Any]] = []
    binned_obs: list[np.ndarray] = []
    binned_pred: list[np.ndarray] = []
    n_windows = 0
    from tqdm.auto import tqdm

    with runner, torch.inference_mode():
        for batch in tqdm(loader, desc=f"evaluate {split}", disable=not progress, leave=False):
            seq, target = batch["seq"], batch["target"].to(dev)
            out_ = runner.outputs(seq)
            per_track = compute_loss(out_, target, loss_name)
            metrics.update(out_["signal"], target, per_track)
            n_windows += seq.shape[0]
            pred = out_["signal"].float().cpu()
            tgt = target.cpu()
            if sum(b.shape[1] for b in binned_obs) < 20_000:
                binned_obs.append(sum_bins(tgt, 128).permute(1, 0, 2).reshape(tgt.shape[1], -1))
                binned_pred.append(sum_bins(pred, 128).permute(1, 0, 2).reshape(tgt.shape[1], -1))
            for i in range(seq.shape[0]):
                total = float(tgt[i].sum())
                examples.append(
                    {
                        "total": total,
                        "chrom": batch["chrom"][i],
                        "out_start": int(batch["start"][i]) + loaded.crop,
                        "bin_size": loaded.bin_size,
                        "target": tgt[i].numpy(),
                        "pred": pred[i].numpy(),
                    }
                )
            # Keep only the windows with the most signal, to plot something worth seeing.
            examples = sorted(examples, key=lambda e: -e["total"])[:n_examples]
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
        obs = torch.cat(binned_obs, dim=1).numpy() if binned_obs else None
        prd = torch.cat(binned_pred, dim=1).numpy() if binned_pred else None
        result["plots"] = [str(plot_examples(examples, loaded.track_names, plots / "tracks.png"))]
        if obs is not None and obs.shape[1] > 1:
            scatter = {n: (obs[t], prd[t]) for t, n in enumerate(loaded.track_names)}
            result["plots"].append(str(plot_scatter(scatter, plots / "scatter_bin128.png")))
    return result
