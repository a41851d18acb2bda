"""The column kinds of a split file (specbench.data.splits): how each kind is written to Arrow
and read back to numpy. A kind is an Arrow type as written: ``int32``, ``float32``, ``int64``,
``string``, ``list<int32>``, ``list<float32>`` or ``fixed_size_list<float32>`` (the spectra).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import numpy as np
import pyarrow as pa

__all__ = ["Column", "SplitError", "accepts", "arrow_array", "arrow_type", "read_values"]


class SplitError(ValueError):
    """A split file that is missing, truncated or not in the specbench schema (names the file)."""


class Column(NamedTuple):
    """One column of a split: its name, its kind (an Arrow type as written: ``int32``,
    ``float32``, ``int64``, ``string``, ``list<int32>``, ``list<float32>``,
    ``fixed_size_list<float32>``) and the name of its values in :meth:`SplitWriter.write` and
    :class:`Split` (base columns) or :class:`specbench.data.artifacts.Artifacts` (artifact columns).
    """

    name: str
    kind: str
    attr: str


_SCALARS = {  # kind -> (Arrow type, numpy dtype); a list kind has its element's
    "int32": (pa.int32(), np.int32),
    "int64": (pa.int64(), np.int64),
    "float32": (pa.float32(), np.float32),
}


def _element(kind: str) -> str:
    return kind[kind.index("<") + 1 : -1]


def arrow_type(kind: str, n_points: int) -> pa.DataType:
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


def accepts(kind: str, actual: pa.DataType) -> bool:
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


def arrow_array(column: Column, values: Any, n_points: int) -> pa.Array:
    """The values of one column (numpy, lists of str or of 1-D arrays) as an Arrow array."""
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


def read_values(table: pa.Table, column: Column) -> Any:
    """One column read back: numpy for scalars, object arrays of str, lists of numpy arrays."""
    if column.kind == "string":
        return np.array(table.column(column.name).to_pylist(), dtype=object)
    if column.kind in _SCALARS:
        dtype = _SCALARS[column.kind][1]
        return table.column(column.name).to_numpy().astype(dtype)  # a copy: writable
    if column.kind.startswith("fixed_size_list<"):
        return _spectra(table)
    return _list_column(table, column.name, _SCALARS[_element(column.kind)][1])
