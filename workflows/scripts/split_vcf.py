"""Split a VCF into shards of N records, each carrying the full header (standard library only).

    python split_vcf.py --records 500 --out shards/ variants.vcf[.gz]

writes shards/shard_0000.vcf, shard_0001.vcf, ... in file order, so concatenating the shards'
scores in name order gives the rows of a single run. A VCF without records gives one
header-only shard.
"""

from __future__ import annotations

import argparse
import gzip
import sys
from pathlib import Path


def open_text(path: Path):
    """Open a plain or gzip/bgzip-compressed text file for reading."""
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt")
    return open(path)


def split_vcf(vcf: Path, out: Path, records: int) -> list[Path]:
    """Write the shards; returns their paths in order."""
    if records < 1:
        raise ValueError(f"--records must be >= 1, got {records}")
    out.mkdir(parents=True, exist_ok=True)
    header: list[str] = []
    chunk: list[str] = []
    written: list[Path] = []

    def flush() -> None:
        path = out / f"shard_{len(written):04d}.vcf"
        path.write_text("".join(header + chunk))
        written.append(path)
        chunk.clear()

    with open_text(vcf) as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.endswith("\n"):
                line += "\n"
            if line.startswith("#"):
                if chunk or written:
                    raise ValueError(f"{vcf}, line {lineno}: header line after the first record")
                header.append(line)
            elif line.strip():
                if not header or not header[-1].startswith("#CHROM"):
                    raise ValueError(
                        f"{vcf}, line {lineno}: record before the #CHROM header line; "
                        "is this a VCF?"
                    )
                chunk.append(line)
                if len(chunk) == records:
                    flush()
    if not header:
        raise ValueError(f"{vcf} has no header: a VCF starts with ##fileformat and #CHROM lines")
    if chunk or not written:
        flush()
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("vcf", type=Path, help="VCF or gzipped VCF")
    parser.add_argument("--out", type=Path, required=True, help="folder for the shards")
    parser.add_argument("--records", type=int, required=True, help="records per shard")
    args = parser.parse_args(argv)
    try:
        shards = split_vcf(args.vcf, args.out, args.records)
    except (OSError, ValueError) as e:
        print(f"split_vcf: error: {e}", file=sys.stderr)
        return 2
    print(f"{args.vcf}: {len(shards)} shard(s) of up to {args.records} records in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
