"""A streaming bigWig writer: entries added in coordinate order, file renamed when complete.

Used for contribution tracks (``genodil interpret``); the header lists every chromosome of
the FASTA in its order, as ``predict``'s bigWigs do, so tracks from both line up in a browser.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Self

import numpy as np

from genodil.errors import InputError
from genodil.genome.io import Genome
from genodil.outputs import atomic_output

__all__ = ["BigWigWriter"]


class BigWigWriter:
    """Write one bigWig through a temporary file; rename it into place only on success.

    Use as a context manager; the temporary file is handled by
    :func:`genodil.outputs.atomic_output` (removed on any error, unwritable folder or full disk
    -> InputError naming the path), and ``path`` is left as it was unless all went well.

    Parameters
    ----------
    path : path
        The finished file.
    genome : Genome or list of (chrom, size)
        Chromosomes of the header, in order (empty records are left out).
    zooms : int
        Zoom levels (0 keeps memory independent of the length written).
    """

    def __init__(
        self, path: str | os.PathLike, genome: Genome | Sequence[tuple[str, int]], zooms: int = 0
    ) -> None:
        self.path = Path(path)
        sizes = genome.chrom_sizes.items() if isinstance(genome, Genome) else genome
        self.header = [(str(c), int(n)) for c, n in sizes if int(n) > 0]
        self.zooms = int(zooms)
        self._stack: contextlib.ExitStack | None = None
        self._bw = None
        self._last: tuple[str, int] | None = None

    def __enter__(self) -> Self:
        import pyBigWig

        stack = contextlib.ExitStack()
        # atomic_output proves the folder writable first: pyBigWig segfaults on one that is not
        tmp = stack.enter_context(atomic_output(self.path, what="bigWig"))
        self._tmp = tmp
        self._bw = pyBigWig.open(str(tmp), "w")
        if self._bw is None:
            stack.close()
            raise InputError(f"cannot write {self.path}: check that {self.path.parent} is writable")
        stack.callback(self._close)
        self._bw.addHeader(self.header, maxZooms=self.zooms)
        self._stack = stack
        return self

    def _close(self) -> None:
        bw, self._bw = self._bw, None
        if bw is not None:
            bw.close()

    def add(self, chrom: str, start: int, values: np.ndarray, span: int = 1) -> None:
        """Add consecutive values from ``start``, each covering ``span`` bases."""
        values = np.ascontiguousarray(values, dtype=np.float64)
        if len(values):
            self._bw.addEntries(chrom, int(start), values=values, span=span, step=span)
            self._last = (chrom, int(start) + (len(values) - 1) * span)

    def _verify(self) -> None:
        """Reopen the finished temporary file to prove it whole.

        libBigWig reports a failed write (full disk, file-size limit) only on stderr when
        closing, leaving a truncated file behind.
        """
        import pyBigWig

        try:
            bw = pyBigWig.open(str(self._tmp))
        except RuntimeError:
            bw = None
        ok = bw is not None and bw.chroms() == dict(self.header)
        if ok and self._last is not None:  # the index written at close finds the last entry
            chrom, start = self._last
            ok = bool(bw.intervals(chrom, start, start + 1))
        if bw is not None:
            bw.close()
        if not ok:
            raise InputError(
                f"writing {self.path} failed: the bigWig came out truncated (is the disk full, "
                "or a file-size limit set?); free some space or write elsewhere"
            )

    def __exit__(self, *exc) -> bool | None:
        stack, self._stack = self._stack, None
        if exc[0] is None:
            try:
                self._close()
                self._verify()
            except BaseException:
                if not stack.__exit__(*sys.exc_info()):
                    raise
                return None
        return stack.__exit__(*exc)
