"""Build a run (data module, network, Lightning system, Trainer) from a config and fit it.

A run directory holds ``config.yaml`` (the resolved config), ``checkpoints/best.ckpt`` and
``last.ckpt``, and ``logs/`` (CSV; TensorBoard if installed).

Safety of a run directory (docs/reliability.md):

- a folder that already holds run state is never reused without ``resume`` or ``overwrite``;
- ``resume`` compares the new config with the run's ``config.yaml`` before anything is written
  and refuses any change except :data:`SAFE_RESUME_KEYS`;
- resuming mid-epoch is exact: the training loader saves its position, every loader draws its
  seed from its own generator, and ``last.ckpt`` is never written at a step that a validation
  follows, so a validation cut short by a kill always runs again on resume;
- the first SIGINT stops at the next step boundary, writes ``last.ckpt`` and raises
  :class:`TrainingInterrupted` (the CLI exits 130); a second one aborts at once.
"""

from __future__ import annotations

import logging
import os
import random
import shutil
import signal
import sys
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import yaml
from lightning.pytorch.callbacks import Callback, Checkpoint, EarlyStopping, ModelCheckpoint
from lightning.pytorch.plugins.io import TorchCheckpointIO
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from genodil.config import RunConfig, build_datamodule, build_model
from genodil.data.tracks import track_loss_weights
from genodil.errors import InputError
from genodil.outputs import atomic_output, ensure_writable_dir, write_atomic

__all__ = [
    "SAFE_RESUME_KEYS",
    "AtomicCheckpointIO",
    "TrainingInterrupted",
    "build_run",
    "train",
]

# Config keys that may change on --resume: they only move where training stops (and with it
# the end of the cosine or wsd learning-rate schedule, which spans the whole run).
SAFE_RESUME_KEYS = ("train.max_epochs", "train.max_steps", "train.max_time")


class TrainingInterrupted(KeyboardInterrupt):
    """Training stopped on SIGINT; the message says what was saved and how to resume."""


class _StopRequested(Exception):
    """Raised inside ``fit`` once last.ckpt is saved after a SIGINT."""


class _InterruptFlag:
    """First SIGINT sets the flag (training stops at the next step); the second aborts."""

    def __init__(self) -> None:
        self.set = False
        self._previous = None

    def _handle(self, signum, frame) -> None:
        if self.set:
            raise KeyboardInterrupt
        self.set = True
        print(
            "genodil train: stopping after this step to save last.ckpt "
            "(Ctrl-C again aborts without saving)",
            flush=True,
            file=sys.stderr,
        )

    def __enter__(self) -> None:
        try:
            self._previous = signal.signal(signal.SIGINT, self._handle)
        except ValueError:  # not the main thread: leave signals alone
            self._previous = None

    def __exit__(self, *exc) -> None:
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)


log = logging.getLogger(__name__)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Write checkpoints to a temporary file, then rename, so a kill never leaves half a file."""

    def save_checkpoint(
        self, checkpoint: dict[str, Any], path: str | os.PathLike, storage_options: Any = None
    ) -> None:
        """Save ``checkpoint`` to a temporary file beside ``path``, then rename it to ``path``."""
        with atomic_output(path, what="checkpoint") as tmp:
            super().save_checkpoint(checkpoint, tmp, storage_options)


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


class ModelSummaryFile(Callback):
    """Write Lightning's model summary table to ``path`` (the run's log), not to the screen."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_fit_start(self, trainer, pl_module) -> None:
        from lightning.pytorch.utilities.model_summary import ModelSummary

        if trainer.is_global_zero:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with warnings.catch_warnings():
                # bf16: "Estimated model size in MB will not be accurate" (it is per fp32)
                warnings.filterwarnings("ignore", "Precision .* is not supported by the model")
                text = f"{ModelSummary(pl_module, max_depth=2)}\n"
            write_atomic(self.path, text, what="model summary")


