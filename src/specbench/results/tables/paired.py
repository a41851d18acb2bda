"""Paired differences of test accuracy between a model and its counterpart (same seeds)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pandas as pd

from specbench.results import stats as sbstats
from specbench.results.tables.common import is_original


def counterpart(runs: pd.DataFrame, experiment: str, model: str) -> str | None:
    """The model `model` is compared with in its experiment: the original (no hyperparameter
    overrides) of its architecture, if `model` is not that original itself; else None. A user
    model's entry names its counterpart with ``compare_with`` (specbench.models.user)."""
    rows = runs[runs["experiment"] == experiment].drop_duplicates("model").set_index("model")
    if model not in rows.index:
        return None
    named = compare_with(rows.loc[model, "hyperparameters"])
    if named:
        return named if named in rows.index else None
    if is_original(rows.loc[model, "hyperparameters"]):
        return None
    arch = rows.loc[model, "architecture"]
    originals = [
        m
        for m, r in rows.iterrows()
        if r["architecture"] == arch and is_original(r["hyperparameters"]) and m != model
    ]
    return originals[0] if originals else None


def compare_with(hyperparameters: Mapping[str, Any] | str | None) -> str | None:
    """The ``compare_with`` of a model entry's hyperparameters (a dict or its JSON), if any."""
    if isinstance(hyperparameters, str):
        hyperparameters = json.loads(hyperparameters) if hyperparameters.strip() else {}
    if isinstance(hyperparameters, Mapping) and hyperparameters.get("compare_with"):
        return str(hyperparameters["compare_with"])
    return None


def paired_label(diff: Mapping[str, Any], what: str = "Δ") -> str:
    """ "Δ +4.8 [+1.2, +8.4] pp (n=5)"; with one pair "Δ +3.0 pp (1 seed: no interval)"."""
    if not diff or diff.get("n", 0) == 0 or pd.isna(diff.get("mean")):
        return ""
    if diff["n"] < 2:
        return f"{what} {diff['mean']:+.1f} pp (1 seed: no interval)"
    return (
        f"{what} {diff['mean']:+.1f} [{diff['low']:+.1f}, {diff['high']:+.1f}] pp (n={diff['n']})"
    )


def paired_accuracy(runs: pd.DataFrame, experiment: str, model: str, other: str) -> dict:
    """specbench.results.stats.paired_difference of the test accuracy (%) of `model` minus `other` in
    `experiment`, over the (seed, data seed) runs both finished."""
    keys = ["seed", "data_seed"]
    if "data_seed" not in runs.columns:
        runs = runs.assign(data_seed=-1)
    ok = runs[(runs["experiment"] == experiment) & (runs["status"] == "ok")]
    mine = ok[ok["model"] == model][[*keys, "test_accuracy"]]
    theirs = ok[ok["model"] == other][[*keys, "test_accuracy"]]
    both = mine.merge(theirs, on=keys, suffixes=("", "_other"))
    return sbstats.paired_difference(
        100.0 * pd.to_numeric(both["test_accuracy"]),
        100.0 * pd.to_numeric(both["test_accuracy_other"]),
    )
