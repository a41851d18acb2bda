"""benchmarks/train_memory.py: XLA's memory analysis of Keras' training step (JAX), set against
the share of a GPU one of the gpu profile's K jobs gets."""

from __future__ import annotations

import json
import subprocess
import sys

import yaml

from conftest import REPO


def test_a_jobs_memory_against_the_gpu_profiles_share(tmp_path):
    args = ["--architectures", "vgg", "--points", "256", "--classes", "5", "--batch-size", "16"]
    args += ["--train-spectra", "100000", "--val-spectra", "100", "--gpu-memory-gb", "80"]
    done = subprocess.run(
        [sys.executable, str(REPO / "benchmarks" / "train_memory.py"), *args]
        + ["--json", str(tmp_path / "m.json")],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    m = json.loads((tmp_path / "m.json").read_text())["bytes"]["vgg"]
    # the step's arguments: every weight and Adam's two moments of each (12 bytes per float32
    # parameter), the batch (16 spectra of 256 points, 16 labels) and a few scalars (Adam's step
    # and rate, the loss and accuracy trackers); the state is updated in place
    batch = 16 * 256 * 4 + 16 * 4
    assert 0 <= m["arguments"] - 12 * m["parameters"] - batch < 256, m
    assert m["aliased"] > 0.99 * 12 * m["parameters"] and m["temporaries"] > 0
    # the feeder's spectra: training, its reordered copy, validation
    assert m["data"] == (2 * 100000 + 100) * 256 * 4
    assert (
        m["job_peak"] == m["arguments"] + m["temporaries"] + m["outputs"] - m["aliased"] + m["data"]
    )

    profile = yaml.safe_load((REPO / "gpu" / "config.yaml").read_text())
    k = profile["set-resources"]["train_model"]["jobs_per_gpu"]
    share = 0.9 * 80e9 / k
    lines = done.stdout.splitlines()
    assert f"K = {k} jobs" in lines[1] and f"80 GB -> {share / 1e9:.1f} GB" in lines[1]
    row = [cell.strip() for cell in lines[-1].strip("|").split("|")]
    assert row[0] == "vgg" and float(row[4]) == round(m["job_peak"] / 1e9, 2)
    assert float(row[5]) == round(m["job_peak"] / share, 2)
    assert int(row[6]) == int(0.9 * 80e9 // m["job_peak"])
