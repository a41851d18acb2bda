"""What the tables share: display order, Markdown, writing a table, the input error."""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from specbench.core.atomic import atomic_path
from specbench.core.canonical import canonical_json
from specbench.models import registry

logger = logging.getLogger("specbench.results.tables")

#: Order of the paper's experiments (others follow alphabetically).
PAPER_EXPERIMENTS = ("benchmark", "activation", "modifications")


class TableInputError(ValueError):
    """An input file of a table is unreadable or inconsistent; the message names the file."""


def dense_activation(architecture: str, hyperparameters: Mapping[str, Any] | None) -> str | None:
    """The effective activation of the hidden dense layers of a model.

    ``hyperparameters["dense_activation"]`` when the model sets it, else the architecture's
    published default (specbench.models.registry); None for an architecture that the registry
    does not know (then only an explicit setting counts).
    """
    hyperparameters = hyperparameters or {}
    if hyperparameters.get("dense_activation"):
        return str(hyperparameters["dense_activation"])
    from specbench.models import registry

    arch = registry.ARCHITECTURES.get(architecture)
    if arch is None:
        return None
    return arch.defaults.get("dense_activation")


def is_original(hyperparameters: Mapping[str, Any] | str | None) -> bool:
    """True for a model with the published hyperparameters (no overrides) of its architecture."""
    if isinstance(hyperparameters, str):
        hyperparameters = json.loads(hyperparameters) if hyperparameters.strip() else {}
    return not hyperparameters


def _rank(value: str, preferred: Sequence[str]) -> tuple[int, str]:
    return (preferred.index(value), "") if value in preferred else (len(preferred), value)


def architecture_order(architectures: Iterable[str]) -> list[str]:
    """Distinct architecture names in the paper's order (others alphabetically after them)."""
    return sorted(set(architectures), key=lambda name: _rank(name, registry.names()))


def architecture_label(architecture: str) -> str:
    """Short display name: a published architecture's own; a user builder's file stem or module
    (with the function unless it is ``build``) and † (not in the paper)."""
    if registry.is_published(architecture) or ":" not in str(architecture):
        return str(architecture)
    target, _, function = str(architecture).rpartition(":")
    stem = Path(target).stem if target.endswith(".py") or "/" in target else target
    return f"{stem}{'' if function == 'build' else ':' + function} †"


def model_order(models: pd.DataFrame) -> list[str]:
    """Model names of `models` (columns model, architecture[, hyperparameters]) in display order.

    Architectures in the paper's order (others alphabetically after them); within one
    architecture the original (no hyperparameter overrides) first, then the variants by name.
    """
    cols = [c for c in ("model", "architecture", "hyperparameters") if c in models.columns]
    rows = models[cols].drop_duplicates("model")

    def key(row) -> tuple:
        original = is_original(row.get("hyperparameters", "{}"))
        return (*_rank(row["architecture"], registry.names()), not original, row["model"])

    return [row["model"] for _, row in sorted(rows.iterrows(), key=lambda item: key(item[1]))]


def experiment_order(experiments: Iterable[str]) -> list[str]:
    """Experiment names: the paper's three first, in the paper's order, then the others."""
    return sorted(set(experiments), key=lambda name: _rank(name, PAPER_EXPERIMENTS))


def _format_cell(value: Any) -> str:
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return ""
        if float(value).is_integer() and abs(value) < 1e15:
            return str(int(value))
        text = f"{value:.3f}".rstrip("0").rstrip(".")
        return text if text not in ("", "-0") else f"{value:.3g}"
    return str(value)


def to_markdown(table: pd.DataFrame) -> str:
    """`table` as a GitHub-flavoured Markdown table (numbers right-aligned, NaN empty).

    Floats show at most three decimals (the CSV keeps every digit); ``|`` in cells is escaped.
    """

    def esc(text: str) -> str:
        return text.replace("|", r"\|").replace("\n", " ")

    header = [esc(str(col)) for col in table.columns]
    rows = [[esc(_format_cell(v)) for v in row] for row in table.itertuples(index=False)]
    numeric = [pd.api.types.is_numeric_dtype(table[col]) for col in table.columns]
    widths = [max([len(header[i]), 3, *(len(row[i]) for row in rows)]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = [
            cell.rjust(w) if num else cell.ljust(w) for cell, w, num in zip(cells, widths, numeric)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * (w - 1) + ":" if num else "-" * w for w, num in zip(widths, numeric)]
    return "\n".join([line(header), "| " + " | ".join(rule) + " |", *map(line, rows)]) + "\n"


def write_table(
    table: pd.DataFrame,
    csv: str | Path,
    md: str | Path,
    title: str = "",
    md_table: pd.DataFrame | None = None,
) -> None:
    """Write `table` as CSV (every digit, NaN as empty) and as Markdown (with an optional title;
    `md_table`: a narrower version for people, instead of `table`)."""
    with atomic_path(csv) as tmp:
        table.to_csv(tmp, index=False)
    text = to_markdown(table if md_table is None else md_table)
    if title:
        text = f"# {title}\n\n{text}"
    with atomic_path(md) as tmp:
        tmp.write_text(text)
    logger.info("wrote %s and %s (%d rows)", csv, md, len(table))


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for key, sub in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), sub, out)
    elif isinstance(value, (list, tuple)):
        out[prefix] = json.dumps(value)
    else:
        out[prefix] = value


def hyperparameters_key(hyperparameters: Mapping[str, Any] | None) -> str:
    """A model's hyperparameter overrides as the tables and figures hold them (readable
    canonical JSON, specbench.core.canonical): equal overrides, equal text."""
    return canonical_json(dict(hyperparameters or {}), compact=False)


def subset_title(title: str, selection: str = "") -> str:
    """`title`, naming the subset of the config (``select``) the table covers, if any."""
    return f"{title} (subset: {selection})" if selection else title
