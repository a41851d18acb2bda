"""The Keras callbacks of a training run (:func:`specbench.training.train.fit`): one ``model.fit`` over
all epochs, driven by Keras' own EarlyStopping and ReduceLROnPlateau and these four.

In the order :func:`callbacks` returns them:

- :class:`DataOrder` -- at the start of epoch e, the training spectra's order for that epoch, a
  permutation drawn from ``np.random.default_rng([seed, e])`` (NumPy SPEC 7; independent of
  interruptions). Under PyTorch also torch's global generator, seeded from (seed, e): Keras'
  PyTorch Dropout layers without an explicit seed draw from it, so each epoch's dropout masks
  depend on (seed, epoch) only. (TensorFlow and JAX use the layers' seed generators, whose states
  the backup keeps.) SeedSequence ignores trailing zero words, so ``[seed, e]`` is also the stream
  of class ``seed``'s training spectra at data seed ``e`` (``[k, s, 0]``, specbench.data.render):
  the same bits order one run's epoch and draw one class's peak variation, a coincidence of no
  statistical consequence, kept because another stream would change every run's data order.
- :class:`ProgressLog` -- the history row of each epoch (loss, accuracy, val_loss, val_accuracy,
  the learning rate the epoch ran with, its wall time), the progress line in the job's log, and the
  run's one divergence check: a non-finite loss or val_loss raises TrainingDivergedError.
- ``keras.callbacks.EarlyStopping`` (val_loss; patience, min_delta; best weights kept by
  :class:`KeepBestWeights` instead of Keras' copy) and ``keras.callbacks.ReduceLROnPlateau``.
- :class:`KeepBestWeights` -- the weights of the epoch EarlyStopping counts as best, copied into
  buffers allocated once (``model.get_weights()``, which EarlyStopping(restore_best_weights=True)
  calls at every improvement, allocates fresh arrays: ~0.7 s of page faults per copy for an
  83M-parameter model, against ~0.1 s); set into the model when training ends.
- :class:`Backup` -- after an epoch, the complete state (model, optimizer, seed generators, best
  weights, EarlyStopping's and ReduceLROnPlateau's counters, the history) to a
  :class:`specbench.training.checkpoint.Checkpoint`; at the start of training, the same state restored from
  it. The callbacks' states are captured and restored here and nowhere else.

This module imports keras: import it after ``specbench.training.backend.configure``.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any

import keras
import numpy as np

from specbench.training.checkpoint import BestWeights, Checkpoint
from specbench.training.history import HISTORY_COLUMNS, TrainingDivergedError

logger = logging.getLogger("specbench.training")

__all__ = ["Backup", "Callbacks", "DataOrder", "KeepBestWeights", "ProgressLog", "callbacks"]

#: Default bound on the share of training time spent writing backups (see :class:`Backup`).
BACKUP_OVERHEAD = 0.02


def learning_rate(model) -> float:
    value = model.optimizer.learning_rate
    return float(value.numpy() if hasattr(value, "numpy") else value)


class DataOrder(keras.callbacks.Callback):
    """Each epoch's order of the training spectra (and, under PyTorch, its dropout seed)."""

    def __init__(self, feeder, n_train: int, seed: int):
        super().__init__()
        self.feeder, self.n_train, self.seed = feeder, n_train, seed
        self.torch = keras.backend.backend() == "torch"

    def on_epoch_begin(self, epoch, logs=None):
        self.feeder.set_order(np.random.default_rng([self.seed, epoch]).permutation(self.n_train))
        if self.torch:
            import torch

            words = np.random.default_rng([self.seed, epoch, 7]).integers(0, 2**62)
            torch.manual_seed(int(words))


