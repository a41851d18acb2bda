"""Parquet split files: one row per spectrum.

Schema (``schema(n_points)``): ``label`` int32, ``spectrum`` fixed_size_list<float32>[n_points],
``peak_positions`` list<int32>, ``peak_heights`` list<float32> (the row's rendered peaks; when two
share a position, the later one is the one rendered), ``sigma`` float32 (Gaussian width in points),
``variant`` string (``random`` for train/val, e.g. ``shift=-30,height=+0.04`` for test). File
metadata: ``dataset``, ``config_hash``, ``specbench_version``, ``split``, ``n_points`` (strings).

Splits rendered with measurement artifacts (specbench.artifacts) have ARTIFACT_COLUMNS after
these: ``shape`` string, ``eta`` float32, ``noise`` string (``none``, ``gaussian``,
``poisson``), ``noise_level`` float32 (SNR or counts at the peak maximum), ``noise_seed`` int64,
``background`` list<float32> (relative polynomial coefficients), ``exp_amplitude`` and
``exp_decay`` float32; with them every row is re-rendered from its columns
(specbench.render.plan_from_split). Splits without artifacts do not have these columns, so their
files are what they were before artifacts existed.

Writer settings (WRITE_OPTIONS), measured with ``benchmarks/render.py --writers`` on the
paper-scale set (34,500 x 5000 points = 690 MB of float32, mostly zeros between peaks): LZ4
compression makes the files 16 MB instead of 691 MB and writes faster than no compression (less
to write) while reading about as fast (LZ4 decompresses at several GB/s; decoding the nested list
dominates); zstd(1) is a little smaller but slower to read, snappy 2.7x larger. Dictionary
encoding only for ``variant``: on the float columns it halves write speed and buys little.
Statistics only for ``label`` and ``sigma`` (min/max of 172 M spectrum points is wasted work).
Row groups of ROW_GROUP_ROWS spectra (40 MB at 5000 points) let render_spectra stream a split
block by block. Readers use ParquetFile.read, which returns the spectrum column as one chunk, so
read_arrays hands it to numpy without a copy (the array is writable).
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
from specbench.artifacts import Artifacts
from specbench.atomic import atomic_path  # noqa: F401 (the package's one atomic writer)

ROW_GROUP_ROWS = 2048
WRITE_OPTIONS = {
    "compression": "lz4",
    "use_dictionary": ["variant"],
    "write_statistics": ["label", "sigma"],
}


ARTIFACT_COLUMNS = (
    "shape",
    "eta",
    "noise",
    "noise_level",
    "noise_seed",
    "background",
    "exp_amplitude",
    "exp_decay",
)
BASE_COLUMNS = ("label", "spectrum", "peak_positions", "peak_heights", "sigma", "variant")


class SplitError(ValueError):
    """A split file that is missing, truncated or not in the specbench schema (names the file)."""


def schema(n_points: int, artifacts: bool = False) -> pa.Schema:
    """The Arrow schema of a split with spectra of n_points points (+ ARTIFACT_COLUMNS).

    List elements are non-nullable (named ``element`` as Parquet's LIST convention does), which
    spares the reader a definition level per spectrum point.
    """

    def element(kind: pa.DataType) -> pa.Field:
        return pa.field("element", kind, nullable=False)

    extra = [
        pa.field("shape", pa.string(), nullable=False),
        pa.field("eta", pa.float32(), nullable=False),
        pa.field("noise", pa.string(), nullable=False),
        pa.field("noise_level", pa.float32(), nullable=False),
        pa.field("noise_seed", pa.int64(), nullable=False),
        pa.field("background", pa.list_(element(pa.float32())), nullable=False),
        pa.field("exp_amplitude", pa.float32(), nullable=False),
        pa.field("exp_decay", pa.float32(), nullable=False),
    ]
    return pa.schema(
        [
            pa.field("label", pa.int32(), nullable=False),
            pa.field("spectrum", pa.list_(element(pa.float32()), n_points), nullable=False),
            pa.field("peak_positions", pa.list_(element(pa.int32())), nullable=False),
            pa.field("peak_heights", pa.list_(element(pa.float32())), nullable=False),
            pa.field("sigma", pa.float32(), nullable=False),
            pa.field("variant", pa.string(), nullable=False),
        ]
        + (extra if artifacts else [])
    )


# What a reader accepts per column (readers may see large/compliant variants of the types).
def _is_list_of(kind: pa.DataType, value: pa.DataType) -> bool:
    return (pa.types.is_list(kind) or pa.types.is_large_list(kind)) and kind.value_type == value


EXPECTED = {
    "label": ("int32", lambda t: t == pa.int32()),
    "spectrum": (
        "fixed_size_list<float32>",
        lambda t: pa.types.is_fixed_size_list(t) and t.value_type == pa.float32(),
    ),
    "peak_positions": ("list<int32>", lambda t: _is_list_of(t, pa.int32())),
    "peak_heights": ("list<float32>", lambda t: _is_list_of(t, pa.float32())),
    "sigma": ("float32", lambda t: t == pa.float32()),
    "variant": ("string", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)),
    "shape": ("string", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)),
    "eta": ("float32", lambda t: t == pa.float32()),
    "noise": ("string", lambda t: pa.types.is_string(t) or pa.types.is_large_string(t)),
    "noise_level": ("float32", lambda t: t == pa.float32()),
    "noise_seed": ("int64", lambda t: t == pa.int64()),
    "background": ("list<float32>", lambda t: _is_list_of(t, pa.float32())),
    "exp_amplitude": ("float32", lambda t: t == pa.float32()),
    "exp_decay": ("float32", lambda t: t == pa.float32()),
}


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


def _table(
    spectra: np.ndarray,
    labels: np.ndarray,
    peak_positions: Sequence[np.ndarray],
    peak_heights: Sequence[np.ndarray],
    sigma: np.ndarray,
    variant: Sequence[str],
    arrow_schema: pa.Schema,
    artifacts: Artifacts | None = None,
) -> pa.Table:
    spectra = np.ascontiguousarray(spectra, dtype=np.float32)
    if spectra.ndim != 2:
        raise ValueError(f"spectra must be 2-D [rows, points], got shape {spectra.shape}")
    n_rows, n_points = spectra.shape
    lengths = {
        "labels": len(labels),
        "peak_positions": len(peak_positions),
        "peak_heights": len(peak_heights),
        "sigma": len(sigma),
        "variant": len(variant),
    }
    if artifacts is not None:
        lengths["artifacts"] = len(artifacts)
    for key, length in lengths.items():
        if length != n_rows:
            raise ValueError(f"{key} has {length} rows but spectra has {n_rows}")
    has_artifacts = "shape" in arrow_schema.names
    if has_artifacts != (artifacts is not None):
        raise ValueError(
            "artifacts must be given exactly when the writer was opened with artifacts=True"
        )
    flat = pa.array(spectra.reshape(-1), type=pa.float32())
    extra = []
    if artifacts is not None:
        extra = [
            pa.array(list(artifacts.shape), type=pa.string()),
            pa.array(np.asarray(artifacts.eta, dtype=np.float32), type=pa.float32()),
            pa.array(list(artifacts.noise), type=pa.string()),
            pa.array(np.asarray(artifacts.noise_level, dtype=np.float32), type=pa.float32()),
            pa.array(np.asarray(artifacts.noise_seed, dtype=np.int64), type=pa.int64()),
            _list_array(list(artifacts.background), np.float32, pa.float32()),
            pa.array(np.asarray(artifacts.exp_amplitude, dtype=np.float32), type=pa.float32()),
            pa.array(np.asarray(artifacts.exp_decay, dtype=np.float32), type=pa.float32()),
        ]
    return pa.Table.from_arrays(
        [
            pa.array(np.asarray(labels, dtype=np.int32), type=pa.int32()),
            pa.FixedSizeListArray.from_arrays(flat, n_points),
            _list_array(peak_positions, np.int32, pa.int32()),
            _list_array(peak_heights, np.float32, pa.float32()),
            pa.array(np.asarray(sigma, dtype=np.float32), type=pa.float32()),
            pa.array(list(variant), type=pa.string()),
        ]
        + extra,
        schema=arrow_schema,
    )


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
        """Append rows (see the module docstring for the columns)."""
        if self._writer is None:
            raise RuntimeError("SplitWriter.write outside its `with` block")
        if np.ndim(spectra) != 2 or np.shape(spectra)[1] != self.n_points:
            raise ValueError(
                f"spectra must be [rows, {self.n_points}], got shape {np.shape(spectra)}"
            )
        table = _table(
            spectra,
            labels,
            peak_positions,
            peak_heights,
            sigma,
            variant,
            self.schema,
            artifacts,
        )
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
    spectra: np.ndarray,
    labels: np.ndarray,
    peak_positions: Sequence[np.ndarray],
    peak_heights: Sequence[np.ndarray],
    sigma: np.ndarray,
    variant: Sequence[str],
    metadata: Mapping[str, object] | None = None,
    artifacts: Artifacts | None = None,
    **write_options,
) -> None:
    """Write one whole split (schema in the module docstring; see SplitWriter)."""
    n_points = np.shape(spectra)[1] if np.ndim(spectra) == 2 else 0
    with SplitWriter(
        path, n_points, metadata=metadata, artifacts=artifacts is not None, **write_options
    ) as writer:
        writer.write(
            spectra=spectra,
            labels=labels,
            peak_positions=peak_positions,
            peak_heights=peak_heights,
            sigma=sigma,
            variant=variant,
            artifacts=artifacts,
        )


def _open(path: str | os.PathLike) -> pq.ParquetFile:
    path = Path(path)
    if not path.is_file():
        raise SplitError(f"{path}: no such split file")
    try:
        return pq.ParquetFile(path)
    except (pa.ArrowException, OSError) as exc:
        raise SplitError(f"{path}: not a readable Parquet file (truncated?): {exc}") from None


def _check_schema(path: str | os.PathLike, actual: pa.Schema, columns: Sequence[str]) -> None:
    """Check `columns` of `actual` against the specbench schema (SplitError names the column)."""
    for name in columns:
        want, ok = EXPECTED[name]
        if name not in actual.names:
            raise SplitError(f"{path}: wrong schema: missing column {name!r} ({want})")
        got = actual.field(name).type
        if not ok(got):
            raise SplitError(f"{path}: wrong schema: column {name!r} is {got}, expected {want}")


def _read_table(
    path: str | os.PathLike, columns: Sequence[str], optional: Sequence[str] = ()
) -> tuple[pa.Table, dict]:
    """Read `columns`, and `optional` too when the file has any of them (then all of them)."""
    pf = _open(path)
    try:
        arrow_schema = pf.schema_arrow
    except (pa.ArrowException, OSError) as exc:
        raise SplitError(f"{path}: unreadable schema: {exc}") from None
    if any(name in arrow_schema.names for name in optional):
        columns = [*columns, *optional]
    _check_schema(path, arrow_schema, columns)
    try:
        table = pf.read(columns=list(columns), use_threads=True)
    except (pa.ArrowException, OSError) as exc:
        raise SplitError(f"{path}: cannot read (truncated or corrupt?): {exc}") from None
    return table, _metadata(arrow_schema)


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


def read_arrays(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """(spectra float32 [n, points], labels int32 [n]) of a split: the fast path for training.

    Raises SplitError naming the file when it is missing, truncated or of the wrong schema.
    """
    table, _ = _read_table(path, ["label", "spectrum"])
    try:
        spectra = _spectra(table)
    except SplitError as exc:
        raise SplitError(f"{path}: {exc}") from None
    labels = table.column("label").to_numpy().astype(np.int32, copy=False)
    return spectra, labels


def read_split(path: str | os.PathLike) -> Split:
    """Every column of a split (see Split); SplitError on a missing/truncated/wrong file."""
    table, metadata = _read_table(path, BASE_COLUMNS, optional=ARTIFACT_COLUMNS)
    try:
        spectra = _spectra(table)
    except SplitError as exc:
        raise SplitError(f"{path}: {exc}") from None
    return Split(
        spectra=spectra,
        labels=table.column("label").to_numpy().astype(np.int32, copy=False),
        sigma=table.column("sigma").to_numpy().astype(np.float32, copy=False),
        variant=np.array(table.column("variant").to_pylist(), dtype=object),
        peak_positions=_list_column(table, "peak_positions", np.int32),
        peak_heights=_list_column(table, "peak_heights", np.float32),
        metadata=metadata,
        artifacts=_artifacts(table) if "shape" in table.column_names else None,
    )


def _artifacts(table: pa.Table) -> Artifacts:
    def values(name: str, dtype: type) -> np.ndarray:
        return table.column(name).to_numpy().astype(dtype, copy=False)

    background = _list_column(table, "background", np.float32)
    degree = {len(row) for row in background}
    if len(degree) > 1:
        raise SplitError(f"background lists of different lengths {sorted(degree)}")
    return Artifacts(
        shape=np.array(table.column("shape").to_pylist(), dtype=object),
        eta=values("eta", np.float32),
        noise=np.array(table.column("noise").to_pylist(), dtype=object),
        noise_level=values("noise_level", np.float32),
        noise_seed=values("noise_seed", np.int64),
        background=(np.stack(background) if background else np.zeros((0, 0), dtype=np.float32)),
        exp_amplitude=values("exp_amplitude", np.float32),
        exp_decay=values("exp_decay", np.float32),
    )


def read_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The file metadata of a split (``dataset``, ``config_hash``, ...) without reading its rows.

    Raises SplitError naming the file when it is missing or not readable Parquet.
    """
    pf = _open(path)
    try:
        return _metadata(pf.schema_arrow)
    except (pa.ArrowException, OSError) as exc:
        raise SplitError(f"{path}: unreadable schema: {exc}") from None


# ------------------------------------------------------------------------------ model inputs


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


def single_path(value: Any, name: str) -> Path:
    """`value` as one path: a str/PathLike, or a list of exactly one (as Snakemake passes an
    input given by a function that returns a list); ValueError naming `name` otherwise."""
    if isinstance(value, (str, os.PathLike)):
        return Path(value)
    items = list(value)
    if len(items) != 1 or not isinstance(items[0], (str, os.PathLike)):
        raise ValueError(f"{name} must be one file, got {items!r}")
    return Path(items[0])
