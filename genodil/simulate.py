"""Deterministic synthetic demo data: a planted-motif genome, bigWig tracks and variants.

:func:`simulate` writes, into one folder, a genome whose per-base tracks are a known function
of its sequence, so a sequence model can learn them and its errors can be measured against the
truth:

* ``genome.fa`` (+ ``.fai``): chromosomes ``chr1`` .. ``chr4`` (sizes in :data:`PRESETS`),
  uniform random bases, soft-masked (lower-case) repeat copies and microsatellites, N runs
  (a leading gap, internal gaps, a few short runs), and planted motif instances sampled from
  the position weight matrices in :data:`MOTIFS`.
* four bigWig tracks (:data:`TRACKS`), per-base Poisson counts drawn from an expected rate
  ``lambda`` (also written as ``<track>.expected.bw``):

  - ``local``: accessibility-like; every motif site gives a footprinted Gaussian peak at the
    site (height ``Motif.local_height`` times the site's occupancy) over a background of 0.5.
  - ``distal``: a peak at each ``sp1`` (promoter-like) site, of height
    ``occ * (4 + 36 * min(1, E))`` where ``E`` sums the occupancies of ``ets``
    (enhancer-like) sites whose centres lie 1.5-5 kb away on either side: only a model that
    sees ~5 kb to each side can predict it.
  - ``cage_plus`` / ``cage_minus``: a strand pair. A ``tata`` site on the + strand gives a
    sharp peak 28 bp to its right (downstream) on ``cage_plus``; on the - strand, the mirror
    image on ``cage_minus``, to its left. Reverse-complementing the sequence maps one onto the
    other, so reverse-complement augmentation must swap the two tracks.

  Bases that are ``N`` have rate 0 on every track.
* ``variants.vcf`` (VCF 4.2; also ``variants.vcf.gz`` + ``.tbi``): SNVs that break motif sites
  (a core position changed), SNVs that create them (a planted near-site completed), neutral
  SNVs, indels of 1-20 bp (a deletion through a site, an insertion of a consensus site,
  neutral ones) and a multi-allelic record. ``variants_truth.tsv`` gives, for every
  (record, alt allele), the true change of each track: the sum of ``lambda_alt - lambda_ref``
  over aligned reference positions within 6 kb of the variant.
* ``truth.tsv`` (every planted and latent motif site, and chance sites with occupancy >= 0.05,
  with PWM score and occupancy), ``regions.bed`` (occupied sites +-250 bp),
  ``regions_predict.bed`` (two regions on the test chromosome) and ``manifest.json`` (files,
  preset, seed, chromosome sizes, suggested splits, tracks, motifs, and the Pearson r ceiling
  of each track).

A site's occupancy is a logistic function of its PWM log-odds score (one formula for planted and
chance sites alike), so the tracks are a deterministic function of the sequence plus Poisson
noise. The same seed gives byte-identical files (on one platform and numpy version).

Pearson r ceiling: a perfect model predicts ``lambda``; its per-base Pearson r with the
Poisson counts is the best any model can reach. On ``chr4`` of the ``tiny`` preset with seed 0
it is 0.97 for ``local``, 0.95 for ``distal`` and 0.94 for each cage track (stored in
``manifest.json`` under ``ceiling``, also after summing into 32-bp and 128-bp bins, where all
four exceed 0.99).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import pyBigWig
import pysam

from genodil.errors import InputError

__all__ = [
    "CHROMS",
    "ENHANCER_RANGE",
    "MIN_OCC",
    "MOTIFS",
    "PRESETS",
    "SPLITS",
    "STRAND_PAIRS",
    "TRACKS",
    "Motif",
    "Sites",
    "enhancer_input",
    "expected_tracks",
    "find_sites",
    "simulate",
    "variant_effect",
]

Preset = Literal["tiny", "small", "large"]

#: Chromosome sizes (bp) of each preset, for ``chr1`` .. ``chr4``.
PRESETS: dict[str, tuple[int, int, int, int]] = {
    "tiny": (280_000, 260_000, 240_000, 220_000),
    "small": (2_240_000, 2_080_000, 1_920_000, 1_760_000),
    "large": (28_000_000, 26_000_000, 24_000_000, 22_000_000),
}
CHROMS = ("chr1", "chr2", "chr3", "chr4")
#: Suggested chromosome split (configs own the real one).
SPLITS = {"train": ["chr1", "chr2"], "valid": ["chr3"], "test": ["chr4"]}
#: Track names; ``cage_plus`` and ``cage_minus`` are a strand pair.
TRACKS = ("local", "distal", "cage_plus", "cage_minus")
STRAND_PAIRS = {"cage_plus": "cage_minus", "cage_minus": "cage_plus"}
#: Variant counts per chromosome scale with the preset.
_VARIANT_SCALE = {"tiny": 1, "small": 2, "large": 4}

_BASES = "ACGT"
_N = 4  # base code of N (A0 C1 G2 T3 N4, as in genodil.genome.encode)
_UPPER = np.frombuffer(b"ACGTN", dtype=np.uint8)
_LOWER = np.frombuffer(b"acgtn", dtype=np.uint8)
_COMPLEMENT = np.array([3, 2, 1, 0, _N], dtype=np.uint8)
_ENCODE = np.full(256, _N, dtype=np.uint8)
for _i, _b in enumerate(_BASES):
    _ENCODE[ord(_b)] = _i
    _ENCODE[ord(_b.lower())] = _i

# PWM and occupancy: core (upper-case) positions carry most of the information, so changing one
# core base breaks a site while flank (lower-case) bases only modulate its occupancy.
_CORE_P = 0.99
_FLANK_P = 0.6
_N_LOG_ODDS = -30.0  # an N inside a window rules the site out
_OCC_SLOPE = 1.5
_OCC_OFFSET = 4.0  # occupancy 1/2 at (best possible score - 4)
MIN_OCC = 0.01  # sites below this occupancy add nothing to the tracks

_BACKGROUND = {"local": 0.5, "distal": 0.3, "cage_plus": 0.1, "cage_minus": 0.1}
_LOCAL_SIGMA, _FOOT_SIGMA, _FOOT_DEPTH, _LOCAL_HALF = 35.0, 6.0, 0.5, 150
_DISTAL_SIGMA, _DISTAL_HALF = 60.0, 240
_DISTAL_BASE, _DISTAL_BOOST = 4.0, 36.0
ENHANCER_RANGE = (1500, 5000)  # centre-to-centre distance (bp) at which an enhancer counts
_CAGE_HEIGHT, _CAGE_OFFSET, _CAGE_SIGMA = 30.0, 28, 6.0
_CAGE_TAIL, _CAGE_TAIL_FRAC, _CAGE_LEN = 120.0, 0.15, 400
_EFFECT_WINDOW = 6000  # truth SAD: +-6 kb of aligned reference positions
_EFFECT_FLANK = 12_000  # sequence recomputed around a variant (covers the enhancer range)
_EDGE = _EFFECT_FLANK + 1000  # variants and regions keep this far from chromosome ends


@dataclass(frozen=True)
class Motif:
    """A transcription-factor-like motif.

    Parameters
    ----------
    name : str
    consensus : str
        Upper-case letters are core positions (consensus probability 0.99), lower-case letters
        flank positions (0.6); the other bases share the rest equally.
    role : {"local", "enhancer", "promoter", "oriented"}
    local_height : float
        Peak height on the ``local`` track at occupancy 1.
    per_mb : float
        Planted sites per Mb (promoters: half of them get an enhancer 2-4.5 kb away).
    """

    name: str
    consensus: str
    role: Literal["local", "enhancer", "promoter", "oriented"]
    local_height: float
    per_mb: float
    log_odds: np.ndarray = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        lo = np.log(self.pwm() / 0.25)
        lo = np.concatenate([lo, np.full((len(self), 1), _N_LOG_ODDS)], axis=1)
        object.__setattr__(self, "log_odds", lo.astype(np.float32))  # (m, 5), column 4 = N

    def __len__(self) -> int:
        return len(self.consensus)

    def pwm(self) -> np.ndarray:
        """Base probabilities, shape (m, 4), columns A, C, G, T."""
        p = np.empty((len(self), 4))
        for j, ch in enumerate(self.consensus):
            hi = _CORE_P if ch.isupper() else _FLANK_P
            p[j] = (1 - hi) / 3
            p[j, _BASES.index(ch.upper())] = hi
        return p

    @property
    def core(self) -> np.ndarray:
        """Indices of the core (upper-case) positions."""
        return np.array([j for j, ch in enumerate(self.consensus) if ch.isupper()])

    @property
    def codes(self) -> np.ndarray:
        """Consensus base codes, shape (m,)."""
        return _ENCODE[np.frombuffer(self.consensus.encode(), dtype=np.uint8)]

    @property
    def max_score(self) -> float:
        """Best possible log-odds score (the consensus)."""
        return float(self.log_odds[:, :4].max(axis=1).sum())

    def occupancy(self, score: np.ndarray | float) -> np.ndarray:
        """Occupancy in (0, 1) of a site with log-odds ``score`` (natural log)."""
        z = _OCC_SLOPE * (np.asarray(score, dtype=np.float64) - (self.max_score - _OCC_OFFSET))
        return 1.0 / (1.0 + np.exp(-z))

    @property
    def min_score(self) -> float:
        """Lowest score whose occupancy reaches :data:`MIN_OCC`."""
        return self.max_score - _OCC_OFFSET - np.log(1 / MIN_OCC - 1) / _OCC_SLOPE


#: The planted motifs: AP-1-like (local), ETS-like (enhancer), SP1-like (promoter), TATA-like
#: (oriented; drives the cage strand pair).
MOTIFS: dict[str, Motif] = {
    m.name: m
    for m in (
        Motif("ap1", "gATGACTCATc", "local", 40.0, 700.0),
        Motif("ets", "acCGGAAGTGc", "enhancer", 12.0, 60.0),
        Motif("sp1", "gGGGCGGGGc", "promoter", 20.0, 60.0),
        Motif("tata", "cTATAAAAGGc", "oriented", 10.0, 300.0),
    )
}
_PRIMARY_TRACK = {"ap1": "local", "ets": "distal", "sp1": "distal", "tata": "cage"}


# ---------------------------------------------------------------------------------------------
# Sites and tracks: pure functions of the sequence
# ---------------------------------------------------------------------------------------------


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


# ---------------------------------------------------------------------------------------------
# Building a chromosome
# ---------------------------------------------------------------------------------------------


def _rng(seed: int, *keys: int) -> np.random.Generator:
    """An independent generator per (seed, purpose), so streams never shift each other."""
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


def _sample_site(motif: Motif, rng: np.random.Generator) -> np.ndarray:
    """One instance sampled from the PWM, as codes on the motif's own strand, shape (m,)."""
    cum = np.cumsum(motif.pwm(), axis=1)
    u = rng.random(len(motif))
    return (u[:, None] > cum).sum(axis=1).astype(np.uint8)


