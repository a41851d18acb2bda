"""Tests of `specbench classify` / `specbench info` on a really trained and evaluated tiny model."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from specbench import __version__
from specbench.cli.classify import ClassifyError, prepare
from specbench.evaluation.inference import top_k
from specbench.cli.resample import resample
from specbench.evaluation.runs import RunError, load_run
from specbench.cli.spectra_files import read_spectra
from specbench.cli.main import main
from specbench.evaluation.evaluate import evaluate_model
from specbench.data.preprocess import normalise
from specbench.data.splits import read_metadata, read_split, write_split
from specbench.training.train import train_model
from test_training import SRC, make_spec, write_dataset

N_POINTS = 128  # write_dataset's default
N_CLASSES = 5


def copy_split(src: Path, dest: Path, *, metadata=None, labels=None, rows=None) -> Path:
    """A copy of split `src` (optionally other metadata/labels, or only `rows`)."""
    split = read_split(src)
    take = slice(None) if rows is None else rows
    write_split(
        dest,
        spectra=split.spectra[take],
        labels=split.labels[take] if labels is None else labels,
        peak_positions=split.peak_positions[take],
        peak_heights=split.peak_heights[take],
        sigma=split.sigma[take],
        variant=split.variant[take],
        metadata=split.metadata if metadata is None else metadata,
    )
    return dest


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """(test split, run folder) of a tiny cnn2 trained for 3 epochs and evaluated."""
    root = tmp_path_factory.mktemp("classify")
    data = write_dataset(root / "data")
    train = copy_split(
        data["train"],
        root / "data" / "train-meta.parquet",
        metadata={
            "dataset": "synthetic",
            "config_hash": "0123456789abcdef",
            "classes_hash": "c1a55e5",
        },
    )
    run = root / "runs" / "synthetic" / "tiny" / "seed0"
    train_model(
        train=train,
        val=data["val"],
        spec=make_spec(),
        seed=0,
        dataset="synthetic",
        model_name="tiny",
        model_path=run / "model.keras",
        history_path=run / "history.csv",
        info_path=run / "training.json",
    )
    evaluate_model(
        model_path=run / "model.keras",
        info_path=run / "training.json",
        history_path=run / "history.csv",
        test=data["test"],
        predictions_path=run / "predictions.parquet",
        metrics_path=run / "metrics.json",
    )
    return data["test"], run


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------------------ info, --version


def test_version(capsys):
    code, out, _ = cli(capsys, "--version")
    assert code == 0 and out.strip() == f"specbench {__version__}"


@pytest.mark.slow
def test_info_shows_the_run(trained, capsys):
    _, run = trained
    info = json.loads((run / "training.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    assert info["config_hash"] == "0123456789abcdef"  # from the training split's metadata
    assert info["classes_hash"] == "c1a55e5"

    code, out, err = cli(capsys, "info", run, "--json")
    assert code == 0, err
    shown = json.loads(out)
    assert shown["architecture"] == "cnn2" == info["architecture"]
    assert shown["hyperparameters"] == info["hyperparameters"]
    assert shown["parameters"] == info["parameters"] == metrics["parameters"]
    assert (shown["dataset"], shown["config_hash"]) == ("synthetic", "0123456789abcdef")
    assert shown["test_accuracy"] == metrics["test_accuracy"]
    assert shown["training"] == info["training"]
    assert (shown["backend"], shown["precision"]) == ("tensorflow", "float32")
    assert (shown["n_points"], shown["n_classes"]) == (N_POINTS, N_CLASSES)
    assert shown["grid"] == [0, N_POINTS - 1]

    code, text, _ = cli(capsys, "info", run / "model.keras")  # the .keras file works too
    assert code == 0
    lines = dict(line.split(":", 1) for line in text.splitlines())
    assert lines["architecture"].strip() == "cnn2"
    assert lines["parameters"].strip() == str(info["parameters"])
    assert float(lines["test_accuracy"]) == metrics["test_accuracy"]
    assert json.loads(lines["training"]) == info["training"]
    assert lines["backend"].strip() == "tensorflow"


@pytest.mark.slow
def test_info_of_an_unevaluated_run(trained, tmp_path, capsys):
    _, run = trained
    shutil.copytree(run, tmp_path / "run")
    (tmp_path / "run" / "metrics.json").unlink()
    code, out, _ = cli(capsys, "info", tmp_path / "run", "--json")
    assert code == 0 and json.loads(out)["test_accuracy"] is None


# ------------------------------------------------------------------------------ predictions


@pytest.mark.slow
def test_parquet_predictions_equal_the_evaluation(trained, tmp_path, capsys):
    test, run = trained
    out = tmp_path / "out" / "pred.csv"
    code, stdout, err = cli(capsys, "classify", run, test, "-o", out, "--top-k", "3")
    assert code == 0, err
    table = pd.read_csv(out)
    evaluation = pd.read_parquet(run / "predictions.parquet")
    metrics = json.loads((run / "metrics.json").read_text())
    split = read_split(test)

    assert list(table.columns) == [
        "index", "source", "row", "label", "correct", "variant", "predicted", "probability",
        "class_1", "probability_1", "class_2", "probability_2", "class_3", "probability_3",
    ]  # fmt: skip
    assert table["index"].tolist() == table["row"].tolist() == list(range(len(split)))
    assert (table["label"] == split.labels).all()
    assert table["variant"].tolist() == list(split.variant)
    assert (table["predicted"] == evaluation["predicted"]).all()
    assert (table["class_2"] == evaluation["runner_up"]).all()
    np.testing.assert_array_equal(
        table["probability"].to_numpy(np.float32), evaluation["probability"].to_numpy()
    )
    np.testing.assert_array_equal(
        table["probability_2"].to_numpy(np.float32),
        evaluation["runner_up_probability"].to_numpy(),
    )
    assert (table["class_1"] == table["predicted"]).all()
    assert (table["probability_1"] >= table["probability_2"]).all()
    assert (table["probability_2"] >= table["probability_3"]).all()
    assert (table["correct"] == (table["predicted"] == table["label"])).all()
    accuracy = table["correct"].mean()
    assert accuracy == pytest.approx(metrics["test_accuracy"])
    wrong = metrics["test_wrong"]
    assert f"accuracy {accuracy:.4f} ({len(split) - wrong} of {len(split)})" in stdout


@pytest.mark.slow
def test_mixed_precision_run_predicts_as_its_evaluation(tmp_path):
    """The default config trains in mixed_bfloat16: classify must load and predict it alike."""
    from specbench.cli.classify import classify

    data = write_dataset(tmp_path / "data", per_class=(8, 4, 4))
    run = tmp_path / "run"
    train_model(
        train=data["train"],
        val=data["val"],
        spec=make_spec(epochs=1, precision="mixed_bfloat16"),
        seed=0,
        model_path=run / "model.keras",
        history_path=run / "history.csv",
        info_path=run / "training.json",
    )
    evaluate_model(
        model_path=run / "model.keras",
        info_path=run / "training.json",
        history_path=run / "history.csv",
        test=data["test"],
        predictions_path=run / "predictions.parquet",
        metrics_path=run / "metrics.json",
    )
    table = classify(run, data["test"], top=2).table
    evaluation = pd.read_parquet(run / "predictions.parquet")
    assert (table["predicted"] == evaluation["predicted"]).all()
    np.testing.assert_array_equal(
        table["probability"].to_numpy(np.float32), evaluation["probability"].to_numpy()
    )
    import keras

    assert keras.config.dtype_policy().name == "float32"  # not leaked


@pytest.mark.slow
def test_every_format_gives_the_same_predictions(trained, tmp_path):
    """Rows CSV (with and without header), .npy (2-D and 1-D), x,y CSV, and text exports (.xy,
    .tsv, .txt, .dat with comment lines, headers, whitespace, tabs, semicolons; Windows-1252 and
    UTF-8 with a byte-order mark): the same classes and numbers as the split itself."""
    from specbench.cli.classify import classify

    test, run = trained
    split = read_split(test)
    spectra = split.spectra.astype(np.float64)
    header = ",".join(f"p{i}" for i in range(N_POINTS))
    np.savetxt(tmp_path / "rows.csv", spectra[:10], delimiter=",", header=header, comments="")
    np.savetxt(tmp_path / "plain.csv", spectra[10:20] * 7.5, delimiter=",")  # another scale
    np.save(tmp_path / "rows.npy", spectra[20:30])
    np.save(tmp_path / "one.npy", spectra[30])
    xy = []
    for i in (31, 32):  # x,y pairs in descending order, with a header and a comment line
        path = tmp_path / f"xy{i}.csv"
        pairs = np.column_stack([np.arange(N_POINTS), spectra[i]])[::-1]
        np.savetxt(path, pairs, delimiter=",", header="# measured\nx,y", comments="")
        xy.append(path)
    files = [tmp_path / n for n in ("rows.csv", "plain.csv", "rows.npy", "one.npy")] + xy
    # instrument exports: whitespace .xy with its settings in comment lines and a header, a
    # tab-separated .tsv, semicolons in a .txt, a .dat of rows whose first line is data
    pairs = np.column_stack([np.arange(N_POINTS), spectra[33]])
    text = "\n".join(f"{x:.0f}   {y:.9g}" for x, y in pairs)
    settings = "'Id: scan 1\n; step 1 (0-127 °2Th)\n\n2theta   counts\n"  # a Windows export
    (tmp_path / "scan.xy").write_bytes(f"{settings}{text}\n".encode("cp1252"))
    text = "\n".join(f"{x:.0f}\t{y:.9g}" for x, y in pairs)
    (tmp_path / "scan.tsv").write_text(f"x\ty\n{text}\n")
    (tmp_path / "rows.txt").write_text(
        "% two spectra\n" + "\n".join(";".join(f"{v:.9g}" for v in row) for row in spectra[34:36])
    )
    (tmp_path / "rows.dat").write_bytes(  # UTF-8 with a byte-order mark before the first row
        ("\ufeff" + "\n".join(" ".join(f"{v:.9g}" for v in row) for row in spectra[36:38])).encode()
    )
    exports = [tmp_path / n for n in ("scan.xy", "scan.tsv", "rows.txt", "rows.dat")]
    files += exports

    result = classify(run, files, top=2)
    reference = classify(run, [test], top=2).table
    table = result.table
    assert len(table) == 39 and "label" not in table and result.accuracy is None
    assert table["index"].tolist() == list(range(39))
    assert table["source"].tolist() == (
        [str(files[0])] * 10 + [str(files[1])] * 10 + [str(files[2])] * 10 + [str(files[3])]
        + [str(xy[0]), str(xy[1])] + [str(exports[0]), str(exports[1])] + [str(exports[2])] * 2
        + [str(exports[3])] * 2
    )  # fmt: skip
    assert table["row"].tolist() == [*range(10)] * 3 + [0, 0, 0] + [0, 0, 0, 1, 0, 1]
    expected_rows = [*range(33), 33, 33, 34, 35, 36, 37]
    ref = reference.iloc[expected_rows].reset_index(drop=True)
    assert (table["predicted"].to_numpy() == ref["predicted"].to_numpy()).all()
    assert (table["class_2"].to_numpy() == ref["class_2"].to_numpy()).all()
    np.testing.assert_allclose(table["probability"], ref["probability"], rtol=1e-5)


@pytest.mark.slow
def test_a_column_of_values_is_one_spectrum(trained, tmp_path, capsys):
    """One intensity per line (a text export or an [n, 1] array) is one spectrum of n values,
    not n spectra of one value each (which no model takes, and whose --grid gave an error about
    x values the file does not have)."""
    test, run = trained
    spectra = read_split(test).spectra.astype(np.float64)
    np.savetxt(tmp_path / "column.txt", spectra[3], header="counts", comments="")
    np.save(tmp_path / "column.npy", spectra[4][:, None])
    code, _, err = cli(capsys, "classify", run, tmp_path / "column.txt", tmp_path / "column.npy",
                       "-o", tmp_path / "out.csv")  # fmt: skip
    assert code == 0, err
    table = pd.read_csv(tmp_path / "out.csv")
    code, _, err = cli(capsys, "classify", run, test, "-o", tmp_path / "ref.csv")
    reference = pd.read_csv(tmp_path / "ref.csv").iloc[[3, 4]].reset_index(drop=True)
    assert table["row"].tolist() == [0, 0]
    assert table["predicted"].tolist() == reference["predicted"].tolist()
    np.testing.assert_allclose(table["probability"], reference["probability"], rtol=1e-5)


def test_top_k_orders_and_validates():
    p = np.array([[0.1, 0.6, 0.3], [0.4, 0.2, 0.4]], dtype=np.float32)
    classes, probs = top_k(p, 3)
    assert classes.tolist() == [[1, 2, 0], [0, 2, 1]]  # ties: lower index first
    np.testing.assert_allclose(probs, [[0.6, 0.3, 0.1], [0.4, 0.4, 0.2]])
    with pytest.raises(ClassifyError, match="top-k 4"):
        top_k(p, 4)


# ------------------------------------------------------------------------------ grid, resampling


def test_a_file_that_is_not_npy_is_named_so(tmp_path):
    """A text export saved as .npy: numpy's own message spoke of pickled data and allow_pickle."""
    path = tmp_path / "scan.npy"
    path.write_text("10,1\n11,2\n")
    with pytest.raises(ClassifyError, match=r"scan.npy: not a .npy file \(no NumPy header") as e:
        read_spectra([path])
    assert "pickle" not in str(e.value)


