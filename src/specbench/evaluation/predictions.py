"""predictions.parquet, described once by :data:`COLUMNS`: one row per test spectrum.

Written by :func:`specbench.evaluation.evaluate.write_predictions` (rule evaluate_model) through
:func:`write_predictions`; read by :func:`read_predictions` (specbench.results.tables.confusions,
specbench.results.figures.confused_pair), which checks the columns it is asked for against the spec.
Imports numpy and pyarrow only (the results environment reads it without the training one).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from specbench.core.atomic import atomic_path

#: name -> kind (Arrow type), in the order written
COLUMNS = {
    "row": "int32",  # row index in test.parquet
    "label": "int32",
    "predicted": "int32",  # the most probable class
    "probability": "float32",  # its probability
    "runner_up": "int32",  # the second most probable class
    "runner_up_probability": "float32",
    "label_probability": "float32",  # the probability given to the true class (paired tests,
    # log-loss, and baselines that others compare their runs with spectrum by spectrum)
    "variant": "string",  # the test variant, as in test.parquet
}
_DTYPES = {"int32": np.int32, "float32": np.float32}


class PredictionsError(ValueError):
    """A predictions file that is missing, unreadable or lacks a column (names the file)."""


def write_predictions(
    path: str | os.PathLike, values: Mapping[str, Any], class_names: Sequence[str] | None = None
) -> None:
    """predictions.parquet with one array per column of :data:`COLUMNS`, written atomically;
    the class names of a run on your own phases (class order) in the file metadata
    ``class_names`` (JSON), read back by :func:`class_names`."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if set(values) != set(COLUMNS):
        raise ValueError(f"predictions columns {sorted(values)} are not {list(COLUMNS)}")
    arrays = []
    for name, kind in COLUMNS.items():
        if kind == "string":
            arrays.append(pa.array([str(v) for v in values[name]], type=pa.string()))
        else:
            arrays.append(pa.array(np.asarray(values[name], dtype=_DTYPES[kind])))
    table = pa.Table.from_arrays(arrays, names=list(COLUMNS))
    if class_names:
        table = table.replace_schema_metadata({"class_names": json.dumps(list(class_names))})
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def read_predictions(path: str | os.PathLike, columns: Sequence[str] | None = None):
    """`columns` (default all) of a predictions file as an Arrow table, each checked against
    :data:`COLUMNS`; PredictionsError naming the file otherwise."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = list(COLUMNS) if columns is None else list(columns)
    unknown = [name for name in columns if name not in COLUMNS]
    if unknown:
        raise ValueError(f"{unknown} are not columns of predictions.parquet ({list(COLUMNS)})")
    try:
        table = pq.read_table(path, columns=columns)
    except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
        raise PredictionsError(f"{path}: not a readable predictions file ({exc})") from None
    for name in columns:
        got, want = table.schema.field(name).type, COLUMNS[name]
        ok = pa.types.is_string(got) or pa.types.is_large_string(got)
        if want != "string":
            ok = got == pa.from_numpy_dtype(_DTYPES[want])
        if not ok:
            raise PredictionsError(f"{path}: column {name!r} is {got}, expected {want}")
    return table


def class_names(path: str | os.PathLike) -> list[str] | None:
    """The class names (class order) a predictions file was written with, else None (classes
    without names, or a file written before they were kept); PredictionsError if unreadable."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        metadata = pq.read_schema(path).metadata or {}
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise PredictionsError(f"{path}: not a readable predictions file ({exc})") from None
    raw = metadata.get(b"class_names")
    return None if raw is None else [str(name) for name in json.loads(raw)]
