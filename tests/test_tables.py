"""Tables of the results stage (specbench.results.tables) on small but real input files."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from helpers import run_record, write_predictions
from specbench.results.tables.common import TableInputError, to_markdown
from specbench.results.tables.runs import (
    RUNS_COLUMNS,
    aggregate_runs,
    read_runs,
    runs_table,
)
from specbench.results.tables.reference import load_reference
from specbench.results.tables.summary import SUMMARY_COLUMNS, aggregate_summary
from specbench.results.tables.confusions import (
    CONFUSIONS_COLUMNS,
    aggregate_confusions,
    confusion_pairs,
    confusions_table,
)
from specbench.results.tables.runtimes import (
    RUNTIMES_COLUMNS,
    aggregate_runtimes,
    read_benchmark,
    runtimes_table,
)

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "config" / "reference"

VERSIONS = {"python": "3.11.9", "numpy": "2.4.6", "keras": "3.15.1", "specbench": "0.1.0"}


def write_run(
    root: Path,
    experiment: str,
    dataset: str,
    model: str,
    seed: int,
    architecture: str,
    hyperparameters: dict | None = None,
    *,
    wrong: int = 2,
    n_test: int = 20,
    best_epoch: int = 7,
    parameters: int = 1234,
    labels=None,
    predicted=None,
    write: bool = True,
) -> dict:
    """A run record (as rules/common.smk makes them) and, with `write`, its files on disk."""
    record = run_record(root, experiment, dataset, model, seed, architecture, hyperparameters)
    if not write:
        return record
    if labels is None:
        labels = np.arange(n_test) % 4
        predicted = labels.copy()
        predicted[:wrong] = (labels[:wrong] + 1) % 4
    labels = np.asarray(labels, dtype=np.int32)
    predicted = np.asarray(predicted, dtype=np.int32)
    n = len(labels)
    write_predictions(
        record["predictions"], labels, predicted, np.full(n, 0.8), np.full(n, 0.1), ["0"] * n
    )
    n_wrong = int((labels != predicted).sum())
    metrics = {
        "model": model,
        "dataset": dataset,
        "seed": seed,
        "architecture": architecture,
        "n_test": n,
        "test_wrong": n_wrong,
        "test_accuracy": 1 - n_wrong / n,
        "best_epoch": best_epoch,
        "epochs_run": best_epoch + 3,
        "best_val_accuracy": 0.9,
        "best_val_loss": 0.25,
        "parameters": parameters,
        "macs": 98765,
        "train_time_s": 12.5,
        "train_samples_per_s": 321.0,
        "backend": "tensorflow",
        "precision": "float32",
        "versions": VERSIONS,
    }
    Path(record["metrics"]).write_text(json.dumps(metrics))
    return record


# ---------------------------------------------------------------- runs


def test_runs_table_one_row_per_run_with_every_metric(tmp_path):
    runs = [
        write_run(tmp_path, "benchmark", "bench", "cnn2", 0, "cnn2", wrong=3),
        write_run(tmp_path, "benchmark", "bench", "cnn2", 1, "cnn2", wrong=5),
        write_run(tmp_path, "benchmark", "bench", "cnn6", 0, "cnn6", wrong=1),
        write_run(
            tmp_path, "activation", "chal", "cnn2_relu", 0, "cnn2", {"dense_activation": "relu"}
        ),
    ]
    table = runs_table(runs)

    assert len(table) == 4
    assert list(table.columns[: len(RUNS_COLUMNS)]) == RUNS_COLUMNS
    assert {f"versions.{k}" for k in VERSIONS} <= set(table.columns)
    assert (table["status"] == "ok").all()
    # paper order of experiments (benchmark first) and of models, then seeds
    assert table[["experiment", "model", "seed"]].values.tolist() == [
        ["benchmark", "cnn2", 0],
        ["benchmark", "cnn2", 1],
        ["benchmark", "cnn6", 0],
        ["activation", "cnn2_relu", 0],
    ]
    row = table.iloc[1]
    assert row["test_wrong"] == 5 and row["n_test"] == 20
    assert row["test_error_pct"] == pytest.approx(25.0)
    assert row["test_accuracy"] == pytest.approx(0.75)
    assert row["parameters"] == 1234 and row["macs"] == 98765
    assert row["versions.keras"] == "3.15.1"
    # effective dense activation: explicit setting, else the architecture's published default
    assert table["dense_activation"].tolist() == ["linear", "linear", "relu", "relu"]
    assert json.loads(table.iloc[3]["hyperparameters"]) == {"dense_activation": "relu"}


def test_missing_runs_are_listed_and_logged(tmp_path, caplog):
    runs = [
        write_run(tmp_path, "benchmark", "bench", "cnn2", 0, "cnn2", wrong=4),
        write_run(tmp_path, "benchmark", "bench", "cnn2", 1, "cnn2", write=False),
    ]
    csv, md = tmp_path / "runs.csv", tmp_path / "runs.md"
    with caplog.at_level(logging.WARNING, logger="specbench.results.tables"):
        aggregate_runs(runs, csv, md)

    table = read_runs(csv)
    assert table["status"].tolist() == ["ok", "missing"]
    missing = table.iloc[1]
    assert pd.isna(missing["test_wrong"]) and pd.isna(missing["test_accuracy"])
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("cnn2" in w and "seed 1" in w for w in warnings)
    text = md.read_text()
    assert "| missing" in text and "| ok" in text
    assert len([line for line in text.splitlines() if line.startswith("| benchmark")]) == 2


def test_stale_metrics_file_is_an_error_naming_it(tmp_path):
    record = write_run(tmp_path, "benchmark", "bench", "cnn2", 0, "cnn2")
    metrics = json.loads(Path(record["metrics"]).read_text())
    metrics["model"] = "cnn3"
    Path(record["metrics"]).write_text(json.dumps(metrics))
    with pytest.raises(TableInputError, match="metrics.json.*model='cnn3'"):
        runs_table([record])


# ---------------------------------------------------------------- summary and reference


def test_shipped_reference_values():
    reference = load_reference(
        [REFERENCE / "paper_benchmark.csv", REFERENCE / "paper_challenge.csv"]
    )
    bench = reference[reference["experiment"] == "benchmark"].set_index("architecture")
    published = {
        "cnn2": (38.0, 31, 50, 47.0),
        "cnn3": (28.4, 25, 34, 48.6),
        "cnn6": (8.4, 6, 12, 71.6),
        "vgg": (21.6, 16, 31, 83.8),
        "resnet": (21.2, 20, 22, 23.4),
        "cnn_bn": (44.2, 33, 50, 37.2),
        "inc3": (17.2, 12, 20, 34.4),
        "inc6": (11.4, 10, 13, 35.2),
    }
    assert set(bench.index) == set(published)
    for arch, (mean, low, high, epoch) in published.items():
        row = bench.loc[arch]
        assert (row["test_wrong_mean"], row["test_wrong_min"], row["test_wrong_max"]) == (
            mean,
            low,
            high,
        )
        assert row["best_epoch_mean"] == epoch
        assert row["n_test"] == 4500 and row["n_seeds"] == 5
        assert row["test_error_pct_mean"] == pytest.approx(100 * mean / 4500)
    chal = reference[reference["experiment"] == "activation"]
    assert len(chal) == 10 and (chal["n_test"] == 162).all()
    cnn6_relu = chal[(chal["architecture"] == "cnn6") & (chal["dense_activation"] == "relu")]
    assert cnn6_relu[["test_accuracy_min", "test_accuracy_max"]].values.tolist() == [[0.78, 0.87]]


def test_summary_statistics_over_present_runs_with_reference_beside(tmp_path):
    runs = [
        write_run(tmp_path, "benchmark", "bench", "cnn2", 0, "cnn2", wrong=3, best_epoch=5),
        write_run(tmp_path, "benchmark", "bench", "cnn2", 1, "cnn2", wrong=5, best_epoch=9),
        write_run(tmp_path, "benchmark", "bench", "cnn2", 2, "cnn2", write=False),
        write_run(tmp_path, "benchmark", "bench", "cnn6", 0, "cnn6", wrong=1),
        # a variant of cnn2 in the benchmark experiment: the published values do not apply
        write_run(tmp_path, "benchmark", "bench", "cnn2_k9", 0, "cnn2", {"kernel_size": 9}),
        write_run(tmp_path, "activation", "chal", "cnn6", 0, "cnn6", wrong=4),
    ]
    aggregate_runs(runs, tmp_path / "runs.csv", tmp_path / "runs.md")
    csv, md = tmp_path / "summary.csv", tmp_path / "summary.md"
    aggregate_summary(
        tmp_path / "runs.csv",
        [REFERENCE / "paper_benchmark.csv", REFERENCE / "paper_challenge.csv"],
        csv,
        md,
    )
    summary = pd.read_csv(csv).set_index(["experiment", "model"])

    assert list(pd.read_csv(csv).columns) == SUMMARY_COLUMNS
    assert len(summary) == 4
    cnn2 = summary.loc[("benchmark", "cnn2")]
    assert (cnn2["n_runs"], cnn2["n_ok"], cnn2["n_missing"]) == (3, 2, 1)
    assert (cnn2["test_wrong_mean"], cnn2["test_wrong_min"], cnn2["test_wrong_max"]) == (4, 3, 5)
    assert cnn2["test_error_pct_mean"] == pytest.approx(20.0)
    assert cnn2["best_epoch_mean"] == pytest.approx(7.0)
    assert cnn2["parameters"] == 1234 and cnn2["macs"] == 98765
    # the published benchmark values beside the published models ...
    assert cnn2["paper_test_wrong_mean"] == 38.0 and cnn2["paper_n_test"] == 4500
    assert (cnn2["paper_test_wrong_min"], cnn2["paper_test_wrong_max"]) == (31, 50)
    assert summary.loc[("benchmark", "cnn6"), "paper_test_wrong_mean"] == 8.4
    assert summary.loc[("benchmark", "cnn6"), "paper_best_epoch_mean"] == 71.6
    # ... but not beside a modified model, nor another experiment's benchmark values
    assert summary.loc[("benchmark", "cnn2_k9")].filter(like="paper_").isna().all()
    chal = summary.loc[("activation", "cnn6")]
    assert pd.isna(chal["paper_test_wrong_mean"])
    assert (chal["paper_test_accuracy_min"], chal["paper_test_accuracy_max"]) == (0.78, 0.87)
    assert "38" in md.read_text()


def test_summary_markdown_counts_say_of_how_many_test_spectra(tmp_path):
    """summary.md puts our misclassified count beside the paper's: at the reduced scale the test
    sets differ (20 here, 4,500 in the paper), so each count names its test set's size; "4.0"
    beside "38.0" alone reads as a model ten times better than the paper's."""
    runs = [
        write_run(tmp_path, "benchmark", "bench", "cnn2", s, "cnn2", wrong=w)
        for s, w in enumerate((3, 5))
    ]
    aggregate_runs(runs, tmp_path / "runs.csv", tmp_path / "runs.md")
    md = tmp_path / "summary.md"
    aggregate_summary(
        tmp_path / "runs.csv", REFERENCE / "paper_benchmark.csv", tmp_path / "s.csv", md
    )
    row = next(line for line in md.read_text().splitlines() if "| cnn2 " in line)
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert "4.0 [3.0–5.0] of 20" in cells
    assert "38.0 [31.0–50.0] of 4500" in cells


