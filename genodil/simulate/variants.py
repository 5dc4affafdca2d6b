"""Variants: the true effect of an allele, and the breaking, creating and neutral variants."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from genodil.simulate.genome import (
    _EDGE,
    _EFFECT_FLANK,
    _EFFECT_WINDOW,
    _Chrom,
    _on_strand,
    _Planted,
)
from genodil.simulate.motifs import (
    _BASES,
    _COMPLEMENT,
    _ENCODE,
    _N,
    _PRIMARY_TRACK,
    _UPPER,
    MOTIFS,
    Motif,
)
from genodil.simulate.tracks import TRACKS, _longrange_mass, _peak_mass, expected_tracks

__all__ = ["variant_effect"]


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
    distance: int = -1  # enhancer breaks: distance (bp) to the paired promoter

    @property
    def vclass(self) -> str:
        """Variant class: snv_break, snv_create, enhancer_break, indel or neutral."""
        kind = self.prefix.split("_")
        if kind[0] == "neutral":
            return "neutral"
        if kind[0] in ("del", "ins"):
            return "indel"
        if self.track == "longrange":
            return "enhancer_break"
        return "snv_create" if self.effect == "create" else "snv_break"


def _codes_str(codes: np.ndarray) -> str:
    return _UPPER[codes].tobytes().decode()


def variant_effect(codes: np.ndarray, pos0: int, ref: str, alt: str) -> dict[str, float]:
    """True effect of one allele: sum of ``lambda_alt - lambda_ref`` near the variant.

    The sum runs over reference positions within 9 kb of ``pos0``, which holds every base a
    variant can change (the reach of the ``longrange`` track), that align to a position of
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


def _quiet_mask(chrom: _Chrom) -> np.ndarray:
    """Positions >= 400 bp from any site, not within 100 bp of N, away from the ends."""
    codes = chrom.codes
    size = len(codes)
    loud = np.zeros(size + 1, dtype=np.int32)
    for s in chrom.sites.values():
        np.add.at(loud, np.clip(s.start - 400, 0, size), 1)
        np.add.at(loud, np.clip(s.start + 420, 0, size), -1)
    quiet = np.cumsum(loud[:size]) == 0
    n_cum = np.concatenate([[0], np.cumsum(codes == _N)])
    idx = np.arange(size)
    quiet &= n_cum[np.minimum(idx + 101, size)] == n_cum[np.maximum(idx - 100, 0)]  # no N +-100
    quiet[:_EDGE] = quiet[size - _EDGE :] = False
    return quiet


