"""Evaluating one trained model on its dataset's test split (rule evaluate_model).

The model is loaded with the Keras backend recorded in its training.json (any of tensorflow, jax,
torch: ``.keras`` files are backend-independent), the test spectra get the same max-normalisation
as in training (:func:`specbench.io.normalise`), and every test spectrum's two most
probable classes are written to predictions.parquet:

    row (int32, row index in test.parquet), label, predicted, runner_up (int32),
    probability, runner_up_probability (float32), variant (string)

metrics.json adds the test accuracy to the run's training summary (training.json, history.csv)
and the model's size: ``parameters`` and ``macs``, the multiply-accumulates of one forward pass
for one spectrum (:func:`count_macs`, see specbench.models.macs for what is counted).

This module does not import keras at import time.
"""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from typing import Any

import numpy as np

from specbench.atomic import atomic_path
from specbench.models.macs import count_macs

__all__ = [
    "PREDICT_BATCH_SIZE",
    "EvaluationError",
    "count_macs",
    "evaluate_model",
    "top2",
    "write_predictions",
]

logger = logging.getLogger("specbench.evaluation")

#: Spectra per predict() batch (evaluation and ``specbench classify``: same batches, same numbers).
PREDICT_BATCH_SIZE = 256

METRICS_KEYS = (
    "model",
    "dataset",
    "seed",
    "architecture",
    "n_test",
    "test_wrong",
    "test_accuracy",
    "best_epoch",
    "epochs_run",
    "best_val_accuracy",
    "best_val_loss",
    "parameters",
    "macs",
    "train_time_s",
    "train_samples_per_s",
    "backend",
    "precision",
    "versions",
)


class EvaluationError(ValueError):
    """Inputs of an evaluation that do not fit together (names the file and the value)."""


def top2(probabilities: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(predicted, probability, runner_up, runner_up_probability) of each row.

    Ties go to the lower class index (as numpy.argmax); needs at least two classes.
    """
    p = np.asarray(probabilities, dtype=np.float32)
    if p.ndim != 2 or p.shape[1] < 2:
        raise EvaluationError(f"need probabilities of shape [n, >=2 classes], got {p.shape}")
    order = np.argsort(-p, axis=1, kind="stable")[:, :2].astype(np.int32)
    rows = np.arange(len(p))
    return order[:, 0], p[rows, order[:, 0]], order[:, 1], p[rows, order[:, 1]]


def write_predictions(
    path: str | os.PathLike,
    *,
    labels: np.ndarray,
    probabilities: np.ndarray,
    variant,
) -> None:
    """predictions.parquet (columns in the module docstring), written atomically."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    predicted, probability, runner_up, runner_prob = top2(probabilities)
    table = pa.table(
        {
            "row": pa.array(np.arange(len(labels), dtype=np.int32)),
            "label": pa.array(np.asarray(labels, dtype=np.int32)),
            "predicted": pa.array(predicted),
            "probability": pa.array(probability.astype(np.float32)),
            "runner_up": pa.array(runner_up),
            "runner_up_probability": pa.array(runner_prob.astype(np.float32)),
            "variant": pa.array([str(v) for v in variant], type=pa.string()),
        }
    )
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp)


def _read_info(path: str | os.PathLike) -> dict[str, Any]:
    try:
        info = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise EvaluationError(f"{path}: no such training.json") from None
    except ValueError as exc:
        raise EvaluationError(f"{path}: not valid JSON ({exc})") from None
    missing = [k for k in ("backend", "precision", "n_classes", "n_points") if k not in info]
    if missing:
        raise EvaluationError(f"{path}: training.json lacks key {missing[0]!r}")
    return info


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

    Returns the metrics.json content. Raises specbench.io.SplitError for a bad test file and
    EvaluationError for a missing/invalid training.json or a test split that does not fit the
    model (points or labels).
    """
    from specbench import backend
    from specbench.io import single_path

    test = single_path(test, "test")
    info = _read_info(info_path)
    keras = backend.configure(
        info["backend"], info["precision"], threads, deterministic=True, jobs_per_gpu=jobs_per_gpu
    )
    try:
        return _evaluate(
            keras,
            info,
            model_path=model_path,
            info_path=info_path,
            history_path=history_path,
            test=test,
            predictions_path=predictions_path,
            metrics_path=metrics_path,
            batch_size=batch_size,
            test_dataset=test_dataset,
        )
    finally:  # the dtype policy is process-global: do not leak mixed precision
        keras.config.set_dtype_policy("float32")


def _evaluate(
    keras,
    info,
    *,
    model_path,
    info_path,
    history_path,
    test,
    predictions_path,
    metrics_path,
    batch_size,
    test_dataset=None,
) -> dict[str, Any]:
    import pandas as pd

    from specbench import backend
    from specbench.io import read_split
    from specbench.io import normalise

    split = read_split(test)
    if split.n_points != info["n_points"]:
        raise EvaluationError(
            f"{test}: spectra have {split.n_points} points, the model was trained on "
            f"{info['n_points']} ({info_path})"
        )
    if len(split) and (split.labels.min() < 0 or split.labels.max() >= info["n_classes"]):
        raise EvaluationError(
            f"{test}: labels {split.labels.min()}..{split.labels.max()} outside the model's "
            f"{info['n_classes']} classes ({info_path})"
        )
    x = normalise(split.spectra, inplace=True)

    model = keras.saving.load_model(model_path, compile=False)
    t0 = time.perf_counter()
    probabilities = np.asarray(model.predict(x, batch_size=batch_size, verbose=0), np.float32)
    predict_s = time.perf_counter() - t0
    if predictions_path is not None:
        write_predictions(
            predictions_path,
            labels=split.labels,
            probabilities=probabilities,
            variant=split.variant,
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
        "parameters": int(model.count_params()),
        "macs": count_macs(model),
        "train_time_s": float(info["train_time_s"]),
        "train_samples_per_s": float(info["train_samples_per_s"]),
        "backend": info["backend"],
        "precision": info["precision"],
        "device": info.get("device"),
        "evaluation_device": backend.runtime()["device"]["name"],
        "versions": info.get("versions", {}),
        "resumed_from_epoch": info.get("resumed_from_epoch", 0),
        "predict_samples_per_s": n_test / predict_s if predict_s > 0 else None,
        "evaluation_versions": backend.versions(info["backend"]),
    }
    if test_dataset is not None:
        metrics["test_dataset"] = test_dataset
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
