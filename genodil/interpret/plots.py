"""Figures of attributions: sequence logos (letters scaled by contribution) and ISM heatmaps.

Logos are drawn as matplotlib letter outlines (one collection per panel: logomaker builds an
artist per letter and takes seconds per 200 bp). Every figure is written under a temporary
name and renamed when complete.
"""

from __future__ import annotations

import io
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

__all__ = ["ism_heatmap", "logo_axes", "save_figure", "sequence_logos"]

BASES = ["A", "C", "G", "T"]


def save_figure(fig, path: str | os.PathLike, dpi: int = 110) -> Path:
    """Render ``fig`` to PNG in memory, then write ``path`` atomically and close the figure."""
    import matplotlib.pyplot as plt

    from genodil.outputs import write_atomic

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return write_atomic(path, buf.getvalue(), what="figure")


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


_COLORS = {"A": "#109648", "C": "#255C99", "G": "#F7B32B", "T": "#D62839"}
_GLYPHS: dict = {}


def _glyph(base: str):
    """The outline of a bold letter, normalised to the unit square."""
    if not _GLYPHS:
        from matplotlib.font_manager import FontProperties
        from matplotlib.textpath import TextPath
        from matplotlib.transforms import Affine2D

        prop = FontProperties(family="DejaVu Sans", weight="bold")
        for b in BASES:
            path = TextPath((0, 0), b, size=1, prop=prop)
            box = path.get_extents()
            unit = Affine2D().translate(-box.x0, -box.y0).scale(1 / box.width, 1 / box.height)
            _GLYPHS[b] = unit.transform_path(path)
    return _GLYPHS[base]


def logo_axes(ax, contrib: np.ndarray, start: int = 0) -> None:
    """Draw a logo of ``contrib`` (4, L) on ``ax``: letter heights are the contributions.

    At each position positive values stack upwards from 0 and negative ones downwards (the
    letters stay upright), the smallest nearest the axis. Drawn as one
    collection of letter outlines, so thousands of positions stay fast.
    """
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import PathPatch
    from matplotlib.transforms import Affine2D

    contrib = np.asarray(contrib, dtype=float)
    patches, colors = [], []
    for j in range(contrib.shape[-1]):
        up = down = 0.0
        for b in np.argsort(np.abs(contrib[:, j])):
            h = contrib[b, j]
            if h == 0 or not np.isfinite(h):
                continue
            y0 = up if h > 0 else down + h
            up, down = (up + h, down) if h > 0 else (up, down + h)
            place = Affine2D().scale(0.9, abs(h)).translate(start + j - 0.45, y0)
            patches.append(PathPatch(place.transform_path(_glyph(BASES[b]))))
            colors.append(_COLORS[BASES[b]])
    ax.add_collection(PatchCollection(patches, facecolors=colors, edgecolors="none"))
    lo, hi = np.minimum(contrib, 0).sum(0).min(), np.maximum(contrib, 0).sum(0).max()
    pad = 0.05 * ((hi - lo) or 1.0)
    ax.set_xlim(start - 0.5, start + contrib.shape[-1] - 0.5)
    ax.set_ylim(lo - pad, hi + pad)
    ax.axhline(0, color="0.4", lw=0.5)


def sequence_logos(
    contribs: Sequence[np.ndarray], labels: Sequence[str], starts: Sequence[int], title: str, path
) -> Path:
    """One logo panel per region (projected contributions, shape (4, L) each)."""
    plt = _pyplot()
    length = max(c.shape[-1] for c in contribs)
    fig, axes = plt.subplots(
        len(contribs), 1, figsize=(min(3 + length / 10, 40), 1.9 * len(contribs)), squeeze=False
    )
    for ax, contrib, label, start in zip(axes[:, 0], contribs, labels, starts, strict=True):
        logo_axes(ax, contrib, start)
        ax.set_title(label, fontsize=9, loc="left")
        ax.set_ylabel("contribution", fontsize=8)
    axes[-1, 0].set_xlabel("position (bp)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)


def ism_heatmap(
    deltas: Sequence[np.ndarray],
    codes: Sequence[np.ndarray],
    labels: Sequence[str],
    starts: Sequence[int],
    title: str,
    path,
) -> Path:
    """One 4 x L heatmap per region of ISM changes; the reference base is outlined."""
    plt = _pyplot()
    length = max(d.shape[-1] for d in deltas)
    fig, axes = plt.subplots(
        len(deltas), 1, figsize=(min(3 + length / 10, 40), 1.5 * len(deltas)), squeeze=False
    )
    for ax, d, c, label, start in zip(axes[:, 0], deltas, codes, labels, starts, strict=True):
        lim = float(np.abs(d).max()) or 1.0
        extent = (start - 0.5, start + d.shape[-1] - 0.5, 3.5, -0.5)
        im = ax.imshow(d, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim, extent=extent)
        known = c < 4
        ax.scatter(np.flatnonzero(known) + start, c[known], s=4, c="k", marker="s")
        ax.set_yticks(range(4), BASES)
        ax.set_title(label, fontsize=9, loc="left")
        fig.colorbar(im, ax=ax, pad=0.01, label="change")
    axes[-1, 0].set_xlabel("position (bp)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return save_figure(fig, path)
