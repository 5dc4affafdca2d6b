"""Concatenate TSV files that share one header line, keeping the header once (stdlib only).

    python concat_tsv.py --out scores.tsv shard_0000.tsv shard_0001.tsv ...

Rows keep the order of the inputs. Inputs whose header differs from the first one's are an
error. The output is written under a temporary name and renamed when complete.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def concat_tsv(inputs: list[Path], out: Path) -> int:
    """Write the concatenation; returns the number of data rows."""
    if not inputs:
        raise ValueError("give at least one input TSV")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp-{os.getpid()}")
    header = None
    n_rows = 0
    try:
        with open(tmp, "w") as dst:
            for path in inputs:
                with open(path) as src:
                    first = src.readline()
                    if not first:
                        raise ValueError(f"{path} is empty: expected at least a header line")
                    if header is None:
                        header = first
                        dst.write(first)
                    elif first != header:
                        raise ValueError(
                            f"{path} has header {first.strip()!r}, unlike {inputs[0]} "
                            f"({header.strip()!r}); were the shards scored alike?"
                        )
                    for line in src:
                        if line.strip():
                            dst.write(line if line.endswith("\n") else line + "\n")
                            n_rows += 1
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return n_rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("inputs", type=Path, nargs="+", help="TSV files, in order")
    parser.add_argument("--out", type=Path, required=True, help="output TSV")
    args = parser.parse_args(argv)
    try:
        n = concat_tsv(args.inputs, args.out)
    except (OSError, ValueError) as e:
        print(f"concat_tsv: error: {e}", file=sys.stderr)
        return 2
    print(f"{args.out}: {n} rows from {len(args.inputs)} file(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
