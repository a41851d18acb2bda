"""Aggregated result tables of the workflow: runs, summary, confusions and runtimes.

Every table is written twice, as CSV (the data) and as a Markdown table (for reading), by
:func:`write_table`. The functions called by the scripts of rules/results.smk:

- :func:`aggregate_runs` (rule aggregate_runs): one row per (experiment, dataset, model, seed)
  with every metric of its metrics.json; runs whose metrics.json does not exist (a failed job with
  ``allow_missing_runs``) are listed with ``status`` "missing" and logged as WARNING.
- :func:`aggregate_summary` (rule aggregate_summary): per experiment and model, statistics over
  the seeds that finished, with the published values (config/reference/*.csv) beside them.
- :func:`aggregate_confusions` (rule aggregate_confusions): the most frequently confused class
  pairs of every model, counted over its seeds from predictions.parquet.
- :func:`aggregate_runtimes` (rule aggregate_runtimes): wall time and peak memory of every job
  from the Snakemake benchmark files.

Pure pandas/pyarrow: nothing here imports Keras.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from specbench import stats as sbstats

logger = logging.getLogger("specbench.tables")

__all__ = [
    "PAPER_ARCHITECTURES",
    "RUNS_COLUMNS",
    "SUMMARY_COLUMNS",
    "CONFUSIONS_COLUMNS",
    "RUNTIMES_COLUMNS",
    "TableInputError",
    "aggregate_confusions",
    "aggregate_runs",
    "aggregate_runtimes",
    "aggregate_summary",
    "architecture_order",
    "experiment_order",
    "confusion_pairs",
    "dense_activation",
    "is_original",
    "load_reference",
    "match_reference",
    "model_order",
    "parse_benchmark_path",
    "read_benchmark",
    "read_runs",
    "runs_table",
    "runtimes_table",
    "summary_table",
    "to_markdown",
    "write_table",
]

#: Order of the architectures in the paper's figures and tables (others follow alphabetically).
PAPER_ARCHITECTURES = ("cnn2", "cnn3", "cnn6", "vgg", "resnet", "cnn_bn", "inc3", "inc6")
#: Order of the paper's experiments (others follow alphabetically).
PAPER_EXPERIMENTS = ("benchmark", "activation", "modifications")

#: Columns of runs.csv that come from the run record (the config), before the metrics.
RUN_KEY_COLUMNS = [
    "experiment",
    "dataset",
    "model",
    "seed",
    "data_seed",
    "base_dataset",
    "status",
    "architecture",
]
#: Metrics of metrics.json (the evaluation contract), always present in runs.csv (empty when a
#: run is missing); further keys of metrics.json follow them, nested dicts flattened with ".".
METRIC_COLUMNS = [
    "n_test",
    "test_wrong",
    "test_error_pct",
    "test_accuracy",
    "best_epoch",
    "epochs_run",
    "best_val_accuracy",
    "best_val_loss",
    "parameters",
    "macs",
    "train_time_s",
    "train_samples_per_s",
    "backend",
    "precision",
]
RUNS_COLUMNS = [
    *RUN_KEY_COLUMNS,
    "dense_activation",
    "hyperparameters",
    *METRIC_COLUMNS,
]
_INT_METRICS = ("n_test", "test_wrong", "best_epoch", "epochs_run", "parameters", "macs")
_FLOAT_METRICS = (
    "test_error_pct",
    "test_accuracy",
    "best_val_accuracy",
    "best_val_loss",
    "train_time_s",
    "train_samples_per_s",
)
# Keys of metrics.json that repeat the run record: they must agree with it.
_IDENTITY_KEYS = ("model", "dataset", "seed", "architecture")

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
SUMMARY_COLUMNS = [
    "experiment",
    "dataset",
    "model",
    "architecture",
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
    *[f"paper_{col}" for col in REFERENCE_VALUES],
]
CONFUSIONS_COLUMNS = [
    "dataset",
    "model",
    "architecture",
    "experiments",
    "rank",
    "class_a",
    "class_b",
    "count",
    "a_as_b",
    "b_as_a",
    "n_seeds",
    "n_missing",
    "n_test",
]
RUNTIMES_COLUMNS = [
    "rule",
    "dataset",
    "model",
    "seed",
    "wildcards",
    "n_repeats",
    "wall_s",
    "wall_hms",
    "cpu_time_s",
    "mean_load",
    "max_rss_mb",
    "max_vms_mb",
    "max_uss_mb",
    "max_pss_mb",
    "io_in_mb",
    "io_out_mb",
    "benchmark",
]
# Snakemake benchmark TSV columns -> runtimes.csv columns (max_* and io_* are in MB).
_BENCHMARK_COLUMNS = {
    "s": "wall_s",
    "cpu_time": "cpu_time_s",
    "mean_load": "mean_load",
    "max_rss": "max_rss_mb",
    "max_vms": "max_vms_mb",
    "max_uss": "max_uss_mb",
    "max_pss": "max_pss_mb",
    "io_in": "io_in_mb",
    "io_out": "io_out_mb",
}
# Order of the rules in runtimes.csv (a job's life: rendering, training, evaluation).
_RULE_ORDER = ("generate_classes", "render_spectra", "train_model", "evaluate_model")


class TableInputError(ValueError):
    """An input file of a table is unreadable or inconsistent; the message names the file."""


# ---------------------------------------------------------------- helpers


def dense_activation(architecture: str, hyperparameters: Mapping[str, Any] | None) -> str | None:
    """The effective activation of the hidden dense layers of a model.

    ``hyperparameters["dense_activation"]`` when the model sets it, else the architecture's
    published default (specbench.models.registry); None for an architecture that the registry
    does not know (then only an explicit setting counts).
    """
    hyperparameters = hyperparameters or {}
    if hyperparameters.get("dense_activation"):
        return str(hyperparameters["dense_activation"])
    from specbench.models import registry

    arch = registry.ARCHITECTURES.get(architecture)
    if arch is None:
        return None
    return arch.defaults.get("dense_activation")


def is_original(hyperparameters: Mapping[str, Any] | str | None) -> bool:
    """True for a model with the published hyperparameters (no overrides) of its architecture."""
    if isinstance(hyperparameters, str):
        hyperparameters = json.loads(hyperparameters) if hyperparameters.strip() else {}
    return not hyperparameters


def _rank(value: str, preferred: Sequence[str]) -> tuple[int, str]:
    return (preferred.index(value), "") if value in preferred else (len(preferred), value)


def architecture_order(architectures: Iterable[str]) -> list[str]:
    """Distinct architecture names in the paper's order (others alphabetically after them)."""
    return sorted(set(architectures), key=lambda name: _rank(name, PAPER_ARCHITECTURES))


