"""The models' input: a split's spectra, checked and max-normalised.

:func:`normalise` is the one normalisation of training, evaluation and ``specbench classify``;
:func:`load_split` reads a split (:mod:`specbench.data.splits`) and returns it ready for a model.
"""

from __future__ import annotations

import os

import numpy as np

from specbench.data.splits import read_arrays


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


def load_split(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(normalised float32 spectra [n, points], int32 labels [n]) of one split file.

    Raises SplitError for a missing/truncated/wrong-schema file and DataError naming the file
    for non-finite spectra or negative labels.
    """
    x, y = read_arrays(path)
    if x.ndim != 2 or len(x) == 0:
        raise DataError(f"{path}: no spectra (shape {x.shape})")
    if not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
        raise DataError(f"{path}: spectrum in row {bad} has non-finite values")
    if y.min() < 0:
        raise DataError(f"{path}: negative label {int(y.min())}")
    return normalise(x, inplace=True), np.asarray(y, dtype=np.int32)
