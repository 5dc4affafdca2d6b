"""Strand pairs of tracks, and predictions mapped between the two strands.

A strand-pair permutation ``pairs`` lists, for each of T tracks, the index of its
reverse-strand partner (itself when unstranded): under reverse complement of the input, track
``t`` becomes track ``pairs[t]``. :func:`check_strand_pairs` is the one validator (config
tracks, model arguments and prediction options all go through it); :func:`rc_map` maps a
prediction for a reverse-complemented input back onto the forward strand and
:func:`rc_average` is the one reverse-complement average.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence

import torch
from torch import Tensor

from genodil.errors import InputError

__all__ = ["check_strand_pairs", "rc_average", "rc_map"]


def check_strand_pairs(
    strand_pairs: Sequence[int] | None,
    n_tracks: int,
    names: Sequence[str] | None = None,
    source: str = "strand_pairs",
) -> list[int] | None:
    """Validate a strand-pair permutation.

    Parameters
    ----------
    strand_pairs : sequence of int or None
        For each track, the index of its reverse-strand partner; None means all unstranded.
    n_tracks : int
        T, the number of tracks.
    names : sequence of str or None
        Track names, used in messages instead of indices.
    source : str
        Where the pairs come from (e.g. ``model.strand_pairs``), named in messages.

    Returns
    -------
    list of int, or None when ``strand_pairs`` is None

    Raises
    ------
    InputError
        Not one integer in ``0..T-1`` per track, or pairs that are not mutual
        (``pairs[pairs[t]] != t``).
    """
    if strand_pairs is None:
        return None
    pairs = list(strand_pairs)
    ok = len(pairs) == n_tracks and all(
        isinstance(p, numbers.Integral) and not isinstance(p, bool) and 0 <= p < n_tracks
        for p in pairs
    )
    example = "e.g. [1, 0, 2] for a plus/minus pair and one unstranded track"
    if not ok:
        raise InputError(
            f"{source} {pairs!r} must list, for each of the {n_tracks} tracks, the index of its "
            f"reverse-strand partner (itself if unstranded); {example}"
        )
    pairs = [int(p) for p in pairs]
    label = (lambda i: repr(names[i])) if names is not None else (lambda i: f"track {i}")
    for t, p in enumerate(pairs):
        if pairs[p] != t:
            other = "names no partner" if pairs[p] == p else f"pairs with {label(pairs[p])}"
            raise InputError(
                f"{source}: {label(t)} pairs with {label(p)}, but {label(p)} {other}; pairs "
                f"must be mutual (each names the other), {example}"
            )
    return pairs


def rc_map(pred: Tensor, strand_pairs: Sequence[int] | None) -> Tensor:
    """Map a prediction for a reverse-complemented input onto the forward strand.

    Parameters
    ----------
    pred : Tensor, shape (B, T, L) or (B, T)
        Positions are reversed (when there is a length axis) and tracks permuted.
    strand_pairs : sequence of int or None
        Track ``t`` of the result is track ``strand_pairs[t]`` of ``pred``; None keeps tracks.

    Returns
    -------
    Tensor, same shape
    """
    if strand_pairs is not None:
        index = torch.as_tensor(strand_pairs, dtype=torch.long, device=pred.device)
        pred = pred.index_select(1, index)
    return pred.flip(-1) if pred.ndim == 3 else pred


def rc_average(fwd: Tensor, rev: Tensor, strand_pairs: Sequence[int] | None) -> Tensor:
    """Average a forward prediction with the mapped prediction of the reverse complement.

    Parameters
    ----------
    fwd : Tensor, shape (B, T, L) or (B, T)
        Prediction for the input.
    rev : Tensor, same shape
        Prediction for the reverse complement of the input.
    strand_pairs : sequence of int or None

    Returns
    -------
    Tensor, ``0.5 * (fwd + rc_map(rev, strand_pairs))``
    """
    return 0.5 * (fwd + rc_map(rev, strand_pairs))
