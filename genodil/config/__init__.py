"""Run configs: one YAML with ``data``, ``model``, ``train`` (and optional ``trainer``) sections.

The keys of each section are the typed ``__init__`` arguments of
:class:`~genodil.data.datamodule.GenomeDataModule`, :class:`~genodil.models.DilatedResNet` and
:class:`~genodil.train.settings.TrainSettings` (``data.tracks`` entries: the fields of
:class:`~genodil.data.tracks.TrackSpec`); ``trainer`` holds extra ``lightning.Trainer``
arguments. :func:`load_config` reads a file, applies dotted command-line overrides
(``--model.channels 32``, ``--model.dilations.blocks 3``), checks every key and value against
those signatures and returns a :class:`RunConfig`; unknown keys are reported with the nearest
valid one. Relative paths in the file resolve against ``data_root`` (a top-level key or
``--data_root``), else against the config file's folder; relative paths given on the command
line resolve against ``--data_root`` if given, else the current folder.

:func:`build_datamodule` and :func:`build_model` are the one way from a config (or a
checkpoint's stored spec) to a data module and a network.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import functools
import inspect
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from genodil.config.types import ConfigTypeError, check_type
from genodil.errors import InputError

__all__ = [
    "MODEL_DERIVED",
    "PATH_KEYS",
    "Param",
    "RunConfig",
    "build_datamodule",
    "build_model",
    "dump_config",
    "load_config",
    "section_params",
    "trainer_keys",
]

# Model arguments that are derived from the data section, never set by hand.
MODEL_DERIVED = ("n_tracks", "crop", "bin_size", "strand_pairs", "track_heads")
# Data arguments that are file paths (resolved against the data root).
PATH_KEYS = ("fasta", "blacklist", "regions", "cache_dir")
SECTIONS = ("data", "model", "train")
TOP_LEVEL = (*SECTIONS, "trainer", "data_root")
REQUIRED = inspect.Parameter.empty
# Plain-words examples added to a type error of these keys.
_EXAMPLES = {
    "data.splits": "e.g. splits: {valid: [chr2], test: [chr3]}",
    "data.augment": "e.g. augment: {reverse_complement: true, max_shift: 3}",
    "data.oversample": "e.g. oversample: {track: longrange, fraction: 0.5}",
    "data.tracks": "e.g. tracks: [{name: dnase, path: dnase.bw}]",
    "model.dilations": "e.g. dilations: {schedule: exponential, rate: 2, blocks: 11}",
}


@dataclass(frozen=True)
class Param:
    """One config key: its type annotation and default (``REQUIRED`` when it has none)."""

    name: str
    annotation: Any
    default: Any

    @property
    def required(self) -> bool:
        """True when the key has no default."""
        return self.default is REQUIRED


def _section_class(section: str) -> type:
    from genodil.data.datamodule import GenomeDataModule
    from genodil.data.tracks import TrackSpec
    from genodil.models import DilatedResNet
    from genodil.train.settings import TrainSettings

    return {
        "data": GenomeDataModule,
        "model": DilatedResNet,
        "train": TrainSettings,
        "track": TrackSpec,
    }[section]


@functools.cache
def section_params(section: str) -> dict[str, Param]:
    """The keys of a config section (``data``, ``model``, ``train`` or ``track``), in order.

    Read from the typed signature of the class behind the section; the model keys derived from
    the data section (:data:`MODEL_DERIVED`) are left out.
    """
    cls = _section_class(section)
    if dataclasses.is_dataclass(cls):
        hints = typing.get_type_hints(cls)
        params = {}
        for f in dataclasses.fields(cls):
            default = f.default
            if f.default_factory is not dataclasses.MISSING:
                default = f.default_factory()
            params[f.name] = Param(
                f.name, hints[f.name], REQUIRED if default is dataclasses.MISSING else default
            )
        return params
    hints = typing.get_type_hints(cls.__init__)
    skip = MODEL_DERIVED if section == "model" else ()
    return {
        p.name: Param(p.name, hints[p.name], p.default)
        for p in inspect.signature(cls.__init__).parameters.values()
        if p.name != "self" and p.name not in skip and not p.name.startswith("_")
    }


@functools.cache
def trainer_keys() -> tuple[str, ...]:
    """Keyword arguments of ``lightning.Trainer`` (the keys of the ``trainer`` section)."""
    import lightning as L

    return tuple(p for p in inspect.signature(L.Trainer.__init__).parameters if p != "self")


def _nearest(key: str, valid: Sequence[str], cutoff: float = 0.5) -> str | None:
    near = difflib.get_close_matches(key, list(valid), n=1, cutoff=cutoff)
    return near[0] if near else None


def _unknown_key_error(where: str, key: str, valid: Sequence[str], source: str) -> InputError:
    near = _nearest(key, valid)
    hint = f"; did you mean {near!r}?" if near else ""
    sep = " " if hint else ". "
    return InputError(
        f"{source}: unknown key {key!r} in {where}{hint}{sep}Valid keys: {', '.join(sorted(valid))}"
    )


def _typed_section(body: Any, section: str, source: str) -> dict[str, Any]:
    """Check a section's keys and value types; fill in defaults (required keys must be set)."""
    is_track = section.startswith("track[")
    where = f"data.tracks[{section[6:-1]}]" if is_track else section
    label = where if is_track else f"section {where!r}"
    params = section_params("track" if section.startswith("track[") else section)
    if body is None:
        body = {}
    if not isinstance(body, Mapping):
        raise InputError(
            f"{source}: {label} must be a mapping of keys to values, not {_show(body)}"
        )
    out: dict[str, Any] = {}
    for key, value in body.items():
        if section == "model" and key in MODEL_DERIVED:
            raise InputError(
                f"{source}: model.{key} is derived from the data section "
                "(number of tracks, data.crop, data.bin_size, the tracks' strand_pair and head); "
                "remove it"
            )
        if key not in params:
            raise _unknown_key_error(label, str(key), list(params), source)
        name = f"{where}.{key}"
        try:
            out[key] = check_type(value, params[key].annotation, name)
        except ConfigTypeError as e:
            example = _EXAMPLES.get(name, "")
            raise InputError(f"{source}: {e}" + (f"; {example}" if example else "")) from None
    for key, p in params.items():
        if key in out:
            continue
        if p.required:
            raise InputError(f"{source}: {where}.{key} is required but not set")
        out[key] = copy.deepcopy(p.default)
    return out


