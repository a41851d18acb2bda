"""Parquet split files: one row per spectrum, described once by :data:`COLUMNS`.

:data:`COLUMNS` drives the schema (:func:`schema`), the writer (:class:`SplitWriter`,
:func:`write_split`), the schema check of every reader (:func:`read_split`, :func:`read_arrays`,
:func:`read_columns`, the figures' reader) and what they return (:class:`Split`).

File metadata: ``dataset``, ``config_hash``, ``specbench_version``, ``split``, ``n_points``
(strings). Splits rendered with measurement artifacts (specbench.data.artifacts) have ARTIFACTS'
columns after BASE's, from which every row is re-rendered (data.render.plan_from_split); others not.
Splits whose peaks have their own widths (X-ray crystallite-size broadening, specbench.data.xrd)
have the PEAK_WIDTHS column last: every peak's Gaussian width, ``sigma`` then the row's instrument
width that they include.

Writer settings (WRITE_OPTIONS), measured with ``benchmarks/render.py --writers`` on the
paper-scale set (34,500 x 5000 points = 690 MB of float32, mostly zeros between peaks): LZ4 makes
the files 16 MB instead of 691 MB, writes faster than no compression and reads about as fast
(zstd(1) a little smaller but slower to read, snappy 2.7x larger). Dictionary encoding only for
``variant`` (on the float columns it halves write speed), statistics only for ``label`` and
``sigma``. Row groups of ROW_GROUP_ROWS spectra (40 MB at 5000 points) let render_spectra stream
a split block by block. Readers use ParquetFile.read, which returns the spectrum column as one
chunk, so read_arrays hands it to numpy without a copy (the array is writable).
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from specbench import __version__
from specbench.data.artifacts import Artifacts
from specbench.data.columns import (  # noqa: F401 (SplitError: public here too)
    Column,
    SplitError,
    accepts,
    arrow_array,
    arrow_type,
    read_values,
)
from specbench.core.atomic import atomic_path

ROW_GROUP_ROWS = 2048
WRITE_OPTIONS = {
    "compression": "lz4",
    "use_dictionary": ["variant"],
    "write_statistics": ["label", "sigma"],
}


#: Every split has these columns, in this order.
BASE = (
    Column("label", "int32", "labels"),
    Column("spectrum", "fixed_size_list<float32>", "spectra"),
    # the row's rendered peaks (when two share a position, the later one is the one rendered)
    Column("peak_positions", "list<int32>", "peak_positions"),
    Column("peak_heights", "list<float32>", "peak_heights"),
    Column("sigma", "float32", "sigma"),  # Gaussian width in points
    # "random" for train/val, e.g. "shift=-30,height=+0.04" for test
    Column("variant", "string", "variant"),
)
#: A split rendered with measurement artifacts has these after BASE (Artifacts' fields).
ARTIFACTS = (
    Column("shape", "string", "shape"),
    Column("eta", "float32", "eta"),
    Column("noise", "string", "noise"),  # none, gaussian, poisson
    Column("noise_level", "float32", "noise_level"),  # SNR or counts at the peak maximum
    Column("noise_seed", "int64", "noise_seed"),
    Column("background", "list<float32>", "background"),  # relative polynomial coefficients
    Column("exp_amplitude", "float32", "exp_amplitude"),
    Column("exp_decay", "float32", "exp_decay"),
)
#: A split whose every peak has its own width has this column last (widths in points, one per
#: entry of peak_positions).
PEAK_WIDTHS = (Column("peak_sigma", "list<float32>", "peak_sigma"),)
COLUMNS = {column.name: column for column in (*BASE, *ARTIFACTS, *PEAK_WIDTHS)}
BASE_COLUMNS = tuple(column.name for column in BASE)
ARTIFACT_COLUMNS = tuple(column.name for column in ARTIFACTS)
PEAK_WIDTH_COLUMNS = tuple(column.name for column in PEAK_WIDTHS)


def schema(n_points: int, artifacts: bool = False, peak_sigma: bool = False) -> pa.Schema:
    """The Arrow schema of a split with spectra of n_points points (+ ARTIFACT_COLUMNS, +
    PEAK_WIDTH_COLUMNS)."""
    columns = (*BASE, *(ARTIFACTS if artifacts else ()), *(PEAK_WIDTHS if peak_sigma else ()))
    return pa.schema(
        [pa.field(c.name, arrow_type(c.kind, n_points), nullable=False) for c in columns]
    )


@dataclass
class Split:
    """One split read back: spectra float32 [n, points], labels int32 [n], and per-row details."""

    spectra: np.ndarray
    labels: np.ndarray
    sigma: np.ndarray
    variant: np.ndarray  # object array of str
    peak_positions: list[np.ndarray]
    peak_heights: list[np.ndarray]
    metadata: dict[str, str] = field(default_factory=dict)
    artifacts: Artifacts | None = None  # per-row artifact parameters, when the file has them
    peak_sigma: list[np.ndarray] | None = None  # every peak's width, when the file has them

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def n_points(self) -> int:
        return int(self.spectra.shape[1])


def _table(
    values: Mapping[str, Any],
    arrow_schema: pa.Schema,
    artifacts: Artifacts | None = None,
    peak_sigma: Sequence[np.ndarray] | None = None,
):
    """The rows of `values` (BASE attr -> values), `artifacts` and `peak_sigma` as a table of
    `arrow_schema`."""
    spectra = np.ascontiguousarray(values["spectra"], dtype=np.float32)
    if spectra.ndim != 2:
        raise ValueError(f"spectra must be 2-D [rows, points], got shape {spectra.shape}")
    n_rows, n_points = spectra.shape
    lengths = {c.attr: len(values[c.attr]) for c in BASE if c.attr != "spectra"}
    if artifacts is not None:
        lengths["artifacts"] = len(artifacts)
    if peak_sigma is not None:
        lengths["peak_sigma"] = len(peak_sigma)
    for key, length in lengths.items():
        if length != n_rows:
            raise ValueError(f"{key} has {length} rows but spectra has {n_rows}")
    has_artifacts = ARTIFACTS[0].name in arrow_schema.names
    if has_artifacts != (artifacts is not None):
        raise ValueError(
            "artifacts must be given exactly when the writer was opened with artifacts=True"
        )
    if (PEAK_WIDTHS[0].name in arrow_schema.names) != (peak_sigma is not None):
        raise ValueError("peak_sigma must be given exactly when the writer has peak_sigma=True")
    values = {**values, "spectra": spectra}
    arrays = [arrow_array(c, values[c.attr], n_points) for c in BASE]
    if artifacts is not None:
        arrays += [arrow_array(c, getattr(artifacts, c.attr), n_points) for c in ARTIFACTS]
    if peak_sigma is not None:
        arrays.append(arrow_array(PEAK_WIDTHS[0], peak_sigma, n_points))
    return pa.Table.from_arrays(arrays, schema=arrow_schema)


class SplitWriter:
    """Stream a split to Parquet in blocks of rows (a context manager).

    The file is written next to `path` and renamed into place on a clean exit, so a killed or
    failed job leaves no truncated split behind. `metadata` values become strings (JSON unless
    they are strings already); specbench_version and n_points are added. write_options override
    WRITE_OPTIONS (pyarrow.parquet.ParquetWriter keywords). With artifacts=True the file has
    ARTIFACT_COLUMNS and every write() must pass `artifacts`; with peak_sigma=True likewise
    PEAK_WIDTH_COLUMNS and `peak_sigma`.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        n_points: int,
        metadata: Mapping[str, object] | None = None,
        artifacts: bool = False,
        peak_sigma: bool = False,
        **write_options,
    ) -> None:
        self.path = Path(path)
        self.n_points = int(n_points)
        meta = {"specbench_version": __version__, "n_points": str(self.n_points)}
        for key, value in (metadata or {}).items():
            meta[str(key)] = value if isinstance(value, str) else json.dumps(value)
        self.schema = schema(self.n_points, artifacts, peak_sigma).with_metadata(meta)
        self.options = {**WRITE_OPTIONS, **write_options}
        if artifacts and isinstance(self.options.get("use_dictionary"), list):
            self.options["use_dictionary"] = [*self.options["use_dictionary"], "shape", "noise"]
        self.row_group_size = self.options.pop("row_group_size", ROW_GROUP_ROWS)
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None
        self._target: contextlib.ExitStack | None = None

    def __enter__(self) -> SplitWriter:
        # written to a temporary sibling, renamed to `path` when the block succeeds
        self._target = contextlib.ExitStack()
        tmp = self._target.enter_context(atomic_path(self.path))
        self._writer = pq.ParquetWriter(tmp, self.schema, **self.options)
        return self

    def write(
        self,
        *,
        spectra: np.ndarray,
        labels: np.ndarray,
        peak_positions: Sequence[np.ndarray],
        peak_heights: Sequence[np.ndarray],
        sigma: np.ndarray,
        variant: Sequence[str],
        artifacts: Artifacts | None = None,
        peak_sigma: Sequence[np.ndarray] | None = None,
    ) -> None:
        """Append rows (one keyword per BASE column, its ``attr``; see the module docstring)."""
        if self._writer is None:
            raise RuntimeError("SplitWriter.write outside its `with` block")
        if np.ndim(spectra) != 2 or np.shape(spectra)[1] != self.n_points:
            raise ValueError(
                f"spectra must be [rows, {self.n_points}], got shape {np.shape(spectra)}"
            )
        values = dict(spectra=spectra, labels=labels, peak_positions=peak_positions)
        values.update(peak_heights=peak_heights, sigma=sigma, variant=variant)
        table = _table(values, self.schema, artifacts, peak_sigma)
        self._writer.write_table(table, row_group_size=self.row_group_size)
        self.rows += len(table)

    def __exit__(self, exc_type, exc, tb) -> None:
        writer, self._writer = self._writer, None
        target, self._target = self._target, None
        try:
            if writer is not None:
                writer.close()
        except BaseException:
            if target is not None:
                target.__exit__(*sys.exc_info())
            raise
        if target is not None:
            target.__exit__(exc_type, exc, tb)


