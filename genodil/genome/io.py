"""Open genome files: FASTA (pyfaidx), bigWig (pyBigWig), BED and region strings.

Coordinates are 0-based half-open everywhere inside genodil. Every failure a user can cause
raises :class:`genodil.errors.InputError` with a message naming the file and what to do.
"""

from __future__ import annotations

import logging
import os
import re
from pathlib import Path

import numpy as np

from genodil.errors import InputError
from genodil.genome.encode import N_CODE, encode

__all__ = ["Genome", "parse_region"]

log = logging.getLogger(__name__)

_REGION_RE = re.compile(r"^(?P<chrom>[^:\s]+):(?P<start>[\d,_]+)-(?P<end>[\d,_]+)$")


def parse_region(text: str) -> tuple[str, int, int]:
    """Parse ``chrom:start-end`` (0-based half-open; commas allowed) into a tuple."""
    m = _REGION_RE.match(text.strip())
    if not m:
        raise InputError(
            f"cannot read region {text!r}: write it as chrom:start-end, e.g. IV:0-500000 "
            "(0-based, end exclusive)"
        )
    start = int(m["start"].replace(",", "").replace("_", ""))
    end = int(m["end"].replace(",", "").replace("_", ""))
    if end <= start:
        raise InputError(f"region {text!r} has end <= start; the end must be larger")
    return m["chrom"], start, end


class Genome:
    """Random access to a reference genome as uint8 base codes.

    The pyfaidx handle is opened lazily on first use in each process, so a Genome can be
    pickled to DataLoader workers.

    Parameters
    ----------
    path : str or Path
        FASTA file (plain or bgzipped with a .fai/.gzi index). A missing .fai is built.
    in_memory : bool or None
        Hold the whole genome as uint8 codes (1 byte per base). ``None`` chooses it
        automatically when the genome is smaller than ``in_memory_max_bp``.
    in_memory_max_bp : int
        Size threshold for the automatic choice.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        in_memory: bool | None = None,
        in_memory_max_bp: int = 200_000_000,
    ) -> None:
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(f"FASTA file {self.path} does not exist: check the path")
        self.chrom_sizes = self._read_sizes()
        total = sum(self.chrom_sizes.values())
        self.in_memory = total <= in_memory_max_bp if in_memory is None else bool(in_memory)
        self._fasta = None
        self._codes: dict[str, np.ndarray] | None = None

    def _read_sizes(self) -> dict[str, int]:
        fai = Path(str(self.path) + ".fai")
        if not fai.exists():
            log.warning("FASTA index %s not found: building it", fai)
            self._open()
        sizes: dict[str, int] = {}
        with open(fai) as fh:
            for lineno, line in enumerate(fh, 1):
                fields = line.rstrip("\n").split("\t")
                if len(fields) < 2 or not fields[1].isdigit():
                    raise InputError(
                        f"{fai}, line {lineno}: not a FASTA index line; delete {fai} so "
                        "genodil rebuilds it"
                    )
                sizes[fields[0]] = int(fields[1])
        if not sizes:
            raise InputError(f"{self.path} holds no sequences: is it a FASTA file?")
        return sizes

    def _open(self):
        if self._fasta is None:
            import pyfaidx

            try:
                self._fasta = pyfaidx.Fasta(
                    str(self.path), as_raw=True, sequence_always_upper=False, rebuild=False
                )
            except (pyfaidx.FastaIndexingError, pyfaidx.UnsupportedCompressionFormat) as e:
                raise InputError(
                    f"cannot index FASTA {self.path}: {e}. Check that it is a FASTA file "
                    "(bgzip, not gzip, if compressed) with lines of equal length"
                ) from e
            except PermissionError as e:
                raise InputError(
                    f"cannot write the index of {self.path} ({e}); run `samtools faidx "
                    f"{self.path}` where you may write, or copy the FASTA"
                ) from e
        return self._fasta

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_fasta"] = None
        return state

    @property
    def chroms(self) -> list[str]:
        """Chromosome names in FASTA order."""
        return list(self.chrom_sizes)

    def check_chrom(self, chrom: str) -> int:
        """Return the length of ``chrom`` or raise a clear error if the FASTA lacks it."""
        try:
            return self.chrom_sizes[chrom]
        except KeyError:
            names = ", ".join(list(self.chrom_sizes)[:10])
            hint = ""
            alt = chrom[3:] if chrom.startswith("chr") else "chr" + chrom
            if alt in self.chrom_sizes:
                hint = f" (the FASTA calls it {alt!r}: add or strip the 'chr' prefix)"
            raise InputError(
                f"chromosome {chrom!r} is not in FASTA {self.path}{hint}; it has: {names}"
            ) from None

    def _load_codes(self) -> dict[str, np.ndarray]:
        if self._codes is None:
            fa = self._open()
            self._codes = {c: encode(fa[c][:]) for c in self.chrom_sizes}
        return self._codes

    def fetch(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Base codes of ``chrom:start-end`` (0-based half-open), padded with N past the ends.

        Returns
        -------
        np.ndarray, shape (end - start,), dtype uint8, values 0..4
        """
        size = self.check_chrom(chrom)
        if end < start:
            raise InputError(f"region {chrom}:{start}-{end} has end < start")
        lo, hi = max(start, 0), min(end, size)
        out = np.full(end - start, N_CODE, dtype=np.uint8)
        if hi > lo:
            if self.in_memory:
                out[lo - start : hi - start] = self._load_codes()[chrom][lo:hi]
            else:
                out[lo - start : hi - start] = encode(self._open()[chrom][lo:hi])
        return out
