"""Merge bigWigs that cover disjoint parts of one genome (e.g. per-chromosome predictions)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyBigWig

from genodil.errors import InputError
from genodil.outputs import atomic_output, check_outputs

__all__ = ["merge_bigwigs"]

_CHUNK = 1 << 20  # bp read per request, so memory stays bounded on long chromosomes


def merge_bigwigs(inputs: Sequence[str | os.PathLike], out: str | os.PathLike) -> Path:
    """Write one bigWig holding the intervals of all ``inputs``.

    The inputs must share chromosome names and lengths (as predictions from one FASTA do) and
    must not cover the same base twice. The output is written to a temporary file and renamed.

    Parameters
    ----------
    inputs : sequence of paths
    out : path

    Returns
    -------
    Path of the merged bigWig.
    """
    if not inputs:
        raise InputError("merge-bigwig needs at least one input bigWig")
    out = Path(out)
    check_outputs({"--out": out}, writable=True)
    for p in inputs:
        if Path(p).exists() and os.path.realpath(p) == os.path.realpath(out):
            raise InputError(f"--out {out} is also an input; write the merge to another path")
    handles = []
    try:
        for p in inputs:
            if not Path(p).exists():
                raise InputError(f"bigWig {p} does not exist: check the path")
            try:
                bw = pyBigWig.open(str(p))
            except RuntimeError:
                bw = None
            if bw is None or not bw.isBigWig():
                if bw is not None:
                    bw.close()
                raise InputError(
                    f"{p} is not a bigWig file (pyBigWig cannot open it); give bigWigs written "
                    "by genodil predict"
                )
            handles.append(bw)
        sizes = handles[0].chroms()
        for p, bw in zip(inputs[1:], handles[1:], strict=True):
            if bw.chroms() != sizes:
                raise InputError(
                    f"{p} has other chromosomes or lengths than {inputs[0]}; merge only bigWigs "
                    "predicted against the same FASTA"
                )
        with atomic_output(out, what="--out") as tmp:
            writer = pyBigWig.open(str(tmp), "w")  # folder proven writable above
            try:
                writer.addHeader(list(sizes.items()), maxZooms=10)
                for chrom, size in sizes.items():
                    _merge_chrom(handles, inputs, writer, chrom, size)
            finally:
                writer.close()
        return out
    finally:
        for bw in handles:
            bw.close()


def _merge_chrom(handles, inputs, writer, chrom: str, size: int) -> None:
    covering = [
        (p, bw)
        for p, bw in zip(inputs, handles, strict=True)
        if bw.intervals(chrom, 0, 1) is not None or bw.intervals(chrom)
    ]
    for lo in range(0, size, _CHUNK):
        hi = min(lo + _CHUNK, size)
        parts = []
        for p, bw in covering:
            ivs = bw.intervals(chrom, lo, hi)
            if ivs:
                a = np.array(ivs, dtype=np.float64)
                a[:, 0] = np.maximum(a[:, 0], lo)  # clip intervals straddling the chunk edge
                a[:, 1] = np.minimum(a[:, 1], hi)
                parts.append((p, a))
        if not parts:
            continue
        allv = np.concatenate([a for _, a in parts])
        order = np.argsort(allv[:, 0], kind="stable")
        allv = allv[order]
        if np.any(allv[1:, 0] < allv[:-1, 1]):
            names = ", ".join(str(p) for p, _ in parts)
            raise InputError(
                f"bigWigs {names} overlap on {chrom}:{lo}-{hi}; merge only disjoint predictions"
            )
        writer.addEntries(
            [chrom] * len(allv),
            allv[:, 0].astype(np.int64).tolist(),
            ends=allv[:, 1].astype(np.int64).tolist(),
            values=allv[:, 2].tolist(),
        )
