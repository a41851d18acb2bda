"""The runs table (rule aggregate_runs): one row per run with every metric of its metrics.json."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from specbench.core.formats import CORE_METRICS, IDENTITY_METRICS, METRICS
from specbench.evaluation.runs import RunError, read_metrics
from specbench.results.tables.common import (
    TableInputError,
    _flatten,
    dense_activation,
    experiment_order,
    hyperparameters_key,
    model_order,
    subset_title,
    write_table,
)

logger = logging.getLogger("specbench.results.tables")

#: Columns of runs.csv that come from the run record (the config), before the metrics.
RUN_KEY_COLUMNS = [
    "experiment",
    "dataset",
    "model",
    "seed",
    "data_seed",
    "base_dataset",
    "status",
    "baseline",
    "architecture",
]
#: Metrics of metrics.json always present in runs.csv (empty when a run is missing): its spec's
#: ``core`` keys (specbench.core.formats.METRICS), with the error rate derived from the count after it;
#: further keys of metrics.json follow them, nested dicts flattened with ".".
METRIC_COLUMNS = [
    column
    for key in CORE_METRICS
    for column in ((key, "test_error_pct") if key == "test_wrong" else (key,))
]
RUNS_COLUMNS = [
    *RUN_KEY_COLUMNS,
    "dense_activation",
    "hyperparameters",
    *METRIC_COLUMNS,
]
_KINDS = {field.name: field.kind for field in METRICS}
_INT_METRICS = tuple(key for key in CORE_METRICS if _KINDS[key] == "int")
_FLOAT_METRICS = (
    "test_error_pct",
    *(key for key in CORE_METRICS if _KINDS[key] == "float"),
)
# Keys of metrics.json that repeat the run record: they must agree with it.
_IDENTITY_KEYS = IDENTITY_METRICS


def _read_metrics(record: Mapping[str, Any]) -> dict[str, Any] | None:
    path = Path(record["metrics"])
    if not path.exists():
        return None
    try:
        metrics = read_metrics(path)
    except RunError as exc:
        raise TableInputError(str(exc)) from None
    for key in _IDENTITY_KEYS:
        if key in metrics and str(metrics[key]) != str(record[key]):
            raise TableInputError(
                f"{path}: {key}={metrics[key]!r} but the run is {key}={record[key]!r} "
                "(a stale or misplaced metrics file)"
            )
    return metrics


def runs_table(runs: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per run record (see rules/common.smk run_records) with its metrics.

    A record: {experiment, dataset, model, seed, architecture, hyperparameters, metrics,
    predictions, history} (the last three are paths). Columns: :data:`RUNS_COLUMNS`, then any
    other key of metrics.json (``versions`` flattened to ``versions.<library>``), then the
    metrics path. ``status`` is "ok" or "missing" (metrics.json does not exist); a missing run's
    metric columns are empty. ``test_error_pct`` = 100 * test_wrong / n_test.
    """
    rows, extra = [], []
    for record in runs:
        missing_keys = [k for k in ("experiment", "dataset", "model", "seed") if k not in record]
        if missing_keys or "metrics" not in record:
            raise TableInputError(f"run record {dict(record)!r} lacks {missing_keys or 'metrics'}")
        hyperparameters = record.get("hyperparameters") or {}
        row: dict[str, Any] = {
            "experiment": record["experiment"],
            "dataset": record["dataset"],
            "model": record["model"],
            "seed": int(record["seed"]),
            "data_seed": int(record.get("data_seed", -1)),
            "base_dataset": record.get("base_dataset", record["dataset"]),
            # the result bundle a shipped run comes from (config `baselines`); "" trained here
            "baseline": record.get("baseline") or "",
            "architecture": record.get("architecture", ""),
            "dense_activation": dense_activation(record.get("architecture", ""), hyperparameters),
            "hyperparameters": hyperparameters_key(hyperparameters),
        }
        metrics = _read_metrics(record)
        if metrics is None:
            row["status"] = "missing"
            logger.warning(
                "missing run: experiment %s, dataset %s, model %s, seed %s (no %s)",
                record["experiment"],
                record["dataset"],
                record["model"],
                record["seed"],
                record["metrics"],
            )
        else:
            row["status"] = "ok"
            flat: dict[str, Any] = {}
            _flatten("", {k: v for k, v in metrics.items() if k not in _IDENTITY_KEYS}, flat)
            for key, value in flat.items():
                row[key] = value
                if key not in RUNS_COLUMNS and key not in extra:
                    extra.append(key)
            if row.get("n_test") and row.get("test_wrong") is not None:
                row["test_error_pct"] = 100.0 * row["test_wrong"] / row["n_test"]
        row["metrics"] = str(record["metrics"])
        rows.append(row)
    versions = sorted(k for k in extra if k.startswith("versions."))
    others = sorted(k for k in extra if not k.startswith("versions."))
    columns = [*RUNS_COLUMNS, *others, *versions, "metrics"]
    table = pd.DataFrame(rows, columns=columns)
    for col in _INT_METRICS:
        table[col] = pd.to_numeric(table[col]).astype("Int64")
    for col in _FLOAT_METRICS:
        table[col] = pd.to_numeric(table[col]).astype("float64")
    table["seed"] = table["seed"].astype("int64")
    table["data_seed"] = table["data_seed"].astype("int64")
    order = {name: i for i, name in enumerate(experiment_order(table["experiment"]))}
    models = {name: i for i, name in enumerate(model_order(table))} if len(table) else {}
    table = table.sort_values(
        ["experiment", "dataset", "model", "seed"],
        key=lambda col: (
            col.map(order)
            if col.name == "experiment"
            else (col.map(models) if col.name == "model" else col)
        ),
        kind="stable",
    )
    return table.reset_index(drop=True)