class _DropLitLoggerTip(logging.Filter):
    """Lightning's advertisement for its cloud logger, printed at every start."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "litlogger" not in str(record.msg)


for _name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
    logging.getLogger(_name).addFilter(_DropLitLoggerTip())


class LastCheckpoint(Checkpoint):
    """Write ``last.ckpt`` every ``every_n_steps`` optimiser steps and after every epoch.

    No step checkpoint is written after a batch that a validation follows: resuming from it
    would skip that validation. The epoch-end checkpoint is written after the validation.
    When ``interrupt`` is set (a SIGINT), it saves at the next such boundary and stops.
    """

    def __init__(
        self, path: Path, every_n_steps: int | None, interrupt: _InterruptFlag | None = None
    ) -> None:
        self.path = Path(path)
        self.every_n_steps = every_n_steps
        self.interrupt = interrupt

    @staticmethod
    def _validation_follows(trainer) -> bool:
        loop = trainer.fit_loop.epoch_loop
        # The test Lightning itself runs right after this hook (training_epoch_loop.py).
        return bool(loop._should_check_val_fx(trainer.fit_loop._data_fetcher))

    def _stop_if_asked(self, trainer) -> None:
        if self.interrupt is not None and self.interrupt.set:
            raise _StopRequested(f"step {trainer.global_step}")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self._validation_follows(trainer):
            return
        n = self.every_n_steps
        stopping = self.interrupt is not None and self.interrupt.set
        due = n and trainer.global_step > 0 and trainer.global_step % n == 0
        if due or (stopping and trainer.global_step > 0):
            trainer.save_checkpoint(self.path, weights_only=False)  # the full resumable state
        self._stop_if_asked(trainer)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        trainer.save_checkpoint(self.path, weights_only=False)  # the full resumable state
        self._stop_if_asked(trainer)

    def on_train_start(self, trainer, pl_module) -> None:
        _restore_loader_position(trainer)


def _restore_loader_position(trainer) -> None:
    """Hand the saved loader position to the training loader, then restart its iterator.

    Lightning 2.6 builds the training loader before it restores a checkpoint whenever
    ``configure_optimizers`` asks for ``estimated_stepping_batches`` (ours does, for the cosine
    schedule), so the saved loader state is never loaded (fit_loop.setup_data returns early).
    """
    from lightning.fabric.utilities.data import _set_sampler_epoch

    loop = trainer.fit_loop
    if not loop._combined_loader_states_to_load or loop._combined_loader is None:
        return
    loop._load_combined_loader_states()
    for dl in loop._combined_loader.flattened:
        _set_sampler_epoch(dl, loop.epoch_progress.current.processed)
    iter(loop._data_fetcher)  # a new iterator, which applies the skip


def _check_accelerator(accelerator: str) -> None:
    if accelerator in ("gpu", "cuda") and not torch.cuda.is_available():
        raise InputError(
            f"train.accelerator is {accelerator!r} but no CUDA GPU is visible to PyTorch "
            f"(torch {torch.__version__}); set train.accelerator to auto or cpu, or install a "
            "CUDA build of PyTorch"
        )


def cpu_has_native_bf16(cpuinfo: str | None = None) -> bool:
    """True when the CPU computes bf16 natively (AMX-BF16 or AVX512-BF16, Linux flags).

    Elsewhere (no such flags, no /proc/cpuinfo, a oneDNN build without bf16) bf16 would be
    emulated and slower than float32, so ``precision: auto`` keeps 32-bit there.
    """
    if cpuinfo is None:
        try:
            cpuinfo = Path("/proc/cpuinfo").read_text()
        except OSError:
            return False
    flags = set(cpuinfo.split())
    if not flags & {"amx_bf16", "avx512_bf16"}:
        return False
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


def _precision(precision: str, accelerator: str) -> str:
    """``auto``: bf16 mixed precision on GPUs and on CPUs with native bf16, else 32-bit.

    On this project's 2-core CPU (AMX-BF16) bf16 training made 1.47x the steps of float32 in
    the same 12 minutes and learned the long-range benchmark better (docs/results.md).
    """
    if precision != "auto":
        return precision
    on_gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    return "bf16-mixed" if on_gpu or cpu_has_native_bf16() else "32-true"


def _warn_idle_ramp(ramp, specs) -> None:
    """Say so when ``train.loss_weight_ramp`` is set but no track has a weight to ramp to."""
    if ramp is not None and track_loss_weights(specs) is None:
        log.warning(
            "train.loss_weight_ramp is %s but every track has loss_weight 1, so the ramp "
            "changes nothing; give a track a loss_weight (data.tracks.N.loss_weight) or drop "
            "the ramp",
            list(ramp),
        )


def build_run(cfg: RunConfig) -> tuple[Any, Any, dict[str, Any]]:
    """Make the data module and the Lightning system from a checked config.

    Returns
    -------
    (GenomeDataModule, SeqModule, spec)
        ``spec`` is :meth:`RunConfig.checkpoint_spec`, stored in every checkpoint.
    """
    from genodil.data.tracks import check_track_values
    from genodil.train.losses import loss_options
    from genodil.train.module import SeqModule

    dm = build_datamodule(cfg)
    model = build_model(cfg, dm)
    settings = cfg.train
    window = cfg.data["window"]
    train_chroms = [str(c) for c in dm.intervals["train"]["chrom"].unique()]
    check_track_values(dm.specs, train_chroms, dm.chrom_alias, settings.loss)
    if window < model.receptive_field:
        log.warning(
            "data.window (%d bp) is shorter than the model's receptive field (%d bp): every "
            "output sees padding instead of sequence at its edges; use a window of at least "
            "%d bp or fewer/shorter dilations",
            window,
            model.receptive_field,
            model.receptive_field,
        )
    if model.crop * 2 < model.receptive_field - 1:
        log.info(
            "crop %d bp per side is less than half the receptive field (%d bp): outputs near "
            "window edges see padding; training still works, prediction tiles use the crop",
            model.crop,
            model.receptive_field,
        )
    _warn_idle_ramp(settings.loss_weight_ramp, dm.specs)
    spec = cfg.checkpoint_spec()
    if settings.compile:
        model.compile()
    module = SeqModule(
        model,
        track_names=list(dm.track_names),
        **loss_options(settings.to_dict(), cfg.data["bin_size"]),
        lr=settings.lr,
        weight_decay=settings.weight_decay,
        warmup_steps=settings.warmup_steps,
        schedule=settings.schedule,
        min_lr_ratio=settings.min_lr_ratio,
        decay_fraction=settings.decay_fraction,
        track_weights=track_loss_weights(dm.specs),
        weight_ramp=settings.loss_weight_ramp,
        spec=spec,
    )
    return dm, module, spec


def _loggers(run_dir: Path) -> list[Any]:
    """CSV (and TensorBoard when installed) loggers.

    A new logs/version_N per start, so a resumed run never overwrites earlier logs.
    """
    loggers: list[Any] = [L.pytorch.loggers.CSVLogger(run_dir, name="logs")]
    try:
        import tensorboard  # noqa: F401

        loggers.append(L.pytorch.loggers.TensorBoardLogger(run_dir, name="logs/tensorboard"))
    except ImportError:
        pass
    return loggers


def _callbacks(
    settings, run_dir: Path, interrupt: _InterruptFlag | None, more: list[Callback] | None
) -> list[Callback]:
    """best/last checkpoints, RNG state, the model summary file, the EMA and early stopping."""
    ckpt_dir = run_dir / "checkpoints"
    callbacks: list[Callback] = []
    if settings.ema_decay is not None:
        from genodil.train.ema import EMAWeights

        # Before the checkpoint callbacks (Lightning also moves those last): a checkpoint
        # written after a step must hold the average that includes that step.
        callbacks.append(EMAWeights(settings.ema_decay))
    callbacks += [
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
        LastCheckpoint(ckpt_dir / "last.ckpt", settings.checkpoint_every_n_steps, interrupt),
        RngStateCallback(),
        ModelSummaryFile(run_dir / "model_summary.txt"),
        *(more or []),
    ]
    if settings.early_stopping_patience is not None:
        callbacks.append(
            EarlyStopping(
                monitor=settings.monitor,
                mode=settings.resolved_monitor_mode,
                patience=settings.early_stopping_patience,
            )
        )
    return callbacks


def _trainer(
    settings,
    run_dir: Path,
    extra: dict[str, Any] | None,
    progress: bool,
    interrupt: _InterruptFlag | None = None,
    more_callbacks: list[Callback] | None = None,
) -> L.Trainer:
    _check_accelerator(settings.accelerator)
    callbacks = _callbacks(settings, run_dir, interrupt, more_callbacks)
    loggers = _loggers(run_dir)
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
        "max_time": settings.max_time_delta,
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
        # Lightning's bar only on a terminal: in a log its carriage returns are noise, and
        # StepProgress (added by train) writes plain lines there instead.
        "enable_progress_bar": progress and sys.stderr.isatty(),
        "enable_model_summary": False,  # ModelSummaryFile writes it to the run folder
    }
    kwargs.update(extra or {})
    if not extra:
        return L.Trainer(**kwargs)
    try:
        return L.Trainer(**kwargs)
    except (TypeError, ValueError, MisconfigurationException) as e:
        raise InputError(
            f"the trainer section ({', '.join(extra)}) is not accepted by lightning.Trainer: {e}"
        ) from None


def _flatten(d: Any, prefix: str = "") -> dict[str, Any]:
    if not isinstance(d, dict):
        return {prefix: d}
    out: dict[str, Any] = {}
    for k, v in d.items():
        out.update(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
    return out


def check_resume_config(run_dir: Path, cfg: RunConfig) -> list[str]:
    """Compare ``cfg`` with the run's saved ``config.yaml``; nothing is written.

    Returns
    -------
    list of str
        The changed keys among :data:`SAFE_RESUME_KEYS` (``"key: old -> new"``).

    Raises
    ------
    InputError
        Any other key differs (all of them are listed), or config.yaml is unreadable.
    """
    saved = run_dir / "config.yaml"
    if not saved.exists():
        raise InputError(
            f"--resume: {saved} is missing, so the run's config cannot be checked; restore it "
            "or start a new run (--overwrite)"
        )
    try:
        old = _flatten(yaml.safe_load(saved.read_text()) or {})
    except yaml.YAMLError as e:
        raise InputError(f"--resume: {saved} is not valid YAML ({e}); restore it") from None
    new = _flatten(cfg.to_dict())
    changed = sorted(k for k in old.keys() | new.keys() if old.get(k) != new.get(k))
    unsafe = [k for k in changed if k not in SAFE_RESUME_KEYS]
    if unsafe:
        shown = "; ".join(f"{k}: {old.get(k)!r} in the run, {new.get(k)!r} now" for k in unsafe)
        raise InputError(
            f"--resume: the config differs from {saved} in {len(unsafe)} key(s): {shown}. "
            f"The checkpoints were trained with the saved config; only "
            f"{', '.join(SAFE_RESUME_KEYS)} may change on resume. Resume with the saved config "
            "(genodil train --config " + str(saved) + " --resume) or start a new run with "
            "another --out"
        )
    return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in changed]


def _readable_checkpoint(path: Path) -> int | None:
    """The global step of a complete, resumable checkpoint, else None."""
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception:  # noqa: BLE001 - a truncated or foreign file fails in many ways
        return None
    if not isinstance(ckpt, dict) or "state_dict" not in ckpt or "loops" not in ckpt:
        return None
    return int(ckpt.get("global_step", 0))


def resume_checkpoint(run_dir: Path) -> Path:
    """``checkpoints/last.ckpt``, or the newest readable checkpoint if it is damaged.

    Raises
    ------
    InputError
        No checkpoint at all, or none is readable.
    """
    ckpt_dir = run_dir / "checkpoints"
    last = ckpt_dir / "last.ckpt"
    found = sorted(ckpt_dir.glob("*.ckpt")) if ckpt_dir.is_dir() else []
    if not found:
        raise InputError(
            f"--resume given but {run_dir} holds no checkpoints/*.ckpt; start the run "
            "without --resume"
        )
    if last.exists() and _readable_checkpoint(last) is not None:
        return last
    steps = {p: _readable_checkpoint(p) for p in found if p != last}
    valid = {p: s for p, s in steps.items() if s is not None}
    if not valid:
        raise InputError(
            f"--resume: no checkpoint in {ckpt_dir} is readable ({', '.join(p.name for p in found)}"
            " are truncated or not checkpoints); start a new run with --overwrite"
        )
    best = max(valid, key=lambda p: (valid[p], p.stat().st_mtime))
    why = "is truncated or unreadable" if last.exists() else "is missing"
    log.warning(
        "%s %s; resuming from %s (step %d) instead, so the steps after it are trained again",
        last,
        why,
        best,
        valid[best],
    )
    return best


def _run_state(run_dir: Path) -> list[str]:
    """What in ``run_dir`` belongs to an earlier run (config, checkpoints, logs)."""
    found = [n for n in ("config.yaml", "logs") if (run_dir / n).exists()]
    ckpt_dir = run_dir / "checkpoints"
    if ckpt_dir.is_dir():
        found += [f"checkpoints/{p.name}" for p in sorted(ckpt_dir.glob("*.ckpt"))]
    return found


def _check_run_dir(run_dir: Path, resume: bool, overwrite: bool) -> None:
    if resume and overwrite:
        raise InputError("give --resume or --overwrite, not both")
    if resume or overwrite:
        return
    found = _run_state(run_dir)
    if found:
        raise InputError(
            f"run directory {run_dir} already holds a run ({', '.join(found[:6])}); pass "
            "--resume to continue it, --overwrite to discard it and start again, or choose "
            "another --out"
        )


def _clear_run(run_dir: Path) -> None:
    """Remove an earlier run's config and checkpoints (``--overwrite``); logs are kept."""
    ckpt_dir = run_dir / "checkpoints"
    if ckpt_dir.is_dir():
        for p in ckpt_dir.iterdir():
            if p.suffix == ".ckpt" or p.name.startswith("."):
                p.unlink()
    (run_dir / "config.yaml").unlink(missing_ok=True)


