"""Shipped runs as baselines (specbench.results.bundles, specbench.workflow.baselines): a real tiny
run exported as a bundle; a fresh workflow directory trains one user model only, with the bundle
as its baseline, and pairs it with the shipped cnn2 spectrum by spectrum; bundles measured on
another test split, or with a missing or corrupted file, are refused before any job."""

from __future__ import annotations

import copy
import json
import re
import shutil
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, copy_workflow, snakemake
from specbench.results import bundles, shipped
from specbench.workflow import validation

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle(tiny_run, tmp_path_factory) -> Path:
    """The tiny run shipped as a result bundle (as tools/reference_results.py ship does)."""
    config = yaml.safe_load((tiny_run / "tiny.yaml").read_text())
    validation.prepare_config(config, basedir=str(tiny_run))
    dest = tmp_path_factory.mktemp("bundles") / "tiny-bundle"
    shipped.ship(
        tiny_run / "results",
        dest,
        {"title": "tiny", "hardware": "test CPU"},
        tiny_run / "tiny.yaml",
        datasets=config["datasets"],
    )
    return dest


def user_config(tiny_run: Path, bundle: Path) -> dict:
    """The tiny datasets, one user model on the challenge set paired with the shipped cnn2."""
    cfg = yaml.safe_load((tiny_run / "tiny.yaml").read_text())
    cfg["experiments"] = {
        "activation": {
            "dataset": "chal",
            "seeds": [0],
            "models": {
                "tiny_net": {
                    "architecture": "examples/my_models/tiny_net.py:build",
                    "filters": 4,
                    "compare_with": "cnn2",
                }
            },
        }
    }
    cfg["baselines"] = [str(bundle)]
    return cfg


def jobs(text: str) -> list[str]:
    return re.findall(r"^(?:local)?rule (\w+):", text, flags=re.M)


def test_the_bundle_records_runs_fingerprints_and_checksums(bundle, tiny_run):
    loaded = bundles.read_bundle(bundle)
    runs = pd.read_csv(tiny_run / "results" / "tables" / "runs.csv")
    assert len(loaded.runs) == int((runs["status"] == "ok").sum())
    assert set(loaded.datasets) == {"bench", "chal"}
    assert loaded.datasets["chal"]["fingerprint"]["n_spectra"] == 162
    manifest = json.loads((bundle / "bundle.json").read_text())
    assert all(name.startswith("runs/") for name in manifest["files"])
    assert not list(bundle.rglob("*.keras"))  # no model files