def _on_strand(codes: np.ndarray, strand: int) -> np.ndarray:
    return codes if strand == 1 else _COMPLEMENT[codes[::-1]]


@dataclass
class _Planted:
    motif: str
    start: int
    strand: int
    kind: Literal["planted", "latent"]
    core_pos: int = -1  # latent sites: the motif position left one base off the consensus
    partner: int = -1  # promoters: start of their planted enhancer, if any


@dataclass
class _Chrom:
    name: str
    codes: np.ndarray  # (L,) uint8
    lower: np.ndarray  # (L,) bool soft mask
    planted: list[_Planted]
    sites: dict[str, Sites] = field(default_factory=dict)


class _Placer:
    """Random non-overlapping placement of intervals on one chromosome."""

    def __init__(self, busy: np.ndarray, rng: np.random.Generator) -> None:
        self.busy = busy
        self.rng = rng

    def free(self, start: int, length: int, pad: int, extra: np.ndarray | None = None) -> bool:
        a, b = start - pad, start + length + pad
        if a < 0 or b > len(self.busy):
            return False
        return not (self.busy[a:b].any() or (extra is not None and extra[a:b].any()))

    def take(self, start: int, length: int, pad: int) -> None:
        self.busy[max(0, start - pad) : start + length + pad] = True

    def place(
        self, length: int, pad: int, lo: int, hi: int, extra: np.ndarray | None = None
    ) -> int | None:
        """Start of a free interval inside [lo, hi), marked busy; None after 200 tries."""
        for _ in range(200):
            start = int(self.rng.integers(lo, max(lo + 1, hi - length)))
            if self.free(start, length, pad, extra):
                self.take(start, length, pad)
                return start
        return None


