"""Tests of specbench.training.train and specbench.training.backend: real Parquet files, real (tiny) trainings.

In-process trainings use the TensorFlow backend (Keras' backend is fixed per process); the JAX and
PyTorch runs, and the killed-and-resumed run, happen in subprocesses.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from specbench.core import schema
from specbench.data.preprocess import DataError, normalise
from specbench.data.splits import SplitError, write_split
from specbench.models import HyperparameterError
from specbench.training.timings import TIMINGS
from specbench.training.train import (
    HISTORY_COLUMNS,
    TrainingDivergedError,
    TrainingError,
    protocol,
    save_trained,
    train_model,
)

SRC = str(Path(__file__).resolve().parents[1] / "src")
TINY_HP = {"dense_units": [32], "kernel_size": [9, 5]}
INFO_KEYS = {
    "model",
    "dataset",
    "seed",
    "architecture",
    "hyperparameters",
    "training",
    "backend",
    "precision",
    "parameters",
    "n_train",
    "n_val",
    "epochs_run",
    "best_epoch",
    "resumed_from_epoch",
    "train_time_s",
    "train_samples_per_s",
    "versions",
}


def write_dataset(directory: Path, n_points=128, n_classes=5, per_class=(24, 8, 8), seed=0):
    """Synthetic train/val/test splits that a tiny CNN learns partly in a few epochs.

    Class c has two Gaussian peaks around fixed centres (all classes share the first peak with
    class 0), randomly shifted, scaled and widened, plus noise.
    """
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0.15, 0.85, (n_classes, 2)) * n_points
    centres[1:, 0] = centres[0, 0]
    t = np.arange(n_points, dtype=np.float32)
    paths = {}
    for split, n in zip(("train", "val", "test"), per_class):
        y = np.repeat(np.arange(n_classes), n).astype(np.int32)
        pos = centres[y] + rng.normal(0, n_points / 40, (len(y), 2))
        height = rng.uniform(0.3, 1.0, (len(y), 2))
        sigma = rng.uniform(1.0, 3.0, len(y)).astype(np.float32)
        peaks = np.exp(-0.5 * ((t - pos[:, :, None]) / sigma[:, None, None]) ** 2)
        x = (height[:, :, None] * peaks).sum(axis=1) + rng.normal(0, 0.05, (len(y), n_points))
        paths[split] = directory / f"{split}.parquet"
        write_split(
            paths[split],
            spectra=(x * 50).astype(np.float32),
            labels=y,
            peak_positions=list(pos.astype(np.int32)),
            peak_heights=list(height.astype(np.float32)),
            sigma=sigma,
            variant=["random"] * len(y) if split != "test" else [f"v{i % 3}" for i in y],
        )
    return paths


def make_spec(architecture="cnn2", hyperparameters=None, **training):
    # float32 named: "auto" would mean bfloat16 on CPUs with AVX512_BF16 or AMX
    base = {"epochs": 3, "batch_size": 16, "learning_rate": 1e-3, "precision": "float32"}
    return {
        "architecture": architecture,
        "hyperparameters": TINY_HP if hyperparameters is None else hyperparameters,
        "training": {**base, **training},
    }


def outputs(directory: Path) -> dict[str, Path]:
    return {
        "model_path": directory / "model.keras",
        "history_path": directory / "history.csv",
        "info_path": directory / "training.json",
    }


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("data"))


def run(data, out: Path, spec=None, seed=0, **kwargs):
    return train_model(
        train=data["train"],
        val=data["val"],
        spec=spec or make_spec(),
        seed=seed,
        dataset="synthetic",
        model_name="tiny",
        **outputs(out),
        **kwargs,
    )


def history_values(path: Path) -> pd.DataFrame:
    return pd.read_csv(path).drop(columns="epoch_time_s")


# ------------------------------------------------------------------ no keras needed


def test_protocol_fills_the_schema_defaults_and_rejects_bad_settings():
    defaults = schema.defaults("training")
    assert protocol() == defaults
    p = protocol({"epochs": 7, "reduce_lr": {"patience": 2}})
    assert p["epochs"] == 7 and p["reduce_lr"] == {**defaults["reduce_lr"], "patience": 2}
    assert p["early_stopping"] == defaults["early_stopping"]
    with pytest.raises(TrainingError, match="'epoch' was unexpected"):
        protocol({"epoch": 3})
    with pytest.raises(TrainingError, match="early_stopping.*'wait' was unexpected"):
        protocol({"early_stopping": {"wait": 3}})
    with pytest.raises(ValueError, match="'theano'"):
        protocol({"backend": "theano"})
    with pytest.raises(ValueError, match="'float16'"):
        protocol({"precision": "float16"})
    with pytest.raises(TrainingError, match="batch_size: 0 is less than the minimum of 1"):
        protocol({"batch_size": 0})


def test_normalise_divides_each_spectrum_by_its_maximum():
    x = np.array([[1, 2, 4], [0, 0, 0], [3, 6, 1.5]], dtype=np.float32)
    out = normalise(x)
    np.testing.assert_allclose(out, [[0.25, 0.5, 1], [0, 0, 0], [0.5, 1, 0.25]])
    assert out.dtype == np.float32 and x[0, 2] == 4  # a copy by default
    same = normalise(x, inplace=True)
    assert same is x and x[0, 2] == 1


def test_the_documented_loader_gives_what_training_feeds_the_model(data, tmp_path, monkeypatch):
    """specbench.data.preprocess.load_split (docs/datasets.md) returns the very arrays
    train_model hands Keras' fit, and on request each spectrum's metadata, row for row."""
    from specbench.data.preprocess import load_split
    from specbench.data.splits import read_split
    from specbench.training import train as train_module

    fed = {}

    class Fed(Exception):
        pass

    def capture(model, training_data, validation_data, **kwargs):
        fed["train"], fed["val"] = training_data, validation_data
        raise Fed

    monkeypatch.setattr(train_module, "fit", capture)
    with pytest.raises(Fed):
        run(data, tmp_path)
    for split in ("train", "val"):
        x, y, meta = load_split(data[split], metadata=True)
        np.testing.assert_array_equal(x, fed[split][0])
        np.testing.assert_array_equal(y, fed[split][1])
        assert x.dtype == np.float32 and y.dtype == np.int32
        raw = read_split(data[split])
        assert len(meta) == len(x) and list(meta["variant"]) == list(raw.variant)
        assert [list(p) for p in meta["peak_positions"]] == [list(p) for p in raw.peak_positions]
        assert "spectrum" not in meta and "label" not in meta
    assert load_split(data["train"])[0].shape == fed["train"][0].shape  # two arrays by default


# ------------------------------------------------------------------ real trainings (TensorFlow)


@pytest.mark.slow
def test_training_writes_history_info_and_model(data, tmp_path):
    import keras

    backup = tmp_path / "backup"
    info = run(data, tmp_path, backup_dir=backup, threads=2)

    history = pd.read_csv(tmp_path / "history.csv")
    assert tuple(history.columns) == HISTORY_COLUMNS
    assert history["epoch"].tolist() == [1, 2, 3]
    assert np.isfinite(history.drop(columns="epoch").to_numpy()).all()
    assert (history["epoch_time_s"] > 0).all()
    assert history["learning_rate"].iloc[0] == pytest.approx(1e-3)
    assert history["loss"].iloc[-1] < history["loss"].iloc[0]

    saved = json.loads((tmp_path / "training.json").read_text())
    assert saved == json.loads(json.dumps(info))
    assert INFO_KEYS <= set(saved)
    assert saved["n_train"] == 5 * 24 and saved["n_val"] == 5 * 8
    assert saved["epochs_run"] == 3 and saved["resumed_from_epoch"] == 0
    assert saved["best_epoch"] == int(history["val_loss"].idxmin()) + 1
    assert saved["best_val_loss"] == pytest.approx(history["val_loss"].min())
    assert saved["backend"] == "tensorflow" and "tensorflow" in saved["versions"]
    assert saved["training"]["early_stopping"]["patience"] == 25  # defaults filled in
    assert saved["hyperparameters"]["dense_units"] == [32]
    assert saved["train_samples_per_s"] == pytest.approx(
        120 * 3 / history["epoch_time_s"].sum(), rel=1e-6
    )
    assert not backup.exists()  # removed on success
    assert not list(tmp_path.glob(".*.tmp-*"))  # no temporary file left
    # the process's steps, every one measured; fit covers its epochs (and little else here)
    timings = saved["timings"]
    assert tuple(timings) == TIMINGS
    assert all(isinstance(t, float) and t >= 0 for t in timings.values()), timings
    epochs_s = history["epoch_time_s"].sum()
    assert epochs_s <= timings["fit_s"] < epochs_s + 5
    assert timings["start_s"] > 0  # this test process started before the training

    model = keras.saving.load_model(tmp_path / "model.keras")
    assert model.count_params() == saved["parameters"]
    assert model.output_shape == (None, 5)
    assert model.compiled  # the training's compile settings, a fresh optimizer (save_trained)


@pytest.mark.slow
def test_the_backup_outlives_a_failure_while_the_outputs_are_written(data, tmp_path):
    # e.g. a full disk while model.keras is written (GBs at the published scale), or a kill
    # then: the rerun resumes from the backup instead of training from the first epoch again
    backup, out = tmp_path / "backup", tmp_path / "out"
    blocked = {**outputs(out), "model_path": tmp_path / "not-a-directory" / "model.keras"}
    (tmp_path / "not-a-directory").write_text("a file where the model's folder should be")
    args = dict(
        train=data["train"],
        val=data["val"],
        spec=make_spec(),
        seed=0,
        backup_dir=backup,
        backup_interval_s=0,
    )
    with pytest.raises(OSError):
        train_model(**args, **blocked)
    assert not any(p.exists() for p in outputs(out).values())
    assert json.loads((backup / "state.json").read_text())["epoch"] == 2
    info = train_model(**args, **outputs(out))
    assert info["resumed_from_epoch"] == 2 and info["epochs_run"] == 3
    assert not backup.exists()  # removed once the outputs are written


@pytest.mark.slow
def test_a_backup_written_by_other_code_is_not_resumed_from(data, tmp_path):
    """A job that reruns because its code changed (rule train_model passes its code inputs)
    starts afresh: resuming would finish the old code's weights with the new code."""
    backup, out = tmp_path / "backup", tmp_path / "out"
    blocked = {**outputs(out), "model_path": tmp_path / "not-a-directory" / "model.keras"}
    (tmp_path / "not-a-directory").write_text("a file where the model's folder should be")
    module = tmp_path / "cnn.py"
    module.write_text("ACTIVATION = 'relu'\n")
    args = dict(
        train=data["train"],
        val=data["val"],
        spec=make_spec(),
        seed=0,
        backup_dir=backup,
        backup_interval_s=0,
        code=[str(module)],
    )
    with pytest.raises(OSError):
        train_model(**args, **blocked)
    assert json.loads((backup / "state.json").read_text())["epoch"] == 2
    module.write_text("ACTIVATION = 'tanh'\n")  # e.g. a fix made after the failure
    info = train_model(**args, **outputs(out))
    assert info["resumed_from_epoch"] == 0 and info["epochs_run"] == 3
    assert not backup.exists()


