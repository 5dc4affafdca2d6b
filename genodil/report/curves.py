"""Learning curves of a run directory, across resumes.

Lightning's CSV logger starts a new ``logs/version_N/metrics.csv`` each time a run starts or
resumes. A resumed run repeats the steps after its last checkpoint, so where two versions log
the same step, the later version (the one that went on to produce the final weights) wins.
"""

from __future__ import annotations

import io
import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

__all__ = ["plot_learning_curves", "read_metrics_history", "training_summary"]

_VERSION = re.compile(r"version_(\d+)$")


def _metric_files(run_dir: Path) -> list[Path]:
    """``logs/version_N/metrics.csv`` files in version order (N as a number, not as text)."""
    found = []
    for path in (run_dir / "logs").glob("version_*/metrics.csv"):
        match = _VERSION.search(path.parent.name)
        if match:
            found.append((int(match.group(1)), path))
    return [path for _, path in sorted(found)]


def read_metrics_history(run_dir: str | os.PathLike) -> pd.DataFrame:
    """One table of everything a run logged, indexed by step, across resumes.

    Parameters
    ----------
    run_dir : path
        A run directory (holding ``logs/version_N/metrics.csv``).

    Returns
    -------
    pandas.DataFrame
        Index ``step`` (sorted, unique); one column per logged key (``train_loss``,
        ``val_loss``, ``val_pearson``, ...). For a step logged by several versions, each
        column keeps the value of the latest version that logged it. Empty when nothing
        was logged.
    """
    frames = []
    for order, path in enumerate(_metric_files(Path(run_dir))):
        try:
            table = pd.read_csv(path)
        except (pd.errors.EmptyDataError, pd.errors.ParserError):
            continue  # a file cut short by a kill holds nothing worth plotting
        if "step" not in table.columns or table.empty:
            continue
        table["_version"] = order
        frames.append(table)
    if not frames:
        return pd.DataFrame(index=pd.Index([], name="step"))
    table = pd.concat(frames, ignore_index=True)
    # Several rows per step (train and val are logged separately): take, per column, the
    # last non-missing value of the latest version.
    table = table.sort_values(["step", "_version"], kind="stable")
    merged = table.groupby("step").last().drop(columns=["_version"])
    return merged.dropna(axis=1, how="all")


def _smooth(values: np.ndarray, width: int) -> np.ndarray:
    """Trailing mean over ``width`` points (shorter at the start)."""
    if width <= 1 or len(values) < 2:
        return values
    cumsum = np.cumsum(np.insert(values, 0, 0.0))
    out = np.empty_like(values, dtype=float)
    for i in range(len(values)):
        lo = max(0, i + 1 - width)
        out[i] = (cumsum[i + 1] - cumsum[lo]) / (i + 1 - lo)
    return out


def plot_learning_curves(run_dir: str | os.PathLike, path: str | os.PathLike) -> Path | None:
    """Draw train/validation loss and validation Pearson r against step.

    Parameters
    ----------
    run_dir : path
        The run directory whose logs are read (all versions, see
        :func:`read_metrics_history`).
    path : path
        Where the PNG goes; written atomically.

    Returns
    -------
    Path or None
        The file written, or None when the run logged nothing yet.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from genodil.outputs import write_atomic

    history = read_metrics_history(run_dir)
    if history.empty:
        return None
    fig = Figure(figsize=(10, 3.6))
    FigureCanvasAgg(fig)
    ax_loss, ax_r = fig.subplots(1, 2)
    if "train_loss" in history:
        train = history["train_loss"].dropna()
        ax_loss.plot(train.index, train.values, color="0.75", lw=0.6, label="train (per log)")
        width = max(1, len(train) // 25)
        ax_loss.plot(
            train.index,
            _smooth(train.to_numpy(float), width),
            color="C0",
            lw=1.2,
            label=f"train (mean of {width})",
        )
    if "val_loss" in history:
        val = history["val_loss"].dropna()
        ax_loss.plot(val.index, val.values, "o-", color="C3", ms=3, lw=1, label="validation")
    ax_loss.set_xlabel("step")
    ax_loss.set_ylabel("loss")
    ax_loss.set_title("loss", fontsize=10)
    ax_loss.legend(fontsize=7)
    r_cols = [c for c in history.columns if re.fullmatch(r"val_pearson(/.+)?", c)]
    for col in r_cols:
        series = history[col].dropna()
        label = "mean over tracks" if col == "val_pearson" else col.split("/", 1)[1]
        style = {"lw": 1.6, "color": "k"} if col == "val_pearson" else {"lw": 0.9}
        ax_r.plot(series.index, series.values, "o-", ms=2.5, label=label, **style)
    ax_r.set_xlabel("step")
    ax_r.set_ylabel("Pearson r (validation, 1 bp)")
    ax_r.set_title("validation Pearson r", fontsize=10)
    if r_cols:
        ax_r.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    return write_atomic(path, buf.getvalue(), what="learning-curve figure")


def training_summary(run_dir: str | os.PathLike, monitor: str = "val_loss", mode: str = "min"):
    """The lines ``genodil train`` prints at the end: best metric, its step, the paths.

    Parameters
    ----------
    run_dir : path
        The run directory.
    monitor : str
        The metric ``best.ckpt`` was chosen by (``train.monitor``).
    mode : {"min", "max"}
        Whether lower or higher ``monitor`` is better.

    Returns
    -------
    list of str
    """
    run_dir = Path(run_dir)
    history = read_metrics_history(run_dir)
    lines = []
    values = history[monitor].dropna() if monitor in history else pd.Series(dtype=float)
    if len(values):
        step = values.idxmin() if mode == "min" else values.idxmax()
        epoch = history.loc[step, "epoch"] if "epoch" in history else None
        at = f"step {int(step)}" + (f" (epoch {int(epoch)})" if pd.notna(epoch) else "")
        lines.append(f"best {monitor}: {values[step]:.4g} at {at}, of {int(history.index.max())}")
    else:
        lines.append(f"best {monitor}: not logged (no validation ran); best.ckpt = last weights")
    ckpts = run_dir / "checkpoints"
    lines += [
        f"run directory:   {run_dir}",
        f"best checkpoint: {ckpts / 'best.ckpt'}",
        f"last checkpoint: {ckpts / 'last.ckpt'} (resume with --resume)",
    ]
    curves = run_dir / "learning_curves.png"
    if curves.exists():
        lines.append(f"learning curves: {curves}")
    lines.append(f"report:          genodil report {run_dir}")
    return lines
