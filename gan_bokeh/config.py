"""Typed configuration: dataclasses ← YAML, ``--set a.b=c`` overrides, validation with clear messages.

Each room declares its own dataclasses (``TrainConfig`` in :mod:`gan_bokeh.train.config`, the scraper
config in :mod:`scrapers.config`, ...) and uses the generic machinery here:

>>> cfg = load_config(TrainConfig, "configs/cyclegan.yaml", overrides=["train.lr=1e-4"])

Unknown keys, wrong types and bad override syntax raise :class:`~gan_bokeh.errors.UserError` whose
message names the key (``model.ngf: expected int, got 'wide'``). This module never imports torch.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

import yaml

from gan_bokeh.errors import UserError, first_line
from gan_bokeh.io.atomic import atomic_write_text

__all__ = ["load_config", "from_dict", "to_dict", "apply_overrides", "dump_config", "resolve_config_path",
           "CONFIG_DIR"]

T = TypeVar("T")

#: The repository's ``configs/`` folder; ``--config NAME`` also finds ``configs/NAME.yaml`` there.
CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


def resolve_config_path(name_or_path: str | os.PathLike[str]) -> Path:
    """A path as given, or a bare name looked up as ``configs/<name>.yaml``."""
    p = Path(name_or_path)
    if p.is_file():
        return p
    for cand in (CONFIG_DIR / p, CONFIG_DIR / f"{p}.yaml"):
        if cand.is_file():
            return cand
    known = ", ".join(sorted(q.stem for q in CONFIG_DIR.glob("*.yaml"))) if CONFIG_DIR.is_dir() else ""
    raise UserError(f"config {name_or_path!s}: no such file" + (f" (built-in configs: {known})" if known else ""))


def load_config(cls: type[T], path: str | os.PathLike[str] | None = None, *,
                overrides: list[str] | None = None, extra: dict[str, Any] | None = None) -> T:
    """Build ``cls`` from defaults ← YAML file ← ``extra`` dict ← ``key=value`` overrides.

    Raises:
        UserError: unreadable YAML, unknown key, wrong type, or a ``validate()`` failure.
    """
    data: dict[str, Any] = {}
    if path is not None:
        p = resolve_config_path(path)
        try:
            loaded = yaml.safe_load(p.read_text(encoding="utf-8"))
        except yaml.YAMLError as err:
            raise UserError(f"{p}: invalid YAML ({first_line(err)})") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise UserError(f"{p}: the top level must be a mapping of sections")
        data = loaded or {}
    if extra:
        _deep_update(data, extra)
    if overrides:
        apply_overrides(data, overrides)
    obj = from_dict(cls, data)
    validate = getattr(obj, "validate", None)
    if callable(validate):
        validate()
    return obj


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``a.b.c=value`` strings in place; values are parsed as YAML scalars/lists."""
    for item in overrides:
        if "=" not in item:
            raise UserError(f"--set {item!r}: expected key=value, e.g. --set train.lr=1e-4")
        key, _, raw = item.partition("=")
        parts = [k for k in key.strip().split(".") if k]
        if not parts:
            raise UserError(f"--set {item!r}: empty key")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        node = data
        for k in parts[:-1]:
            nxt = node.setdefault(k, {})
            if not isinstance(nxt, dict):
                raise UserError(f"--set {item!r}: {k} is not a section")
            node = nxt
        node[parts[-1]] = value
    return data


def _deep_update(dst: dict[str, Any], src: dict[str, Any]) -> None:
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            _deep_update(dst[k], v)
        else:
            dst[k] = v


def from_dict(cls: type[T], data: dict[str, Any], *, where: str = "") -> T:
    """Recursively build dataclass ``cls`` from a plain dict, checking keys and types."""
    if not isinstance(data, dict):
        raise UserError(f"{where or 'config'}: expected a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise UserError(f"{_join(where, unknown[0])}: unknown key (known: {', '.join(sorted(fields))})")
    kwargs = {name: _coerce(hints[name], data[name], _join(where, name)) for name in data}
    return cls(**kwargs)


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _coerce(tp: Any, value: Any, where: str) -> Any:  # noqa: C901 - a flat type switch reads best
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if tp is Any:
        return value
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for a in args:
            if a is type(None):
                continue
            try:
                return _coerce(a, value, where)
            except UserError as err:
                errors.append(str(err))
        raise UserError(errors[0] if errors else f"{where}: invalid value {value!r}")
    if origin is typing.Literal:
        if value not in args:
            raise UserError(f"{where}: expected one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        return from_dict(tp, value or {}, where=where)
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise UserError(f"{where}: expected a list, got {value!r}")
        item_t = args[0] if args else Any
        items = [_coerce(item_t, v, f"{where}[{i}]") for i, v in enumerate(value)]
        return items if origin is list else tuple(items)
    if origin is dict:
        if not isinstance(value, dict):
            raise UserError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if tp is bool:
        if isinstance(value, bool):
            return value
        raise UserError(f"{where}: expected true/false, got {value!r}")
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise UserError(f"{where}: expected an integer, got {value!r}")
    if tp is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):
            try:
                return float(value)  # YAML reads "1e-4" as a string
            except ValueError:
                pass
        raise UserError(f"{where}: expected a number, got {value!r}")
    if tp is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise UserError(f"{where}: expected a string, got {value!r}")
    return value


def to_dict(obj: Any) -> dict[str, Any]:
    """A dataclass as plain nested dicts/lists (tuples become lists), ready for YAML/JSON."""
    def conv(v: Any) -> Any:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return {f.name: conv(getattr(v, f.name)) for f in dataclasses.fields(v)}
        if isinstance(v, (list, tuple)):
            return [conv(x) for x in v]
        if isinstance(v, dict):
            return {k: conv(x) for k, x in v.items()}
        if isinstance(v, Path):
            return str(v)
        return v
    return conv(obj)


def dump_config(obj: Any, path: str | os.PathLike[str]) -> None:
    """Write the resolved config as YAML, atomically."""
    atomic_write_text(path, yaml.safe_dump(to_dict(obj), sort_keys=False))
