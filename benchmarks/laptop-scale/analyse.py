"""Tabulate the laptop-scale study: each candidate's wall time and agreement with the paper.

Reads, for every candidate folder made by run.sh (OUTDIR/<candidate>/: timing.json and
results/tables/summary.csv), the agreement measures of specbench.results.tables.agreement, and writes
reference-results/laptop-scale/: candidates.csv (every column), candidates.md (a narrow digest)
and <candidate>-summary.csv (each candidate's summary table).

    python benchmarks/laptop-scale/analyse.py [OUTDIR] [--dest reference-results/laptop-scale]
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pandas as pd
import yaml

from specbench.results.tables.agreement import agreement, load_differences
from specbench.results.tables.common import write_table
from specbench.results.tables.reference import load_reference

REPO = Path(__file__).resolve().parents[2]


def describe(config: dict) -> dict:
    """The scale of a candidate config: points, classes, spectra, epochs, seeds."""
    bench, chal = config["datasets"]["benchmark"], config["datasets"]["challenge"]
    training = config.get("training", {})
    return {
        "points": bench["n_points"],
        "architecture_scale": training.get("architecture_scale", "published"),
        "benchmark_classes": bench["generate"]["n_classes"],
        "benchmark_train_per_class": bench["render"]["train_per_class"],
        "challenge_train_per_class": chal["render"]["train_per_class"],
        "epochs": training.get("epochs"),
        "batch_size": training.get("batch_size"),
        "seeds": len(config["experiments"]["benchmark"]["seeds"]),
    }


def job_cpu_seconds(benchmarks: Path) -> float:
    """CPU seconds of every job with a Snakemake benchmark file (rendering, training,
    evaluation). An undercount: Snakemake samples a job's CPU time every 0.5 s for its first
    15 s, then every 30 s, and keeps the last sample, so up to 30 s of each long job is missing.
    run.sh records the whole run's CPU time (``cpu_s``, /usr/bin/time) since the k500i run."""
    total = 0.0
    for tsv in benchmarks.rglob("*.tsv"):
        total += float(pd.read_csv(tsv, sep="\t")["cpu_time"].iloc[-1])
    return round(total)


def prior_default(path: Path) -> dict:
    """The row of the pre-study default (prior-default.csv: its measured accuracies, one seed),
    with the published values joined as aggregate_summary joins them (same model names)."""
    ours = pd.read_csv(path, comment="#")
    reference = load_reference(sorted((REPO / "config" / "reference").glob("paper_[bc]*.csv")))
    paper = reference.set_index(["experiment", "model"]).add_prefix("paper_").reset_index()
    table = ours.merge(paper, on=["experiment", "model"], how="left")
    table["test_accuracy_mean"] = table["test_accuracy"]
    table["test_error_pct_mean"] = 100 * (1 - table["test_accuracy"])
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("outdir", nargs="?", default="/tmp/laptop-scale")
    parser.add_argument("--dest", default=str(REPO / "reference-results" / "laptop-scale"))
    args = parser.parse_args()
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    differences = load_differences(REPO / "config" / "reference" / "paper_differences.csv")
    rows = []
    for folder in sorted(Path(args.outdir).iterdir()):
        timing, summary = folder / "timing.json", folder / "results" / "tables" / "summary.csv"
        if not (timing.exists() and summary.exists()):
            continue
        info = json.loads(timing.read_text())
        config = yaml.safe_load((folder / "candidate.yaml").read_text())
        table = pd.read_csv(summary)
        row = {**info, **describe(config), **agreement(table, differences)}
        row["wall_min"] = round(info["wall_s"] / 60, 1)
        row["job_cpu_s"] = job_cpu_seconds(folder / "results" / "benchmarks")
        rows.append(row)
        shutil.copyfile(summary, dest / f"{folder.name}-summary.csv")
        shutil.copyfile(folder / "candidate.yaml", dest / f"{folder.name}.yaml")
    prior = Path(__file__).with_name("prior-default.csv")
    rows.append(
        {
            "candidate": "default-f02d318",
            "commit": "f02d318",
            "wall_s": 31 * 60 + 19,
            "load_start": "idle",
            "load_end": "idle",
            "cores": 2,
            "date": "2026-11-26",
            "points": 500,
            "architecture_scale": "published",
            "benchmark_classes": 40,
            "benchmark_train_per_class": 25,
            "challenge_train_per_class": 30,
            "epochs": 15,
            "batch_size": 32,
            "seeds": 1,
            **agreement(prior_default(prior), differences),
            "wall_min": round((31 * 60 + 19) / 60, 1),
            # the README of f02d318: 2,732 CPU-s of training, 152 of evaluation (rendering,
            # tables and figures: seconds, not counted)
            "job_cpu_s": 2732 + 152,
            "note": "earlier measurement (AMD EPYC Zen 3, float32), prior-default.csv",
        }
    )
    for row in rows:
        row.pop("sign_rows", None)
        row["signs"] = f"{row['signs_agreed']}/{row['signs_total']}"
        row["spectra"] = f"{row['benchmark_train_per_class']} / {row['challenge_train_per_class']}"
        row["cnn6"] = f"{row['cnn6_rank_benchmark']} / {row['cnn6_rank_challenge']}"
    table = pd.DataFrame(rows).sort_values("wall_s")
    narrow = table[
        [
            "candidate",
            "points",
            "spectra",
            "epochs",
            "batch_size",
            "wall_min",
            "benchmark_rho",
            "challenge_rho",
            "signs",
            "cnn6",
        ]
    ].rename(
        columns={
            "spectra": "train/class b / c",
            "batch_size": "batch",
            "wall_min": "min",
            "benchmark_rho": "ρ bench",
            "challenge_rho": "ρ chal",
            "cnn6": "cnn6 rank b / c",
        }
    )
    for column, fmt in (("min", "{:.1f}"), ("ρ bench", "{:+.2f}"), ("ρ chal", "{:+.2f}")):
        narrow[column] = narrow[column].map(lambda x: "" if pd.isna(x) else fmt.format(x))
    write_table(
        table,
        dest / "candidates.csv",
        dest / "candidates.md",
        title="Laptop-scale candidates (wall time on 2 cores; agreement with the paper)",
        md_table=narrow,
    )
    print(narrow.to_string(index=False))


if __name__ == "__main__":
    main()
