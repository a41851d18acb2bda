"""A figure's rows of runs.csv and the published values that apply to its models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from specbench.results.figures.style import FigureInputError
from specbench.results.tables.common import experiment_order
from specbench.results.tables.reference import REFERENCE_VALUES, load_reference, match_reference
from specbench.results.tables.runs import read_runs


def experiment_runs(runs: str | Path, experiment: str | None) -> tuple[str, pd.DataFrame]:
    """Rows of runs.csv of `experiment` (None or absent: the benchmark one, else the first)."""
    table = read_runs(runs)
    names = experiment_order(table["experiment"])
    if not names:
        raise FigureInputError(f"{runs}: no runs")
    if experiment is None or experiment not in names:
        if experiment is not None:
            raise FigureInputError(
                f"{runs}: no runs of experiment {experiment!r} (experiments: {', '.join(names)})"
            )
        experiment = names[0]
    return experiment, table[table["experiment"] == experiment].copy()


def model_reference(data: pd.DataFrame, reference) -> pd.DataFrame:
    """Per model of `data`: the published values that apply to it (see match_reference)."""
    models = data.drop_duplicates("model").set_index("model", drop=False)
    if reference is None or (isinstance(reference, (list, tuple)) and not reference):
        return pd.DataFrame(np.nan, index=models.index, columns=REFERENCE_VALUES)
    return match_reference(models, load_reference(reference))
