"""Readers of the user's spectrum files (``specbench classify``): CSV, NPY and Parquet.

:func:`read_spectra` reads one or more files, formats by suffix (:data:`SPECTRA_FORMATS`):

- ``.parquet``: a split written by this workflow (``specbench.data.splits.read_split``); its labels
  give an accuracy, its ``variant`` column is copied to the output;
- ``.npy``: a numeric array, one spectrum (1-D) or one spectrum per row (2-D);
- ``.csv``: comma-separated numbers, optionally after one header line (any non-numeric cell makes
  the first line a header) and ``#`` comment lines. A CSV with exactly two columns is **one
  spectrum as x,y pairs**; any other CSV holds one spectrum per row (values only, no index column).

Each file becomes one :class:`Block` (values as read, float64; checking them against the model
is :func:`specbench.cli.classify.prepare`'s). Unreadable or empty files are
:class:`specbench.evaluation.runs.RunError`, one line naming the file.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from specbench.evaluation.runs import RunError

__all__ = ["SPECTRA_FORMATS", "Block", "read_spectra"]

#: Spectrum file suffixes (lower case) and what they hold.
SPECTRA_FORMATS = {
    ".csv": "one spectrum per row, or one x,y spectrum (two columns)",
    ".npy": "one spectrum (1-D) or one per row (2-D)",
    ".parquet": "a split written by this workflow",
}


@dataclass
class Block:
    """Spectra read from one file: `y` [n, m]; `x` [m] (x,y files) or None (values only)."""

    source: str
    y: np.ndarray
    x: np.ndarray | None = None
    labels: np.ndarray | None = None
    variant: np.ndarray | None = None
    metadata: dict[str, str] = field(default_factory=dict)


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
        raise RunError(f"{path}: not a text CSV file") from None
    if first is None:
        raise RunError(f"{path}: empty file (no spectra)")
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
        raise RunError(f"{path}: not a text CSV file") from None
    except ValueError as exc:
        raise RunError(f"{path}: not a CSV of numbers ({exc})") from None
    if data.size == 0:
        raise RunError(f"{path}: no spectra (only a header)")
    if data.shape[1] == 2:  # one spectrum as x,y pairs
        x, y = data[:, 0], data[:, 1]
        if len(x) < 2:
            raise RunError(f"{path}: an x,y spectrum needs at least two points")
        return Block(source=str(path), y=y[None, :], x=x)
    return Block(source=str(path), y=data)


def _read_npy(path: Path) -> Block:
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise RunError(f"{path}: not a readable .npy file ({exc})") from None
    if not isinstance(data, np.ndarray) or data.dtype.kind not in "fiu":
        raise RunError(f"{path}: not a numeric array (dtype {getattr(data, 'dtype', '?')})")
    if data.ndim not in (1, 2):
        raise RunError(f"{path}: array of shape {data.shape}; expected [points] or [n, points]")
    data = np.atleast_2d(data).astype(np.float64, copy=False)
    if data.size == 0:
        raise RunError(f"{path}: no spectra (array of shape {data.shape})")
    return Block(source=str(path), y=data)


def _read_parquet(path: Path) -> Block:
    from specbench.data.splits import SplitError, read_split

    try:
        split = read_split(path)
    except SplitError as exc:
        raise RunError(str(exc)) from None
    if len(split) == 0:
        raise RunError(f"{path}: no spectra (0 rows)")
    return Block(
        source=str(path),
        y=split.spectra,
        labels=split.labels,
        variant=split.variant,
        metadata=split.metadata,
    )


_READERS = {".csv": _read_csv, ".npy": _read_npy, ".parquet": _read_parquet}
assert _READERS.keys() == SPECTRA_FORMATS.keys()


def read_spectra(paths: Sequence[str | os.PathLike] | str | os.PathLike) -> list[Block]:
    """One Block per file (formats in the module docstring); RunError naming a bad file."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    if not paths:
        raise RunError("no spectrum files given")
    blocks = []
    for path in map(Path, paths):
        reader = _READERS.get(path.suffix.lower())
        if reader is None:
            raise RunError(
                f"{path}: unknown spectrum format {path.suffix or '(no suffix)'!r} "
                f"(known: {', '.join(SPECTRA_FORMATS)})"
            )
        if not path.is_file():
            raise RunError(f"{path}: no such file")
        blocks.append(reader(path))
    return blocks
