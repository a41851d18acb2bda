"""Readers of the user's spectrum files (``specbench classify``): text, XRDML, NPY, Parquet.

:func:`read_spectra` reads one or more files, formats by suffix (:data:`SPECTRA_FORMATS`):

- ``.parquet``: a split written by this workflow (``specbench.data.splits.read_split``); its labels
  give an accuracy, its ``variant`` column is copied to the output;
- ``.npy``: a numeric array, one spectrum (1-D or one column) or one spectrum per row (2-D);
- ``.csv`` (commas), ``.tsv`` (tabs), ``.txt``, ``.xy``, ``.dat`` (whitespace, tabs, commas or
  semicolons, as the first data line has them): the text exports of diffractometers and Raman
  or NMR software. Decimal commas (``10,5;123,4``, ``10,5<tab>123,4``, also in a ``.csv``) are
  read when the first row of numbers has them: a row without a point that is numbers once its
  commas are points, split at semicolons, tabs or whitespace. Comment lines (starting with ``#``, ``;``, ``!``, ``%``, ``'`` or ``//``) and
  blank lines are skipped; one header line is allowed before the data, a line none of whose
  fields is a number (a numeric first line is data, never a header); any other line that is not
  a row of numbers, a row with another count of values or with NaN or infinite values, is
  refused naming the file and the line (comments, blank lines and the header counted). A file
  with exactly two columns is **one spectrum as x,y pairs**, a file with one column (one
  intensity per line) **one spectrum of values**; any other holds one spectrum per
  row (values only, no index column), except that more rows than columns with a first column
  running strictly up or down (x, y, error; x and several y) is refused;
- ``.xrdml``: the XML scans of Malvern Panalytical diffractometers, one x,y spectrum per scan
  (:func:`_read_xrdml`): x the 2θ positions, y the counts per second, beam attenuation undone.

Each file becomes one :class:`Block` (an XRDML file whose scans differ in 2θ one per scan;
values as read, float64; checking them against the model is
:func:`specbench.cli.classify.prepare`'s). Unreadable or empty files are
:class:`specbench.evaluation.runs.RunError`, one line naming the file.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from specbench.core.inputs import is_number
from specbench.evaluation.runs import RunError

__all__ = ["SPECTRA_FORMATS", "Block", "read_spectra"]

#: Spectrum file suffixes (lower case) and what they hold.
SPECTRA_FORMATS = {
    ".csv": "one spectrum per row, or one x,y spectrum (two columns), or one column of values",
    ".tsv": "the same, tab-separated",
    ".txt": "the same, separated by whitespace, tabs, commas or semicolons (instrument exports)",
    ".xy": "as .txt (diffractometer exports: 2-theta and intensity)",
    ".dat": "as .txt",
    ".xrdml": "Malvern Panalytical XML scans: 2-theta and intensity, one spectrum per scan",
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


def _split(text: str, delimiter: str | None) -> list[str]:
    """The fields of a line (a trailing delimiter ends the last field, it makes no empty one)."""
    fields = _fields(text, delimiter)
    if len(fields) > 1 and fields[-1] == "":
        fields.pop()
    return fields


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
    that is neither, or has NaN or infinite values, is refused in one line naming the file and
    the line."""
    data = path.read_bytes()
    if b"\0" in data:
        raise RunError(f"{path}: not a text file")
    try:  # utf-8-sig: a byte-order mark is not part of the first line
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:  # an instrument's Windows export (° in a comment or header)
        text = data.decode("latin-1")
    lines = text.splitlines()
    rows: list[list[float]] = []
    header_seen = decimal_comma = False
    for number, line in enumerate(lines, start=1):
        text = shown = line.strip()
        if not text or text.startswith(COMMENT_PREFIXES):
            continue
        if decimal_comma:
            text = text.replace(",", ".")
        split_by = _sniff(text) if delimiter == "sniff" else delimiter
        fields = _split(text, split_by)
        numeric = [is_number(field) for field in fields]
        if not all(numeric) and not rows and "," in text and "." not in text:
            # decimal commas (European exports: "10,5;123,4", "10,5<tab>123,4"): the first row
            # of numbers decides, its commas made points, split at semicolons, tabs or spaces
            points = text.replace(",", ".")
            by = _sniff(points)
            if all(is_number(field) for field in _split(points, by)):
                decimal_comma, text, split_by = True, points, by
                fields = _split(text, split_by)
                numeric = [True] * len(fields)
        if all(numeric):
            if rows and len(fields) != len(rows[0]):
                raise RunError(
                    f"{path}: line {number} has {len(fields)} values, the lines before "
                    f"{len(rows[0])}"
                )
            values = [float(field) for field in fields]
            if not all(map(math.isfinite, values)):  # later, "spectrum in row 0" named no line
                raise RunError(f"{path}: line {number} has NaN or infinite values: {shown[:60]!r}")
            rows.append(values)
            delimiter = split_by  # the first row of numbers fixes the delimiter
            continue
        if not rows and not header_seen and not any(numeric):
            header_seen = True  # column names
            continue
        raise RunError(f"{path}: line {number} is not a row of numbers: {shown[:60]!r}")
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
    _refuse_columns(path, data)
    return Block(source=str(path), y=data)