def test_columns_of_x_y_and_error_are_not_read_as_spectra_of_three_points(tmp_path):
    """An .xye-style export (2θ, counts, esd) in an .xy file: read as one spectrum per row it
    gave 1401 "spectra" of 3 values, each classified (with --grid) without a word. A file of
    more rows than columns whose first column runs strictly up or down is refused; rows of
    spectra are still rows."""
    x = np.arange(10, 80.0001, 0.05)
    y = 100 + 1000 * np.exp(-0.5 * ((x - 30) / 0.1) ** 2)
    path = tmp_path / "scan.xy"
    np.savetxt(path, np.column_stack([x, y, np.sqrt(y)]), header="2theta counts esd")
    with pytest.raises(
        ClassifyError,
        match=r"scan.xy: 1401 rows of 3 values whose first column runs from 10 to 80: columns "
        r"x, y, ... \(x, y, error\?\) are not read; keep the x and y columns",
    ):
        read_spectra([path])
    descending = tmp_path / "raman.txt"  # x and two y columns, the x axis descending
    np.savetxt(descending, np.column_stack([x[::-1], y, y]), delimiter="\t")
    with pytest.raises(ClassifyError, match="raman.txt: 1401 rows of 3 values"):
        read_spectra([descending])
    rows = np.random.default_rng(0).random((5, 128))  # five spectra, a row each
    np.savetxt(tmp_path / "rows.csv", rows, delimiter=",")
    (block,) = read_spectra([tmp_path / "rows.csv"])
    assert block.y.shape == (5, 128) and block.x is None


