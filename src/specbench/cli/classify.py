"""Classifying new spectra with a trained run (``specbench classify``).

The command's logic; its parts live in their own modules:

- the run (a run folder or a ``.keras`` file with its training.json) and ``specbench info``:
  :mod:`specbench.evaluation.runs` (:func:`~specbench.evaluation.runs.load_run`, :func:`~specbench.evaluation.runs.run_summary`);
- the user's spectrum files (text exports, XRDML, NPY, Parquet): :mod:`specbench.cli.spectra_files`;
- the model's grid and resampling onto it (``--grid START,STOP``): :mod:`specbench.cli.resample`;
- loading the model (``safe_mode=True``), predicting, top-k: :mod:`specbench.evaluation.inference`, the path
  the workflow's evaluation takes too.

:func:`prepare` puts every spectrum on the model's grid: spectra with x values (x,y files) are
interpolated at the model's positions, whose range they must cover; spectra without x values
(rows of a CSV, ``.npy`` or Parquet file) with ``n_points`` values are used as they are; with
another number of values they need ``--grid``, their values then taken to span START..STOP
evenly. A run on your own axis (your phases: e.g. 2θ 10..80) has its points there whatever
``--grid`` says: x,y spectra are resampled onto that axis, and ``--grid`` only says what
spectra without x values span (it must cover the axis). Each spectrum is then divided by its
maximum, as in training
(:func:`specbench.data.preprocess.normalise`). Values that are not finite in float32, the model's
input type (NaN, infinite, or beyond +-3.4e38 such as ``1e308``), spectra that are all zero (or without any
positive value) on the model's grid, labels outside the model's classes, unreadable or empty
files are errors (:class:`~specbench.evaluation.runs.RunError`, alias ``ClassifyError``: one line naming
the file and row).

Output (:func:`classify`, one row per spectrum): ``index`` (0..N-1 over all files), ``source``
(the file), ``row`` (the spectrum's row in its file, counted from 0 after the header),
``label`` and ``correct`` (Parquet splits only), ``variant`` (Parquet splits only),
``predicted`` (the most probable class), ``probability``, then ``class_1``, ``probability_1``,
... ``class_k``, ``probability_k``: the top-k classes (ties go to the lower class index, as in
the workflow's evaluation).

This module does not import keras at import time.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from specbench.core.atomic import atomic_path
from specbench.evaluation.inference import (
    PREDICT_BATCH_SIZE,
    check_labels,
    infer,
    model_input,
    top_k,
)
from specbench.cli.resample import model_positions, resample
from specbench.evaluation.runs import Run, RunError, check_grid, load_run
from specbench.cli.spectra_files import Block, read_spectra

__all__ = [
    "DEFAULT_TOP_K",
    "ClassifyError",
    "Prepared",
    "Result",
    "classify",
    "prepare",
    "write_table",
]

DEFAULT_TOP_K = 3
#: The errors of ``specbench classify`` (the name callers used before specbench.evaluation.runs had it).
ClassifyError = RunError


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
    from specbench.data.preprocess import normalise

    n_points = run.n_points
    span_given = grid is not None  # what values without x span: only --grid says
    grid = check_grid(grid, "grid") if grid is not None else run.grid
    # a run on your own axis knows where its points lie: --grid only says what values without
    # x span, and every spectrum goes onto the model's axis
    on_axis = run.axis is not None
    positions = model_positions(n_points, run.grid if on_axis else grid)
    parts, sources, rows, notes = [], [], [], []
    for block in blocks:
        y = model_input(block.y, source=block.source)  # every value finite in float32
        if block.x is not None:
            y = resample(
                block.x,
                block.y,
                positions,
                source=block.source,
                grid_given=span_given and not on_axis,
            )
        elif on_axis and span_given:
            y = _values_onto_axis(run, block, grid, positions)
        elif y.shape[1] != n_points:
            if not span_given:  # a run's axis is the model's grid, not the range they span
                raise RunError(
                    f"{block.source}: spectra have {y.shape[1]} points, the model takes "
                    f"{n_points}; give their x values (an x,y file) or --grid START,STOP (the x "
                    "range they span) to resample them"
                )
            own = np.linspace(grid[0], grid[1], y.shape[1])
            y = resample(own, block.y, positions, source=block.source)
        y = np.asarray(y, dtype=np.float32)
        flat = ~(y.max(axis=1) > 0)
        if flat.any():
            row = int(np.flatnonzero(flat)[0])
            what = "all zero" if not y[row].any() else "without any positive value"
            raise RunError(
                f"{block.source}: spectrum in row {row} is {what} on the model's grid "
                "(it cannot be normalised as in training)"
            )
        if block.labels is not None:
            check_labels(block.labels, run, source=block.source)
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


def _values_onto_axis(run: Run, block: Block, grid: tuple[float, float], positions):
    """Values without x of a run on its own axis, spanning `grid` (--grid) evenly, resampled
    onto the model's axis (`positions`); RunError naming the file if `grid` does not cover it."""
    lo, hi = sorted(grid)
    start, stop = run.grid
    tolerance = 1e-9 * max(abs(hi - lo), abs(stop - start))
    if lo > min(start, stop) + tolerance or hi < max(start, stop) - tolerance:
        raise RunError(
            f"{block.source}: --grid {grid[0]:g},{grid[1]:g} (what its values span) does not "
            f"cover the model's axis {start:g}..{stop:g} {run.axis.get('unit', '')}".rstrip()
        )
    own = np.linspace(grid[0], grid[1], block.y.shape[1])
    return resample(own, block.y, positions, source=block.source)


def _dataset_warnings(run: Run, block: Block) -> list[str]:
    """Warnings when a split's dataset or class definition (its hash) differ from the run's."""
    notes = []
    for key in ("dataset", "classes_hash"):
        theirs, ours = block.metadata.get(key), run.info.get(key)
        if theirs and ours and theirs != ours:
            notes.append(
                f"{block.source}: {key} {theirs!r} differs from the model's {ours!r} "
                f"({run.info_path}); its class indices may mean other classes"
            )
    return notes


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
        raise RunError(f"--top-k {top!r} must be an integer from 1 to {n_classes} (the classes)")
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
    trust_user_code: bool = False,
) -> Result:
    """Predict the classes of the spectra in `spectra` (files) with the trained `run`.

    `top`: how many classes per spectrum the table lists; `grid`: (start, stop), see the module
    docstring; `backend`: Keras backend to run on (default: the run's). Raises RunError.
    """
    import pandas as pd

    run = run if isinstance(run, Run) else load_run(run)
    top = _check_top_k(top, run.n_classes)
    prepared = prepare(run, read_spectra(spectra), grid=grid)
    probabilities = infer(
        run,
        prepared.x,
        backend=backend,
        threads=threads,
        batch_size=batch_size,
        trust_user_code=trust_user_code,
    ).probabilities
    bad = ~np.isfinite(probabilities).all(axis=1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise RunError(
            f"{prepared.source[i]}: the model's probabilities for the spectrum in row "
            f"{int(prepared.row[i])} are not finite ({run.model_path})"
        )
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
    names = run.class_names
    if names is not None:  # your own phases: their names beside the indices
        columns["predicted_name"] = [names[k] for k in classes[:, 0]]
    for i in range(top):
        columns[f"class_{i + 1}"] = classes[:, i]
        if names is not None:
            columns[f"name_{i + 1}"] = [names[k] for k in classes[:, i]]
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