def test_train_only_your_model_against_the_shipped_baseline(bundle, tiny_run, tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    shutil.copytree(REPO / "examples", workdir / "examples")
    (workdir / "mine.yaml").write_text(yaml.safe_dump(user_config(tiny_run, bundle)))

    plan = snakemake(workdir, "-n", "--cores", "2", "--configfile", "mine.yaml")
    planned = re.findall(r"wildcards: dataset=(\w+), model=(\w+), seed=\d+", plan.stdout)
    assert planned and {model for _, model in planned} == {"tiny_net"}  # no baseline retrained

    run = snakemake(workdir, "--cores", "2", "--configfile", "mine.yaml")
    ran = jobs(run.stdout + run.stderr)
    assert ran.count("train_model") == 1 and ran.count("evaluate_model") == 1
    tables = workdir / "results" / "tables"
    table = pd.read_csv(tables / "runs.csv", dtype={"baseline": str})
    shipped_rows = table[table["baseline"] == "tiny-bundle"]
    assert len(shipped_rows) == len(bundles.read_bundle(bundle).runs)
    assert set(table.loc[table["baseline"].isna(), "model"]) == {"tiny_net"}

    summary = pd.read_csv(tables / "summary.csv", dtype={"baseline": str})
    mine = summary[(summary["experiment"] == "activation") & (summary["model"] == "tiny_net")]
    assert mine["paired_with"].item() == "cnn2" and mine["paired_n"].item() == 1
    p_value = float(mine["paired_mcnemar_p"].item())
    assert 0 <= p_value <= 1
    cnn2 = summary[(summary["experiment"] == "activation") & (summary["model"] == "cnn2")]
    assert cnn2["baseline"].item() == "tiny-bundle"
    assert "‡" in (tables / "summary.md").read_text()  # shipped rows marked for people
    for figure in ("activation", "modifications", "misclassifications", "loss_curves"):
        assert (workdir / "results" / "figures" / f"{figure}.png").stat().st_size > 0

    report = snakemake(
        workdir, "--cores", "1", "--configfile", "mine.yaml", "--report", "report.html"
    )
    assert report.returncode == 0 and (workdir / "report.html").stat().st_size > 0

    # this run set ships as a bundle in turn: its own run, not the baseline's it joined
    config = user_config(tiny_run, bundle)
    validation.prepare_config(config, basedir=str(workdir))
    mine_bundle = shipped.ship(
        workdir / "results", tmp_path / "mine-bundle", {"title": "mine"},
        datasets=config["datasets"],
    )  # fmt: skip
    assert [r["model"] for r in bundles.read_bundle(mine_bundle).runs] == ["tiny_net"]


def refusal(workdir: Path, cfg: dict) -> str:
    (workdir / "bad.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(workdir, "-n", "--cores", "1", "--configfile", "bad.yaml", check=False)
    assert proc.returncode != 0
    output = proc.stdout + proc.stderr
    lines = [line for line in output.splitlines() if line.startswith("Invalid config:")]
    assert len(lines) == 1, output
    return lines[0]


def test_another_test_split_is_refused_before_any_job(bundle, tiny_run, tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    shutil.copytree(REPO / "examples", workdir / "examples")
    base = user_config(tiny_run, bundle)
    changes = {
        # (the challenge set's test split does not depend on its seed: its classes are fixed)
        "seed": (
            lambda c: c["datasets"]["bench"].update(seed=8),
            ["'bench'", "seed 7 there, 8 here"],
        ),
        "n_points": (
            lambda c: c["datasets"]["chal"].update(n_points=300),
            ["'chal'", "n_points 250 there, 300 here", "points per spectrum 250 there, 300 here"],
        ),
        "class set": (
            lambda c: c["datasets"]["bench"]["generate"].update(n_classes=7),
            ["'bench'", "generate.n_classes 6 there, 7 here", "classes 6 there, 7 here"],
        ),
        "test variants": (
            lambda c: c["datasets"]["bench"]["test"].update(variants=["0", "h", "l"]),
            ["'bench'", "test.variants", "test spectra 54 there, 18 here"],
        ),
    }
    for what, (change, words) in changes.items():
        cfg = copy.deepcopy(base)
        change(cfg)
        line = refusal(workdir, cfg)
        assert f"baselines: {bundle}: dataset" in line, (what, line)
        for word in words:
            assert word in line, (what, word, line)
    assert not (workdir / "results").exists()  # nothing ran


def test_a_damaged_bundle_is_refused_in_one_line(bundle, tiny_run, tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    shutil.copytree(REPO / "examples", workdir / "examples")
    damaged = tmp_path / "damaged"
    shutil.copytree(bundle, damaged)
    cfg = user_config(tiny_run, damaged)
    predictions = damaged / "runs" / "chal" / "cnn2" / "seed0" / "predictions.parquet"
    predictions.write_bytes(predictions.read_bytes()[:-8] + b"12345678")
    line = refusal(workdir, cfg)
    assert "runs/chal/cnn2/seed0/predictions.parquet is corrupted" in line
    predictions.unlink()
    assert "runs/chal/cnn2/seed0/predictions.parquet is missing" in refusal(workdir, cfg)
    (damaged / "bundle.json").unlink()
    assert "not a result bundle (no bundle.json)" in refusal(workdir, cfg)
