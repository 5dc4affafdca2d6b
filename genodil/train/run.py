"""Build a run (data module, network, Lightning system, Trainer) from a config and fit it.

A run directory holds ``config.yaml`` (the resolved config), ``checkpoints/best.ckpt`` and
``last.ckpt``, and ``logs/`` (CSV; TensorBoard if installed).
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, Checkpoint, EarlyStopping, ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO

from genodil.errors import InputError

__all__ = ["AtomicCheckpointIO", "build_datamodule", "build_run", "train"]

log = logging.getLogger(__name__)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write checkpoints to a temporary file, then rename, so a kill never leaves half a file."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None
    ) -> None:
        path = Path(path)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        super().save_checkpoint(checkpoint, tmp, storage_options)
        os.replace(tmp, path)


class RngStateCallback(Callback):
    """Save and restore Python, numpy and torch RNG states, so a resumed run repeats exactly."""

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        # Plain types and tensors only, so the checkpoint loads with torch's weights_only=True.
        kind, keys, pos, has_gauss, cached = np.random.get_state()
        checkpoint["rng_states"] = {
            "python": random.getstate(),
            "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), pos, has_gauss, cached],
            "torch": torch.get_rng_state(),
        }

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
        states = checkpoint.get("rng_states")
        if states:
            kind, keys, pos, has_gauss, cached = states["numpy"]
            random.setstate(states["python"])
            np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
            torch.set_rng_state(states["torch"])


class LastCheckpoint(Checkpoint):
    """Write ``last.ckpt`` every ``every_n_steps`` optimiser steps and after every epoch."""

    def __init__(self, path: Path, every_n_steps: int | None) -> None:
        self.path = Path(path)
        self.every_n_steps = every_n_steps

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        n = self.every_n_steps
        if n and trainer.global_step > 0 and trainer.global_step % n == 0:
            trainer.save_checkpoint(self.path)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        trainer.save_checkpoint(self.path)


def _check_accelerator(accelerator: str) -> None:
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise InputError(
            f"train.accelerator is {accelerator!r} but no CUDA GPU is visible to PyTorch "
            f"(torch {torch.__version__}); set train.accelerator to auto or cpu, or install a "
            "CUDA build of PyTorch"
        )


def _precision(precision: str, accelerator: str) -> str:
    if precision != "auto":
        return precision
    on_gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    return "bf16-mixed" if on_gpu else "32-true"


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    tmp.write_text(text)
    os.replace(tmp, path)


def _data_kwargs(cfg) -> dict[str, Any]:
    return cfg.data.as_dict() if hasattr(cfg.data, "as_dict") else dict(cfg.data)


def build_datamodule(cfg):
    """The data module of a resolved config; its constructor validates every input file."""
    from genodil.data.datamodule import GenomeDataModule
    from genodil.data.tracks import TrackSpec

    data_kw = _data_kwargs(cfg)
    tracks = [TrackSpec(**t) for t in data_kw.pop("tracks")]
    return GenomeDataModule(tracks=tracks, **data_kw)


def build_run(cfg) -> tuple[Any, Any, dict[str, Any]]:
    """Make the data module and the Lightning system from a resolved config.

    Returns
    -------
    (GenomeDataModule, SeqModule, spec)
    """
    from genodil.models import DilatedResNet
    from genodil.train.module import SeqModule
    from genodil.train.settings import TrainSettings

    dm = build_datamodule(cfg)
    data_kw = _data_kwargs(cfg)
    tracks = dm.specs
    model_kw = cfg.model.as_dict() if hasattr(cfg.model, "as_dict") else dict(cfg.model)
    model_kw.update(
        n_tracks=len(dm.track_names),
        crop=data_kw.get("crop", 0),
        bin_size=data_kw.get("bin_size", 1),
        strand_pairs=dm.strand_pair_index,
    )
    model = DilatedResNet(**model_kw)
    model.check_input_length(data_kw["window"])
    settings_kw = cfg.train.as_dict() if hasattr(cfg.train, "as_dict") else dict(cfg.train)
    settings = TrainSettings(**settings_kw)
    if model.crop * 2 < model.receptive_field - 1:
        log.info(
            "crop %d bp per side is less than half the receptive field (%d bp): outputs near "
            "window edges see padding; training still works, prediction tiles use the crop",
            model.crop,
            model.receptive_field,
        )
    spec = {
        "model": model_kw,
        "data": {**data_kw, "tracks": [t.__dict__ for t in tracks]},
        "train": settings.to_dict(),
        "track_names": list(dm.track_names),
    }
    if settings.compile:
        model.compile()
    module = SeqModule(
        model,
        track_names=list(dm.track_names),
        loss=settings.loss,
        count_weight=settings.count_weight,
        lr=settings.lr,
        weight_decay=settings.weight_decay,
        warmup_steps=settings.warmup_steps,
        schedule=settings.schedule,
        min_lr_ratio=settings.min_lr_ratio,
        spec=spec,
    )
    return dm, module, spec


def _trainer(settings, run_dir: Path, extra: dict[str, Any] | None, progress: bool) -> L.Trainer:
    _check_accelerator(settings.accelerator)
    ckpt_dir = run_dir / "checkpoints"
    # A new logs/version_N per start, so a resumed run never overwrites earlier logs.
    loggers: list[Any] = [L.pytorch.loggers.CSVLogger(run_dir, name="logs")]
    try:
        import tensorboard  # noqa: F401

        loggers.append(L.pytorch.loggers.TensorBoardLogger(run_dir, name="logs/tensorboard"))
    except ImportError:
        pass
    callbacks: list[Callback] = [
        ModelCheckpoint(
            dirpath=ckpt_dir,
            filename="best",
            monitor=settings.monitor,
            mode=settings.resolved_monitor_mode,
            save_top_k=1,
            save_last=False,
            enable_version_counter=False,
            auto_insert_metric_name=False,
        ),
        LastCheckpoint(ckpt_dir / "last.ckpt", settings.checkpoint_every_n_steps),
        RngStateCallback(),
    ]
    if settings.early_stopping_patience is not None:
        callbacks.append(
            EarlyStopping(
                monitor=settings.monitor,
                mode=settings.resolved_monitor_mode,
                patience=settings.early_stopping_patience,
            )
        )
    devices = settings.devices
    n_devices = len(devices) if isinstance(devices, list) else devices
    multi = settings.num_nodes > 1 or "ddp" in str(settings.strategy)
    multi = multi or (isinstance(n_devices, int) and n_devices > 1)
    on_gpu = settings.accelerator in ("gpu", "cuda") or (
        settings.accelerator == "auto" and torch.cuda.is_available()
    )
    # SyncBatchNorm needs CUDA (NCCL); CPU DDP (gloo) keeps per-process BatchNorm statistics.
    sync_bn = multi and on_gpu if settings.sync_batchnorm is None else settings.sync_batchnorm
    kwargs: dict[str, Any] = {
        "default_root_dir": run_dir,
        "max_epochs": settings.max_epochs,
        "max_steps": settings.max_steps,
        "max_time": settings.max_time,
        "precision": _precision(settings.precision, settings.accelerator),
        "accelerator": settings.accelerator,
        "devices": devices,
        "num_nodes": settings.num_nodes,
        "strategy": settings.strategy,
        "sync_batchnorm": sync_bn,
        "gradient_clip_val": settings.gradient_clip_val,
        "accumulate_grad_batches": settings.accumulate_grad_batches,
        "limit_train_batches": settings.limit_train_batches,
        "limit_val_batches": settings.limit_val_batches,
        "val_check_interval": settings.val_check_interval,
        "log_every_n_steps": settings.log_every_n_steps,
        "deterministic": settings.deterministic,
        "callbacks": callbacks,
        "logger": loggers,
        "plugins": [AtomicCheckpointIO()],
        "enable_progress_bar": progress,
        "enable_model_summary": progress,
    }
    kwargs.update(extra or {})
    return L.Trainer(**kwargs)


def train(cfg, run_dir: str | os.PathLike, resume: bool = False, progress: bool = True) -> Path:
    """Fit a model as configured; returns the run directory.

    Parameters
    ----------
    cfg : jsonargparse.Namespace
        From :func:`genodil.config.load_config`.
    run_dir : path
        Where config.yaml, checkpoints/ and logs/ go.
    resume : bool
        Continue from ``run_dir/checkpoints/last.ckpt`` (optimizer, scheduler, epoch, step).
    """
    from genodil.config import dump_config
    from genodil.train.settings import TrainSettings

    run_dir = Path(run_dir)
    last = run_dir / "checkpoints" / "last.ckpt"
    if resume and not last.exists():
        raise InputError(
            f"--resume given but {last} does not exist; start the run without --resume"
        )
    if not resume and (run_dir / "checkpoints" / "best.ckpt").exists():
        raise InputError(
            f"run directory {run_dir} already holds a trained model; pass --resume to continue "
            "it or choose another --out"
        )
    train_kw = cfg.train.as_dict() if hasattr(cfg.train, "as_dict") else dict(cfg.train)
    settings = TrainSettings(**train_kw)
    if not progress:
        for name in ("lightning.pytorch", "lightning.fabric"):
            logging.getLogger(name).setLevel(logging.WARNING)
    L.seed_everything(settings.seed, workers=True, verbose=False)
    dm, module, _ = build_run(cfg)
    trainer = _trainer(settings, run_dir, cfg.get("trainer"), progress)
    if trainer.is_global_zero:
        run_dir.mkdir(parents=True, exist_ok=True)
        _write_atomic(run_dir / "config.yaml", dump_config(cfg))
    with warnings.catch_warnings():
        # Resuming into the run's own checkpoint folder is the point of --resume.
        warnings.filterwarnings("ignore", "Checkpoint directory .* exists and is not empty")
        # Lightning 2.6 calls a torch.utils._pytree API that torch 2.13 deprecates.
        warnings.filterwarnings("ignore", r".*isinstance\(treespec, LeafSpec\)")
        trainer.fit(module, datamodule=dm, ckpt_path=str(last) if resume else None)
    best = run_dir / "checkpoints" / "best.ckpt"
    if trainer.is_global_zero and not best.exists() and last.exists():
        # No validation ran (e.g. max_steps before the first epoch end): the last weights are
        # the best we have, and every later command expects best.ckpt.
        log.warning("no validation metric was logged; best.ckpt is a copy of last.ckpt")
        tmp = best.with_name(f".{best.name}.tmp-{os.getpid()}")
        shutil.copyfile(last, tmp)
        os.replace(tmp, best)
    return run_dir