_RANK_VARIABLES = ("RANK", "LOCAL_RANK", "NODE_RANK")


def _is_launch_rank_zero() -> bool:
    """True unless this process is a non-zero rank of a distributed launch.

    Lightning's DDP launcher re-runs the command for ranks 1..N-1 with ``LOCAL_RANK`` set;
    torchrun and SLURM set ``RANK``/``NODE_RANK``. The run-folder guard belongs to rank 0.
    """
    return all(os.environ.get(k, "0") == "0" for k in _RANK_VARIABLES)


def train(
    cfg: RunConfig,
    run_dir: str | os.PathLike,
    resume: bool = False,
    progress: bool = True,
    overwrite: bool = False,
    callbacks: list[Callback] | None = None,
) -> Path:
    """Fit a model as configured; returns the run directory.

    Parameters
    ----------
    cfg : RunConfig
        From :func:`genodil.config.load_config`.
    run_dir : path
        Where config.yaml, checkpoints/ and logs/ go.
    resume : bool
        Continue from ``run_dir/checkpoints/last.ckpt`` (optimizer, scheduler, epoch, step,
        position in the epoch); the config may differ only in :data:`SAFE_RESUME_KEYS`.
    progress : bool
        Progress bar and Lightning's summaries.
    overwrite : bool
        Discard an earlier run's checkpoints and config in ``run_dir``.
    callbacks : list of Lightning callbacks added to genodil's own, optional

    Raises
    ------
    InputError
        ``run_dir`` holds a run and neither ``resume`` nor ``overwrite`` is given; on resume,
        the config differs in an unsafe key, or no checkpoint is readable.
    TrainingInterrupted
        On SIGINT, after ``last.ckpt`` is saved.
    """
    run_dir = Path(run_dir)
    if _is_launch_rank_zero():
        # Other ranks start after rank 0 wrote config.yaml: they must not take it for an
        # earlier run's state.
        _check_run_dir(run_dir, resume, overwrite)
    ckpt_path = None
    if resume:
        ckpt_path = resume_checkpoint(run_dir)
        for change in check_resume_config(run_dir, cfg):
            log.warning("resuming with a changed stopping rule: %s", change)
    settings = cfg.train
    if not progress:
        for name in ("lightning.pytorch", "lightning.fabric"):
            logging.getLogger(name).setLevel(logging.WARNING)
    L.seed_everything(settings.seed, workers=True, verbose=False)
    dm, module, _ = build_run(cfg)
    dm.setup("fit")  # window tables (blacklist, N filter): fail before anything is written
    interrupt = _InterruptFlag()
    if progress:
        from genodil.train.progress import StepProgress

        callbacks = [*(callbacks or []), StepProgress()]
    trainer = _trainer(settings, run_dir, cfg.trainer, progress, interrupt, callbacks)
    if trainer.is_global_zero:
        if overwrite:
            _clear_run(run_dir)
        ensure_writable_dir(run_dir, "run directory")
        write_atomic(run_dir / "config.yaml", cfg.dump(), what="run config")
    last = run_dir / "checkpoints" / "last.ckpt"
    with warnings.catch_warnings(), interrupt:
        # Resuming into the run's own checkpoint folder is the point of --resume.
        warnings.filterwarnings("ignore", "Checkpoint directory .* exists and is not empty")
        # Lightning 2.6 calls a torch.utils._pytree API that torch 2.13 deprecates.
        warnings.filterwarnings("ignore", r".*isinstance\(treespec, LeafSpec\)")
        try:
            ckpt = str(ckpt_path) if ckpt_path else None  # weights_only: see RngStateCallback
            trainer.fit(module, datamodule=dm, ckpt_path=ckpt, weights_only=True)
        except (_StopRequested, SystemExit, KeyboardInterrupt) as e:
            if not interrupt.set and not isinstance(e, KeyboardInterrupt):
                raise
            saved = f"last.ckpt at {e}" if isinstance(e, _StopRequested) else "nothing new"
            raise TrainingInterrupted(
                f"resume with --resume (saved {saved} in {last.parent})"
            ) from None
    best = run_dir / "checkpoints" / "best.ckpt"
    if trainer.is_global_zero and not best.exists() and last.exists():
        # No validation ran (e.g. max_steps before the first epoch end): the last weights are
        # the best we have, and every later command expects best.ckpt.
        log.warning("no validation metric was logged; best.ckpt is a copy of last.ckpt")
        with atomic_output(best, what="checkpoint") as tmp:
            shutil.copyfile(last, tmp)
    if trainer.is_global_zero:
        from genodil.report.curves import plot_learning_curves

        plot_learning_curves(run_dir, run_dir / "learning_curves.png")
    return run_dir
