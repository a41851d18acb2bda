"""Tests of specbench.data.splits: the Parquet split format, its readers and their errors."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from specbench import __version__
from specbench.data import splits


def example(rows: int = 7, n: int = 50, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    counts = rng.integers(1, 4, rows)
    return {
        "spectra": rng.random((rows, n)).astype(np.float32),
        "labels": np.arange(rows, dtype=np.int32) % 3,
        "peak_positions": [rng.integers(0, n, c).astype(np.int32) for c in counts],
        "peak_heights": [rng.random(c).astype(np.float32) for c in counts],
        "sigma": rng.uniform(1, 3, rows).astype(np.float32),
        "variant": ["random"] * (rows - 1) + ["shift=-30,height=+0.04"],
    }


def test_round_trip_of_every_column_and_the_metadata(tmp_path):
    data = example()
    path = tmp_path / "split.parquet"
    splits.write_split(path, **data, metadata={"dataset": "bench", "config_hash": "abc123"})
    split = splits.read_split(path)
    assert len(split) == 7 and split.n_points == 50
    np.testing.assert_array_equal(split.spectra, data["spectra"])
    assert split.spectra.dtype == np.float32 and split.labels.dtype == np.int32
    np.testing.assert_array_equal(split.labels, data["labels"])
    np.testing.assert_array_equal(split.sigma, data["sigma"])
    assert list(split.variant) == data["variant"]
    for got, want in zip(split.peak_positions, data["peak_positions"]):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(split.peak_heights, data["peak_heights"]):
        np.testing.assert_array_equal(got, want)
    assert split.metadata["dataset"] == "bench"
    assert split.metadata["config_hash"] == "abc123"
    assert split.metadata["specbench_version"] == __version__
    assert split.metadata["n_points"] == "50"


def test_file_schema_is_the_contract(tmp_path):
    path = tmp_path / "split.parquet"
    splits.write_split(path, **example())
    schema = pq.read_schema(path)
    assert schema.field("label").type == pa.int32()
    spectrum = schema.field("spectrum").type
    assert pa.types.is_fixed_size_list(spectrum) and spectrum.list_size == 50
    assert spectrum.value_type == pa.float32()
    assert schema.field("peak_positions").type.value_type == pa.int32()
    assert schema.field("peak_heights").type.value_type == pa.float32()
    assert schema.field("sigma").type == pa.float32()
    assert schema.field("variant").type == pa.string()


def test_read_arrays_is_float32_int32_and_writable(tmp_path):
    data = example(rows=3000, n=40)
    path = tmp_path / "split.parquet"
    splits.write_split(path, **data)  # several row groups
    assert pq.ParquetFile(path).num_row_groups > 1
    spectra, labels = splits.read_arrays(path)
    assert spectra.dtype == np.float32 and spectra.shape == (3000, 40)
    assert labels.dtype == np.int32 and labels.shape == (3000,)
    np.testing.assert_array_equal(spectra, data["spectra"])
    np.testing.assert_array_equal(labels, data["labels"])
    spectra[0, 0] = -1.0  # writable
    assert spectra[0, 0] == -1.0


def test_a_small_split_reads_back_writable(tmp_path):
    """One row group: pyarrow's zero-copy views are read-only (torch.from_numpy warned on the
    labels of docs/datasets.md's example, and `labels[i] = ...` raised)."""
    from specbench.data.preprocess import load_split

    path = tmp_path / "split.parquet"
    splits.write_split(path, **example())
    assert pq.ParquetFile(path).num_row_groups == 1
    for arrays in (splits.read_arrays(path), load_split(path)):
        assert all(a.flags.writeable for a in arrays)
    split = splits.read_split(path)
    assert split.labels.flags.writeable and split.sigma.flags.writeable


def test_streamed_blocks_equal_one_write(tmp_path):
    data = example(rows=10)
    whole, parts = tmp_path / "whole.parquet", tmp_path / "parts.parquet"
    splits.write_split(whole, **data)
    with splits.SplitWriter(parts, 50) as writer:
        for start, stop in ((0, 4), (4, 10)):
            writer.write(**{k: v[start:stop] for k, v in data.items()})
    a, b = splits.read_split(whole), splits.read_split(parts)
    np.testing.assert_array_equal(a.spectra, b.spectra)
    assert list(a.variant) == list(b.variant)


def test_a_failed_write_leaves_no_file(tmp_path):
    path = tmp_path / "split.parquet"
    with pytest.raises(RuntimeError):
        with splits.SplitWriter(path, 50) as writer:
            writer.write(**example())
            raise RuntimeError("killed")
    assert not path.exists()
    assert list(tmp_path.iterdir()) == []


def test_inconsistent_lengths_are_rejected(tmp_path):
    data = example()
    data["sigma"] = data["sigma"][:3]
    with pytest.raises(ValueError, match="sigma has 3 rows but spectra has 7"):
        splits.write_split(tmp_path / "x.parquet", **data)
    assert not (tmp_path / "x.parquet").exists()


