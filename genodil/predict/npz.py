"""Array outputs of prediction: ``.npy`` streams written in chunks and ``.npz`` packing.

:class:`NpyStream` writes one ``.npy`` whose rows arrive in order (so ``.npz`` outputs need
bounded memory); :func:`pack_npz` joins such files and small arrays into an uncompressed
``.npz`` that loads with ``np.load``.
"""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np

__all__ = ["NpyStream", "pack_npz"]


class NpyStream:
    """Write one ``.npy`` array whose rows arrive in order, without holding it in memory.

    Parameters
    ----------
    path : Path
    shape : tuple of int
        Final shape; chunks are appended along the first axis of the C-order layout, or the
        last axis when ``fortran_order`` is set.
    dtype : numpy dtype
    fortran_order : bool
        Store column-major, so that chunks of shape (n, T) fill an array of shape (T, N).
    """

    def __init__(
        self, path: Path, shape: tuple[int, ...], dtype=np.float32, fortran_order: bool = False
    ) -> None:
        self.path = Path(path)
        self.dtype = np.dtype(dtype)
        self.expected = int(np.prod(shape)) * self.dtype.itemsize
        self.written = 0
        self._fh = open(self.path, "wb")  # noqa: SIM115 - stays open across write() calls
        header = {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": fortran_order}
        header["shape"] = tuple(int(s) for s in shape)
        np.lib.format.write_array_header_2_0(self._fh, header)

    def write(self, chunk: np.ndarray) -> None:
        """Append raw values (already in storage order)."""
        data = np.ascontiguousarray(chunk, dtype=self.dtype).tobytes()
        self.written += len(data)
        self._fh.write(data)

    def abandon(self) -> None:
        """Close the file without checking it (the caller deletes it)."""
        self._fh.close()

    def close(self) -> None:
        """Finish the file; the number of values written must match the shape."""
        self._fh.close()
        if self.written != self.expected:
            raise RuntimeError(f"{self.path}: wrote {self.written} bytes, expected {self.expected}")


def pack_npz(out: Path, members: Iterator[tuple[str, Path | np.ndarray]]) -> None:
    """Write an uncompressed ``.npz`` at ``out`` from ``.npy`` files or small arrays.

    Files are copied in blocks, so memory stays bounded; the result loads with ``np.load``.
    ``out`` is written in place: pass the temporary path from
    :func:`genodil.outputs.atomic_output`.
    """
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED, allowZip64=True) as zf:
        for name, item in members:
            if isinstance(item, Path):
                zinfo = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
                large = item.stat().st_size > zipfile.ZIP64_LIMIT // 2
                with open(item, "rb") as src, zf.open(zinfo, "w", force_zip64=large) as dst:
                    shutil.copyfileobj(src, dst, length=1 << 22)
            else:
                with zf.open(f"{name}.npy", "w") as dst:
                    np.lib.format.write_array(dst, np.asarray(item), allow_pickle=False)