def test_a_backup_never_points_at_the_best_weights_of_an_ignored_one(tmp_path):
    # run A (interrupted) left a backup; the config changed, so run B ignores it and writes its
    # own in the same folder; B's best epoch has the number of A's: B's backup must hold B's
    # best weights, not A's file of the same name
    import keras

    from specbench.training.checkpoint import Checkpoint

    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(optimizer="adam", loss="mse")
    state = {"history": [], "learning_rate": 1e-3}
    weights_a = [np.full_like(w, 1.0) for w in model.get_weights()]
    weights_b = [np.full_like(w, 2.0) for w in model.get_weights()]
    Checkpoint(tmp_path, "run A").save(model, 3, state, weights_a, best_epoch=1)
    b = Checkpoint(tmp_path, "run B")
    assert b.load() is None  # A's backup: another model, protocol or data
    b.save(model, 3, state, weights_b, best_epoch=1)
    resumed = Checkpoint(tmp_path, "run B")
    best = resumed.restore(model, resumed.load())
    for got, want in zip(best, weights_b):
        np.testing.assert_array_equal(got, want)


def weight_groups(path: Path) -> list[str]:
    """The top-level groups of a .keras archive's weights file ("layers", "optimizer", ...)."""
    import zipfile

    import h5py

    with zipfile.ZipFile(path) as archive, archive.open("model.weights.h5") as weights:
        with h5py.File(weights, "r") as store:
            return sorted(store.keys())


