"""The runtimes table (rule aggregate_runtimes): wall time and peak memory of every job."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from specbench.core.formats import run_label
from specbench.results.tables.common import TableInputError, subset_title, write_table

logger = logging.getLogger("specbench.results.tables")

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
_RULE_ORDER = (
    "generate_classes",
    "render_spectra",
    "render_test_split",
    "train_model",
    "evaluate_model",
    "evaluate_level",
)


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


BENCHMARK_KEYS = ("rule", "dataset", "model", "seed", "wildcards", "benchmark")


def runtimes_table(benchmarks: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """One row per job of the Snakemake benchmark files (see :func:`read_benchmark`).

    `benchmarks`: one record per job from rules/common.smk (``get_benchmark_records``):
    {rule, dataset, model, seed, wildcards, benchmark} -- the job's rule and wildcards (model
    and seed None where the rule has none; wildcards as "dataset=...,model=...,seed=...") and
    the path of its benchmark file. Columns :data:`RUNTIMES_COLUMNS`, sorted by rule
    (rendering, training, evaluation, others), dataset, model and seed.
    """
    rows = []
    for record in benchmarks:
        missing = [key for key in BENCHMARK_KEYS if key not in record]
        if missing:
            raise TableInputError(f"benchmark record {dict(record)!r} lacks {', '.join(missing)}")
        row = {key: record[key] for key in BENCHMARK_KEYS}
        row.update(read_benchmark(record["benchmark"]))
        row["benchmark"] = str(record["benchmark"])
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
    benchmarks: Sequence[Mapping[str, Any]], csv: str | Path, md: str | Path, selection: str = ""
) -> pd.DataFrame:
    """Rule aggregate_runtimes: :func:`runtimes_table` written to `csv` and `md` (`selection`:
    the subset of the config whose jobs these are, named in the Markdown title)."""
    table = runtimes_table(list(benchmarks))
    total = table["wall_s"].sum()
    logger.info("%d jobs, %.1f s wall time in total", len(table), total)
    write_table(
        table,
        csv,
        md,
        title=subset_title("Runtime and peak memory of every job", selection),
        md_table=runtimes_markdown(table),
    )
    return table


def runtimes_markdown(table: pd.DataFrame) -> pd.DataFrame:
    """The runtimes for people: rule, job, wall and CPU time, load and peak memory (every column
    stays in runtimes.csv)."""
    rows = []
    for _, r in table.iterrows():
        wildcards = dict(item.split("=", 1) for item in str(r["wildcards"]).split(",") if item)
        job = run_label(wildcards.get("dataset"), wildcards.get("model"), wildcards.get("seed"))
        if wildcards.get("test_dataset"):
            job += f" on {wildcards['test_dataset']}"
        rows.append(
            {
                "rule": r["rule"],
                "job": job,
                "wall": r["wall_hms"],
                "CPU s": r["cpu_time_s"],
                "mean load %": r["mean_load"],
                "peak RSS MB": r["max_rss_mb"],
            }
        )
    return pd.DataFrame(
        rows, columns=["rule", "job", "wall", "CPU s", "mean load %", "peak RSS MB"]
    )