def _show(value: Any) -> str:
    kind = {list: "the list", dict: "the mapping", str: "the text"}.get(type(value), "")
    return f"{kind} {value!r}".strip()


def _typed_tracks(tracks: Any, source: str) -> list[dict[str, Any]]:
    from genodil.data.tracks import to_track_specs

    if not isinstance(tracks, list):
        raise InputError(
            f"{source}: data.tracks must be a list of tracks, not {_show(tracks)}; "
            + _EXAMPLES["data.tracks"]
        )
    typed = []
    for i, t in enumerate(tracks):
        if not isinstance(t, Mapping):
            raise InputError(
                f"{source}: data.tracks[{i}] must be a mapping (name, path, ...), not {_show(t)}"
            )
        typed.append(_typed_section(t, f"track[{i}]", source))
    try:
        to_track_specs(typed)  # names unique and file-safe, strand pairs mutual, clip order
    except InputError as e:
        raise InputError(f"{source}: data.tracks: {e}") from None
    return typed


def _typed_trainer(body: Any, source: str) -> dict[str, Any]:
    if body is None:
        return {}
    if not isinstance(body, Mapping):
        raise InputError(
            f"{source}: trainer must be a mapping of lightning.Trainer arguments, not {_show(body)}"
        )
    for key in body:
        if key not in trainer_keys():
            raise _unknown_key_error("section 'trainer'", str(key), trainer_keys(), source)
    return dict(body)