def test_decimal_commas_of_european_exports_are_read(tmp_path):
    """Exports written with decimal commas (a German Excel's .csv with semicolons, tab- and
    space-separated .txt/.xy) read as the same x,y spectrum as with points; they stopped at
    "line 2 is not a row of numbers: '10,000;0,10000'"."""
    x = np.round(np.arange(10, 20.0001, 0.5), 3)
    y = np.round(1 + np.sin(x), 5)
    (tmp_path / "dots.xy").write_text("".join(f"{a} {b}\n" for a, b in zip(x, y)))
    (expected,) = read_spectra([tmp_path / "dots.xy"])
    for name, header, delimiter in (
        ("excel.csv", "Winkel;Intensität\n", ";"),
        ("tabs.txt", "# Renishaw\n", "\t"),
        ("spaces.xy", "2Theta Counts\n", " "),
    ):
        rows = [f"{a}{delimiter}{b}".replace(".", ",") for a, b in zip(x, y)]
        (tmp_path / name).write_text(header + "\n".join(rows) + "\n")
        (block,) = read_spectra([tmp_path / name])
        np.testing.assert_array_equal(block.x, expected.x)
        np.testing.assert_array_equal(block.y, expected.y)
    (tmp_path / "bad.txt").write_text("10,5;1,5\n11,5;x\n")  # a later bad line, as it was written
    with pytest.raises(ClassifyError, match=r"bad.txt: line 2 is not a row of numbers: '11,5;x'$"):
        read_spectra([tmp_path / "bad.txt"])


