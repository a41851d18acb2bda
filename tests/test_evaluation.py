"""Tests of specbench.evaluation.evaluate on a really trained tiny model (TensorFlow, in-process)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from specbench.evaluation.evaluate import EvaluationError, count_macs, evaluate_model
from specbench.core.formats import METRICS
from specbench.evaluation.predictions import COLUMNS as PREDICTION_COLUMNS
from specbench.evaluation.inference import top_k
from specbench.data.preprocess import normalise
from specbench.data.splits import SplitError, read_split, write_split
from specbench.training.train import train_model
from test_training import make_spec, write_dataset


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A tiny cnn2 trained for 3 epochs, with its data."""
    root = tmp_path_factory.mktemp("eval")
    data = write_dataset(root / "data")
    run = root / "run"
    train_model(
        train=data["train"],
        val=data["val"],
        spec=make_spec(),
        seed=0,
        dataset="synthetic",
        model_name="tiny",
        model_path=run / "model.keras",
        history_path=run / "history.csv",
        info_path=run / "training.json",
    )
    return data, run


def evaluate(run: Path, test: Path, out: Path) -> dict:
    return evaluate_model(
        model_path=run / "model.keras",
        info_path=run / "training.json",
        history_path=run / "history.csv",
        test=test,
        predictions_path=out / "predictions.parquet",
        metrics_path=out / "metrics.json",
    )


def test_top_two_orders_the_two_most_probable_classes():
    """predictions.parquet's predicted/runner_up: specbench.evaluation.inference.top_k with k=2."""
    p = np.array([[0.1, 0.6, 0.3], [0.5, 0.2, 0.3], [0.4, 0.4, 0.2]], dtype=np.float32)
    classes, probs = top_k(p, 2)
    assert classes[:, 0].tolist() == [1, 0, 0] and classes[:, 1].tolist() == [2, 2, 1]
    np.testing.assert_allclose(probs[:, 0], [0.6, 0.5, 0.4])
    np.testing.assert_allclose(probs[:, 1], [0.3, 0.3, 0.4])
    assert classes.dtype == np.int32 and probs.dtype == np.float32
    with pytest.raises(EvaluationError, match="shape"):
        top_k(np.ones((3, 1)), 2)


@pytest.mark.slow
def test_evaluation_outputs(trained, tmp_path):
    import keras

    data, run = trained
    metrics = evaluate(run, data["test"], tmp_path)
    test = read_split(data["test"])
    info = json.loads((run / "training.json").read_text())

    table = pq.read_table(tmp_path / "predictions.parquet")
    assert table.column_names == list(PREDICTION_COLUMNS)  # the spec's, in its order
    for name, kind in PREDICTION_COLUMNS.items():
        assert table.schema.field(name).type == pa.type_for_alias(kind), name
    pred = table.to_pandas()
    assert len(pred) == len(test) == 40
    assert pred["row"].tolist() == list(range(40))
    assert (pred["label"].to_numpy() == test.labels).all()
    assert pred["variant"].tolist() == list(test.variant)
    assert (pred["predicted"] != pred["runner_up"]).all()
    assert (pred["probability"] >= pred["runner_up_probability"]).all()
    assert (pred["probability"] + pred["runner_up_probability"] <= 1 + 1e-5).all()

    # the predictions are the model's on max-normalised spectra
    model = keras.saving.load_model(run / "model.keras")
    probs = model.predict(normalise(test.spectra), verbose=0)
    assert (probs.argmax(axis=1) == pred["predicted"].to_numpy()).all()
    np.testing.assert_allclose(probs.max(axis=1), pred["probability"], rtol=1e-5)
    true_probs = probs[np.arange(len(test)), test.labels]
    np.testing.assert_allclose(true_probs, pred["label_probability"], rtol=1e-5)

    saved = json.loads((tmp_path / "metrics.json").read_text())
    assert saved == json.loads(json.dumps(metrics))
    assert list(saved) == [field.name for field in METRICS]  # the spec's keys, in its order
    correct = pred["predicted"] == pred["label"]
    assert saved["test_accuracy"] == pytest.approx(correct.mean())
    assert saved["test_wrong"] == int((~correct).sum())
    assert saved["n_test"] == 40
    history = pd.read_csv(run / "history.csv")
    assert saved["epochs_run"] == len(history) == info["epochs_run"]
    assert saved["best_epoch"] == info["best_epoch"]
    assert saved["best_val_loss"] == pytest.approx(history["val_loss"].min())
    assert saved["best_val_accuracy"] == pytest.approx(
        history["val_accuracy"].iloc[info["best_epoch"] - 1]
    )
    assert saved["parameters"] == info["parameters"] == model.count_params()
    assert saved["macs"] == count_macs(model) > 0
    assert (saved["model"], saved["dataset"], saved["seed"]) == ("tiny", "synthetic", 0)
    assert saved["backend"] == "tensorflow" and saved["precision"] == "float32"
    assert saved["train_time_s"] == info["train_time_s"]
    assert saved["versions"] == info["versions"]


@pytest.mark.slow
def test_predictions_do_not_depend_on_the_spectrum_scale(trained, tmp_path):
    data, run = trained
    test = read_split(data["test"])
    scaled = tmp_path / "scaled.parquet"
    write_split(
        scaled,
        spectra=test.spectra * np.linspace(0.5, 8, len(test), dtype=np.float32)[:, None],
        labels=test.labels,
        peak_positions=test.peak_positions,
        peak_heights=test.peak_heights,
        sigma=test.sigma,
        variant=test.variant,
    )
    evaluate(run, data["test"], tmp_path / "a")
    evaluate(run, scaled, tmp_path / "b")
    a = pd.read_parquet(tmp_path / "a" / "predictions.parquet")
    b = pd.read_parquet(tmp_path / "b" / "predictions.parquet")
    assert (a["predicted"] == b["predicted"]).all()
    np.testing.assert_allclose(a["probability"], b["probability"], rtol=1e-4)


@pytest.mark.slow
def test_evaluation_errors_name_the_file(trained, tmp_path):
    data, run = trained
    with pytest.raises(SplitError, match="nope.parquet"):
        evaluate(run, tmp_path / "nope.parquet", tmp_path)
    other = write_dataset(tmp_path / "other", n_points=64, per_class=(2, 2, 2))
    with pytest.raises(EvaluationError, match="64 points, the model was trained on 128"):
        evaluate(run, other["test"], tmp_path)
    broken = tmp_path / "broken"
    shutil.copytree(run, broken)
    (broken / "training.json").write_text("{")
    with pytest.raises(EvaluationError, match="training.json: not valid JSON"):
        evaluate(broken, data["test"], tmp_path)
    assert not (tmp_path / "metrics.json").exists()
    assert not (tmp_path / "predictions.parquet").exists()
