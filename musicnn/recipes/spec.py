"""What a recipe holds: :class:`Recipe`, read from TOML, checked, overridden key by key.

A recipe is a TOML file with the tables ``[data]``, ``[split]``, ``[features]``,
``[model]`` (``family`` and ``[model.params]``), ``[training]`` and ``[report]``; every key
it may hold is in :data:`SCHEMA`, so that a misspelt key is an error naming it rather than a
setting silently ignored.  The shipped recipes are in the top-level ``recipes/`` folder
(``musicnn._recipes`` in an installed wheel).
"""

from __future__ import annotations

import copy
import json
import os
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from musicnn.errors import ConfigError
from musicnn.resources import recipes as shipped_recipes

__all__ = ["SCHEMA", "Recipe", "apply_overrides", "dump_toml", "load_recipe"]

_ANY = object()  # a free-form table: its keys are checked by what receives them

#: Every key a recipe may hold, with the type of its value; tables nest.
SCHEMA: dict[str, Any] = {
    "name": str,
    "description": str,
    "task": str,
    "data": {
        "build": str,      # an embedded set built on first use: instruments, styles
        "reader": str,     # a data set reader (musicnn.data.readers): gtzan, nsynth, ...
        "path": str,       # a folder or manifest; for a reader, the data set's root
        "options": _ANY,   # keyword arguments of the builder or the reader
    },
    "split": {
        "protocol": str,   # group, by-source, official (the data set's own split, else groups)
        "test_size": float,
        "val_size": float,
        "test_source": str,
    },
    "features": _ANY,      # preset plus FeatureSpec fields, checked by musicnn.pipeline.feature_spec
    "model": {
        "family": str,
        "params": _ANY,    # checked against the family by musicnn.pipeline.training_params
    },
    "training": {
        "seed": int,
        "max_epochs": int,
        "lr": float,
        "lr_schedule": str,
        "augment": str,
        "class_weight": str,
        "audio_augment": str,
        "augment_copies": int,
        "ensemble": int,
        "device": str,
    },
    "report": {
        "note": str,       # printed at the top of the run's report (e.g. why a split is optimistic)
    },
}

PROTOCOLS = ("group", "by-source", "official")


@dataclass
class Recipe:
    """A checked recipe.

    Attributes
    ----------
    name : str
    values : dict
        The recipe's tables, as read (and overridden), every key known to :data:`SCHEMA`.
    source : str
        Where it was read from (a shipped name or a path).
    """

    name: str
    values: dict[str, Any] = field(default_factory=dict)
    source: str = ""

    def get(self, dotted: str, default: Any = None) -> Any:
        """The value at ``"table.key"`` (``default`` when unset)."""
        node: Any = self.values
        for part in dotted.split("."):
            if not isinstance(node, dict) or part not in node:
                return default
            node = node[part]
        return node

    @property
    def family(self) -> str:
        return str(self.get("model.family"))

    def to_toml(self) -> str:
        """The recipe as TOML (what a run folder's ``recipe.toml`` holds)."""
        return dump_toml(self.values)


def _check_table(values: dict[str, Any], schema: dict[str, Any], where: str, origin: str) -> None:
    for key, value in values.items():
        dotted = f"{where}{key}"
        if key not in schema:
            known = ", ".join(f"{where}{k}" for k in schema)
            raise ConfigError(f"{origin}: unknown key {dotted!r}; known keys here: {known}")
        expected = schema[key]
        if expected is _ANY:
            if not isinstance(value, dict):
                raise ConfigError(f"{origin}: {dotted} must be a table, got {value!r}")
        elif isinstance(expected, dict):
            if not isinstance(value, dict):
                raise ConfigError(f"{origin}: {dotted} must be a table, got {value!r}")
            _check_table(value, expected, f"{dotted}.", origin)
        elif expected is float:
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigError(f"{origin}: {dotted}={value!r} must be a number")
        elif expected is int:
            if isinstance(value, bool) or not isinstance(value, int):
                raise ConfigError(f"{origin}: {dotted}={value!r} must be an integer")
        elif not isinstance(value, expected):
            raise ConfigError(f"{origin}: {dotted}={value!r} must be a {expected.__name__}")


def check_values(values: dict[str, Any], origin: str) -> None:
    """Raise ConfigError naming the first unknown key, ill-typed value or missing essential."""
    _check_table(values, SCHEMA, "", origin)
    if not values.get("model", {}).get("family"):
        raise ConfigError(f"{origin}: model.family is not set (a family of `musicnn models`)")
    data = values.get("data", {})
    sources = [k for k in ("build", "reader") if k in data]
    if len(sources) > 1:
        raise ConfigError(f"{origin}: data.build and data.reader exclude each other; keep one")
    protocol = values.get("split", {}).get("protocol", "group")
    if protocol not in PROTOCOLS:
        raise ConfigError(f"{origin}: split.protocol={protocol!r} must be one of {', '.join(PROTOCOLS)}")
    if protocol == "by-source" and not values.get("split", {}).get("test_source"):
        raise ConfigError(f"{origin}: split.protocol='by-source' needs split.test_source")