class ProgressLog(keras.callbacks.Callback):
    """The history (one dict per epoch, HISTORY_COLUMNS), the progress log, the NaN check."""

    def __init__(self, name: str, epochs: int):
        super().__init__()
        self.name, self.epochs = name, epochs
        self.history: list[dict[str, float]] = []
        self.started = self.cpu_started = 0.0
        self.lr = math.nan

    def on_epoch_begin(self, epoch, logs=None):
        self.started, self.cpu_started = time.perf_counter(), time.process_time()
        self.lr = learning_rate(self.model)

    def on_epoch_end(self, epoch, logs=None):
        elapsed = time.perf_counter() - self.started
        logs = logs or {}
        row = {key: float(logs.get(key, math.nan)) for key in HISTORY_COLUMNS[1:5]}
        row = {"epoch": epoch + 1, **row, "learning_rate": self.lr, "epoch_time_s": elapsed}
        bad = [k for k in ("loss", "val_loss") if not math.isfinite(row[k])]
        if bad:
            raise TrainingDivergedError(
                f"{self.name}: {bad[0]} became {row[bad[0]]} in epoch {epoch + 1} "
                f"(learning_rate={self.lr:g}); training stopped, no outputs written"
            )
        self.history.append(row)
        logger.info(
            "%s epoch %d/%d: loss %.4f, accuracy %.4f, val_loss %.4f, val_accuracy %.4f, "
            "lr %.3g, %.2f s",
            self.name,
            epoch + 1,
            self.epochs,
            row["loss"],
            row["accuracy"],
            row["val_loss"],
            row["val_accuracy"],
            self.lr,
            elapsed,
        )


class KeepBestWeights(keras.callbacks.Callback):
    """The weights of EarlyStopping's best epoch, set into the model when training ends."""

    def __init__(self, early: keras.callbacks.EarlyStopping, name: str):
        super().__init__()
        self.early, self.name = early, name
        self.best = BestWeights()

    def on_epoch_end(self, epoch, logs=None):
        if self.early.best_epoch == epoch:  # improved (or the first epoch)
            self.best.capture(self.model, epoch)

    def on_train_end(self, logs=None):
        if self.best.arrays is not None:
            self.model.set_weights(self.best.arrays)
            logger.info("%s: restored the weights of epoch %d", self.name, self.best.epoch + 1)


class Backup(keras.callbacks.Callback):
    """The resumable backup: restored before the first epoch, written after epochs.

    A backup is written after an epoch when at least `interval_s` seconds passed since the
    previous one (0: after every epoch); by default (None) when that time is at least
    1/BACKUP_OVERHEAD times the previous backup's duration, so backups cost at most ~2 % of the
    training time (saving a 19M-parameter model with its Adam moments takes ~0.2 s, negligible
    against a paper-scale epoch, not against the sub-second epochs of a small run or a GPU, where
    a kill then loses at most ~50 backup-durations of work). The last epoch writes none (the
    outputs follow). Also records each epoch's wall and CPU time, backup included.
    """

    def __init__(
        self,
        checkpoint: Checkpoint | None,
        *,
        progress: ProgressLog,
        early: keras.callbacks.EarlyStopping,
        reduce: keras.callbacks.ReduceLROnPlateau,
        best: KeepBestWeights | None,
        epochs: int,
        interval_s: float | None = None,
    ):
        super().__init__()
        self.checkpoint, self.progress, self.early, self.reduce = (
            checkpoint,
            progress,
            early,
            reduce,
        )
        self.best, self.epochs, self.interval_s = best, epochs, interval_s
        self.state = None if checkpoint is None else checkpoint.load()
        #: completed epochs restored from the backup (0: a fresh start)
        self.start = 0 if self.state is None else int(self.state["epoch"])
        self.last, self.save_cost = time.perf_counter(), 0.0
        self.epoch_wall_s: list[float] = []
        self.epoch_cpu_s: list[float] = []

    # the callbacks' states: captured and restored in one place
    def _capture(self) -> dict[str, Any]:
        def number(value):
            return None if value is None else float(value)

        early, reduce = self.early, self.reduce
        return {
            "history": self.progress.history,
            "stopped": bool(self.model.stop_training),
            "learning_rate": learning_rate(self.model),
            "early_stopping": {
                "wait": early.wait,
                "best": number(early.best),
                "best_epoch": early.best_epoch,
            },
            "reduce_lr": {
                "wait": reduce.wait,
                "best": number(reduce.best),
                "cooldown_counter": reduce.cooldown_counter,
            },
        }

    def _restore(self, state: dict) -> None:
        model = self.model
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        best_weights = self.checkpoint.restore(model, state)
        self.progress.history = list(state["history"])
        es, lr = state["early_stopping"], state["reduce_lr"]
        self.early.wait, self.early.best, self.early.best_epoch = (
            es["wait"],
            es["best"],
            es["best_epoch"],
        )
        if best_weights is not None and self.best is not None:
            self.best.best.load(best_weights, es["best_epoch"])
        self.reduce.wait, self.reduce.best = lr["wait"], lr["best"]
        self.reduce.cooldown_counter = lr["cooldown_counter"]
        model.optimizer.learning_rate = state["learning_rate"]

    def on_train_begin(self, logs=None):
        # after EarlyStopping's and ReduceLROnPlateau's on_train_begin, which reset them
        if self.state is not None:
            self._restore(self.state)
        self.last = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        stopped = bool(self.model.stop_training)
        final = stopped or epoch + 1 >= self.epochs  # outputs follow; no backup needed
        since = time.perf_counter() - self.last
        limit = self.save_cost / BACKUP_OVERHEAD if self.interval_s is None else self.interval_s
        if self.checkpoint is not None and since >= limit and not final:
            t_save = time.perf_counter()
            self.checkpoint.save(
                self.model,
                epoch + 1,
                self._capture(),
                None if self.best is None else self.best.best.arrays,
                self.early.best_epoch,
            )
            self.last = time.perf_counter()
            self.save_cost = self.last - t_save
        self.epoch_wall_s.append(time.perf_counter() - self.progress.started)
        self.epoch_cpu_s.append(time.process_time() - self.progress.cpu_started)
        if stopped:
            logger.info(
                "%s: early stopping after epoch %d (best epoch %d)",
                self.progress.name,
                epoch + 1,
                self.early.best_epoch + 1,
            )