def test_missing_file_is_a_split_error(tmp_path):
    for reader in (splits.read_split, splits.read_arrays):
        with pytest.raises(splits.SplitError, match="nothere.parquet: no such split file"):
            reader(tmp_path / "nothere.parquet")


def test_truncated_file_is_a_split_error(tmp_path):
    path = tmp_path / "split.parquet"
    splits.write_split(path, **example(rows=200))
    raw = path.read_bytes()
    for cut in (len(raw) // 2, 10, len(raw) - 3):
        path.write_bytes(raw[:cut])
        for reader in (splits.read_split, splits.read_arrays):
            with pytest.raises(splits.SplitError, match="split.parquet"):
                reader(path)
    path.write_text("not parquet at all")
    with pytest.raises(splits.SplitError, match="not a readable Parquet file"):
        splits.read_arrays(path)
    assert issubclass(splits.SplitError, ValueError)


def test_wrong_schema_is_a_split_error(tmp_path):
    path = tmp_path / "other.parquet"
    labels = pa.array(np.array([0, 1], np.int32))
    pq.write_table(pa.table({"label": labels, "x": pa.array([1, 2])}), path)
    with pytest.raises(
        splits.SplitError, match="other.parquet: wrong schema: missing column 'spectrum'"
    ):
        splits.read_arrays(path)
    spectra = pa.FixedSizeListArray.from_arrays(pa.array(np.zeros(6, np.float32)), 3)
    pq.write_table(pa.table({"label": pa.array([0.5, 1.5]), "spectrum": spectra}), path)
    with pytest.raises(splits.SplitError, match="column 'label' is double, expected int32"):
        splits.read_arrays(path)
    doubles = pa.FixedSizeListArray.from_arrays(pa.array(np.zeros(6)), 3)
    pq.write_table(pa.table({"label": labels, "spectrum": doubles}), path)
    with pytest.raises(
        splits.SplitError,
        match=r"column .spectrum. is fixed_size_list<element: double>\[3\], "
        r"expected fixed_size_list<float32>",
    ):
        splits.read_arrays(path)
    # read_arrays needs only label and spectrum; read_split needs every column.
    pq.write_table(pa.table({"label": labels, "spectrum": spectra}), path)
    spectra_back, labels_back = splits.read_arrays(path)
    assert spectra_back.shape == (2, 3)
    with pytest.raises(splits.SplitError, match="missing column 'peak_positions'"):
        splits.read_split(path)

    # the figures' reader of some columns checks them too
    with pytest.raises(splits.SplitError, match="missing column 'variant'"):
        splits.read_columns(path, ["label", "variant"])


def test_read_columns_reads_the_rows_of_some_labels(tmp_path):
    data = example(rows=9)
    path = tmp_path / "split.parquet"
    splits.write_split(path, **data)
    table = splits.read_columns(path, ["label", "spectrum"], labels=[1])
    assert table.column_names == ["label", "spectrum"]
    assert table.column("label").to_pylist() == [1, 1, 1]
    rows = np.flatnonzero(data["labels"] == 1)
    back = np.stack(table.column("spectrum").to_pylist()).astype(np.float32)
    np.testing.assert_array_equal(back, data["spectra"][rows])


def test_the_schema_follows_the_column_spec():
    """schema(), the writer and the readers are driven by BASE and ARTIFACTS alone."""
    assert splits.schema(5).names == list(splits.BASE_COLUMNS)
    assert splits.schema(5, artifacts=True).names == [
        *splits.BASE_COLUMNS,
        *splits.ARTIFACT_COLUMNS,
    ]
    for column in (*splits.BASE, *splits.ARTIFACTS):
        kind = splits.schema(5, artifacts=True).field(column.name).type
        assert splits.accepts(column.kind, kind), column


def test_atomic_path_writes_whole_or_not_at_all(tmp_path):
    from specbench.core.atomic import atomic_path

    target = tmp_path / "sub" / "table.csv"
    with atomic_path(target) as tmp:
        assert tmp.parent == target.parent and tmp.suffix == ".csv" and tmp != target
        tmp.write_text("new\n")
        assert not target.exists()
    assert target.read_text() == "new\n"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("the writer failed")
    assert target.read_text() == "new\n"  # left as it was
    assert sorted(p.name for p in target.parent.iterdir()) == ["table.csv"]  # no temporary left
    # every suffix kept: Keras accepts only names ending in .weights.h5 for weights
    with atomic_path(tmp_path / "epoch00003.weights.h5") as tmp:
        assert tmp.name.endswith(".weights.h5") and tmp.name.startswith(".epoch00003.tmp-")
        tmp.write_bytes(b"w")
    assert (tmp_path / "epoch00003.weights.h5").read_bytes() == b"w"
