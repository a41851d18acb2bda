"""Readers of the user's spectrum files (``specbench classify``): text exports, NPY, Parquet.

:func:`read_spectra` reads one or more files, formats by suffix (:data:`SPECTRA_FORMATS`):

- ``.parquet``: a split written by this workflow (``specbench.data.splits.read_split``); its labels
  give an accuracy, its ``variant`` column is copied to the output;
- ``.npy``: a numeric array, one spectrum (1-D or one column) or one spectrum per row (2-D);
- ``.csv`` (commas), ``.tsv`` (tabs), ``.txt``, ``.xy``, ``.dat`` (whitespace, tabs, commas or
  semicolons, as the first data line has them): the text exports of diffractometers and Raman
  or NMR software. Comment lines (starting with ``#``, ``;``, ``!``, ``%``, ``'`` or ``//``) and
  blank lines are skipped; one header line is allowed before the data, a line none of whose
  fields is a number (a numeric first line is data, never a header); any other line that is not
  a row of numbers, or a row with another count of values, is refused naming the file and the
  line. A file with exactly two columns is **one spectrum as x,y pairs**, a file with one
  column (one intensity per line) **one spectrum of values**; any other holds one spectrum per
  row (values only, no index column).

Each file becomes one :class:`Block` (values as read, float64; checking them against the model
is :func:`specbench.cli.classify.prepare`'s). Unreadable or empty files are
:class:`specbench.evaluation.runs.RunError`, one line naming the file.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from specbench.evaluation.runs import RunError

__all__ = ["SPECTRA_FORMATS", "Block", "read_spectra"]

#: Spectrum file suffixes (lower case) and what they hold.
SPECTRA_FORMATS = {
    ".csv": "one spectrum per row, or one x,y spectrum (two columns), or one column of values",
    ".tsv": "the same, tab-separated",
    ".txt": "the same, separated by whitespace, tabs, commas or semicolons (instrument exports)",
    ".xy": "as .txt (diffractometer exports: 2-theta and intensity)",
    ".dat": "as .txt",
    ".npy": "one spectrum (1-D or one column) or one per row (2-D)",
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


#: A line starting with one of these is a comment (instrument exports put their settings there).
COMMENT_PREFIXES = ("#", ";", "!", "%", "'", "//")


def _fields(text: str, delimiter: str | None) -> list[str]:
    parts = text.split(delimiter) if delimiter else text.split()
    return [part.strip() for part in parts]


def _sniff(text: str) -> str | None:
    """The delimiter of a text line: a comma, a semicolon or a tab where there is one, else any
    run of whitespace (None)."""
    for delimiter in (",", ";", "\t"):
        if delimiter in text:
            return delimiter
    return None


def _read_text(path: Path, delimiter: str | None = "sniff") -> Block:
    """A text file of numbers: comment lines (COMMENT_PREFIXES) and blank lines skipped, at most
    one header line (the first other line, when none of its fields is a number), then rows of
    numbers with one count of fields. A numeric first line is data, never a header; a line
    that is neither is refused in one line naming the file and the line."""
    data = path.read_bytes()
    if b"\0" in data:
        raise RunError(f"{path}: not a text file")
    try:  # utf-8-sig: a byte-order mark is not part of the first line
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:  # an instrument's Windows export (° in a comment or header)
        text = data.decode("latin-1")
    lines = text.splitlines()
    rows: list[list[float]] = []
    header_seen = False
    for number, line in enumerate(lines, start=1):
        text = line.strip()
        if not text or text.startswith(COMMENT_PREFIXES):
            continue
        split_by = _sniff(text) if delimiter == "sniff" else delimiter
        fields = _fields(text, split_by)
        if len(fields) > 1 and fields[-1] == "":  # a trailing delimiter
            fields.pop()
        numeric = [_is_number(field) for field in fields]
        if all(numeric):
            if rows and len(fields) != len(rows[0]):
                raise RunError(
                    f"{path}: line {number} has {len(fields)} values, the lines before "
                    f"{len(rows[0])}"
                )
            rows.append([float(field) for field in fields])
            delimiter = split_by  # the first row of numbers fixes the delimiter
            continue
        if not rows and not header_seen and not any(numeric):
            header_seen = True  # column names
            continue
        raise RunError(f"{path}: line {number} is not a row of numbers: {text[:60]!r}")
    if not rows:
        raise RunError(f"{path}: no spectra (no rows of numbers)")
    data = np.asarray(rows, dtype=np.float64)
    if data.shape[1] == 2:  # one spectrum as x,y pairs
        x, y = data[:, 0], data[:, 1]
        if len(x) < 2:
            raise RunError(f"{path}: an x,y spectrum needs at least two points")
        return Block(source=str(path), y=y[None, :], x=x)
    if data.shape[1] == 1:  # one intensity per line: one spectrum (a spectrum of one value is none)
        return Block(source=str(path), y=data.T)
    return Block(source=str(path), y=data)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _read_csv(path: Path) -> Block:
    return _read_text(path, ",")


def _read_tsv(path: Path) -> Block:
    return _read_text(path, "\t")


def _read_npy(path: Path) -> Block:
    try:
        data = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise RunError(f"{path}: not a readable .npy file ({exc})") from None
    if not isinstance(data, np.ndarray) or data.dtype.kind not in "fiu":
        raise RunError(f"{path}: not a numeric array (dtype {getattr(data, 'dtype', '?')})")
    if data.ndim not in (1, 2):
        raise RunError(f"{path}: array of shape {data.shape}; expected [points] or [n, points]")
    if data.ndim == 2 and data.shape[1] == 1:  # a column: one spectrum
        data = data.T
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


_READERS = {
    ".csv": _read_csv,
    ".tsv": _read_tsv,
    ".txt": _read_text,
    ".xy": _read_text,
    ".dat": _read_text,
    ".npy": _read_npy,
    ".parquet": _read_parquet,
}
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
