"""The tracks as a function of the sequence: motif sites, peak kernels, expected rates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from genodil.simulate.motifs import _N, MOTIFS, Motif

__all__ = [
    "ENHANCER_RANGE",
    "LONGRANGE_DISTANCES",
    "LONGRANGE_MAX",
    "STRAND_PAIRS",
    "TRACKS",
    "Sites",
    "contact_weight",
    "enhancer_input",
    "expected_tracks",
    "find_sites",
    "longrange_input",
]

#: Track names; ``cage_plus`` and ``cage_minus`` are a strand pair.
TRACKS = ("local", "distal", "cage_plus", "cage_minus", "longrange")
STRAND_PAIRS = {"cage_plus": "cage_minus", "cage_minus": "cage_plus"}

_BACKGROUND = {"local": 0.5, "distal": 0.3, "cage_plus": 0.1, "cage_minus": 0.1, "longrange": 0.2}
_LOCAL_SIGMA, _FOOT_SIGMA, _FOOT_DEPTH, _LOCAL_HALF = 35.0, 6.0, 0.5, 150
_DISTAL_SIGMA, _DISTAL_HALF = 60.0, 240
_DISTAL_BASE, _DISTAL_BOOST = 4.0, 36.0
ENHANCER_RANGE = (1500, 5000)  # centre-to-centre distance (bp) at which an enhancer counts
_CAGE_HEIGHT, _CAGE_OFFSET, _CAGE_SIGMA = 30.0, 28, 6.0
_CAGE_TAIL, _CAGE_TAIL_FRAC, _CAGE_LEN = 120.0, 0.15, 400
#: ``longrange``: enhancers whose centre lies within this many bp of a promoter's centre count,
#: each weighted by :func:`contact_weight` of the distance.
LONGRANGE_MAX = 8500
#: Promoter-enhancer distances (bp, centre to centre within 0.5 bp) of the controlled pairs.
LONGRANGE_DISTANCES = (500, 1000, 2000, 4000, 8000)
_LONGRANGE_BASE, _LONGRANGE_BOOST = 2.0, 40.0


@dataclass
class Sites:
    """Motif sites of one motif in one sequence (all arrays have shape (n,))."""

    start: np.ndarray  # int64, 0-based first base of the site
    strand: np.ndarray  # int8, +1 or -1 (the strand the consensus reads on)
    score: np.ndarray  # float32 log-odds
    occ: np.ndarray  # float64 occupancy


def _scan(codes: np.ndarray, log_odds: np.ndarray) -> np.ndarray:
    """Log-odds score of every window, shape (len(codes) - m + 1,), float32."""
    m = log_odds.shape[0]
    n = len(codes) - m + 1
    if n <= 0:
        return np.zeros(0, dtype=np.float32)
    score = np.take(log_odds[0], codes[:n])
    for j in range(1, m):
        score += np.take(log_odds[j], codes[j : j + n])
    return score


def find_sites(codes: np.ndarray) -> dict[str, Sites]:
    """Find every site of every motif with occupancy >= :data:`MIN_OCC`, on both strands.

    Parameters
    ----------
    codes : np.ndarray, shape (L,), uint8 base codes 0..4 (A, C, G, T, N)

    Returns
    -------
    dict[str, Sites]
        Per motif name, sites sorted by start. For the oriented motif (``tata``) a window can
        be a site on both strands; for the others each window is counted once, on the strand
        with the higher score.
    """
    out = {}
    for motif in MOTIFS.values():
        lo = motif.log_odds
        lo_rc = lo[::-1][:, [3, 2, 1, 0, 4]]  # the reverse complement's matrix
        plus, minus = _scan(codes, lo), _scan(codes, lo_rc)
        thr = motif.min_score
        if motif.role == "oriented":
            parts = []
            for strand, score in ((1, plus), (-1, minus)):
                idx = np.flatnonzero(score >= thr)
                parts.append((idx, np.full(len(idx), strand, np.int8), score[idx]))
            start = np.concatenate([p[0] for p in parts])
            order = np.argsort(start, kind="stable")
            strand = np.concatenate([p[1] for p in parts])[order]
            score = np.concatenate([p[2] for p in parts])[order]
            start = start[order]
        else:
            best = np.maximum(plus, minus)
            start = np.flatnonzero(best >= thr)
            strand = np.where(minus[start] > plus[start], -1, 1).astype(np.int8)
            score = best[start]
        out[motif.name] = Sites(start.astype(np.int64), strand, score, motif.occupancy(score))
    return out


def _local_kernel(m: int) -> tuple[np.ndarray, np.ndarray]:
    """Offsets from a site's start and the footprinted peak centred on the site."""
    offsets = np.arange(-_LOCAL_HALF, m + _LOCAL_HALF)
    x = offsets + 0.5 - m / 2  # distance of each base centre from the site centre
    peak = np.exp(-(x**2) / (2 * _LOCAL_SIGMA**2))
    return offsets, peak * (1 - _FOOT_DEPTH * np.exp(-(x**2) / (2 * _FOOT_SIGMA**2)))


