"""Classifying new spectra with a trained run (``specbench classify``, ``specbench info``).

A *run* is a trained run folder, ``results/runs/{dataset}/{model}/seed{seed}`` (``model.keras``,
``training.json`` and, once evaluated, ``metrics.json``), or a ``.keras`` file with its run's
``training.json`` beside it. Everything the model needs to know about its input comes from
training.json (written by :func:`specbench.training.train_model`): ``n_points``, ``n_classes``,
``dataset``, ``config_hash`` (of the dataset's config, from the training split's Parquet metadata),
``backend`` and ``precision``. A file without it, or whose model does not take ``n_points`` and
return ``n_classes`` probabilities, is not a model of this workflow. ``.keras`` files are loaded
with ``safe_mode=True`` (no deserialisation of Python lambdas) and ``compile=False``.

Spectra (:func:`read_spectra`; one or more files, formats by suffix):

- ``.parquet``: a split written by this workflow (``specbench.io.read_split``); its labels give an
  accuracy, its ``variant`` column is copied to the output;
- ``.npy``: a numeric array, one spectrum (1-D) or one spectrum per row (2-D);
- ``.csv``: comma-separated numbers, optionally after one header line (any non-numeric cell makes
  the first line a header) and ``#`` comment lines. A CSV with exactly two columns is **one
  spectrum as x,y pairs**; any other CSV holds one spectrum per row (values only, no index column).

Grid. The model's grid is its ``n_points`` positions ``0 .. n_points-1``, unless training.json has
a ``grid: [start, stop]`` (the positions then run evenly from start to stop). ``--grid START,STOP``
(``grid=(start, stop)``) says that the model's points run evenly from START to STOP in the units of
your x values: point i sits at ``START + i * (STOP - START) / (n_points - 1)``. Then

- spectra with x values (x,y files) are linearly interpolated (``numpy.interp``) at the model's
  positions; their x range must cover the grid (x may be in ascending or descending order);
- spectra without x values (rows of a CSV, ``.npy`` or Parquet file) with ``n_points`` values are
  used as they are; with another number of values m they need ``--grid``: their m values are then
  taken to span START..STOP evenly and are interpolated at the model's positions.

Each spectrum is then divided by its maximum, as in training (:func:`specbench.io.normalise`).
Non-finite values, spectra that are all zero (or without any positive value) on the model's grid,
unreadable or empty files are errors (:class:`ClassifyError`, one line naming the file and row).

Output (:func:`classify`, one row per spectrum): ``index`` (0..N-1 over all files), ``source``
(the file), ``row`` (the spectrum's row in its file, counted from 0 after the header),
``label`` and ``correct`` (Parquet splits only), ``variant`` (Parquet splits only),
``predicted`` (the most probable class), ``probability``, then ``class_1``, ``probability_1``,
... ``class_k``, ``probability_k``: the top-k classes (ties go to the lower class index, as in
the workflow's evaluation).

This module does not import keras at import time.
"""

from __future__ import annotations

import json
import math
import os
import warnings
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from specbench.atomic import atomic_path
from specbench.evaluation import PREDICT_BATCH_SIZE

__all__ = [
    "DEFAULT_TOP_K",
    "SPECTRA_FORMATS",
    "Block",
    "ClassifyError",
    "Prepared",
    "Result",
    "Run",
    "classify",
    "load_model",
    "load_run",
    "model_positions",
    "parse_grid",
    "prepare",
    "read_spectra",
    "resample",
    "run_summary",
    "top_k",
    "write_table",
]

MODEL_FILE = "model.keras"
INFO_FILE = "training.json"
METRICS_FILE = "metrics.json"
#: training.json keys without which a file is not a run of this workflow.
REQUIRED_INFO = ("architecture", "n_points", "n_classes", "backend", "precision")
DEFAULT_TOP_K = 3
#: Spectrum file suffixes (lower case) and what they hold.
SPECTRA_FORMATS = {
    ".csv": "one spectrum per row, or one x,y spectrum (two columns)",
    ".npy": "one spectrum (1-D) or one per row (2-D)",
    ".parquet": "a split written by this workflow",
}


class ClassifyError(ValueError):
    """A run, spectrum file or argument that cannot be used (the message names it)."""


# ------------------------------------------------------------------------------ the run


