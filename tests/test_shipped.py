"""Shipping a finished run set (reference-results/<name>/) and regenerating the README section
from the shipped folders, on the real tiny workflow run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest

from conftest import REPO
from specbench.results import shipped

pytestmark = pytest.mark.slow


def test_ship_and_regenerate_readme_section(tiny_run, tmp_path):
    results = tiny_run / "results"
    dest = shipped.ship(
        results,
        tmp_path / "reference-results" / "tiny-cpu",
        {"title": "Tiny run", "hardware": "test CPU", "wall_time": "1 min", "command": "snakemake"},
        config_file=tiny_run / "tiny.yaml",
    )
    names = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()}
    assert {"runs.csv", "summary.csv", "confusions.csv", "runtimes.csv", "summary.md"} <= names
    assert {"provenance.json", "config.yaml", "figures/misclassifications.png"} <= names
    assert all((dest / n).stat().st_size < shipped.MAX_FILE_BYTES for n in names)
    # every finished run's records, the per-spectrum predictions included, but not its model
    runs = pd.read_csv(dest / "runs.csv")
    for row in runs[runs["status"] == "ok"].itertuples():
        folder = f"runs/{row.dataset}/{row.model}/seed{row.seed}"
        assert {f"{folder}/{name}" for name in shipped.RUN_FILES} <= names
        shipped_predictions = pd.read_parquet(dest / folder / "predictions.parquet")
        assert shipped_predictions.equals(pd.read_parquet(results / folder / "predictions.parquet"))
        for rule in ("train_model", "evaluate_model"):  # and their jobs' timings and logs
            assert f"benchmarks/{rule}/{row.dataset}/{row.model}/seed{row.seed}.tsv" in names
            log = f"logs/{rule}/{row.dataset}/{row.model}/seed{row.seed}.log"
            assert (dest / log).read_text() == (results / log).read_text()
    assert not [n for n in names if n.endswith(".keras")]
    assert json.loads((dest / "provenance.json").read_text())["hardware"] == "test CPU"

    summary = pd.read_csv(dest / "summary.csv")
    section = shipped.readme_section(tmp_path / "reference-results")
    assert section.startswith("### Tiny run")
    assert "hardware: test CPU" in section and "total wall time: 1 min" in section
    for _, row in summary.iterrows():  # one table row per model, our mean beside the paper's
        line = next(
            x
            for x in section.splitlines()
            if x.startswith(f"| {row['experiment']} | {row['model']} |")
        )
        assert f"{100 * row['test_accuracy_mean']:.1f}" in line
    assert "figures/misclassifications.png" in section

    readme = tmp_path / "README.md"
    readme.write_text(f"# x\n\n{shipped.START}\nold text\n{shipped.END}\n\nrest\n")
    assert shipped.update_readme(readme, tmp_path / "reference-results")
    text = readme.read_text()
    assert "old text" not in text and "### Tiny run" in text and text.endswith("rest\n")
    assert not shipped.update_readme(readme, tmp_path / "reference-results")  # idempotent

    # a folder at another scale is shipped the same way but not listed in this section
    shipped.ship(
        results,
        tmp_path / "reference-results" / "a-laptop",
        {"title": "Laptop run", "scale": "laptop"},
    )
    assert "Laptop run" not in shipped.readme_section(tmp_path / "reference-results")


def test_every_markdown_table_of_a_run_is_narrow(tiny_run):
    """Tables for people: at most 10 columns each; the CSV beside it keeps every column and the
    same rows."""
    tables = tiny_run / "results" / "tables"
    mds = sorted(tables.glob("*.md"))
    assert {p.stem for p in mds} >= {"runs", "summary", "confusions", "runtimes"}
    for md in mds:
        lines = [line for line in md.read_text().splitlines() if line.startswith("|")]
        assert len(lines[0].split("|")) - 2 <= 10, md.name
        csv = pd.read_csv(md.with_suffix(".csv"))
        assert len(lines) - 2 == len(csv), md.name
        if md.stem in ("runs", "runtimes", "confusions"):
            assert len(csv.columns) > len(lines[0].split("|")) - 2  # the CSV has the rest


def test_ship_refuses_incomplete_results(tmp_path):
    (tmp_path / "results" / "tables").mkdir(parents=True)
    with pytest.raises(shipped.ShipError, match="runs.csv"):
        shipped.ship(tmp_path / "results", tmp_path / "out", {})


def test_verdict_against_the_published_range():
    row = {"paper_test_accuracy_min": 0.57, "paper_test_accuracy_max": 0.64}
    assert shipped.verdict({**row, "test_accuracy_mean": 0.60}) == "inside"
    assert shipped.verdict({**row, "test_accuracy_mean": 0.66}) == "above"
    assert shipped.verdict({**row, "test_accuracy_mean": 0.50}) == "below"
    assert shipped.verdict({"test_accuracy_mean": 0.5}) == ""


def test_the_results_page_shows_what_is_shipped():
    """docs/fidelity.md's "Results at the published scale" is what tools/reference_results.py
    readme generates from reference-results/ now (a folder shipped without regenerating fails)."""
    from pathlib import Path

    repo = Path(__file__).resolve().parents[1]
    text = (repo / "docs" / "fidelity.md").read_text()
    section = text.split(shipped.START, 1)[1].split(shipped.END, 1)[0]
    expected = shipped.readme_section(repo / "reference-results", link_root="../reference-results/")
    assert section == f"\n{expected}"
    assert "../reference-results/cpu-challenge-cnn2/figures/" in section


def test_shipped_runs_aggregate_again_without_models(tiny_run, tmp_path):
    """tools/gpu-aggregate.sh: a shipped folder's runs (no models) make the same tables again on
    another machine, as the GPU campaign's runs are aggregated on a CPU and merged with later
    ones; training and evaluation never run."""
    dest = shipped.ship(tiny_run / "results", tmp_path / "shipped", {"title": "t"})
    work = tmp_path / "agg"
    proc = subprocess.run(
        ["bash", str(REPO / "tools" / "gpu-aggregate.sh"), str(work), "challenge", str(dest)],
        env=dict(os.environ, CONFIG=str(tiny_run / "tiny.yaml"), PYTHON=sys.executable),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    log = (work / "aggregate.log").read_text()
    jobs = [
        line.split()[1] for line in log.splitlines() if line.startswith(("rule ", "localrule "))
    ]
    assert jobs and not {"train_model:", "evaluate_model:"} & set(jobs), jobs
    assert not list((work / "results" / "runs").rglob("*.keras"))
    columns = ["experiment", "model", "seed", "status", "test_wrong", "best_epoch"]
    again = pd.read_csv(work / "results" / "tables" / "runs.csv")[columns]
    first = pd.read_csv(tiny_run / "results" / "tables" / "runs.csv")[columns]
    first = first[first["experiment"].isin(["activation", "modifications"])]
    assert len(again) > 0
    pd.testing.assert_frame_equal(again.reset_index(drop=True), first.reset_index(drop=True))
    timings = pd.read_csv(work / "results" / "tables" / "runtimes.csv")
    assert set(timings["rule"]) >= {"train_model", "evaluate_model"}  # shipped with the runs


def test_shipping_again_leaves_no_stale_tables_or_figures(tmp_path):
    """A folder shipped again (more runs of a campaign, aggregated anew) holds what the new
    results have: a figure or optional table the earlier shipping had and this one lacks goes;
    files put there by hand stay."""

    def results(figures, optional):
        root = tmp_path / "results"
        shutil.rmtree(root, ignore_errors=True)
        (root / "tables").mkdir(parents=True)
        (root / "figures").mkdir()
        for name in [*shipped.TABLES, *optional]:
            (root / "tables" / f"{name}.csv").write_text("a\n1\n")
            (root / "tables" / f"{name}.md").write_text("| a |\n")
        for name in figures:
            (root / "figures" / f"{name}.png").write_bytes(b"png")
        return root

    dest = tmp_path / "shipped"
    shipped.ship(results(["activation", "robustness"], ["robustness", "agreement"]), dest, {})
    (dest / "PROVENANCE.md").write_text("by hand\n")
    shipped.ship(results(["activation"], ["agreement"]), dest, {})
    names = {p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file()}
    assert "figures/activation.png" in names and "agreement.csv" in names
    assert "figures/robustness.png" not in names
    assert not {"robustness.csv", "robustness.md"} & names
    assert "PROVENANCE.md" in names


def test_shipping_keeps_a_swept_runs_evaluations_on_the_other_levels(tmp_path):
    # results/robustness/<run>/on_<level>.json and their jobs' records (rule evaluate_level)
    # go with the run: without them a shipped sweep's robustness table cannot be made again
    results = tmp_path / "results"
    run = "bench_clean/cnn2/seed0"
    files = {
        f"runs/{run}/metrics.json": "{}",
        f"runs/{run}/model.keras": "model",
        f"robustness/{run}/on_bench_snr10.json": "{}",
        f"benchmarks/train_model/{run}.tsv": "s",
        f"benchmarks/evaluate_level/{run}/on_bench_snr10.tsv": "s",
        f"logs/evaluate_level/{run}/on_bench_snr10.log": "log",
        # another run's evaluation, and one of a run that did not finish: not shipped
        "robustness/bench_clean/cnn2/seed1/on_bench_snr10.json": "{}",
        "robustness/bench_clean/cnn2/seed0x/on_bench_snr10.json": "{}",
    }
    for name, text in files.items():
        (results / name).parent.mkdir(parents=True, exist_ok=True)
        (results / name).write_text(text)
    dest = tmp_path / "shipped"
    (dest / "robustness" / "stale").mkdir(parents=True)  # an earlier shipping's: replaced
    assert shipped.copy_runs(results / "runs", dest / "runs", results) == 1
    got = sorted(p.relative_to(dest).as_posix() for p in dest.rglob("*") if p.is_file())
    assert got == [
        f"benchmarks/evaluate_level/{run}/on_bench_snr10.tsv",
        f"benchmarks/train_model/{run}.tsv",
        f"logs/evaluate_level/{run}/on_bench_snr10.log",
        f"robustness/{run}/on_bench_snr10.json",
        f"runs/{run}/metrics.json",
    ]
