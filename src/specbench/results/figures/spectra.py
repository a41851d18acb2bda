"""Spectra for the figures: columns of a Parquet split or predictions file (read by their
package readers), and test variants by their codes."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from specbench.results.figures.style import FigureInputError


def split_axis(path: str | Path, n_points: int) -> tuple[np.ndarray, str, list[str] | None]:
    """(x of every point, the axis label, the class names) of a split: your own phases' axis
    and names (the split's metadata ``axis``, ``names``), else points and None."""
    from specbench.data.splits import SplitError, read_metadata
    from specbench.data.xrd import axis_grid

    try:
        meta = read_metadata(path)
    except SplitError as exc:
        raise FigureInputError(str(exc)) from None
    names = json.loads(meta["names"]) if "names" in meta else None
    if "axis" not in meta:
        return np.arange(n_points, dtype=np.float64), "position (point)", names
    axis = json.loads(meta["axis"])
    return axis_grid(axis["start"], axis["stop"], n_points), str(axis["unit"]), names


def class_label(index: int, names: Sequence[str] | None) -> str:
    """How a figure names class `index`: ``class 3``, or ``anatase (class 3)`` with names."""
    return f"class {index}" if not names else f"{names[index]} (class {index})"


def read_split_columns(path: str | Path, columns: Sequence[str], labels=None) -> pd.DataFrame:
    """Columns of a Parquet split (rows of `labels` only, if given), read and schema-checked by
    :func:`specbench.data.splits.read_columns`.

    Reads only what a figure draws, so the paper-scale training split (GBs) is never loaded
    whole. Spectra come back as one float32 array per row.
    """
    from specbench.data.splits import SplitError, read_columns

    try:
        return _frame(read_columns(path, columns, labels=labels), columns)
    except SplitError as exc:
        raise FigureInputError(str(exc)) from None


def read_predictions_columns(path: str | Path, columns: Sequence[str]) -> pd.DataFrame:
    """Columns of a predictions file, read and checked by
    :func:`specbench.evaluation.predictions.read_predictions`."""
    from specbench.evaluation.predictions import read_predictions

    try:
        return _frame(read_predictions(path, columns), columns)
    except ValueError as exc:
        raise FigureInputError(str(exc)) from None


def _frame(table, columns: Sequence[str]) -> pd.DataFrame:
    """An Arrow table as the figures use it: spectra as float32 arrays, other cells as Python."""
    out = {}
    for name in columns:
        column = table.column(name)
        if name == "spectrum":
            array = column.combine_chunks()
            values = np.asarray(array.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
            out[name] = list(values.reshape(len(array), -1)) if len(array) else []
        else:
            out[name] = column.to_pylist()
    return pd.DataFrame(out)


# ---------------------------------------------------------------- misclassifications


def variant_code(variant: str, codes: Mapping[str, str] | None) -> str:
    """The code ("0", "h", "l-s", ...) of a test variant label of a split, by `codes` (label ->
    code: specbench.data.variants.variant_codes, passed by the rule); other labels unchanged."""
    return str((codes or {}).get(variant, variant))


def reference_row(rows: pd.DataFrame, codes: Mapping[str, str] | None) -> pd.Series:
    """The unchanged test variant ("0") of a class if there is one, else its first test row."""
    unchanged = rows[rows["variant"].map(lambda v: variant_code(v, codes)) == "0"]
    return (unchanged if len(unchanged) else rows).iloc[0]
