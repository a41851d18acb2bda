"""Training one model on one dataset with one seed (rule train_model), resumable per epoch.

Protocol (Schuetzke et al. 2023, Methods; every value configurable in ``params.spec.training``,
defaults in :data:`DEFAULT_PROTOCOL`):

- each spectrum is divided by its maximum (:func:`normalise`, shared with the evaluation);
- Adam(learning_rate), sparse categorical cross-entropy on the integer labels (identical to
  categorical cross-entropy on one-hot labels, without materialising the one-hot matrix), accuracy;
- up to ``epochs`` epochs of ``batch_size`` spectra; validation on the val split (never the test
  split) after every epoch;
- early stopping on val_loss (``early_stopping``: patience, min_delta, restore_best_weights) and
  ReduceLROnPlateau on val_loss (``reduce_lr``: patience, factor, min_lr), with Keras' own
  ``EarlyStopping`` / ``ReduceLROnPlateau`` callbacks (their exact semantics);
- ``keras.utils.set_random_seed(seed)`` before building and before fitting; deterministic ops
  (``backend.configure``); the training data are shuffled every epoch with a permutation drawn
  from ``np.random.default_rng([seed, epoch])`` (NumPy SPEC 7; independent of interruptions).

Data feeding: the splits are read once into float32 NumPy arrays (``specbench.io.read_arrays``)
and normalised in place; one ``fit`` call per epoch gets that epoch's batches from
:class:`EpochFeeder` (TensorFlow: one tf.data pipeline over the in-memory tensors, built once,
which measured faster than Keras' array adapter; JAX/PyTorch: the reordered NumPy arrays).
benchmarks/train_throughput.py checks this path against a bare multi-epoch ``model.fit`` on the
same arrays.

Resume: after an epoch :class:`Checkpoint` writes to ``backup_dir`` the model weights together with
the optimizer state (Adam moments, iteration, learning rate), the dropout seed-generator states, the
best weights kept for ``restore_best_weights``, the states of EarlyStopping (wait, best, best epoch)
and ReduceLROnPlateau (wait, best, cooldown) and the history so far; the JSON file naming them is
replaced atomically last, so a SIGKILL at any moment leaves the previous complete backup. Backups
are written after every epoch, except that by default they are spaced so that writing them takes at
most ~2 % of the training time (``BACKUP_OVERHEAD``: saving a 19M-parameter model with its Adam
moments takes ~0.2 s, negligible against a paper-scale epoch of minutes, but not against the sub-
second epochs of a small run or a GPU, where a kill then loses at most ~50 backup-durations of
work); ``backup_interval_s=0`` forces one after every epoch. The last epoch writes none (the outputs
follow). A rerun of the job restores all of it and continues with the next epoch: the history holds
every epoch, early stopping and the learning-rate schedule behave as without the interruption, and,
because the data order and the dropout randomness of each epoch are restored too (TensorFlow/JAX:
the layers' seed-generator states; PyTorch, whose unseeded Dropout uses torch's global generator:
that generator seeded from (seed, epoch) at the start of each epoch), the resumed run reproduces the
uninterrupted one (bit-for-bit on CPU with deterministic ops and the same thread count, checked for
all three backends; tests/test_training.py checks TensorFlow). A backup written for another model,
protocol, seed or other data (a fingerprint over all of them) is ignored and replaced. The backup
directory is removed when training succeeds. Outputs are written to temporary files and renamed at
the end, so a killed job leaves none of them.

Timing: ``epoch_time_s`` is the wall time of one epoch's ``fit`` (training and validation);
``train_time_s`` is their sum over all epochs (including epochs run before an interruption);
``train_samples_per_s`` = n_train * epochs_run / train_time_s.

This module does not import keras at import time (``backend.configure`` must run first).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

logger = logging.getLogger("specbench.training")

HISTORY_COLUMNS = (
    "epoch",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "learning_rate",
    "epoch_time_s",
)

#: The paper's protocol; the config's `training` (already holding these defaults) overrides it.
DEFAULT_PROTOCOL: dict[str, Any] = {
    "backend": "tensorflow",
    # bf16 where the hardware computes it natively, else float32 (specbench.devices)
    "precision": "auto",
    "epochs": 500,
    "batch_size": 128,
    "learning_rate": 3.0e-4,
    "deterministic": True,
    "early_stopping": {"patience": 25, "min_delta": 1.0e-4, "restore_best_weights": True},
    # Keras' defaults for factor and min_lr: the authors' scripts call
    # ReduceLROnPlateau(patience=10) and nothing else.
    "reduce_lr": {"patience": 10, "factor": 0.1, "min_lr": 0.0},
}

CHECKPOINT_FORMAT = 1
#: Default bound on the share of training time spent writing backups (see :func:`fit`).
BACKUP_OVERHEAD = 0.02
STATE_FILE = "state.json"


class TrainingError(ValueError):
    """A training job that cannot run or did not converge; the message names file/value."""


class TrainingDivergedError(TrainingError):
    """The loss became NaN or infinite; training stopped and no outputs were written."""


class DataError(TrainingError):
    """Training data that cannot be used (non-finite values, mismatched shapes or labels)."""


# ------------------------------------------------------------------------------ protocol, data


def protocol(training: dict | None = None) -> dict[str, Any]:
    """The complete training protocol: DEFAULT_PROTOCOL updated by `training` (validated)."""
    from specbench.backend import check

    out = copy.deepcopy(DEFAULT_PROTOCOL)
    for key, value in (training or {}).items():
        if key not in out:
            raise TrainingError(
                f"unknown training setting {key!r} (known: {', '.join(DEFAULT_PROTOCOL)})"
            )
        if isinstance(out[key], dict):
            if not isinstance(value, dict):
                raise TrainingError(f"training setting {key}={value!r} must be a mapping")
            unknown = [k for k in value if k not in out[key]]
            if unknown:
                raise TrainingError(
                    f"unknown training setting {key}.{unknown[0]} "
                    f"(known: {', '.join(out[key])})"
                )
            out[key].update(value)
        else:
            out[key] = value
    check(out["backend"], out["precision"])
    for key in ("epochs", "batch_size"):
        if not isinstance(out[key], int) or isinstance(out[key], bool) or out[key] < 1:
            raise TrainingError(f"training setting {key}={out[key]!r} must be a positive integer")
    if not out["learning_rate"] > 0:
        raise TrainingError(f"training setting learning_rate={out['learning_rate']!r} must be > 0")
    if not 0 < out["reduce_lr"]["factor"] < 1:
        raise TrainingError(
            f"training setting reduce_lr.factor={out['reduce_lr']['factor']!r} must be in (0, 1)"
        )
    return out


def normalise(spectra: np.ndarray, *, inplace: bool = False) -> np.ndarray:
    """Each spectrum (row) divided by its maximum, float32 (rows with max <= 0 are left as is)."""
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

    Raises specbench.io.SplitError for a missing/truncated/wrong-schema file and DataError
    naming the file for non-finite spectra or negative labels.
    """
    from specbench.io import read_arrays

    x, y = read_arrays(path)
    if x.ndim != 2 or len(x) == 0:
        raise DataError(f"{path}: no spectra (shape {x.shape})")
    if not np.isfinite(x).all():
        bad = int(np.flatnonzero(~np.isfinite(x).all(axis=1))[0])
        raise DataError(f"{path}: spectrum in row {bad} has non-finite values")
    if y.min() < 0:
        raise DataError(f"{path}: negative label {int(y.min())}")
    return normalise(x, inplace=True), np.asarray(y, dtype=np.int32)