@dataclass
class Run:
    """A trained run: its model file and metadata (training.json, metrics.json if evaluated)."""

    model_path: Path
    info_path: Path
    info: dict[str, Any]
    metrics: dict[str, Any] | None = None

    @property
    def n_points(self) -> int:
        return int(self.info["n_points"])

    @property
    def n_classes(self) -> int:
        return int(self.info["n_classes"])

    @property
    def grid(self) -> tuple[float, float]:
        """(start, stop) of the model's positions: training.json's ``grid`` or (0, n_points-1)."""
        if "grid" in self.info:
            return _check_grid(self.info["grid"], f"{self.info_path}: grid")
        return 0.0, float(self.n_points - 1)


def _read_json(path: Path, what: str) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise ClassifyError(f"{path}: cannot read {what} ({exc.__class__.__name__})") from None
    except ValueError as exc:
        raise ClassifyError(f"{path}: not valid JSON ({exc})") from None
    if not isinstance(data, dict):
        raise ClassifyError(f"{path}: {what} is not a JSON object")
    return data


def load_run(path: str | os.PathLike) -> Run:
    """The run at `path`: a run folder or a ``.keras`` file with training.json beside it.

    Raises ClassifyError when `path` does not exist or is not a run of this workflow.
    """
    path = Path(path)
    if path.is_dir():
        model_path = path / MODEL_FILE
        if not model_path.is_file():
            raise ClassifyError(f"{path}: not a trained run folder (no {MODEL_FILE})")
    elif path.is_file():
        if path.suffix != ".keras":
            raise ClassifyError(
                f"{path}: not a run folder or .keras file (suffix {path.suffix or 'none'!r})"
            )
        model_path = path
    else:
        raise ClassifyError(f"{path}: no such run folder or .keras file")
    info_path = model_path.parent / INFO_FILE
    if not info_path.is_file():
        raise ClassifyError(
            f"{model_path}: not a model of this workflow (no {INFO_FILE} beside it)"
        )
    info = _read_json(info_path, INFO_FILE)
    missing = [k for k in REQUIRED_INFO if k not in info]
    if missing:
        raise ClassifyError(f"{info_path}: not a run of this workflow (lacks key {missing[0]!r})")
    for key in ("n_points", "n_classes"):
        value = info[key]
        if not isinstance(value, int) or isinstance(value, bool) or value < 2:
            raise ClassifyError(f"{info_path}: {key}={value!r} is not an integer >= 2")
    metrics_path = model_path.parent / METRICS_FILE
    metrics = _read_json(metrics_path, METRICS_FILE) if metrics_path.is_file() else None
    if "grid" in info:
        _check_grid(info["grid"], f"{info_path}: grid")
    return Run(model_path=model_path, info_path=info_path, info=info, metrics=metrics)


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


def _configure(run: Run, backend: str | None, threads: int):
    """specbench.backend.configure for `run` (its precision; `backend` or the run's); keras."""
    from specbench import backend as backends

    backend = backend or run.info["backend"]
    if not zipfile.is_zipfile(run.model_path):
        raise ClassifyError(f"{run.model_path}: not a Keras model file (not a .keras archive)")
    try:
        return backends.configure(backend, run.info["precision"], threads, deterministic=True)
    except ImportError as exc:
        raise ClassifyError(
            f"backend {backend!r} is not installed ({exc}); choose another with --backend"
        ) from None


def load_model(run: Run, *, backend: str | None = None, threads: int = 1):
    """The run's Keras model, loaded with ``safe_mode=True`` on `backend` (default: the run's).

    Configures Keras first (specbench.backend.configure, with the run's precision; the global
    dtype policy is float32 again on return). Raises ClassifyError for a file that is not a
    loadable Keras model, one that safe mode refuses, a model whose input/output do not match
    training.json, or a backend that is not installed.
    """
    keras = _configure(run, backend, threads)
    try:
        return _load(keras, run)
    finally:  # the dtype policy is process-global: do not leak mixed precision
        keras.config.set_dtype_policy("float32")


