"""Expected GPU time of a training job, from a training throughput (tools/gpu_plan.py).

The rules follow what training does (:mod:`specbench.training.train`, :mod:`specbench.training.callbacks`):

- **Epochs.** Keras' EarlyStopping (patience P) counts the epochs since the best one and stops
  after the P-th without improvement: a run whose best epoch is b (1-based, as training.json and
  the published tables count it) runs b + P epochs, and never more than the protocol's
  ``epochs``. The best epoch is the published mean where there is one (config/reference), else
  unknown, and the run is taken to last :data:`DEFAULT_EPOCHS` (at most ``epochs``).
- **Epoch time.** Every epoch trains on the training split, then validates on the whole
  validation split, a forward pass only: a validation spectrum costs about
  :data:`VALIDATION_COST` of a training one (forward and backward are ~3 forward passes, the
  FLOP count of benchmarks/train_throughput.py). Seconds per epoch = (n_train +
  VALIDATION_COST * n_val) / the training throughput (spectra per second).
- **Start-up.** Each job also pays a fixed start-up (imports, compilation), shared by the jobs
  that run side by side on the GPU.
"""

from __future__ import annotations

import math

#: Cost of a validation spectrum relative to a training one (a forward pass of forward + backward).
VALIDATION_COST = 1 / 3
#: Epochs expected of a run whose best epoch is unknown (capped at the protocol's `epochs`).
DEFAULT_EPOCHS = 60

__all__ = [
    "DEFAULT_EPOCHS",
    "VALIDATION_COST",
    "epoch_seconds",
    "expected_epochs",
    "gpu_seconds",
    "published_best_epochs",
]


def expected_epochs(
    best_epoch: float | None, *, patience: int, max_epochs: int, default: int = DEFAULT_EPOCHS
) -> int:
    """Epochs a run is expected to train: its (1-based, possibly mean) best epoch + `patience`,
    `default` when the best epoch is unknown (None or NaN); at most `max_epochs`."""
    if best_epoch is None or math.isnan(best_epoch):
        epochs = default
    else:
        epochs = int(round(best_epoch)) + patience
    return min(epochs, max_epochs)


def epoch_seconds(n_train: int, n_val: int, samples_per_s: float) -> float:
    """Seconds of one epoch: `n_train` spectra trained, `n_val` validated, at `samples_per_s`
    training spectra per second (a validation spectrum costs VALIDATION_COST of one)."""
    if not samples_per_s > 0:
        raise ValueError(f"samples_per_s={samples_per_s} must be > 0")
    return (n_train + VALIDATION_COST * n_val) / samples_per_s


def gpu_seconds(
    *, epochs: int, epoch_s: float, seeds: int = 1, startup_s: float = 0.0, slots: int = 1
) -> float:
    """GPU seconds of `seeds` runs of `epochs` epochs of `epoch_s` seconds, each with a start-up
    of `startup_s` shared by the `slots` jobs running side by side."""
    if slots < 1:
        raise ValueError(f"slots={slots} must be >= 1")
    return seeds * (epochs * epoch_s + startup_s / slots)


def published_best_epochs(reference) -> dict[tuple[str, str], float]:
    """{(experiment, model): published mean best epoch} of a reference table
    (:func:`specbench.results.tables.reference.load_reference`); models without one are left out."""
    return {
        (row.experiment, row.model): float(row.best_epoch_mean)
        for row in reference.itertuples()
        if not math.isnan(row.best_epoch_mean)
    }
