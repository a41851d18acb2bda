"""Projected wall time of a whole config on one GPU, from measured epoch times.

A training job's GPU time is its number of epochs times its epoch time. Epoch times come from
runs measured on the GPU (history.csv's ``epoch_time_s``, per model and dataset scale) or, for a
model not measured at that scale, from the throughput benchmark's samples/s of its architecture
(training spectra / samples/s, validation counted at a third: forward pass only). Epochs come
from measured runs of the same model where there are any, else from the published mean best
epoch + the early-stopping patience + 1, else ``default_epochs``. With K jobs packed on the GPU,
wall time = summed GPU time / the measured packing speed-up at K (aggregate samples/s of K jobs
side by side / one job's), a projection and stated as such.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class Job:
    experiment: str
    dataset: str
    model: str
    architecture: str
    n_train: int
    n_val: int


def epoch_seconds(
    job: Job,
    measured: Mapping[tuple[str, str], float],
    samples_per_s: Mapping[str, float],
) -> tuple[float, str]:
    """(seconds per epoch, source) of `job`: measured for (dataset, model), else from the
    architecture's throughput."""
    if (job.dataset, job.model) in measured:
        return measured[(job.dataset, job.model)], "measured"
    sps = samples_per_s.get(job.architecture)
    if not sps:
        raise ValueError(f"no epoch time or throughput for {job.model} ({job.architecture})")
    return (job.n_train + job.n_val / 3) / sps, "throughput"


def project(
    jobs: list[Job],
    measured_epoch_s: Mapping[tuple[str, str], float],
    measured_epochs: Mapping[tuple[str, str], float],
    samples_per_s: Mapping[str, float],
    published_epochs: Mapping[tuple[str, str], float],
    packing_speedup: float = 1.0,
    default_epochs: int = 100,
) -> tuple[pd.DataFrame, float]:
    """Per job: epochs, epoch seconds, GPU seconds (and where each came from); and the
    projected wall hours = sum of GPU seconds / `packing_speedup` / 3600."""
    if packing_speedup <= 0:
        raise ValueError(f"packing_speedup={packing_speedup} must be > 0")
    rows = []
    for job in jobs:
        sec, sec_source = epoch_seconds(job, measured_epoch_s, samples_per_s)
        key = (job.dataset, job.model)
        if key in measured_epochs:
            epochs, ep_source = measured_epochs[key], "measured"
        elif (job.experiment, job.model) in published_epochs:
            epochs, ep_source = published_epochs[(job.experiment, job.model)], "published"
        else:
            epochs, ep_source = default_epochs, "default"
        rows.append(
            {
                "experiment": job.experiment,
                "dataset": job.dataset,
                "model": job.model,
                "epochs": epochs,
                "epochs_from": ep_source,
                "epoch_s": sec,
                "epoch_s_from": sec_source,
                "gpu_s": epochs * sec,
            }
        )
    table = pd.DataFrame(rows)
    hours = float(table["gpu_s"].sum()) / packing_speedup / 3600 if len(table) else 0.0
    return table, hours