def test_nan_or_empty_values_of_an_export_are_named_by_their_line(tmp_path):
    """An x,y export with comment lines, a blank line and a header: a NaN (or inf) in y or x
    is refused naming its line in the file, as an empty value is; a NaN was read and refused
    later as "spectrum in row 0", which named no line of a 128-line file."""
    head = "# exported by the diffractometer\n# sample: quartz\n\n2theta intensity\n"
    rows = [f"{10 + 0.02 * i:.2f} {100 + i}" for i in range(128)]
    for name, bad, delimiter in (
        ("y-nan.xy", "11.00 nan", " "),
        ("x-nan.xy", "NaN 150", " "),
        ("y-inf.txt", "11.00;inf", ";"),
        ("y-empty.csv", "11.00,", ","),
        ("y-empty.tsv", "11.00\t", "\t"),
    ):
        lines = [row.replace(" ", delimiter) for row in rows]
        lines[50] = bad  # line 4 + 51 of the file
        (tmp_path / name).write_text(
            head.replace(" intensity", delimiter + "intensity") + "\n".join(lines)
        )
        with pytest.raises(
            ClassifyError,
            match=rf"^{re.escape(str(tmp_path / name))}: line 55 (has NaN|has 1 values)",
        ):
            read_spectra([tmp_path / name])


def test_peak_lists_and_spectrum_files_share_one_number_test():
    """The readers of a user's text files (peak lists, spectrum exports) ask one function
    whether a cell is a number (specbench.core.inputs.is_number); each had its own copy."""
    from specbench.core import inputs
    from specbench.cli import spectra_files
    from specbench.data import phases

    assert spectra_files.is_number is inputs.is_number and phases.is_number is inputs.is_number
    assert all(inputs.is_number(text) for text in ("28.4", " 1e3 ", "-5", "nan", "inf"))
    assert not any(inputs.is_number(text) for text in ("", "28,4", "quartz", "1;2", '"28.4"'))


def test_resample_is_exact_for_linear_data():
    x = np.array([0.0, 0.3, 1.1, 2.0, 3.7, 5.0])
    y = np.stack([3 * x + 1, -2 * x + 20])
    positions = np.linspace(0, 5, 11)
    np.testing.assert_allclose(
        resample(x, y, positions), np.stack([3 * positions + 1, -2 * positions + 20])
    )
    np.testing.assert_allclose(  # descending x: same result
        resample(x[::-1], y[:, ::-1], positions), np.stack([3 * positions + 1, -2 * positions + 20])
    )
    with pytest.raises(
        ClassifyError, match=r"s.csv: x values span 0..5 but the model's grid spans"
    ):
        resample(x, y, np.linspace(-1, 5, 4), source="s.csv")
    with pytest.raises(ClassifyError, match="not strictly increasing"):
        resample(np.array([0.0, 1.0, 1.0, 2.0]), np.ones((1, 4)), positions, source="s.csv")


def test_a_run_on_your_own_axis_needs_to_know_what_values_alone_span(tmp_path):
    """A run on your own phases (an axis, 2θ 10..80): an x,y scan in 2θ is resampled onto it
    without --grid; values without x of another length are refused (what they span is unknown:
    a scan from 5 to 90° is not the model's 10..80) until --grid says it."""
    from specbench.evaluation.runs import Run
    from specbench.cli.spectra_files import Block

    info = {"n_points": 71, "n_classes": 2, "axis": {"unit": "2theta", "start": 10, "stop": 80}}
    run = Run(model_path=tmp_path / "model.keras", info_path=tmp_path / "training.json", info=info)
    x = np.linspace(5, 90, 171)
    y = np.exp(-0.5 * ((x - 30) / 0.8) ** 2)[None, :]
    scan = prepare(run, [Block(y=y, x=x, source="scan.xy")])
    assert int(np.argmax(scan.x[0])) == 20  # 30° on the model's 10..80 grid of 1° steps
    with pytest.raises(
        ClassifyError,
        match=r"scan.npy: spectra have 171 points, the model takes 71; give their x values",
    ):
        prepare(run, [Block(y=y, source="scan.npy")])
    spans = prepare(run, [Block(y=y, source="scan.npy")], grid=(5, 90))  # --grid: they span 5..90
    np.testing.assert_array_equal(spans.x, scan.x)  # on the model's axis, as the x,y scan
    with pytest.raises(ClassifyError, match=r"spans 10..80; set it with --grid START,STOP$"):
        prepare(run, [Block(y=y[:, 20:], x=x[20:], source="scan.xy")])


def test_grid_does_not_move_the_points_of_a_run_on_its_own_axis(tmp_path):
    """--grid on a run on your own phases (2θ 10..80) says what values without x span; it does
    not move the model's points: a peak at 70° stays at 70° whatever --grid says (it landed at
    49° for values spanning 0..100, and an x,y scan moved with any --grid: sphalerite was read
    as brookite with --grid 20,60)."""
    from specbench.evaluation.runs import Run
    from specbench.cli.spectra_files import Block

    info = {"n_points": 71, "n_classes": 2, "axis": {"unit": "2theta", "start": 10, "stop": 80}}
    run = Run(model_path=tmp_path / "model.keras", info_path=tmp_path / "training.json", info=info)
    x = np.linspace(0, 100, 101)  # 1° steps, as the model's points
    y = np.exp(-0.5 * ((x - 70) / 0.8) ** 2)[None, :]
    expected = normalise(y[:, 10:81].astype(np.float32))
    values = prepare(run, [Block(y=y, source="scan.npy")], grid=(0, 100))
    assert int(np.argmax(values.x[0])) == 60  # 70° on the model's 10..80 axis
    np.testing.assert_allclose(values.x, expected, atol=1e-6)
    for grid in (None, (10, 80), (20, 60), (0, 100)):  # x,y spectra: the axis, whatever --grid
        scan = prepare(run, [Block(y=y, x=x, source="scan.xy")], grid=grid)
        np.testing.assert_allclose(scan.x, expected, atol=1e-6)
    with pytest.raises(
        ClassifyError,
        match=r"^scan.npy: --grid 20,100 \(what its values span\) does not cover the model's "
        r"axis 10..80 2theta$",
    ):
        prepare(run, [Block(y=y, source="scan.npy")], grid=(20, 100))


