"""Paired differences of test accuracy between a model and its counterpart (same seeds), and the
per-spectrum test of each pair (McNemar, specbench.results.stats.mcnemar).

Significance of a paired effect (:func:`paired_test`): with one seed, that seed's McNemar p < 0.05;
over two or more seeds, the 95 % interval of the mean per-seed difference excludes zero (an
interval of width zero, every seed's difference the same, does not count), or every seed's
McNemar p < 0.05 in the direction of the mean (a difference beyond noise in each training
seed; every pair must have its per-spectrum predictions for that; with two seeds the t-interval has
one degree of freedom and is rarely narrow). The per-seed McNemar p-values are reported beside the
interval either way. :func:`verdict` turns an effect and a published sign into the agreement
table's words."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from specbench.core.formats import PREDICTIONS_FILE
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
    """ "Δ +4.8 [+1.2, +8.4] pp (n=5)"; with one pair "Δ +3.0 pp (1 seed, McNemar p 0.04)" (a
    :func:`paired_test` result) or "Δ +3.0 pp (1 seed: no interval)" (without predictions)."""
    if not diff or diff.get("n", 0) == 0 or pd.isna(diff.get("mean")):
        return ""
    if diff["n"] < 2:
        tests = diff.get("mcnemar") or []
        if tests:
            return f"{what} {diff['mean']:+.1f} pp (1 seed, McNemar p {tests[0]['p']:.2g})"
        return f"{what} {diff['mean']:+.1f} pp (1 seed: no interval)"
    return (
        f"{what} {diff['mean']:+.1f} [{diff['low']:+.1f}, {diff['high']:+.1f}] pp (n={diff['n']})"
    )


def paired_accuracy(runs: pd.DataFrame, experiment: str, model: str, other: str) -> dict:
    """specbench.results.stats.paired_difference of the test accuracy (%) of `model` minus `other` in
    `experiment`, over the (seed, data seed) runs both finished; a mean within rounding of 0
    (per-seed differences that cancel) is 0."""
    keys = ["seed", "data_seed"]
    if "data_seed" not in runs.columns:
        runs = runs.assign(data_seed=-1)
    ok = runs[(runs["experiment"] == experiment) & (runs["status"] == "ok")]
    mine = ok[ok["model"] == model][[*keys, "test_accuracy"]]
    theirs = ok[ok["model"] == other][[*keys, "test_accuracy"]]
    both = mine.merge(theirs, on=keys, suffixes=("", "_other"))
    out = sbstats.paired_difference(
        100.0 * pd.to_numeric(both["test_accuracy"]),
        100.0 * pd.to_numeric(both["test_accuracy_other"]),
    )
    if abs(out["mean"]) < ZERO_WIDTH:  # differences that cancel: 0, not a rounding error's sign
        out["mean"] = 0.0
    return out


#: Significance level of the per-spectrum test (and 1 - the interval's confidence).
ALPHA = 0.05
#: An interval narrower than this (percentage points) has width 0, a mean difference closer to 0
#: is 0, but for floating-point rounding.
ZERO_WIDTH = 1e-9


def _correct(metrics_path: str) -> pd.Series:
    """Per test row (index: its row in test.parquet) whether the run's prediction is right."""
    from specbench.evaluation.predictions import read_predictions

    table = read_predictions(
        Path(metrics_path).parent / PREDICTIONS_FILE, ["row", "label", "predicted"]
    ).to_pandas()
    return pd.Series(
        (table["predicted"] == table["label"]).to_numpy(), index=table["row"].to_numpy()
    )


def paired_test(runs: pd.DataFrame, experiment: str, model: str, other: str) -> dict:
    """The paired effect of `model` minus `other` in `experiment`: :func:`paired_accuracy`'s
    {"n", "mean", "low", "high"} plus, per (seed, data seed) pair, the McNemar test on its test
    spectra (``mcnemar``: list of {"seed", "data_seed", "b", "c", "p"}; predictions.parquet beside
    each run's metrics.json) and ``significant`` (module docstring; None without a pair)."""
    out = paired_accuracy(runs, experiment, model, other)
    keys = ["seed", "data_seed"]
    if "data_seed" not in runs.columns:
        runs = runs.assign(data_seed=-1)
    if "metrics" not in runs.columns:  # a table without run files: the interval alone
        runs = runs.assign(metrics="")
    ok = runs[(runs["experiment"] == experiment) & (runs["status"] == "ok")]
    both = ok[ok["model"] == model][[*keys, "metrics"]].merge(
        ok[ok["model"] == other][[*keys, "metrics"]], on=keys, suffixes=("", "_other")
    )
    tests = []
    for row in both.sort_values(keys).itertuples(index=False):
        files = [Path(m).parent / PREDICTIONS_FILE for m in (row.metrics, row.metrics_other) if m]
        if len(files) < 2 or not all(f.is_file() for f in files):
            continue  # runs without predictions (shipped as tables only): no per-spectrum test
        mine, theirs = _correct(row.metrics), _correct(row.metrics_other)
        rows = mine.index.intersection(theirs.index)
        if len(rows) != len(mine) or len(rows) != len(theirs):
            raise ValueError(
                f"{row.metrics} and {row.metrics_other}: predictions of different test rows"
            )
        result = sbstats.mcnemar(mine.loc[rows].to_numpy(), theirs.loc[rows].to_numpy())
        tests.append({"seed": int(row.seed), "data_seed": int(row.data_seed), **result})
    out["mcnemar"] = tests
    if out["n"] == 0:
        out["significant"] = None
    elif out["n"] == 1:
        out["significant"] = bool(tests[0]["p"] < ALPHA) if tests else None
    else:  # the interval across seeds, or every seed's own test in the mean's direction
        every_seed = len(tests) == out["n"] and all(  # each pair tested, not only some
            t["p"] < ALPHA and np.sign(t["b"] - t["c"]) == np.sign(out["mean"]) for t in tests
        )
        # an interval of width 0 (every pair differs alike, sd 0 but for rounding: e.g. one
        # spectrum in each seed) excludes 0 without any evidence; then only the seeds' own tests
        interval = out["high"] - out["low"] > ZERO_WIDTH and (out["low"] > 0 or out["high"] < 0)
        out["significant"] = bool(interval or every_seed)
    return out


def mcnemar_text(tests: list[dict]) -> str:
    """The per-seed McNemar p-values, in seed order: "0.031 0.27" (empty without pairs)."""
    return " ".join(f"{t['p']:.2g}" for t in tests)


def verdict(mean: float, significant: bool | None, paper_sign: int) -> str:
    """Our paired effect against a published sign: "agrees, significant", "same sign, within
    noise", "opposite sign, within noise", "opposite, significant" or "no difference" (exactly 0);
    "" without an effect."""
    if mean is None or (isinstance(mean, float) and math.isnan(mean)) or significant is None:
        return ""
    if mean == 0:
        return "no difference"
    same = bool(np.sign(mean) == paper_sign)
    if significant:
        return "agrees, significant" if same else "opposite, significant"
    return "same sign, within noise" if same else "opposite sign, within noise"
