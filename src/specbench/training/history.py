"""What a training run records per epoch (history.csv) and the errors a training run raises.

Shared by :mod:`specbench.training.train` (which writes history.csv) and :mod:`specbench.training.callbacks`
(which fills the history and raises :class:`TrainingDivergedError`). A leaf module: it imports
nothing of the package, so neither of those needs the other to get at these.
"""

from __future__ import annotations

import os

__all__ = ["HISTORY_COLUMNS", "TrainingDivergedError", "TrainingError", "write_history"]

#: The columns of history.csv, one row per epoch (:class:`specbench.training.callbacks.ProgressLog`).
HISTORY_COLUMNS = (
    "epoch",
    "loss",
    "accuracy",
    "val_loss",
    "val_accuracy",
    "learning_rate",
    "epoch_time_s",
)


class TrainingError(ValueError):
    """A training job that cannot run or did not converge; the message names file/value."""


class TrainingDivergedError(TrainingError):
    """The loss became NaN or infinite; training stopped and no outputs were written."""


def write_history(path: str | os.PathLike, history: list[dict[str, float]]) -> None:
    """history.csv (HISTORY_COLUMNS, one row per epoch)."""
    import pandas as pd

    frame = pd.DataFrame(history, columns=list(HISTORY_COLUMNS))
    frame["epoch"] = frame["epoch"].astype("int64")
    frame.to_csv(path, index=False, float_format="%.8g")