def test_summary_of_a_model_without_finished_runs(tmp_path):
    runs = [write_run(tmp_path, "benchmark", "bench", "vgg", s, "vgg", write=False) for s in (0, 1)]
    aggregate_runs(runs, tmp_path / "runs.csv", tmp_path / "runs.md")
    table = aggregate_summary(
        tmp_path / "runs.csv",
        REFERENCE / "paper_benchmark.csv",
        tmp_path / "s.csv",
        tmp_path / "s.md",
    )
    row = table.iloc[0]
    assert (row["n_runs"], row["n_ok"], row["n_missing"]) == (2, 0, 2)
    assert pd.isna(row["test_wrong_mean"])
    assert row["paper_test_wrong_mean"] == 21.6


# ---------------------------------------------------------------- confusions


def test_confusion_counts_are_exact(tmp_path):
    # seed 0: 0->1 once, 1->0 once, 2->1 once; seed 1: 0->1 twice, 3->2 once
    seed0 = ([0, 0, 1, 1, 2, 2, 3], [1, 0, 0, 1, 2, 1, 3])
    seed1 = ([0, 0, 1, 2, 3], [1, 1, 1, 2, 2])
    runs = [
        write_run(
            tmp_path, "benchmark", "bench", "cnn2", 0, "cnn2", labels=seed0[0], predicted=seed0[1]
        ),
        write_run(
            tmp_path, "benchmark", "bench", "cnn2", 1, "cnn2", labels=seed1[0], predicted=seed1[1]
        ),
        write_run(tmp_path, "benchmark", "bench", "cnn2", 2, "cnn2", write=False),
    ]
    # the same model used by a second experiment on the same dataset: counted once
    runs += [dict(r, experiment="activation") for r in runs]
    csv, md = tmp_path / "confusions.csv", tmp_path / "confusions.md"
    aggregate_confusions(runs, 2, csv, md)
    table = pd.read_csv(csv)

    assert list(table.columns) == CONFUSIONS_COLUMNS
    assert table[["rank", "class_a", "class_b", "count", "a_as_b", "b_as_a"]].values.tolist() == [
        [1, 0, 1, 4, 3, 1],
        [2, 1, 2, 1, 0, 1],  # tie with (2, 3) broken by class index
    ]
    assert (table["dataset"] == "bench").all() and (table["model"] == "cnn2").all()
    assert (table["experiments"] == "benchmark,activation").all()
    assert (table["n_seeds"] == 2).all() and (table["n_missing"] == 1).all()
    assert (table["n_test"] == 7).all()
    assert "| bench" in md.read_text()


