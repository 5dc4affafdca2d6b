"""Planted motifs: base codes, position weight matrices and the occupancy of a site."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import numpy as np

__all__ = ["MIN_OCC", "MOTIFS", "Motif"]

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


@dataclass(frozen=True)
class Motif:
    """A transcription-factor-like motif.

    Parameters
    ----------
    name : str
    consensus : str
        Upper-case letters are core positions (consensus probability 0.99), lower-case letters
        flank positions (0.6); the other bases share the rest equally.
    role : {"local", "enhancer", "promoter", "oriented", "lr_enhancer", "lr_promoter"}
        ``lr_*`` motifs drive the ``longrange`` track and are planted only as controlled pairs.
    local_height : float
        Peak height on the ``local`` track at occupancy 1.
    per_mb : float
        Planted sites per Mb (promoters: half of them get an enhancer 2-4.5 kb away; ``lr_*``
        motifs: controlled pairs per Mb).
    """

    name: str
    consensus: str
    role: Literal["local", "enhancer", "promoter", "oriented", "lr_enhancer", "lr_promoter"]
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
        Motif("gata", "cAGATAAGCAg", "lr_enhancer", 12.0, 25.0),
        Motif("nfy", "aCCAATCAGCg", "lr_promoter", 20.0, 25.0),
    )
}
_PRIMARY_TRACK = {
    "ap1": "local",
    "ets": "distal",
    "sp1": "distal",
    "tata": "cage",
    "gata": "longrange",
    "nfy": "longrange",
}
