"""Parquet split files: one row per spectrum, described once by :data:`COLUMNS`.

:data:`COLUMNS` drives the schema (:func:`schema`), the writer (:class:`SplitWriter`,
:func:`write_split`), the schema check of every reader (:func:`read_split`, :func:`read_arrays`,
:func:`read_columns`, the figures' reader) and what they return (:class:`Split`).

File metadata: ``dataset``, ``config_hash``, ``specbench_version``, ``split``, ``n_points``
(strings). Splits rendered with measurement artifacts (specbench.data.artifacts) have ARTIFACTS'
columns after BASE's, from which every row is re-rendered (data.render.plan_from_split); others not.

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
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from specbench import __version__
from specbench.data.artifacts import Artifacts
from specbench.core.atomic import atomic_path

ROW_GROUP_ROWS = 2048
WRITE_OPTIONS = {
    "compression": "lz4",
    "use_dictionary": ["variant"],
    "write_statistics": ["label", "sigma"],
}


class Column(NamedTuple):
    """One column of a split: its name, its kind (an Arrow type as written: ``int32``,
    ``float32``, ``int64``, ``string``, ``list<int32>``, ``list<float32>``,
    ``fixed_size_list<float32>``) and the name of its values in :meth:`SplitWriter.write` and
    :class:`Split` (base columns) or :class:`specbench.data.artifacts.Artifacts` (artifact columns).
    """

    name: str
    kind: str
    attr: str


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
COLUMNS = {column.name: column for column in (*BASE, *ARTIFACTS)}
BASE_COLUMNS = tuple(column.name for column in BASE)
ARTIFACT_COLUMNS = tuple(column.name for column in ARTIFACTS)

_SCALARS = {  # kind -> (Arrow type, numpy dtype); a list kind has its element's
    "int32": (pa.int32(), np.int32),
    "int64": (pa.int64(), np.int64),
    "float32": (pa.float32(), np.float32),
}


def _element(kind: str) -> str:
    return kind[kind.index("<") + 1 : -1]


class SplitError(ValueError):
    """A split file that is missing, truncated or not in the specbench schema (names the file)."""


def _arrow_type(kind: str, n_points: int) -> pa.DataType:
    """The Arrow type written for `kind`. List elements are non-nullable (named ``element`` as
    Parquet's LIST convention does), which spares the reader a definition level per point."""
    if kind == "string":
        return pa.string()
    if kind in _SCALARS:
        return _SCALARS[kind][0]
    element = pa.field("element", _SCALARS[_element(kind)][0], nullable=False)
    if kind.startswith("fixed_size_list<"):
        return pa.list_(element, n_points)
    return pa.list_(element)


def schema(n_points: int, artifacts: bool = False) -> pa.Schema:
    """The Arrow schema of a split with spectra of n_points points (+ ARTIFACT_COLUMNS)."""
    columns = (*BASE, *ARTIFACTS) if artifacts else BASE
    return pa.schema(
        [pa.field(c.name, _arrow_type(c.kind, n_points), nullable=False) for c in columns]
    )


def _accepts(kind: str, actual: pa.DataType) -> bool:
    """Whether a reader takes a column of type `actual` as `kind` (large/compliant variants of
    the types too)."""
    if kind == "string":
        return pa.types.is_string(actual) or pa.types.is_large_string(actual)
    if kind in _SCALARS:
        return actual == _SCALARS[kind][0]
    value = _SCALARS[_element(kind)][0]
    if kind.startswith("fixed_size_list<"):
        return pa.types.is_fixed_size_list(actual) and actual.value_type == value
    is_list = pa.types.is_list(actual) or pa.types.is_large_list(actual)
    return is_list and actual.value_type == value


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

    def __len__(self) -> int:
        return len(self.labels)

    @property
    def n_points(self) -> int:
        return int(self.spectra.shape[1])


def _list_array(items: Sequence[np.ndarray], dtype: type, pa_type: pa.DataType) -> pa.Array:
    lengths = np.fromiter((len(x) for x in items), dtype=np.int64, count=len(items))
    offsets = np.zeros(len(items) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    values = (
        np.concatenate([np.asarray(x, dtype=dtype) for x in items])
        if len(items)
        else np.zeros(0, dtype)
    )
    return pa.ListArray.from_arrays(pa.array(offsets), pa.array(values, type=pa_type))


def _array(column: Column, values: Any, n_points: int) -> pa.Array:
    if column.kind == "string":
        return pa.array(list(values), type=pa.string())
    if column.kind in _SCALARS:
        pa_type, dtype = _SCALARS[column.kind]
        return pa.array(np.asarray(values, dtype=dtype), type=pa_type)
    pa_type, dtype = _SCALARS[_element(column.kind)]
    if column.kind.startswith("fixed_size_list<"):
        flat = pa.array(np.asarray(values, dtype=dtype).reshape(-1), type=pa_type)
        return pa.FixedSizeListArray.from_arrays(flat, n_points)
    return _list_array(list(values), dtype, pa_type)


def _table(values: Mapping[str, Any], arrow_schema: pa.Schema, artifacts: Artifacts | None = None):
    """The rows of `values` (BASE attr -> values) and `artifacts` as a table of `arrow_schema`."""
    spectra = np.ascontiguousarray(values["spectra"], dtype=np.float32)
    if spectra.ndim != 2:
        raise ValueError(f"spectra must be 2-D [rows, points], got shape {spectra.shape}")
    n_rows, n_points = spectra.shape
    lengths = {c.attr: len(values[c.attr]) for c in BASE if c.attr != "spectra"}
    if artifacts is not None:
        lengths["artifacts"] = len(artifacts)
    for key, length in lengths.items():
        if length != n_rows:
            raise ValueError(f"{key} has {length} rows but spectra has {n_rows}")
    has_artifacts = ARTIFACTS[0].name in arrow_schema.names
    if has_artifacts != (artifacts is not None):
        raise ValueError(
            "artifacts must be given exactly when the writer was opened with artifacts=True"
        )
    values = {**values, "spectra": spectra}
    arrays = [_array(c, values[c.attr], n_points) for c in BASE]
    if artifacts is not None:
        arrays += [_array(c, getattr(artifacts, c.attr), n_points) for c in ARTIFACTS]
    return pa.Table.from_arrays(arrays, schema=arrow_schema)


class SplitWriter:
    """Stream a split to Parquet in blocks of rows (a context manager).

    The file is written next to `path` and renamed into place on a clean exit, so a killed or
    failed job leaves no truncated split behind. `metadata` values become strings (JSON unless
    they are strings already); specbench_version and n_points are added. write_options override
    WRITE_OPTIONS (pyarrow.parquet.ParquetWriter keywords). With artifacts=True the file has
    ARTIFACT_COLUMNS and every write() must pass `artifacts`.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        n_points: int,
        metadata: Mapping[str, object] | None = None,
        artifacts: bool = False,
        **write_options,
    ) -> None:
        self.path = Path(path)
        self.n_points = int(n_points)
        meta = {"specbench_version": __version__, "n_points": str(self.n_points)}
        for key, value in (metadata or {}).items():
            meta[str(key)] = value if isinstance(value, str) else json.dumps(value)
        self.schema = schema(self.n_points, artifacts=artifacts).with_metadata(meta)
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
        table = _table(values, self.schema, artifacts)
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
    **columns_and_options,
) -> None:
    """Write one whole split: one keyword per BASE column (its ``attr``: spectra, labels,
    peak_positions, peak_heights, sigma, variant), the rest as in SplitWriter."""
    values = {c.attr: columns_and_options.pop(c.attr) for c in BASE}
    spectra = values["spectra"]
    n_points = np.shape(spectra)[1] if np.ndim(spectra) == 2 else 0
    with SplitWriter(
        path, n_points, metadata=metadata, artifacts=artifacts is not None, **columns_and_options
    ) as writer:
        writer.write(**values, artifacts=artifacts)


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
        if not _accepts(want, got):
            raise SplitError(f"{path}: wrong schema: column {name!r} is {got}, expected {want}")


def _checked_schema(path: str | os.PathLike) -> tuple[pq.ParquetFile, pa.Schema]:
    pf = _open(path)
    try:
        return pf, pf.schema_arrow
    except (pa.ArrowException, OSError) as exc:
        raise SplitError(f"{path}: unreadable schema: {exc}") from None


def _read_table(
    path: str | os.PathLike, columns: Sequence[str], optional: Sequence[str] = ()
) -> tuple[pa.Table, dict]:
    """Read `columns`, and `optional` too when the file has any of them (then all of them)."""
    pf, arrow_schema = _checked_schema(path)
    if any(name in arrow_schema.names for name in optional):
        columns = [*columns, *optional]
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


def _spectra(table: pa.Table) -> np.ndarray:
    """The spectrum column as a writable float32 [rows, points] array, without a copy when the
    column is one chunk in mutable memory (what ParquetFile.read returns)."""
    column = table.column("spectrum")
    n_points = column.type.list_size
    rows = len(column)
    if column.null_count:
        raise SplitError("null spectra")
    if column.num_chunks == 1:
        values = column.chunk(0).flatten()
        data = values.buffers()[1]
        if data is not None and data.is_mutable and values.null_count == 0:
            flat = np.frombuffer(
                data, dtype=np.float32, count=len(values), offset=values.offset * 4
            )
            return flat.reshape(rows, n_points)
    out = np.empty((rows, n_points), dtype=np.float32)
    row = 0
    for chunk in column.chunks:
        values = chunk.flatten().to_numpy(zero_copy_only=False)
        out[row : row + len(chunk)] = values.reshape(len(chunk), n_points)
        row += len(chunk)
    return out


def _list_column(table: pa.Table, name: str, dtype: type) -> list[np.ndarray]:
    column = table.column(name).combine_chunks()
    offsets = column.offsets.to_numpy()
    values = column.values.to_numpy(zero_copy_only=False).astype(dtype, copy=False)
    return [values[offsets[i] : offsets[i + 1]] for i in range(len(column))]


def _values(table: pa.Table, column: Column) -> Any:
    """One column read back: numpy for scalars, object arrays of str, lists of numpy arrays."""
    if column.kind == "string":
        return np.array(table.column(column.name).to_pylist(), dtype=object)
    if column.kind in _SCALARS:
        dtype = _SCALARS[column.kind][1]
        return table.column(column.name).to_numpy().astype(dtype, copy=False)
    if column.kind.startswith("fixed_size_list<"):
        return _spectra(table)
    return _list_column(table, column.name, _SCALARS[_element(column.kind)][1])


def read_arrays(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(spectra float32 [n, points], labels int32 [n]) of a split: the fast path for training.

    Raises SplitError naming the file when it is missing, truncated or of the wrong schema.
    """
    table, _ = _read_table(path, ["label", "spectrum"])
    try:
        spectra = _spectra(table)
    except SplitError as exc:
        raise SplitError(f"{path}: {exc}") from None
    return spectra, _values(table, COLUMNS["label"])


def read_split(path: str | os.PathLike) -> Split:
    """Every column of a split (see Split); SplitError on a missing/truncated/wrong file."""
    table, metadata = _read_table(path, BASE_COLUMNS, optional=ARTIFACT_COLUMNS)
    try:
        values = {c.attr: _values(table, c) for c in BASE}
        artifacts = _artifacts(table) if ARTIFACTS[0].name in table.column_names else None
    except SplitError as exc:
        raise SplitError(f"{path}: {exc}") from None
    return Split(**values, metadata=metadata, artifacts=artifacts)


def _artifacts(table: pa.Table) -> Artifacts:
    values = {c.attr: _values(table, c) for c in ARTIFACTS}
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