@pytest.mark.slow
def test_grid_maps_user_x_values_onto_the_model(trained, tmp_path):
    """A spectrum measured on a 2x finer grid from 10 to 80 (other units), given --grid 10,80,
    lands exactly on the model's points; rows of 2n-1 values spanning the grid likewise."""
    test, run = trained
    run_ = load_run(run)
    s = read_split(test).spectra[:3].astype(np.float64)
    fine = np.empty((3, 2 * N_POINTS - 1))
    fine[:, ::2] = s
    fine[:, 1::2] = (s[:, :-1] + s[:, 1:]) / 2
    x = np.linspace(10, 80, 2 * N_POINTS - 1)
    path = tmp_path / "fine.csv"
    np.savetxt(path, np.column_stack([x, fine[0]]), delimiter=",")
    np.save(tmp_path / "fine.npy", fine)
    expected = normalise(s.astype(np.float32))

    got = prepare(run_, read_spectra([path, tmp_path / "fine.npy"]), grid=(10, 80))
    np.testing.assert_allclose(got.x, expected[[0, 0, 1, 2]], rtol=1e-6, atol=1e-7)
    # without --grid the model's points are 0..127: 10..80 does not cover them
    with pytest.raises(
        ClassifyError, match="x values span 10..80 but the model's grid spans 0..127"
    ):
        prepare(run_, read_spectra([path]))
    with pytest.raises(ClassifyError, match="spectra have 255 points, the model takes 128"):
        prepare(run_, read_spectra([tmp_path / "fine.npy"]))


@pytest.mark.slow
def test_a_split_of_another_dataset_warns(trained, tmp_path, capsys):
    test, run = trained
    other = copy_split(test, tmp_path / "other.parquet", metadata={"dataset": "chal"})
    assert read_metadata(other)["dataset"] == "chal"
    code, _, err = cli(capsys, "classify", run, other, "-o", tmp_path / "o.csv")
    assert code == 0
    assert "warning: " in err and "dataset 'chal' differs from the model's 'synthetic'" in err


@pytest.mark.slow
def test_a_split_of_other_classes_warns_a_new_test_split_does_not(trained, tmp_path, capsys):
    """A test split's config_hash covers its own settings (a new test split of the same classes
    has another); its classes_hash, the class definition, is what must match the model's."""
    test, run = trained
    same = {"dataset": "synthetic", "config_hash": "a new test split", "classes_hash": "c1a55e5"}
    other = {**same, "classes_hash": "0ther"}
    for metadata, warned in ((same, False), (other, True)):
        path = copy_split(test, tmp_path / f"{warned}.parquet", metadata=metadata)
        code, _, err = cli(capsys, "classify", run, path, "-o", tmp_path / "o.csv")
        assert code == 0 and ("classes_hash '0ther' differs" in err) is warned, err


# ------------------------------------------------------------------------------ bad inputs


def bad_inputs(root: Path, test: Path) -> dict[str, tuple[list, str]]:
    """name -> (classify arguments after RUN, expected message) for every user mistake."""
    spectra = read_split(test).spectra[:3]
    root.mkdir(parents=True, exist_ok=True)
    np.save(root / "short.npy", spectra[:, :100])
    nan = spectra.copy()
    nan[1, 5] = np.nan
    np.savetxt(root / "nan.csv", nan, delimiter=",")
    inf = spectra.copy()
    inf[2, 0] = np.inf
    np.save(root / "inf.npy", inf)
    huge = spectra.astype(np.float64)
    huge[1, 7] = 1e308  # finite in float64, inf in float32 (the model's input type)
    np.savetxt(root / "huge.csv", huge, delimiter=",")
    zero = spectra.copy()
    zero[0] = 0
    np.save(root / "zero.npy", zero)
    (root / "empty.csv").write_text("")
    (root / "header.csv").write_text("a,b,c\n")
    (root / "words.csv").write_text("1,2,3\n4,five,6\n")
    (root / "binary.csv").write_bytes(bytes(range(256)) * 4)
    (root / "broken.npy").write_bytes(b"\x93NUMPY garbage")
    np.save(root / "empty.npy", np.zeros((0, N_POINTS)))
    (root / "spectra.spc").write_text("1,2\n")
    (root / "mixed.xy").write_text("; exported\nangle 2\n10 1\n")
    (root / "ragged.txt").write_text("10 1\n11 2 3\n")
    (root / "truncated.parquet").write_bytes(test.read_bytes()[:500])
    copy_split(test, root / "empty.parquet", rows=slice(0, 0))
    labels = read_split(test).labels.copy()
    labels[3] = N_CLASSES + 2
    copy_split(test, root / "labels.parquet", labels=labels)
    np.savetxt(
        root / "narrow.csv", np.column_stack([np.arange(50), spectra[0, :50]]), delimiter=","
    )
    return {
        "length": ([root / "short.npy"], "short.npy: spectra have 100 points, the model takes 128"),
        "nan": ([root / "nan.csv"], "nan.csv: line 2 has NaN or infinite values: "),
        "inf": ([root / "inf.npy"], "inf.npy: spectrum in row 2 has NaN or infinite values"),
        "float32 overflow": (
            [root / "huge.csv"],
            "huge.csv: spectrum in row 1 has NaN or infinite values in float32",
        ),
        "zero": ([root / "zero.npy"], "zero.npy: spectrum in row 0 is all zero"),
        "empty csv": ([root / "empty.csv"], "empty.csv: no spectra (no rows of numbers)"),
        "header only": ([root / "header.csv"], "header.csv: no spectra"),
        "words": ([root / "words.csv"], "words.csv: line 2 is not a row of numbers: '4,five,6'"),
        "binary": ([root / "binary.csv"], "binary.csv: not a text file"),
        "half a header": ([root / "mixed.xy"], "mixed.xy: line 2 is not a row of numbers"),
        "ragged": ([root / "ragged.txt"], "ragged.txt: line 2 has 3 values, the lines before 2"),
        "broken npy": ([root / "broken.npy"], "broken.npy: not a readable .npy file"),
        "empty npy": ([root / "empty.npy"], "empty.npy: no spectra"),
        "suffix": ([root / "spectra.spc"], "spectra.spc: unknown spectrum format '.spc'"),
        "missing": ([root / "nope.csv"], "nope.csv: no such file"),
        "truncated": ([root / "truncated.parquet"], "truncated.parquet: not a readable Parquet"),
        "empty parquet": ([root / "empty.parquet"], "empty.parquet: no spectra"),
        "labels": (
            [root / "labels.parquet"],
            "labels.parquet: labels 0..7 lie outside the model's 5",
        ),
        "x range": ([root / "narrow.csv"], "narrow.csv: x values span 0..49"),
        "top-k": ([test, "--top-k", "6"], "--top-k 6 must be an integer from 1 to 5"),
    }


