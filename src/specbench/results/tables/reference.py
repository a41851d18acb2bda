"""The published values (config/reference/*.csv) and which of them apply to a model."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from specbench.results.tables.common import TableInputError

#: Reference columns (config/reference/*.csv); the summary shows them prefixed with "paper_".
REFERENCE_KEYS = ["experiment", "model", "architecture", "dense_activation"]
REFERENCE_VALUES = [
    "n_seeds",
    "n_test",
    "test_wrong_mean",
    "test_wrong_min",
    "test_wrong_max",
    "test_error_pct_mean",
    "test_accuracy_mean",
    "test_accuracy_min",
    "test_accuracy_max",
    "best_epoch_mean",
    "best_epoch_min",
    "best_epoch_max",
]


def load_reference(paths: str | Path | Sequence[str | Path]) -> pd.DataFrame:
    """Published values (config/reference/*.csv), one row per published model and experiment.

    Columns :data:`REFERENCE_KEYS` (required) and any of :data:`REFERENCE_VALUES`; derived where
    the file leaves them empty: test_error_pct_mean from test_wrong_mean / n_test and the test
    accuracy range from the misclassification range.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    frames = []
    for path in paths:
        path = Path(path)
        try:
            frame = pd.read_csv(path, comment="#", dtype={"dense_activation": str})
        except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
            raise TableInputError(f"{path}: not a readable reference table ({exc})") from None
        missing = [col for col in REFERENCE_KEYS if col not in frame.columns]
        if missing:
            raise TableInputError(f"{path}: missing column(s) {', '.join(missing)}")
        frames.append(frame)
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    for col in REFERENCE_KEYS:
        if col not in table.columns:
            table[col] = pd.Series(dtype=str)
    for col in REFERENCE_VALUES:
        table[col] = pd.to_numeric(table[col]) if col in table.columns else np.nan
    n_test = table["n_test"]
    derived = {
        "test_error_pct_mean": 100.0 * table["test_wrong_mean"] / n_test,
        "test_accuracy_mean": 1.0 - table["test_wrong_mean"] / n_test,
        "test_accuracy_min": 1.0 - table["test_wrong_max"] / n_test,
        "test_accuracy_max": 1.0 - table["test_wrong_min"] / n_test,
    }
    for col, values in derived.items():
        table[col] = table[col].fillna(values)
    return table[[*REFERENCE_KEYS, *REFERENCE_VALUES]]


def match_reference(models: pd.DataFrame, reference: pd.DataFrame) -> pd.DataFrame:
    """The reference row of every row of `models` (NaN where no published value applies).

    A published value applies to a model of the same experiment and architecture with the same
    effective dense activation and no other hyperparameter override (the published model, under
    whatever name). `models` needs columns experiment, architecture, dense_activation and
    hyperparameters (canonical JSON); the result has the index of `models` and the columns
    :data:`REFERENCE_VALUES`.
    """
    out = pd.DataFrame(np.nan, index=models.index, columns=REFERENCE_VALUES)
    for idx, row in models.iterrows():
        hp = row.get("hyperparameters", "{}")
        hp = json.loads(hp) if isinstance(hp, str) and hp.strip() else dict(hp or {})
        if set(hp) - {"dense_activation"}:
            continue
        act = row.get("dense_activation")
        hit = reference[
            (reference["experiment"] == row["experiment"])
            & (reference["architecture"] == row["architecture"])
            & ((reference["dense_activation"] == act) | reference["dense_activation"].isna())
        ]
        if len(hit):
            out.loc[idx] = hit.iloc[0][REFERENCE_VALUES].astype(float).to_numpy()
    return out
