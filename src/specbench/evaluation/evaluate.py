"""Evaluating one trained model on its dataset's test split (rule evaluate_model).

The model is loaded and run by :func:`specbench.evaluation.inference.infer` (the path ``specbench classify``
takes too) with the Keras backend recorded in its training.json (any of tensorflow, jax, torch:
``.keras`` files are backend-independent; training.json read by :func:`specbench.evaluation.runs.read_info`),
the test spectra get the same max-normalisation as in training
(:func:`specbench.data.preprocess.normalise`), and every test spectrum's two most probable classes (:func:`specbench.evaluation.inference.top_k`) are
written to predictions.parquet (columns: :data:`specbench.evaluation.predictions.COLUMNS`).

metrics.json (keys: :data:`specbench.core.formats.METRICS`) adds the test accuracy to the run's
training summary (training.json, history.csv) and the model's size: ``parameters`` and ``macs``, the multiply-accumulates of one forward pass
for one spectrum (:func:`count_macs`, see specbench.models.macs for what is counted).

This module does not import keras at import time.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import numpy as np

from specbench.evaluation import predictions
from specbench.core.atomic import atomic_path
from specbench.core.formats import metrics_record
from specbench.evaluation.inference import (
    PREDICT_BATCH_SIZE,
    check_labels,
    infer,
    model_input,
    top_k,
)
from specbench.models.macs import count_macs
from specbench.evaluation.runs import Run, RunError

__all__ = [
    "PREDICT_BATCH_SIZE",
    "EvaluationError",
    "count_macs",
    "evaluate_model",
    "write_predictions",
]

logger = logging.getLogger("specbench.evaluation")

#: Errors of an evaluation (a bad training.json, model, or test split that does not fit the model):
#: specbench.evaluation.runs.RunError, under the name callers used before.
EvaluationError = RunError


def write_predictions(
    path: str | os.PathLike,
    *,
    labels: np.ndarray,
    probabilities: np.ndarray,
    variant,
    class_names=None,
) -> None:
    """predictions.parquet (specbench.evaluation.predictions): the two most probable classes per row and
    the probability given to the true class; `class_names` (class order) kept with them."""
    classes, probs = top_k(probabilities, 2)
    labels = np.asarray(labels)
    values = {
        "row": np.arange(len(labels), dtype=np.int32),
        "label": labels,
        "predicted": classes[:, 0],
        "probability": probs[:, 0],
        "runner_up": classes[:, 1],
        "runner_up_probability": probs[:, 1],
        "label_probability": np.asarray(probabilities)[np.arange(len(labels)), labels],
        "variant": variant,
    }
    predictions.write_predictions(path, values, class_names=class_names)


def evaluate_model(
    *,
    model_path: str | os.PathLike,
    info_path: str | os.PathLike,
    history_path: str | os.PathLike,
    test: str | os.PathLike,
    predictions_path: str | os.PathLike | None,
    metrics_path: str | os.PathLike,
    threads: int = 1,
    batch_size: int = PREDICT_BATCH_SIZE,
    jobs_per_gpu: int | None = None,
    test_dataset: str | None = None,
) -> dict[str, Any]:
    """Predict the test split with the trained model; write predictions and metrics.

    predictions_path None writes no predictions. test_dataset names the dataset of `test` when it
    is not the model's own (the robustness experiment's cross-level evaluation, rule
    evaluate_level): metrics.json then records it as ``test_dataset``.

    Returns the metrics.json content. Raises specbench.data.splits.SplitError for a bad test file and
    EvaluationError (specbench.evaluation.runs.RunError) for a missing/invalid training.json or model, or a
    test split that does not fit the model (points, labels, values not finite in float32).
    """
    import pandas as pd

    from specbench.training import backend
    from specbench.core.inputs import single_path
    from specbench.data.preprocess import normalise
    from specbench.data.splits import read_split

    test = single_path(test, "test")
    run = Run.of(model_path, info_path)
    info = run.info
    split = read_split(test)
    if split.n_points != run.n_points:
        raise EvaluationError(
            f"{test}: spectra have {split.n_points} points, the model was trained on "
            f"{run.n_points} ({info_path})"
        )
    check_labels(split.labels, run, source=test)
    x = normalise(model_input(split.spectra, source=test), inplace=True)

    result = infer(  # trust_user_code: this workflow trained it from the user's own builder
        run,
        x,
        threads=threads,
        jobs_per_gpu=jobs_per_gpu,
        batch_size=batch_size,
        macs=True,
        trust_user_code=True,
    )
    probabilities = result.probabilities
    if predictions_path is not None:
        write_predictions(
            predictions_path,
            labels=split.labels,
            probabilities=probabilities,
            variant=split.variant,
            class_names=run.class_names,
        )

    history = pd.read_csv(history_path)
    predicted = probabilities.argmax(axis=1)
    wrong = int((predicted != split.labels).sum())
    n_test = len(split)
    best = history.loc[history["epoch"] == info["best_epoch"]].iloc[0]
    metrics = {
        "model": info.get("model"),
        "dataset": info.get("dataset"),
        "seed": info.get("seed"),
        "architecture": info.get("architecture"),
        "n_test": n_test,
        "test_wrong": wrong,
        "test_accuracy": (n_test - wrong) / n_test if n_test else float("nan"),
        "best_epoch": int(info["best_epoch"]),
        "epochs_run": int(len(history)),
        "best_val_accuracy": float(best["val_accuracy"]),
        "best_val_loss": float(best["val_loss"]),
        "parameters": result.parameters,
        "macs": result.macs,
        "kernel_size": (info.get("hyperparameters") or {}).get("kernel_size"),
        "train_time_s": float(info["train_time_s"]),
        "train_samples_per_s": float(info["train_samples_per_s"]),
        "backend": info["backend"],
        "precision": info["precision"],
        "loss_from": info.get("loss_from"),
        "device": info.get("device"),
        "evaluation_device": backend.runtime()["device"]["name"],
        "versions": info.get("versions", {}),
        "resumed_from_epoch": info.get("resumed_from_epoch", 0),
        "predict_samples_per_s": n_test / result.predict_s if result.predict_s > 0 else None,
        "evaluation_versions": backend.versions(info["backend"]),
    }
    if test_dataset is not None:
        metrics["test_dataset"] = test_dataset
    metrics = metrics_record(metrics)  # its spec's keys, in its order (specbench.core.formats)
    path = Path(metrics_path)
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(metrics, indent=2) + "\n")
    logger.info(
        "%s: test accuracy %.4f (%d of %d wrong), %d MACs per spectrum; wrote %s",
        metrics["model"],
        metrics["test_accuracy"],
        wrong,
        n_test,
        metrics["macs"],
        metrics_path,
    )
    return metrics
