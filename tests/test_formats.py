"""Tests of specbench.core.formats: the run folder and its JSON records, described once."""

from __future__ import annotations

import pytest

from specbench.core import formats


def test_the_run_folder_patterns():
    assert formats.run_dir("bench", "cnn2", 0) == "results/runs/bench/cnn2/seed0"
    assert formats.run_file_pattern(formats.METRICS_FILE) == (
        "results/runs/{dataset}/{model}/seed{seed}/metrics.json"
    )
    assert formats.run_label("bench") == "bench"
    assert formats.run_label("bench", "cnn2", 3) == "bench/cnn2/seed3"


def test_records_follow_their_spec():
    info = {field.name: 1 for field in formats.TRAINING_INFO}
    assert list(formats.training_info(dict(reversed(info.items())))) == list(info)
    assert set(formats.REQUIRED_INFO) <= set(info)
    with pytest.raises(ValueError, match=r"missing \['versions'\]"):
        formats.training_info({k: v for k, v in info.items() if k != "versions"})
    metrics = {field.name: 1 for field in formats.METRICS}
    assert list(formats.metrics_record({**metrics, "test_dataset": "b"}))[-1] == "test_dataset"
    with pytest.raises(ValueError, match=r"unknown \['grid'\]"):
        formats.metrics_record({**metrics, "grid": [0, 1]})


def test_the_outputs_page_names_every_column_of_the_file_specs():
    """docs/workflow.md's output table lists the columns of the split and predictions files as
    their specs (specbench.data.splits.COLUMNS, specbench.evaluation.predictions.COLUMNS) define them: a column
    added to a spec without a word in the docs fails here."""
    from pathlib import Path

    from specbench.evaluation import predictions
    from specbench.data import splits

    page = (Path(__file__).resolve().parents[1] / "docs" / "workflow.md").read_text()
    rows = {
        line.split("|")[1].strip(): line for line in page.splitlines() if line.startswith("| `")
    }
    split_row = rows["`datasets/{dataset}/{train,val,test}.parquet`"]
    predictions_row = rows["`runs/.../predictions.parquet`"]
    assert [c for c in splits.COLUMNS if f"`{c}`" not in split_row] == []
    assert [c for c in predictions.COLUMNS if c not in predictions_row] == []


@pytest.mark.slow
def test_the_outputs_page_names_every_column_of_every_table(tiny_run, tmp_path):
    """docs/workflow.md "Columns of the tables" names every column of every CSV table that a real
    run writes (runs, summary, agreement, confusions, runtimes; robustness from a swept run's
    table writer): a column added without a word in the docs fails here."""
    import re
    from pathlib import Path

    import pandas as pd

    from specbench.results.tables.robustness import COLUMNS as ROBUSTNESS_COLUMNS

    page = (Path(__file__).resolve().parents[1] / "docs" / "workflow.md").read_text()
    section = page.split("## Columns of the tables", 1)[1].split("\n## ", 1)[0]
    paragraphs = {
        m.group(1): m.group(0)
        for m in re.finditer(r"\*\*(\w+)\.csv\*\*.*?(?=\n\n|\Z)", section, re.S)
    }
    tables = {
        path.stem: list(pd.read_csv(path, nrows=0).columns)
        for path in sorted((tiny_run / "results" / "tables").glob("*.csv"))
    }
    tables["robustness"] = list(ROBUSTNESS_COLUMNS)
    assert {"runs", "summary", "agreement", "confusions", "runtimes"} <= set(tables)
    missing = {}
    for name, columns in tables.items():
        text = paragraphs.get(name, "")
        for column in columns:
            prefix, dot, _ = column.partition(".")
            named = f"`{column}`" in text or (dot and f"`{prefix}.<package>`" in text)
            if not named:
                missing.setdefault(name, []).append(column)
    assert missing == {}
