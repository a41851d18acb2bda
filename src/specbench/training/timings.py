"""The steps of a training job, timed: training.json's ``timings`` (tools/job_times.py reads them).

:data:`TIMINGS`, wall seconds of the training process's steps, in order. ``start_s``: from the
process's start to :func:`specbench.training.train.train_model` (interpreter, Snakemake's script
preamble, imports; None where the process's start cannot be read); ``configure_s``: importing
Keras and its backend, finding the device; ``read_s``: reading the splits; ``build_s``: building
and compiling the model (Keras' compile; XLA compiles in the first epoch); ``fit_s``:
``model.fit`` in this process (its epochs, the first one's tracing and compilation included, and
its callbacks); ``save_s``: writing the model file.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

TIMINGS = ("start_s", "configure_s", "read_s", "build_s", "fit_s", "save_s")


def process_age_s(stat: str | os.PathLike = "/proc/self/stat") -> float | None:
    """Seconds since this process started: Linux's process start time (clock ticks after boot,
    field 22 of /proc/self/stat) against the time since boot; None where there is no /proc."""
    try:
        # the command name (field 2) may hold spaces and parentheses: count after its last ")"
        fields = Path(stat).read_text().rsplit(")", 1)[1].split()
        started = int(fields[19]) / os.sysconf("SC_CLK_TCK")
        return max(0.0, time.clock_gettime(time.CLOCK_BOOTTIME) - started)
    except (OSError, ValueError, IndexError, AttributeError):
        return None
