"""A streaming bigWig writer: entries added in coordinate order, file renamed when complete.

Used for contribution tracks (``genodil interpret``); the header lists every chromosome of
the FASTA in its order, as ``predict``'s bigWigs do, so tracks from both line up in a browser.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Self

import numpy as np

from genodil.errors import InputError
from genodil.genome.io import Genome

__all__ = ["BigWigWriter"]


class BigWigWriter:
    """Write one bigWig through a temporary file; rename it into place only on success.

    Use as a context manager. On an exception the temporary file is removed and ``path`` is
    left as it was.

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
        self.tmp = self.path.with_name(f".{self.path.name}.tmp-{os.getpid()}")
        self._bw = None

    def __enter__(self) -> Self:
        import pyBigWig

        folder = self.path.parent
        if not folder.is_dir() or not os.access(folder, os.W_OK):
            # pyBigWig crashes (segfault) on an unwritable path instead of returning None
            raise InputError(f"cannot write {self.path}: {folder} is not a writable folder")
        self._bw = pyBigWig.open(str(self.tmp), "w")
        if self._bw is None:
            raise InputError(f"cannot write {self.tmp}: check that {folder} is writable")
        self._bw.addHeader(self.header, maxZooms=self.zooms)
        return self

    def add(self, chrom: str, start: int, values: np.ndarray, span: int = 1) -> None:
        """Add consecutive values from ``start``, each covering ``span`` bases."""
        values = np.ascontiguousarray(values, dtype=np.float64)
        if len(values):
            self._bw.addEntries(chrom, int(start), values=values, span=span, step=span)

    def __exit__(self, exc_type, *exc) -> None:
        bw, self._bw = self._bw, None
        try:
            if bw is not None:
                bw.close()
            if exc_type is None:
                os.replace(self.tmp, self.path)
        finally:
            if self.tmp.exists():
                self.tmp.unlink()
