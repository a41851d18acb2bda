"""The summary table (rule aggregate_summary): per experiment and model, statistics over the
seeds that finished, the published values and the paired difference to the counterpart beside."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from specbench.results import stats as sbstats
from specbench.models import registry
from specbench.results.tables.common import subset_title, write_table
from specbench.results.tables.paired import ALPHA, counterpart, paired_test
from specbench.results.tables.reference import REFERENCE_VALUES, load_reference, match_reference
from specbench.results.tables.runs import read_runs

logger = logging.getLogger("specbench.results.tables")

SUMMARY_COLUMNS = [
    "experiment",
    "dataset",
    "model",
    "architecture",
    "in_paper",
    "dense_activation",
    "hyperparameters",
    "n_runs",
    "n_ok",
    "n_missing",
    "n_test",
    "test_wrong_mean",
    "test_wrong_min",
    "test_wrong_max",
    "test_error_pct_mean",
    "test_accuracy_mean",
    "test_accuracy_min",
    "test_accuracy_max",
    "best_epoch_mean",
    "epochs_run_mean",
    "parameters",
    "macs",
    "train_time_s_mean",
    "n_seeds",
    "n_data_seeds",
    "seed_sd_pct",
    "data_sd_pct",
    "paired_with",
    "paired_n",
    "paired_diff_pct",
    "paired_ci_low_pct",
    "paired_ci_high_pct",
    "paired_mcnemar_p",
    "paired_significant",
    "baseline",
    *[f"paper_{col}" for col in REFERENCE_VALUES],
]


def _paired(runs: pd.DataFrame, experiment: str, model: str, group: pd.DataFrame) -> dict:
    """Paired difference (percentage points of test accuracy) of `model` minus its counterpart
    over the (seed, data seed) runs both finished; see specbench.results.stats."""
    other = counterpart(runs, experiment, model)
    out = {"paired_with": other or "", "paired_n": 0, "paired_mcnemar_p": ""}
    out.update(paired_diff_pct=np.nan, paired_ci_low_pct=np.nan, paired_ci_high_pct=np.nan)
    out["paired_significant"] = pd.NA
    if other is None:
        return out
    diff = paired_test(runs, experiment, model, other)
    out.update(
        paired_n=diff["n"],
        paired_diff_pct=diff["mean"],
        paired_ci_low_pct=diff["low"],
        paired_ci_high_pct=diff["high"],
        # every digit (as the CSV keeps them): summary.md counts the seeds with p < ALPHA from
        # these, and p-values rounded for people can round up to ALPHA (0.0498 -> "0.05")
        paired_mcnemar_p=" ".join(repr(float(t["p"])) for t in diff["mcnemar"]),
        paired_significant=pd.NA if diff["significant"] is None else diff["significant"],
    )
    return out


def summary_table(runs: pd.DataFrame, reference: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per experiment and model: statistics over the finished seeds, published values beside.

    Columns :data:`SUMMARY_COLUMNS`: n_runs (seeds configured), n_ok, n_missing; mean/min/max
    of the test misclassifications; mean test error rate (%) and mean/min/max test accuracy;
    mean best epoch and epochs run; parameters and multiply-accumulates (per spectrum); mean
    training time; then the published values (``paper_*``) where they apply (see
    :func:`match_reference`). A model without finished runs has empty statistics.
    """
    rows = []
    runs = runs.copy()
    if "data_seed" not in runs.columns:  # a runs.csv from before data seeds
        runs["data_seed"] = -1
    if "base_dataset" not in runs.columns:
        runs["base_dataset"] = runs["dataset"]
    if "baseline" not in runs.columns:  # a runs.csv from before baselines
        runs["baseline"] = ""
    keys = ["experiment", "base_dataset", "model"]
    for (experiment, dataset, model), group in runs.groupby(keys, sort=False):
        ok = group[group["status"] == "ok"]
        first = group.iloc[0]
        row = {
            "experiment": experiment,
            "dataset": dataset,
            "model": model,
            "architecture": first["architecture"],
            # False for a user's own builder (specbench.models.user): not benchmarked in the paper
            "in_paper": registry.is_published(first["architecture"]),
            "dense_activation": first["dense_activation"],
            "hyperparameters": first["hyperparameters"],
            "n_runs": len(group),
            "n_ok": len(ok),
            "n_missing": len(group) - len(ok),
        }
        if len(group) > len(ok):
            missing = sorted(group.loc[group["status"] != "ok", "seed"].tolist())
            logger.warning(
                "summary of %s/%s (%s) over %d of %d seeds: seed(s) %s missing",
                experiment,
                model,
                dataset,
                len(ok),
                len(group),
                ", ".join(map(str, missing)),
            )

        def stat(col: str, how: str) -> float:
            values = pd.to_numeric(ok[col], errors="coerce").dropna().astype(float)
            return float(getattr(values, how)()) if len(values) else np.nan

        for col in ("parameters", "macs", "n_test"):
            values = ok[col].dropna().unique()
            if len(values) > 1:
                logger.warning(
                    "%s/%s: %s differs between seeds: %s", experiment, model, col, list(values)
                )
            row[col] = stat(col, "max")
        for col, how in (
            ("test_wrong", "mean"),
            ("test_wrong", "min"),
            ("test_wrong", "max"),
            ("test_error_pct", "mean"),
            ("test_accuracy", "mean"),
            ("test_accuracy", "min"),
            ("test_accuracy", "max"),
            ("best_epoch", "mean"),
            ("epochs_run", "mean"),
            ("train_time_s", "mean"),
        ):
            row[f"{col}_{how}"] = stat(col, how)
        row["n_seeds"] = ok["seed"].nunique()
        row["n_data_seeds"] = ok["data_seed"].nunique()
        accuracy = ok.assign(test_accuracy=100.0 * pd.to_numeric(ok["test_accuracy"]))
        spread = sbstats.spread(accuracy)
        row["seed_sd_pct"], row["data_sd_pct"] = spread["seed_sd"], spread["data_sd"]
        row.update(_paired(runs, experiment, model, group))
        row["baseline"] = " ".join(sorted(set(group["baseline"].fillna("")) - {""}))
        rows.append(row)
    table = pd.DataFrame(rows, columns=SUMMARY_COLUMNS[: SUMMARY_COLUMNS.index("paper_n_seeds")])
    if reference is not None and len(table):
        matched = match_reference(table, reference)
        for col in REFERENCE_VALUES:
            table[f"paper_{col}"] = matched[col]
    else:
        for col in REFERENCE_VALUES:
            table[f"paper_{col}"] = np.nan
    for col in (
        "n_test",
        "test_wrong_min",
        "test_wrong_max",
        "parameters",
        "macs",
        "paper_n_seeds",
        "paper_n_test",
        "paper_test_wrong_min",
        "paper_test_wrong_max",
        "n_seeds",
        "n_data_seeds",
        "paired_n",
    ):
        table[col] = pd.to_numeric(table[col]).round().astype("Int64")
    return table[SUMMARY_COLUMNS]


