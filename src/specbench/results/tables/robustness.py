"""The robustness experiment's table: models trained on each level of a dataset sweep and tested
on each.

An experiment with ``sweep: true`` on a swept dataset becomes one experiment per level
(specbench.workflow.config.expand_sweeps). Each level's models are tested on their own level's test
split (rule evaluate_model) and on every other level's (rule evaluate_level: a model trained on
clean spectra tested at SNR 10, and so on). :func:`robustness_table` (rule aggregate_robustness):
test accuracy per (experiment, model, train level, test level): mean, min, max over seeds. Its
figures: :mod:`specbench.results.figures.robustness`.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from specbench.core.atomic import atomic_path
from specbench.evaluation.runs import read_metrics

log = logging.getLogger(__name__)

COLUMNS = [
    "experiment",
    "model",
    "train_level",
    "train_level_index",
    "train_dataset",
    "test_level",
    "test_level_index",
    "test_dataset",
    "matched",
    "seeds",
    "mean_accuracy",
    "min_accuracy",
    "max_accuracy",
]


def _accuracies(
    runs: str | Path, levels: Sequence[Mapping[str, Any]], cross: Sequence[Mapping[str, Any]]
) -> pd.DataFrame:
    """One row per (experiment, model, seed, train level, test level) with its test accuracy:
    the own level's from runs.csv (ok rows), the other levels' from the cross-level metrics."""
    data = pd.read_csv(runs)
    data = data[data["status"] == "ok"] if "status" in data else data
    meta = pd.DataFrame(list(levels), columns=["experiment", "base", "level", "dataset"])
    own = data.merge(meta, on=["experiment", "dataset"], how="inner")
    own = pd.DataFrame(
        {
            "experiment": own["base"],
            "model": own["model"],
            "seed": own["seed"],
            "train_level": own["level"],
            "test_level": own["level"],
            "test_accuracy": own["test_accuracy"],
        }
    )
    rows = []
    for record in cross:
        path = Path(record["metrics"])
        if not path.exists():
            log.warning("robustness: %s missing, left out", path)
            continue
        rows.append(
            {
                "experiment": record["experiment"],
                "model": record["model"],
                "seed": record["seed"],
                "train_level": record["train_level"],
                "test_level": record["test_level"],
                "test_accuracy": read_metrics(path)["test_accuracy"],
            }
        )
    other = pd.DataFrame(rows, columns=own.columns)
    return pd.concat([own, other], ignore_index=True) if rows else own


def robustness_table(
    *,
    runs: str | Path,
    levels: Sequence[Mapping[str, Any]],
    csv: str | Path,
    md: str | Path,
    cross: Sequence[Mapping[str, Any]] = (),
) -> pd.DataFrame:
    """Per swept experiment, model, train level and test level: test accuracy over the seeds.

    levels: one {experiment, base, level, level_index, dataset} per derived experiment (the order
    of the sweep); runs: runs.csv, whose ok rows give each level's models tested on their own
    level; cross: one {experiment (the base), model, seed, train_level, test_level, metrics} per
    model tested on another level (metrics: its metrics.json; a missing one is left out).
    Writes `csv` (every column) and a Markdown copy `md` (per experiment, one row per model and
    train level, one column per test level).
    """
    accuracies = _accuracies(runs, levels, cross)
    if not len(levels) or accuracies.empty:
        table = pd.DataFrame(columns=COLUMNS)
    else:
        meta = pd.DataFrame(list(levels))[["base", "level", "level_index", "dataset"]]
        meta = meta.rename(columns={"base": "experiment"})
        table = (
            accuracies.groupby(["experiment", "model", "train_level", "test_level"], sort=False)
            .agg(
                seeds=("seed", "nunique"),
                mean_accuracy=("test_accuracy", "mean"),
                min_accuracy=("test_accuracy", "min"),
                max_accuracy=("test_accuracy", "max"),
            )
            .reset_index()
        )
        for side in ("train", "test"):
            table = table.merge(
                meta.rename(
                    columns={
                        "level": f"{side}_level",
                        "level_index": f"{side}_level_index",
                        "dataset": f"{side}_dataset",
                    }
                ),
                on=["experiment", f"{side}_level"],
                how="inner",
            )
        table["matched"] = table["train_level"] == table["test_level"]
        order = ["experiment", "model", "train_level_index", "test_level_index"]
        table = table.sort_values(order)[COLUMNS].reset_index(drop=True)
    Path(csv).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(md) as tmp:
        tmp.write_text(_markdown(table, sorted({row["base"] for row in levels})))
    log.info(
        "robustness: %d (experiment, model, train level, test level) rows written to %s",
        len(table),
        csv,
    )
    return table


def _markdown(table: pd.DataFrame, swept: Sequence[str] = ()) -> str:
    """Per experiment: one row per model and train level, one column per test level (mean test
    accuracy over the seeds; bold: tested at the level trained at). `swept`: the swept
    experiments (their base names), named when none of their runs has finished."""
    if table.empty and swept:  # e.g. allow_missing_runs with every swept run failed
        return f"Swept experiment(s) {', '.join(swept)}: no finished run, no robustness results.\n"
    if table.empty:
        return "No swept experiment (`sweep: true`): no robustness results.\n"
    parts = []
    for experiment, rows in table.groupby("experiment", sort=False):
        tests = rows.drop_duplicates("test_level").sort_values("test_level_index")["test_level"]
        tests = list(tests)
        parts.append(
            f"**{experiment}**: test accuracy (%), mean over the seeds; rows: trained at, "
            "columns: tested at (bold: the level trained at)\n"
        )
        parts.append("| model | trained at | seeds | " + " | ".join(tests) + " |")
        parts.append("|---|---|---:|" + "---:|" * len(tests))
        keys = ["model", "train_level_index", "train_level"]
        for (model, _, train), row in rows.groupby(keys, sort=True):
            seeds = sorted(set(row["seeds"]))
            seeds_text = str(seeds[0]) if len(seeds) == 1 else f"{seeds[0]}-{seeds[-1]}"
            cells = []
            for test in tests:
                hit = row[row["test_level"] == test]
                if hit.empty:
                    cells.append("–")
                    continue
                text = f"{100 * hit['mean_accuracy'].iloc[0]:.1f}"
                cells.append(f"**{text}**" if test == train else text)
            parts.append(f"| {model} | {train} | {seeds_text} | " + " | ".join(cells) + " |")
        parts.append("")
    return "\n".join(parts)