def test_confusions_name_the_classes_of_your_own_phases(tmp_path):
    """Predictions written with class names (a run on your own phases): confusions.csv names both
    classes of every pair, and the table for people shows the names instead of indices."""
    from specbench.evaluation import predictions

    seed0 = ([0, 0, 1, 2], [1, 1, 0, 2])
    run = write_run(tmp_path, "mine", "mine", "cnn2", 0, "cnn2", labels=seed0[0],
                    predicted=seed0[1])  # fmt: skip
    values = predictions.read_predictions(run["predictions"]).to_pydict()
    names = ["anatase", "rutile", "brookite"]
    predictions.write_predictions(run["predictions"], values, class_names=names)
    assert predictions.class_names(run["predictions"]) == names
    csv, md = tmp_path / "confusions.csv", tmp_path / "confusions.md"
    table = aggregate_confusions([run], 2, csv, md)
    assert table[["class_a", "class_b", "name_a", "name_b", "count"]].values.tolist() == [
        [0, 1, "anatase", "rutile", 3]
    ]
    assert "anatase / rutile" in md.read_text()
    unnamed = write_run(tmp_path, "b", "bench", "cnn2", 0, "cnn2", labels=[0, 1], predicted=[1, 1])
    assert predictions.class_names(unnamed["predictions"]) is None
    assert confusions_table([unnamed], 1)[["name_a", "name_b"]].values.tolist() == [["", ""]]


