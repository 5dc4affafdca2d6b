"""GenomeDataModule: FASTA + bigWig tracks -> train/valid/test window loaders (DDP-aware).

Batches are dicts: ``seq`` float32 (B, 4, L), ``target`` float32 (B, T, L_out) with
L_out = (L - 2 * crop) // bin_size, ``chrom`` list[str], ``start``/``end`` int64 (B,) (the
input window, 0-based half-open). See docs/data.md for every key of the ``data:`` section.
"""

from __future__ import annotations

import difflib
import logging
import threading
from collections.abc import Mapping
from typing import Any, Literal

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

from genodil.data.dataset import (
    ResumableWindowLoader,
    WindowDataset,
    WindowLoader,
    WindowSampler,
    collate_windows,
)
from genodil.data.oversample import check_oversample, positive_slots, window_signal
from genodil.data.tracks import Tracks, TrackSpec, strand_pair_index, to_track_specs
from genodil.data.windows import (
    HELD_OUT,
    SPLITS,
    drop_blacklisted,
    filter_n_fraction,
    find_n_runs,
    region_windows,
    split_intervals,
    split_windows,
    tile_windows,
)
from genodil.errors import InputError
from genodil.genome.io import (
    CHROM_ALIASES,
    Genome,
    bigwig_chrom_sizes,
    check_chrom_agreement,
    read_bed,
)

__all__ = ["AUGMENT_KEYS", "GenomeDataModule", "check_augment"]

log = logging.getLogger(__name__)

AUGMENT_KEYS = ("reverse_complement", "max_shift", "jitter")


def check_augment(augment: Mapping[str, Any] | None) -> dict[str, Any]:
    """The ``data.augment`` mapping with every key filled in.

    Raises
    ------
    InputError
        An unknown key (naming the nearest one) or a value of the wrong kind.
    """
    out = {"reverse_complement": False, "max_shift": 0, "jitter": 0}
    for key, value in (augment or {}).items():
        if key not in AUGMENT_KEYS:
            near = difflib.get_close_matches(key, AUGMENT_KEYS, n=1)
            hint = f" (did you mean {near[0]!r}?)" if near else ""
            raise InputError(
                f"data.augment: unknown key {key!r}{hint}; valid keys: {', '.join(AUGMENT_KEYS)}"
            )
        if key == "reverse_complement":
            if not isinstance(value, bool):
                raise InputError(
                    f"data.augment.reverse_complement must be true or false, not {value!r}"
                )
            out[key] = value
        else:
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InputError(
                    f"data.augment.{key} must be a non-negative integer, not {value!r}"
                )
            out[key] = value
    return out