@dataclass(frozen=True)
class Callbacks:
    """The callbacks of one run (:attr:`ordered`, for ``model.fit``) and what the run recorded.

    :func:`specbench.training.train.fit` reads the run's outcome here, after ``model.fit``, not from
    the individual callbacks.
    """

    ordered: list[keras.callbacks.Callback]
    progress: ProgressLog
    early: keras.callbacks.EarlyStopping
    backup: Backup

    @property
    def start(self) -> int:
        """Completed epochs restored from the backup (0: a fresh start)."""
        return self.backup.start

    @property
    def history(self) -> list[dict[str, float]]:
        """One dict per epoch (HISTORY_COLUMNS), restored epochs included."""
        return self.progress.history

    @property
    def best_epoch(self) -> int:
        """1-based epoch of the lowest val_loss (EarlyStopping's best; the restored weights')."""
        return int(self.early.best_epoch) + 1

    @property
    def epoch_wall_s(self) -> list[float]:
        """Wall time of each epoch run in this call, backups and bookkeeping included."""
        return self.backup.epoch_wall_s

    @property
    def epoch_cpu_s(self) -> list[float]:
        """Process CPU time of each epoch run in this call."""
        return self.backup.epoch_cpu_s


def callbacks(
    training: dict,
    *,
    feeder,
    n_train: int,
    seed: int,
    name: str,
    checkpoint: Checkpoint | None,
    backup_interval_s: float | None = None,
) -> Callbacks:
    """The callbacks of one run of protocol `training` (in their order) and their record."""
    es_cfg, lr_cfg = training["early_stopping"], training["reduce_lr"]
    early = keras.callbacks.EarlyStopping(
        monitor="val_loss",
        patience=es_cfg["patience"],
        min_delta=es_cfg["min_delta"],
        restore_best_weights=False,  # kept by KeepBestWeights instead (no reallocation per copy)
    )
    reduce = keras.callbacks.ReduceLROnPlateau(
        monitor="val_loss",
        patience=lr_cfg["patience"],
        factor=lr_cfg["factor"],
        min_lr=lr_cfg["min_lr"],
    )
    progress = ProgressLog(name, training["epochs"])
    best = KeepBestWeights(early, name) if es_cfg["restore_best_weights"] else None
    backup = Backup(
        checkpoint,
        progress=progress,
        early=early,
        reduce=reduce,
        best=best,
        epochs=training["epochs"],
        interval_s=backup_interval_s,
    )
    ordered = [DataOrder(feeder, n_train, seed), progress, early, reduce, best, backup]
    return Callbacks(
        ordered=[cb for cb in ordered if cb is not None],
        progress=progress,
        early=early,
        backup=backup,
    )
