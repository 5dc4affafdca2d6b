"""The demo's one-page figure: test accuracy per track and how well variant effects match."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genodil.outputs import atomic_output

__all__ = ["write_summary_png"]

_CLASS_COLOURS = {
    "snv_break": "tab:red",
    "snv_create": "tab:green",
    "enhancer_break": "tab:purple",
    "indel": "tab:orange",
    "neutral": "0.5",
}


def write_summary_png(
    path: str | os.PathLike, metrics: Mapping[str, Any], recovery: pd.DataFrame
) -> Path:
    """Write the demo's three-panel summary figure.

    The panels: test Pearson r per track, predicted against true variant effects by class,
    and the ROC of breaking against neutral variants.

    Parameters
    ----------
    path : path of the PNG (written to a temporary name, then renamed)
    metrics : dict
        :func:`genodil.train.evaluate.evaluate`'s result (``tracks`` -> ``pearson``, ...).
    recovery : pandas.DataFrame
        :func:`genodil.demo.variant_recovery`'s table.

    Returns
    -------
    Path, the file written
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    path = Path(path)
    fig = Figure(figsize=(15, 4.5))
    FigureCanvasAgg(fig)  # no pyplot: no global backend state is touched
    ax_r, ax_sad, ax_roc = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1, 1.3, 1]})
    _pearson_panel(ax_r, metrics)
    _effect_panel(ax_sad, recovery)
    _roc_panel(ax_roc, recovery)
    fig.tight_layout()
    with atomic_output(path, what="summary figure") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    return path


def _pearson_panel(ax, metrics: Mapping[str, Any]) -> None:
    tracks = list(metrics["tracks"])
    x = np.arange(len(tracks))
    per_base = [metrics["tracks"][t]["pearson"] or 0.0 for t in tracks]
    binned = [metrics["tracks"][t].get("pearson_bin128") or 0.0 for t in tracks]
    ax.bar(x - 0.2, per_base, 0.4, label="per base", color="tab:blue")
    ax.bar(x + 0.2, binned, 0.4, label="128-bp bins", color="tab:cyan")
    ax.set_xticks(x, tracks, rotation=20)
    ax.set_ylim(0, 1)
    ax.set_ylabel("Pearson r, test chromosome")
    ax.set_title("track accuracy")
    ax.legend(loc="lower right", fontsize=8)


def _effect_panel(ax, recovery: pd.DataFrame) -> None:
    shown = recovery[recovery["predicted_track"] & (recovery["class"] != "neutral")]
    for cls, part in shown.groupby("class"):
        ax.scatter(part["true"], part["sad"], s=14, label=cls, color=_CLASS_COLOURS.get(cls))
    neutral = recovery[recovery["class"] == "neutral"]
    ax.scatter(neutral["true"], neutral["sad"], s=10, label="neutral", color="0.5", marker="x")
    ax.set_xscale("symlog", linthresh=10)
    ax.set_yscale("symlog", linthresh=10)
    ax.axhline(0, color="0.8", lw=0.5)
    ax.axvline(0, color="0.8", lw=0.5)
    ax.set_xlabel("true effect (summed over the bases it changes)")
    ax.set_ylabel("predicted SAD (track units)")
    ax.set_title("variant effects on their planted track")
    ax.legend(fontsize=8)


def _roc_panel(ax, recovery: pd.DataFrame) -> None:
    brk = recovery.loc[recovery["effect"] == "break", "max_abs_sad"].to_numpy()
    neu = recovery.loc[recovery["effect"] == "neutral", "max_abs_sad"].to_numpy()
    ax.plot([0, 1], [0, 1], color="0.8", lw=0.8)
    if len(brk) and len(neu):
        thresholds = np.unique(np.concatenate([brk, neu, [np.inf]]))[::-1]
        tpr = [(brk >= t).mean() for t in thresholds]
        fpr = [(neu >= t).mean() for t in thresholds]
        ax.plot(fpr, tpr, color="tab:red", drawstyle="steps-post")
    ax.set_xlabel("neutral variants called (false positive rate)")
    ax.set_ylabel("breaking variants called (true positive rate)")
    ax.set_title("breaking vs neutral, by max |SAD|")
