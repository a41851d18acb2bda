"""The configuration schema (``specbench/core/schema.yaml``): the one source of every default.

rules/common.smk validates the workflow's config against :data:`SCHEMA_PATH` (Snakemake fills the
schema's defaults); code that runs outside a workflow (pytest, ``specbench classify``, benchmarks)
reads the same defaults from here instead of restating them:

- :func:`defaults` -- the defaults of one part of the config, e.g. ``defaults("training")`` (the
  paper's protocol), ``defaults("datasets", "*", "render")``, ``defaults("$defs", "figure_style")``;
- :func:`enum` -- the allowed values of a setting, e.g. ``enum("$defs", "training", "backend")``;
- :func:`fill` -- a part of a config with the defaults filled in and checked against the schema
  (raises :class:`SchemaError` naming the offending key and value).

A location is a path of keys from the schema's root: property names (``training``), ``"*"`` for
the values of a mapping with free keys (``datasets.*``), or ``"$defs"`` followed by a definition's
name. ``$ref`` is followed wherever it appears.
"""

from __future__ import annotations

import copy
import functools
from pathlib import Path
from typing import Any

SCHEMA_PATH = Path(__file__).with_name("schema.yaml")

__all__ = [
    "SCHEMA_PATH",
    "SchemaError",
    "defaults",
    "enum",
    "fill",
    "kinds",
    "load",
    "node",
    "validator",
]


class SchemaError(ValueError):
    """A value the schema rejects (the message names where and what)."""


@functools.cache
def load() -> dict:
    """The schema as a dict (parsed once per process)."""
    import yaml

    with open(SCHEMA_PATH) as f:
        return yaml.safe_load(f)


def kinds() -> dict[str, str]:
    """The settings whose other keys depend on one of theirs, their kind: ``$defs`` name (the
    config key that uses it, e.g. ``noise``) -> that key (``kind``). Such a setting is an object
    with one required key, an ``enum`` (the alternatives: gaussian or poisson noise, ...)."""
    out = {}
    for name, definition in load()["$defs"].items():
        required = definition.get("required") or []
        properties = definition.get("properties") or {}
        if len(required) == 1 and "enum" in properties.get(required[0], {}):
            out[name] = required[0]
    return out


def _resolve(schema: dict) -> dict:
    """`schema` with a ``$ref`` (to ``#/$defs/...``) merged under its own keywords."""
    ref = schema.get("$ref")
    if ref is None:
        return schema
    if not ref.startswith("#/$defs/"):
        raise SchemaError(f"unsupported $ref {ref!r}")
    target = _resolve(load()["$defs"][ref.removeprefix("#/$defs/")])
    merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
    if "properties" in target and "properties" in schema:
        merged["properties"] = {**target["properties"]}
        for key, sub in schema["properties"].items():
            merged["properties"][key] = {**target["properties"].get(key, {}), **sub}
    return merged


def node(*location: str) -> dict:
    """The (``$ref``-resolved) schema at `location` (see the module docstring)."""
    root = load()
    if location and location[0] == "$defs":
        if len(location) < 2 or location[1] not in root["$defs"]:
            raise SchemaError(f"no definition {'.'.join(location[:2])!r} in the schema")
        current, rest = _resolve(root["$defs"][location[1]]), location[2:]
    else:
        current, rest = root, location
    walked: list[str] = []
    for key in rest:
        walked.append(key)
        if key == "*":
            sub = current.get("additionalProperties")
            if not isinstance(sub, dict):
                raise SchemaError(f"{'.'.join(walked)}: not a mapping with free keys")
        else:
            sub = current.get("properties", {}).get(key)
            if sub is None:
                raise SchemaError(f"no setting {'.'.join(walked)!r} in the schema")
        current = _resolve(sub)
    return current


def _defaults_of(schema: dict) -> Any:
    schema = _resolve(schema)
    props = schema.get("properties")
    if props is None:
        return copy.deepcopy(schema.get("default"))
    out = copy.deepcopy(schema.get("default", {}))
    for key, sub in props.items():
        sub = _resolve(sub)
        value = _defaults_of(sub)
        if "default" in sub or value not in (None, {}):
            out.setdefault(key, value)
        if isinstance(out.get(key), dict) and isinstance(value, dict):
            out[key] = {**value, **out[key]}
    return out


def defaults(*location: str) -> Any:
    """The defaults at `location`: a dict for an object (nested objects whose keys have defaults
    included), else the setting's default value (None when it has none). A fresh copy."""
    return _defaults_of(node(*location))


def enum(*location: str) -> list:
    """The allowed values of the setting at `location` (its ``enum``)."""
    values = node(*location).get("enum")
    if values is None:
        raise SchemaError(f"{'.'.join(location)} has no enumerated values in the schema")
    return list(values)


def _validator(schema: dict):
    """A jsonschema validator for `schema` that fills in defaults (as Snakemake's validate)."""
    import jsonschema

    base = jsonschema.validators.validator_for(schema)
    check_properties = base.VALIDATORS["properties"]

    def properties(validator, props, instance, sub):
        if isinstance(instance, dict):
            for key, prop in props.items():
                if "default" in prop and key not in instance:
                    instance[key] = copy.deepcopy(prop["default"])
        yield from check_properties(validator, props, instance, sub)

    return jsonschema.validators.extend(base, {"properties": properties})(schema)


def validator():
    """A jsonschema validator of the whole schema that fills in the defaults of the config it
    checks (:mod:`specbench.workflow.validation`, the workflow's check)."""
    return _validator(load())


def fill(value: dict | None, *location: str, name: str | None = None) -> dict:
    """A copy of `value` (the part of a config at `location`) with the schema's defaults filled
    in, checked against the schema; SchemaError names the first problem (prefixed by `name`,
    default the location)."""
    out = copy.deepcopy(value) if value is not None else {}
    schema = {"$defs": load()["$defs"], **node(*location)}
    errors = sorted(_validator(schema).iter_errors(out), key=lambda e: list(e.absolute_path))
    if errors:
        err = errors[0]
        where = ".".join(str(p) for p in [name or ".".join(location), *err.absolute_path])
        raise SchemaError(f"{where}: {err.message}")
    return out