def _refuse_columns(path: Path, data: np.ndarray) -> None:
    """RunError for rows of values that are columns: more rows than columns and a first column
    running strictly up or down is an x column (x, y, error of an .xye export; x and several
    y), not the first point of hundreds of spectra of a few points each."""
    n_rows, n_columns = data.shape
    steps = np.diff(data[:, 0])
    if n_rows > n_columns and ((steps > 0).all() or (steps < 0).all()):
        raise RunError(
            f"{path}: {n_rows} rows of {n_columns} values whose first column runs from "
            f"{data[0, 0]:g} to {data[-1, 0]:g}: columns x, y, ... (x, y, error?) are not read; "
            "keep the x and y columns (one x,y spectrum) or write one spectrum per row"
        )


def _read_csv(path: Path) -> Block:
    return _read_text(path, ",")


def _read_tsv(path: Path) -> Block:
    return _read_text(path, "\t")


def _xml_name(element) -> str:
    """An element's tag without its XML namespace (XRDML files have several versions' own)."""
    return element.tag.rsplit("}", 1)[-1]


def _xml_children(element, name: str) -> list:
    """The children of `element` named `name`, whatever the XML namespace."""
    return [child for child in element if _xml_name(child) == name]


def _xml_numbers(element, what: str) -> np.ndarray:
    try:
        return np.array((element.text or "").split(), dtype=np.float64)
    except ValueError:
        raise RunError(f"{what}: <{_xml_name(element)}> holds a non-number") from None