@pytest.mark.slow
def test_bad_spectra_give_one_line_errors(trained, tmp_path, capsys):
    test, run = trained
    for name, (args, message) in bad_inputs(tmp_path, test).items():
        out = tmp_path / "out" / f"{name}.csv"
        code, _, err = cli(capsys, "classify", run, *args, "-o", out)
        assert code == 1, (name, err)
        assert err.startswith("specbench: error: ") and message in err, (name, err)
        assert len(err.strip().splitlines()) == 1, (name, err)
        if name != "top-k":
            assert err.count(str(args[0])) == 1, (name, err)  # the file is named once
        assert not out.exists(), name


@pytest.mark.slow
def test_values_beyond_float32_are_refused(trained, tmp_path, capsys):
    """A CSV row of 1e308 is finite in float64 but inf in float32, the model's input: before the
    check came after the cast, the model answered class 0 with exit status 0."""
    test, run = trained
    spectrum = read_split(test).spectra[0].astype(np.float64)
    rows = np.stack([spectrum, spectrum, spectrum])
    rows[2] = 1e308  # a row of 1e308: max-normalised in float64 it would even be all ones
    np.savetxt(tmp_path / "rows.csv", rows, delimiter=",")
    xy = np.column_stack([np.arange(N_POINTS), spectrum])
    xy[40, 1] = -1e308
    np.savetxt(tmp_path / "xy.csv", xy, delimiter=",")
    np.save(tmp_path / "rows.npy", rows)
    for name, row in (("rows.csv", 2), ("xy.csv", 0), ("rows.npy", 2)):
        out = tmp_path / f"{name}.out.csv"
        code, stdout, err = cli(capsys, "classify", run, tmp_path / name, "-o", out)
        assert code == 1 and not out.exists(), (name, err)
        assert err.strip() == (
            f"specbench: error: {tmp_path / name}: spectrum in row {row} has NaN or infinite "
            "values in float32, the model's input type (magnitudes up to 3.403e+38)"
        ), (name, err)
    # the largest float32 magnitudes are fine: the spectrum is normalised to the same input
    rows = np.stack([spectrum, spectrum / spectrum.max() * 3.4e38])
    np.savetxt(tmp_path / "large.csv", rows, delimiter=",")
    code, _, err = cli(capsys, "classify", run, tmp_path / "large.csv", "-o", tmp_path / "l.csv")
    assert code == 0, err
    table = pd.read_csv(tmp_path / "l.csv")
    assert table["predicted"][0] == table["predicted"][1]
    np.testing.assert_allclose(table["probability"][0], table["probability"][1], rtol=1e-5)


def test_model_input_refuses_what_float32_cannot_hold():
    from specbench.evaluation.inference import model_input

    x = np.ones((3, 4))
    assert model_input(x, source="s").dtype == np.float32
    same = np.ones((2, 4), dtype=np.float32)
    assert model_input(same, source="s") is same  # no copy
    for value, row in ((1e308, 1), (-1e39, 2), (np.nan, 0), (np.inf, 1)):
        bad = x.copy()
        bad[row, 2] = value
        with pytest.raises(ClassifyError, match=rf"^s: spectrum in row {row} has NaN or infinite"):
            model_input(bad, source="s")
    model_input(np.full((1, 4), 3.4e38), source="s")  # the largest float32 values are finite


@pytest.mark.slow
def test_bad_arguments_are_usage_errors(trained, tmp_path, capsys):
    test, run = trained
    for args, message in (
        (["--top-k", "0"], "argument --top-k: '0' is not a positive integer"),
        (["--grid", "10"], "grid '10' must be START,STOP"),
        (["--grid", "5,5"], "must be two different finite numbers"),
    ):
        code, _, err = cli(capsys, "classify", run, test, "-o", tmp_path / "o.csv", *args)
        assert code == 2 and message in err, (args, err)


def lambda_model(path: Path) -> None:
    import keras

    inputs = keras.Input((N_POINTS,))
    hidden = keras.layers.Lambda(lambda t: t * 2.0)(inputs)
    keras.Model(inputs, keras.layers.Dense(N_CLASSES, activation="softmax")(hidden)).save(path)


def dense_model(n_points: int):
    """A saver of a one-layer softmax model on n_points inputs (not a workflow architecture)."""

    def save(path: Path) -> None:
        import keras

        inputs = keras.Input((n_points,))
        outputs = keras.layers.Dense(N_CLASSES, activation="softmax")(inputs)
        keras.Model(inputs, outputs).save(path)

    return save


