"""Helpers shared by several test files: run records and the files they name, Parquet splits,
a rendered dataset. (Fixtures and the snakemake runner are in conftest.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from specbench.evaluation import predictions
from specbench.data import splits
from specbench.data.classes import ClassSet, save_classes
from specbench.data.dataset_files import render_dataset
from specbench.data.variants import parse_variant


def run_record(
    root: Path,
    experiment: str,
    dataset: str,
    model: str,
    seed: int,
    architecture: str,
    hyperparameters: dict | None = None,
) -> dict:
    """A run record as rules/common.smk's run_records makes it (files under `root`/results)."""
    base = root / "results" / "runs" / dataset / model / f"seed{seed}"
    return {
        "experiment": experiment,
        "dataset": dataset,
        "model": model,
        "seed": seed,
        "architecture": architecture,
        "hyperparameters": hyperparameters or {},
        "metrics": str(base / "metrics.json"),
        "predictions": str(base / "predictions.parquet"),
        "history": str(base / "history.csv"),
    }


def write_predictions(path, labels, predicted, probability, runner_up_probability, variants):
    """A predictions.parquet as evaluate_model writes it (runner-up: the true class)."""
    labels = np.asarray(labels, dtype=np.int32)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    values = {
        "row": np.arange(len(labels), dtype=np.int32),
        "label": labels,
        "predicted": predicted,
        "probability": probability,
        "runner_up": labels,
        "runner_up_probability": runner_up_probability,
        # the true class is the predicted one or the runner-up
        "label_probability": np.where(
            np.asarray(predicted) == labels, probability, runner_up_probability
        ),
        "variant": list(variants),
    }
    predictions.write_predictions(path, values)


def variant_label(code: str, shift: int, delta: float) -> str:
    """A test variant's label in a split (``shift=-3,height=+0.04``), as the render stage writes."""
    return parse_variant(code).label(shift, delta)


def write_split(path: Path, labels, spectra, positions, heights, variants, sigma: float) -> None:
    """A split file with the base columns of specbench.data.splits (spectra: rows x points)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    splits.write_split(
        path,
        spectra=np.asarray(spectra, np.float32),
        labels=labels,
        peak_positions=positions,
        peak_heights=heights,
        sigma=np.full(len(labels), sigma, np.float32),
        variant=list(variants),
    )


def render_files(tmp_path: Path, classes: ClassSet, render: dict, name: str = "ds") -> dict:
    """`classes` saved and rendered (render_dataset) under `tmp_path`: {split: path}."""
    tmp_path.mkdir(parents=True, exist_ok=True)
    save_classes(classes, tmp_path / "classes.json")
    paths = {s: tmp_path / f"{s}.parquet" for s in ("train", "val", "test")}
    render_dataset(
        classes_path=tmp_path / "classes.json",
        render=render,
        name=name,
        config_hash="cafe",
        train_path=paths["train"],
        val_path=paths["val"],
        test_path=paths["test"],
        ambiguous_path=tmp_path / "ambiguous_pairs.csv",
    )
    return paths
