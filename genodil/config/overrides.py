"""Dotted command-line overrides of a run config: ``--section.key VALUE``.

``--model.channels 32``, ``--train.max-time=2h``, ``--model.dilations.blocks 3``,
``--data.augment.max_shift 3``, ``--data.tracks.0.scale 0.5`` and ``--trainer.fast_dev_run 1``
set one key each. Values are read as YAML, exactly like the values of the file, so nested keys
get the same types as top-level ones; the config is then checked as a whole. Dashes in key
names are read as underscores.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

import yaml

from genodil.errors import InputError

__all__ = ["OVERRIDE_SECTIONS", "apply_overrides", "is_override", "parse_overrides"]

OVERRIDE_SECTIONS = ("data", "model", "train", "trainer")


def is_override(token: str) -> bool:
    """True for a ``--section.key`` token (with or without ``=VALUE``)."""
    return (
        token.startswith("--")
        and token[2:].split("=", 1)[0].split(".", 1)[0] in (OVERRIDE_SECTIONS)
        and "." in token.split("=", 1)[0]
    )


def _valid_options() -> list[str]:
    from genodil.config import section_params, trainer_keys

    names = [f"{s}.{k}" for s in ("data", "model", "train") for k in section_params(s)]
    return names + [f"trainer.{k}" for k in trainer_keys()]


def _unknown(key: str) -> InputError:
    import difflib

    section, _, rest = key.partition(".")
    options = _valid_options()
    same = [o.split(".", 1)[1] for o in options if o.startswith(section + ".")]
    if same:  # a known section: match the key within it
        near = [f"{section}.{k}" for k in difflib.get_close_matches(rest, same, n=1, cutoff=0.6)]
    else:
        near = difflib.get_close_matches(key, options, n=1, cutoff=0.6)
    hint = f"; did you mean --{near[0]}?" if near else ""
    return InputError(f"unknown option --{key}{hint} (see genodil train --help and docs/config.md)")


def _check_path(path: list[str]) -> None:
    """Refuse a key that no section has (nested keys are checked with the whole config)."""
    from genodil.config import section_params, trainer_keys

    key = ".".join(path)
    section = path[0]
    if section not in OVERRIDE_SECTIONS or len(path) < 2:
        raise _unknown(key)
    valid = trainer_keys() if section == "trainer" else section_params(section)
    if path[1] not in valid:
        raise _unknown(key)
    if len(path) > 2 and section != "trainer":
        from genodil.config.types import describe

        kind = describe(section_params(section)[path[1]].annotation)
        if "mapping" not in kind and "list" not in kind:
            raise InputError(
                f"option --{key}: {section}.{path[1]} is {kind}, so it has no key {path[2]!r}; "
                f"give --{section}.{path[1]} VALUE"
            )


def _value(text: str) -> Any:
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return text


def parse_overrides(tokens: Sequence[str]) -> list[tuple[list[str], Any]]:
    """``["--model.channels", "32", "--train.lr=0.01"]`` -> ``[(["model", "channels"], 32), ...]``.

    Raises
    ------
    InputError
        A token that is not ``--section.key``, an unknown key (naming the nearest one), or a
        key without a value.
    """
    out: list[tuple[list[str], Any]] = []
    i = 0
    tokens = list(tokens)
    while i < len(tokens):
        tok = tokens[i]
        if not tok.startswith("--"):
            raise InputError(
                f"unexpected argument {tok!r}: config overrides look like --section.key VALUE"
            )
        key, eq, text = tok[2:].partition("=")
        path = [p.replace("-", "_") for p in key.split(".")]
        _check_path(path)
        if not eq:
            if i + 1 >= len(tokens) or tokens[i + 1].startswith("--"):
                raise InputError(f"option --{key} needs a value, e.g. --{key} VALUE")
            text = tokens[i + 1]
            i += 1
        out.append((path, _value(text)))
        i += 1
    return out


def _step(container: Any, part: str, key: str) -> tuple[Any, str | int]:
    if isinstance(container, list):
        if not part.isdigit() or int(part) >= len(container):
            raise InputError(
                f"option --{key}: {part!r} is not an index of a list of {len(container)} items"
            )
        return container, int(part)
    if container is None or not isinstance(container, dict):
        raise InputError(f"option --{key}: the value it goes into is not a mapping")
    return container, part


def apply_overrides(raw: dict[str, Any], parsed: list[tuple[list[str], Any]]) -> dict[str, Any]:
    """A copy of ``raw`` with each parsed override set, in order (missing mappings created)."""
    raw = copy.deepcopy(raw)
    for path, value in parsed:
        key = ".".join(path)
        node: Any = raw
        for part in path[:-1]:
            node, idx = _step(node, part, key)
            child = node[idx] if isinstance(node, list) else node.get(idx)
            if child is None:
                child = {}
                node[idx] = child
            node = child
        node, idx = _step(node, path[-1], key)
        node[idx] = value
    return raw