def test_the_saved_model_is_the_trained_network_without_the_optimizer(data, tmp_path):
    """model.keras: architecture, weights and compile settings, not Adam's moments (two thirds of
    a full save). It predicts what the trained model predicts and evaluates once loaded; the
    model in memory keeps its optimizer."""
    import keras

    from specbench.data.preprocess import load_split
    from specbench.models import registry
    from specbench.training.train import compile_model

    x, y = load_split(data["train"])
    keras.utils.set_random_seed(0)
    model = registry.construct("cnn2", x.shape[1], 5, registry.check("cnn2", TINY_HP))
    compile_model(model, 1e-3)
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
    moments = len(model.optimizer.variables)

    save_trained(model, tmp_path / "trained.keras")
    model.save(tmp_path / "full.keras")  # Keras' own save, with the training state
    assert "optimizer" in weight_groups(tmp_path / "full.keras")
    assert "optimizer" not in weight_groups(tmp_path / "trained.keras")
    trained, full = ((tmp_path / f"{n}.keras").stat().st_size for n in ("trained", "full"))
    assert trained < 0.4 * full  # weights only: Adam keeps two more values per weight
    assert model.compiled and len(model.optimizer.variables) == moments

    loaded = keras.saving.load_model(tmp_path / "trained.keras", compile=False)  # as evaluated
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    with pytest.warns(UserWarning, match="Skipping variable loading for optimizer"):
        compiled = keras.saving.load_model(tmp_path / "trained.keras")  # Keras' default
    assert compiled.evaluate(x, y, verbose=0) == pytest.approx(model.evaluate(x, y, verbose=0))


