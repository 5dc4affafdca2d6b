"""On-disk cache: the genome as uint8 codes and each track as a float32/float16 array.

Layout under ``cache_dir``::

    genome-<key>/codes.u8      all chromosomes, concatenated, 1 byte per base
    genome-<key>/meta.json     source path, size, mtime_ns, chromosome offsets
    track-<key>/values.f32     (or values.f16) per-base values, NaN -> 0, chromosomes concatenated
    track-<key>/meta.json

``key`` hashes the source path (and for tracks, the chromosomes, alias and dtype). An entry
is reused while its source file keeps the size and modification time recorded in meta.json,
and rebuilt otherwise. meta.json is written last, so an interrupted build is never reused;
a file lock serialises builds by several processes (DDP ranks).

Readers (:class:`CachedGenome`, :class:`CachedTracks`) memory-map the arrays lazily in each
process; the operating system's page cache is shared by all workers.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Literal

import numpy as np

from genodil.data.tracks import TrackSourceBase, TrackSpec
from genodil.errors import InputError
from genodil.genome.encode import N_CODE
from genodil.genome.io import ChromAlias, Genome, alias_chrom
from genodil.outputs import atomic_output, ensure_writable_dir, write_atomic

__all__ = ["CACHE_VERSION", "CachedGenome", "CachedTracks", "build_cache"]

log = logging.getLogger(__name__)

CACHE_VERSION = 1
_CHUNK = 1 << 22
_F16_MAX = float(np.finfo(np.float16).max)


def _source_stamp(path: str | os.PathLike) -> dict:
    st = os.stat(path)
    return {"path": str(Path(path).resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns}


def _key(*parts: object) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True).encode()).hexdigest()[:16]


def _read_meta(entry: Path, data_name: str, stamp: dict) -> dict | None:
    meta_path = entry / "meta.json"
    if not meta_path.exists():
        return None
    try:
        meta = json.loads(meta_path.read_text())
    except (OSError, json.JSONDecodeError):
        return None
    data = entry / data_name
    if (
        meta.get("version") != CACHE_VERSION
        or meta.get("source") != stamp
        or not data.exists()
        or data.stat().st_size != meta.get("nbytes")
    ):
        return None
    return meta


@contextlib.contextmanager
def _locked(cache_dir: Path) -> Iterator[None]:
    cache_dir.mkdir(parents=True, exist_ok=True)
    with open(cache_dir / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def _offsets(sizes: Mapping[str, int]) -> dict[str, list[int]]:
    out, pos = {}, 0
    for c, n in sizes.items():
        out[c] = [pos, int(n)]
        pos += int(n)
    return out


class CachedGenome:
    """Genome read from a cached uint8 code file (memory-mapped lazily per process).

    Parameters
    ----------
    entry : Path
        The cache entry folder (``genome-<key>``).
    """

    def __init__(self, entry: Path, meta: dict) -> None:
        self.entry = Path(entry)
        self.offsets: dict[str, list[int]] = meta["chroms"]
        self.chrom_sizes = {c: n for c, (_, n) in self.offsets.items()}
        self.path = meta["source"]["path"]
        self._mm: np.ndarray | None = None
        self._pid: int | None = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_mm"] = None
        state["_pid"] = None
        return state

    def _map(self) -> np.ndarray:
        if self._mm is None or self._pid != os.getpid():
            # a plain ndarray view: slicing an np.memmap runs Python code per slice
            self._mm = np.memmap(self.entry / "codes.u8", dtype=np.uint8, mode="r").view(np.ndarray)
            self._pid = os.getpid()
        return self._mm

    def read_raw(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Codes of a range inside the chromosome, as a read-only view, shape (end - start,)."""
        off = self.offsets[chrom][0]
        return self._map()[off + start : off + end]

    def fetch(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Codes of ``chrom:start-end`` padded with N past the ends, shape (end - start,)."""
        size = self.chrom_sizes[chrom]
        lo, hi = max(start, 0), min(end, size)
        out = np.full(end - start, N_CODE, dtype=np.uint8)
        if hi > lo:
            out[lo - start : hi - start] = self.read_raw(chrom, lo, hi)
        return out


class CachedTracks(TrackSourceBase):
    """Raw track values read from cached per-track arrays (memory-mapped lazily per process)."""

    def __init__(self, specs: Sequence[TrackSpec], entries: Sequence[Path], metas: list[dict]):
        self.specs = list(specs)
        self.entries = [Path(e) for e in entries]
        self.offsets: list[dict[str, list[int]]] = [m["chroms"] for m in metas]
        self.dtypes = [np.dtype(m["dtype"]) for m in metas]
        self.files = [m["file"] for m in metas]
        self._mm: list[np.ndarray] | None = None
        self._pid: int | None = None

    _per_process = ("_mm", "_pid")

    def _map(self) -> list[np.ndarray]:
        if self._mm is None or self._pid != os.getpid():
            self._mm = [
                np.memmap(e / f, dtype=d, mode="r").view(np.ndarray)
                for e, f, d in zip(self.entries, self.files, self.dtypes, strict=True)
            ]
            self._pid = os.getpid()
        return self._mm

    def values(
        self,
        chrom: str,
        start: int,
        end: int,
        out: np.ndarray | Sequence[np.ndarray] | None = None,
    ) -> np.ndarray | Sequence[np.ndarray]:
        """Raw values over ``chrom:start-end`` (FASTA names), zeros past the ends.

        Parameters
        ----------
        out : np.ndarray of shape (T, end - start), or T float32 arrays, optional
            Where to write (rows may be strided views).

        Returns
        -------
        np.ndarray, shape (T, end - start), float32 (``out`` when given)
        """
        mms = self._map()
        if out is None:
            out = np.empty((len(mms), end - start), dtype=np.float32)
        for i, mm in enumerate(mms):
            off, size = self.offsets[i][chrom]
            lo, hi = max(start, 0), min(end, size)
            row = out[i]
            if lo == start and hi == end:
                row[:] = mm[off + lo : off + hi]
            else:
                row[:] = 0.0
                if hi > lo:
                    row[lo - start : hi - start] = mm[off + lo : off + hi]
        return out


def _progress(total: int, desc: str):
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, unit="bp", unit_scale=True, leave=False)


def _write_atomic(path: Path, fill, nbytes: int) -> None:
    """Fill one cache file through :func:`genodil.outputs.atomic_output`, checking its size."""
    with atomic_output(path, what="cache file") as tmp:
        with open(tmp, "wb") as fh:
            fill(fh)
        if tmp.stat().st_size != nbytes:
            raise RuntimeError(f"cache file {path} has the wrong size")


def _build_genome(genome: Genome, entry: Path, stamp: dict) -> dict:
    entry.mkdir(parents=True, exist_ok=True)
    sizes = genome.chrom_sizes
    total = sum(sizes.values())

    def fill(fh) -> None:
        with _progress(total, f"caching genome {Path(stamp['path']).name}") as bar:
            for chrom, size in sizes.items():
                for lo in range(0, size, _CHUNK):
                    hi = min(lo + _CHUNK, size)
                    fh.write(genome.read_raw(chrom, lo, hi).tobytes())
                    bar.update(hi - lo)

    _write_atomic(entry / "codes.u8", fill, total)
    meta = {"version": CACHE_VERSION, "source": stamp, "nbytes": total, "chroms": _offsets(sizes)}
    write_atomic(entry / "meta.json", json.dumps(meta), what="cache index")
    return meta


def _build_track(
    spec: TrackSpec,
    chrom_sizes: Mapping[str, int],
    chrom_alias: ChromAlias,
    dtype: np.dtype,
    entry: Path,
    stamp: dict,
    file: str,
) -> dict:
    import pyBigWig

    entry.mkdir(parents=True, exist_ok=True)
    total = sum(chrom_sizes.values())
    bw = pyBigWig.open(spec.path)
    bw_sizes = bw.chroms()

    def fill(fh) -> None:
        with _progress(total, f"caching track {spec.name}") as bar:
            for chrom, size in chrom_sizes.items():
                name = alias_chrom(chrom, chrom_alias)
                if name not in bw_sizes:
                    raise InputError(
                        f"bigWig of track {spec.name!r} ({spec.path}) has no chromosome {name!r}"
                    )
                for lo in range(0, size, _CHUNK):
                    hi = min(lo + _CHUNK, size)
                    v = np.zeros(hi - lo, dtype=np.float32)
                    bhi = min(hi, bw_sizes[name])
                    if bhi > lo:
                        v[: bhi - lo] = bw.values(name, lo, bhi, numpy=True)
                    np.nan_to_num(v, copy=False, nan=0.0)
                    if dtype == np.float16 and np.abs(v).max(initial=0.0) > _F16_MAX:
                        raise InputError(
                            f"track {spec.name!r} ({spec.path}) has values above {_F16_MAX:.0f}, "
                            "too large for a float16 cache: set data.cache_dtype: float32"
                        )
                    fh.write(v.astype(dtype, copy=False).tobytes())
                    bar.update(hi - lo)

    try:
        _write_atomic(entry / file, fill, total * dtype.itemsize)
    finally:
        bw.close()
    meta = {
        "version": CACHE_VERSION,
        "source": stamp,
        "nbytes": total * dtype.itemsize,
        "chroms": _offsets(chrom_sizes),
        "dtype": dtype.name,
        "file": file,
        "chrom_alias": chrom_alias,
    }
    write_atomic(entry / "meta.json", json.dumps(meta), what="cache index")
    return meta


def build_cache(
    genome: Genome,
    specs: Sequence[TrackSpec],
    cache_dir: str | os.PathLike,
    chroms: Sequence[str] | None = None,
    chrom_alias: ChromAlias = "none",
    dtype: Literal["float32", "float16"] = "float32",
) -> tuple[CachedGenome, CachedTracks]:
    """Build (or reuse) the cache of a genome and its tracks, and return readers of it.

    Parameters
    ----------
    genome : Genome
    specs : sequence of TrackSpec
    cache_dir : path
        Folder for the cache (created if missing).
    chroms : sequence of str, optional
        FASTA chromosomes to cache for the tracks (default: all).
    chrom_alias : {"none", "add_chr", "strip_chr"}
    dtype : {"float32", "float16"}
        Storage type of track values.

    Returns
    -------
    (CachedGenome, CachedTracks)
    """
    if dtype not in ("float32", "float16"):
        raise InputError(f"cache_dtype must be 'float32' or 'float16', not {dtype!r}")
    np_dtype = np.dtype(dtype)
    cache_dir = Path(cache_dir)
    ensure_writable_dir(cache_dir, "data.cache_dir")
    chroms = list(chroms) if chroms is not None else genome.chroms
    track_sizes = {c: genome.chrom_sizes[c] for c in chroms}
    with _locked(cache_dir):
        stamp = _source_stamp(genome.path)
        g_entry = cache_dir / f"genome-{_key('genome', stamp['path'])}"
        g_meta = _read_meta(g_entry, "codes.u8", stamp)
        if g_meta is None:
            log.info("building genome cache %s", g_entry)
            g_meta = _build_genome(genome, g_entry, stamp)
        t_entries, t_metas = [], []
        file = "values.f32" if dtype == "float32" else "values.f16"
        for spec in specs:
            stamp = _source_stamp(spec.path)
            entry = cache_dir / f"track-{_key('track', stamp['path'], chroms, chrom_alias, dtype)}"
            meta = _read_meta(entry, file, stamp)
            if meta is None:
                log.info("building track cache %s for %s", entry, spec.name)
                meta = _build_track(spec, track_sizes, chrom_alias, np_dtype, entry, stamp, file)
            t_entries.append(entry)
            t_metas.append(meta)
    return CachedGenome(g_entry, g_meta), CachedTracks(specs, t_entries, t_metas)