@pytest.mark.slow
def test_files_that_are_not_models_of_this_workflow(trained, tmp_path, capsys):
    test, run = trained
    info = (run / "training.json").read_text()

    def folder(name: str, model=None, training=info) -> Path:
        path = tmp_path / name
        path.mkdir()
        if isinstance(model, bytes):
            (path / "model.keras").write_bytes(model)
        elif model is not None:
            model(path / "model.keras")
        if training is not None:
            (path / "training.json").write_text(training)
        return path

    lonely = tmp_path / "lonely"
    lonely.mkdir()
    shutil.copy(run / "model.keras", lonely / "best.keras")
    keyless = json.loads(info)
    del keyless["n_points"]
    cases = {
        "no model": (folder("nomodel"), "not a trained run folder (no model.keras)"),
        "no training.json": (lonely / "best.keras", "not a model of this workflow (no training"),
        "text model": (folder("text", b"not a zip"), "not a Keras model file"),
        "lambda": (folder("lambda", lambda_model), "cannot load the Keras model"),
        "shape": (folder("shape", dense_model(64)), "it maps (None, 64) to (None, 5)"),
        "size": (
            folder("size", dense_model(N_POINTS)),
            "it has 645 parameters, training.json says",
        ),
        "bad json": (folder("json", run_model(run), "{"), "training.json: not valid JSON"),
        "key": (folder("key", run_model(run), json.dumps(keyless)), "lacks key 'n_points'"),
        "suffix": (run / "history.csv", "not a run folder or .keras file (suffix '.csv')"),
        "missing": (tmp_path / "nowhere", "no such run folder or .keras file"),
    }
    for name, (path, message) in cases.items():
        code, _, err = cli(capsys, "classify", path, test, "-o", tmp_path / f"{name}.csv")
        assert code == 1 and err.startswith("specbench: error: ") and message in err, (name, err)
        assert len(err.strip().splitlines()) == 1, (name, err)
    code, _, err = cli(capsys, "info", cases["key"][0])
    assert code == 1 and "lacks key 'n_points'" in err


def run_model(run: Path):
    def copy(path: Path) -> None:
        shutil.copy(run / "model.keras", path)

    return copy


# ------------------------------------------------------------------------------ the real command


