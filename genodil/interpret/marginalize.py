"""In-silico marginalization: the predicted effect of a motif inserted into backgrounds.

A motif (a consensus string, or each motif of a MEME file by its most probable bases) is
written at the centre of ``n`` background windows; the effect is the prediction with the
motif minus the prediction without it, averaged over the backgrounds, per track and output
position, in each track's own units. Backgrounds are genome windows drawn at random
(``genomic``) or the same windows dinucleotide-shuffled (``shuffled``, the default: it keeps
base composition and removes the genome's own motifs). With ``spacings`` a second motif is
also placed at each distance to the right of the first and the *interaction*
``effect(both) - effect(first) - effect(second)`` is reported per spacing: how users probe
cooperativity. All predictions go through :func:`genodil.predict.runner.predict`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from genodil.errors import InputError
from genodil.genome.encode import encode, one_hot

__all__ = ["Marginal", "background_windows", "insert", "marginalize", "spacing_effects"]


@dataclass
class Marginal:
    """Mean predicted change per track and output position, and its per-background spread."""

    motif: str
    mean: np.ndarray  # (T, L_out)
    total: np.ndarray  # (n, T): each background's change summed over the output
    start: int  # input column where the motif was written


def background_windows(
    genome, n: int, window: int, kind: str = "shuffled", chroms=None, seed: int = 0
) -> np.ndarray:
    """``n`` background windows as base codes (n, window) with no N.

    ``genomic``: windows at random positions of ``chroms`` (default: every chromosome);
    ``shuffled``: the same windows dinucleotide-shuffled (tangermeme).
    """
    if kind not in ("shuffled", "genomic"):
        raise InputError(f"--background {kind!r}: choose shuffled or genomic")
    rng = np.random.default_rng(seed)
    names = [c for c in (chroms or genome.chroms) if genome.chrom_sizes[c] > window]
    if not names:
        raise InputError(f"no chromosome is longer than the model window ({window} bp)")
    sizes = np.array([genome.chrom_sizes[c] for c in names], dtype=float)
    out, tries = [], 0
    while len(out) < n and tries < 50 * n:
        tries += 1
        chrom = names[rng.choice(len(names), p=sizes / sizes.sum())]
        start = int(rng.integers(0, genome.chrom_sizes[chrom] - window))
        codes = genome.fetch(chrom, start, start + window)
        if (codes < 4).all():
            out.append(codes)
    if len(out) < n:
        raise InputError(f"found only {len(out)} N-free {window}-bp windows; lower --n")
    codes = np.stack(out)
    if kind == "genomic":
        return codes
    from genodil.interpret.deeplift import require_interpret_extra

    ersatz = require_interpret_extra("tangermeme.ersatz")
    x = torch.from_numpy(one_hot(codes))
    shuffled = ersatz.dinucleotide_shuffle(x, n=1, random_state=seed)[:, 0]  # (n, 4, L)
    return shuffled.argmax(1).numpy().astype(np.uint8)


def insert(codes: np.ndarray, motif: str, start: int) -> np.ndarray:
    """A copy of ``codes`` (n, L) with ``motif`` written at column ``start`` of every row."""
    m = encode(motif.upper())
    if start < 0 or start + len(m) > codes.shape[1]:
        raise InputError(
            f"motif of {len(m)} bp at {start} does not fit a {codes.shape[1]}-bp window"
        )
    out = codes.copy()
    out[:, start : start + len(m)] = m
    return out


def _predict(model, codes: np.ndarray, track_specs=None, **run) -> np.ndarray:
    """Predictions (n, T, L_out), in the tracks' own units when ``track_specs`` is given."""
    from genodil.data.tracks import untransform_tracks
    from genodil.predict.runner import predict

    out = predict(model, torch.from_numpy(one_hot(codes)), **run).numpy()  # (n, T, L_out)
    if track_specs is None:
        return out
    return untransform_tracks(out, track_specs, int(getattr(model, "bin_size", 1)))


def marginalize(
    model,
    backgrounds: np.ndarray,
    motif: str,
    *,
    batch_size: int = 32,
    device: str = "auto",
    rc_average: bool = False,
    track_specs=None,
) -> Marginal:
    """Insert ``motif`` at the centre of each background and average the predicted change.

    With ``track_specs`` (the model's tracks) the change is in each track's own units
    (:func:`genodil.data.tracks.untransform_tracks`); without, in the model's output units.
    """
    if not motif or set(motif.upper()) - set("ACGTN"):
        raise InputError(f"motif {motif!r} must be a string of A, C, G, T (N allowed)")
    run = {"batch_size": batch_size, "device": device, "precision": "32", "rc_average": rc_average}
    run["track_specs"] = track_specs
    start = backgrounds.shape[1] // 2 - len(motif) // 2
    before = _predict(model, backgrounds, **run)
    after = _predict(model, insert(backgrounds, motif, start), **run)
    delta = after - before
    return Marginal(motif.upper(), delta.mean(0), delta.sum(-1), start)


