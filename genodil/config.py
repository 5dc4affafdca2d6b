"""Run configs: one YAML with ``data``, ``model``, ``train`` (and optional ``trainer``) sections.

The keys of each section are the typed ``__init__`` arguments of
:class:`~genodil.data.datamodule.GenomeDataModule`, :class:`~genodil.models.DilatedResNet` and
:class:`~genodil.train.settings.TrainSettings`; jsonargparse validates their types, applies
dotted command-line overrides (``--model.channels 32``) and prints the resolved config. Unknown
keys are reported with the nearest valid key. Relative paths in the file resolve against
``data_root`` (a top-level key or ``--data_root``), else against the config file's folder.
"""

from __future__ import annotations

import argparse
import difflib
import inspect
from collections.abc import Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

import yaml

from genodil.errors import InputError

__all__ = ["MODEL_DERIVED", "PATH_KEYS", "build_parser", "dump_config", "load_config"]

# Model arguments that are derived from the data section, never set by hand.
MODEL_DERIVED = {"n_tracks", "crop", "bin_size", "strand_pairs"}
# Data arguments that are file paths (resolved against the data root).
PATH_KEYS = ("fasta", "blacklist", "regions", "cache_dir")
TOP_LEVEL = ("data", "model", "train", "trainer", "data_root")


def _section_classes() -> dict[str, tuple[type, set[str]]]:
    from genodil.data.datamodule import GenomeDataModule
    from genodil.models import DilatedResNet
    from genodil.train.settings import TrainSettings

    return {
        "data": (GenomeDataModule, set()),
        "model": (DilatedResNet, MODEL_DERIVED),
        "train": (TrainSettings, set()),
    }


def build_parser(prog: str = "genodil train", **kwargs: Any):
    """The jsonargparse parser of a run config (sections ``data``, ``model``, ``train``)."""
    from jsonargparse import ActionConfigFile, ArgumentParser

    parser = ArgumentParser(prog=prog, exit_on_error=False, **kwargs)
    parser.add_argument("--config", action=ActionConfigFile, help="run config YAML")
    for name, (cls, skip) in _section_classes().items():
        parser.add_class_arguments(cls, name, skip=skip or None, sub_configs=True)
    parser.add_argument(
        "--trainer",
        type=dict[str, Any] | None,
        default=None,
        help="extra keyword arguments for lightning.Trainer (Lightning-style section)",
    )
    return parser


def _init_params(cls: type, skip: set[str]) -> list[str]:
    if hasattr(cls, "__dataclass_fields__"):
        return [f.name for f in fields(cls) if f.name not in skip]
    sig = inspect.signature(cls.__init__)
    return [p for p in sig.parameters if p not in ("self", *skip) and not p.startswith("_")]


def _unknown_key_error(where: str, key: str, valid: Sequence[str], source: str) -> InputError:
    near = difflib.get_close_matches(key, valid, n=1, cutoff=0.5)
    hint = f"; did you mean {near[0]!r}?" if near else ""
    return InputError(
        f"{source}: unknown key {key!r} in {where}{hint} Valid keys: {', '.join(sorted(valid))}"
    )


def _check_keys(raw: dict[str, Any], source: str) -> None:
    for key in raw:
        if key not in TOP_LEVEL:
            raise _unknown_key_error("the top level", key, TOP_LEVEL, source)
    classes = _section_classes()
    for section, (cls, skip) in classes.items():
        body = raw.get(section) or {}
        if not isinstance(body, dict):
            raise InputError(f"{source}: section {section!r} must be a mapping of keys to values")
        valid = _init_params(cls, skip)
        for key in body:
            if key in skip:
                raise InputError(
                    f"{source}: model.{key} is derived from the data section "
                    "(number of tracks, data.crop, data.bin_size, strand_pair); remove it"
                )
            if key not in valid:
                raise _unknown_key_error(f"section {section!r}", key, valid, source)
    from genodil.data.tracks import TrackSpec

    track_keys = [f.name for f in fields(TrackSpec)]
    for i, track in enumerate((raw.get("data") or {}).get("tracks") or []):
        if not isinstance(track, dict):
            raise InputError(f"{source}: data.tracks[{i}] must be a mapping (name, path, ...)")
        for key in track:
            if key not in track_keys:
                raise _unknown_key_error(f"data.tracks[{i}]", key, track_keys, source)


def _resolve(path: str | None, root: Path) -> str | None:
    if path is None or path == "":
        return path
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else (root / p).resolve())


def _resolve_paths(raw: dict[str, Any], root: Path) -> dict[str, Any]:
    data = dict(raw.get("data") or {})
    for key in PATH_KEYS:
        if key in data:
            data[key] = _resolve(data[key], root)
    data["tracks"] = [
        {**t, "path": _resolve(t.get("path"), root)} for t in (data.get("tracks") or [])
    ]
    return {**raw, "data": data}


def _overridden_keys(overrides: Sequence[str], parser) -> None:
    valid = [a.dest for a in parser._actions if a.dest]
    for tok in overrides:
        if tok.startswith("--") and "." in tok:
            key = tok[2:].split("=", 1)[0]
            # A nested key is fine under a dict-valued option (--trainer.x, --data.augment.y).
            parents = [v for v in valid if v not in ("data", "model", "train")]
            if key not in valid and not any(key.startswith(v + ".") for v in parents):
                near = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
                hint = f"; did you mean --{near[0]}?" if near else ""
                raise InputError(f"unknown option --{key}{hint} (see genodil train --help)")


def load_config(
    path: str | Path | None,
    overrides: Sequence[str] = (),
    data_root: str | Path | None = None,
):
    """Read, check and resolve a run config.

    Parameters
    ----------
    path : str or Path or None
        YAML run config; ``None`` builds the config from ``overrides`` alone.
    overrides : sequence of str
        Dotted command-line options such as ``["--model.channels", "32"]``.
    data_root : str or Path or None
        Folder that relative data paths resolve against (overrides the file's ``data_root``).

    Returns
    -------
    jsonargparse.Namespace with ``data``, ``model``, ``train``, ``trainer``.
    """
    raw: dict[str, Any] = {}
    source = "command line"
    root = Path.cwd()
    if path is not None:
        path = Path(path)
        if not path.exists():
            raise InputError(f"config file {path} does not exist: check the path")
        try:
            raw = yaml.safe_load(path.read_text()) or {}
        except yaml.YAMLError as e:
            raise InputError(f"{path} is not valid YAML: {e}") from None
        if not isinstance(raw, dict):
            raise InputError(f"{path}: a run config is a mapping with data/model/train sections")
        source = str(path)
        root = path.resolve().parent
        if raw.get("data_root"):
            root = Path(_resolve(str(raw["data_root"]), root))
    if data_root is not None:
        root = Path(data_root).expanduser().resolve()
    _check_keys(raw, source)
    raw = _resolve_paths(raw, root)
    raw.pop("data_root", None)
    parser = build_parser()
    _overridden_keys(overrides, parser)
    try:
        cfg = parser.parse_args(["--config", yaml.safe_dump(raw), *overrides])
    except (argparse.ArgumentError, SystemExit) as e:
        raise InputError(f"{source}: {e}") from None
    del cfg["config"]
    return cfg


def dump_config(cfg) -> str:
    """The resolved config as YAML text."""
    parser = build_parser()
    return parser.dump(cfg, skip_unset=False, skip_validation=True)