def model_order(models: pd.DataFrame) -> list[str]:
    """Model names of `models` (columns model, architecture[, hyperparameters]) in display order.

    Architectures in the paper's order (others alphabetically after them); within one
    architecture the original (no hyperparameter overrides) first, then the variants by name.
    """
    cols = [c for c in ("model", "architecture", "hyperparameters") if c in models.columns]
    rows = models[cols].drop_duplicates("model")

    def key(row) -> tuple:
        original = is_original(row.get("hyperparameters", "{}"))
        return (*_rank(row["architecture"], PAPER_ARCHITECTURES), not original, row["model"])

    return [row["model"] for _, row in sorted(rows.iterrows(), key=lambda item: key(item[1]))]


def experiment_order(experiments: Iterable[str]) -> list[str]:
    """Experiment names: the paper's three first, in the paper's order, then the others."""
    return sorted(set(experiments), key=lambda name: _rank(name, PAPER_EXPERIMENTS))


def _format_cell(value: Any) -> str:
    if value is None or value is pd.NA:
        return ""
    if isinstance(value, (float, np.floating)):
        if math.isnan(value):
            return ""
        if float(value).is_integer() and abs(value) < 1e15:
            return str(int(value))
        text = f"{value:.3f}".rstrip("0").rstrip(".")
        return text if text not in ("", "-0") else f"{value:.3g}"
    return str(value)