def _check_settings(
    window,
    crop,
    bin_size,
    stride,
    max_n_fraction,
    chrom_alias,
    cache_dtype,
    batch_size,
    num_workers,
    prefetch,
) -> int:
    """Check the scalar data settings; returns the stride (default: the output length)."""
    for name, value, low in (
        ("window", window, 1),
        ("crop", crop, 0),
        ("bin_size", bin_size, 1),
        ("batch_size", batch_size, 1),
        ("num_workers", num_workers, 0),
        ("prefetch", prefetch, 0),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise InputError(f"data.{name} must be an integer >= {low}, not {value!r}")
    if window - 2 * crop <= 0:
        raise InputError(
            f"data.crop ({crop}) leaves no output: window ({window}) must exceed 2 * crop"
        )
    if (window - 2 * crop) % bin_size:
        raise InputError(
            f"data.window - 2 * crop = {window - 2 * crop} is not divisible by data.bin_size "
            f"({bin_size}); change window, crop or bin_size"
        )
    if stride is None:
        stride = window - 2 * crop
    if isinstance(stride, bool) or not isinstance(stride, int) or stride < 1:
        raise InputError(f"data.stride must be a positive integer, not {stride!r}")
    if not 0.0 <= float(max_n_fraction) <= 1.0:
        raise InputError(f"data.max_n_fraction must lie in [0, 1], not {max_n_fraction!r}")
    if chrom_alias not in CHROM_ALIASES:
        raise InputError(
            f"data.chrom_alias must be one of {', '.join(CHROM_ALIASES)}, not {chrom_alias!r}"
        )
    if cache_dtype not in ("float32", "float16"):
        raise InputError(f"data.cache_dtype must be float32 or float16, not {cache_dtype!r}")
    return stride


class GenomeDataModule(L.LightningDataModule):
    """Windows of a genome and its coverage tracks, split by chromosome or region.

    Parameters
    ----------
    fasta : str
        Reference FASTA (a missing .fai index is built).
    tracks : list of TrackSpec or dict
        Coverage tracks (bigWig) and their transforms, see :class:`TrackSpec`.
    window : int
        Input length L (bp).
    crop : int
        Bases cut from each side of the window for the output region.
    bin_size : int
        Output resolution (bp); ``window - 2 * crop`` must be divisible by it.
    stride : int or None
        Tiling stride of the training split; default ``window - 2 * crop`` (output regions
        abut). Validation and test windows always tile with ``window - 2 * crop`` so every
        held-out base is scored once and metrics count no base twice.
    max_n_fraction : float
        Windows with a larger fraction of N bases are dropped.
    blacklist : str or None
        BED of regions to avoid: windows whose output region overlaps one are dropped.
    regions : str or None
        BED of regions (e.g. peaks): one window centred on each instead of tiling.
    splits : dict or None
        ``{"valid": [...], "test": [...]}``; entries are chromosome names or
        ``chrom:start-end`` regions. The rest trains (or ``train: [...]`` if given).
    augment : dict or None
        ``{"reverse_complement": bool, "max_shift": int, "jitter": int}``, training only.
    batch_size : int
        Windows per batch.
    num_workers : int
        DataLoader worker processes (0: load in the main process).
    in_memory : bool or None
        Hold the genome in memory as uint8 codes; None: automatic below 200 Mb.
    cache_dir : str or None
        Folder of a memory-mapped cache of the genome codes and track values.
    chrom_alias : {"none", "add_chr", "strip_chr"}
        How a FASTA chromosome name becomes a bigWig name (``1`` -> ``chr1`` is add_chr).
    seed : int
        Seed of shuffling and augmentation.
    chroms : list of str or None
        FASTA chromosomes to use (default: all); the others are ignored everywhere.
    cache_dtype : {"float32", "float16"}
        Storage type of cached track values.
    prefetch : int
        With ``num_workers: 0``, training batches a background thread prepares while the
        model computes (0: none); it lets a 2-core machine decode on one core while the other
        trains. Evaluation loaders read in the main thread.
    oversample : dict or None
        ``{"track": NAME, "fraction": 0.5, "min_signal": 0.0}``: draw about ``fraction`` of
        each training epoch from the windows where track NAME has signal (largest absolute
        raw bigWig value over the output region, widened by jitter + max_shift, above
        ``min_signal``), with repeats; the epoch keeps its length. Training only; None: off.
    """

    def __init__(
        self,
        fasta: str,
        tracks: list[TrackSpec],
        window: int = 32768,
        crop: int = 0,
        bin_size: int = 1,
        stride: int | None = None,
        max_n_fraction: float = 0.1,
        blacklist: str | None = None,
        regions: str | None = None,
        splits: dict[str, list[str]] | None = None,
        augment: dict | None = None,
        batch_size: int = 8,
        num_workers: int = 0,
        in_memory: bool | None = None,
        cache_dir: str | None = None,
        chrom_alias: Literal["none", "add_chr", "strip_chr"] = "none",
        seed: int = 0,
        chroms: list[str] | None = None,
        cache_dtype: Literal["float32", "float16"] = "float32",
        prefetch: int = 2,
        oversample: dict | None = None,
    ) -> None:
        super().__init__()
        stride = _check_settings(
            window, crop, bin_size, stride, max_n_fraction, chrom_alias, cache_dtype,
            batch_size, num_workers, prefetch,
        )  # fmt: skip

        self.fasta = str(fasta)
        self.specs = to_track_specs(tracks)
        self.window, self.crop, self.bin_size, self.stride = window, crop, bin_size, stride
        self.max_n_fraction = float(max_n_fraction)
        self.augment = check_augment(augment)
        reach = self.augment["jitter"] + self.augment["max_shift"]
        if reach > window // 2:
            raise InputError(
                f"data.augment.jitter + max_shift ({reach} bp) is more than half of data.window "
                f"({window} bp): windows would move off their targets' neighbourhood and, at "
                "chromosome ends, onto N padding with zero targets. Keep the shift to a small "
                "fraction of the window (a few to a few hundred bp)"
            )
        self.batch_size, self.num_workers, self.seed = batch_size, num_workers, seed
        self.prefetch = prefetch
        self.oversample = check_oversample(oversample, [s.name for s in self.specs])
        self._positive: np.ndarray | None = None
        self.cache_dir, self.cache_dtype = cache_dir, cache_dtype
        self.chrom_alias = chrom_alias

        self.genome = Genome(self.fasta, in_memory=in_memory)
        self.chrom_sizes = self._used_chroms(chroms)
        self.tracks = Tracks(self.specs, chrom_alias=chrom_alias)
        bw_sizes = {
            s.path: bigwig_chrom_sizes(s.path, f"bigWig of track {s.name!r}") for s in self.specs
        }
        check_chrom_agreement(
            self.fasta, self.genome.chrom_sizes, bw_sizes, self.chrom_sizes, chrom_alias
        )
        if window > max(self.chrom_sizes.values()):
            raise InputError(
                f"data.window ({window:,} bp) is longer than every chromosome of FASTA "
                f"{self.fasta} (the longest has {max(self.chrom_sizes.values()):,} bp): "
                "use a smaller window"
            )
        self.blacklist = (
            read_bed(blacklist, "blacklist BED", self.chrom_sizes) if blacklist else None
        )
        self.regions = read_bed(regions, "regions BED", self.chrom_sizes) if regions else None
        self.blacklist_path, self.regions_path = blacklist, regions
        self.splits = splits
        margin = self.augment["jitter"] + self.augment["max_shift"]
        self.intervals = split_intervals(self.chrom_sizes, splits, margin=margin)
        self._check_split_lengths()

        self.track_names = [s.name for s in self.specs]
        self.strand_pair_index = strand_pair_index(self.specs)
        self.output_length = (window - 2 * crop) // bin_size
        self._windows: dict[str, pd.DataFrame] | None = None
        self._datasets: dict[str, WindowDataset] = {}
        self._epoch = 0

    # ------------------------------------------------------------------ validation helpers
    def _used_chroms(self, chroms: list[str] | None) -> dict[str, int]:
        sizes = self.genome.chrom_sizes
        if chroms is None:
            return dict(sizes)
        if isinstance(chroms, str) or not chroms:
            raise InputError("data.chroms must be a non-empty list of chromosome names")
        for c in chroms:
            self.genome.check_chrom(c)
        return {c: sizes[c] for c in chroms}

    def _check_split_lengths(self) -> None:
        for name in HELD_OUT:
            iv = self.intervals[name]
            short = iv[(iv["end"] - iv["start"]) < self.window]
            if len(short) and self.regions is None:
                row = short.iloc[0]
                raise InputError(
                    f"data.splits.{name}: {row.chrom}:{row.start}-{row.end} "
                    f"({row.end - row.start:,} bp) is shorter than data.window ({self.window:,} bp)"
                    "; give a longer region or a smaller window"
                )
        train = self.intervals["train"]
        if not len(train) or (train["end"] - train["start"]).max() < self.window:
            raise InputError(
                f"no training interval of FASTA {self.fasta} is as long as data.window "
                f"({self.window:,} bp) once the held-out splits are removed: use a smaller "
                "window or hold out less"
            )

    # ------------------------------------------------------------------ windows
    def _build_windows(self) -> dict[str, pd.DataFrame]:
        if self.regions is not None:
            base = region_windows(self.regions, self.window, self.chrom_sizes)
            if not len(base):
                raise InputError(
                    f"regions BED {self.regions_path}: every region lies on a chromosome shorter "
                    f"than data.window ({self.window:,} bp)"
                )
            tables = split_windows(base, self.intervals)
        else:
            out_span = self.window - 2 * self.crop
            tables = {
                name: tile_windows(
                    self.intervals[name], self.window, self.stride if name == "train" else out_span
                )
                for name in SPLITS
            }
        n_runs = None
        if self.max_n_fraction < 1.0:
            n_runs = find_n_runs(self._seq_source)
        for name, df in tables.items():
            n0 = len(df)
            if n_runs is not None:
                df = filter_n_fraction(df, n_runs, self.chrom_sizes, self.max_n_fraction)
            n1 = len(df)
            if self.blacklist is not None:
                df = drop_blacklisted(df, self.blacklist, self.crop)
            n2 = len(df)
            if n0 and not n2:
                why = (
                    f"more than {self.max_n_fraction:.0%} N (data.max_n_fraction)"
                    if not n1
                    else f"overlap the blacklist {self.blacklist_path}"
                )
                raise InputError(f"every {name} window was dropped: they {why}")
            log.info(
                "%s: %d windows (%d N-rich, %d blacklisted dropped)", name, n2, n0 - n1, n1 - n2
            )
            tables[name] = df[["chrom", "start", "end"]].reset_index(drop=True)
        if not len(tables["train"]):
            raise InputError(
                f"no training window: check data.regions ({self.regions_path}) and data.splits"
            )
        asked = {"valid" if k in ("val", "validation") else k for k in (self.splits or {})}
        for name in HELD_OUT:
            if name in asked and not len(tables[name]):
                raise InputError(
                    f"data.splits.{name} gives no window (regions BED {self.regions_path} "
                    "has none inside it?)"
                )
        return tables

    def _prepare_sources(self) -> None:
        if hasattr(self, "_seq_source"):
            return
        if self.cache_dir is not None:
            from genodil.data.cache import build_cache

            self._seq_source, self._track_source = build_cache(
                self.genome,
                self.specs,
                self.cache_dir,
                chroms=list(self.chrom_sizes),
                chrom_alias=self.chrom_alias,
                dtype=self.cache_dtype,
            )
        else:
            self.genome.preload()
            self._seq_source, self._track_source = self.genome, self.tracks

    def setup(self, stage: str | None = None) -> None:
        """Open the sources (and build the cache) and build the window tables, once.

        With ``stage="fit"`` also find the positive windows of ``data.oversample``.
        """
        self._prepare_sources()
        if self._windows is None:
            self._windows = self._build_windows()
            aug = self.augment
            for name in SPLITS:
                train = name == "train"
                self._datasets[name] = WindowDataset(
                    self._seq_source,
                    self._track_source,
                    self._windows[name],
                    crop=self.crop,
                    bin_size=self.bin_size,
                    strand_pairs=self.strand_pair_index,
                    reverse_complement=aug["reverse_complement"] and train,
                    max_shift=aug["max_shift"] if train else 0,
                    jitter=aug["jitter"] if train else 0,
                    seed=self.seed,
                )

        if stage == "fit":
            self.positive_windows()

    def positive_windows(self) -> np.ndarray | None:
        """Which training windows count as having signal under ``data.oversample``, once.

        Returns
        -------
        np.ndarray of bool, shape (n_train,), or None when oversampling is off or every
        window has signal (then it cannot change the draw; a warning says so).

        Raises
        ------
        InputError
            No training window has signal on the track.
        """
        if self.oversample is None:
            return None
        if self._positive is not None:
            return self._positive if len(self._positive) else None
        self.setup()
        opts, windows = self.oversample, self._windows["train"]
        spec = self.specs[[s.name for s in self.specs].index(opts["track"])]
        pad = self.crop - self.augment["jitter"] - self.augment["max_shift"]
        signal = window_signal(spec.path, windows, pad, pad, self.chrom_alias)
        positive = signal > opts["min_signal"]
        n, n_pos = len(positive), int(positive.sum())
        if not n_pos:
            raise InputError(
                f"data.oversample: none of the {n} training windows has a value above "
                f"min_signal ({opts['min_signal']:g}) on track {spec.name!r} ({spec.path}) "
                "over its output region: lower data.oversample.min_signal, name a track with "
                "signal on the training chromosomes, or remove data.oversample"
            )
        log.info(
            "oversample: %d of %d training windows have signal on %s; drawing %.0f%% "
            "(%d) of each epoch from them",
            n_pos, n, spec.name, 100 * opts["fraction"], positive_slots(n, opts["fraction"]),
        )  # fmt: skip
        if n_pos == n:
            log.warning(
                "data.oversample: every training window has signal on track %r above "
                "min_signal %g, so oversampling changes nothing; raise min_signal to pick "
                "the windows with the most signal",
                spec.name,
                opts["min_signal"],
            )
            self._positive = np.zeros(0, dtype=bool)
            return None
        self._positive = positive
        return positive

    def windows(self, split: str) -> pd.DataFrame:
        """The window table of ``split`` (train, valid, test): columns chrom, start, end."""
        split = {"val": "valid", "validation": "valid"}.get(split, split)
        if split not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
        self.setup()
        return self._windows[split].copy()

    def dataset(self, split: str) -> WindowDataset:
        """The WindowDataset of ``split`` (augmented for train)."""
        split = {"val": "valid", "validation": "valid"}.get(split, split)
        self.setup()
        return self._datasets[split]

    # ------------------------------------------------------------------ loaders
    def set_epoch(self, epoch: int) -> None:
        """Epoch for loaders built afterwards (Lightning also sets it on the sampler)."""
        self._epoch = int(epoch)

    def _rank(self) -> tuple[int, int]:
        trainer = getattr(self, "trainer", None)
        if trainer is not None:
            return int(trainer.world_size), int(trainer.global_rank)
        import torch.distributed as dist

        if dist.is_available() and dist.is_initialized():
            return dist.get_world_size(), dist.get_rank()
        return 1, 0

    def _loader(self, split: str, train: bool) -> WindowLoader:
        ds = self.dataset(split)
        world, rank = self._rank()
        sampler = WindowSampler(
            ds,
            num_replicas=world,
            rank=rank,
            shuffle=train,
            seed=self.seed,
            drop_last=train,
            with_epoch=train,
            positive=self.positive_windows() if train else None,
            fraction=self.oversample["fraction"] if self.oversample else 0.5,
        )
        trainer = getattr(self, "trainer", None)
        sampler.set_epoch(trainer.current_epoch if trainer is not None else self._epoch)
        # The loader's own generator: making an iterator then draws its base seed from it, not
        # from torch's global RNG, so dropout masks after a resume match an uninterrupted run.
        generator = torch.Generator()
        generator.manual_seed(self.seed)
        kwargs: dict[str, Any] = {
            "batch_size": self.batch_size,
            "sampler": sampler,
            "num_workers": self.num_workers,
            "persistent_workers": self.num_workers > 0,
            "collate_fn": collate_windows,
            "generator": generator,
            "prefetch": self.prefetch if train else 0,
            "io_lock": self._io_lock(),
        }
        if train and trainer is not None:
            return ResumableWindowLoader(ds, progress=self._train_progress, **kwargs)
        return WindowLoader(ds, **kwargs)

    def _train_progress(self) -> tuple[int, int, bool]:
        """(epoch, batches trained in it, epoch finished) of the attached Trainer."""
        trainer = self.trainer
        done = trainer.fit_loop.epoch_loop.batch_progress.current.processed
        return trainer.current_epoch, done, done >= trainer.num_training_batches

    def _io_lock(self) -> threading.Lock:
        """One reader at a time of this process's shared file handles (not pickled)."""
        return self.__dict__.setdefault("_lock", threading.Lock())

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state.pop("_lock", None)
        return state

    def train_dataloader(self) -> DataLoader:
        """Shuffled, augmented training windows; this rank's share under DDP."""
        return self._loader("train", train=True)

    def _eval_loader(self, split: str) -> DataLoader | list:
        if not len(self.dataset(split)):
            return []
        return self._loader(split, train=False)

    def val_dataloader(self) -> DataLoader | list:
        """Validation windows in order, no augmentation (an empty list without a valid split)."""
        return self._eval_loader("valid")

    def test_dataloader(self) -> DataLoader | list:
        """Test windows in order, no augmentation (an empty list without a test split)."""
        return self._eval_loader("test")

    def teardown(self, stage: str | None = None) -> None:
        """Close the bigWig handles of this process."""
        self.tracks.close()
