"""JSON encoding and decoding of the analysis dataclasses, driven by their type hints.

A field's ``metadata`` says how it is written: ``doc`` (the one-line description that
docs/analysis-schema.md shows), ``key`` (the JSON name when it is not the field's name),
``omit_none`` (the key is absent rather than null when the value is None) and ``flatten``
(the field's own fields are written into the parent object). Decoding checks every type and
raises :class:`~evalharness.errors.ConfigError` naming the path of the first bad value.
"""

from __future__ import annotations

import dataclasses
import math
import types
from collections.abc import Mapping
from typing import Any, Union, get_args, get_origin, get_type_hints

from evalharness.analysis.estimate import Estimate
from evalharness.errors import ConfigError

_ESTIMATE_KEYS = ("value", "low", "high", "n", "note")


def doc(text: str, *, key: str | None = None, omit_none: bool = False, flatten: bool = False,
        default: Any = dataclasses.MISSING) -> Any:  # fmt: skip
    """A dataclass field with its schema description and JSON options."""
    meta = {"doc": text, "key": key, "omit_none": omit_none, "flatten": flatten}
    if omit_none and default is dataclasses.MISSING:
        default = None
    return dataclasses.field(default=default, metadata=meta)


def json_key(f: dataclasses.Field[Any]) -> str:
    """The JSON name of a dataclass field."""
    return str(f.metadata.get("key") or f.name)


def encode(obj: Any) -> Any:
    """``obj`` as plain JSON values, dataclass fields in declaration order."""
    if isinstance(obj, Estimate):
        return obj.to_dict()
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        out: dict[str, Any] = {}
        for f in dataclasses.fields(obj):
            value = getattr(obj, f.name)
            if f.metadata.get("omit_none") and value is None:
                continue
            if f.metadata.get("flatten"):
                out.update(encode(value))
            else:
                out[json_key(f)] = encode(value)
        return out
    if isinstance(obj, Mapping):
        return {k: encode(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [encode(v) for v in obj]
    return obj


def _fail(where: str, expected: str, value: Any) -> ConfigError:
    shown = "null" if value is None else type(value).__name__
    return ConfigError(f"{where}: expected {expected}, got {shown}")


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _estimate(value: Any, where: str) -> Estimate:
    if not isinstance(value, dict):
        raise _fail(where, "an Estimate object", value)
    for key in _ESTIMATE_KEYS:
        if key not in value:
            raise ConfigError(f"{where}: Estimate without {key!r}")
    bounds = []
    for key in ("value", "low", "high"):
        x = value[key]
        if x is not None and not _number(x):
            raise _fail(f"{where}.{key}", "a number or null", x)
        bounds.append(math.nan if x is None else float(x))
    if not isinstance(value["n"], int) or isinstance(value["n"], bool):
        raise _fail(f"{where}.n", "an integer", value["n"])
    if not isinstance(value["note"], str):
        raise _fail(f"{where}.note", "a string", value["note"])
    return Estimate(bounds[0], bounds[1], bounds[2], value["n"], value["note"])


def decode(tp: Any, value: Any, where: str) -> Any:
    """``value`` read as type ``tp`` (a dataclass, Estimate, mapping, list, union, scalar)."""
    origin = get_origin(tp)
    if tp is Any:
        return value
    if origin in (Union, types.UnionType):
        options = [a for a in get_args(tp) if a is not type(None)]
        if value is None and len(options) < len(get_args(tp)):
            return None
        errors = []
        for option in options:
            try:
                return decode(option, value, where)
            except ConfigError as exc:
                errors.append(exc)
        raise errors[0]
    if tp is Estimate:
        return _estimate(value, where)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise _fail(where, "an object", value)
        return decode_fields(tp, value, where)
    if origin in (dict, Mapping):
        if not isinstance(value, dict):
            raise _fail(where, "an object", value)
        item = get_args(tp)[1]
        return {str(k): decode(item, v, f"{where}.{k}") for k, v in value.items()}
    if origin in (list, tuple):
        if not isinstance(value, list):
            raise _fail(where, "a list", value)
        item = get_args(tp)[0]
        return [decode(item, v, f"{where}[{i}]") for i, v in enumerate(value)]
    return _scalar(tp, value, where)


def _scalar(tp: Any, value: Any, where: str) -> Any:
    if tp is float:
        if not _number(value):
            raise _fail(where, "a number", value)
        return value  # ints stay ints: the file is written back as it was read
    if tp is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _fail(where, "an integer", value)
        return value
    if tp in (str, bool):
        if not isinstance(value, tp):
            raise _fail(where, "a string" if tp is str else "a boolean", value)
        return value
    raise TypeError(f"{where}: unsupported type {tp!r}")  # a bug in the model, not the file


def decode_fields(cls: Any, value: dict[str, Any], where: str) -> Any:
    """An instance of dataclass ``cls`` from the JSON object ``value``."""
    hints = get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for f in dataclasses.fields(cls):
        key = json_key(f)
        if f.metadata.get("flatten"):
            kwargs[f.name] = decode(hints[f.name], value, where)
        elif key in value:
            kwargs[f.name] = decode(hints[f.name], value[key], f"{where}.{key}")
        elif not f.metadata.get("omit_none"):
            raise ConfigError(f"{where}: missing field {key!r}")
    return cls(**kwargs)
