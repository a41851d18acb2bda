"""The config checked against the JSON schema (specbench/core/schema.yaml), with one-line errors.

:func:`validate` is what rules/common.smk runs before anything else: it fills the schema's
defaults into the config (as Snakemake's own ``validate`` would) and, for a config the schema
rejects, raises :class:`~specbench.workflow.config_datasets.ConfigError` with one line naming the
key path, the offending value and what is allowed, e.g. ``datasets.bench.render.train_per_class
= -5: -5 is less than the minimum of 1``. Where several things are wrong, the line is about the
most specific one (jsonschema's ``best_match``); every error and the schema's own text are added
only on request (environment variable ``SPECBENCH_CONFIG_ERRORS=full``).
"""

from __future__ import annotations

import os
from typing import Any

from specbench.core import schema
from specbench.workflow.config_datasets import ConfigError

#: Set to "full" for every schema error, with the schema text of each, below the one line.
FULL_ERRORS_ENV = "SPECBENCH_CONFIG_ERRORS"

__all__ = ["FULL_ERRORS_ENV", "describe", "prepare_config", "validate"]


def _path(error) -> str:
    return ".".join(str(part) for part in error.absolute_path)


def _value(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def describe(error) -> str:
    """One line for a jsonschema ValidationError: where, what was given, what is allowed."""
    where = _path(error)
    if error.validator == "additionalProperties" and isinstance(error.instance, dict):
        allowed = list(error.schema.get("properties", {}))
        unknown = [key for key in error.instance if key not in allowed]
        keys = ", ".join(repr(key) for key in unknown)
        place = f"{where}: unknown key" if where else "unknown top-level key"
        return f"{place}{'s' if len(unknown) > 1 else ''} {keys} (allowed: {', '.join(allowed)})"
    if error.validator == "required":
        return f"{where or 'the config'}: {error.message}"
    line = f"{where or 'the config'} = {_value(error.instance)}: {error.message}"
    description = " ".join(str(error.schema.get("description", "")).split())
    if error.validator in ("pattern", "propertyNames") and description:
        line += f" (allowed: {description})"
    elif error.validator in ("oneOf", "anyOf"):  # "not valid under any of the given schemas"
        line += f" (allowed: {', or '.join(_alternative(sub) for sub in error.validator_value)})"
    return line


_TYPES = {"number": "a number", "integer": "an integer", "string": "a string",
          "boolean": "true or false", "object": "a mapping", "array": "a list"}  # fmt: skip
_BOUNDS = (("minimum", ">="), ("exclusiveMinimum", ">"), ("maximum", "<="),
           ("exclusiveMaximum", "<"))  # fmt: skip


def _alternative(sub: dict) -> str:
    """One alternative of a oneOf/anyOf in words: ``'published' or 'auto'``, ``a number > 0``,
    ``a list of 2 numbers``."""
    sub = schema._resolve(sub)
    if "enum" in sub:
        return " or ".join(repr(value) for value in sub["enum"])
    kind = sub.get("type")
    words = _TYPES.get(kind, kind or "a value")
    if kind == "array":
        items = sub.get("items")
        count = sub.get("minItems") if sub.get("minItems") == sub.get("maxItems") else None
        if isinstance(items, dict) and "type" in schema._resolve(items):
            item = _TYPES.get(schema._resolve(items)["type"], "value").split(" ", 1)[-1]
            words = f"a list of {count} {item}s" if count else f"a list of {item}s"
        elif count:
            words = f"a list of {count}"
    bounds = [f"{sign} {sub[key]}" for key, sign in _BOUNDS if key in sub]
    if "pattern" in sub:
        bounds.append(f"matching {sub['pattern']}")
    return " ".join([words, *bounds])


def validate(config: dict) -> None:
    """Check `config` against the schema and fill in its defaults (in place); ConfigError with one
    line (see the module docstring) if the schema rejects it."""
    import jsonschema

    errors = list(schema.validator().iter_errors(config))
    if not errors:
        return
    line = describe(jsonschema.exceptions.best_match(errors))
    if os.environ.get(FULL_ERRORS_ENV) == "full":
        line += "\n\n" + "\n\n".join(str(error) for error in errors)
    else:
        line += f" (every error: {FULL_ERRORS_ENV}=full)" if len(errors) > 1 else ""
    raise ConfigError(line)


def prepare_config(config: dict, basedir: str = ".") -> list[dict]:
    """Everything rules/common.smk does to the config before planning, in place: the schema check
    (defaults filled), the dataset sweeps expanded (each level a dataset ``<name>_<level>``, each
    ``sweep: true`` experiment one experiment per level) and checked again, the data seeds'
    datasets added, then the semantic checks (:func:`specbench.workflow.config.check_config`).
    Returns the swept experiments of the config as given (before the expansion). ConfigError (one
    line) on the first problem."""
    from specbench.workflow import config as sbconfig

    validate(config)
    swept = sbconfig.swept_experiments(config)
    config.update(sbconfig.expand_sweeps(config))
    validate(config)
    sbconfig.prepare(config, basedir=basedir)
    return swept