def write_split(
    path: str | os.PathLike,
    *,
    metadata: Mapping[str, object] | None = None,
    artifacts: Artifacts | None = None,
    peak_sigma: Sequence[np.ndarray] | None = None,
    **columns_and_options,
) -> None:
    """Write one whole split: one keyword per BASE column (its ``attr``: spectra, labels,
    peak_positions, peak_heights, sigma, variant), the rest as in SplitWriter."""
    values = {c.attr: columns_and_options.pop(c.attr) for c in BASE}
    spectra = values["spectra"]
    n_points = np.shape(spectra)[1] if np.ndim(spectra) == 2 else 0
    with SplitWriter(
        path,
        n_points,
        metadata=metadata,
        artifacts=artifacts is not None,
        peak_sigma=peak_sigma is not None,
        **columns_and_options,
    ) as writer:
        writer.write(**values, artifacts=artifacts, peak_sigma=peak_sigma)


def _open(path: str | os.PathLike) -> pq.ParquetFile:
    path = Path(path)
    if not path.is_file():
        raise SplitError(f"{path}: no such split file")
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise SplitError(f"{path}: not a readable Parquet file (truncated?): {exc}") from None


def _check_schema(path: str | os.PathLike, actual: pa.Schema, columns: Sequence[str]) -> None:
    """Check `columns` of `actual` against COLUMNS (SplitError names the file and the column)."""
    for name in columns:
        if name not in COLUMNS:
            raise SplitError(f"{path}: {name!r} is not a column of a split")
        want = COLUMNS[name].kind
        if name not in actual.names:
            raise SplitError(f"{path}: wrong schema: missing column {name!r} ({want})")
        got = actual.field(name).type
        if not accepts(want, got):
            raise SplitError(f"{path}: wrong schema: column {name!r} is {got}, expected {want}")