def test_epoch_feeder_serves_the_given_order_in_batches():
    import keras

    from specbench.training.feeding import EpochFeeder

    x = np.arange(50 * 4, dtype=np.float32).reshape(50, 4)
    y = np.arange(50, dtype=np.int32)
    feeder = EpochFeeder((x, y), (x[:7], y[:7]), batch_size=16)
    for seed in (1, 2):
        order = np.random.default_rng(seed).permutation(50)
        feeder.set_order(order)
        args = feeder.fit_args()
        if keras.backend.backend() == "tensorflow":
            batches = [(bx.numpy(), by.numpy()) for bx, by in args["x"]]
            val = np.concatenate([by.numpy() for _, by in args["validation_data"]])
        else:  # PyDatasets of device arrays
            to_np = keras.ops.convert_to_numpy
            train_ds, val_ds = args["x"], args["validation_data"]
            batches = [tuple(map(to_np, train_ds[i])) for i in range(len(train_ds))]
            val = np.concatenate([to_np(val_ds[i][1]) for i in range(len(val_ds))])
        assert [len(by) for _, by in batches] == [16, 16, 16, 2]
        np.testing.assert_array_equal(np.concatenate([by for _, by in batches]), order)
        np.testing.assert_array_equal(np.concatenate([bx for bx, _ in batches]), x[order])
        np.testing.assert_array_equal(val, np.arange(7))


@pytest.mark.slow
def test_same_seed_gives_identical_training_other_seed_does_not(data, tmp_path):
    infos = [run(data, tmp_path / name, seed=seed) for name, seed in (("a", 3), ("b", 3), ("c", 4))]
    a, b, c = (history_values(tmp_path / name / "history.csv") for name in "abc")
    pd.testing.assert_frame_equal(a, b)
    assert infos[0]["best_val_loss"] == infos[1]["best_val_loss"]
    assert not a.equals(c)


@pytest.mark.slow
def test_early_stopping_restores_best_weights(data, tmp_path):
    import keras

    from specbench.data.preprocess import load_split

    # min_delta so large that no epoch after the first counts as an improvement
    spec = make_spec(epochs=20, early_stopping={"patience": 2, "min_delta": 100.0})
    info = run(data, tmp_path, spec=spec)
    history = pd.read_csv(tmp_path / "history.csv")
    assert len(history) == 3 and info["epochs_run"] == 3
    assert info["best_epoch"] == 1 and info["stopped_early"] is True
    # the saved model holds epoch 1's weights: its val loss is epoch 1's, not epoch 3's
    model = keras.saving.load_model(tmp_path / "model.keras")
    x_val, y_val = load_split(data["val"])
    loss = model.evaluate(x_val, y_val, batch_size=16, verbose=0, return_dict=True)["loss"]
    assert loss == pytest.approx(history["val_loss"].iloc[0], rel=1e-4)
    assert loss != pytest.approx(history["val_loss"].iloc[2], rel=1e-4)