def _mean_range(mean: Any, low: Any, high: Any, digits: int) -> str:
    if pd.isna(mean):  # e.g. a published range read from a figure, without its mean
        if pd.isna(low) or pd.isna(high):
            return ""
        return f"[{low:.{digits}f}–{high:.{digits}f}]"
    text = f"{mean:.{digits}f}"
    if not (pd.isna(low) or pd.isna(high)):
        text += f" [{low:.{digits}f}–{high:.{digits}f}]"
    return text


def summary_markdown(table: pd.DataFrame) -> pd.DataFrame:
    """The summary for people: one narrow row per experiment and model (every number stays in
    summary.csv). Accuracy in %, mean [min–max] over the finished runs; the paper's beside it;
    misclassified test spectra "of" their test set's size (ours and the paper's differ);
    the paired difference against the model's counterpart with its 95 % interval."""
    rows = []
    for _, r in table.iterrows():
        acc = _mean_range(
            100 * r["test_accuracy_mean"],
            100 * r["test_accuracy_min"],
            100 * r["test_accuracy_max"],
            1,
        )
        paper = _mean_range(
            100 * r["paper_test_accuracy_mean"],
            100 * r["paper_test_accuracy_min"],
            100 * r["paper_test_accuracy_max"],
            1,
        )
        # test sets of different sizes (a reduced scale vs the paper's 4,500): say of how many
        wrong = _of(
            _mean_range(r["test_wrong_mean"], r["test_wrong_min"], r["test_wrong_max"], 1),
            r["n_test"],
        )
        paper_wrong = _of(
            _mean_range(
                r["paper_test_wrong_mean"], r["paper_test_wrong_min"], r["paper_test_wrong_max"], 1
            ),
            r["paper_n_test"],
        )
        paired = ""
        if r["paired_with"] and r["paired_n"] >= 2:
            p_values = _p_values(r)
            below = sum(p < ALPHA for p in p_values)
            tested = f"; p < {ALPHA:g} in {below}/{len(p_values)} seeds" if p_values else ""
            paired = (
                f"{r['paired_diff_pct']:+.1f} [{r['paired_ci_low_pct']:+.1f}, "
                f"{r['paired_ci_high_pct']:+.1f}] vs {r['paired_with']} (n={r['paired_n']}"
                f"{tested})"
            )
        elif r["paired_with"] and r["paired_n"] == 1:
            p_value = _p_values(r)
            tested = f", McNemar p = {p_value[0]:.2g}" if p_value else ""
            paired = f"{r['paired_diff_pct']:+.1f} vs {r['paired_with']} (one pair{tested})"
        if paired and r.get("paired_significant") is True:
            paired += " *"
        seeds = f"{r['n_ok']}/{r['n_runs']}"
        if r["n_data_seeds"] and r["n_data_seeds"] > 1:
            seeds += f" ({r['n_data_seeds']} datasets)"
        rows.append(
            {
                "experiment": r["experiment"],
                # † marks a model not in the paper (a user's own builder), ‡ a baseline's
                "model": _marked(r),
                "runs": seeds,
                "test accuracy %": acc,
                "paper %": paper,
                "misclassified": wrong,
                "paper misclassified": paper_wrong,
                "best epoch": (
                    "" if pd.isna(r["best_epoch_mean"]) else f"{r['best_epoch_mean']:.0f}"
                ),
                "train time": _format_duration(r["train_time_s_mean"]),
                "paired Δ (pp) [95 % CI]": paired,
            }
        )
    return pd.DataFrame(rows)