def to_markdown(table: pd.DataFrame) -> str:
    """`table` as a GitHub-flavoured Markdown table (numbers right-aligned, NaN empty).

    Floats show at most three decimals (the CSV keeps every digit); ``|`` in cells is escaped.
    """

    def esc(text: str) -> str:
        return text.replace("|", r"\|").replace("\n", " ")

    header = [esc(str(col)) for col in table.columns]
    rows = [[esc(_format_cell(v)) for v in row] for row in table.itertuples(index=False)]
    numeric = [pd.api.types.is_numeric_dtype(table[col]) for col in table.columns]
    widths = [max([len(header[i]), 3, *(len(row[i]) for row in rows)]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        padded = [
            cell.rjust(w) if num else cell.ljust(w) for cell, w, num in zip(cells, widths, numeric)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = ["-" * (w - 1) + ":" if num else "-" * w for w, num in zip(widths, numeric)]
    return "\n".join([line(header), "| " + " | ".join(rule) + " |", *map(line, rows)]) + "\n"


def write_table(
    table: pd.DataFrame,
    csv: str | Path,
    md: str | Path,
    title: str = "",
    md_table: pd.DataFrame | None = None,
) -> None:
    """Write `table` as CSV (every digit, NaN as empty) and as Markdown (with an optional title;
    `md_table`: a narrower version for people, instead of `table`)."""
    Path(csv).parent.mkdir(parents=True, exist_ok=True)
    Path(md).parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(csv, index=False)
    text = to_markdown(table if md_table is None else md_table)
    if title:
        text = f"# {title}\n\n{text}"
    Path(md).write_text(text)
    logger.info("wrote %s and %s (%d rows)", csv, md, len(table))


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, Mapping):
        for key, sub in value.items():
            _flatten(f"{prefix}.{key}" if prefix else str(key), sub, out)
    elif isinstance(value, (list, tuple)):
        out[prefix] = json.dumps(value)
    else:
        out[prefix] = value


def _canonical(hyperparameters: Mapping[str, Any] | None) -> str:
    return json.dumps(dict(hyperparameters or {}), sort_keys=True)


# ---------------------------------------------------------------- runs


def _read_metrics(record: Mapping[str, Any]) -> dict[str, Any] | None:
    path = Path(record["metrics"])
    if not path.exists():
        return None
    try:
        metrics = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise TableInputError(f"{path}: not a readable metrics JSON file ({exc})") from None
    if not isinstance(metrics, dict):
        raise TableInputError(f"{path}: expected a JSON object, got {type(metrics).__name__}")
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
            "architecture": record.get("architecture", ""),
            "dense_activation": dense_activation(record.get("architecture", ""), hyperparameters),
            "hyperparameters": _canonical(hyperparameters),
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


def subset_title(title: str, selection: str = "") -> str:
    """`title`, naming the subset of the config (``select``) the table covers, if any."""
    return f"{title} (subset: {selection})" if selection else title


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
    write_table(table, csv, md, title=subset_title("Runs", selection))
    return table


def read_runs(path: str | Path) -> pd.DataFrame:
    """runs.csv as written by :func:`aggregate_runs` (integer metrics as nullable Int64)."""
    path = Path(path)
    try:
        table = pd.read_csv(path, dtype={"hyperparameters": str, "dense_activation": str})
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise TableInputError(f"{path}: not a readable runs table ({exc})") from None
    missing = [col for col in RUNS_COLUMNS if col not in table.columns]
    if missing:
        raise TableInputError(f"{path}: missing column(s) {', '.join(missing)}")
    for col in _INT_METRICS:
        table[col] = pd.to_numeric(table[col]).round().astype("Int64")
    table["hyperparameters"] = table["hyperparameters"].fillna("{}")
    return table


# ---------------------------------------------------------------- reference values


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


# ---------------------------------------------------------------- summary


def counterpart(runs: pd.DataFrame, experiment: str, model: str) -> str | None:
    """The model `model` is compared with in its experiment: the original (no hyperparameter
    overrides) of its architecture, if `model` is not that original itself; else None."""
    rows = runs[runs["experiment"] == experiment].drop_duplicates("model").set_index("model")
    if model not in rows.index or is_original(rows.loc[model, "hyperparameters"]):
        return None
    arch = rows.loc[model, "architecture"]
    originals = [
        m
        for m, r in rows.iterrows()
        if r["architecture"] == arch and is_original(r["hyperparameters"]) and m != model
    ]
    return originals[0] if originals else None


def paired_label(diff: Mapping[str, Any], what: str = "Δ") -> str:
    """"Δ +4.8 [+1.2, +8.4] pp (n=5)"; with one pair "Δ +3.0 pp (1 seed: no interval)"."""
    if not diff or diff.get("n", 0) == 0 or pd.isna(diff.get("mean")):
        return ""
    if diff["n"] < 2:
        return f"{what} {diff['mean']:+.1f} pp (1 seed: no interval)"
    return f"{what} {diff['mean']:+.1f} [{diff['low']:+.1f}, {diff['high']:+.1f}] pp (n={diff['n']})"


def paired_accuracy(runs: pd.DataFrame, experiment: str, model: str, other: str) -> dict:
    """specbench.stats.paired_difference of the test accuracy (%) of `model` minus `other` in
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


def _paired(runs: pd.DataFrame, experiment: str, model: str, group: pd.DataFrame) -> dict:
    """Paired difference (percentage points of test accuracy) of `model` minus its counterpart
    over the (seed, data seed) runs both finished; see specbench.stats."""
    other = counterpart(runs, experiment, model)
    out = {"paired_with": other or "", "paired_n": 0}
    out.update(paired_diff_pct=np.nan, paired_ci_low_pct=np.nan, paired_ci_high_pct=np.nan)
    if other is None:
        return out
    diff = paired_accuracy(runs, experiment, model, other)
    out.update(
        paired_n=diff["n"],
        paired_diff_pct=diff["mean"],
        paired_ci_low_pct=diff["low"],
        paired_ci_high_pct=diff["high"],
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
    keys = ["experiment", "base_dataset", "model"]
    for (experiment, dataset, model), group in runs.groupby(keys, sort=False):
        ok = group[group["status"] == "ok"]
        first = group.iloc[0]
        row = {
            "experiment": experiment,
            "dataset": dataset,
            "model": model,
            "architecture": first["architecture"],
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
        wrong = _mean_range(r["test_wrong_mean"], r["test_wrong_min"], r["test_wrong_max"], 1)
        paper_wrong = _mean_range(
            r["paper_test_wrong_mean"], r["paper_test_wrong_min"], r["paper_test_wrong_max"], 1
        )
        if r["paired_with"] and r["paired_n"] >= 2:
            paired = (
                f"{r['paired_diff_pct']:+.1f} [{r['paired_ci_low_pct']:+.1f}, "
                f"{r['paired_ci_high_pct']:+.1f}] vs {r['paired_with']} (n={r['paired_n']})"
            )
        elif r["paired_with"] and r["paired_n"] == 1:
            paired = f"{r['paired_diff_pct']:+.1f} vs {r['paired_with']} (one pair: no interval)"
        else:
            paired = ""
        seeds = f"{r['n_ok']}/{r['n_runs']}"
        if r["n_data_seeds"] and r["n_data_seeds"] > 1:
            seeds += f" ({r['n_data_seeds']} datasets)"
        rows.append(
            {
                "experiment": r["experiment"],
                "model": r["model"],
                "runs": seeds,
                "test accuracy %": acc,
                "paper %": paper,
                "misclassified": wrong,
                "paper misclassified": paper_wrong,
                "best epoch": "" if pd.isna(r["best_epoch_mean"]) else f"{r['best_epoch_mean']:.0f}",
                "train time": _format_duration(r["train_time_s_mean"]),
                "paired Δ (pp) [95 % CI]": paired,
            }
        )
    return pd.DataFrame(rows)


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


# ---------------------------------------------------------------- confusions


def _read_predictions(path: str | Path) -> pd.DataFrame:
    import pyarrow.parquet as pq

    path = Path(path)
    try:
        table = pq.read_table(path, columns=["row", "label", "predicted"]).to_pandas()
    except (OSError, ValueError, KeyError) as exc:
        raise TableInputError(f"{path}: not a readable predictions file ({exc})") from None
    return table


def confusion_pairs(predictions: pd.DataFrame) -> pd.DataFrame:
    """Misclassifications of `predictions` (columns label, predicted) counted per class pair.

    The pair is unordered: class_a < class_b; a_as_b counts class_a spectra predicted as class_b,
    b_as_a the reverse, count their sum. Sorted by count (descending), then class_a, class_b.
    """
    wrong = predictions[predictions["label"] != predictions["predicted"]]
    a = np.minimum(wrong["label"], wrong["predicted"]).astype("int64")
    b = np.maximum(wrong["label"], wrong["predicted"]).astype("int64")
    frame = pd.DataFrame({"class_a": a, "class_b": b, "a_as_b": wrong["label"].to_numpy() == a})
    if not len(frame):
        return pd.DataFrame(
            {
                c: pd.Series(dtype="int64")
                for c in ("class_a", "class_b", "count", "a_as_b", "b_as_a")
            }
        )
    grouped = frame.groupby(["class_a", "class_b"])["a_as_b"].agg(["size", "sum"]).reset_index()
    grouped = grouped.rename(columns={"size": "count", "sum": "a_as_b"})
    grouped["a_as_b"] = grouped["a_as_b"].astype("int64")
    grouped["b_as_a"] = grouped["count"] - grouped["a_as_b"]
    grouped = grouped.sort_values(
        ["count", "class_a", "class_b"], ascending=[False, True, True], kind="stable"
    )
    return grouped[["class_a", "class_b", "count", "a_as_b", "b_as_a"]].reset_index(drop=True)


def confusions_table(runs: Sequence[Mapping[str, Any]], top: int) -> pd.DataFrame:
    """The `top` most frequently confused class pairs of every (dataset, model), over its seeds.

    A model trained once but used by several experiments (same dataset and name) counts once;
    ``experiments`` lists them. Seeds whose predictions.parquet does not exist are skipped
    (logged as WARNING) and counted in n_missing. Columns :data:`CONFUSIONS_COLUMNS`; n_test is
    the number of test spectra per seed.
    """
    if top < 1:
        raise TableInputError(f"aggregate.top_confusions={top!r} must be a positive integer")
    jobs: dict[tuple[str, str], dict[str, Any]] = {}
    for record in runs:
        job = jobs.setdefault(
            (record["dataset"], record["model"]),
            {
                "architecture": record.get("architecture", ""),
                "hyperparameters": _canonical(record.get("hyperparameters")),
                "experiments": [],
                "seeds": {},
            },
        )
        if record["experiment"] not in job["experiments"]:
            job["experiments"].append(record["experiment"])
        job["seeds"][int(record["seed"])] = record["predictions"]
    order = {}
    if jobs:
        frame = pd.DataFrame(
            [
                {
                    "model": m,
                    "architecture": j["architecture"],
                    "hyperparameters": j["hyperparameters"],
                }
                for (_, m), j in jobs.items()
            ]
        )
        order = {name: i for i, name in enumerate(model_order(frame))}
    rows = []
    for (dataset, model), job in sorted(jobs.items(), key=lambda kv: (kv[0][0], order[kv[0][1]])):
        frames, missing, n_test = [], [], set()
        for seed, path in sorted(job["seeds"].items()):
            if not Path(path).exists():
                missing.append(seed)
                continue
            predictions = _read_predictions(path)
            n_test.add(len(predictions))
            frames.append(predictions)
        if missing:
            logger.warning(
                "confusions of %s/%s without seed(s) %s (no predictions)",
                dataset,
                model,
                ", ".join(map(str, missing)),
            )
        if not frames:
            continue
        pairs = confusion_pairs(pd.concat(frames, ignore_index=True)).head(top)
        for rank, pair in enumerate(pairs.itertuples(index=False), start=1):
            rows.append(
                {
                    "dataset": dataset,
                    "model": model,
                    "architecture": job["architecture"],
                    "experiments": ",".join(experiment_order(job["experiments"])),
                    "rank": rank,
                    "class_a": pair.class_a,
                    "class_b": pair.class_b,
                    "count": pair.count,
                    "a_as_b": pair.a_as_b,
                    "b_as_a": pair.b_as_a,
                    "n_seeds": len(frames),
                    "n_missing": len(missing),
                    "n_test": max(n_test),
                }
            )
    table = pd.DataFrame(rows, columns=CONFUSIONS_COLUMNS)
    for col in (
        "rank",
        "class_a",
        "class_b",
        "count",
        "a_as_b",
        "b_as_a",
        "n_seeds",
        "n_missing",
        "n_test",
    ):
        table[col] = table[col].astype("int64")
    return table


def aggregate_confusions(
    runs: Sequence[Mapping[str, Any]], top: int, csv: str | Path, md: str | Path
) -> pd.DataFrame:
    """Rule aggregate_confusions: :func:`confusions_table` written to `csv` and `md`."""
    table = confusions_table(runs, int(top))
    write_table(table, csv, md, title=f"Most confused class pairs (top {top} per model)")
    return table


# ---------------------------------------------------------------- runtimes


def parse_benchmark_path(path: str | Path, root: str | Path = "results/benchmarks") -> dict:
    """Rule and wildcards of a benchmark file ``<root>/<rule>/<wildcard>/.../<wildcard>.tsv``.

    The wildcard values are named in order dataset, model, then wildcard3, ...; a value
    ``seed<N>`` is the seed N. Returns {rule, dataset, model, seed, wildcards} (absent ones None;
    wildcards: "dataset=...,model=...,seed=..."). `root` is where the rule directories are; for a
    path outside it, the part after the last ``benchmarks`` directory is used.
    """
    path = Path(path)
    try:
        parts = path.relative_to(root).parts
    except ValueError:
        try:
            parts = path.resolve().relative_to(Path(root).resolve()).parts
        except ValueError:
            names = path.parts[:-1]
            if "benchmarks" not in names:
                raise TableInputError(
                    f"{path}: a benchmark file must lie under {root}/<rule>/ (or a 'benchmarks' "
                    "directory)"
                ) from None
            start = len(names) - 1 - names[::-1].index("benchmarks")
            parts = path.parts[start + 1 :]
    if len(parts) < 2:
        raise TableInputError(f"{path}: expected <rule>/<wildcards...>.tsv below {root}")
    rule, values = parts[0], [*parts[1:-1], Path(parts[-1]).stem]
    info: dict[str, Any] = {"rule": rule, "dataset": None, "model": None, "seed": None}
    names = ["dataset", "model"]
    wildcards = []
    for value in values:
        match = re.fullmatch(r"seed(\d+)", value)
        if match and info["seed"] is None:
            info["seed"] = int(match.group(1))
            wildcards.append(f"seed={info['seed']}")
            continue
        name = names.pop(0) if names else f"wildcard{len(wildcards) + 1}"
        if name in info:
            info[name] = value
        wildcards.append(f"{name}={value}")
    info["wildcards"] = ",".join(wildcards)
    return info


def read_benchmark(path: str | Path) -> dict[str, Any]:
    """One Snakemake benchmark TSV as a dict of runtimes.csv columns (repeats aggregated).

    Several rows (``benchmark: repeat(...)``) give the mean wall and CPU time and load and the
    maximum of the memory and I/O columns; "NA" (a job too short to be sampled) is empty.
    """
    path = Path(path)
    try:
        frame = pd.read_csv(path, sep="\t", na_values=["NA", "-"])
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise TableInputError(f"{path}: not a readable benchmark file ({exc})") from None
    if "s" not in frame.columns or not len(frame):
        raise TableInputError(
            f"{path}: not a Snakemake benchmark file (expected a header with column 's' and at "
            "least one row)"
        )
    out: dict[str, Any] = {"n_repeats": len(frame)}
    for src, dst in _BENCHMARK_COLUMNS.items():
        values = pd.to_numeric(frame[src], errors="coerce") if src in frame else pd.Series([])
        values = values.dropna()
        if not len(values):
            out[dst] = np.nan
        elif src in ("s", "cpu_time", "mean_load"):
            out[dst] = float(values.mean())
        else:
            out[dst] = float(values.max())
    seconds = out["wall_s"]
    if np.isnan(seconds):
        out["wall_hms"] = ""
    else:
        whole = int(round(seconds))
        out["wall_hms"] = f"{whole // 3600}:{whole % 3600 // 60:02d}:{whole % 60:02d}"
    return out


def runtimes_table(
    benchmarks: Sequence[str | Path], root: str | Path = "results/benchmarks"
) -> pd.DataFrame:
    """One row per job of the Snakemake benchmark files (see :func:`read_benchmark`).

    Columns :data:`RUNTIMES_COLUMNS`, sorted by rule (rendering, training, evaluation, others),
    dataset, model and seed.
    """
    rows = []
    for path in benchmarks:
        row = parse_benchmark_path(path, root)
        row.update(read_benchmark(path))
        row["benchmark"] = str(path)
        rows.append(row)
    table = pd.DataFrame(rows, columns=RUNTIMES_COLUMNS)
    table["seed"] = pd.to_numeric(table["seed"]).astype("Int64")
    table["n_repeats"] = table["n_repeats"].astype("int64")
    rule_rank = {rule: i for i, rule in enumerate(_RULE_ORDER)}
    table = table.sort_values(
        ["rule", "dataset", "model", "seed"],
        key=lambda col: (
            col.map(lambda r: (rule_rank.get(r, len(rule_rank)), r)) if col.name == "rule" else col
        ),
        na_position="first",
        kind="stable",
    )
    return table.reset_index(drop=True)


def aggregate_runtimes(
    benchmarks: Sequence[str | Path],
    csv: str | Path,
    md: str | Path,
    root: str | Path = "results/benchmarks",
) -> pd.DataFrame:
    """Rule aggregate_runtimes: :func:`runtimes_table` written to `csv` and `md`."""
    table = runtimes_table(list(benchmarks), root)
    total = table["wall_s"].sum()
    logger.info("%d jobs, %.1f s wall time in total", len(table), total)
    write_table(table, csv, md, title="Runtime and peak memory of every job")
    return table