@pytest.mark.slow
def test_reduce_lr_halves_the_learning_rate_on_plateau(data, tmp_path):
    # the recorded schedule follows Keras' rule on the recorded val_loss (improvement:
    # val_loss < best - 1e-4; after `patience` epochs without one, lr *= factor)
    spec = make_spec(
        epochs=8, learning_rate=1e-2, reduce_lr={"patience": 1, "factor": 0.5, "min_lr": 1e-6}
    )
    run(data, tmp_path, spec=spec, seed=1)
    history = pd.read_csv(tmp_path / "history.csv")
    assert history["learning_rate"].nunique() > 1  # this seed's val_loss plateaus once
    lr, best, expected = 1e-2, None, []
    for val_loss in history["val_loss"]:
        expected.append(lr)
        if best is None or val_loss < best - 1e-4:
            best = val_loss
        else:
            lr = max(lr * 0.5, 1e-6)
    np.testing.assert_allclose(history["learning_rate"], expected, rtol=1e-6)


@pytest.mark.slow
def test_nan_loss_fails_and_writes_nothing(data, tmp_path):
    spec = make_spec(learning_rate=1e30)
    with pytest.raises(TrainingDivergedError, match=r"tiny: loss became nan in epoch 1"):
        run(data, tmp_path / "out", spec=spec)
    assert not (tmp_path / "out").exists() or not list((tmp_path / "out").iterdir())


def test_bad_parquet_files_raise_split_error_naming_the_file(data, tmp_path):
    missing = tmp_path / "missing.parquet"
    truncated = tmp_path / "truncated.parquet"
    truncated.write_bytes(Path(data["train"]).read_bytes()[:500])
    wrong = tmp_path / "wrong.parquet"
    pq.write_table(pa.table({"label": pa.array([0, 1], pa.int32()), "x": [1.0, 2.0]}), wrong)
    for bad in (missing, truncated, wrong):
        out = tmp_path / f"out_{bad.stem}"
        with pytest.raises(SplitError, match=bad.name):
            train_model(train=bad, val=data["val"], spec=make_spec(), seed=0, **outputs(out))
        assert not out.exists()
    with pytest.raises(SplitError, match="missing.parquet"):
        train_model(train=data["train"], val=missing, spec=make_spec(), seed=0, **outputs(out))


def test_non_finite_spectra_raise_data_error(tmp_path):
    x = np.ones((4, 128), dtype=np.float32)
    x[2, 5] = np.nan
    path = tmp_path / "nan.parquet"
    write_split(
        path,
        spectra=x,
        labels=np.arange(4),
        peak_positions=[np.array([1])] * 4,
        peak_heights=[np.array([1.0])] * 4,
        sigma=np.ones(4),
        variant=["random"] * 4,
    )
    with pytest.raises(DataError, match=r"nan.parquet: spectrum in row 2"):
        train_model(train=path, val=path, spec=make_spec(), seed=0, **outputs(tmp_path))


def test_unknown_architecture_or_hyperparameter(data, tmp_path):
    with pytest.raises(HyperparameterError, match="unknown architecture 'cnn99'"):
        run(data, tmp_path, spec=make_spec("cnn99", {}))
    with pytest.raises(HyperparameterError, match="unknown hyperparameter 'units'"):
        run(data, tmp_path, spec=make_spec("cnn2", {"units": 3}))
    assert not (tmp_path / "training.json").exists()


def test_backend_cannot_change_after_keras_import():
    import keras

    from specbench.training.backend import BackendError, configure

    other = "jax" if keras.backend.backend() != "jax" else "torch"
    with pytest.raises(BackendError, match=f"backend '{other}' requested"):
        configure(other)


@pytest.mark.slow
def test_mixed_bfloat16_reaches_float32_accuracy(data, tmp_path):
    import keras

    f32 = [run(data, tmp_path / f"f{s}", seed=s, spec=make_spec(epochs=4)) for s in (0, 1)]
    bf16 = run(data, tmp_path / "bf", seed=0, spec=make_spec(epochs=4, precision="mixed_bfloat16"))
    acc32 = [i["best_val_accuracy"] for i in f32]
    noise = max(acc32) - min(acc32)
    assert min(acc32) > 0.5  # learned something (chance: 0.2)
    assert abs(bf16["best_val_accuracy"] - np.mean(acc32)) <= max(2 * noise, 0.1)
    assert bf16["precision"] == "mixed_bfloat16"
    model = keras.saving.load_model(tmp_path / "bf" / "model.keras")
    assert any(layer.compute_dtype == "bfloat16" for layer in model.layers)
    assert model.layers[-1].compute_dtype == "float32"
    assert keras.config.dtype_policy().name == "float32"  # not leaked to later code


# ------------------------------------------------------------------ subprocesses


