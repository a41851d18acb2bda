"""The models' input: a split's spectra, checked and max-normalised.

:func:`normalise` is the one normalisation of training, evaluation and ``specbench classify``;
:func:`load_split` reads a split (:mod:`specbench.data.splits`) and returns it ready for a model.
"""

from __future__ import annotations

import os

import numpy as np

from specbench.data.splits import COLUMNS, read_arrays, read_columns


class DataError(ValueError):
    """Spectra that cannot be used (non-finite values, mismatched shapes or labels)."""


def normalise(spectra: np.ndarray, *, inplace: bool = False) -> np.ndarray:
    """Each spectrum (row) divided by its maximum, float32 (rows with max <= 0 are left as is).

    The models' input everywhere: training, evaluation and ``specbench classify``."""
    if inplace and isinstance(spectra, np.ndarray) and spectra.dtype == np.float32:
        x = spectra
    else:
        x = np.array(spectra, dtype=np.float32)
    peak = x.max(axis=1, keepdims=True)
    peak[~(peak > 0)] = 1.0
    np.divide(x, peak, out=x)
    return x


def load_split(path: str | os.PathLike, *, metadata: bool = False):
    """A split as the models see it: (spectra, labels), or (spectra, labels, metadata).

    - spectra: float32 [n, points], each row divided by its maximum (:func:`normalise`), exactly
      the arrays training, evaluation and ``specbench classify`` give a model;
    - labels: int32 [n], the class of each row (classes.json's order);
    - metadata (``metadata=True``): a pandas DataFrame, one row per spectrum in the same order,
      with every other column of the file: ``peak_positions``, ``peak_heights``, ``sigma``,
      ``variant`` (test variants, e.g. ``shift=-30,height=+0.04``) and, for splits rendered with
      measurement artifacts or X-ray size broadening, their columns (``peak_sigma``: every
      peak's width; :data:`specbench.data.splits.COLUMNS`).

    Raises SplitError for a missing/truncated/wrong-schema file and DataError naming the file
    for non-finite spectra or negative labels. The raw, unnormalised spectra and every column:
    :func:`specbench.data.splits.read_split`; docs/datasets.md has numpy and PyTorch examples.
    """
    x, y = read_arrays(path)
    if x.ndim != 2 or len(x) == 0:
        raise DataError(f"{path}: no spectra (shape {x.shape})")
    if not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
        raise DataError(f"{path}: spectrum in row {bad} has non-finite values")
    if y.min() < 0:
        raise DataError(f"{path}: negative label {int(y.min())}")
    x, y = normalise(x, inplace=True), np.asarray(y, dtype=np.int32)
    if not metadata:
        return x, y
    import pyarrow.parquet as pq

    present = pq.read_schema(path).names  # the file was read whole above: it is readable
    names = [name for name in present if name in COLUMNS and name not in ("label", "spectrum")]
    return x, y, read_columns(path, names).to_pandas()