class _VariantPicker:
    """Picks breaking, creating and neutral variants of one chromosome.

    It checks each one's true effect; at most one variant per position and per planted site.
    """

    def __init__(self, chrom: _Chrom, scale: int, rng: np.random.Generator) -> None:
        self.chrom = chrom
        self.codes = chrom.codes
        self.scale = scale
        self.rng = rng
        self.used: set[int] = set()  # variant positions
        self.used_sites: set[int] = set()  # starts of the planted sites hit
        self.out: list[_Variant] = []
        self.occ_at = {
            m: dict(zip(s.start.tolist(), s.occ.tolist(), strict=True))
            for m, s in chrom.sites.items()
        }
        quiet = _quiet_mask(chrom)
        loud_cum = np.concatenate([[0], np.cumsum(~quiet, dtype=np.int32)])
        self.quiet_starts = np.flatnonzero(loud_cum[21:] == loud_cum[:-21])  # 21 quiet bases

    def pick(self) -> list[_Variant]:
        """All variants of the chromosome, in the order they were accepted."""
        self.break_snvs()
        self.create_snvs()
        self.multi_allelic()
        self.deletions()
        self.insertions()
        self.neutral()
        self.enhancer_breaks()
        return self.out

    def accept(self, v: _Variant, threshold: float, site: _Planted | None = None) -> bool:
        """Keep ``v`` if every allele moves its primary track by >= threshold (signed)."""
        if v.pos0 in self.used or (site is not None and site.start in self.used_sites):
            return False
        sads = [variant_effect(self.codes, v.pos0, v.ref, alt) for alt in v.alts]
        signed = {"break": -1.0, "create": 1.0}
        for sad in sads:
            if v.effect == "neutral":
                moved = max(abs(x) for x in sad.values()) <= threshold
            else:
                moved = signed[v.effect] * sad[v.track] >= threshold
            if not moved:
                return False
        v.sad = sads
        self.used.add(v.pos0)
        if site is not None:
            self.used_sites.add(site.start)
        self.out.append(v)
        return True

    @staticmethod
    def track_of(motif: Motif, strand: int) -> str:
        t = _PRIMARY_TRACK[motif.name]
        return t if t != "cage" else ("cage_plus" if strand == 1 else "cage_minus")

    def snv_alt(self, ref_code: int, avoid: int | None = None) -> str:
        choices = [b for b in range(4) if b not in (ref_code, avoid)]
        return _BASES[int(self.rng.choice(choices))]

    def candidates(self, motif: str, kind: str, partnered: bool = False) -> list[_Planted]:
        """Planted (occupancy >= 0.8) or latent sites of ``motif``, in random order."""
        planted = self.chrom.planted
        ps = [p for p in planted if p.motif == motif and p.kind == kind]
        if kind == "planted":
            ps = [p for p in ps if self.occ_at[motif].get(p.start, 0.0) >= 0.8]
        if partnered:
            partners = {p.partner for p in planted if p.partner >= 0}
            ps = [p for p in ps if p.start in partners]
        return [ps[i] for i in self.rng.permutation(len(ps))]

    @staticmethod
    def core_base(p: _Planted, j: int) -> int:
        """Genome position of motif position ``j`` of site ``p``."""
        m = len(MOTIFS[p.motif])
        return p.start + j if p.strand == 1 else p.start + m - 1 - j

    def break_snvs(self) -> None:
        """SNVs that break a site: one core base changed."""
        codes, name = self.codes, self.chrom.name
        for motif_name, n, partnered in (
            ("ap1", 2, False),
            ("ets", 1, True),
            ("sp1", 1, False),
            ("tata", 2, False),
        ):
            motif = MOTIFS[motif_name]
            kept = 0
            for p in self.candidates(motif_name, "planted", partnered):
                if kept == n * self.scale:
                    break
                g = self.core_base(p, int(self.rng.choice(motif.core)))
                tr = self.track_of(motif, p.strand)
                alts = [self.snv_alt(codes[g])]
                prefix = f"break_{tr}_{motif_name}"
                v = _Variant(name, g, prefix, _BASES[codes[g]], alts, "break", motif_name, tr)
                kept += self.accept(v, 0.3 * _peak_mass(motif), p)

    def create_snvs(self) -> None:
        """SNVs that create a site: the latent near-site's odd core base set to the consensus."""
        codes, name = self.codes, self.chrom.name
        for motif_name in ("ap1", "ets", "sp1", "tata"):
            motif = MOTIFS[motif_name]
            kept = 0
            for p in self.candidates(motif_name, "latent"):
                if kept == self.scale:
                    break
                g = self.core_base(p, p.core_pos)
                want = int(motif.codes[p.core_pos])
                alt = _BASES[want if p.strand == 1 else _COMPLEMENT[want]]
                tr = self.track_of(motif, p.strand)
                prefix = f"create_{tr}_{motif_name}"
                v = _Variant(name, g, prefix, _BASES[codes[g]], [alt], "create", motif_name, tr)
                kept += self.accept(v, 0.3 * _peak_mass(motif), p)

    def multi_allelic(self) -> None:
        """A multi-allelic record: two alternative bases at one core position of an AP-1 site."""
        codes, ap1 = self.codes, MOTIFS["ap1"]
        for p in self.candidates("ap1", "planted"):
            g = self.core_base(p, int(self.rng.choice(ap1.core)))
            alt1 = self.snv_alt(codes[g])
            alt2 = self.snv_alt(codes[g], _ENCODE[ord(alt1)])
            alts = sorted([alt1, alt2])
            ref = _BASES[codes[g]]
            v = _Variant(
                self.chrom.name, g, "multi_break_local_ap1", ref, alts, "break", "ap1", "local"
            )
            if self.accept(v, 0.3 * _peak_mass(ap1), p):
                break

    def deletions(self) -> None:
        """Deletions of 3-20 bp through a core base of an AP-1 site."""
        rng, ap1 = self.rng, MOTIFS["ap1"]
        kept = 0
        for p in self.candidates("ap1", "planted"):
            if kept == self.scale:
                break
            k = int(rng.integers(3, 21))
            first = self.core_base(p, int(rng.choice(ap1.core)))  # first deleted base
            anchor = first - int(rng.integers(0, min(k, 4))) - 1
            ref = _codes_str(self.codes[anchor : anchor + k + 1])
            if "N" in ref:
                continue
            prefix = "del_break_local_ap1"
            v = _Variant(self.chrom.name, anchor, prefix, ref, [ref[0]], "break", "ap1", "local")
            kept += self.accept(v, 0.3 * _peak_mass(ap1), p)

    def quiet_pos(self) -> int:
        return int(self.quiet_starts[self.rng.integers(len(self.quiet_starts))])

    def insertions(self) -> None:
        """Insertions of an AP-1 consensus at quiet positions."""
        ap1 = MOTIFS["ap1"]
        kept = 0
        for _ in range(50 * self.scale if len(self.quiet_starts) else 0):
            if kept == self.scale:
                break
            g = self.quiet_pos()
            ref = _BASES[self.codes[g]]
            strand = 1 if self.rng.random() < 0.5 else -1
            alt = ref + _codes_str(_on_strand(ap1.codes, strand))
            prefix = "ins_create_local_ap1"
            v = _Variant(self.chrom.name, g, prefix, ref, [alt], "create", "ap1", "local")
            kept += self.accept(v, 0.3 * _peak_mass(ap1))

    def neutral(self) -> None:
        """Neutral SNVs, deletions and insertions of 1-20 bp at quiet positions."""
        codes, rng = self.codes, self.rng
        neutral_max = 0.01 * _peak_mass(MOTIFS["ap1"])
        for prefix, n in (("neutral_snv", 5), ("neutral_del", 1), ("neutral_ins", 1)):
            kept = 0
            for _ in range(50 * n * self.scale if len(self.quiet_starts) else 0):
                if kept == n * self.scale:
                    break
                g = self.quiet_pos()
                k = int(rng.integers(1, 21))
                ref = _BASES[codes[g]]
                if prefix == "neutral_snv":
                    alts = [self.snv_alt(codes[g])]
                elif prefix == "neutral_del":
                    ref = _codes_str(codes[g : g + k + 1])
                    alts = [ref[0]]
                else:
                    alts = [ref + _codes_str(rng.integers(0, 4, k, dtype=np.uint8))]
                v = _Variant(self.chrom.name, g, prefix, ref, alts, "neutral", ".", ".")
                kept += self.accept(v, neutral_max)

    def enhancer_breaks(self) -> None:
        """SNVs at a core base of the enhancer of a controlled longrange pair."""
        codes, enh, n = self.codes, MOTIFS["gata"], 12 * self.scale
        pairs = [
            p
            for p in self.chrom.planted
            if p.motif == "gata"
            and self.occ_at["gata"].get(p.start, 0.0) >= 0.8
            and self.occ_at["nfy"].get(p.pair, 0.0) >= 0.5
        ]
        kept = 0
        for i in self.rng.permutation(len(pairs)):
            if kept == n:
                break
            p = pairs[int(i)]
            g = self.core_base(p, int(self.rng.choice(enh.core)))
            alts = [self.snv_alt(codes[g])]
            ref, prefix = _BASES[codes[g]], "break_longrange_gata"
            v = _Variant(self.chrom.name, g, prefix, ref, alts, "break", "gata", "longrange")
            v.distance = p.distance
            mass = self.occ_at["nfy"][p.pair] * _longrange_mass(p.distance)
            kept += self.accept(v, 0.3 * mass, p)


def _choose_variants(chrom: _Chrom, scale: int, rng: np.random.Generator) -> list[_Variant]:
    """Pick breaking, creating and neutral variants and check each one's true effect."""
    return _VariantPicker(chrom, scale, rng).pick()
