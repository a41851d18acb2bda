"""Spectra for the figures: columns of a Parquet split, and test variants by their codes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from specbench.figures.style import FigureInputError


def read_parquet(path: str | Path, columns: Sequence[str], labels=None) -> pd.DataFrame:
    """Columns of a Parquet split or predictions file (rows of `labels` only, if given).

    Reads only what a figure draws, so the paper-scale training split (GBs) is never loaded
    whole. Spectra come back as one float32 array per row.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    filters = None if labels is None else [("label", "in", [int(v) for v in labels])]
    try:
        table = pq.read_table(path, columns=list(columns), filters=filters)
    except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
        raise FigureInputError(f"{path}: cannot read columns {list(columns)} ({exc})") from None
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
    code: specbench.variants.variant_codes, passed by the rule); other labels unchanged."""
    return str((codes or {}).get(variant, variant))


def reference_row(rows: pd.DataFrame, codes: Mapping[str, str] | None) -> pd.Series:
    """The unchanged test variant ("0") of a class if there is one, else its first test row."""
    unchanged = rows[rows["variant"].map(lambda v: variant_code(v, codes)) == "0"]
    return (unchanged if len(unchanged) else rows).iloc[0]