def data_fingerprint(*arrays: np.ndarray) -> str:
    """Short hash of the contents of arrays (to tell whether a backup belongs to these data)."""
    h = hashlib.blake2b(digest_size=12)
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(memoryview(a).cast("B"))
    return h.hexdigest()


def single_path(value: Any, name: str) -> Path:
    """`value` as one path: a str/PathLike, or a list of exactly one (as Snakemake passes an
    input given by a function that returns a list)."""
    if isinstance(value, (str, os.PathLike)):
        return Path(value)
    items = list(value)
    if len(items) != 1 or not isinstance(items[0], (str, os.PathLike)):
        raise TrainingError(f"{name} must be one file, got {items!r}")
    return Path(items[0])


def _canonical(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=str)


# ------------------------------------------------------------------------------ checkpoint


def _seed_variables(model) -> list:
    """Seed-generator states of the model's layers (dropout randomness), in a stable order."""
    weights = {id(v) for v in model.weights}
    return [v for v in model.variables if id(v) not in weights and "seed_generator" in v.path]


def _atomic_json(path: Path, obj: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@dataclass
class Checkpoint:
    """Backup of the complete training state in `directory` (see module docstring).

    Files: ``epochNNNNN.weights.h5`` (model and optimizer variables), ``epochNNNNN.seeds.npz``
    (seed-generator states), ``bestNNNNN.npz`` (EarlyStopping's best weights, rewritten only when
    the best epoch changes) and ``state.json`` naming them, replaced atomically last.
    """

    directory: Path
    fingerprint: str

    def __post_init__(self):
        self.directory = Path(self.directory)

    @property
    def state_path(self) -> Path:
        return self.directory / STATE_FILE

    def load(self) -> dict | None:
        """The saved state, or None if there is no usable backup."""
        try:
            state = json.loads(self.state_path.read_text())
        except FileNotFoundError:
            return None
        except (OSError, ValueError) as exc:
            logger.warning("ignoring unreadable backup %s (%s)", self.state_path, exc)
            return None
        if state.get("format") != CHECKPOINT_FORMAT or state.get("fingerprint") != self.fingerprint:
            logger.warning(
                "ignoring backup in %s: it was written for another model, protocol or data",
                self.directory,
            )
            return None
        files = [state["weights"], state["seeds"]] + ([state["best"]] if state["best"] else [])
        if not all((self.directory / name).is_file() for name in files):
            logger.warning("ignoring incomplete backup in %s", self.directory)
            return None
        return state

    def _write(self, name: str, write) -> None:
        tmp = self.directory / f".tmp-{os.getpid()}-{name}"
        write(tmp)
        os.replace(tmp, self.directory / name)

    def save(self, model, epoch: int, state: dict, best_weights: list | None, best_epoch: int):
        """Write the state after `epoch` (1-based) completed epochs; state.json goes last."""
        self.directory.mkdir(parents=True, exist_ok=True)
        weights = f"epoch{epoch:05d}.weights.h5"
        seeds = f"epoch{epoch:05d}.seeds.npz"
        best = None if best_weights is None else f"best{best_epoch + 1:05d}.npz"
        self._write(weights, model.save_weights)  # model + optimizer variables
        states = {f"seed{i}": np.asarray(v.numpy()) for i, v in enumerate(_seed_variables(model))}
        self._write(seeds, lambda path: _savez(path, states))
        if best is not None and not (self.directory / best).is_file():
            arrays = {f"w{i}": np.asarray(w) for i, w in enumerate(best_weights)}
            self._write(best, lambda path: _savez(path, arrays))
        full = dict(state, format=CHECKPOINT_FORMAT, fingerprint=self.fingerprint, epoch=epoch)
        full.update(weights=weights, seeds=seeds, best=best)
        _atomic_json(self.state_path, full)
        for path in self.directory.iterdir():  # files of earlier backups
            if path.name not in (weights, seeds, best, STATE_FILE):
                path.unlink(missing_ok=True)

    def restore(self, model, state: dict) -> list | None:
        """Load weights, optimizer and seed states into `model`; returns the best weights."""
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(self.directory / state["weights"])
        with np.load(self.directory / state["seeds"]) as data:
            for i, v in enumerate(_seed_variables(model)):
                v.assign(data[f"seed{i}"])
        if not state["best"]:
            return None
        with np.load(self.directory / state["best"]) as data:
            return [data[f"w{i}"] for i in range(len(data.files))]

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)


