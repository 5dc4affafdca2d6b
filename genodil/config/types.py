"""Check a config value against a type annotation, with messages in plain words.

Only the annotation forms the config classes use are understood: ``Any``, ``None``, ``bool``,
``int``, ``float``, ``str``, ``Literal[...]``, ``list[X]``, ``dict``/``dict[K, V]``, unions of
these, and dataclasses (checked by their own fields elsewhere, so accepted as mappings here).

Values come from YAML (a file or a command-line override), so a few lossless conversions are
made: an integer where a float is expected, a YAML number where text is expected
(``precision: 16``), and text such as ``1e-3`` (which YAML reads as a string) where a float is
expected.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, Literal

__all__ = ["ConfigTypeError", "as_number", "check_type", "describe"]


def as_number(value: Any) -> float | None:
    """A number, or text such as ``1e-3`` that YAML reads as a string; None otherwise."""
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class ConfigTypeError(ValueError):
    """A config value of the wrong type; the message names the key and what it accepts."""


class _Mismatch(Exception):
    pass


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def describe(tp: Any) -> str:
    """A type annotation in plain words: ``list[int] | None`` -> "a list of integers, or null"."""
    if tp is Any:
        return "any value"
    if tp is type(None) or tp is None:
        return "null"
    if _is_union(tp):
        parts = [describe(a) for a in typing.get_args(tp)]
        return ", or ".join(parts) if len(parts) > 2 else " or ".join(parts)
    origin = typing.get_origin(tp)
    if origin is Literal:
        return "one of " + ", ".join(str(a) for a in typing.get_args(tp))
    if origin in (list, tuple) or tp in (list, tuple):
        args = typing.get_args(tp)
        return f"a list of {_plural(args[0])}" if args else "a list"
    if origin is dict or tp is dict:
        return "a mapping (key: value)"
    if dataclasses.is_dataclass(tp):
        return f"a mapping of {tp.__name__} fields"
    return {
        bool: "true or false",
        int: "an integer",
        float: "a number",
        str: "text",
    }.get(tp, getattr(tp, "__name__", str(tp)))


def _plural(tp: Any) -> str:
    words = {int: "integers", float: "numbers", str: "names (text)", bool: "true/false"}
    if tp in words:
        return words[tp]
    if dataclasses.is_dataclass(tp):
        return f"{tp.__name__} mappings"
    return f"values ({describe(tp)})"


def _show(value: Any) -> str:
    if isinstance(value, bool) or value is None:
        return str(value).lower() if value is not None else "null"
    kind = {list: "the list ", tuple: "the list ", dict: "the mapping ", str: "the text "}
    return f"{kind.get(type(value), '')}{value!r}"


def _scalar(value: Any, tp: Any, strict: bool) -> Any:
    if tp is bool:
        if isinstance(value, bool):
            return value
    elif tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if not strict and isinstance(value, float) and value.is_integer():
            return int(value)
    elif tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        if not strict and isinstance(value, str):
            try:
                return float(value)
            except ValueError:
                pass
    elif tp is str:
        if isinstance(value, str):
            return value
        if not strict and isinstance(value, int | float) and not isinstance(value, bool):
            return str(value)
    raise _Mismatch


def _convert(value: Any, tp: Any, name: str, strict: bool) -> Any:
    if tp is Any:
        return value
    if tp is type(None) or tp is None:
        if value is None:
            return None
        raise _Mismatch
    if _is_union(tp):
        args = typing.get_args(tp)
        for mode in (True, False) if not strict else (True,):
            for arg in args:
                try:
                    return _convert(value, arg, name, mode)
                except _Mismatch:
                    continue
        raise _Mismatch
    origin = typing.get_origin(tp)
    if origin is Literal:
        if value in typing.get_args(tp) and not isinstance(value, bool):
            return value
        raise _Mismatch
    if origin in (list, tuple) or tp in (list, tuple):
        if not isinstance(value, list | tuple):
            raise _Mismatch
        args = typing.get_args(tp)
        if not args:
            return list(value)
        return [_item(v, args[0], f"{name}[{i}]") for i, v in enumerate(value)]
    if origin is dict or tp is dict or dataclasses.is_dataclass(tp):
        if not isinstance(value, Mapping):
            raise _Mismatch
        return dict(value)
    return _scalar(value, tp, strict)


def _item(value: Any, tp: Any, name: str) -> Any:
    try:
        return _convert(value, tp, name, strict=False)
    except _Mismatch:
        raise ConfigTypeError(f"{name} must be {describe(tp)}, not {_show(value)}") from None


def check_type(value: Any, annotation: Any, name: str) -> Any:
    """Return ``value`` checked against ``annotation`` (with lossless conversions).

    Parameters
    ----------
    value
        From YAML.
    annotation
        A resolved type annotation (``typing.get_type_hints``).
    name
        The dotted key, used in the message (``data.splits``).

    Raises
    ------
    ConfigTypeError
        ``"data.splits must be a mapping (key: value) or null, not the list ['chr2']"``.
    """
    return _item(value, annotation, name)
