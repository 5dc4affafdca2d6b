"""The receptive-field report: text, gridding warning and sensitivity figure.

It formats the analysis of :mod:`genodil.models.receptive` and does the IO that ``models/``
does not do.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from genodil.models.receptive import (
    ModelLike,
    analytic_reach,
    blind_fraction,
    receptive_field_analysis,
    sensitivity_profile,
    tower_geometry,
)
from genodil.outputs import atomic_output

__all__ = ["format_report", "plot_sensitivity", "receptive_field_report"]


def receptive_field_report(
    model: ModelLike,
    empirical: bool = False,
    plot: str | os.PathLike[str] | None = None,
    seed: int = 0,
) -> dict[str, Any]:
    """Everything ``genodil receptive-field`` prints, as a JSON-able dict.

    Parameters
    ----------
    model : DilatedResNet, TowerGeometry or dict of model arguments (a config's ``model``)
    empirical : bool
        Also compute the gradient reach of a positive float64 twin and compare it with the
        analytic set (``empirical_match``).
    plot : path or None
        Write a sensitivity-versus-offset figure there (see :func:`plot_sensitivity`).
    seed : int

    Returns
    -------
    dict
        :func:`~genodil.models.receptive.receptive_field_analysis`, plus warning (str or None:
        which layers leave blind offsets and what to use instead) and, with ``plot``, plot
        (the path written).
    """
    analysis = receptive_field_analysis(model, empirical=empirical, seed=seed)
    warning = _warning_text(analysis) if analysis["blind_fraction"] > 0 else None
    report: dict[str, Any] = {}
    for key, value in analysis.items():  # the warning goes just before the suggestion
        if key == "suggestion":
            report["warning"] = warning
        report[key] = value
    if plot is not None:
        report["plot"] = str(plot_sensitivity(model, plot, seed=seed))
    return report


def _warning_text(report: Mapping[str, Any]) -> str:
    reach = report["reach"]
    names = ", ".join(
        f"{row['name']} (dilation {row['dilation']}, taps {row['tap_gap']} bp apart over a "
        f"{row['contiguous_bp']}-bp contiguous reach)"
        for row in report["blind_layers"][:8]
    )
    more = len(report["blind_layers"]) - 8
    if more > 0:
        names += f" and {more} more"
    text = (
        f"gridding: {reach['n_blind']} of the {reach['n_span']} offsets inside the receptive "
        f"field ({100 * report['blind_fraction']:.1f}%) are never seen; the model's gradient "
        f"is exactly zero there. Layers responsible: {names}."
    )
    k = report["kernel"]
    sugg = report.get("suggestion")
    if sugg is not None:
        text += (
            f" Use a hybrid schedule, e.g. model.dilations: {sugg['dilations']['values']} "
            f"(the HDC cycle 1, 2, 5 scaled by 8 per repeat; {sugg['blocks']} blocks, "
            f"R = {sugg['receptive_field_bp']:,} bp, no blind spots),"
            if sugg["dilations"]["schedule"] == "list"
            else f" Use e.g. model.dilations: {sugg['dilations']} ({sugg['blocks']} blocks, "
            f"R = {sugg['receptive_field_bp']:,} bp, no blind spots),"
        )
    else:
        text += " Use a hybrid schedule (cycles of co-prime rates such as 1, 2, 5),"
    text += (
        f" or let each dilation grow at most {k}-fold (kernel {k}), widen stem_kernel beyond "
        "the gaps, or close the tower with an ASPP block whose rates fill them."
    )
    return text


def format_report(report: Mapping[str, Any]) -> str:
    """Human-readable text of a :func:`receptive_field_report` dict."""
    reach = report["reach"]
    lines = [
        f"receptive field: {report['receptive_field_bp']:,} bp per output base"
        + (
            f" ({report['receptive_field_bin_bp']:,} bp per {report['bin_size']}-bp bin)"
            if report["bin_size"] > 1
            else ""
        ),
        f"stem kernel {report['stem_kernel']}, kernel {report['kernel']}, "
        f"{len(report['dilations'])} blocks, dilations {report['dilations']}"
        + (f", ASPP rates {report['aspp']}" if report["aspp"] else "")
        + (", reverse-complement averaged" if report["rc_equivariant"] else ""),
        (
            f"reach: offsets {reach['min_offset']} .. {reach['max_offset']}, "
            f"{reach['n_reached']:,} of {reach['n_span']:,} reached"
        ),
        (
            f"blind fraction: {report['blind_fraction']:.4f} ({reach['n_blind']:,} offsets in "
            f"{reach['n_blind_runs']:,} runs)"
        ),
    ]
    if reach["blind_runs"]:
        shown = ", ".join(f"{a}" if a == b else f"{a}..{b}" for a, b in reach["blind_runs"][:10])
        lines.append(f"blind offsets nearest the centre: {shown}")
    if report.get("crop"):
        lines.append(f"crop: {report['crop']:,} bp each side")
    lines.append("")
    lines.append(f"{'layer':<8} {'kernel':>6} {'dilation':>14} {'span bp':>9} {'blind':>8}")
    for row in report["layers"]:
        dil = ",".join(map(str, row["dilation"])) if isinstance(row["dilation"], list) else ""
        dil = dil or str(row["dilation"])
        lines.append(
            f"{row['name']:<8} {row['kernel']:>6} {dil:>14} {row['span_bp']:>9,} "
            f"{row['blind_fraction']:>8.4f}"
        )
    if "empirical_match" in report:
        emp = report["empirical"]
        verdict = "matches" if report["empirical_match"] else "DOES NOT match"
        lines.append("")
        lines.append(
            f"empirical gradient reach ({emp['n_reached']:,} offsets) {verdict} the analytic set"
            + (
                ""
                if report["empirical_match"]
                else f" (missing {emp['missing']}, extra {emp['extra']})"
            )
        )
    if report.get("warning"):
        lines.append("")
        lines.append("WARNING: " + report["warning"])
    if report.get("plot"):
        lines.append(f"plot: {report['plot']}")
    return "\n".join(lines)


def plot_sensitivity(model: ModelLike, path: str | os.PathLike[str], seed: int = 0) -> Path:
    """Draw input sensitivity against offset, with the analytically blind offsets marked.

    Top: |gradient| of one central output (see :func:`sensitivity_profile`) on a log scale.
    Bottom: the analytic reach (grey = reached, red = blind). Written atomically: a temporary
    file in the same folder, then renamed.

    Parameters
    ----------
    model : DilatedResNet, TowerGeometry or dict of model arguments
    path : path of the image; its suffix picks the format (png, pdf, svg)

    Returns
    -------
    Path, the file written
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.colors import ListedColormap
    from matplotlib.figure import Figure

    path = Path(path)
    geo = tower_geometry(model)
    offsets, sens = sensitivity_profile(model, seed=seed)
    reach = analytic_reach(geo)
    lo, hi = int(min(offsets[0], reach[0])), int(max(offsets[-1], reach[-1]))
    strip = np.zeros(hi - lo + 1)
    strip[reach - lo] = 1.0
    blind = np.setdiff1d(np.arange(reach[0], reach[-1] + 1), reach)

    fig = Figure(figsize=(10, 4.5))
    FigureCanvasAgg(fig)  # no pyplot: no global backend state is touched
    ax, ax2 = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [4, 1]})
    shown_sens = np.where(sens > 0, sens, np.nan)  # exact zeros break the line
    ax.semilogy(offsets, shown_sens, lw=0.6, marker=".", ms=2, color="tab:blue")
    ax.set_ylabel("|d output / d input|")
    frac = blind_fraction(reach)
    ax.set_title(
        f"R = {geo.receptive_field:,} bp, blind fraction {frac:.3f} ({len(blind):,} blind offsets)"
    )
    cmap = ListedColormap(["tab:red", "0.6"])
    shown = strip.copy()
    shown[: reach[0] - lo] = np.nan
    shown[reach[-1] - lo + 1 :] = np.nan
    ax2.imshow(
        shown[None, :],
        aspect="auto",
        cmap=cmap,
        vmin=0,
        vmax=1,
        extent=(lo - 0.5, hi + 0.5, 0, 1),
        interpolation="nearest",
    )
    ax2.set_yticks([])
    ax2.set_xlabel("input offset (bp) relative to the output base")
    ax2.set_ylabel("reach", rotation=0, ha="right", va="center")
    fig.tight_layout()
    fmt = path.suffix.lstrip(".") or "png"
    with atomic_output(path, what="--plot") as tmp:
        fig.savefig(tmp, format=fmt, dpi=120)
    return path