def _savez(path: Path, arrays: dict[str, np.ndarray]) -> None:
    with open(path, "wb") as f:
        np.savez(f, **arrays)


# ------------------------------------------------------------------------------ fitting


@dataclass
class FitResult:
    """What :func:`fit` returns: the history (one dict per epoch, HISTORY_COLUMNS) and summary."""

    history: list[dict[str, float]]
    best_epoch: int  # 1-based epoch of the lowest val_loss (the restored weights' epoch)
    resumed_from_epoch: int  # completed epochs restored from a backup (0: fresh start)
    stopped_early: bool
    train_time_s: float
    #: wall and process CPU time of each epoch run in this call, backups and bookkeeping included
    epoch_wall_s: list[float] = field(default_factory=list)
    epoch_cpu_s: list[float] = field(default_factory=list)

    @property
    def epochs_run(self) -> int:
        return len(self.history)


def _torch_epoch_seed_callback():
    import keras

    class TorchEpochSeed(keras.callbacks.Callback):
        """Seed torch's global generator from (seed, epoch) when an epoch's batches begin.

        Keras' PyTorch Dropout layers without an explicit seed draw from torch's global
        generator, which Keras' own first-fit work in a fresh process also consumes; seeding it
        per epoch makes each epoch's dropout masks depend on (seed, epoch) only, so a resumed
        run repeats the uninterrupted one. (TensorFlow and JAX use the layers' seed generators,
        whose states are saved in the backup.)
        """

        def __init__(self, seed: int):
            super().__init__()
            self.seed = seed
            self.epoch = 0

        def on_epoch_begin(self, epoch, logs=None):
            import torch

            words = np.random.default_rng([self.seed, self.epoch, 7]).integers(0, 2**62)
            torch.manual_seed(int(words))

    return TorchEpochSeed