def test_confusion_pairs_without_mistakes_is_empty():
    pairs = confusion_pairs(pd.DataFrame({"label": [0, 1, 2], "predicted": [0, 1, 2]}))
    assert pairs.empty and list(pairs.columns) == [
        "class_a",
        "class_b",
        "count",
        "a_as_b",
        "b_as_a",
    ]


def test_confusions_top_must_be_positive(tmp_path):
    with pytest.raises(TableInputError, match="top_confusions"):
        confusions_table([], 0)


# ---------------------------------------------------------------- runtimes

HEADER = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def write_benchmark(path: Path, *rows: str) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(HEADER + "".join(row + "\n" for row in rows))
    return str(path)


def benchmark_record(rule, path, dataset, model=None, seed=None, test_dataset=None) -> dict:
    """A job's record as rules/common.smk's get_benchmark_params makes it."""
    wildcards = {"dataset": dataset, "model": model, "seed": seed, "test_dataset": test_dataset}
    return {
        "rule": rule,
        "dataset": dataset,
        "model": model,
        "seed": seed,
        "wildcards": ",".join(f"{k}={v}" for k, v in wildcards.items() if v is not None),
        "benchmark": path,
    }


def test_runtimes_from_benchmark_files(tmp_path):
    root = tmp_path / "elsewhere"  # the records name the files: any path will do
    records = [
        benchmark_record(
            "train_model",
            write_benchmark(
                root / "train_model" / "bench" / "cnn2" / "seed1.tsv",
                "3725.2013\t1:02:05\t812.5\t2048.1\t700.0\t710.2\t12.5\t3.25\t180.5\t6600.1",
            ),
            "bench",
            "cnn2",
            1,
        ),
        benchmark_record(
            "evaluate_model",
            write_benchmark(
                root / "evaluate_model" / "bench" / "cnn2" / "seed1.tsv",
                "4.0\t0:00:04\t300.0\t900.0\t250.0\t260.0\t1.0\t0.5\t90.0\t3.6",
                "6.0\t0:00:06\t400.0\t950.0\t280.0\t290.0\t1.5\t0.7\t110.0\t5.4",
            ),
            "bench",
            "cnn2",
            1,
        ),
        benchmark_record(
            "evaluate_level",
            write_benchmark(
                root / "evaluate_level" / "bench" / "cnn2" / "seed1" / "on_noisy.tsv",
                "5.0\t0:00:05\t350.0\t900.0\t250.0\t260.0\t1.0\t0.5\t95.0\t4.8",
            ),
            "bench",
            "cnn2",
            1,
            "noisy",
        ),
        benchmark_record(
            "render_spectra",
            write_benchmark(
                root / "render_spectra" / "bench.tsv",
                "0.5\t0:00:00\tNA\tNA\tNA\tNA\tNA\tNA\tNA\tNA",
            ),
            "bench",
        ),
    ]
    csv, md = tmp_path / "runtimes.csv", tmp_path / "runtimes.md"
    aggregate_runtimes(records, csv, md)
    table = pd.read_csv(csv)

    assert list(table.columns) == RUNTIMES_COLUMNS
    rules = ["render_spectra", "train_model", "evaluate_model", "evaluate_level"]
    assert table["rule"].tolist() == rules
    render, train, evaluate, level = (table.iloc[i] for i in range(4))
    assert level["wildcards"] == "dataset=bench,model=cnn2,seed=1,test_dataset=noisy"
    assert render["dataset"] == "bench" and pd.isna(render["model"]) and pd.isna(render["seed"])
    assert render["wildcards"] == "dataset=bench"
    assert pd.isna(render["max_rss_mb"])  # "NA": too short to be sampled
    assert (train["dataset"], train["model"], train["seed"]) == ("bench", "cnn2", 1)
    assert train["wildcards"] == "dataset=bench,model=cnn2,seed=1"
    assert train["wall_s"] == pytest.approx(3725.2013)
    assert train["wall_hms"] == "1:02:05"
    assert train["max_rss_mb"] == pytest.approx(812.5)
    assert train["cpu_time_s"] == pytest.approx(6600.1)
    # repeats: mean time, peak memory
    assert evaluate["n_repeats"] == 2
    assert evaluate["wall_s"] == pytest.approx(5.0)
    assert evaluate["max_rss_mb"] == pytest.approx(400.0)
    # the Markdown for people: one narrow row per job, the job named by its wildcards
    lines = [line for line in md.read_text().splitlines() if line.startswith("|")]
    header = [cell.strip() for cell in lines[0].split("|")[1:-1]]
    assert header == ["rule", "job", "wall", "CPU s", "mean load %", "peak RSS MB"]
    assert len(lines) == 2 + len(table)
    body = "\n".join(lines)
    assert "| evaluate_level | bench/cnn2/seed1 on noisy" in body
    assert "| train_model    | bench/cnn2/seed1 " in body and "| 1:02:05 |" in body