@dataclass
class RunConfig:
    """A checked run config: the ``data``, ``model``, ``train`` and ``trainer`` sections.

    Attributes
    ----------
    data : dict
        Keyword arguments of :class:`~genodil.data.datamodule.GenomeDataModule`, every key
        present; ``tracks`` is a list of :class:`~genodil.data.tracks.TrackSpec` field dicts.
    model : dict
        Keyword arguments of :class:`~genodil.models.DilatedResNet` except those derived from
        the data section (:data:`MODEL_DERIVED`).
    train : TrainSettings
    trainer : dict
        Extra ``lightning.Trainer`` keyword arguments.
    source : str
        Where the config came from (named in error messages).
    """

    data: dict[str, Any]
    model: dict[str, Any]
    train: Any  # TrainSettings (imported lazily: Lightning is slow to import)
    trainer: dict[str, Any] = field(default_factory=dict)
    source: str = field(default="command line", compare=False, repr=False)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any], source: str = "command line") -> RunConfig:
        """Check a config mapping (paths already resolved) and return the typed config."""
        from genodil.train.settings import TrainSettings

        for key in raw:
            if key not in TOP_LEVEL:
                raise _unknown_key_error("the top level", str(key), TOP_LEVEL, source)
        data_raw = raw.get("data") or {}
        tracks = data_raw.get("tracks") if isinstance(data_raw, Mapping) else None
        if isinstance(data_raw, Mapping) and "tracks" in data_raw:
            data_raw = {k: v for k, v in data_raw.items() if k != "tracks"}
        data = _typed_section({**data_raw, "tracks": []}, "data", source)
        if tracks is None:
            raise InputError(f"{source}: data.tracks is required but not set")
        data["tracks"] = _typed_tracks(tracks, source)
        from genodil.data.datamodule import check_augment
        from genodil.data.oversample import check_oversample

        try:
            check_augment(data["augment"])
            names = [t["name"] for t in data["tracks"]]
            data["oversample"] = check_oversample(data["oversample"], names)
        except InputError as e:
            raise InputError(f"{source}: {e}") from None
        model = _typed_section(raw.get("model"), "model", source)
        train = _typed_section(raw.get("train"), "train", source)
        try:
            settings = TrainSettings(**train)
        except InputError as e:
            raise InputError(f"{source}: {e}") from None
        trainer = _typed_trainer(raw.get("trainer"), source)
        return cls(data=data, model=model, train=settings, trainer=trainer, source=source)

    def to_dict(self) -> dict[str, Any]:
        """Plain types, in section order (what ``config.yaml`` of a run holds)."""
        return {
            "data": copy.deepcopy(self.data),
            "model": copy.deepcopy(self.model),
            "train": self.train.to_dict(),
            "trainer": copy.deepcopy(self.trainer),
        }

    def dump(self) -> str:
        """The config as YAML text."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False)

    @property
    def track_names(self) -> list[str]:
        """Names of the tracks, in output order."""
        return [t["name"] for t in self.data["tracks"]]

    @property
    def output_length(self) -> int:
        """Output positions per window: ``(window - 2 * crop) // bin_size``."""
        d = self.data
        return max((d["window"] - 2 * d["crop"]) // d["bin_size"], 0)

    def model_kwargs(self) -> dict[str, Any]:
        """Every ``DilatedResNet`` argument: the model section plus those derived from data."""
        from genodil.data.tracks import strand_pair_index, to_track_specs, track_head_list

        specs = to_track_specs(self.data["tracks"])
        return {
            **copy.deepcopy(self.model),
            "n_tracks": len(specs),
            "crop": self.data["crop"],
            "bin_size": self.data["bin_size"],
            "strand_pairs": strand_pair_index(specs),
            "track_heads": track_head_list(
                specs, self.model.get("head", section_params("model")["head"].default)
            ),
        }

    def checkpoint_spec(self) -> dict[str, Any]:
        """What a checkpoint stores to rebuild the model and its data (``ckpt["genodil"]``).

        ``model`` holds every network argument, ``data`` the data section (absolute paths),
        ``train`` the settings and ``track_names`` the output order.
        """
        return {
            "model": self.model_kwargs(),
            "data": copy.deepcopy(self.data),
            "train": self.train.to_dict(),
            "track_names": self.track_names,
        }

    def validate(self) -> None:
        """Checks that need more than one section: the monitored metric, the network.

        Raises
        ------
        InputError
            ``train.monitor`` names a metric that is never logged, or the model section does
            not build a network for ``data.window``.
        """
        from genodil.train.module import logged_metrics

        names = logged_metrics(self.track_names, self.output_length)
        monitor = self.train.monitor
        if monitor not in names:
            near = _nearest(monitor, names, cutoff=0.6)
            hint = f" (did you mean {near!r}?)" if near else ""
            shown = [n for n in names if "/" not in n]
            raise InputError(
                f"{self.source}: train.monitor {monitor!r} is not a metric that training "
                f"logs{hint}. Choose one of {', '.join(shown)} (or a per-track one such as "
                f"val_pearson/{self.track_names[0]})"
            )
        if self.output_length <= 0:
            return  # the data module names data.crop / data.window (check or train)
        self._check_bin_loss()
        try:
            build_model(self)
        except InputError as e:
            raise InputError(f"{self.source}: {e}") from None

    def _check_bin_loss(self) -> None:
        """``train.bin_loss_size`` tiles the output window in whole positions; count loss."""
        t = self.train
        if not t.bin_loss_weight:
            return
        if t.loss == "mse":
            raise InputError(
                f"{self.source}: train.bin_loss_weight is {t.bin_loss_weight} but train.loss is "
                "mse: the binned term is a Poisson likelihood of counts; use loss poisson or "
                "multinomial, or set train.bin_loss_weight to 0"
            )
        size, step, n = t.bin_loss_size, self.data["bin_size"], self.output_length
        if size % step == 0 and n % (size // step) == 0:
            return
        fits = [step * k for k in range(1, n + 1) if n % k == 0]
        near = sorted(fits, key=lambda f: (abs(f - size), f))[:3]
        raise InputError(
            f"{self.source}: train.bin_loss_size is {size} bp, which does not tile the output "
            f"window of {n * step} bp ({n} positions of data.bin_size {step} bp, from "
            "data.window - 2 * data.crop) into whole bins: it must be a multiple of "
            f"data.bin_size that divides {n * step}; e.g. {', '.join(map(str, sorted(near)))}"
        )


def _as_run_config(config: Any) -> RunConfig:
    if isinstance(config, RunConfig):
        return config
    raise TypeError(f"expected a RunConfig from genodil.config.load_config, got {type(config)}")


def build_datamodule(config: RunConfig | Mapping[str, Any], **overrides: Any):
    """The data module of a config or of a checkpoint's stored data section.

    Parameters
    ----------
    config : RunConfig or mapping
        A run config, or the ``data`` mapping a checkpoint stores (``Loaded.data``).
    **overrides
        Data keys to replace (e.g. ``batch_size=16, num_workers=0`` for evaluation).

    Returns
    -------
    GenomeDataModule
        Its constructor validates every input file, chromosome name and length.
    """
    from genodil.data.datamodule import GenomeDataModule
    from genodil.data.tracks import to_track_specs

    data = copy.deepcopy(dict(config.data if isinstance(config, RunConfig) else config))
    data.update(overrides)
    tracks = to_track_specs(data.pop("tracks"))
    return GenomeDataModule(tracks=tracks, **data)


def build_model(config: RunConfig, datamodule: Any = None):
    """The network of a config, with the arguments derived from its data section.

    Parameters
    ----------
    config : RunConfig
    datamodule : GenomeDataModule, optional
        When given, its tracks must be the config's (they are when it came from
        :func:`build_datamodule` of the same config).

    Returns
    -------
    DilatedResNet
        Checked to give at least one output position for ``data.window``.
    """
    from genodil.models import DilatedResNet

    config = _as_run_config(config)
    if datamodule is not None and list(datamodule.track_names) != config.track_names:
        raise ValueError(
            f"data module tracks {datamodule.track_names} differ from the config's "
            f"{config.track_names}"
        )
    model = DilatedResNet(**config.model_kwargs())
    model.check_input_length(config.data["window"])
    return model


# --------------------------------------------------------------------------- loading


def _resolve(path: Any, root: Path) -> Any:
    if not isinstance(path, str | Path) or path == "":
        return path
    p = Path(path).expanduser()
    return str(p if p.is_absolute() else (root / p).resolve())


def _resolve_paths(data: Any, root: Path) -> Any:
    """Resolve the file paths of a data section (left alone if it is not a mapping)."""
    if not isinstance(data, Mapping):
        return data
    data = dict(data)
    for key in PATH_KEYS:
        if key in data:
            data[key] = _resolve(data[key], root)
    if isinstance(data.get("tracks"), list):
        data["tracks"] = [
            {**t, "path": _resolve(t["path"], root)}
            if isinstance(t, Mapping) and "path" in t
            else t
            for t in data["tracks"]
        ]
    return data


def _read_file(path: str | Path) -> tuple[dict[str, Any], Path]:
    path = Path(path)
    if not path.exists():
        raise InputError(f"config file {path} does not exist: check the path")
    if path.is_dir():
        raise InputError(f"config file {path} is a folder; give the run config YAML file")
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as e:
        raise InputError(f"{path} is not valid YAML: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(f"cannot read config file {path}: {e}") from None
    if not isinstance(raw, dict):
        raise InputError(f"{path}: a run config is a mapping with data/model/train sections")
    root = path.resolve().parent
    if raw.get("data_root"):
        root = Path(_resolve(str(raw["data_root"]), root))
    return raw, root


def load_config(
    path: str | Path | None,
    overrides: Sequence[str] = (),
    data_root: str | Path | None = None,
) -> RunConfig:
    """Read, override, check and resolve a run config.

    Parameters
    ----------
    path : str or Path or None
        YAML run config; ``None`` builds the config from ``overrides`` alone.
    overrides : sequence of str
        Dotted command-line options such as ``["--model.channels", "32"]`` or
        ``["--data.augment.max_shift=3"]``; values are read as YAML, like the file's.
    data_root : str or Path or None
        Folder that relative data paths resolve against (overrides the file's ``data_root``).

    Returns
    -------
    RunConfig
        Every check that needs no data file has passed (see :meth:`RunConfig.validate`).

    Raises
    ------
    InputError
        Naming the file or option, the key and what is accepted.
    """
    from genodil.config.overrides import apply_overrides, parse_overrides

    raw: dict[str, Any] = {}
    source = "command line"
    root = Path.cwd()
    if path is not None:
        raw, root = _read_file(path)
        source = str(path)
    cli_root = Path.cwd()
    if data_root is not None:
        root = cli_root = Path(data_root).expanduser().resolve()
    raw.pop("data_root", None)
    raw["data"] = _resolve_paths(raw.get("data"), root)
    parsed = parse_overrides(overrides)
    if parsed:
        raw = apply_overrides(raw, parsed)
        raw["data"] = _resolve_paths(raw.get("data"), cli_root)
        source = f"{source} (with command-line overrides)" if path is not None else source
    config = RunConfig.from_dict(raw, source)
    config.validate()
    return config


def dump_config(config: RunConfig) -> str:
    """The resolved config as YAML text."""
    return _as_run_config(config).dump()