@pytest.mark.slow
def test_python_m_specbench(trained, tmp_path):
    """The command in its own process: a Parquet split and a bad file (exit 1, no traceback)."""
    test, run = trained
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "ABSL"))}
    env["PYTHONPATH"] = SRC
    command = [sys.executable, "-m", "specbench"]
    proc = subprocess.run(
        [*command, "classify", str(run), str(test), "-o", str(tmp_path / "p.csv")],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert proc.stderr == ""  # TensorFlow's own lines (oneDNN, absl, E0000 NodeDef) are hidden
    metrics = json.loads((run / "metrics.json").read_text())
    assert f"accuracy {metrics['test_accuracy']:.4f}" in proc.stdout
    expected = pd.read_parquet(run / "predictions.parquet")["predicted"]
    assert (pd.read_csv(tmp_path / "p.csv")["predicted"] == expected).all()

    # another backend (.keras files are backend-independent): same classes, same numbers ~1e-5
    proc = subprocess.run(
        [*command, "classify", str(run), str(test), "-o", str(tmp_path / "j.csv"),
         "--backend", "jax"],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    jax = pd.read_csv(tmp_path / "j.csv")
    assert (jax["predicted"] == expected).all()
    np.testing.assert_allclose(
        jax["probability"], pd.read_csv(tmp_path / "p.csv")["probability"], rtol=1e-4
    )

    np.save(tmp_path / "short.npy", np.ones((2, 7)))
    proc = subprocess.run(
        [*command, "classify", str(run), str(tmp_path / "short.npy"), "-o", "-"],
        capture_output=True, text=True, env=env, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == (
        f"specbench: error: {tmp_path / 'short.npy'}: spectra have 7 points, the model takes "
        "128; give their x values (an x,y file) or --grid START,STOP (the x range they span) to "
        "resample them"
    )
    proc = subprocess.run([*command, "--version"], capture_output=True, text=True, env=env)
    assert proc.returncode == 0 and proc.stdout.strip() == f"specbench {__version__}"


# ------------------------------------------------------------------------------ XRDML


def xrdml(*scans: str, namespace: str = "http://www.xrdml.com/XRDMeasurement/1.5") -> str:
    """An XRDML file (Malvern Panalytical's XML) holding `scans`, as a diffractometer writes it."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<xrdMeasurements xmlns="{namespace}" status="Completed">\n'
        '<sample type="To be analyzed"><id>S1</id></sample>\n'
        '<xrdMeasurement measurementType="Scan" status="Completed">\n'
        '<usedWavelength intended="K-Alpha 1"><kAlpha1 unit="Angstrom">1.5405980</kAlpha1>'
        "</usedWavelength>\n" + "\n".join(scans) + "\n</xrdMeasurement>\n</xrdMeasurements>\n"
    )


def xrdml_scan(values, *, start=10.0, end=80.0, tag="intensities", extra="", axis=None) -> str:
    numbers = " ".join(f"{v:.9g}" for v in values)
    positions = axis or (
        f'<positions axis="2Theta" unit="deg"><startPosition>{start}</startPosition>'
        f"<endPosition>{end}</endPosition></positions>"
    )
    return (
        '<scan appendNumber="0" mode="Continuous" scanAxis="Gonio" status="Completed">'
        f"<header><startTimeStamp>2026-12-05T10:00:00+01:00</startTimeStamp></header><dataPoints>"
        f'{positions}<positions axis="Omega" unit="deg"><startPosition>{start / 2}'
        f"</startPosition><endPosition>{end / 2}</endPosition></positions>"
        f'{extra}<{tag} unit="counts">{numbers}</{tag}></dataPoints></scan>'
    )


def test_xrdml_scans_are_x_y_spectra(tmp_path):
    """2θ from the start and end positions (or listed), counts per second, the raw counts of
    XRDML 2.x times their attenuation factors (already-corrected intensities as they are); scans
    on one axis are rows of one block, scans on different axes blocks of their own."""
    counts = np.array([10.0, 20.0, 400.0, 30.0, 5.0])
    time = "<commonCountingTime unit='seconds'>2.0</commonCountingTime>"
    (tmp_path / "a.xrdml").write_text(xrdml(xrdml_scan(counts, extra=time)))
    (block,) = read_spectra(tmp_path / "a.xrdml")
    np.testing.assert_allclose(block.x, [10, 27.5, 45, 62.5, 80])
    np.testing.assert_allclose(block.y, [counts / 2])
    # XRDML 2.x raw counts behind an attenuator (factor 100 at the tall peak), per-point times
    factors = "<beamAttenuationFactors>1 1 100 1 1</beamAttenuationFactors>"
    times = "<countingTimes unit='seconds'>1 1 1 2 2</countingTimes>"
    raw = counts / [1, 1, 100, 1, 1] * [1, 1, 1, 2, 2]
    v2 = "http://www.xrdml.com/XRDMeasurement/2.1"
    (tmp_path / "b.xrdml").write_text(
        xrdml(xrdml_scan(raw, tag="counts", extra=factors + times), namespace=v2)
    )
    (block,) = read_spectra(tmp_path / "b.xrdml")
    np.testing.assert_allclose(block.y, [counts])
    # intensities are corrected already: the factors beside them are not applied again
    (tmp_path / "c.xrdml").write_text(xrdml(xrdml_scan(counts, extra=factors)))
    np.testing.assert_allclose(read_spectra(tmp_path / "c.xrdml")[0].y, [counts])
    # listed positions (descending), two scans on one axis: one block, a row per scan
    listed = (
        '<positions axis="2Theta" unit="deg"><listPositions>5 4 3 2 1</listPositions></positions>'
    )
    scans = [xrdml_scan(counts, axis=listed), xrdml_scan(counts[::-1], axis=listed)]
    (tmp_path / "d.xrdml").write_text(xrdml(*scans))
    (block,) = read_spectra(tmp_path / "d.xrdml")
    assert block.source == str(tmp_path / "d.xrdml")
    np.testing.assert_allclose(block.x, [5, 4, 3, 2, 1])
    np.testing.assert_allclose(block.y, [counts, counts[::-1]])
    # two scans over different ranges: a block each, named by scan
    (tmp_path / "e.xrdml").write_text(xrdml(xrdml_scan(counts), xrdml_scan(counts, end=70.0)))
    blocks = read_spectra(tmp_path / "e.xrdml")
    assert [b.source for b in blocks] == [f"{tmp_path / 'e.xrdml'}[scan {k}]" for k in (1, 2)]
    assert blocks[1].x[-1] == 70.0


@pytest.mark.parametrize(
    "scan, message",
    [
        ("<scan", "not a readable XRDML file"),
        ("", "no <scan>"),
        (xrdml_scan([1, 2, 3], axis=" "), "no 2Theta positions (axes: Omega)"),
        (
            xrdml_scan(
                [1, 2, 3],
                axis='<positions axis="2Theta" unit="deg"><commonPosition>30</commonPosition>'
                "</positions>",
            ),
            "2Theta does not move in this scan (scan axis 'Gonio')",
        ),
        (
            xrdml_scan(
                [1, 2, 3],
                axis='<positions axis="2Theta"><listPositions>1 2</listPositions></positions>',
            ),
            "2 2Theta positions for 3 intensities",
        ),
        (xrdml_scan([]), "no intensities"),
        (xrdml_scan([1, 2, 3]).replace("1 2 3", "1 n/a 3"), "holds a non-number"),
        (
            xrdml_scan(
                [1, 2, 3],
                tag="counts",
                extra="<beamAttenuationFactors>1 2</beamAttenuationFactors>",
            ),
            "2 attenuation factors for 3 points",
        ),
        (
            xrdml_scan([1, 2, 3], extra="<commonCountingTime>0</commonCountingTime>"),
            "1 counting times for 3 points, or one not positive",
        ),
    ],
)
def test_a_bad_xrdml_file_is_one_line(tmp_path, scan, message):
    path = tmp_path / "scan.xrdml"
    path.write_text(scan if scan == "<scan" else xrdml(scan))
    with pytest.raises(RunError, match="^" + re.escape(str(path)) + ".*" + re.escape(message)):
        read_spectra(path)


@pytest.mark.slow
def test_xrdml_scans_classify_as_their_spectra(trained, tmp_path):
    """An XRDML 1.x scan (intensities) and a 2.x scan (raw counts behind an attenuator), whose
    2θ axis is the model's grid: the classes and probabilities of the same spectra in the split."""
    from specbench.cli.classify import classify

    test, run = trained
    spectra = read_split(test).spectra.astype(np.float64) * 1000
    end = N_POINTS - 1  # positions 0..127: the model's own grid
    (tmp_path / "v1.xrdml").write_text(xrdml(xrdml_scan(spectra[5], start=0, end=end)))
    factors = np.where(spectra[6] > 500, 10.0, 1.0)
    extra = f"<beamAttenuationFactors>{' '.join(map(str, factors))}</beamAttenuationFactors>"
    scan = xrdml_scan(spectra[6] / factors, start=0, end=end, tag="counts", extra=extra)
    v2 = "http://www.xrdml.com/XRDMeasurement/2.1"
    (tmp_path / "v2.xrdml").write_text(xrdml(scan, namespace=v2))
    table = classify(run, [tmp_path / "v1.xrdml", tmp_path / "v2.xrdml"], top=2).table
    reference = classify(run, [test], top=2).table.iloc[[5, 6]].reset_index(drop=True)
    assert table["predicted"].tolist() == reference["predicted"].tolist()
    assert table["class_2"].tolist() == reference["class_2"].tolist()
    np.testing.assert_allclose(table["probability"], reference["probability"], rtol=1e-5)