def load_recipe(name_or_path: str | os.PathLike[str], overrides: list[str] | None = None) -> Recipe:
    """A shipped recipe by name (``musicnn recipe list``) or a TOML file, with overrides applied.

    Parameters
    ----------
    name_or_path : str or path-like
        A shipped recipe's name, or the path of a ``.toml`` file.
    overrides : list of str, optional
        ``"table.key=VALUE"`` items (:func:`apply_overrides`).

    Raises
    ------
    ConfigError
        An unknown name (the message lists the shipped ones), a file that is not valid
        TOML (with the line), an unknown key, or a value of the wrong type.
    """
    shipped = shipped_recipes()
    text_path = Path(name_or_path)
    if str(name_or_path) in shipped:
        entry = shipped[str(name_or_path)]
        text, origin = entry.read_text(encoding="utf-8"), f"recipe {name_or_path}"
    elif text_path.suffix.lower() == ".toml" or text_path.is_file():
        if not text_path.is_file():
            raise ConfigError(f"recipe file {text_path} does not exist")
        text, origin = text_path.read_text(encoding="utf-8"), str(text_path)
    else:
        raise ConfigError(f"no recipe named {str(name_or_path)!r}; shipped recipes: "
                          f"{', '.join(sorted(shipped)) or 'none'} (or give the path of a .toml file)")
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: not valid TOML: {exc}") from None
    check_values(values, origin)
    if overrides:
        values = apply_overrides(values, overrides, origin)
    name = str(values.get("name") or (text_path.stem if origin == str(text_path) else name_or_path))
    return Recipe(name=name, values=values, source=origin)


def _parse_value(raw: str) -> Any:
    """A TOML value (``[32, 64]``, ``3e-3``, ``true``, ``"x"``); anything else is a bare string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def apply_overrides(values: dict[str, Any], overrides: list[str], origin: str = "recipe") -> dict[str, Any]:
    """A copy of ``values`` with each ``"table.key=VALUE"`` set (VALUE read as TOML).

    Raises
    ------
    ConfigError
        An item without ``=``, or a key :data:`SCHEMA` does not know (free-form tables
        such as ``model.params`` take any key; what receives them checks it).
    """
    out = copy.deepcopy(values)
    for item in overrides:
        if "=" not in item:
            raise ConfigError(f"override {item!r} is not KEY=VALUE (e.g. model.params.channels=[32,64])")
        dotted, raw = (s.strip() for s in item.split("=", 1))
        parts = dotted.split(".")
        node, schema = out, SCHEMA
        for depth, part in enumerate(parts):
            free = schema is _ANY
            if not free and part not in schema:
                where = ".".join(parts[:depth])
                known = ", ".join((f"{where}." if where else "") + k for k in schema)
                raise ConfigError(f"override {item!r}: unknown key {'.'.join(parts[:depth + 1])!r}; "
                                  f"known keys here: {known}")
            last = depth == len(parts) - 1
            if last:
                node[part] = _parse_value(raw)
            else:
                child_schema = _ANY if free else schema[part]
                if not free and not isinstance(child_schema, dict) and child_schema is not _ANY:
                    raise ConfigError(f"override {item!r}: {'.'.join(parts[:depth + 1])} is a value, not a table")
                node = node.setdefault(part, {})
                schema = child_schema
    check_values(out, f"{origin} (with overrides)")
    return out


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"
    raise ConfigError(f"cannot write {value!r} in TOML")


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def dump_toml(values: dict[str, Any]) -> str:
    """TOML text of a recipe's values (scalars first, then one ``[table]`` per table)."""
    lines: list[str] = []

    def table(node: dict[str, Any], prefix: str) -> None:
        scalars = {k: v for k, v in node.items() if not isinstance(v, dict)}
        tables = {k: v for k, v in node.items() if isinstance(v, dict)}
        if prefix and (scalars or not tables):
            lines.append(f"\n[{prefix}]")
        for k, v in scalars.items():
            lines.append(f"{_toml_key(k)} = {_toml_value(v)}")
        for k, v in tables.items():
            table(v, f"{prefix}.{_toml_key(k)}" if prefix else _toml_key(k))

    table(values, "")
    return "\n".join(lines).lstrip("\n") + "\n"


def known_feature_fields() -> set[str]:
    """The keys ``[features]`` takes: ``preset`` and the :class:`~musicnn.features.FeatureSpec` fields."""
    from musicnn.features import FeatureSpec

    return {"preset"} | {f.name for f in fields(FeatureSpec)}