def _checked_schema(path: str | os.PathLike) -> tuple[pq.ParquetFile, pa.Schema]:
    pf = _open(path)
    try:
        return pf, pf.schema_arrow
    except (pa.ArrowException, OSError) as exc:
        raise SplitError(f"{path}: unreadable schema: {exc}") from None


def _read_table(
    path: str | os.PathLike, columns: Sequence[str], optional: Sequence[Sequence[str]] = ()
) -> tuple[pa.Table, dict]:
    """Read `columns`, and each group of `optional` too when the file has any of its columns
    (then all of them)."""
    pf, arrow_schema = _checked_schema(path)
    for group in optional:
        if any(name in arrow_schema.names for name in group):
            columns = [*columns, *group]
    _check_schema(path, arrow_schema, columns)
    try:
        table = pf.read(columns=list(columns), use_threads=True)
    except (pa.ArrowException, OSError) as exc:
        raise SplitError(f"{path}: cannot read (truncated or corrupt?): {exc}") from None
    return table, _metadata(arrow_schema)


def read_columns(
    path: str | os.PathLike, columns: Sequence[str], labels: Sequence[int] | None = None
) -> pa.Table:
    """`columns` of a split as an Arrow table, schema-checked; rows of `labels` only, if given
    (so the figures never load a paper-scale training split whole). SplitError as read_split."""
    _, arrow_schema = _checked_schema(path)
    _check_schema(path, arrow_schema, columns)
    filters = None if labels is None else [("label", "in", [int(v) for v in labels])]
    try:
        return pq.read_table(path, columns=list(columns), filters=filters)
    except (pa.ArrowException, OSError) as exc:
        raise SplitError(f"{path}: cannot read (truncated or corrupt?): {exc}") from None


