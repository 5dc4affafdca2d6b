"""Building a chromosome: random background, repeats, N runs and planted motif sites."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from genodil.simulate.motifs import _COMPLEMENT, _N, MOTIFS, Motif
from genodil.simulate.tracks import (
    _CAGE_LEN,
    _DISTAL_HALF,
    _LOCAL_HALF,
    LONGRANGE_DISTANCES,
    LONGRANGE_MAX,
    Sites,
)

# Truth SAD: aligned reference positions within this many bp of a variant, which covers every
# base a variant can change (a longrange peak 8.5 kb away, plus its half-width and the motif).
_EFFECT_WINDOW = LONGRANGE_MAX + 500
_EFFECT_FLANK = 2 * _EFFECT_WINDOW  # sequence recomputed around a variant (covers the reach)
_EDGE = 13_000  # variants and regions keep this far from chromosome ends


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
    pair: int = -1  # controlled longrange pair: start of the other site
    distance: int = -1  # controlled longrange pair: promoter-enhancer distance (bp)


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


class _ChromBuilder:
    """Plants motif sites into one chromosome's codes, keeping them apart."""

    def __init__(self, codes: np.ndarray, busy: np.ndarray, rng: np.random.Generator) -> None:
        self.codes = codes
        self.size = len(codes)
        self.rng = rng
        self.placer = _Placer(busy, rng)
        self.planted: list[_Planted] = []

    def plant(self, motif: Motif, start: int, strand: int, latent: bool = False) -> _Planted:
        """Write a site sampled from the PWM (or a latent near-site) at ``start``."""
        rng = self.rng
        site = _sample_site(motif, rng)
        core_pos = -1
        if latent:  # the consensus with one core base off: a near-site a single SNV completes
            site = motif.codes.copy()
            core_pos = int(rng.choice(motif.core))
            site[core_pos] = (site[core_pos] + 1 + rng.integers(3)) % 4
        self.codes[start : start + len(motif)] = _on_strand(site, strand)
        p = _Planted(motif.name, start, strand, "latent" if latent else "planted", core_pos)
        self.planted.append(p)
        return p

    def strand(self) -> int:
        return 1 if self.rng.random() < 0.5 else -1

    def partner_start(
        self, anchor: int, length: int, pad: int, extra: np.ndarray | None = None
    ) -> int | None:
        """A free start 2-4.5 kb from ``anchor`` on a random side, marked busy; None if none."""
        for _ in range(20):
            start = anchor + int(self.rng.integers(2000, 4500)) * (
                1 if self.rng.random() < 0.5 else -1
            )
            if self.placer.free(start, length, pad, extra):
                self.placer.take(start, length, pad)
                return start
        return None

    def promoters(self, n: int) -> list[_Planted]:
        """Promoters (>= 6 kb apart), half with an enhancer 2-4.5 kb away on a random side."""
        sp1, ets = MOTIFS["sp1"], MOTIFS["ets"]
        promoters = []
        spacing = np.zeros(self.size, dtype=bool)
        for i in range(n):
            start = self.placer.place(len(sp1), _DISTAL_HALF, 0, self.size, spacing)
            if start is None:
                continue
            spacing[max(0, start - 6000) : start + 6000] = True
            promoters.append(self.plant(sp1, start, self.strand()))
            if i % 2 == 0:
                e_start = self.partner_start(start, len(ets), _LOCAL_HALF)
                if e_start is not None:
                    promoters[-1].partner = e_start
                    self.plant(ets, e_start, self.strand())
        return promoters

    def enhancers(self, promoters: Sequence[_Planted], n: int, n_latent: int) -> None:
        """Plant latent enhancers near lonely promoters, and ``n`` enhancers away from promoters.

        Latent promoters go near the first ``n_latent`` of those ``n`` enhancers.
        """
        sp1, ets = MOTIFS["sp1"], MOTIFS["ets"]
        near_promoter = np.zeros(self.size, dtype=bool)
        for p in promoters:
            near_promoter[max(0, p.start - 5500) : p.start + 5500] = True
        # Latent enhancers go near promoters without a partner, so creating one boosts distal.
        for p in [p for p in promoters if p.partner < 0][:n_latent]:
            e_start = self.partner_start(p.start, len(ets), _LOCAL_HALF)
            if e_start is not None:
                self.plant(ets, e_start, self.strand(), latent=True)
        extra = []  # enhancers with no promoter in range
        for _ in range(n):
            start = self.placer.place(len(ets), _LOCAL_HALF, 0, self.size, near_promoter)
            if start is not None:
                extra.append(self.plant(ets, start, self.strand()))
        # Latent promoters go near those enhancers, so creating one makes a tall distal peak.
        for e in extra[:n_latent]:
            p_start = self.partner_start(e.start, len(sp1), _DISTAL_HALF, near_promoter)
            if p_start is not None:
                self.plant(sp1, p_start, self.strand(), latent=True)

    def scattered(self, motif: Motif, pad: int, n: int, n_latent: int) -> None:
        """``n_latent`` latent then ``n`` planted sites anywhere free."""
        for latent, count in ((True, n_latent), (False, n)):
            for _ in range(count):
                start = self.placer.place(len(motif), pad, 0, self.size)
                if start is not None:
                    self.plant(motif, start, self.strand(), latent=latent)

    def longrange_pairs(self, n: int, n_lonely: int = 0) -> None:
        """Plant up to ``n`` isolated promoter-enhancer pairs at controlled distances.

        Each ``nfy`` promoter gets one ``gata`` enhancer on a random side, at a distance
        cycling through :data:`LONGRANGE_DISTANCES`. No other pair's enhancer lies within
        :data:`LONGRANGE_MAX` of a pair's promoter, so each enhancer drives only its own.
        Then up to ``n_lonely`` ``nfy`` promoters with no planted enhancer in reach: without
        them every promoter has its enhancer, and the training data cannot tell a promoter's
        own signal from the part its enhancer causes.
        """
        prom, enh = MOTIFS["nfy"], MOTIFS["gata"]
        reach = LONGRANGE_MAX + 50
        no_prom = np.zeros(self.size, dtype=bool)  # within reach of a planted enhancer
        no_enh = np.zeros(self.size, dtype=bool)  # within reach of a planted promoter
        for i in range(n):
            d = LONGRANGE_DISTANCES[i % len(LONGRANGE_DISTANCES)]
            for _ in range(200):
                p_start = int(self.rng.integers(0, self.size - len(prom)))
                e_start = p_start + d * self.strand()  # centres d +- 0.5 bp apart
                if self.placer.free(p_start, len(prom), _DISTAL_HALF, no_prom) and (
                    self.placer.free(e_start, len(enh), _LOCAL_HALF, no_enh)
                ):
                    self.placer.take(p_start, len(prom), _DISTAL_HALF)
                    self.placer.take(e_start, len(enh), _LOCAL_HALF)
                    no_enh[max(0, p_start - reach) : p_start + reach] = True
                    no_prom[max(0, e_start - reach) : e_start + reach] = True
                    p = self.plant(prom, p_start, self.strand())
                    e = self.plant(enh, e_start, self.strand())
                    p.pair, e.pair, p.distance, e.distance = e_start, p_start, d, d
                    break
        for _ in range(n_lonely):
            start = self.placer.place(len(prom), _DISTAL_HALF, 0, self.size, no_prom)
            if start is not None:
                self.plant(prom, start, self.strand())


def _build_chrom(
    name: str,
    ci: int,
    size: int,
    seed: int,
    families: Sequence[np.ndarray],
    n_latent: int,
    lonely_share: float = 0.0,
) -> _Chrom:
    """Background, repeats, N runs and planted sites of one chromosome.

    ``lonely_share``: enhancer-less ``nfy`` promoters per controlled long-range pair.
    """
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
    build = _ChromBuilder(codes, busy, _rng(seed, ci, 3))
    mb = size / 1e6
    promoters = build.promoters(int(MOTIFS["sp1"].per_mb * mb))
    build.enhancers(promoters, int(MOTIFS["ets"].per_mb * mb), n_latent)
    for motif, pad in ((MOTIFS["ap1"], _LOCAL_HALF), (MOTIFS["tata"], _CAGE_LEN)):
        build.scattered(motif, pad, int(motif.per_mb * mb), n_latent)
    build.rng = build.placer.rng = _rng(seed, ci, 5)  # a new stream: the sites above stay put
    n_pairs = int(MOTIFS["nfy"].per_mb * mb)
    build.longrange_pairs(n_pairs, round(lonely_share * n_pairs))
    build.planted.sort(key=lambda p: p.start)
    return _Chrom(name, codes, lower, build.planted)
