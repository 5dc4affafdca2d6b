"""WindowDataset: one-hot DNA windows and their per-base targets; WindowSampler for DDP.

Tensor contract of one item (a dict):

- ``seq``: float32 (4, L), rows A, C, G, T; N is an all-zero column.
- ``target``: float32 (T, L_out), L_out = (L - 2 * crop) // bin_size, the transformed track
  values over the output region ``[start + crop, end - crop)``.
- ``chrom`` (str), ``start``, ``end`` (int): the INPUT window actually read, after jitter
  and shift, 0-based half-open. A reverse-complemented item keeps the forward coordinates.

Augmentation (training only): ``jitter`` and ``max_shift`` move the whole window (sequence and
targets together, so targets stay aligned at single-base resolution) by a random offset in
``[-(jitter + max_shift), jitter + max_shift]``; ``reverse_complement`` flips half of the items:
the sequence is reverse-complemented, the targets are reversed along the length and strand
pairs (e.g. RNA + / -) swap rows. The random draws depend only on ``(seed, epoch, index)``,
so a run is reproducible whatever the number of workers or ranks. The epoch reaches the
workers with the index: :class:`WindowSampler` yields ``(index, epoch)`` pairs.

File handles (pyfaidx, pyBigWig, memory maps) are opened lazily in each worker process.

Batches: the DataLoader calls :meth:`WindowDataset.__getitems__`, which writes every window
straight into the batch tensors (no per-item tensors, no stacking); use
:func:`collate_windows` as the loader's ``collate_fn``.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np
import pandas as pd
import torch
from torch.utils.data import (
    DataLoader,
    Dataset,
    DistributedSampler,
    default_collate,
    get_worker_info,
)

from genodil.data.oversample import oversample_order
from genodil.data.prefetch import Prefetcher
from genodil.data.tracks import TrackSpec, transform_tracks

__all__ = [
    "ResumableWindowLoader",
    "SequenceSource",
    "TrackSource",
    "WindowDataset",
    "WindowLoader",
    "WindowSampler",
    "collate_windows",
]

_ARANGE4 = np.arange(4, dtype=np.uint8)[:, None]


def _reversed_bytes(codes: np.ndarray) -> np.ndarray:
    """A reversed copy of a uint8 array (byte-swapping 8-byte words is ~3x faster)."""
    if codes.size % 8 == 0:
        return codes.view(np.uint64)[::-1].byteswap().view(np.uint8)
    return codes[::-1].copy()


class _BufferPool:
    """Reuses batch arrays that nobody references any more (main process only).

    Filling freshly allocated memory costs a page fault per 4 KiB, which made a new 8 MB batch
    several times slower to fill than a reused one on the machines measured here. An array
    handed out as a tensor (``torch.from_numpy``) is referenced by that tensor's storage for
    as long as the tensor or any view of it lives; once its reference count is back to the
    pool's own, no one can see it and it is reused.
    """

    def __init__(self, max_per_shape: int = 4) -> None:
        self.max_per_shape = max_per_shape
        self._arrays: dict[tuple, list[np.ndarray]] = {}

    def __getstate__(self) -> dict:
        return {"max_per_shape": self.max_per_shape, "_arrays": {}}

    def get(self, shape: tuple[int, ...], dtype: type = np.float32) -> np.ndarray:
        """An array of ``shape`` and ``dtype`` that no one else references."""
        arrays = self._arrays.setdefault((*shape, np.dtype(dtype).str), [])
        for a in arrays:
            # references: the list, the loop variable and getrefcount's argument
            if sys.getrefcount(a) <= 3:
                return a
        a = np.empty(shape, dtype=dtype)
        if len(arrays) < self.max_per_shape:
            arrays.append(a)
        return a


class SequenceSource(Protocol):
    """What the dataset needs from a genome (``Genome`` or ``CachedGenome``)."""

    chrom_sizes: dict[str, int]

    def fetch(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Base codes of ``chrom:start-end``, padded with N past the ends; shape (end - start,)."""
        ...

    def read_raw(self, chrom: str, start: int, end: int) -> np.ndarray:
        """Base codes of ``chrom:start-end`` inside the chromosome; shape (end - start,)."""
        ...


class TrackSource(Protocol):
    """What the dataset needs from tracks (``Tracks`` or ``CachedTracks``)."""

    specs: list[TrackSpec]

    def values(self, chrom: str, start: int, end: int, out: np.ndarray | None = None) -> np.ndarray:
        """Transformed values of every track over ``chrom:start-end``; shape (T, end - start)."""
        ...


