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

__all__ = ["VARIANT_COLUMNS", "read_vcf", "write_annotated_vcf"]

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


_INFO_ID_BAD = re.compile(r"[^0-9A-Za-z_.]")


def _info_ids(columns: list[str]) -> dict[str, str]:
    """A valid, unique VCF INFO ID for each score column (``SAD_cage+`` -> ``SAD_cage_``)."""
    ids: dict[str, str] = {}
    used: set[str] = set()
    for col in columns:
        base = _INFO_ID_BAD.sub("_", col)
        if not re.match(r"[A-Za-z_]", base):
            base = "_" + base
        ident, n = base, 1
        while ident in used:
            n += 1
            ident = f"{base}_{n}"
        used.add(ident)
        ids[col] = ident
    return ids


def _annotate_line(line: str, lookup, ids: dict[str, str]) -> str:
    fields = line.rstrip("\r\n").split("\t")
    while len(fields) < 8:
        fields.append(".")
    chrom, pos, ref, alts = fields[0], int(fields[1]), fields[3].upper(), fields[4].split(",")
    values = [lookup.get((chrom, pos, ref, a.upper() if _REF_RE.match(a) else a)) for a in alts]
    extra = []
    for k, ident in enumerate(ids.values()):
        per_alt = ["." if v is None or v[k] != v[k] else f"{v[k]:.6g}" for v in values]
        if any(p != "." for p in per_alt):
            extra.append(f"{ident}={','.join(per_alt)}")
    if extra:
        info = fields[7]
        fields[7] = ";".join(extra) if info in (".", "") else info + ";" + ";".join(extra)
    return "\t".join(fields) + "\n"


def write_annotated_vcf(
    vcf: str | os.PathLike,
    scored: pd.DataFrame,
    out: str | os.PathLike,
    score_columns: list[str],
    descriptions: dict[str, str] | None = None,
) -> Path:
    """Copy a VCF with per-allele variant scores added as INFO fields (Basenji's habit).

    Every record of the input is kept in order, with its own INFO; each score column becomes
    one ``Number=A`` Float INFO field declared in the header (IDs made valid: characters
    outside ``[0-9A-Za-z_.]`` become ``_``). An allele that was not scored gets ``.``; a
    record with no scored allele keeps its INFO unchanged.

    Parameters
    ----------
    vcf : path
        The VCF the scores came from (plain, gzip or bgzip).
    scored : pandas.DataFrame
        Columns chrom, pos, ref, alt and ``score_columns`` (as ``score_variants`` returns).
    out : path
        ``.vcf``, or ``.vcf.gz`` (written with BGZF so tabix can index it).
    score_columns : list of str
    descriptions : dict, optional
        Per column, text for the header's Description (e.g. the units).

    Returns
    -------
    Path
        ``out``, written atomically.
    """
    from genodil.outputs import atomic_output

    out = Path(out)
    ids = _info_ids(score_columns)
    keys = zip(scored["chrom"], scored["pos"], scored["ref"], scored["alt"], strict=True)
    values = scored[score_columns].to_numpy(dtype=float)
    lookup = {(str(c), int(p), str(r), str(a)): values[i] for i, (c, p, r, a) in enumerate(keys)}
    header_added = False
    with atomic_output(out, what="--out") as tmp:
        opener = _bgzf_writer if out.name.lower().endswith(".gz") else _text_writer
        with _open_text(Path(vcf)) as src, opener(tmp) as dst:
            for line in src:
                if line.startswith("##"):
                    dst.write(line)
                elif line.startswith("#"):
                    for col, ident in ids.items():
                        text = (descriptions or {}).get(col, f"genodil score {col}")
                        text = text.replace('"', "'")
                        dst.write(f'##INFO=<ID={ident},Number=A,Type=Float,Description="{text}">\n')
                    dst.write(line)
                    header_added = True
                elif line.strip():
                    dst.write(_annotate_line(line, lookup, ids))
        if not header_added:
            raise InputError(f"{vcf} has no #CHROM header line; it is not a valid VCF")
    return out


def _text_writer(path: Path):
    return open(path, "w", encoding="utf-8", newline="")


def _bgzf_writer(path: Path):
    from Bio import bgzf

    return bgzf.BgzfWriter(str(path), "wt")