def _of(count: str, n_test: Any) -> str:
    """A misclassification count with the size of its test set ("9.0 of 54"), so that counts of
    test sets of different sizes are not read as comparable."""
    if not count or pd.isna(n_test):
        return count
    return f"{count} of {int(n_test)}"


def _p_values(row: Any) -> list[float]:
    """The per-seed McNemar p-values of a summary row (``paired_mcnemar_p``, may be empty/NaN)."""
    text = row.get("paired_mcnemar_p")
    return [] if pd.isna(text) else [float(p) for p in str(text).split()]


def _marked(row: Any) -> str:
    """The model's name, † for a user's own builder, ‡ for a baseline's (shipped, not trained here)."""
    name = row["model"] if row.get("in_paper", True) else f"{row['model']} †"
    return f"{name} ‡" if str(row.get("baseline") or "") else name


def _format_duration(seconds: Any) -> str:
    if pd.isna(seconds):
        return ""
    seconds = float(seconds)
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def aggregate_summary(
    runs: str | Path,
    reference: str | Path | Sequence[str | Path] | None,
    csv: str | Path,
    md: str | Path,
    selection: str = "",
) -> pd.DataFrame:
    """Rule aggregate_summary: :func:`summary_table` of runs.csv with the published values."""
    table = summary_table(read_runs(runs), load_reference(reference) if reference else None)
    write_table(
        table,
        csv,
        md,
        title=subset_title("Summary per experiment and model", selection),
        md_table=summary_markdown(table),
    )
    return table
