"""YAML configs read into dataclasses, with errors that name the file and key."""

from __future__ import annotations

import dataclasses
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

T = TypeVar("T")


class _WrongType(Exception):
    """A value that does not match its field's type hint (turned into a one-line ValueError by from_dict)."""


def from_dict(cls: type[T], values: dict[str, Any] | None, where: str = "config") -> T:
    """Build dataclass ``cls`` from a dict, recursing into nested dataclasses.

    Unknown keys are errors (a typo must not silently fall back to a
    default); missing keys take the field's default.  Every value is checked
    against its field's type hint, because YAML turns a typo into another
    type without complaint (``epochs: two`` is a string, ``lr: 1e-3`` too) and
    the dataclass would otherwise fail later with a message naming neither
    the file nor the key.
    """
    return _build(cls, values, where, "")


def _build(cls: type[T], values: dict[str, Any] | None, where: str, prefix: str) -> T:
    """``from_dict`` for the fields under ``prefix`` (``"model."`` for a nested config, ``""`` at the top)."""
    values = dict(values or {})
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(values) - names)
    if unknown:
        raise ValueError(f"{where}: unknown key '{prefix}{unknown[0]}' (known: {', '.join(sorted(names))})")
    kwargs = {}
    for name, value in values.items():
        hint, key = hints[name], prefix + name
        if dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise ValueError(f"{where}: {key}: expected a mapping, got {value!r}")
            kwargs[name] = _build(hint, value, where, f"{key}.")
            continue
        try:
            kwargs[name] = _convert(value, hint)
        except _WrongType:
            expected = _type_name(hint)
            raise ValueError(f"{where}: {key}: expected {expected}, got {value!r}{_yaml_hint(value, hint)}") from None
    try:
        return cls(**kwargs)
    except (TypeError, ValueError) as error:  # the dataclass's own checks (ranges, choices)
        raise ValueError(f"{where}: {prefix[:-1]}: {error}" if prefix else f"{where}: {error}") from None


def _convert(value: Any, hint: Any) -> Any:
    """``value`` as type ``hint`` wants it (an int for a float, a list for a tuple), else _WrongType.

    ``bool`` is a subclass of ``int`` in Python, but ``epochs: true`` is a
    mistake, so booleans only match ``bool``.
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        for option in args:
            try:
                return _convert(value, option)
            except _WrongType:
                pass
        raise _WrongType
    if origin in (tuple, list):
        if not isinstance(value, (tuple, list)):
            raise _WrongType
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):  # fixed length: tuple[int, int]
            if len(value) != len(args):
                raise _WrongType
            return tuple(_convert(item, arg) for item, arg in zip(value, args))
        return origin(_convert(item, args[0]) for item in value)
    if isinstance(value, bool) and hint is not bool:
        raise _WrongType
    if hint is float and isinstance(value, int):
        return float(value)
    if isinstance(hint, type) and not isinstance(value, hint):
        raise _WrongType
    return value


def _type_name(hint: Any) -> str:
    """``int``, ``str | None``, ``tuple[int, ...]``: the hint as it is written in the dataclass."""
    return hint.__name__ if isinstance(hint, type) else str(hint).replace("typing.", "")


def _yaml_hint(value: Any, hint: Any) -> str:
    """Why a number may have arrived as text: quoted, or YAML 1.1 reads ``1e-3`` and ``-inf`` as strings."""
    if not isinstance(value, str) or not {int, float} & {hint, *typing.get_args(hint)}:
        return ""
    try:
        float(value)
    except ValueError:
        return ""
    return " (a string: write numbers unquoted, as 0.001, 1.0e-3 or -.inf)"


def load_config(cls: type[T], path: str | Path) -> T:
    with open(path, encoding="utf-8") as f:
        try:
            values = yaml.safe_load(f)
        except yaml.YAMLError as error:
            raise ValueError(f"{path}: invalid YAML ({error})") from None
    if values is not None and not isinstance(values, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return from_dict(cls, values, str(path))


def to_dict(config: Any) -> dict[str, Any]:
    return dataclasses.asdict(config)


def save_config(config: Any, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(config), sort_keys=False), encoding="utf-8")