def _host_array(variable) -> np.ndarray:
    """A NumPy view of a Keras variable's current value, without a copy where the backend allows
    (Keras' own ``variable.numpy()`` copies, into fresh pages, on TensorFlow)."""
    value = variable.value
    if hasattr(value, "read_value"):  # TensorFlow
        tensor = value.read_value()
        try:
            return np.asarray(memoryview(tensor))
        except (TypeError, ValueError):  # e.g. a GPU tensor
            return tensor.numpy()
    if hasattr(value, "detach"):  # PyTorch
        return value.detach().cpu().numpy()
    return np.asarray(value)  # JAX


def _device_batches(x: np.ndarray, y: np.ndarray, batch_size: int):
    """A ``keras.utils.PyDataset`` over `x`, `y` copied once to the backend's device (JAX,
    PyTorch: the GPU when there is one). :meth:`reorder` gathers an epoch's order on the device;
    batches are then slices of the reordered arrays, so no spectrum crosses the host-device link
    again. (Keras' array adapter would copy JAX arrays back to the host, and send every batch to
    the device again.) Iterated in the calling thread (one worker, no multiprocessing)."""
    import keras

    class DeviceBatches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False)
            self.x = keras.ops.convert_to_tensor(x)
            self.y = keras.ops.convert_to_tensor(y)
            self.epoch_x, self.epoch_y = self.x, self.y
            self.n, self.batch_size = len(x), batch_size

        def reorder(self, order: np.ndarray) -> None:
            idx = keras.ops.convert_to_tensor(order.astype(np.int32))
            self.epoch_x = keras.ops.take(self.x, idx, axis=0)
            self.epoch_y = keras.ops.take(self.y, idx, axis=0)

        @property
        def num_batches(self) -> int:
            return -(-self.n // self.batch_size)

        def __len__(self) -> int:
            return self.num_batches

        def __getitem__(self, i: int):
            start = i * self.batch_size
            stop = min(start + self.batch_size, self.n)
            return self.epoch_x[start:stop], self.epoch_y[start:stop]

    return DeviceBatches()


class EpochFeeder:
    """The arguments of one epoch's ``model.fit``: training batches in a given order, validation.

    TensorFlow: the arrays are copied into TF once and served by one tf.data pipeline built once
    (batches gathered by an order variable assigned each epoch; validation batches cached), so an
    epoch's ``fit`` traces no tf.data functions: ~50 ms less per epoch than NumPy arrays given to
    ``fit``, whose array adapter rebuilds its pipeline at every call (and faster per epoch than a
    multi-epoch ``fit`` on arrays; see benchmarks/train_throughput.py). JAX and PyTorch: the
    arrays live on the backend's device (the GPU, if any) from the start, and each epoch's order is
    gathered there (:func:`_device_batches`).
    Batches are consecutive slices of the order, the last one partial, as in ``fit(shuffle=True)``.
    """

    def __init__(self, train, val, batch_size: int):
        import keras

        self.train, self.val, self.batch_size = train, val, batch_size
        self.tf = keras.backend.backend() == "tensorflow"
        if self.tf:
            self._build_tf()
        else:
            self._train_ds = _device_batches(*train, batch_size)
            self._val_ds = _device_batches(*val, batch_size)

    def _build_tf(self) -> None:
        import tensorflow as tf

        (x, y), (x_val, y_val), b = self.train, self.val, self.batch_size
        n = len(x)
        full = n // b
        x_t, y_t = tf.constant(x), tf.constant(y)
        self._order = tf.Variable(tf.range(n, dtype=tf.int64), trainable=False)

        def batches(_):
            order = self._order.read_value()
            ds = tf.data.Dataset.from_tensor_slices(tf.reshape(order[: full * b], [full, b]))
            if n % b:
                ds = ds.concatenate(tf.data.Dataset.from_tensors(order[full * b :]))
            return ds

        self._train_ds = (
            tf.data.Dataset.range(1)
            .flat_map(batches)
            .map(
                lambda i: (tf.gather(x_t, i), tf.gather(y_t, i)),
                num_parallel_calls=tf.data.AUTOTUNE,
            )
            .prefetch(tf.data.AUTOTUNE)
            .apply(tf.data.experimental.assert_cardinality(full + (n % b > 0)))
        )
        self._val_ds = (
            tf.data.Dataset.from_tensor_slices((x_val, y_val)).batch(b).cache().prefetch(2)
        )

    def epoch(self, order: np.ndarray) -> dict[str, Any]:
        if self.tf:
            self._order.assign(order.astype(np.int64))
        else:
            self._train_ds.reorder(order)
        return {"x": self._train_ds, "validation_data": self._val_ds}


class BestWeights:
    """The weights of the best epoch so far, for ``restore_best_weights``.

    Same semantics as Keras' EarlyStopping(restore_best_weights=True) (captured whenever the
    monitored val_loss improves, restored at the end), but copied into buffers allocated once:
    ``model.get_weights()`` allocates fresh arrays at every improvement, which for an 83M-parameter
    model costs ~0.7 s of page faults per copy, against ~0.1 s for a copy into existing buffers.
    """

    def __init__(self):
        self.arrays: list[np.ndarray] | None = None
        self.epoch: int | None = None

    def capture(self, model, epoch: int) -> None:
        values = [_host_array(v) for v in model.weights]
        if self.arrays is None:
            self.arrays = [np.empty_like(value) for value in values]
        for buffer, value in zip(self.arrays, values):
            np.copyto(buffer, value)
        self.epoch = epoch

    def load(self, arrays: list[np.ndarray], epoch: int) -> None:
        self.arrays = [np.array(a) for a in arrays]
        self.epoch = epoch


def compile_model(model, learning_rate: float) -> None:
    """Adam(learning_rate), sparse categorical cross-entropy, accuracy."""
    import keras

    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss=keras.losses.SparseCategoricalCrossentropy(),
        metrics=["accuracy"],
    )