def python(code: str, *args: str, **popen) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=SRC, TF_CPP_MIN_LOG_LEVEL="2", PYTHONHASHSEED="0")
    env.pop("KERAS_BACKEND", None)
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args], env=env, text=True, **popen
    )


TRAIN = """
import json, logging, sys
logging.basicConfig(level=logging.INFO)
from specbench.training.train import train_model
train_model(**json.loads(sys.argv[1]))
"""


def train_args(data, out: Path, spec, backup: Path | None = None, threads=1):
    args = {
        "train": str(data["train"]),
        "val": str(data["val"]),
        "spec": spec,
        "seed": 0,
        "threads": threads,
        "backup_dir": None if backup is None else str(backup),
        "backup_interval_s": 0,  # a backup after every epoch
    }
    return json.dumps(args | {k: str(v) for k, v in outputs(out).items()})


@pytest.mark.slow
def test_resume_after_sigkill_continues_where_it_stopped(tmp_path):
    """A run killed after >= 2 epochs continues from its backup and matches an uninterrupted run."""
    data = write_dataset(tmp_path / "data", per_class=(200, 8, 8))  # ~0.3 s per epoch
    spec = make_spec(epochs=10, reduce_lr={"patience": 1}, early_stopping={"patience": 30})
    backup = tmp_path / "backup"
    killed = tmp_path / "run"
    state = backup / "state.json"

    proc = python(TRAIN, train_args(data, killed, spec, backup), stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    epoch = 0
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            epoch = json.loads(state.read_text())["epoch"]
        except (OSError, ValueError, KeyError):
            epoch = 0
        if epoch >= 2:
            break
        time.sleep(0.02)
    assert proc.poll() is None, f"training ended before it could be killed:\n{proc.stderr.read()}"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    done = json.loads(state.read_text())["epoch"]
    assert 2 <= done < 10
    assert not any(p.exists() for p in outputs(killed).values())  # nothing complete-looking

    resumed = python(TRAIN, train_args(data, killed, spec, backup), stderr=subprocess.PIPE)
    reference = python(TRAIN, train_args(data, tmp_path / "ref", spec), stderr=subprocess.PIPE)
    errors = []
    for p in (resumed, reference):
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
        errors.append(err)
    assert f"resuming after epoch {done}" in errors[0]
    assert "resuming" not in errors[1]

    info = json.loads((killed / "training.json").read_text())
    assert info["resumed_from_epoch"] == done > 0
    history = pd.read_csv(killed / "history.csv")
    assert history["epoch"].tolist() == list(range(1, 11))
    assert not backup.exists()
    # data order, dropout randomness, optimizer, LR schedule and early-stopping state restored:
    # the resumed run is the uninterrupted one
    ref = history_values(tmp_path / "ref" / "history.csv")
    pd.testing.assert_frame_equal(history.drop(columns="epoch_time_s"), ref)
    assert history["learning_rate"].nunique() > 1  # the schedule was exercised
    ref_info = json.loads((tmp_path / "ref" / "training.json").read_text())
    assert info["best_epoch"] == ref_info["best_epoch"]


BACKEND_RUN = """
import json, sys
from specbench.training.train import train_model
from specbench.evaluation.evaluate import evaluate_model
args, eval_args = json.loads(sys.argv[1]), json.loads(sys.argv[2])
train_model(**args)
evaluate_model(**eval_args)
import keras
print("KERAS_BACKEND", keras.backend.backend())
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_each_backend_trains_and_evaluates(backend, data, tmp_path):
    spec = make_spec(epochs=2, backend=backend)
    out = outputs(tmp_path)
    eval_args = {
        "model_path": str(out["model_path"]),
        "info_path": str(out["info_path"]),
        "history_path": str(out["history_path"]),
        "test": str(data["test"]),
        "predictions_path": str(tmp_path / "predictions.parquet"),
        "metrics_path": str(tmp_path / "metrics.json"),
    }
    proc = python(
        BACKEND_RUN,
        train_args(data, tmp_path, spec),
        json.dumps(eval_args),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    assert f"KERAS_BACKEND {backend}" in stdout
    info = json.loads(out["info_path"].read_text())
    assert info["backend"] == backend and info["epochs_run"] == 2
    assert backend in info["versions"]
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert metrics["backend"] == backend
    assert metrics["n_test"] == 40 and metrics["parameters"] == info["parameters"]
    assert info["loss_from"] == metrics["loss_from"] == "logits"


CONFIDENTLY_WRONG = """
import json, sys
import numpy as np
from specbench.training import backend
keras = backend.configure(sys.argv[1], "float32", 1, True)
from specbench.training.objective import compile_model, logits_training

def step(logits):
    keras.utils.set_random_seed(0)
    inputs = keras.Input((4,))
    model = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="predictions")(inputs))
    # the true class's logit 50 below another's: p = 2e-22 < 1e-7
    model.set_weights([np.zeros((4, 3), "float32"), np.array([0.0, 50.0, 0.0], "float32")])
    before = [w.copy() for w in model.get_weights()]
    x, y = np.ones((1, 4), "float32"), np.array([0])
    if logits:
        with logits_training(model) as from_logits:
            compile_model(model, 1e-3, from_logits=from_logits)
            loss = float(model.train_on_batch(x, y)[0])
    else:
        compile_model(model, 1e-3)
        loss = float(model.train_on_batch(x, y)[0])
    moved = any(not np.array_equal(a, b) for a, b in zip(before, model.get_weights()))
    rows = keras.ops.convert_to_numpy(model(x)).sum(axis=1)
    return {"loss": loss, "moved": moved, "sums_to_1": bool(np.allclose(rows, 1.0))}