def _metadata(arrow_schema: pa.Schema) -> dict[str, str]:
    raw = arrow_schema.metadata or {}
    return {k.decode(): v.decode() for k, v in raw.items() if k not in (b"ARROW:schema", b"pandas")}


def read_arrays(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(spectra float32 [n, points], labels int32 [n]) of a split: the fast path for training.

    Raises SplitError naming the file when it is missing, truncated or of the wrong schema.
    """
    table, _ = _read_table(path, ["label", "spectrum"])
    try:
        spectra = read_values(table, COLUMNS["spectrum"])
    except SplitError as exc:
        raise SplitError(f"{path}: {exc}") from None
    return spectra, read_values(table, COLUMNS["label"])


def read_split(path: str | os.PathLike) -> Split:
    """Every column of a split (see Split); SplitError on a missing/truncated/wrong file."""
    optional = (ARTIFACT_COLUMNS, PEAK_WIDTH_COLUMNS)
    table, metadata = _read_table(path, BASE_COLUMNS, optional=optional)
    try:
        values = {c.attr: read_values(table, c) for c in BASE}
        artifacts = _artifacts(table) if ARTIFACTS[0].name in table.column_names else None
        if PEAK_WIDTHS[0].name in table.column_names:
            values["peak_sigma"] = read_values(table, PEAK_WIDTHS[0])
    except SplitError as exc:
        raise SplitError(f"{path}: {exc}") from None
    return Split(**values, metadata=metadata, artifacts=artifacts)


def _artifacts(table: pa.Table) -> Artifacts:
    values = {c.attr: read_values(table, c) for c in ARTIFACTS}
    background = values["background"]
    degree = {len(row) for row in background}
    if len(degree) > 1:
        raise SplitError(f"background lists of different lengths {sorted(degree)}")
    values["background"] = np.stack(background) if background else np.zeros((0, 0), np.float32)
    return Artifacts(**values)


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The file metadata of a split (``dataset``, ``config_hash``, ...) without reading its rows.

    Raises SplitError naming the file when it is missing or not readable Parquet.
    """
    _, arrow_schema = _checked_schema(path)
    return _metadata(arrow_schema)