def _learning_rate(model) -> float:
    value = model.optimizer.learning_rate
    return float(value.numpy() if hasattr(value, "numpy") else value)


def _build_for_checkpoint(model, x: np.ndarray) -> None:
    """Create the optimizer and metric variables (needed before restoring a backup)."""
    if not model.built:
        model(x[:1])
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)


def fit(
    model,
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    *,
    training: dict,
    seed: int,
    backup_dir: str | os.PathLike | None = None,
    fingerprint: str = "",
    name: str = "model",
    backup_interval_s: float | None = None,
) -> FitResult:
    """Train a compiled `model` by the protocol `training`; resumes from `backup_dir` if given.

    `train`/`val` are (normalised float32 spectra, int32 labels). The per-epoch history is logged
    to ``specbench.training``. Raises TrainingDivergedError when a loss becomes non-finite. The
    backup directory is removed on success (not on failure). A backup is written after an epoch
    when at least `backup_interval_s` seconds passed since the previous one (0: after every
    epoch); by default (None) when that time is at least 1/BACKUP_OVERHEAD times the previous
    backup's duration, so backups cost at most ~2 % of the training time.
    """
    import keras

    training = protocol(training)
    x_train = train[0]
    n_train = len(x_train)
    es_cfg, lr_cfg = training["early_stopping"], training["reduce_lr"]
    early = keras.callbacks.EarlyStopping(
        monitor="val_loss",
        patience=es_cfg["patience"],
        min_delta=es_cfg["min_delta"],
        restore_best_weights=False,  # kept by BestWeights instead (no reallocation per copy)
    )
    reduce = keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss",
        patience=lr_cfg["patience"],
        factor=lr_cfg["factor"],
        min_lr=lr_cfg["min_lr"],
    )
    for cb in (early, reduce):
        cb.set_model(model)
        cb.on_train_begin()
    best = BestWeights() if es_cfg["restore_best_weights"] else None

    checkpoint = None
    history: list[dict[str, float]] = []
    start = 0
    stopped = False
    if backup_dir is not None:
        checkpoint = Checkpoint(Path(backup_dir), fingerprint)
        state = checkpoint.load()
        if state is not None:
            _build_for_checkpoint(model, x_train)
            best_weights = checkpoint.restore(model, state)
            history = state["history"]
            start = state["epoch"]
            early.wait = state["early_stopping"]["wait"]
            early.best = state["early_stopping"]["best"]
            early.best_epoch = state["early_stopping"]["best_epoch"]
            if best_weights is not None:
                best.load(best_weights, early.best_epoch)
            reduce.wait = state["reduce_lr"]["wait"]
            reduce.best = state["reduce_lr"]["best"]
            reduce.cooldown_counter = state["reduce_lr"]["cooldown_counter"]
            model.optimizer.learning_rate = state["learning_rate"]
            logger.info("%s: resuming after epoch %d from backup %s", name, start, backup_dir)
            stopped = bool(state["stopped"])

    keras.utils.set_random_seed(seed)
    guards = [keras.callbacks.TerminateOnNaN()]
    torch_seed = None
    if keras.backend.backend() == "torch":
        torch_seed = _torch_epoch_seed_callback()(seed)
        guards.append(torch_seed)
    feeder = EpochFeeder(train, val, training["batch_size"])
    last_backup, save_cost = time.perf_counter(), 0.0
    walls: list[float] = []
    cpus: list[float] = []
    for epoch in range(start, training["epochs"]):
        if stopped:
            break
        t_epoch, cpu_epoch = time.perf_counter(), time.process_time()
        order = np.random.default_rng([seed, epoch]).permutation(n_train)
        if torch_seed is not None:
            torch_seed.epoch = epoch
        lr = _learning_rate(model)
        t0 = time.perf_counter()
        out = model.fit(
            **feeder.epoch(order), epochs=1, shuffle=False, callbacks=guards, verbose=0
        ).history
        elapsed = time.perf_counter() - t0
        logs = {key: float(values[-1]) for key, values in out.items()}
        row = {
            "epoch": epoch + 1,
            "loss": logs.get("loss", math.nan),
            "accuracy": logs.get("accuracy", math.nan),
            "val_loss": logs.get("val_loss", math.nan),
            "val_accuracy": logs.get("val_accuracy", math.nan),
            "learning_rate": lr,
            "epoch_time_s": elapsed,
        }
        bad = [k for k in ("loss", "val_loss") if not math.isfinite(row[k])]
        if bad:
            raise TrainingDivergedError(
                f"{name}: {bad[0]} became {row[bad[0]]} in epoch {epoch + 1} "
                f"(learning_rate={lr:g}); training stopped, no outputs written"
            )
        history.append(row)
        logger.info(
            "%s epoch %d/%d: loss %.4f, accuracy %.4f, val_loss %.4f, val_accuracy %.4f, "
            "lr %.3g, %.2f s",
            name,
            epoch + 1,
            training["epochs"],
            row["loss"],
            row["accuracy"],
            row["val_loss"],
            row["val_accuracy"],
            lr,
            elapsed,
        )
        model.stop_training = False
        cb_logs = {"loss": row["loss"], "val_loss": row["val_loss"]}
        early.on_epoch_end(epoch, cb_logs)
        if best is not None and early.best_epoch == epoch:  # improved (or the first epoch)
            best.capture(model, epoch)
        reduce.on_epoch_end(epoch, dict(cb_logs))
        stopped = bool(model.stop_training)
        final = stopped or epoch + 1 >= training["epochs"]  # outputs follow; no backup needed
        since = time.perf_counter() - last_backup
        due = since >= (
            save_cost / BACKUP_OVERHEAD if backup_interval_s is None else backup_interval_s
        )
        if checkpoint is not None and due and not final:
            t_save = time.perf_counter()
            checkpoint.save(
                model,
                epoch + 1,
                {
                    "history": history,
                    "stopped": stopped,
                    "learning_rate": _learning_rate(model),
                    "early_stopping": {
                        "wait": early.wait,
                        "best": None if early.best is None else float(early.best),
                        "best_epoch": early.best_epoch,
                    },
                    "reduce_lr": {
                        "wait": reduce.wait,
                        "best": None if reduce.best is None else float(reduce.best),
                        "cooldown_counter": reduce.cooldown_counter,
                    },
                },
                None if best is None else best.arrays,
                early.best_epoch,
            )
            last_backup = time.perf_counter()
            save_cost = last_backup - t_save
        walls.append(time.perf_counter() - t_epoch)
        cpus.append(time.process_time() - cpu_epoch)
        if stopped:
            logger.info(
                "%s: early stopping after epoch %d (best epoch %d)",
                name,
                epoch + 1,
                early.best_epoch + 1,
            )
    if best is not None and best.arrays is not None:
        model.set_weights(best.arrays)
        logger.info("%s: restored the weights of epoch %d", name, best.epoch + 1)
    result = FitResult(
        history=history,
        best_epoch=int(early.best_epoch) + 1,
        resumed_from_epoch=start,
        stopped_early=stopped,
        train_time_s=float(sum(row["epoch_time_s"] for row in history)),
        epoch_wall_s=walls,
        epoch_cpu_s=cpus,
    )
    if checkpoint is not None:
        checkpoint.remove()
    return result


