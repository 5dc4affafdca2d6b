"""Write a FASTA's chromosome names and lengths as a two-column TSV (standard library only).

    python chrom_sizes.py genome.fa sizes.tsv

Reads ``genome.fa.fai`` (which ``genodil check`` builds) when it is present and not older than
the FASTA; otherwise counts the bases of each record (plain or gzipped FASTA).
"""

from __future__ import annotations

import gzip
import sys
from pathlib import Path


def chrom_sizes(fasta: Path) -> dict[str, int]:
    """Chromosome name -> length, in FASTA order."""
    fai = Path(f"{fasta}.fai")
    if fai.exists() and fai.stat().st_mtime >= fasta.stat().st_mtime:
        sizes = {}
        for line in fai.read_text().splitlines():
            if line.strip():
                name, length = line.split("\t")[:2]
                sizes[name] = int(length)
        return sizes
    with open(fasta, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    sizes: dict[str, int] = {}
    name = None
    with gzip.open(fasta, "rt") if gz else open(fasta) as fh:
        for line in fh:
            if line.startswith(">"):
                name = line[1:].split()[0] if line[1:].strip() else ""
                if not name or name in sizes:
                    raise ValueError(f"{fasta}: empty or repeated record name {name!r}")
                sizes[name] = 0
            elif name is not None:
                sizes[name] += len(line.strip())
    if not sizes:
        raise ValueError(f"{fasta} holds no FASTA record")
    return sizes


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: chrom_sizes.py FASTA OUT.tsv", file=sys.stderr)
        return 2
    fasta, out = Path(args[0]), Path(args[1])
    try:
        sizes = chrom_sizes(fasta)
    except (OSError, ValueError) as e:
        print(f"chrom_sizes: error: {e}", file=sys.stderr)
        return 2
    out.write_text("".join(f"{name}\t{length}\n" for name, length in sizes.items()))
    print(f"{out}: {len(sizes)} chromosomes of {fasta}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