class WindowDataset(Dataset):
    """Map-style dataset over a window table.

    Parameters
    ----------
    genome : Genome or CachedGenome
    tracks : Tracks or CachedTracks
    windows : pd.DataFrame
        Columns chrom, start, end; every window has length ``end - start`` = L.
    crop : int
        Bases cut from each side of the input window to give the output region.
    bin_size : int
        Output resolution; ``L - 2 * crop`` must be divisible by it.
    strand_pairs : list of int or None
        Track permutation applied under reverse complement.
    reverse_complement : bool
        Reverse-complement half of the items (training augmentation).
    max_shift : int
        Largest random shift per item (bases, each way).
    jitter : int
        Largest random per-epoch move of each window (bases, each way).
    seed : int
        Seed of all random draws.
    """

    def __init__(
        self,
        genome: SequenceSource,
        tracks: TrackSource,
        windows: pd.DataFrame,
        crop: int = 0,
        bin_size: int = 1,
        strand_pairs: Sequence[int] | None = None,
        reverse_complement: bool = False,
        max_shift: int = 0,
        jitter: int = 0,
        seed: int = 0,
    ) -> None:
        self.genome = genome
        self.tracks = tracks
        lengths = (windows["end"] - windows["start"]).unique()
        if len(lengths) > 1:
            raise ValueError(f"windows have different lengths: {sorted(lengths)[:5]}")
        self.window = int(lengths[0]) if len(lengths) else 0
        self.crop = int(crop)
        self.bin_size = int(bin_size)
        if len(windows) and (self.window - 2 * self.crop) % self.bin_size:
            raise ValueError("window - 2 * crop must be divisible by bin_size")
        self.output_length = max(self.window - 2 * self.crop, 0) // self.bin_size
        codes, uniques = pd.factorize(windows["chrom"])
        self._chrom_names: list[str] = [str(c) for c in uniques]
        self._chrom_idx = np.asarray(codes, dtype=np.int32)
        self._starts = windows["start"].to_numpy(dtype=np.int64).copy()
        self.strand_pairs = list(strand_pairs) if strand_pairs is not None else None
        self.reverse_complement = bool(reverse_complement)
        self.max_shift = int(max_shift)
        self.jitter = int(jitter)
        self.seed = int(seed)
        self.epoch = 0
        self._aug_epoch: int | None = None
        self._aug: tuple[np.ndarray, np.ndarray] | None = None
        self._identity = all(s.is_identity() for s in tracks.specs)
        n_tracks = len(tracks.specs)
        # track j goes to row pairs[j] under reverse complement (pairs is an involution)
        self._pairs = self.strand_pairs if self.strand_pairs is not None else list(range(n_tracks))
        self._specs_flipped = [tracks.specs[self._pairs[i]] for i in range(n_tracks)]
        self._pool = _BufferPool()

    def __len__(self) -> int:
        return len(self._starts)

    @property
    def augments(self) -> bool:
        """True when any augmentation is on."""
        return self.reverse_complement or self.max_shift > 0 or self.jitter > 0

    def set_epoch(self, epoch: int) -> None:
        """Epoch used by items requested with a plain integer index."""
        self.epoch = int(epoch)

    def augmentation(self, epoch: int) -> tuple[np.ndarray, np.ndarray]:
        """The offsets and reverse-complement flags of every window in ``epoch``.

        Returns
        -------
        offsets : np.ndarray, shape (N,), int64
        flip : np.ndarray, shape (N,), bool
        """
        if self._aug_epoch != epoch or self._aug is None:
            n = len(self)
            rng = np.random.default_rng([self.seed, epoch])
            reach = self.jitter + self.max_shift
            offsets = (
                rng.integers(-self.jitter, self.jitter + 1, n)
                + rng.integers(-self.max_shift, self.max_shift + 1, n)
                if reach
                else np.zeros(n, np.int64)
            )
            flip = rng.random(n) < 0.5 if self.reverse_complement else np.zeros(n, bool)
            self._aug, self._aug_epoch = (offsets.astype(np.int64), flip), epoch
        return self._aug

    def _codes(self, chrom: str, start: int, end: int) -> np.ndarray:
        if start >= 0 and end <= self.genome.chrom_sizes[chrom]:
            return self.genome.read_raw(chrom, start, end)
        return self.genome.fetch(chrom, start, end)

    def _locate(self, index: int | tuple[int, int]) -> tuple[str, int, bool]:
        """Chromosome, start (after jitter and shift) and flip flag of one request."""
        if isinstance(index, tuple):
            index, epoch = index
        else:
            epoch = self.epoch
        index = int(index)
        if index < 0:
            index += len(self)
        chrom = self._chrom_names[self._chrom_idx[index]]
        start = int(self._starts[index])
        flip = False
        if self.augments:
            offsets, flips = self.augmentation(epoch)
            start += int(offsets[index])
            flip = bool(flips[index])
        return chrom, start, flip

    def _scratch(self) -> np.ndarray:
        """A per-process buffer for raw track values, shape (T, L - 2 * crop)."""
        shape = (len(self.tracks.specs), self.window - 2 * self.crop)
        buf = getattr(self, "_buf", None)
        if buf is None or buf.shape != shape:
            buf = self._buf = np.empty(shape, dtype=np.float32)
        return buf

    def _seq_codes(self, chrom: str, start: int, flip: bool) -> np.ndarray:
        """Base codes of the window, reverse-complemented under ``flip``, shape (L,).

        Under ``flip`` an N becomes 255 instead of 4; one-hot maps both to zeros.
        """
        codes = self._codes(chrom, start, start + self.window)  # (L,) uint8 0..4
        if flip:
            # complement of 0..3 is 3 - c; N (4) wraps to 255
            codes = _reversed_bytes(codes)
            np.subtract(np.uint8(3), codes, out=codes)
        return codes

    def _fill(self, chrom: str, start: int, flip: bool, seq: np.ndarray, target: np.ndarray):
        """Write one window's one-hot sequence (4, L) and targets (T, L_out) in place."""
        codes = self._seq_codes(chrom, start, flip)
        np.equal(codes[None, :], _ARANGE4, out=seq, casting="unsafe")  # (4, L)
        self._fill_target(chrom, start, flip, target)

    def _fill_target(self, chrom: str, start: int, flip: bool, target: np.ndarray) -> None:
        """Write one window's targets (T, L_out) in place."""
        end = start + self.window
        pairs = self._pairs
        lo, hi = start + self.crop, end - self.crop  # the output region
        if self.bin_size == 1:
            # read straight into the target rows (reversed and swapped under flip), then
            # transform in place: no extra pass over the values
            if flip:
                self.tracks.values(chrom, lo, hi, out=[target[p, ::-1] for p in pairs])
                specs = self._specs_flipped
            else:
                self.tracks.values(chrom, lo, hi, out=target)
                specs = self.tracks.specs
            if not self._identity:
                transform_tracks(target, specs, 1, inplace=True)
            return
        raw = self.tracks.values(chrom, lo, hi, out=self._scratch())  # (T, L - 2 crop)
        pooled = transform_tracks(raw, self.tracks.specs, self.bin_size, inplace=True)
        if flip:
            for j, p in enumerate(pairs):
                target[p] = pooled[j, ::-1]  # (L_out,)
        else:
            target[...] = pooled  # (T, L_out)

    def _alloc(self, shape: tuple[int, ...], dtype: type = np.float32) -> torch.Tensor:
        """An uninitialised tensor: from the buffer pool, or in shared memory in a worker."""
        if get_worker_info() is None:
            return torch.from_numpy(self._pool.get(shape, dtype))
        # in a worker, allocate in shared memory as default_collate does (no copy on return)
        storage = torch.UntypedStorage._new_shared(math.prod(shape) * np.dtype(dtype).itemsize)
        empty = torch.from_numpy(np.empty(0, dtype=dtype))
        return empty.set_(storage).view(shape)

    def __getitem__(self, index: int | tuple[int, int]) -> dict:
        """One window: seq (4, L), target (T, L_out), chrom, start, end."""
        chrom, start, flip = self._locate(index)
        seq = np.empty((4, self.window), dtype=np.float32)
        target = np.empty((len(self.tracks.specs), self.output_length), dtype=np.float32)
        self._fill(chrom, start, flip, seq, target)
        return {
            "seq": torch.from_numpy(seq),
            "target": torch.from_numpy(target),
            "chrom": chrom,
            "start": start,
            "end": start + self.window,
        }

    def __getitems__(self, indices: Sequence[int | tuple[int, int]]) -> dict:
        """A whole batch, assembled in place (DataLoader calls this instead of collating).

        In a DataLoader worker the batch carries ``codes`` (B, L) uint8 instead of ``seq``:
        a quarter of the bytes through shared memory; :class:`WindowLoader` one-hot encodes
        them in the main process.

        Returns
        -------
        dict with seq (B, 4, L) float32 (or codes (B, L) uint8), target (B, T, L_out) float32,
        chrom list[str], start/end int64 (B,).
        """
        n = len(indices)
        in_worker = get_worker_info() is not None
        if in_worker:
            first = self._alloc((n, self.window), np.uint8)
        else:
            first = self._alloc((n, 4, self.window))
        target = self._alloc((n, len(self.tracks.specs), self.output_length))
        first_np, target_np = first.numpy(), target.numpy()
        chroms, starts = [], []
        for b, index in enumerate(indices):
            chrom, start, flip = self._locate(index)
            codes = self._seq_codes(chrom, start, flip)
            if in_worker:
                first_np[b] = codes
            else:
                np.equal(codes[None, :], _ARANGE4, out=first_np[b], casting="unsafe")  # (4, L)
            self._fill_target(chrom, start, flip, target_np[b])
            chroms.append(chrom)
            starts.append(start)
        start_t = torch.tensor(starts, dtype=torch.int64)
        return {
            "codes" if in_worker else "seq": first,
            "target": target,
            "chrom": chroms,
            "start": start_t,
            "end": start_t + self.window,
        }

    def finish_batch(self, batch: dict) -> dict:
        """Turn a worker's batch (``codes``) into the batch contract (``seq``), in place."""
        if "codes" not in batch:
            return batch
        codes = batch.pop("codes").numpy()  # (B, L) uint8
        seq = self._pool.get((codes.shape[0], 4, codes.shape[1]))
        np.equal(codes[:, None, :], _ARANGE4, out=seq, casting="unsafe")  # (B, 4, L)
        return {"seq": torch.from_numpy(seq), **batch}


