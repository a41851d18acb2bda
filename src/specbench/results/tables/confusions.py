"""The confusions table (rule aggregate_confusions): the most confused class pairs per model."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from specbench.core import schema
from specbench.evaluation.predictions import PredictionsError, class_names, read_predictions
from specbench.results.tables.common import (
    TableInputError,
    experiment_order,
    hyperparameters_key,
    model_order,
    subset_title,
    write_table,
)

logger = logging.getLogger("specbench.results.tables")

CONFUSIONS_COLUMNS = [
    "dataset",
    "model",
    "architecture",
    "experiments",
    "rank",
    "class_a",
    "class_b",
    "name_a",  # the classes' names (your own phases), empty for classes without names
    "name_b",
    "count",
    "a_as_b",
    "b_as_a",
    "n_seeds",
    "n_missing",
    "n_test",
]


def _read_predictions(path: str | Path) -> pd.DataFrame:
    try:
        return read_predictions(path, ["row", "label", "predicted"]).to_pandas()
    except PredictionsError as exc:
        raise TableInputError(str(exc)) from None


def _class_names(path: str | Path) -> list[str] | None:
    try:
        return class_names(path)
    except PredictionsError as exc:
        raise TableInputError(str(exc)) from None


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
    try:  # the schema's check of the setting (also for a call from outside a workflow)
        schema.fill({"top_confusions": top}, "aggregate")
    except schema.SchemaError as exc:
        raise TableInputError(str(exc)) from None
    jobs: dict[tuple[str, str], dict[str, Any]] = {}
    for record in runs:
        job = jobs.setdefault(
            (record["dataset"], record["model"]),
            {
                "architecture": record.get("architecture", ""),
                "hyperparameters": hyperparameters_key(record.get("hyperparameters")),
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
        frames, missing, n_test, names = [], [], set(), None
        for seed, path in sorted(job["seeds"].items()):
            if not Path(path).exists():
                missing.append(seed)
                continue
            predictions = _read_predictions(path)
            names = names or _class_names(path)
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
                    "name_a": names[pair.class_a] if names else "",
                    "name_b": names[pair.class_b] if names else "",
                    "count": pair.count,
                    "a_as_b": pair.a_as_b,
                    "b_as_a": pair.b_as_a,
                    "n_seeds": len(frames),
                    "n_missing": len(missing),
                    "n_test": max(n_test),
                }
            )
    table = pd.DataFrame(rows, columns=CONFUSIONS_COLUMNS)
    for col in CONFUSIONS_COLUMNS[CONFUSIONS_COLUMNS.index("rank") :]:  # the counts
        if not col.startswith("name_"):
            table[col] = table[col].astype("int64")
    return table


def aggregate_confusions(
    runs: Sequence[Mapping[str, Any]],
    top: int,
    csv: str | Path,
    md: str | Path,
    selection: str = "",
) -> pd.DataFrame:
    """Rule aggregate_confusions: :func:`confusions_table` written to `csv` and `md`
    (`selection`: the subset of the config these runs are, named in the Markdown title)."""
    table = confusions_table(runs, int(top))
    write_table(
        table,
        csv,
        md,
        title=subset_title(f"Most confused class pairs (top {top} per model)", selection),
        md_table=confusions_markdown(table),
    )
    return table


def confusions_markdown(table: pd.DataFrame) -> pd.DataFrame:
    """The confusions for people: per model and rank the pair, its count and both directions
    (every column stays in confusions.csv)."""
    rows = [
        {
            "dataset": r["dataset"],
            "model": r["model"],
            "rank": r["rank"],
            "classes": (
                f"{r['name_a']} / {r['name_b']}"
                if r["name_a"]
                else f"{r['class_a']} / {r['class_b']}"
            ),
            "confused": r["count"],
            "a as b": r["a_as_b"],
            "b as a": r["b_as_a"],
            "seeds": f"{r['n_seeds']}" + (f" ({r['n_missing']} missing)" if r["n_missing"] else ""),
            "test spectra": r["n_test"],
        }
        for _, r in table.iterrows()
    ]
    columns = ["dataset", "model", "rank", "classes", "confused", "a as b", "b as a", "seeds"]
    return pd.DataFrame(rows, columns=[*columns, "test spectra"])
