"""Training one model on one dataset with one seed (rule train_model), resumable per epoch.

Protocol (Schuetzke et al. 2023, Methods; every value configurable in ``params.spec.training``,
defaults in the schema's ``training``, :func:`specbench.core.schema.defaults`):

- each spectrum is divided by its maximum (:func:`specbench.data.preprocess.normalise`, shared with
  the evaluation and ``specbench classify``);
- Adam(learning_rate), sparse categorical cross-entropy on the integer labels (identical to
  categorical cross-entropy on one-hot labels, without materialising the one-hot matrix), accuracy;
  the cross-entropy is that of the logits on every backend, as TensorFlow computes it
  (:func:`logits_training`; Keras' own loss of a softmax output is clipped on JAX and PyTorch);
- up to ``epochs`` epochs of ``batch_size`` spectra; validation on val (never test) every epoch;
- early stopping on val_loss (``early_stopping``: patience, min_delta, restore_best_weights) and
  ReduceLROnPlateau on val_loss (``reduce_lr``: patience, factor, min_lr), with Keras' own
  ``EarlyStopping`` / ``ReduceLROnPlateau`` callbacks (their exact semantics);
- ``keras.utils.set_random_seed(seed)`` before building and before fitting; deterministic ops
  (``backend.configure``); the training data are shuffled every epoch with a permutation drawn
  from ``np.random.default_rng([seed, epoch])`` (NumPy SPEC 7; independent of interruptions).

Keras runs the epoch loop: :func:`fit` makes one ``model.fit`` over all epochs, fed by
:class:`specbench.training.feeding.EpochFeeder` (the data read once into float32 arrays and kept where the
model runs), with the callbacks of :mod:`specbench.training.callbacks` (data order, progress log and
divergence check, best weights, resumable backup). benchmarks/train_throughput.py checks this path
against a bare multi-epoch ``model.fit`` on the same arrays.

Resume: after an epoch the backup (:class:`specbench.training.checkpoint.Checkpoint`, written by
:class:`specbench.training.callbacks.Backup`, spaced to cost at most ~2 % of the training time)
holds the model weights, the optimizer state, the dropout seed-generator states, the best weights,
the states of EarlyStopping and ReduceLROnPlateau and the history so far. A rerun of the job (same
model, protocol, seed, data and code) restores all of it and continues with the next epoch: the
history holds every epoch, early stopping and the learning-rate schedule behave as without the
interruption, and, because the data order and the dropout randomness of each epoch are restored too
(TensorFlow/JAX: the layers' seed-generator states; PyTorch: torch's global generator seeded from
(seed, epoch) at the start of each epoch), the resumed run reproduces the uninterrupted one
(bit-for-bit on a CPU with deterministic ops and the same thread count; tests/test_training.py
checks it). The backup is removed once the outputs are in place (temporary files, renamed last).

Timing: ``epoch_time_s`` per epoch (training and validation), ``train_time_s`` their sum (with
epochs before an interruption), ``timings`` (:data:`TIMINGS`) the job's steps (tools/job_times.py).
This module does not import keras at import time (``backend.configure`` must run first).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from specbench.core.atomic import atomic_path
from specbench.core.formats import training_info
from specbench.training.objective import compile_model, logits_training, softmax_layer
from specbench.training.timings import TIMINGS, process_age_s
from specbench.training.history import (  # noqa: F401 (HISTORY_COLUMNS, TrainingDivergedError: public here)
    HISTORY_COLUMNS,
    TrainingDivergedError,
    TrainingError,
    write_history,
)

logger = logging.getLogger("specbench.training")
#: (training.json key, split metadata key) of a dataset of your own phases (specbench.data.phases)
OWN_METADATA = (("axis", "axis"), ("class_names", "names"))

# ------------------------------------------------------------------------------ protocol, data


def protocol(training: dict | None = None) -> dict[str, Any]:
    """The complete training protocol: the schema's defaults filled into `training`, checked
    (TrainingError naming the setting and value)."""
    from specbench.core import schema
    from specbench.training.backend import check

    try:
        out = schema.fill(training, "training")
    except schema.SchemaError as exc:
        raise TrainingError(f"training setting {exc}") from None
    check(out["backend"], out["precision"])
    return out


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
    remove_backup: bool = True,
    extra_callbacks: Sequence = (),
) -> FitResult:
    """Train a compiled `model` by the protocol `training`; resumes from `backup_dir` if given.

    One ``model.fit(initial_epoch=<epochs restored from the backup>, epochs=training["epochs"])``
    with the callbacks of :func:`specbench.training.callbacks.callbacks` (data order, progress log and
    divergence check, EarlyStopping, ReduceLROnPlateau, best weights, backup). `train`/`val` are
    (normalised float32 spectra, int32 labels). Raises TrainingDivergedError when a loss becomes
    non-finite. The backup directory is removed on success (not on failure) unless
    `remove_backup` is false (:func:`train_model` removes it after writing its outputs);
    `backup_interval_s` as in :class:`specbench.training.callbacks.Backup`. `extra_callbacks`
    (Keras callbacks) run after the protocol's own and change nothing of the training.
    """
    import keras

    from specbench.training import callbacks
    from specbench.training.checkpoint import Checkpoint
    from specbench.training.feeding import EpochFeeder

    training = protocol(training)
    checkpoint = None if backup_dir is None else Checkpoint(Path(backup_dir), fingerprint)
    feeder = EpochFeeder(train, val, training["batch_size"])
    run = callbacks.callbacks(
        training,
        feeder=feeder,
        n_train=len(train[0]),
        seed=seed,
        name=name,
        checkpoint=checkpoint,
        backup_interval_s=backup_interval_s,
    )
    if run.start:
        if not model.built:
            model(train[0][:1])
        logger.info("%s: resuming after epoch %d from backup %s", name, run.start, backup_dir)
    keras.utils.set_random_seed(seed)
    # a backup is never written after the last epoch, so a restored run has epochs left
    model.fit(
        **feeder.fit_args(),
        initial_epoch=run.start,
        epochs=training["epochs"],
        shuffle=False,
        callbacks=[*run.ordered, *extra_callbacks],
        verbose=0,
    )
    result = FitResult(
        history=run.history,
        best_epoch=run.best_epoch,
        resumed_from_epoch=run.start,
        stopped_early=bool(model.stop_training),
        train_time_s=float(sum(row["epoch_time_s"] for row in run.history)),
        epoch_wall_s=run.epoch_wall_s,
        epoch_cpu_s=run.epoch_cpu_s,
    )
    if checkpoint is not None and remove_backup:
        checkpoint.remove()
    return result


def compile_and_fit(model, train, val, *, training: dict, **fit_args) -> FitResult:
    """:func:`compile_model` and :func:`fit` as train_model trains, on the loss of the logits
    (:func:`specbench.training.objective.logits_training`); then compiled for its softmax output
    again (the saved model's settings). `fit_args`: fit's."""
    with logits_training(model) as from_logits:
        compile_model(model, training["learning_rate"], from_logits=from_logits)
        result = fit(model, train, val, training=training, **fit_args)
    if from_logits:
        compile_model(model, training["learning_rate"])
    return result


def save_trained(model, path: str | os.PathLike) -> None:
    """Save `model` as the trained network: architecture, weights and compile settings, without
    the optimizer's state (Adam's two moments per weight: two thirds of a full ``model.save``);
    the model is unchanged afterwards. The file predicts exactly what `model` predicts; loaded
    with Keras' default ``compile=True`` it is compiled as in training with a fresh optimizer
    (Keras warns that the optimizer's variables are not in the file). Resuming an interrupted
    training uses the backup, not this file."""
    optimizer = model.optimizer
    model.optimizer = None
    try:
        model.save(path)
    finally:
        model.optimizer = optimizer


# ------------------------------------------------------------------------------ the job


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
    code: Sequence[str | os.PathLike] = (),
) -> dict[str, Any]:
    """Train spec's architecture on `train` (validated on `val`); write model, history, info.

    `spec` = {"architecture", "hyperparameters", "training"} (config.model_entry). Resumes from
    `backup_dir` a run interrupted with the same spec, seed, data and `code` (the job's code
    files; module docstring). `backup_interval_s` as in :func:`fit`; `threads`: intra-op threads;
    `backend_override`: the profile's ``keras_backend``, replacing the protocol's; `jobs_per_gpu`:
    jobs sharing one GPU. Raises HyperparameterError, specbench.data.splits.SplitError,
    specbench.data.preprocess.DataError (unusable data) or TrainingDivergedError (a non-finite
    loss), writing no outputs. Returns the training.json content.
    """
    timings = {"start_s": process_age_s()}
    started = time.perf_counter()
    from specbench.training import backend
    from specbench.core.inputs import single_path
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
    timings["configure_s"] = time.perf_counter() - started
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
            timings=timings,
            code=code,
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
    timings,
    code=(),
) -> dict[str, Any]:
    """The steps of :func:`train_model` after the backend is configured; fills `timings`."""
    from specbench.training import backend
    from specbench.models import registry
    from specbench.data.preprocess import DataError, load_split
    from specbench.data.splits import read_metadata
    from specbench.training.checkpoint import Checkpoint, code_fingerprint, run_fingerprint

    runtime = backend.runtime()
    t0 = time.perf_counter()
    x_train, y_train = load_split(train)
    metadata = read_metadata(train)
    config_hash, classes_hash = metadata.get("config_hash"), metadata.get("classes_hash")
    x_val, y_val = load_split(val)
    if x_val.shape[1] != x_train.shape[1]:
        raise DataError(
            f"{val}: spectra have {x_val.shape[1]} points, {train} has {x_train.shape[1]}"
        )
    n_classes = int(max(y_train.max(), y_val.max())) + 1
    n_points = int(x_train.shape[1])
    timings["read_s"] = time.perf_counter() - t0
    logger.info(
        "%s: %d training and %d validation spectra of %d points, %d classes (read in %.2f s)",
        model_name,
        len(x_train),
        len(x_val),
        n_points,
        n_classes,
        timings["read_s"],
    )

    t0 = time.perf_counter()
    hyperparameters = registry.scale_kernels(
        architecture, hyperparameters, n_points, training["architecture_scale"]
    )
    if training["architecture_scale"] != "published" and registry.is_published(architecture):
        logger.info(
            "%s: architecture_scale %s at %d points: kernel_size %s",
            model_name,
            training["architecture_scale"],
            n_points,
            hyperparameters["kernel_size"],
        )
    keras.utils.set_random_seed(seed)
    model = registry.construct(architecture, n_points, n_classes, hyperparameters)
    loss_from = "logits" if softmax_layer(model) is not None else "probabilities"
    params = model.count_params()
    logger.info(
        "%s: %s, %d parameters, loss of its %s", model_name, architecture, params, loss_from
    )
    timings["build_s"] = time.perf_counter() - t0

    fingerprint = run_fingerprint(
        {
            "architecture": architecture,
            "hyperparameters": hyperparameters,
            "training": training,
            "precision": runtime["precision"],
            "seed": seed,
            "loss_from": loss_from,
            "code": code_fingerprint(code),
        },
        x_train,
        y_train,
        x_val,
        y_val,
    )
    t0 = time.perf_counter()
    result = compile_and_fit(
        model,
        (x_train, y_train),
        (x_val, y_val),
        training=training,
        seed=seed,
        backup_dir=backup_dir,
        fingerprint=fingerprint,
        name=model_name,
        backup_interval_s=backup_interval_s,
        remove_backup=False,  # until the outputs are written
    )
    timings["fit_s"] = time.perf_counter() - t0
    best = result.history[result.best_epoch - 1]
    # your own phases' grid and class names travel from the splits to the run
    own = {key: json.loads(metadata[name]) for key, name in OWN_METADATA if name in metadata}
    info = {
        **own,
        "model": model_name,
        "dataset": dataset,
        "config_hash": config_hash,
        "classes_hash": classes_hash,
        "seed": seed,
        "architecture": architecture,
        "hyperparameters": hyperparameters,
        "training": training,
        "backend": training["backend"],
        "precision": runtime["precision"],  # resolved ("auto" -> what the device does natively)
        "loss_from": loss_from,
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
        "timings": timings,  # save_s added below, once the model is written
        "versions": backend.versions(training["backend"]),
    }
    info = training_info(info)  # its spec's keys, in its order (specbench.core.formats)

    # all three or none; training.json, which marks the run complete, renamed last
    with contextlib.ExitStack() as stack:
        info_tmp = stack.enter_context(atomic_path(info_path))
        history_tmp = stack.enter_context(atomic_path(history_path))
        model_tmp = stack.enter_context(atomic_path(model_path))
        t0 = time.perf_counter()
        save_trained(model, model_tmp)
        timings["save_s"] = time.perf_counter() - t0
        info["timings"] = {key: timings.get(key) for key in TIMINGS}
        write_history(history_tmp, result.history)
        info_tmp.write_text(json.dumps(info, indent=2) + "\n")
    if backup_dir is not None:
        Checkpoint(Path(backup_dir), fingerprint).remove()
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
