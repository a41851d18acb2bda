"""Helpers shared by several test files: run records and the files they name, Parquet splits,
a rendered dataset. (Fixtures and the snakemake runner are in conftest.py.)"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from specbench.classes import ClassSet, save_classes
from specbench.render import render_dataset
from specbench.variants import parse_variant


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
    pq.write_table(
        pa.table(
            {
                "row": pa.array(np.arange(len(labels), dtype=np.int32)),
                "label": pa.array(labels),
                "predicted": pa.array(np.asarray(predicted, dtype=np.int32)),
                "runner_up": pa.array(labels),
                "probability": pa.array(np.asarray(probability, np.float32)),
                "runner_up_probability": pa.array(np.asarray(runner_up_probability, np.float32)),
                "variant": pa.array(list(variants)),
            }
        ),
        path,
    )


def variant_label(code: str, shift: int, delta: float) -> str:
    """A test variant's label in a split (``shift=-3,height=+0.04``), as the render stage writes."""
    return parse_variant(code).label(shift, delta)


def write_split(path: Path, labels, spectra, positions, heights, variants, sigma: float) -> None:
    """A split file with the base columns of specbench.io (spectra: rows x points)."""
    spectra = np.asarray(spectra, np.float32)
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    table = pa.table(
        {
            "label": pa.array(labels, pa.int32()),
            "spectrum": pa.FixedSizeListArray.from_arrays(
                pa.array(spectra.ravel()), spectra.shape[1]
            ),
            "peak_positions": pa.array(positions, pa.list_(pa.int32())),
            "peak_heights": pa.array(heights, pa.list_(pa.float32())),
            "sigma": pa.array(np.full(len(labels), sigma, np.float32)),
            "variant": pa.array(variants, pa.string()),
        }
    )
    pq.write_table(table, path)


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