def test_benchmark_record_without_its_rule_is_an_error(tmp_path):
    record = benchmark_record("train_model", tmp_path / "seed3.tsv", "d", "m", 3)
    del record["rule"]
    with pytest.raises(TableInputError, match="lacks rule"):
        runtimes_table([record])


def test_unreadable_benchmark_file_names_it(tmp_path):
    path = tmp_path / "results" / "benchmarks" / "train_model" / "a.tsv"
    path.parent.mkdir(parents=True)
    path.write_text("not\ta\tbenchmark\n")
    with pytest.raises(TableInputError, match="a.tsv"):
        read_benchmark(path)


# ---------------------------------------------------------------- markdown


def test_markdown_table():
    frame = pd.DataFrame({"model": ["cnn2", "a|b"], "count": [3, 12], "rate": [0.123456, np.nan]})
    lines = to_markdown(frame).splitlines()
    assert lines == [
        "| model | count |  rate |",
        "| ----- | ----: | ----: |",  # numbers right-aligned
        "| cnn2  |     3 | 0.123 |",  # at most three decimals
        r"| a\|b  |    12 |       |",  # escaped pipe, NaN empty
    ]


def test_every_markdown_table_of_a_subset_run_names_the_subset(tmp_path):
    """docs/workflow.md, "Running part of a config": the Markdown tables' titles name the subset
    that `select` chose. Every aggregate rule hands its table the selection, and the confusions
    and runtimes tables put it in their titles as the runs, summary and agreement tables do."""
    import re

    rules = (REPO / "rules" / "results.smk").read_text()
    for rule in ("runs", "summary", "agreement", "confusions", "runtimes"):
        block = re.search(rf"^rule aggregate_{rule}:\n(.*?)(?=^rule |\Z)", rules, re.M | re.S)
        assert "selection=SELECTION" in block.group(1), f"rule aggregate_{rule}"

    subset = "models cnn2; seeds 0"
    runs = [write_run(tmp_path, "benchmark", "bench", "cnn2", 0, "cnn2")]
    aggregate_confusions(runs, 2, tmp_path / "c.csv", tmp_path / "c.md", selection=subset)
    assert (
        (tmp_path / "c.md")
        .read_text()
        .startswith(
            "# Most confused class pairs (top 2 per model) (subset: models cnn2; seeds 0)\n"
        )
    )
    records = [
        benchmark_record(
            "train_model",
            write_benchmark(tmp_path / "t.tsv", "4.0\t0:00:04\t1\t1\t1\t1\t1\t1\t1\t1"),
            "bench",
            "cnn2",
            0,
        )
    ]
    aggregate_runtimes(records, tmp_path / "r.csv", tmp_path / "r.md", selection=subset)
    assert (
        (tmp_path / "r.md")
        .read_text()
        .startswith("# Runtime and peak memory of every job (subset: models cnn2; seeds 0)\n")
    )