def _xrdml_scan(scan, what: str) -> tuple[np.ndarray, np.ndarray]:
    """x (2θ) and y (counts per second) of one XRDML <scan>.

    y: ``<intensities>`` as given (already corrected for the beam attenuator), or the raw
    ``<counts>`` of XRDML 2.x multiplied by their ``<beamAttenuationFactors>`` (or
    ``<commonBeamAttenuationFactor>``); divided by the counting time (``<countingTimes>`` per
    point or ``<commonCountingTime>``). x: the 2θ axis's ``<listPositions>``, or
    ``<startPosition>``..``<endPosition>`` evenly over the points."""
    points, *_ = _xml_children(scan, "dataPoints") or [None]
    if points is None:
        raise RunError(f"{what}: no <dataPoints>")
    values = _xml_children(points, "intensities") or _xml_children(points, "counts")
    if not values:
        raise RunError(f"{what}: no <intensities> or <counts>")
    y = _xml_numbers(values[0], what)
    if not y.size:
        raise RunError(f"{what}: no intensities (an empty scan)")
    factors = []
    if _xml_name(values[0]) == "counts":  # raw counts: the attenuation not yet undone
        factors = _xml_children(points, "beamAttenuationFactors") or _xml_children(
            points, "commonBeamAttenuationFactor"
        )
    times = _xml_children(points, "countingTimes") or _xml_children(points, "commonCountingTime")
    for element, name, operation in (
        (factors, "attenuation factors", np.multiply),
        (times, "counting times", np.divide),
    ):
        if element:
            numbers = _xml_numbers(element[0], what)
            if numbers.size not in (1, y.size) or not (numbers > 0).all():
                raise RunError(
                    f"{what}: {numbers.size} {name} for {y.size} points, or one not positive"
                )
            y = operation(y, numbers)
    axes = {el.get("axis"): el for el in _xml_children(points, "positions")}
    if "2Theta" not in axes:
        raise RunError(f"{what}: no 2Theta positions (axes: {', '.join(map(str, axes)) or 'none'})")
    axis = axes["2Theta"]
    listed = _xml_children(axis, "listPositions")
    start, end = _xml_children(axis, "startPosition"), _xml_children(axis, "endPosition")
    if listed:
        x = _xml_numbers(listed[0], what)
        if x.size != y.size:
            raise RunError(f"{what}: {x.size} 2Theta positions for {y.size} intensities")
    elif start and end:
        first, last = _xml_numbers(start[0], what), _xml_numbers(end[0], what)
        if first.size != 1 or last.size != 1:
            raise RunError(f"{what}: the 2Theta start or end position is not one number")
        x = np.linspace(first[0], last[0], y.size)
    else:  # a fixed 2θ (a rocking curve over omega): not a powder pattern
        raise RunError(
            f"{what}: 2Theta does not move in this scan (scan axis {scan.get('scanAxis')!r})"
        )
    if y.size < 2:
        raise RunError(f"{what}: an x,y spectrum needs at least two points")
    return x, y


def _read_xrdml(path: Path) -> list[Block]:
    """The scans of an XRDML file (Malvern Panalytical's XML): one x,y spectrum per ``<scan>``
    (:func:`_xrdml_scan`); scans on one 2θ axis form one Block (a row per scan), otherwise each
    scan is a Block of its own, its source ``FILE[scan K]`` (K from 1)."""
    import xml.etree.ElementTree as ElementTree

    try:
        root = ElementTree.parse(path).getroot()
    except (ElementTree.ParseError, OSError) as exc:
        raise RunError(f"{path}: not a readable XRDML file ({exc})") from None
    scans = [el for el in root.iter() if _xml_name(el) == "scan"]
    if not scans:
        raise RunError(f"{path}: no <scan> (not an XRDML measurement)")
    many = len(scans) > 1
    parsed = [
        _xrdml_scan(scan, f"{path} (scan {k})" if many else str(path))
        for k, scan in enumerate(scans, start=1)
    ]
    x0 = parsed[0][0]
    if all(x.shape == x0.shape and np.array_equal(x, x0) for x, _ in parsed):
        return [Block(source=str(path), y=np.stack([y for _, y in parsed]), x=x0)]
    return [
        Block(source=f"{path}[scan {k}]", y=y[None, :], x=x)
        for k, (x, y) in enumerate(parsed, start=1)
    ]


def _read_npy(path: Path) -> Block:
    try:
        with open(path, "rb") as handle:
            magic = handle.read(6)
    except OSError as exc:
        raise RunError(f"{path}: not a readable .npy file ({exc.strerror})") from None
    if magic != b"\x93NUMPY":  # np.load would speak of pickled data and allow_pickle
        raise RunError(f"{path}: not a .npy file (no NumPy header; text: .csv, .txt, ...)")
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
    ".xrdml": _read_xrdml,
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
        read = reader(path)
        blocks += read if isinstance(read, list) else [read]
    return blocks