def spacing_effects(
    model, backgrounds: np.ndarray, first: str, second: str, spacings: Sequence[int], **run
) -> dict[str, np.ndarray]:
    """Interaction of two motifs by spacing (centre-to-centre bp, second to the right).

    Returns ``spacing`` (S,), ``pair`` (S, T): mean change summed over the output with both
    motifs, ``single_first`` (T,), ``single_second`` (S, T) and ``interaction`` (S, T) =
    pair - first - second.
    """
    run = {"precision": "32", **run}
    c = backgrounds.shape[1] // 2
    s1 = c - len(first) // 2
    base = _predict(model, backgrounds, **run)
    one = _predict(model, insert(backgrounds, first, s1), **run)
    first_eff = (one - base).sum(-1).mean(0)
    pair, second_eff = [], []
    for d in spacings:
        s2 = c + int(d) - len(second) // 2
        if s2 < s1 + len(first):
            raise InputError(f"spacing {d} bp makes the two motifs overlap; use larger spacings")
        two = _predict(model, insert(insert(backgrounds, first, s1), second, s2), **run)
        alone = _predict(model, insert(backgrounds, second, s2), **run)
        pair.append((two - base).sum(-1).mean(0))
        second_eff.append((alone - base).sum(-1).mean(0))
    pair, second_eff = np.array(pair), np.array(second_eff)
    return {
        "spacing": np.asarray(spacings),
        "pair": pair,
        "single_first": first_eff,
        "single_second": second_eff,
        "interaction": pair - first_eff - second_eff,
    }


def write_marginalize(
    out_dir, names: Sequence[str], results: Sequence[Marginal], loaded, spacing=None
) -> dict:
    """Write ``marginalize.tsv``, ``profiles.npz``, ``profile.png`` and ``spacing.tsv``.

    The TSV has one row per (motif, track): the mean change summed over the output window and
    its standard deviation over backgrounds, in the track's own units.
    """
    from pathlib import Path

    import pandas as pd

    from genodil.interpret import plots
    from genodil.outputs import atomic_output, write_atomic

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = []
    for name, res in zip(names, results, strict=True):
        for t, track in enumerate(loaded.track_names):
            total = res.total[:, t]
            rows.append((name, res.motif, track, float(total.mean()), float(total.std())))
    table = pd.DataFrame(rows, columns=["motif", "sequence", "track", "mean_effect", "sd_effect"])
    written = {"table": out_dir / "marginalize.tsv", "profiles": out_dir / "profiles.npz"}
    write_atomic(written["table"], table.to_csv(sep="\t", index=False), what="--out table")
    with atomic_output(written["profiles"], what="--out profiles") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, **{n: r.mean for n, r in zip(names, results, strict=True)})
    plt = plots._pyplot()
    fig, axes = plt.subplots(len(results), 1, figsize=(9, 2.2 * len(results)), squeeze=False)
    for ax, name, res in zip(axes[:, 0], names, results, strict=True):
        x = np.arange(res.mean.shape[-1]) * loaded.bin_size + loaded.crop - res.start
        for t, track in enumerate(loaded.track_names):
            ax.plot(x, res.mean[t], lw=0.8, label=track)
        ax.axvline(0, color="0.5", lw=0.5, ls="--")
        ax.set_title(f"{name} inserted: mean predicted change", fontsize=9, loc="left")
        ax.set_ylabel("change (track units)", fontsize=8)
    axes[0, 0].legend(fontsize=7, ncol=4)
    axes[-1, 0].set_xlabel("position relative to the motif start (bp)")
    fig.tight_layout()
    written["plot"] = plots.save_figure(fig, out_dir / "profile.png")
    if spacing is not None:
        srows = [
            (int(d), track, float(spacing["pair"][i, t]), float(spacing["interaction"][i, t]))
            for i, d in enumerate(spacing["spacing"])
            for t, track in enumerate(loaded.track_names)
        ]
        frame = pd.DataFrame(srows, columns=["spacing", "track", "pair_effect", "interaction"])
        written["spacing"] = write_atomic(
            out_dir / "spacing.tsv", frame.to_csv(sep="\t", index=False), what="--out spacing"
        )
    return written