# ------------------------------------------------------------------------------ the job


def _tmp_path(path: Path) -> Path:
    """A temporary sibling of `path` keeping its suffix (Keras insists on `.keras`)."""
    return path.with_name(f".tmp-{os.getpid()}-{path.name}")


def write_history(path: str | os.PathLike, history: list[dict[str, float]]) -> None:
    """history.csv (HISTORY_COLUMNS, one row per epoch)."""
    import pandas as pd

    frame = pd.DataFrame(history, columns=list(HISTORY_COLUMNS))
    frame["epoch"] = frame["epoch"].astype("int64")
    frame.to_csv(path, index=False, float_format="%.8g")


def train_model(
    *,
    train: str | os.PathLike,
    val: str | os.PathLike,
    spec: dict,
    model_path: str | os.PathLike,
    history_path: str | os.PathLike,
    info_path: str | os.PathLike,
    seed: int,
    backup_dir: str | os.PathLike | None = None,
    dataset: str = "",
    model_name: str = "",
    threads: int = 1,
    backup_interval_s: float | None = None,
    backend_override: str | None = None,
    jobs_per_gpu: int | None = None,
) -> dict[str, Any]:
    """Train spec's architecture on `train` (validated on `val`); write model, history, info.

    `spec` = {"architecture", "hyperparameters", "training"} (config.model_entry). Resumes from
    `backup_dir` after an interrupted run (see module docstring; `backup_interval_s` as in
    :func:`fit`). `threads`: intra-op threads of the backend (the job's Snakemake threads).
    `backend_override`: the execution profile's Keras backend (the ``keras_backend`` resource of
    the gpu profile), replacing the protocol's; `jobs_per_gpu`: jobs sharing one GPU. Raises
    HyperparameterError for an unknown architecture/hyperparameter, specbench.io.SplitError for a
    bad split file, DataError for unusable data, TrainingDivergedError for a non-finite loss (no
    outputs are written on any error). Returns the training.json content.
    """
    from specbench import backend
    from specbench.models import registry

    seed = int(seed)
    train, val = single_path(train, "train"), single_path(val, "val")
    architecture = spec["architecture"]
    hyperparameters = registry.check(architecture, spec.get("hyperparameters") or {})
    training = protocol(spec.get("training"))
    if backend_override:
        backend.check(backend_override)
        if backend_override != training["backend"]:
            logger.info(
                "backend %s (the profile's keras_backend) instead of the config's %s",
                backend_override,
                training["backend"],
            )
        training["backend"] = backend_override
    model_name = model_name or architecture
    keras = backend.configure(
        training["backend"],
        training["precision"],
        threads,
        training["deterministic"],
        jobs_per_gpu=jobs_per_gpu,
    )
    try:
        return _train(
            keras,
            train=train,
            val=val,
            architecture=architecture,
            hyperparameters=hyperparameters,
            training=training,
            model_path=model_path,
            history_path=history_path,
            info_path=info_path,
            seed=seed,
            backup_dir=backup_dir,
            dataset=dataset,
            model_name=model_name,
            backup_interval_s=backup_interval_s,
        )
    finally:  # the dtype policy is process-global: do not leak mixed precision
        keras.config.set_dtype_policy("float32")


