"""Open genome files: FASTA (pyfaidx), bigWig headers (pyBigWig), BED and region strings.

Coordinates are 0-based half-open everywhere inside genodil. Every failure a user can cause
raises :class:`genodil.errors.InputError` with a message naming the file and what to do.

Chromosome names: the FASTA names are the names genodil uses (in splits, BED files and window
tables). A bigWig may spell them differently (``chr1`` against ``1``); ``chrom_alias`` says how
a FASTA name becomes a bigWig name (:func:`alias_chrom`), and :func:`check_chrom_agreement`
checks every bigWig against the FASTA once, raising one error that lists all mismatches.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

from genodil.errors import InputError
from genodil.genome.encode import N_CODE, encode
from genodil.outputs import atomic_output

__all__ = [
    "CHROM_ALIASES",
    "Genome",
    "alias_chrom",
    "bigwig_chrom_sizes",
    "check_chrom_agreement",
    "check_file",
    "fasta_compression",
    "parse_region",
    "read_bed",
]

log = logging.getLogger(__name__)

ChromAlias = Literal["none", "add_chr", "strip_chr"]
CHROM_ALIASES = ("none", "add_chr", "strip_chr")

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


def check_file(path: str | os.PathLike, what: str) -> Path:
    """Return ``path`` as a Path, or raise InputError if it is not an existing file.

    Parameters
    ----------
    path : str or PathLike
    what : str
        What the file is, for the message (``"FASTA"``, ``"bigWig of track 'dnase'"``).
    """
    p = Path(path)
    if not p.exists():
        raise InputError(
            f"{what} file {p} does not exist: check the path (relative paths in a "
            "config resolve against the config file's folder)"
        )
    if not p.is_file():
        raise InputError(f"{what} path {p} is not a file")
    return p


def alias_chrom(name: str, alias: ChromAlias) -> str:
    """Map a FASTA chromosome name to the name another file uses.

    Parameters
    ----------
    name : str
        Name in the FASTA.
    alias : {"none", "add_chr", "strip_chr"}
        ``add_chr`` turns ``1`` into ``chr1`` (names already starting with ``chr`` stay);
        ``strip_chr`` turns ``chr1`` into ``1``.
    """
    if alias == "none":
        return name
    if alias == "add_chr":
        return name if name.startswith("chr") else "chr" + name
    if alias == "strip_chr":
        return name[3:] if name.startswith("chr") and len(name) > 3 else name
    raise ValueError(f"chrom_alias must be one of {CHROM_ALIASES}, not {alias!r}")


def bigwig_chrom_sizes(path: str | os.PathLike, what: str = "bigWig") -> dict[str, int]:
    """Chromosome names and lengths from a bigWig header (the file is closed again).

    Raises
    ------
    InputError
        If the file is missing or is not a bigWig.
    """
    import pyBigWig

    p = check_file(path, what)
    try:
        bw = pyBigWig.open(str(p))
    except RuntimeError:
        bw = None
    if bw is None or not bw.isBigWig():
        raise InputError(
            f"{what} file {p} is not a readable bigWig: convert bedGraph or wig files with "
            "UCSC bedGraphToBigWig / wigToBigWig first"
        )
    try:
        return dict(bw.chroms())
    finally:
        bw.close()


def _suggest_alias(fasta_names: Iterable[str], other_names: Iterable[str]) -> str | None:
    fasta_names, other = list(fasta_names), set(other_names)
    for alias in ("add_chr", "strip_chr"):
        if any(alias_chrom(c, alias) != c for c in fasta_names) and all(
            alias_chrom(c, alias) in other for c in fasta_names
        ):
            return alias
    return None


def check_chrom_agreement(
    fasta: str | os.PathLike,
    fasta_sizes: Mapping[str, int],
    others: Mapping[str, Mapping[str, int]],
    chroms: Iterable[str],
    chrom_alias: ChromAlias = "none",
) -> None:
    """Check that every other file has the chromosomes used, with the FASTA's lengths.

    Parameters
    ----------
    fasta : path
        The FASTA, for the message.
    fasta_sizes : mapping
        FASTA chromosome name -> length.
    others : mapping
        File path -> its chromosome sizes (e.g. from :func:`bigwig_chrom_sizes`).
    chroms : iterable of str
        FASTA names of the chromosomes used.
    chrom_alias : {"none", "add_chr", "strip_chr"}
        How a FASTA name maps to a name in the other files.

    Raises
    ------
    InputError
        One error listing, per file, the missing chromosomes and the length mismatches,
        with the ``chrom_alias`` setting that fixes a ``chr`` prefix difference.
    """
    chroms = list(chroms)
    problems: list[str] = []
    fixes: set[str] = set()
    for path, sizes in others.items():
        missing, wrong_len = [], []
        for c in chroms:
            name = alias_chrom(c, chrom_alias)
            if name not in sizes:
                missing.append(c if name == c else f"{c} (as {name})")
            elif sizes[name] != fasta_sizes[c]:
                wrong_len.append(f"{name}: {sizes[name]:,} bp vs {fasta_sizes[c]:,} in the FASTA")
        if not missing and not wrong_len:
            continue
        lines = [f"  {path}:"]
        if missing:
            shown = ", ".join(missing[:8]) + (
                f" and {len(missing) - 8} more" if len(missing) > 8 else ""
            )
            have = ", ".join(list(sizes)[:8]) + (" ..." if len(sizes) > 8 else "")
            lines.append(f"    lacks {shown}; it has {have}")
            fix = _suggest_alias(chroms, sizes)
            if fix is not None:
                fixes.add(fix)
        if wrong_len:
            lines.append("    different lengths (another assembly?): " + "; ".join(wrong_len[:5]))
        problems.append("\n".join(lines))
    if not problems:
        return
    if fixes:
        hint = (
            f"The names differ only by a 'chr' prefix: set data.chrom_alias: {min(fixes)} "
            "(it maps FASTA names to bigWig names)."
        )
    else:
        hint = (
            "Use files from the same assembly, or list the chromosomes to use in data.chroms "
            "(chrom_alias: add_chr / strip_chr fixes a 'chr' prefix difference)."
        )
    raise InputError(
        f"chromosomes of FASTA {fasta} do not agree with other files "
        f"(chrom_alias: {chrom_alias}):\n" + "\n".join(problems) + "\n" + hint
    )


def read_bed(
    path: str | os.PathLike,
    what: str = "BED",
    chrom_sizes: Mapping[str, int] | None = None,
    within: Mapping[str, int] | None = None,
) -> pd.DataFrame:
    """Read the first three columns of a BED file (plus ``name`` when present).

    Comment, ``track`` and ``browser`` lines are skipped. With ``chrom_sizes``, rows on
    chromosomes that are not in it are dropped (logged); if no row is left, that is an error
    naming the mismatch.

    Parameters
    ----------
    path : path
    what : str
        What the file is, for messages.
    chrom_sizes : mapping, optional
        Chromosomes known to the FASTA.
    within : mapping, optional
        Chromosome sizes every row must fit: a row on another chromosome, or starting at or
        past its end, is an error naming the line.

    Returns
    -------
    pd.DataFrame with columns chrom (str), start, end (int64), name (str, "" when absent).

    Raises
    ------
    InputError
        Missing or empty file, fewer than three columns, non-integer coordinates, start > end
        or negative start (with the line number).
    """
    p = check_file(path, what)
    chroms, starts, ends, names = [], [], [], []
    with open(p) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip() or line.startswith(("#", "track", "browser")):
                continue
            fields = line.rstrip("\n\r").split("\t")
            if len(fields) < 3:
                fields = line.split()
            if len(fields) < 3:
                raise InputError(
                    f"{what} {p}, line {lineno}: needs at least 3 tab-separated columns "
                    f"(chrom, start, end), got {line.strip()!r}"
                )
            try:
                start, end = int(fields[1]), int(fields[2])
            except ValueError:
                raise InputError(
                    f"{what} {p}, line {lineno}: start and end must be integers, got "
                    f"{fields[1]!r} and {fields[2]!r}"
                ) from None
            if start < 0 or start > end:
                raise InputError(
                    f"{what} {p}, line {lineno}: start {start} > end {end} (or negative); BED "
                    "is 0-based with start <= end: fix or drop this line"
                )
            if within is not None:
                _check_within(fields[0], start, within, f"{what} {p}, line {lineno}")
            chroms.append(fields[0])
            starts.append(start)
            ends.append(end)
            names.append(fields[3] if len(fields) > 3 else "")
    if not chroms:
        raise InputError(f"{what} {p} holds no intervals: give a BED with chrom, start, end lines")
    df = pd.DataFrame(
        {
            "chrom": pd.Series(chroms, dtype=object),
            "start": np.asarray(starts, dtype=np.int64),
            "end": np.asarray(ends, dtype=np.int64),
            "name": pd.Series(names, dtype=object),
        }
    )
    if chrom_sizes is not None:
        known = df["chrom"].isin(list(chrom_sizes))
        if not known.any():
            seen = ", ".join(sorted(set(chroms))[:8])
            fix = _suggest_alias(sorted(set(chroms)), chrom_sizes)
            hint = (
                " (the names differ by a 'chr' prefix: rename them in the BED to the FASTA's names)"
                if fix
                else ""
            )
            raise InputError(
                f"{what} {p}: none of its chromosomes ({seen}) is in the FASTA, which has "
                f"{', '.join(list(chrom_sizes)[:8])}{hint}"
            )
        if not known.all():
            dropped = sorted(set(df.loc[~known, "chrom"]))
            log.info(
                "%s %s: ignoring %d rows on chromosomes not used: %s",
                what,
                p,
                int((~known).sum()),
                ", ".join(dropped[:10]),
            )
            df = df[known].reset_index(drop=True)
    return df


def fasta_compression(path: str | os.PathLike) -> str:
    """How a FASTA file is compressed, from its first bytes.

    Returns
    -------
    str
        ``"plain"``, ``"bgzf"`` (bgzip), ``"gzip"`` (plain gzip), ``"bzip2"`` or ``"zip"``.
    """
    with open(path, "rb") as fh:
        head = fh.read(16)
    if head[:2] == b"\x1f\x8b":
        # BGZF: gzip with the FEXTRA flag and a "BC" extra subfield (SAM spec, section 4.1)
        is_bgzf = len(head) >= 14 and head[3] & 4 and head[12:14] == b"BC"
        return "bgzf" if is_bgzf else "gzip"
    if head[:3] == b"BZh":
        return "bzip2"
    if head[:4] == b"PK\x03\x04":
        return "zip"
    return "plain"


def _check_compression(path: Path, kind: str) -> None:
    if kind in ("gzip", "bzip2", "zip"):
        raise InputError(
            f"FASTA {path} is {kind}-compressed, which allows no random access; genodil reads "
            f"plain or bgzip-compressed FASTA. Convert it with `zcat {path} | bgzip > "
            f"genome.fa.gz && samtools faidx genome.fa.gz` (bgzip and samtools come with "
            f"htslib), or decompress it (`{'gunzip -c' if kind == 'gzip' else kind + ' -d'} "
            f"{path} > genome.fa`)"
        )
    if kind == "bgzf":
        if not path.name.lower().endswith((".gz", ".bgz")):
            raise InputError(
                f"FASTA {path} is bgzip-compressed but its name does not end in .gz or .bgz; "
                "rename it (with its .fai and .gzi) so the name says so"
            )
        try:
            from Bio import bgzf  # noqa: F401
        except ImportError:
            raise InputError(
                f"FASTA {path} is bgzip-compressed; reading it needs biopython "
                "(pip install biopython), or decompress it with `bgzip -d`"
            ) from None


def _read_fai(fai: Path, fasta: Path) -> list[tuple[str, int, int, int, int]]:
    """Parse a .fai: (name, length, offset, line bases, line bytes) per record."""
    entries = []
    seen: dict[str, int] = {}
    with open(fai) as fh:
        for lineno, line in enumerate(fh, 1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 5 or not all(f.isdigit() for f in fields[1:5]):
                raise InputError(
                    f"{fai}, line {lineno}: not a FASTA index line; delete {fai} so "
                    "genodil rebuilds it"
                )
            name = fields[0]
            if name in seen:
                raise InputError(
                    f"FASTA {fasta} holds two sequences named {name!r} (records {seen[name]} "
                    f"and {lineno}); names must be unique: rename or drop one record"
                )
            seen[name] = lineno
            entries.append((name, *(int(f) for f in fields[1:5])))
    if not entries:
        raise InputError(f"{fasta} holds no sequences: is it a FASTA file?")
    return entries


def _fai_mismatch(fasta: Path, fai: Path, entries, kind: str) -> str | None:
    """Why ``entries`` do not describe ``fasta`` (None when they do).

    A plain FASTA is checked against its bytes: each record's header ends right before its
    offset, and its first, a middle and its last line end where the index says. A bgzip
    FASTA is checked by modification time only.
    """
    if kind == "bgzf":
        if fai.stat().st_mtime < fasta.stat().st_mtime:
            return "older than the FASTA"
        return None
    size = fasta.stat().st_size
    with open(fasta, "rb") as fh:

        def at(pos: int, n: int = 1) -> bytes:
            fh.seek(pos)
            return fh.read(n)

        for name, length, offset, bases, width in entries:
            if offset > size or (offset > 0 and at(offset - 1) != b"\n"):
                return f"record {name!r} does not start at byte {offset}"
            if length == 0:
                continue
            if bases <= 0 or width < bases:
                return f"record {name!r} has line lengths {bases}/{width}"

            def pos(i: int, bases=bases, width=width, offset=offset) -> int:
                return offset + (i // bases) * width + i % bases

            line_ends = {min(bases, length) - 1, (length // bases // 2) * bases - 1, length - 1}
            for i in sorted(line_ends):
                if i < 0:
                    continue
                base, after = at(pos(i)), at(pos(i) + 1)
                if base in (b"", b"\n", b"\r", b">") or after not in (b"", b"\n", b"\r"):
                    return f"record {name!r} is not laid out as indexed near base {i:,}"
    return None


def _check_within(chrom: str, start: int, sizes: Mapping[str, int], where: str) -> None:
    if chrom not in sizes:
        alt = chrom[3:] if chrom.startswith("chr") else "chr" + chrom
        hint = f" (the FASTA calls it {alt!r})" if alt in sizes else ""
        raise InputError(
            f"{where}: chromosome {chrom!r} is not in the FASTA{hint}; it has "
            f"{', '.join(list(sizes)[:8])}. Fix or drop this line"
        )
    if start >= sizes[chrom]:
        raise InputError(
            f"{where}: start {start:,} is past the end of {chrom} ({sizes[chrom]:,} bp in the "
            "FASTA); fix or drop this line (another assembly?)"
        )


class Genome:
    """Random access to a reference genome as uint8 base codes.

    The pyfaidx handle is opened lazily in each process (a handle inherited through fork
    shares its file offset with the parent, so it is reopened when the process id changes),
    so a Genome can be pickled or forked to DataLoader workers.

    Parameters
    ----------
    path : str or Path
        FASTA file (plain or bgzipped with a .fai/.gzi index). A missing .fai is built
        (and logged).
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
        self.path = check_file(path, "FASTA")
        self._fasta = None
        self._pid: int | None = None
        self._codes: dict[str, np.ndarray] | None = None
        self.chrom_sizes = self._read_sizes()
        total = sum(self.chrom_sizes.values())
        self.in_memory = total <= in_memory_max_bp if in_memory is None else bool(in_memory)

    def _read_sizes(self) -> dict[str, int]:
        kind = fasta_compression(self.path)
        _check_compression(self.path, kind)
        fai = Path(str(self.path) + ".fai")
        if not fai.exists():
            log.warning("FASTA index %s not found: building it (once)", fai)
            self._build_index(fai, kind)
        entries = _read_fai(fai, self.path)
        why = _fai_mismatch(self.path, fai, entries, kind)
        if why is not None:
            log.warning("FASTA index %s is stale (%s): rebuilding it", fai, why)
            self._build_index(fai, kind, stale=why)
            entries = _read_fai(fai, self.path)
            why = _fai_mismatch(self.path, fai, entries, kind)
            if why is not None:
                raise InputError(
                    f"FASTA {self.path} cannot be indexed consistently ({why}): check that "
                    "within each record all lines but the last have the same length"
                )
        return {name: length for name, length, *_ in entries}

    def _build_index(self, fai: Path, kind: str, stale: str | None = None) -> None:
        """Write ``fai`` (and the .gzi of a bgzip file) beside the FASTA, atomically."""
        import pyfaidx

        try:
            with atomic_output(fai, what="FASTA index") as tmp:
                if kind == "bgzf":
                    Path(str(self.path) + ".gzi").unlink(missing_ok=True)
                tmp.unlink()  # pyfaidx would trust an index newer than the FASTA, even empty
                pyfaidx.Fasta(str(self.path), indexname=str(tmp), rebuild=True).close()
        except (OSError, InputError) as e:
            if isinstance(e, pyfaidx.UnsupportedCompressionFormat):
                raise InputError(f"FASTA {self.path}: {e}") from None
            now = f"its index {fai} is stale ({stale})" if stale else f"it has no index {fai}"
            why = getattr(e, "strerror", None) or str(e) or "the folder is not writable"
            raise InputError(
                f"FASTA {self.path}: {now} and genodil cannot write one in {fai.parent} "
                f"({why}). Run `samtools faidx {self.path}` where you may write, or copy the "
                "FASTA to a writable folder"
            ) from None
        except (pyfaidx.FastaIndexingError, ValueError) as e:  # the temp is already removed
            dup = re.match(r'Duplicate key "(.*)"', str(e))
            if dup:
                raise InputError(
                    f"FASTA {self.path} holds two sequences named {dup[1]!r}; names must be "
                    "unique: rename or drop one record"
                ) from None
            raise InputError(
                f"cannot index FASTA {self.path}: {e}. Check that it is a FASTA file with "
                "unique names and, within a record, lines of equal length"
            ) from None

    def _open(self):
        pid = os.getpid()
        if self._fasta is None or self._pid != pid:
            import pyfaidx

            try:
                self._fasta = pyfaidx.Fasta(
                    str(self.path), as_raw=True, sequence_always_upper=False, rebuild=False
                )
            except (pyfaidx.FastaIndexingError, ValueError) as e:
                raise InputError(
                    f"cannot read FASTA {self.path}: {e}. Check that it is a FASTA file "
                    "(bgzip, not gzip, if compressed) with unique names and lines of equal "
                    "length"
                ) from None
            except OSError as e:
                raise InputError(
                    f"cannot open FASTA {self.path} or its index ({e}); check that both are "
                    "readable, and run `samtools faidx` on it where you may write"
                ) from None
            self._pid = pid
        return self._fasta

    def _close(self) -> None:
        if self._fasta is not None and self._pid == os.getpid():
            self._fasta.close()
        self._fasta = None
        self._pid = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_fasta"] = None
        state["_pid"] = None
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
            raise InputError(
                f"chromosome {chrom!r} is not in FASTA {self.path}{self.chrom_hint(chrom)}; "
                f"it has: {names}"
            ) from None

    def chrom_hint(self, chrom: str) -> str:
        """`` (the FASTA calls it 'chr1': ...)`` when only a 'chr' prefix differs, else ``""``."""
        alt = chrom[3:] if chrom.startswith("chr") else "chr" + chrom
        if alt in self.chrom_sizes:
            return f" (the FASTA calls it {alt!r}: add or strip the 'chr' prefix)"
        return ""

    def preload(self) -> None:
        """Read the whole genome into memory as uint8 codes now (if ``in_memory``).

        Call it in the main process before DataLoader workers fork, so they share one copy.
        """
        if self.in_memory:
            self._load_codes()

    def _load_codes(self) -> dict[str, np.ndarray]:
        if self._codes is None:
            fa = self._open()
            self._codes = {c: encode(fa[c][:]) for c in self.chrom_sizes}
        return self._codes

    def read_raw(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Codes of ``chrom:start-end``, which must lie inside the chromosome.

        No bounds checks, and no copy when the genome is in memory.

        Returns
        -------
        np.ndarray, shape (end - start,), dtype uint8
        """
        if self.in_memory:
            return self._load_codes()[chrom][start:end]
        return encode(self._open()[chrom][start:end])

    def fetch(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Base codes of ``chrom:start-end`` (0-based half-open), padded with N past the ends.

        Soft-masked (lower-case) bases get the codes of their upper-case letters.

        Returns
        -------
        np.ndarray, shape (end - start,), dtype uint8, values 0..4
        """
        size = self.check_chrom(chrom)
        if end < start:
            raise InputError(f"region {chrom}:{start}-{end} has end < start")
        lo, hi = max(start, 0), min(end, size)
        if lo == start and hi == end:
            out = self.read_raw(chrom, lo, hi)
            return out.copy() if self.in_memory else out
        out = np.full(end - start, N_CODE, dtype=np.uint8)
        if hi > lo:
            out[lo - start : hi - start] = self.read_raw(chrom, lo, hi)
        return out