print("RESULT " + json.dumps({"probabilities": step(False), "logits": step(True)}))
"""


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tensorflow", "jax", "torch"])
def test_a_confidently_wrong_spectrum_is_learned_from_on_every_backend(backend):
    # Keras' loss of a softmax output is clipped at 1e-7 on JAX and PyTorch (16.118, no
    # gradient); on the logits it is 50 and the weights move, as on TensorFlow
    proc = python(CONFIDENTLY_WRONG, backend, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    stdout, stderr = proc.communicate(timeout=300)
    assert proc.returncode == 0, stderr
    line = [ln for ln in stdout.splitlines() if ln.startswith("RESULT ")][-1]
    result = json.loads(line[len("RESULT ") :])
    logits = result["logits"]
    assert logits["loss"] == pytest.approx(50.0, rel=1e-4) and logits["moved"]
    assert logits["sums_to_1"]  # the softmax is back once training is done
    clipped = result["probabilities"]
    if backend == "tensorflow":  # Keras takes the logits behind the softmax itself
        assert clipped["loss"] == pytest.approx(50.0, rel=1e-4) and clipped["moved"]
    else:
        assert clipped["loss"] == pytest.approx(-np.log(1e-7), rel=1e-4) and not clipped["moved"]


@pytest.mark.slow
def test_architecture_scale_records_the_kernels_used(data, tmp_path):
    import keras

    # 128 points: TINY_HP's kernels [9, 5] scaled by 128/5000 fall to the floor of 3
    info = run(data, tmp_path, spec=make_spec(architecture_scale="auto", epochs=1))
    expected = [3, 3]
    assert info["hyperparameters"]["kernel_size"] == expected
    assert info["training"]["architecture_scale"] == "auto"
    model = keras.saving.load_model(tmp_path / "model.keras")
    assert [model.get_layer(f"conv{i}").kernel_size[0] for i in (1, 2)] == expected


def test_a_jobs_start_is_counted_from_its_processs_start():
    # training.json's timings["start_s"]: the time before train_model, from the process's start
    code = (
        "import time; time.sleep(1.0)\n"
        "from specbench.training.timings import process_age_s\n"
        "print(process_age_s(), process_age_s('/no/such/stat'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": SRC},
    )
    age, missing = out.stdout.split()
    assert 1.0 <= float(age) < 10 and missing == "None", out.stderr


def test_every_xla_flag_the_jax_backend_sets_is_one_xla_reads():
    # XLA dies on an unknown "--" flag but silently skips a token without the dashes (such as
    # the often quoted "intra_op_parallelism_threads=1"): every flag set must be a "--" flag, and
    # XLA must start with them (one thread, deterministic: the most flags configure sets)
    code = (
        "import os\n"
        "from specbench.training import backend\n"
        "backend.configure('jax', 'float32', threads=1, deterministic=True)\n"
        "import jax.numpy as jnp\n"
        "print(float((jnp.ones(3) + 1).sum()), os.environ['XLA_FLAGS'])"
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    env.pop("XLA_FLAGS", None)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    total, *flags = out.stdout.split()
    assert float(total) == 6.0
    assert "--xla_cpu_multi_thread_eigen=false" in flags
    assert all(flag.startswith("--") for flag in flags), flags


@pytest.mark.slow
def test_extra_metrics_and_callbacks_see_the_training_and_change_nothing(data, tmp_path):
    # what benchmarks/loss_clip.py relies on: its metrics are computed on the training forward
    # passes and reach its callback, and the training itself is the one train_model runs
    import keras

    from specbench.data.preprocess import load_split
    from specbench.models import registry
    from specbench.training.train import compile_model, fit

    train, val = load_split(data["train"]), load_split(data["val"])
    training = protocol(make_spec()["training"])

    def trained(extra: bool):
        keras.utils.set_random_seed(0)
        model = registry.construct("cnn2", 128, 5, registry.check("cnn2", TINY_HP))
        seen = []

        class Record(keras.callbacks.Callback):
            def on_epoch_end(self, epoch, logs=None):
                seen.append(dict(logs))

        metrics = [keras.metrics.SparseCategoricalAccuracy(name="again")] if extra else []
        compile_model(model, training["learning_rate"], extra_metrics=metrics)
        result = fit(model, train, val, training=training, seed=0, extra_callbacks=[Record()])
        return result, seen, model.get_weights()

    plain, _, plain_weights = trained(False)
    extra, seen, extra_weights = trained(True)
    assert len(seen) == extra.epochs_run == 3
    for row, logged in zip(extra.history, seen):
        assert logged["again"] == pytest.approx(row["accuracy"])
        assert logged["val_again"] == pytest.approx(row["val_accuracy"])
    drop = ("epoch_time_s",)
    assert [{k: v for k, v in r.items() if k not in drop} for r in plain.history] == [
        {k: v for k, v in r.items() if k not in drop} for r in extra.history
    ]
    for a, b in zip(plain_weights, extra_weights):
        np.testing.assert_array_equal(a, b)


@pytest.mark.slow
def test_on_tensorflow_the_loss_of_the_logits_is_what_keras_computed_already(data):
    # TensorFlow's Keras takes a softmax output's loss from the logits behind it, so training on
    # the logits (logits_training) changes nothing there: the same history and weights to the bit
    import keras

    from specbench.data.preprocess import load_split
    from specbench.models import registry
    from specbench.training.objective import compile_model, logits_training
    from specbench.training.train import fit

    assert keras.backend.backend() == "tensorflow"
    train, val = load_split(data["train"]), load_split(data["val"])
    training = protocol(make_spec()["training"])

    def trained(logits: bool):
        keras.utils.set_random_seed(0)
        model = registry.construct("cnn2", 128, 5, registry.check("cnn2", TINY_HP))
        if logits:
            with logits_training(model) as from_logits:
                assert from_logits
                compile_model(model, training["learning_rate"], from_logits=True)
                result = fit(model, train, val, training=training, seed=0)
        else:
            compile_model(model, training["learning_rate"])
            result = fit(model, train, val, training=training, seed=0)
        rows = [{k: v for k, v in r.items() if k != "epoch_time_s"} for r in result.history]
        return rows, model.get_weights(), model.predict(val[0], verbose=0)

    plain, plain_weights, plain_p = trained(False)
    logits, logits_weights, logits_p = trained(True)
    assert plain == logits
    for a, b in zip(plain_weights, logits_weights):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(plain_p, logits_p)  # probabilities again after training


def test_the_softmax_layer_is_found_where_the_logits_can_be_had():
    import keras

    from specbench.training.objective import logits_training, softmax_layer

    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(3, name="logits")(inputs)
    dense = keras.Model(inputs, keras.layers.Dense(3, activation="softmax", name="p")(inputs))
    activation = keras.Model(inputs, keras.layers.Activation("softmax", name="p")(hidden))
    other = keras.Model(inputs, keras.layers.Softmax(name="p")(hidden))  # no activation to take off
    x = np.array([[1.0, -2.0, 0.5, 3.0]], dtype="float32")
    for model in (dense, activation):
        layer = softmax_layer(model)
        assert layer is model.get_layer("p")
        probabilities = keras.ops.convert_to_numpy(model(x))
        with logits_training(model) as from_logits:
            assert from_logits
            logits = keras.ops.convert_to_numpy(model(x))
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(keras.ops.softmax(logits)), probabilities, rtol=1e-6
        )
        np.testing.assert_array_equal(keras.ops.convert_to_numpy(model(x)), probabilities)
    assert softmax_layer(other) is None
    with logits_training(other) as from_logits:
        assert not from_logits