def _distal_kernel(m: int) -> tuple[np.ndarray, np.ndarray]:
    offsets = np.arange(-_DISTAL_HALF, m + _DISTAL_HALF)
    x = offsets + 0.5 - m / 2
    return offsets, np.exp(-(x**2) / (2 * _DISTAL_SIGMA**2))


def _cage_kernel() -> np.ndarray:
    """Shape of a transcription start peak against distance downstream of the site (bp)."""
    x = np.arange(_CAGE_LEN)
    tss = np.exp(-((x - _CAGE_OFFSET) ** 2) / (2 * _CAGE_SIGMA**2))
    return tss + _CAGE_TAIL_FRAC * np.exp(-x / _CAGE_TAIL)


def _add_peaks(
    track: np.ndarray, start: np.ndarray, weight: np.ndarray, offsets: np.ndarray, shape: np.ndarray
) -> None:
    """Add ``weight[i] * shape`` at ``start[i] + offsets`` into ``track`` (in place)."""
    if len(start) == 0:
        return
    idx = start[:, None] + offsets[None, :]  # (n, k)
    val = weight[:, None] * shape[None, :]
    ok = (idx >= 0) & (idx < len(track))
    track += np.bincount(idx[ok], weights=val[ok], minlength=len(track))


def enhancer_input(promoters: Sites, enhancers: Sites, m_prom: int, m_enh: int) -> np.ndarray:
    """Sum of enhancer occupancies within :data:`ENHANCER_RANGE` of each promoter's centre.

    Returns
    -------
    np.ndarray, shape (n_promoters,), float64
    """
    ce = enhancers.start + m_enh / 2
    cp = promoters.start + m_prom / 2
    cum = np.concatenate([[0.0], np.cumsum(enhancers.occ)])
    lo, hi = ENHANCER_RANGE

    def within(a: np.ndarray, b: np.ndarray) -> np.ndarray:  # enhancer occ with a <= ce <= b
        return cum[np.searchsorted(ce, b, "right")] - cum[np.searchsorted(ce, a, "left")]

    return within(cp - hi, cp - lo) + within(cp + lo, cp + hi)


def contact_weight(distance: np.ndarray | float) -> np.ndarray:
    """Weight of an enhancer at ``distance`` bp (centre to centre) from a promoter.

    ``sqrt(1000 / max(d, 1000))`` up to :data:`LONGRANGE_MAX`, 0 beyond: 1 within 1 kb, then a
    slow decay (0.71 at 2 kb, 0.5 at 4 kb, 0.35 at 8 kb), like a contact probability.
    """
    d = np.abs(np.asarray(distance, dtype=np.float64))
    return np.where(d <= LONGRANGE_MAX, np.sqrt(1000.0 / np.maximum(d, 1000.0)), 0.0)


