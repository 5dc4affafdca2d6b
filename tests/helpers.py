"""Writers of small real files for tests: FASTA (+ .fai), bigWig, BED, VCF.

Every file is real (pyfaidx and pyBigWig read them); nothing is mocked.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from io import StringIO
from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig

SHARED_REAL = Path(__file__).resolve().parents[2] / "shared" / "data" / "real"
YEAST = SHARED_REAL / "yeast_r64"


def write_fasta(path: Path, seqs: Mapping[str, str], width: int = 60, index: bool = True) -> Path:
    """Write ``seqs`` as a FASTA with ``width`` bases a line, and its .fai unless told not to."""
    path = Path(path)
    fai_lines = []
    offset = 0
    with open(path, "w") as fh:
        for name, seq in seqs.items():
            header = f">{name}\n"
            fh.write(header)
            offset += len(header)
            fai_lines.append(f"{name}\t{len(seq)}\t{offset}\t{width}\t{width + 1}\n")
            for i in range(0, len(seq), width):
                line = seq[i : i + width] + "\n"
                fh.write(line)
                offset += len(line)
    if index:
        Path(str(path) + ".fai").write_text("".join(fai_lines))
    return path


def random_seq(n: int, seed: int = 0) -> str:
    """A uniformly random ACGT string of length ``n``."""
    rng = np.random.default_rng(seed)
    return "".join(rng.choice(list("ACGT"), size=n))


def write_bigwig(
    path: Path,
    values: Mapping[str, np.ndarray],
    chrom_sizes: Mapping[str, int] | None = None,
    max_zooms: int = 0,
) -> Path:
    """Write per-base ``values`` (one float array per chromosome) as a bigWig.

    NaN entries are left uncovered (pyBigWig then reads them back as NaN). ``max_zooms`` > 0
    adds zoom-level summaries (what approximate ``stats`` read).
    """
    path = Path(path)
    sizes = dict(chrom_sizes) if chrom_sizes else {c: len(v) for c, v in values.items()}
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader(list(sizes.items()), maxZooms=max_zooms)
    for chrom in sizes:
        if chrom not in values:
            continue
        v = np.asarray(values[chrom], dtype=np.float64)
        ok = ~np.isnan(v)
        if ok.any():
            starts = np.flatnonzero(ok)
            bw.addEntries(chrom, starts.tolist(), values=v[ok].tolist(), span=1)
    bw.close()
    return path


def write_bed(path: Path, rows: Sequence[tuple]) -> Path:
    """Write BED rows (chrom, start, end, ...) tab-separated."""
    Path(path).write_text("".join("\t".join(map(str, r)) + "\n" for r in rows))
    return Path(path)


def write_vcf(
    path: Path, records: Sequence[tuple], contigs: Mapping[str, int] | None = None
) -> Path:
    """Write a VCF 4.2 with records ``(chrom, pos, id, ref, alt)``; ``pos`` is 1-based."""
    lines = ["##fileformat=VCFv4.2"]
    for name, size in (contigs or {}).items():
        lines.append(f"##contig=<ID={name},length={size}>")
    lines.append("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO")
    for chrom, pos, vid, ref, alt in records:
        lines.append(f"{chrom}\t{pos}\t{vid}\t{ref}\t{alt}\t.\t.\t.")
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def interval_table(text: str) -> pd.DataFrame:
    """An interval table (chrom, start, end int64) from whitespace-separated text with a header."""
    df = pd.read_csv(StringIO(text), sep=r"\s+", dtype={"chrom": object})
    return df.astype({"start": np.int64, "end": np.int64})


def interval_rows(df: pd.DataFrame) -> list[tuple]:
    """The (chrom, start, end) rows of an interval table, as plain Python values."""
    return [(str(c), int(s), int(e)) for c, s, e in zip(df.chrom, df.start, df.end, strict=True)]