class WindowLoader(DataLoader):
    """DataLoader over a :class:`WindowDataset` that finishes worker batches.

    Workers send base codes (uint8) rather than one-hot floats; this loader one-hot encodes
    them in the main process, so every batch follows the contract (``seq`` float32
    (B, 4, L)). Use it with ``collate_fn=collate_windows``.


    Parameters
    ----------
    *args, **kwargs
        As :class:`torch.utils.data.DataLoader`.
    prefetch : int
        With ``num_workers=0``, batches a background thread prepares ahead of the consumer
        (:class:`genodil.data.prefetch.Prefetcher`), so decoding overlaps the training step;
        0 loads in the consumer's thread. Ignored with worker processes.
    io_lock : threading.Lock or None
        Held while a batch is read in this process (num_workers 0), so loaders that share
        file handles never read them from two threads at once.
    """

    def __init__(self, *args, prefetch: int = 0, io_lock: Any = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.prefetch = int(prefetch)
        self.io_lock = io_lock

    def __iter__(self) -> Iterator[dict]:
        it = super().__iter__()
        if self.num_workers > 0:
            return (self.dataset.finish_batch(b) for b in it)
        if self.io_lock is not None:
            it = _locked(it, self.io_lock)
        return iter(Prefetcher(it, self.prefetch)) if self.prefetch > 0 else it


def _locked(it: Iterator[dict], lock: Any) -> Iterator[dict]:
    while True:
        with lock:
            batch = next(it, None)
        if batch is None:
            return
        yield batch


class ResumableWindowLoader(WindowLoader):
    """Training loader whose position inside an epoch is saved in checkpoints.

    Lightning stores :meth:`state_dict` in every checkpoint and hands it back to
    :meth:`load_state_dict` on resume; the sampler then skips the batches of that epoch that
    were already trained on, so a run resumed mid-epoch sees the same batches, in the same
    order, as an uninterrupted run (the items themselves depend only on seed, epoch and index).

    Parameters
    ----------
    *args, **kwargs
        As for :class:`WindowLoader`; ``sampler`` must be a :class:`WindowSampler`.
    progress : callable or None
        Returns ``(epoch, batches_done, epoch_finished)`` of the training loop when a
        checkpoint is written.
    """

    def __init__(self, *args, progress=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.progress = progress

    def state_dict(self) -> dict[str, int]:
        """``{"epoch", "batches"}``: batches of ``epoch`` already trained on."""
        if self.progress is None:
            return {"epoch": -1, "batches": 0}
        epoch, batches, finished = self.progress()
        return {"epoch": -1 if finished else int(epoch), "batches": int(batches)}

    def load_state_dict(self, state: dict[str, int]) -> None:
        """Skip the first ``batches`` batches the next time ``epoch`` is iterated."""
        if state.get("epoch", -1) >= 0 and state.get("batches", 0) > 0:
            self.sampler.skip_next(int(state["epoch"]), int(state["batches"]) * self.batch_size)


def collate_windows(data: dict | list[dict]) -> dict:
    """Collate function of window loaders: a batch from ``__getitems__`` passes through."""
    if isinstance(data, dict):
        return data
    return default_collate(data)


class WindowSampler(DistributedSampler):
    """Index sampler for one rank; shuffles by ``(seed, epoch)`` and yields the epoch too.

    It subclasses ``DistributedSampler`` so Lightning uses it as is under DDP (no second
    sampler is injected) and calls :meth:`set_epoch` every epoch.

    Rank ``r`` of ``R`` takes positions ``r, r + R, ...`` of the (shuffled) order, so the
    shares of the ranks are disjoint. With ``drop_last`` (training) the order is first cut to
    a multiple of ``R`` so every rank runs the same number of steps; without it (evaluation)
    nothing is repeated or dropped and the shares differ in length by at most one.

    Parameters
    ----------
    dataset : WindowDataset
    num_replicas, rank : int
        Number of ranks and this rank.
    shuffle : bool
    seed : int
    drop_last : bool
    with_epoch : bool
        Yield ``(index, epoch)`` pairs (for augmentation) instead of plain indices.
    positive : np.ndarray of bool or None
        With ``shuffle``: which windows carry signal on the over-represented track; each
        epoch's order is then :func:`genodil.data.oversample.oversample_order` (as many
        windows as the dataset holds, ``fraction`` of them positive, drawn by
        ``(seed, epoch)``) and the ranks take their shares of it as above.
    fraction : float
        Share of each epoch drawn from the ``positive`` windows.
    """

    def __init__(
        self,
        dataset: Dataset,
        num_replicas: int = 1,
        rank: int = 0,
        shuffle: bool = True,
        seed: int = 0,
        drop_last: bool = False,
        with_epoch: bool = False,
        positive: np.ndarray | None = None,
        fraction: float = 0.5,
    ) -> None:
        super().__init__(
            dataset,
            num_replicas=num_replicas,
            rank=rank,
            shuffle=shuffle,
            seed=seed,
            drop_last=drop_last,
        )
        self.with_epoch = with_epoch
        self.positive = None if positive is None else np.asarray(positive, dtype=bool)
        if self.positive is not None and len(self.positive) != len(dataset):
            raise ValueError(f"{len(self.positive)} positive flags for {len(dataset)} windows")
        self.fraction = float(fraction)
        self._skip: tuple[int, int] | None = None

    def skip_next(self, epoch: int, n_items: int) -> None:
        """Leave out the first ``n_items`` of this rank's share the next time ``epoch`` runs.

        Used to resume mid-epoch; forgotten after the next iteration, whatever its epoch.
        """
        self._skip = (int(epoch), int(n_items))

    def _indices(self) -> list[int]:
        n = len(self.dataset)
        if self.shuffle and self.positive is not None:
            order = oversample_order(self.positive, self.fraction, self.seed, self.epoch).tolist()
        elif self.shuffle:
            g = torch.Generator()
            g.manual_seed(self.seed + self.epoch)
            order = torch.randperm(n, generator=g).tolist()
        else:
            order = list(range(n))
        if self.drop_last:
            order = order[: n - n % self.num_replicas]
        return order[self.rank :: self.num_replicas]

    def __iter__(self) -> Iterator[int | tuple[int, int]]:
        idx = self._indices()
        if self._skip is not None:
            epoch, n_items = self._skip
            self._skip = None
            if epoch == self.epoch:
                idx = idx[n_items:]
        if self.with_epoch:
            return iter([(i, self.epoch) for i in idx])
        return iter(idx)

    def __len__(self) -> int:
        n = len(self.dataset)
        if self.drop_last:
            return n // self.num_replicas
        return len(range(self.rank, n, self.num_replicas))