def longrange_input(promoters: Sites, enhancers: Sites, m_prom: int, m_enh: int) -> np.ndarray:
    """Sum over enhancers of occupancy times :func:`contact_weight` of the distance, per promoter.

    Returns
    -------
    np.ndarray, shape (n_promoters,), float64
    """
    ce = enhancers.start + m_enh / 2
    cp = promoters.start + m_prom / 2
    first = np.searchsorted(ce, cp - LONGRANGE_MAX, "left")
    counts = np.searchsorted(ce, cp + LONGRANGE_MAX, "right") - first
    prom = np.repeat(np.arange(len(cp)), counts)
    enh = np.arange(counts.sum()) - np.repeat(np.cumsum(counts) - counts - first, counts)
    w = enhancers.occ[enh] * contact_weight(ce[enh] - cp[prom])
    return np.bincount(prom, weights=w, minlength=len(cp)).astype(np.float64)


def expected_tracks(
    codes: np.ndarray, sites: Mapping[str, Sites] | None = None
) -> dict[str, np.ndarray]:
    """The noise-free rate of every track, a function of the sequence alone.

    Parameters
    ----------
    codes : np.ndarray, shape (L,), uint8 base codes 0..4
    sites : dict[str, Sites], optional
        ``find_sites(codes)``, if already computed.

    Returns
    -------
    dict[str, np.ndarray]
        Per track name in :data:`TRACKS`, shape (L,), float32.
    """
    sites = find_sites(codes) if sites is None else sites
    n = len(codes)
    out = {name: np.full(n, _BACKGROUND[name], dtype=np.float64) for name in TRACKS}
    for name, motif in MOTIFS.items():
        if motif.local_height > 0:
            s = sites[name]
            _add_peaks(
                out["local"], s.start, motif.local_height * s.occ, *_local_kernel(len(motif))
            )
    prom, enh = MOTIFS["sp1"], MOTIFS["ets"]
    ps = sites["sp1"]
    e_in = enhancer_input(ps, sites["ets"], len(prom), len(enh))
    height = ps.occ * (_DISTAL_BASE + _DISTAL_BOOST * np.minimum(1.0, e_in))
    _add_peaks(out["distal"], ps.start, height, *_distal_kernel(len(prom)))
    lr_prom, lr_enh = MOTIFS["nfy"], MOTIFS["gata"]
    ps = sites["nfy"]
    lr_in = longrange_input(ps, sites["gata"], len(lr_prom), len(lr_enh))
    height = ps.occ * (_LONGRANGE_BASE + _LONGRANGE_BOOST * lr_in)
    _add_peaks(out["longrange"], ps.start, height, *_distal_kernel(len(lr_prom)))
    tata = MOTIFS["tata"]
    ts, shape = sites["tata"], _cage_kernel()
    m = len(tata)
    for track, strand, offsets in (
        ("cage_plus", 1, m + np.arange(_CAGE_LEN)),  # downstream = to the right
        ("cage_minus", -1, -1 - np.arange(_CAGE_LEN)),  # downstream = to the left
    ):
        keep = ts.strand == strand
        _add_peaks(out[track], ts.start[keep], _CAGE_HEIGHT * ts.occ[keep], offsets, shape)
    not_n = codes != _N
    return {k: (v * not_n).astype(np.float32) for k, v in out.items()}


def _peak_mass(motif: Motif) -> float:
    """Summed expected signal of one fully occupied site on its motif's primary track."""
    if motif.role == "local":
        return motif.local_height * float(_local_kernel(len(motif))[1].sum())
    if motif.role == "oriented":
        return _CAGE_HEIGHT * float(_cage_kernel().sum())
    return _DISTAL_BOOST * float(_distal_kernel(len(motif))[1].sum())


def _longrange_mass(distance: float) -> float:
    """Summed ``longrange`` signal a full enhancer at ``distance`` adds to a full promoter."""
    shape = _distal_kernel(len(MOTIFS["nfy"]))[1]
    return _LONGRANGE_BOOST * float(contact_weight(distance)) * float(shape.sum())
