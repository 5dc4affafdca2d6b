"""Read variants from a VCF (plain or bgzipped) into a table.

Only the first five columns are read (CHROM POS ID REF ALT); genotypes are ignored. ``pos``
stays 1-based as in the VCF; the conversion to 0-based happens once, where windows are built
(``genodil.predict.variants``). Multi-allelic records become one row per ALT allele.
"""

from __future__ import annotations

import gzip
import os
import re
from pathlib import Path

import pandas as pd

from genodil.errors import InputError

__all__ = ["VARIANT_COLUMNS", "read_vcf"]

VARIANT_COLUMNS = ["chrom", "pos", "id", "ref", "alt"]

_MAX_POS = 2**31 - 1  # VCF 4.x: POS is a 32-bit integer

_REF_RE = re.compile(r"^[ACGTNacgtn]+$")


def _open_text(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":  # gzip or bgzip (a bgzip file is a series of gzip members)
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")


def read_vcf(path: str | os.PathLike) -> pd.DataFrame:
    """Read the variants of a VCF file.

    Parameters
    ----------
    path : str or Path
        ``.vcf`` or ``.vcf.gz`` (bgzip or gzip; detected from the content, not the name).

    Returns
    -------
    pd.DataFrame with columns chrom (str), pos (int64, 1-based as in the VCF), id (str),
    ref (str, upper case), alt (str: upper case for bases, symbolic alleles as written).
    One row per ALT allele, in file order.

    Raises
    ------
    InputError
        The file is missing, not text, or a record is malformed; the message names the file
        and line number.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(f"VCF file {path} does not exist: check the path")
    rows: list[tuple[str, int, str, str, str]] = []
    lineno = 0
    try:
        with _open_text(path) as fh:
            for lineno, line in enumerate(fh, 1):
                if line.startswith("#") or not line.strip():
                    continue
                rows.extend(_parse_record(line, path, lineno))
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError, OSError) as e:
        raise InputError(
            f"{path}, near line {lineno + 1}: cannot read the file as text VCF ({e}); "
            "is it a VCF, compressed with bgzip if at all?"
        ) from e
    return pd.DataFrame(rows, columns=VARIANT_COLUMNS).astype({"pos": "int64"})


def _parse_record(line: str, path: Path, lineno: int) -> list[tuple[str, int, str, str, str]]:
    fields = line.rstrip("\r\n").split("\t", 5)
    where = f"{path}, line {lineno}"
    if len(fields) < 5:
        raise InputError(
            f"{where}: expected tab-separated columns CHROM POS ID REF ALT ..., found "
            f"{len(fields)} column(s) in {line.strip()[:80]!r}; VCF columns are separated by tabs"
        )
    chrom, pos_text, vid, ref, alts = fields[:5]
    if not chrom:
        raise InputError(f"{where}: empty CHROM")
    try:
        pos = int(pos_text)
    except ValueError:
        raise InputError(f"{where}: POS {pos_text!r} is not an integer") from None
    if pos < 1:
        raise InputError(f"{where}: POS {pos} must be >= 1 (VCF positions are 1-based)")
    if pos > _MAX_POS:
        raise InputError(
            f"{where}: POS {pos_text[:30]} is beyond any chromosome (VCF allows up to "
            f"{_MAX_POS:,}); fix or drop this record"
        )
    if not _REF_RE.match(ref):
        raise InputError(f"{where}: REF {ref!r} must be bases A, C, G, T or N")
    out = []
    for alt in alts.split(","):
        if not alt:
            raise InputError(f"{where}: empty allele in ALT {alts!r}")
        if _REF_RE.match(alt):
            alt = alt.upper()
        out.append((chrom, pos, vid or ".", ref.upper(), alt))
    return out