def _train(
    keras,
    *,
    train,
    val,
    architecture,
    hyperparameters,
    training,
    model_path,
    history_path,
    info_path,
    seed,
    backup_dir,
    dataset,
    model_name,
    backup_interval_s,
) -> dict[str, Any]:
    from specbench import backend
    from specbench.io import read_metadata
    from specbench.models import registry

    runtime = backend.runtime()
    t0 = time.perf_counter()
    x_train, y_train = load_split(train)
    config_hash = read_metadata(train).get("config_hash")
    x_val, y_val = load_split(val)
    if x_val.shape[1] != x_train.shape[1]:
        raise DataError(
            f"{val}: spectra have {x_val.shape[1]} points, {train} has {x_train.shape[1]}"
        )
    n_classes = int(max(y_train.max(), y_val.max())) + 1
    n_points = int(x_train.shape[1])
    logger.info(
        "%s: %d training and %d validation spectra of %d points, %d classes (read in %.2f s)",
        model_name,
        len(x_train),
        len(x_val),
        n_points,
        n_classes,
        time.perf_counter() - t0,
    )

    keras.utils.set_random_seed(seed)
    model = registry.build(architecture, n_points, n_classes, **hyperparameters)
    compile_model(model, training["learning_rate"])
    logger.info("%s: %s with %d parameters", model_name, architecture, model.count_params())

    fingerprint = hashlib.blake2b(
        _canonical(
            {
                "architecture": architecture,
                "hyperparameters": hyperparameters,
                "training": training,
                "precision": runtime["precision"],
                "seed": seed,
                "data": data_fingerprint(x_train, y_train, x_val, y_val),
            }
        ).encode(),
        digest_size=12,
    ).hexdigest()
    result = fit(
        model,
        (x_train, y_train),
        (x_val, y_val),
        training=training,
        seed=seed,
        backup_dir=backup_dir,
        fingerprint=fingerprint,
        name=model_name,
        backup_interval_s=backup_interval_s,
    )
    best = result.history[result.best_epoch - 1]
    info = {
        "model": model_name,
        "dataset": dataset,
        "config_hash": config_hash,
        "seed": seed,
        "architecture": architecture,
        "hyperparameters": hyperparameters,
        "training": training,
        "backend": training["backend"],
        "precision": runtime["precision"],  # resolved ("auto" -> what the device does natively)
        "device": runtime["device"]["name"],
        "device_kind": runtime["device"]["kind"],
        "cpu": runtime["device"]["cpu"],
        "threads": runtime["threads"],
        "parameters": int(model.count_params()),
        "n_train": int(len(x_train)),
        "n_val": int(len(x_val)),
        "n_points": n_points,
        "n_classes": n_classes,
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "best_val_loss": best["val_loss"],
        "best_val_accuracy": best["val_accuracy"],
        "stopped_early": result.stopped_early,
        "resumed_from_epoch": result.resumed_from_epoch,
        "train_time_s": result.train_time_s,
        "train_samples_per_s": len(x_train) * result.epochs_run / result.train_time_s,
        "versions": backend.versions(training["backend"]),
    }

    paths = [Path(model_path), Path(history_path), Path(info_path)]
    tmps = [_tmp_path(p) for p in paths]
    try:
        for p in paths:
            p.parent.mkdir(parents=True, exist_ok=True)
        model.save(tmps[0])
        write_history(tmps[1], result.history)
        tmps[2].write_text(json.dumps(info, indent=2) + "\n")
        for tmp, path in zip(tmps, paths):  # training.json last
            os.replace(tmp, path)
    finally:
        for tmp in tmps:
            tmp.unlink(missing_ok=True)
    logger.info(
        "%s: %d epochs (best %d, val_accuracy %.4f) in %.1f s; wrote %s",
        model_name,
        result.epochs_run,
        result.best_epoch,
        best["val_accuracy"],
        result.train_time_s,
        model_path,
    )
    return info
