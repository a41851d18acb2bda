"""A trained run and the one reader of its training.json (evaluation, ``specbench classify``).

A *run* is a trained run folder (:data:`specbench.core.formats.RUN_DIR`, with ``model.keras``,
``training.json`` and, once evaluated, ``metrics.json``: the file names of specbench.core.formats), or
a ``.keras`` file with its run's ``training.json`` beside it. Everything a reader needs to know
about the model comes from training.json (specbench.core.formats.TRAINING_INFO, which its writer
:func:`specbench.training.train.train_model` follows): :data:`~specbench.core.formats.REQUIRED_INFO` are the
keys without which a file is not a run of this workflow; ``n_points`` and ``n_classes`` are
integers >= 2.

:class:`RunError` is the one error of reading a run, loading its model and checking what is fed
to it (specbench.evaluation.inference, specbench.evaluation.evaluate, specbench.cli.classify): a ValueError whose message
names the file. This module imports the standard library (and specbench.core.formats) only.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specbench.core.formats import INFO_FILE, METRICS_FILE, MODEL_FILE, REQUIRED_INFO

__all__ = [
    "Run",
    "RunError",
    "check_grid",
    "load_run",
    "read_info",
    "read_metrics",
    "run_summary",
]


class RunError(ValueError):
    """A run, model file, spectrum file or argument that cannot be used (the message names it)."""


def check_grid(value: Any, what: str) -> tuple[float, float]:
    """`value` as (start, stop): two different finite numbers; RunError naming `what`."""
    try:
        start, stop = (float(v) for v in value)
    except (TypeError, ValueError):
        raise RunError(f"{what}={value!r} must be two numbers START,STOP") from None
    if not (math.isfinite(start) and math.isfinite(stop)) or start == stop:
        raise RunError(f"{what}={value!r} must be two different finite numbers")
    return start, stop


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise RunError(f"{path}: no such {what}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise RunError(f"{path}: cannot read {what} ({exc.__class__.__name__})") from None
    except ValueError as exc:
        raise RunError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise RunError(f"{path}: {what} is not a JSON object")
    return data


def read_metrics(path: str | os.PathLike) -> dict[str, Any]:
    """The metrics.json at `path` (a JSON object; its keys: specbench.core.formats.METRICS); RunError
    naming `path`. The one reader of the file: tables, robustness and the CLI use it."""
    return _read_json(Path(path), METRICS_FILE)


def read_info(path: str | os.PathLike) -> dict[str, Any]:
    """The training.json at `path`, checked (module docstring); RunError naming `path`."""
    path = Path(path)
    info = _read_json(path, INFO_FILE)
    missing = [k for k in REQUIRED_INFO if k not in info]
    if missing:
        raise RunError(f"{path}: not a run of this workflow (lacks key {missing[0]!r})")
    for key in ("n_points", "n_classes"):
        value = info[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 2:
            raise RunError(f"{path}: {key}={value!r} is not an integer >= 2")
    return info


@dataclass
class Run:
    """A trained run: its model file and metadata (training.json, metrics.json if evaluated)."""

    model_path: Path
    info_path: Path
    info: dict[str, Any]
    metrics: dict[str, Any] | None = None

    @classmethod
    def of(cls, model_path: str | os.PathLike, info_path: str | os.PathLike) -> Run:
        """The run of `model_path` described by the training.json at `info_path` (read_info)."""
        info = read_info(info_path)
        return cls(model_path=Path(model_path), info_path=Path(info_path), info=info)

    @property
    def n_points(self) -> int:
        return int(self.info["n_points"])

    @property
    def n_classes(self) -> int:
        return int(self.info["n_classes"])

    @property
    def backend(self) -> str:
        return self.info["backend"]

    @property
    def precision(self) -> str:
        return self.info["precision"]

    @property
    def axis(self) -> dict | None:
        """{unit, start, stop} of a run on your own phases (specbench.data.phases), else None."""
        return self.info.get("axis")

    @property
    def class_names(self) -> list[str] | None:
        """The class names of a run on your own phases, in class order, else None."""
        return self.info.get("class_names")

    @property
    def grid(self) -> tuple[float, float]:
        """(start, stop) of the model's positions without ``--grid``: its axis range (a run on
        your own phases: e.g. 2θ 10..80), else (0, n_points-1)."""
        if self.axis is not None:
            return float(self.axis["start"]), float(self.axis["stop"])
        return 0.0, float(self.n_points - 1)


def load_run(path: str | os.PathLike) -> Run:
    """The run at `path`: a run folder or a ``.keras`` file with training.json beside it.

    Raises RunError when `path` does not exist or is not a run of this workflow.
    """
    path = Path(path)
    if path.is_dir():
        model_path = path / MODEL_FILE
        if not model_path.is_file():
            raise RunError(f"{path}: not a trained run folder (no {MODEL_FILE})")
    elif path.is_file():
        if path.suffix != ".keras":
            raise RunError(
                f"{path}: not a run folder or .keras file (suffix {path.suffix or 'none'!r})"
            )
        model_path = path
    else:
        raise RunError(f"{path}: no such run folder or .keras file")
    info_path = model_path.parent / INFO_FILE
    if not info_path.is_file():
        raise RunError(f"{model_path}: not a model of this workflow (no {INFO_FILE} beside it)")
    run = Run.of(model_path, info_path)
    metrics_path = model_path.parent / METRICS_FILE
    if metrics_path.is_file():
        run.metrics = read_metrics(metrics_path)
    return run


def run_summary(run: Run) -> dict[str, Any]:
    """What ``specbench info`` shows: the model, its data, its training and its test result."""
    info, metrics = run.info, run.metrics or {}
    return {
        "model": info.get("model"),
        "model_file": str(run.model_path),
        "architecture": info["architecture"],
        "hyperparameters": info.get("hyperparameters", {}),
        "parameters": info.get("parameters"),
        "dataset": info.get("dataset"),
        "config_hash": info.get("config_hash"),
        "seed": info.get("seed"),
        "n_points": run.n_points,
        "n_classes": run.n_classes,
        "grid": list(run.grid),
        "axis_unit": (run.axis or {}).get("unit"),
        "class_names": run.class_names,
        "test_accuracy": metrics.get("test_accuracy"),
        "test_wrong": metrics.get("test_wrong"),
        "n_test": metrics.get("n_test"),
        "epochs_run": info.get("epochs_run"),
        "best_epoch": info.get("best_epoch"),
        "training": info.get("training", {}),
        "backend": info["backend"],
        "precision": info["precision"],
        "versions": info.get("versions", {}),
    }