def aggregate_runs(
    runs: Sequence[Mapping[str, Any]], csv: str | Path, md: str | Path, selection: str = ""
) -> pd.DataFrame:
    """Rule aggregate_runs: :func:`runs_table` written to `csv` and `md` (`selection`: the
    subset of the config these runs are, named in the Markdown title)."""
    table = runs_table(runs)
    n_missing = int((table["status"] == "missing").sum())
    if n_missing:
        logger.warning(
            "%d of %d runs are missing; they are listed with status 'missing'",
            n_missing,
            len(table),
        )
    write_table(
        table, csv, md, title=subset_title("Runs", selection), md_table=runs_markdown(table)
    )
    return table


def runs_markdown(table: pd.DataFrame) -> pd.DataFrame:
    """The runs for people: one narrow row per run (every column stays in runs.csv)."""

    def cell(value, fmt: str) -> str:
        return "" if pd.isna(value) else format(value, fmt)

    rows = []
    for _, r in table.iterrows():
        ok = r["status"] == "ok"
        rows.append(
            {
                "experiment": r["experiment"],
                "dataset": r["dataset"],
                "model": r["model"],
                "seed": int(r["seed"]),
                "status": r["status"],
                "test accuracy %": cell(100 * r["test_accuracy"], ".1f") if ok else "",
                "wrong / test": f"{r['test_wrong']} / {r['n_test']}" if ok else "",
                "best / run epochs": f"{r['best_epoch']} / {r['epochs_run']}" if ok else "",
                "train time": _hms(r["train_time_s"]) if ok else "",
            }
        )
    return pd.DataFrame(rows)


def _hms(seconds) -> str:
    if pd.isna(seconds):
        return ""
    minutes, s = divmod(int(round(float(seconds))), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{s:02d}"


def read_runs(path: str | Path) -> pd.DataFrame:
    """runs.csv as written by :func:`aggregate_runs` (integer metrics as nullable Int64)."""
    path = Path(path)
    try:
        table = pd.read_csv(
            path, dtype={"hyperparameters": str, "dense_activation": str, "baseline": str}
        )
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise TableInputError(f"{path}: not a readable runs table ({exc})") from None
    missing = [col for col in RUNS_COLUMNS if col not in table.columns]
    if missing:
        raise TableInputError(f"{path}: missing column(s) {', '.join(missing)}")
    for col in _INT_METRICS:
        table[col] = pd.to_numeric(table[col]).round().astype("Int64")
    table["hyperparameters"] = table["hyperparameters"].fillna("{}")
    table["baseline"] = table["baseline"].fillna("")
    return table