def _load(keras, run: Run):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = keras.saving.load_model(run.model_path, compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types for a bad archive
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise ClassifyError(f"{run.model_path}: cannot load the Keras model ({first})") from None
    inputs = getattr(model, "input_shape", None)
    outputs = getattr(model, "output_shape", None)
    expected = (None, run.n_points), (None, run.n_classes)
    if (inputs, outputs) != expected:
        raise ClassifyError(
            f"{run.model_path}: not a model of this workflow: it maps {inputs} to {outputs}, "
            f"{run.info_path} says {expected[0]} to {expected[1]}"
        )
    parameters = run.info.get("parameters")
    if parameters is not None and model.count_params() != parameters:
        raise ClassifyError(
            f"{run.model_path}: not the model of {run.info_path}: it has "
            f"{model.count_params()} parameters, {INFO_FILE} says {parameters}"
        )
    return model


# ------------------------------------------------------------------------------ spectra


@dataclass
class Block:
    """Spectra read from one file: `y` [n, m]; `x` [m] (x,y files) or None (values only)."""

    source: str
    y: np.ndarray
    x: np.ndarray | None = None
    labels: np.ndarray | None = None
    variant: np.ndarray | None = None
    metadata: dict[str, str] = field(default_factory=dict)


def _check_grid(value: Any, what: str) -> tuple[float, float]:
    try:
        start, stop = (float(v) for v in value)
    except (TypeError, ValueError):
        raise ClassifyError(f"{what}={value!r} must be two numbers START,STOP") from None
    if not (math.isfinite(start) and math.isfinite(stop)) or start == stop:
        raise ClassifyError(f"{what}={value!r} must be two different finite numbers")
    return start, stop


def parse_grid(text: str) -> tuple[float, float]:
    """``"START,STOP"`` → (start, stop); ClassifyError naming `text` otherwise."""
    parts = str(text).split(",")
    if len(parts) != 2:
        raise ClassifyError(f"grid {text!r} must be START,STOP (two numbers, e.g. 10,80)")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise ClassifyError(f"grid {text!r} must be START,STOP (two numbers, e.g. 10,80)") from None
    return _check_grid(values, "grid")


def model_positions(n_points: int, grid: tuple[float, float]) -> np.ndarray:
    """The model's point positions in x units: n_points evenly from grid[0] to grid[1]."""
    return np.linspace(grid[0], grid[1], n_points)


def _first_line(path: Path) -> tuple[int, str | None]:
    """(index, text) of the first line that is neither blank nor a # comment."""
    with open(path, encoding="utf-8") as handle:
        for i, line in enumerate(handle):
            text = line.strip()
            if text and not text.startswith("#"):
                return i, text
    return 0, None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(path: Path) -> Block:
    try:
        index, first = _first_line(path)
    except UnicodeDecodeError:
        raise ClassifyError(f"{path}: not a text CSV file") from None
    if first is None:
        raise ClassifyError(f"{path}: empty file (no spectra)")
    try:
        header = not all(_is_number(cell) for cell in first.split(","))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "input contained no data": handled below
            data = np.loadtxt(
                path,
                delimiter=",",
                comments="#",
                skiprows=index + 1 if header else 0,
                ndmin=2,
                dtype=np.float64,
                encoding="utf-8",
            )
    except UnicodeDecodeError:
        raise ClassifyError(f"{path}: not a text CSV file") from None
    except ValueError as exc:
        raise ClassifyError(f"{path}: not a CSV of numbers ({exc})") from None
    if data.size == 0:
        raise ClassifyError(f"{path}: no spectra (only a header)")
    if data.shape[1] == 2:  # one spectrum as x,y pairs
        x, y = data[:, 0], data[:, 1]
        if len(x) < 2:
            raise ClassifyError(f"{path}: an x,y spectrum needs at least two points")
        return Block(source=str(path), y=y[None, :], x=x)
    return Block(source=str(path), y=data)


def _read_npy(path: Path) -> Block:
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise ClassifyError(f"{path}: not a readable .npy file ({exc})") from None
    if not isinstance(data, np.ndarray) or data.dtype.kind not in "fiu":
        raise ClassifyError(f"{path}: not a numeric array (dtype {getattr(data, 'dtype', '?')})")
    if data.ndim not in (1, 2):
        raise ClassifyError(
            f"{path}: array of shape {data.shape}; expected [points] or [n, points]"
        )
    data = np.atleast_2d(data).astype(np.float64, copy=False)
    if data.size == 0:
        raise ClassifyError(f"{path}: no spectra (array of shape {data.shape})")
    return Block(source=str(path), y=data)


def _read_parquet(path: Path) -> Block:
    from specbench.io import SplitError, read_split

    try:
        split = read_split(path)
    except SplitError as exc:
        raise ClassifyError(str(exc)) from None
    if len(split) == 0:
        raise ClassifyError(f"{path}: no spectra (0 rows)")
    return Block(
        source=str(path),
        y=split.spectra,
        labels=split.labels,
        variant=split.variant,
        metadata=split.metadata,
    )


_READERS = {".csv": _read_csv, ".npy": _read_npy, ".parquet": _read_parquet}
assert _READERS.keys() == SPECTRA_FORMATS.keys()


def read_spectra(paths: Sequence[str | os.PathLike]) -> list[Block]:
    """One Block per file (formats in the module docstring); ClassifyError naming a bad file."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if not paths:
        raise ClassifyError("no spectrum files given")
    blocks = []
    for path in map(Path, paths):
        reader = _READERS.get(path.suffix.lower())
        if reader is None:
            raise ClassifyError(
                f"{path}: unknown spectrum format {path.suffix or '(no suffix)'!r} "
                f"(known: {', '.join(SPECTRA_FORMATS)})"
            )
        if not path.is_file():
            raise ClassifyError(f"{path}: no such file")
        blocks.append(reader(path))
    return blocks


def resample(
    x: np.ndarray, y: np.ndarray, positions: np.ndarray, *, source: str = ""
) -> np.ndarray:
    """Spectra `y` [n, m] sampled at `x` [m], linearly interpolated at `positions` [p].

    `x` may be ascending or descending but must be strictly monotonic, and its range must cover
    `positions` (to a relative tolerance of 1e-9); ClassifyError naming `source` otherwise.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    if not np.isfinite(x).all():
        raise ClassifyError(f"{source}: x values contain NaN or infinite values")
    if len(x) > 1 and x[0] > x[-1]:
        x, y = x[::-1], y[:, ::-1]
    if len(x) < 2 or not (np.diff(x) > 0).all():
        raise ClassifyError(f"{source}: x values are not strictly increasing or decreasing")
    lo, hi = float(positions.min()), float(positions.max())
    tolerance = 1e-9 * max(abs(hi - lo), abs(x[-1] - x[0]))
    if x[0] > lo + tolerance or x[-1] < hi - tolerance:
        raise ClassifyError(
            f"{source}: x values span {x[0]:g}..{x[-1]:g} but the model's grid spans "
            f"{lo:g}..{hi:g}; set the grid with --grid START,STOP"
        )
    positions = np.clip(positions, x[0], x[-1])
    return np.stack([np.interp(positions, x, row) for row in y])


@dataclass
class Prepared:
    """Normalised model input [n, n_points] float32 and one record per spectrum."""

    x: np.ndarray
    source: list[str]
    row: np.ndarray
    labels: np.ndarray | None
    variant: list | None
    warnings: list[str]


def prepare(
    run: Run, blocks: Sequence[Block], *, grid: tuple[float, float] | None = None
) -> Prepared:
    """The spectra of `blocks` on the model's grid, checked and normalised as in training."""
    from specbench.io import normalise

    n_points = run.n_points
    grid_given = grid is not None
    grid = _check_grid(grid, "grid") if grid_given else run.grid
    positions = model_positions(n_points, grid)
    parts, sources, rows, notes = [], [], [], []
    for block in blocks:
        y = block.y
        bad = ~np.isfinite(y).all(axis=1)
        if bad.any():
            raise ClassifyError(
                f"{block.source}: spectrum in row {int(np.flatnonzero(bad)[0])} has NaN or "
                "infinite values"
            )
        if block.x is not None:
            y = resample(block.x, y, positions, source=block.source)
        elif y.shape[1] != n_points:
            if not grid_given:
                raise ClassifyError(
                    f"{block.source}: spectra have {y.shape[1]} points, the model takes "
                    f"{n_points}; give --grid START,STOP (the x range they span) to resample them"
                )
            own = np.linspace(grid[0], grid[1], y.shape[1])
            y = resample(own, y, positions, source=block.source)
        y = np.asarray(y, dtype=np.float32)
        flat = ~(y.max(axis=1) > 0)
        if flat.any():
            row = int(np.flatnonzero(flat)[0])
            what = "all zero" if not y[row].any() else "without any positive value"
            raise ClassifyError(
                f"{block.source}: spectrum in row {row} is {what} on the model's grid "
                "(it cannot be normalised as in training)"
            )
        if block.labels is not None and (
            block.labels.min() < 0 or block.labels.max() >= run.n_classes
        ):
            raise ClassifyError(
                f"{block.source}: labels {block.labels.min()}..{block.labels.max()} lie outside "
                f"the model's {run.n_classes} classes ({run.info_path})"
            )
        parts.append(y)
        sources += [block.source] * len(y)
        rows.append(np.arange(len(y)))
        notes += _dataset_warnings(run, block)
    labels = variant = None
    if any(b.labels is not None for b in blocks):
        # -1: the spectrum's file has no labels (only Parquet splits have)
        labels = np.concatenate(
            [b.labels if b.labels is not None else np.full(len(b.y), -1) for b in blocks]
        ).astype(np.int64)
        variant = [
            v for b in blocks for v in (b.variant if b.variant is not None else [""] * len(b.y))
        ]
    x = normalise(np.concatenate(parts), inplace=True)
    return Prepared(
        x=x,
        source=sources,
        row=np.concatenate(rows),
        labels=labels,
        variant=variant,
        warnings=notes,
    )


def _dataset_warnings(run: Run, block: Block) -> list[str]:
    """Warnings when a split's dataset or config hash differ from the run's."""
    notes = []
    for key in ("dataset", "config_hash"):
        theirs, ours = block.metadata.get(key), run.info.get(key)
        if theirs and ours and theirs != ours:
            notes.append(
                f"{block.source}: {key} {theirs!r} differs from the model's {ours!r} "
                f"({run.info_path}); its class indices may mean other classes"
            )
    return notes


# ------------------------------------------------------------------------------ prediction


def top_k(probabilities: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(classes [n, k] int32, their probabilities [n, k]) in decreasing order of probability.

    Ties go to the lower class index (as specbench.evaluation.top2 and numpy.argmax).
    """
    p = np.asarray(probabilities, dtype=np.float32)
    if p.ndim != 2 or not 1 <= k <= p.shape[1]:
        raise ClassifyError(f"top-k {k!r} must be between 1 and the number of classes ({p.shape})")
    order = np.argsort(-p, axis=1, kind="stable")[:, :k].astype(np.int32)
    return order, np.take_along_axis(p, order, axis=1)


@dataclass
class Result:
    """Predictions of :func:`classify`: the output table, accuracy (labelled spectra only)."""

    table: Any  # pandas.DataFrame, columns in the module docstring
    probabilities: np.ndarray
    accuracy: float | None
    n_labelled: int
    warnings: list[str]


def _check_top_k(top: Any, n_classes: int) -> int:
    if not isinstance(top, (int, np.integer)) or isinstance(top, bool) or not 1 <= top <= n_classes:
        raise ClassifyError(
            f"--top-k {top!r} must be an integer from 1 to {n_classes} (the classes)"
        )
    return int(top)


def classify(
    run: str | os.PathLike | Run,
    spectra: Sequence[str | os.PathLike] | str | os.PathLike,
    *,
    top: int = DEFAULT_TOP_K,
    grid: tuple[float, float] | None = None,
    backend: str | None = None,
    threads: int = 1,
    batch_size: int = PREDICT_BATCH_SIZE,
) -> Result:
    """Predict the classes of the spectra in `spectra` (files) with the trained `run`.

    `top`: how many classes per spectrum the table lists; `grid`: (start, stop), see the module
    docstring; `backend`: Keras backend to run on (default: the run's). Raises ClassifyError.
    """
    import pandas as pd

    run = run if isinstance(run, Run) else load_run(run)
    top = _check_top_k(top, run.n_classes)
    prepared = prepare(run, read_spectra(spectra), grid=grid)
    keras = _configure(run, backend, threads)
    try:  # as specbench.evaluation: load and predict under the run's precision policy
        model = _load(keras, run)
        probabilities = np.asarray(
            model.predict(prepared.x, batch_size=batch_size, verbose=0), dtype=np.float32
        )
    finally:
        keras.config.set_dtype_policy("float32")
    classes, probs = top_k(probabilities, top)
    n = len(probabilities)
    columns: dict[str, Any] = {
        "index": np.arange(n),
        "source": prepared.source,
        "row": prepared.row,
    }
    accuracy, n_labelled = None, 0
    if prepared.labels is not None:
        known = prepared.labels >= 0
        correct = classes[:, 0] == prepared.labels
        columns["label"] = pd.array(np.where(known, prepared.labels, 0), dtype="Int64")
        columns["label"][~known] = pd.NA
        columns["correct"] = pd.array(correct, dtype="boolean")
        columns["correct"][~known] = pd.NA
        columns["variant"] = prepared.variant
        n_labelled = int(known.sum())
        accuracy = float(correct[known].mean())
    columns["predicted"] = classes[:, 0]
    columns["probability"] = probs[:, 0]
    for i in range(top):
        columns[f"class_{i + 1}"] = classes[:, i]
        columns[f"probability_{i + 1}"] = probs[:, i]
    return Result(
        table=pd.DataFrame(columns),
        probabilities=probabilities,
        accuracy=accuracy,
        n_labelled=n_labelled,
        warnings=prepared.warnings,
    )


def write_table(table, path: str | os.PathLike) -> None:
    """The output table as CSV at `path` (written atomically; ``-`` writes to stdout)."""
    import sys

    if str(path) == "-":
        table.to_csv(sys.stdout, index=False)
        return
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False)