def _n_runs(size: int, rng: np.random.Generator) -> list[tuple[int, int]]:
    """N runs: a leading gap, internal gaps (one per 5 Mb, at least one), a few short runs."""
    runs = [(0, int(rng.integers(1000, 3000)))]
    for _ in range(max(1, size // 5_000_000)):
        start = int(rng.integers(size // 5, 4 * size // 5))
        runs.append((start, start + int(rng.integers(2000, 6000))))
    for _ in range(3 + size // 1_000_000):
        start = int(rng.integers(size // 10, 9 * size // 10))
        runs.append((start, start + int(rng.integers(1, 50))))
    return runs


def _add_repeats(
    codes: np.ndarray, lower: np.ndarray, families: Sequence[np.ndarray], rng: np.random.Generator
) -> None:
    """Copy diverged fragments of repeat families and microsatellites in; soft-mask them."""
    size = len(codes)
    for fam in families:
        n_copies = int(0.03 * size / min(len(fam), 1500))  # ~3% of the genome per family
        for _ in range(n_copies):
            frag_len = int(rng.integers(min(len(fam), 300), len(fam) + 1))
            f0 = int(rng.integers(0, len(fam) - frag_len + 1))
            frag = fam[f0 : f0 + frag_len].copy()
            mut = rng.random(frag_len) < 0.1  # ~10% divergence from the family consensus
            frag[mut] = rng.integers(0, 4, int(mut.sum()), dtype=np.uint8)
            if rng.random() < 0.5:
                frag = _on_strand(frag, -1)
            start = int(rng.integers(0, size - frag_len))
            codes[start : start + frag_len] = frag
            lower[start : start + frag_len] = True
    units = [np.array(u, dtype=np.uint8) for u in ([1, 0], [0, 0, 3], [2, 0, 3, 1])]  # CA AAT GATC
    for _ in range(size // 20_000):
        unit = units[int(rng.integers(len(units)))]
        reps = int(rng.integers(8, 30))
        run = np.tile(unit, reps)
        start = int(rng.integers(0, size - len(run)))
        codes[start : start + len(run)] = run
        lower[start : start + len(run)] = True


def _build_chrom(
    name: str, ci: int, size: int, seed: int, families: Sequence[np.ndarray], n_latent: int
) -> _Chrom:
    """Background, repeats, N runs and planted sites of one chromosome."""
    rng = _rng(seed, ci, 0)
    codes = rng.integers(0, 4, size, dtype=np.uint8)
    lower = np.zeros(size, dtype=bool)
    _add_repeats(codes, lower, families, _rng(seed, ci, 1))
    busy = np.zeros(size, dtype=bool)
    for a, b in _n_runs(size, _rng(seed, ci, 2)):
        codes[a:b] = _N
        busy[max(0, a - 300) : b + 300] = True
    lower &= codes != _N  # N runs stay upper case
    busy[:_EDGE] = True
    busy[size - _EDGE :] = True
    rng = _rng(seed, ci, 3)
    placer = _Placer(busy, rng)
    planted: list[_Planted] = []
    mb = size / 1e6
    ap1, ets, sp1, tata = (MOTIFS[k] for k in ("ap1", "ets", "sp1", "tata"))

    def plant(motif: Motif, start: int, strand: int, latent: bool = False) -> _Planted:
        site = _sample_site(motif, rng)
        core_pos = -1
        if latent:  # the consensus with one core base off: a near-site a single SNV completes
            site = motif.codes.copy()
            core_pos = int(rng.choice(motif.core))
            site[core_pos] = (site[core_pos] + 1 + rng.integers(3)) % 4
        codes[start : start + len(motif)] = _on_strand(site, strand)
        p = _Planted(motif.name, start, strand, "latent" if latent else "planted", core_pos)
        planted.append(p)
        return p

    def strand() -> int:
        return 1 if rng.random() < 0.5 else -1

    # Promoters first (>= 6 kb apart), half with an enhancer 2-4.5 kb away on a random side.
    promoters = []
    spacing = np.zeros(size, dtype=bool)
    for i in range(int(sp1.per_mb * mb)):
        start = placer.place(len(sp1), _DISTAL_HALF, 0, size, spacing)
        if start is None:
            continue
        spacing[max(0, start - 6000) : start + 6000] = True
        promoters.append(plant(sp1, start, strand()))
        if i % 2 == 0:
            for _ in range(20):
                d = int(rng.integers(2000, 4500)) * (1 if rng.random() < 0.5 else -1)
                e_start = start + d
                if placer.free(e_start, len(ets), _LOCAL_HALF):
                    placer.take(e_start, len(ets), _LOCAL_HALF)
                    promoters[-1].partner = e_start
                    plant(ets, e_start, strand())
                    break
    near_promoter = np.zeros(size, dtype=bool)
    for p in promoters:
        near_promoter[max(0, p.start - 5500) : p.start + 5500] = True
    # Latent enhancers go near promoters without a partner, so creating one boosts distal.
    lonely = [p for p in promoters if p.partner < 0]
    for p in lonely[:n_latent]:
        for _ in range(20):
            e_start = p.start + int(rng.integers(2000, 4500)) * (1 if rng.random() < 0.5 else -1)
            if placer.free(e_start, len(ets), _LOCAL_HALF):
                placer.take(e_start, len(ets), _LOCAL_HALF)
                plant(ets, e_start, strand(), latent=True)
                break
    extra_enhancers = []  # enhancers with no promoter in range
    for _ in range(int(ets.per_mb * mb)):
        start = placer.place(len(ets), _LOCAL_HALF, 0, size, near_promoter)
        if start is not None:
            extra_enhancers.append(plant(ets, start, strand()))
    # Latent promoters go near those enhancers, so creating one makes a tall distal peak.
    for e in extra_enhancers[:n_latent]:
        for _ in range(20):
            p_start = e.start + int(rng.integers(2000, 4500)) * (1 if rng.random() < 0.5 else -1)
            if placer.free(p_start, len(sp1), _DISTAL_HALF, near_promoter):
                placer.take(p_start, len(sp1), _DISTAL_HALF)
                plant(sp1, p_start, strand(), latent=True)
                break
    for motif, pad in ((ap1, _LOCAL_HALF), (tata, _CAGE_LEN)):
        for _ in range(n_latent):
            start = placer.place(len(motif), pad, 0, size)
            if start is not None:
                plant(motif, start, strand(), latent=True)
        for _ in range(int(motif.per_mb * mb)):
            start = placer.place(len(motif), pad, 0, size)
            if start is not None:
                plant(motif, start, strand())
    planted.sort(key=lambda p: p.start)
    return _Chrom(name, codes, lower, planted)


# ---------------------------------------------------------------------------------------------
# Variants
# ---------------------------------------------------------------------------------------------


@dataclass
class _Variant:
    chrom: str
    pos0: int  # 0-based position of the first REF base
    prefix: str  # ID without the running number
    ref: str
    alts: list[str]
    effect: Literal["break", "create", "neutral"]
    motif: str
    track: str
    sad: list[dict[str, float]] = field(default_factory=list)  # one per alt


def _codes_str(codes: np.ndarray) -> str:
    return _UPPER[codes].tobytes().decode()


def variant_effect(codes: np.ndarray, pos0: int, ref: str, alt: str) -> dict[str, float]:
    """True effect of one allele: sum of ``lambda_alt - lambda_ref`` near the variant.

    The sum runs over reference positions within 6 kb of ``pos0`` that align to a position of
    the alternative sequence (bases before and after the variant, the shared leading bases of
    REF and ALT, and every base of a same-length substitution); deleted and inserted bases
    are left out.

    Parameters
    ----------
    codes : np.ndarray, shape (L,), uint8 codes of the reference chromosome
    pos0 : int
        0-based position of the first REF base.
    ref, alt : str
        Alleles as in the VCF.

    Returns
    -------
    dict[str, float]
        Per track name.
    """
    a = max(0, pos0 - _EFFECT_FLANK)
    b = min(len(codes), pos0 + len(ref) + _EFFECT_FLANK)
    ref_seg = codes[a:b]
    p = pos0 - a
    alt_codes = _ENCODE[np.frombuffer(alt.encode(), dtype=np.uint8)]
    alt_seg = np.concatenate([ref_seg[:p], alt_codes, ref_seg[p + len(ref) :]])
    # Map reference positions to alternative positions (-1: no counterpart).
    ref_to_alt = np.arange(len(ref_seg))
    shift = len(alt) - len(ref)
    ref_to_alt[p + len(ref) :] += shift
    if shift:
        shared = 0  # leading bases REF and ALT have in common (the VCF anchor base)
        while shared < min(len(ref), len(alt)) and ref[shared] == alt[shared]:
            shared += 1
        ref_to_alt[p + shared : p + len(ref)] = -1
    lo, hi = max(0, p - _EFFECT_WINDOW), min(len(ref_seg), p + _EFFECT_WINDOW)
    window = np.arange(lo, hi)
    window = window[ref_to_alt[window] >= 0]
    ref_tr, alt_tr = expected_tracks(ref_seg), expected_tracks(alt_seg)
    return {
        t: float(
            alt_tr[t][ref_to_alt[window]].astype(np.float64).sum()
            - ref_tr[t][window].astype(np.float64).sum()
        )
        for t in TRACKS
    }


def _peak_mass(motif: Motif) -> float:
    """Summed expected signal of one fully occupied site on its motif's primary track."""
    if motif.role == "local":
        return motif.local_height * float(_local_kernel(len(motif))[1].sum())
    if motif.role == "oriented":
        return _CAGE_HEIGHT * float(_cage_kernel().sum())
    return _DISTAL_BOOST * float(_distal_kernel(len(motif))[1].sum())


def _choose_variants(chrom: _Chrom, scale: int, rng: np.random.Generator) -> list[_Variant]:
    """Pick breaking, creating and neutral variants and check each one's true effect."""
    codes, name = chrom.codes, chrom.name
    size = len(codes)
    used: set[int] = set()  # variant positions
    used_sites: set[int] = set()  # starts of the planted sites hit: one variant per site
    out: list[_Variant] = []
    occ_at = {
        m: dict(zip(s.start.tolist(), s.occ.tolist(), strict=True)) for m, s in chrom.sites.items()
    }
    # Quiet positions: >= 400 bp from any site, not near N, away from the ends.
    loud = np.zeros(size + 1, dtype=np.int32)
    for s in chrom.sites.values():
        np.add.at(loud, np.clip(s.start - 400, 0, size), 1)
        np.add.at(loud, np.clip(s.start + 420, 0, size), -1)
    quiet = np.cumsum(loud[:size]) == 0
    n_cum = np.concatenate([[0], np.cumsum(codes == _N)])
    idx = np.arange(size)
    quiet &= n_cum[np.minimum(idx + 101, size)] == n_cum[np.maximum(idx - 100, 0)]  # no N +-100
    quiet[:_EDGE] = quiet[size - _EDGE :] = False

    def accept(v: _Variant, threshold: float, site: _Planted | None = None) -> bool:
        """Keep ``v`` if every allele moves its primary track by >= threshold (signed)."""
        if v.pos0 in used or (site is not None and site.start in used_sites):
            return False
        sads = [variant_effect(codes, v.pos0, v.ref, alt) for alt in v.alts]
        signed = {"break": -1.0, "create": 1.0}
        for sad in sads:
            if v.effect == "neutral":
                moved = max(abs(x) for x in sad.values()) <= threshold
            else:
                moved = signed[v.effect] * sad[v.track] >= threshold
            if not moved:
                return False
        v.sad = sads
        used.add(v.pos0)
        if site is not None:
            used_sites.add(site.start)
        out.append(v)
        return True

    def track_of(motif: Motif, strand: int) -> str:
        t = _PRIMARY_TRACK[motif.name]
        return t if t != "cage" else ("cage_plus" if strand == 1 else "cage_minus")

    def snv_alt(ref_code: int, avoid: int | None = None) -> str:
        choices = [b for b in range(4) if b not in (ref_code, avoid)]
        return _BASES[int(rng.choice(choices))]

    def candidates(motif: str, kind: str, **cond: int) -> list[_Planted]:
        ps = [p for p in chrom.planted if p.motif == motif and p.kind == kind]
        if kind == "planted":
            ps = [p for p in ps if occ_at[motif].get(p.start, 0.0) >= 0.8]
        if "partnered" in cond:
            partners = {p.partner for p in chrom.planted if p.partner >= 0}
            ps = [p for p in ps if p.start in partners]
        return [ps[i] for i in rng.permutation(len(ps))]

    def core_base(p: _Planted, j: int) -> int:
        """Genome position of motif position ``j`` of site ``p``."""
        m = len(MOTIFS[p.motif])
        return p.start + j if p.strand == 1 else p.start + m - 1 - j

    # SNVs that break a site: one core base changed.
    for motif_name, n, cond in (
        ("ap1", 2, {}),
        ("ets", 1, {"partnered": 1}),
        ("sp1", 1, {}),
        ("tata", 2, {}),
    ):
        motif = MOTIFS[motif_name]
        kept = 0
        for p in candidates(motif_name, "planted", **cond):
            if kept == n * scale:
                break
            g = core_base(p, int(rng.choice(motif.core)))
            ref = _BASES[codes[g]]
            tr = track_of(motif, p.strand)
            v = _Variant(
                name,
                g,
                f"break_{tr}_{motif_name}",
                ref,
                [snv_alt(codes[g])],
                "break",
                motif_name,
                tr,
            )
            kept += accept(v, 0.3 * _peak_mass(motif), p)
    # SNVs that create a site: the latent near-site's odd core base set to the consensus.
    for motif_name in ("ap1", "ets", "sp1", "tata"):
        motif = MOTIFS[motif_name]
        kept = 0
        for p in candidates(motif_name, "latent"):
            if kept == scale:
                break
            g = core_base(p, p.core_pos)
            want = int(motif.codes[p.core_pos])
            alt = _BASES[want if p.strand == 1 else _COMPLEMENT[want]]
            tr = track_of(motif, p.strand)
            v = _Variant(
                name,
                g,
                f"create_{tr}_{motif_name}",
                _BASES[codes[g]],
                [alt],
                "create",
                motif_name,
                tr,
            )
            kept += accept(v, 0.3 * _peak_mass(motif), p)
    # A multi-allelic record: two alternative bases at one core position of an AP-1 site.
    ap1 = MOTIFS["ap1"]
    for p in candidates("ap1", "planted"):
        g = core_base(p, int(rng.choice(ap1.core)))
        alt1 = snv_alt(codes[g])
        alt2 = snv_alt(codes[g], _ENCODE[ord(alt1)])
        v = _Variant(
            name,
            g,
            "multi_break_local_ap1",
            _BASES[codes[g]],
            sorted([alt1, alt2]),
            "break",
            "ap1",
            "local",
        )
        if accept(v, 0.3 * _peak_mass(ap1), p):
            break
    # Indels: a deletion through an AP-1 site, an insertion of an AP-1 consensus.
    kept = 0
    for p in candidates("ap1", "planted"):
        if kept == scale:
            break
        k = int(rng.integers(3, 21))
        first = core_base(p, int(rng.choice(ap1.core)))  # first deleted base
        anchor = first - int(rng.integers(0, min(k, 4))) - 1
        ref = _codes_str(codes[anchor : anchor + k + 1])
        if "N" in ref:
            continue
        v = _Variant(name, anchor, "del_break_local_ap1", ref, [ref[0]], "break", "ap1", "local")
        kept += accept(v, 0.3 * _peak_mass(ap1), p)

    loud_cum = np.concatenate([[0], np.cumsum(~quiet, dtype=np.int32)])
    quiet_starts = np.flatnonzero(loud_cum[21:] == loud_cum[:-21])  # 21 quiet bases from here

    def quiet_pos() -> int:
        return int(quiet_starts[rng.integers(len(quiet_starts))])

    kept = 0
    for _ in range(50 * scale if len(quiet_starts) else 0):
        if kept == scale:
            break
        g = quiet_pos()
        ref = _BASES[codes[g]]
        alt = ref + _codes_str(_on_strand(ap1.codes, 1 if rng.random() < 0.5 else -1))
        v = _Variant(name, g, "ins_create_local_ap1", ref, [alt], "create", "ap1", "local")
        kept += accept(v, 0.3 * _peak_mass(ap1))
    neutral_max = 0.01 * _peak_mass(ap1)
    for prefix, n in (("neutral_snv", 5), ("neutral_del", 1), ("neutral_ins", 1)):
        kept = 0
        for _ in range(50 * n * scale if len(quiet_starts) else 0):
            if kept == n * scale:
                break
            g = quiet_pos()
            k = int(rng.integers(1, 21))
            ref = _BASES[codes[g]]
            if prefix == "neutral_snv":
                alts = [snv_alt(codes[g])]
            elif prefix == "neutral_del":
                ref = _codes_str(codes[g : g + k + 1])
                alts = [ref[0]]
            else:
                alts = [ref + _codes_str(rng.integers(0, 4, k, dtype=np.uint8))]
            v = _Variant(name, g, prefix, ref, alts, "neutral", ".", ".")
            kept += accept(v, neutral_max)
    return out


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------


def _tmp(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


@contextmanager
def _atomic(paths: Sequence[Path]) -> Iterator[list[Path]]:
    """Yield temporary names in the same folders; move them onto ``paths`` only on success."""
    tmps = [_tmp(p) for p in paths]
    try:
        yield tmps
        for t, p in zip(tmps, paths, strict=True):
            os.replace(t, p)
    finally:
        for t in tmps:
            t.unlink(missing_ok=True)


def _write_text(path: Path, text: str) -> None:
    with _atomic([path]) as (tmp,):
        tmp.write_text(text)


def _fasta_bytes(codes: np.ndarray, lower: np.ndarray, width: int = 60) -> bytes:
    """Sequence lines of one record, ``width`` bases a line, each ending in a newline."""
    chars = np.where(lower, _LOWER[codes], _UPPER[codes])
    n_full = len(chars) // width
    body = np.empty((n_full, width + 1), dtype=np.uint8)
    body[:, :width] = chars[: n_full * width].reshape(n_full, width)
    body[:, width] = ord("\n")
    tail = chars[n_full * width :]
    return body.tobytes() + (tail.tobytes() + b"\n" if len(tail) else b"")


def _pearson(x: np.ndarray, y: np.ndarray) -> float:
    x = x.astype(np.float64) - x.mean()
    y = y.astype(np.float64) - y.mean()
    return float((x * y).sum() / np.sqrt((x * x).sum() * (y * y).sum()))


def _binned(x: np.ndarray, size: int) -> np.ndarray:
    n = len(x) // size * size
    return x[:n].astype(np.float64).reshape(-1, size).sum(axis=1)


def _check_args(out_dir: str | os.PathLike, preset: str, seed: int) -> Path:
    if preset not in PRESETS:
        raise InputError(
            f"unknown simulate preset {preset!r}: choose one of {', '.join(PRESETS)} "
            "(tiny ~1 Mb for the demo, small ~8 Mb, large ~100 Mb for benchmarks)"
        )
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"simulate seed must be a non-negative integer, got {seed!r}")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise InputError(f"simulate output {out} exists and is not a folder: give a folder path")
    out.mkdir(parents=True, exist_ok=True)
    return out


def simulate(
    out_dir: str | os.PathLike,
    preset: Preset = "tiny",
    seed: int = 0,
    write_expected: bool = True,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Path]:
    """Write the synthetic demo dataset into ``out_dir`` (see the module docstring).

    Parameters
    ----------
    out_dir : path
        Folder to write into (created if missing); files already there are replaced.
    preset : {"tiny", "small", "large"}
        Chromosome sizes (:data:`PRESETS`): ~1 Mb, ~8 Mb or ~100 Mb in all.
    seed : int
        Same seed, same bytes.
    write_expected : bool
        Also write the noise-free rates as ``<track>.expected.bw``.
    progress : callable, optional
        Called with a short message as each chromosome and file is done.

    Returns
    -------
    dict[str, Path]
        Written files by key: ``fasta``, ``fai``, one key per track name (and
        ``<track>_expected``), ``vcf``, ``vcf_gz``, ``vcf_tbi``, ``variants_truth``, ``truth``,
        ``regions``, ``regions_predict``, ``manifest``.

    Raises
    ------
    InputError
        For an unknown preset, a negative seed, or an ``out_dir`` that is a file.
    """
    out = _check_args(out_dir, preset, seed)
    seed = int(seed)
    say = progress or (lambda msg: None)
    sizes = dict(zip(CHROMS, PRESETS[preset], strict=True))
    scale = _VARIANT_SCALE[preset]
    fam_rng = _rng(seed, 99)
    families = [fam_rng.integers(0, 4, n, dtype=np.uint8) for n in (300, 1500, 4000)]

    paths = _output_paths(out, write_expected)
    bw_keys = [k for k in paths if k in TRACKS or k.endswith("_expected")]
    paths["manifest"].unlink(missing_ok=True)  # no manifest: the folder is incomplete

    fai_lines: list[str] = []
    variants: list[_Variant] = []
    truth_rows: list[tuple] = []
    predict_rows: list[tuple] = []
    ceiling: dict[str, dict[str, float]] = {}
    n_sites: dict[str, int] = dict.fromkeys(MOTIFS, 0)
    test_chrom = SPLITS["test"][0]
    bw_paths = [paths[k] for k in bw_keys]
    with _atomic([paths["fasta"], *bw_paths]) as (fa_tmp, *bw_tmps):
        writers = {}
        try:
            for key, tmp in zip(bw_keys, bw_tmps, strict=True):
                bw = pyBigWig.open(str(tmp), "w")
                bw.addHeader(list(sizes.items()), maxZooms=0 if key.endswith("_expected") else 10)
                writers[key] = bw
            offset = 0
            with open(fa_tmp, "wb") as fa:
                for ci, (name, size) in enumerate(sizes.items()):
                    chrom = _build_chrom(name, ci, size, seed, families, n_latent=2 * scale)
                    chrom.sites = find_sites(chrom.codes)
                    header = f">{name}\n".encode()
                    fa.write(header)
                    fa.write(_fasta_bytes(chrom.codes, chrom.lower))
                    offset += len(header)
                    fai_lines.append(f"{name}\t{size}\t{offset}\t60\t61\n")
                    offset += size + -(-size // 60)
                    lam = expected_tracks(chrom.codes, chrom.sites)
                    for ti, t in enumerate(TRACKS):
                        counts = _rng(seed, ci, 10 + ti).poisson(lam[t]).astype(np.float32)
                        writers[t].addEntries(name, 0, values=counts, span=1, step=1)
                        if write_expected:
                            writers[f"{t}_expected"].addEntries(
                                name, 0, values=lam[t], span=1, step=1
                            )
                        if name == test_chrom:
                            ceiling[t] = _ceiling(lam[t], counts)
                    truth_rows += _truth_rows(chrom)
                    for m, s in chrom.sites.items():
                        n_sites[m] += int((s.occ >= 0.5).sum())
                    variants += _choose_variants(chrom, scale, _rng(seed, ci, 4))
                    if name == test_chrom:
                        predict_rows = _predict_regions(chrom)
                    say(f"simulated {name} ({size:,} bp)")
        finally:
            for bw in writers.values():
                bw.close()
    _write_text(paths["fai"], "".join(fai_lines))
    say("wrote genome and tracks")

    _write_vcf(paths, variants, sizes, preset, seed)
    _write_variant_truth(paths["variants_truth"], variants)
    truth_rows.sort(key=lambda r: (CHROMS.index(r[0]), r[1], r[3]))
    _write_text(
        paths["truth"],
        "chrom\tstart\tend\tmotif\tstrand\tkind\tscore\toccupancy\tenhancer_input\n"
        + "".join("\t".join(map(str, r)) + "\n" for r in truth_rows),
    )
    _write_text(paths["regions"], _regions_bed(truth_rows, sizes))
    _write_text(
        paths["regions_predict"], "".join("\t".join(map(str, r)) + "\n" for r in predict_rows)
    )
    manifest = _manifest(paths, preset, seed, sizes, write_expected)
    manifest |= {
        "occupied_sites": n_sites,
        "n_variant_records": len(variants),
        "ceiling": {
            "chrom": test_chrom,
            "note": "Pearson r of the expected rate with the Poisson counts: the best any "
            "model can reach",
            "tracks": ceiling,
        },
    }
    _write_text(paths["manifest"], json.dumps(manifest, indent=2) + "\n")
    say(f"wrote {out}")
    return paths


def _output_paths(out: Path, write_expected: bool) -> dict[str, Path]:
    paths = {"fasta": out / "genome.fa", "fai": out / "genome.fa.fai"}
    paths |= {t: out / f"{t}.bw" for t in TRACKS}
    if write_expected:
        paths |= {f"{t}_expected": out / f"{t}.expected.bw" for t in TRACKS}
    return paths | {
        "vcf": out / "variants.vcf",
        "vcf_gz": out / "variants.vcf.gz",
        "vcf_tbi": out / "variants.vcf.gz.tbi",
        "variants_truth": out / "variants_truth.tsv",
        "truth": out / "truth.tsv",
        "regions": out / "regions.bed",
        "regions_predict": out / "regions_predict.bed",
        "manifest": out / "manifest.json",
    }


def _ceiling(lam: np.ndarray, counts: np.ndarray) -> dict[str, float]:
    """Pearson r of the rate with the counts per base and summed in 32-bp and 128-bp bins."""
    out = {"pearson": _pearson(lam, counts)}
    for size in (32, 128):
        out[f"pearson_bin{size}"] = _pearson(_binned(lam, size), _binned(counts, size))
    return {k: round(v, 4) for k, v in out.items()}


def _manifest(
    paths: Mapping[str, Path],
    preset: str,
    seed: int,
    sizes: Mapping[str, int],
    write_expected: bool,
) -> dict:
    return {
        "generator": "genodil.simulate",
        "format": 1,
        "preset": preset,
        "seed": seed,
        "chromosomes": dict(sizes),
        "splits": SPLITS,
        "files": {k: p.name for k, p in paths.items()},
        "tracks": [
            {
                "name": t,
                "path": paths[t].name,
                "expected_path": paths[f"{t}_expected"].name if write_expected else None,
                "strand_pair": STRAND_PAIRS.get(t),
                "background": _BACKGROUND[t],
            }
            for t in TRACKS
        ],
        "motifs": {
            m.name: {"consensus": m.consensus, "role": m.role, "local_height": m.local_height}
            for m in MOTIFS.values()
        },
        "enhancer_range_bp": list(ENHANCER_RANGE),
    }


def _truth_rows(chrom: _Chrom) -> list[tuple]:
    """Rows of truth.tsv: planted and latent sites, and chance sites with occupancy >= 0.05."""
    rows = []
    planted = {(p.motif, p.start, p.strand): p.kind for p in chrom.planted}
    prom, enh = MOTIFS["sp1"], MOTIFS["ets"]
    e_in = enhancer_input(chrom.sites["sp1"], chrom.sites["ets"], len(prom), len(enh))
    e_at = dict(zip(chrom.sites["sp1"].start.tolist(), e_in.tolist(), strict=True))
    seen = set()
    for m, s in chrom.sites.items():
        motif = MOTIFS[m]
        for start, strand, score, occ in zip(
            s.start.tolist(), s.strand.tolist(), s.score.tolist(), s.occ.tolist(), strict=True
        ):
            kind = planted.get((m, start, strand), "chance")
            if kind == "chance" and occ < 0.05:
                continue
            seen.add((m, start, strand))
            e = f"{e_at[start]:.4f}" if m == "sp1" else "."
            rows.append(
                (
                    chrom.name,
                    start,
                    start + len(motif),
                    m,
                    "+" if strand == 1 else "-",
                    kind,
                    f"{score:.4f}",
                    f"{occ:.4f}",
                    e,
                )
            )
    for p in chrom.planted:
        if (p.motif, p.start, p.strand) in seen:
            continue
        motif = MOTIFS[p.motif]
        site = _on_strand(chrom.codes[p.start : p.start + len(motif)], p.strand)
        score = float(motif.log_odds[np.arange(len(motif)), site].sum())
        occ = float(motif.occupancy(score))
        rows.append(
            (
                chrom.name,
                p.start,
                p.start + len(motif),
                p.motif,
                "+" if p.strand == 1 else "-",
                p.kind,
                f"{score:.4f}",
                f"{occ:.4f}",
                ".",
            )
        )
    return rows


def _regions_bed(truth_rows: Sequence[tuple], sizes: Mapping[str, int]) -> str:
    """BED6 of occupied sites (occupancy >= 0.5), centre +-250 bp."""
    lines = []
    for chrom, start, end, motif, strand, _kind, _score, occ, _e in truth_rows:
        if float(occ) < 0.5:
            continue
        centre = (start + end) // 2
        a, b = max(0, centre - 250), min(sizes[chrom], centre + 250)
        lines.append(f"{chrom}\t{a}\t{b}\t{motif}\t{round(float(occ) * 1000)}\t{strand}\n")
    return "".join(lines)


def _predict_regions(chrom: _Chrom) -> list[tuple]:
    """Two regions on the test chromosome: a promoter with an enhancer, and a + strand TATA."""
    rows = []
    size = len(chrom.codes)
    partners = {p.start: p.partner for p in chrom.planted if p.motif == "sp1" and p.partner >= 0}
    for label, width, pick in (
        ("promoter_enhancer", 20_000, lambda p: p.motif == "sp1" and p.start in partners),
        (
            "tata_plus",
            10_000,
            lambda p: p.motif == "tata" and p.kind == "planted" and p.strand == 1,
        ),
    ):
        for p in chrom.planted:
            if not pick(p):
                continue
            a = p.start - width // 2
            if a < _EDGE or a + width > size - _EDGE or (chrom.codes[a : a + width] == _N).any():
                continue
            if any(a < r[2] and r[1] < a + width for r in rows):
                continue
            rows.append((chrom.name, a, a + width, label))
            break
    return sorted(rows, key=lambda r: r[1])


def _write_vcf(
    paths: Mapping[str, Path],
    variants: list[_Variant],
    sizes: Mapping[str, int],
    preset: str,
    seed: int,
) -> None:
    variants.sort(key=lambda v: (CHROMS.index(v.chrom), v.pos0))
    counters: dict[str, int] = {}
    for v in variants:
        counters[v.prefix] = counters.get(v.prefix, 0) + 1
        v.prefix = f"{v.prefix}_{counters[v.prefix]}"  # now the full ID
    head = [
        "##fileformat=VCFv4.2",
        f"##source=genodil.simulate preset={preset} seed={seed}",
        "##reference=genome.fa",
        *(f"##contig=<ID={c},length={n}>" for c, n in sizes.items()),
        *(
            f'##INFO=<ID={key},Number=1,Type=String,Description="{text}">'
            for key, text in (
                ("EFFECT", "Planted effect: break, create or neutral"),
                ("MOTIF", "Motif broken or created (. if neutral)"),
                ("TRACK", "Track that changes most (. if neutral)"),
            )
        ),
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    body = [
        f"{v.chrom}\t{v.pos0 + 1}\t{v.prefix}\t{v.ref}\t{','.join(v.alts)}\t.\tPASS\t"
        f"EFFECT={v.effect};MOTIF={v.motif};TRACK={v.track}"
        for v in variants
    ]
    text = "\n".join(head + body) + "\n"
    _write_text(paths["vcf"], text)
    with _atomic([paths["vcf_gz"], paths["vcf_tbi"]]) as (gz_tmp, tbi_tmp):
        plain = _tmp(paths["vcf"])
        plain.write_text(text)
        try:
            pysam.tabix_compress(str(plain), str(gz_tmp), force=True)
        finally:
            plain.unlink()
        pysam.tabix_index(str(gz_tmp), preset="vcf", force=True, index=str(tbi_tmp))


def _write_variant_truth(path: Path, variants: Sequence[_Variant]) -> None:
    cols = ["chrom", "pos", "id", "ref", "alt", "effect", "motif", "track"]
    lines = ["\t".join(cols + [f"true_sad_{t}" for t in TRACKS])]
    for v in variants:
        for alt, sad in zip(v.alts, v.sad, strict=True):
            vals = [v.chrom, str(v.pos0 + 1), v.prefix, v.ref, alt, v.effect, v.motif, v.track]
            lines.append("\t".join(vals + [f"{sad[t]:.3f}" for t in TRACKS]))
    _write_text(path, "\n".join(lines) + "\n")
