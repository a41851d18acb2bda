"""Failure handling of the real workflow: --keep-going with a failing training job, aggregation
of the runs that finished, and a killed training job that resumes where it stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import SNAKEMAKE, copy_workflow, snakemake

pytestmark = pytest.mark.slow


def add_models(workdir: Path, models: dict) -> None:
    path = workdir / "tiny.yaml"
    cfg = yaml.safe_load(path.read_text())
    cfg["experiments"]["benchmark"]["models"].update(models)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def test_keep_going_and_missing_runs(clone_run):
    workdir = clone_run()
    add_models(
        workdir,
        {
            # Diverges at once: the job stops with a NaN-loss error and writes no outputs.
            "cnn2_diverging": {"architecture": "cnn2", "training": {"learning_rate": 1.0e30}},
            "vgg_small": {"architecture": "vgg", "dense_units": [16]},
        },
    )
    proc = snakemake(workdir, "--cores", "2", "--configfile", "tiny.yaml", "--keep-going",
                     check=False)  # fmt: skip
    assert proc.returncode != 0
    failed = workdir / "results" / "runs" / "bench" / "cnn2_diverging" / "seed0"
    done = workdir / "results" / "runs" / "bench" / "vgg_small" / "seed0"
    assert (done / "metrics.json").is_file(), "the other model's jobs must still run"
    assert not (failed / "model.keras").exists()
    log = (workdir / "results/logs/train_model/bench/cnn2_diverging/seed0.log").read_text()
    assert "NaN" in log or "nan" in log.lower()

    # Aggregate what finished; the failed run is listed as missing, not a crash.
    snakemake(workdir, "--cores", "2", "--configfile", "tiny.yaml",
              "--config", "allow_missing_runs=True")  # fmt: skip
    runs = pd.read_csv(workdir / "results" / "tables" / "runs.csv")
    status = runs.set_index(["dataset", "model"])["status"]
    assert status[("bench", "cnn2_diverging")] == "missing"
    assert status[("bench", "vgg_small")] == "ok"
    assert (status == "ok").sum() == len(runs) - 1
    assert "cnn2_diverging" in (workdir / "results/logs/aggregate_runs.log").read_text()


def kill_after_backup(workdir: Path, target: str, backup: Path, epochs: int = 3) -> None:
    """Run Snakemake for `target` and SIGKILL it and its job, like a preemption, once the
    training's backup holds `epochs` epochs."""
    # (targets before --configfile, which takes several values)
    args = [*SNAKEMAKE, target, "--cores", "1", "--configfile", "tiny.yaml"]
    job = subprocess.Popen(args, cwd=workdir, start_new_session=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    killed = False
    try:
        deadline = time.monotonic() + 300
        epoch = 0
        while epoch < epochs:
            assert job.poll() is None, "training finished before it could be killed"
            assert time.monotonic() < deadline, f"no backup of {epochs} epochs within 300 s"
            time.sleep(0.2)
            try:
                epoch = json.loads((backup / "state.json").read_text())["epoch"]
            except (FileNotFoundError, ValueError, KeyError):
                pass
        os.killpg(job.pid, signal.SIGKILL)  # Snakemake and its job
        killed = True
    finally:
        if not killed and job.poll() is None:
            os.killpg(job.pid, signal.SIGKILL)
        job.wait()
    assert not (workdir / target).exists()


LONG = {"architecture": "cnn2", "training": {"epochs": 300, "early_stopping": {"patience": 300}}}


def test_killed_training_job_resumes(clone_run):
    workdir = clone_run()
    add_models(workdir, {"cnn2_long": LONG})
    target = "results/runs/bench/cnn2_long/seed0/model.keras"
    backup = workdir / "results" / "checkpoints" / "bench" / "cnn2_long" / "seed0"
    kill_after_backup(workdir, target, backup)

    # A killed Snakemake leaves its lock: --unlock, then the rerun (--rerun-incomplete, as the
    # Slurm profile sets) continues from the backup.
    snakemake(workdir, "--unlock", "--configfile", "tiny.yaml")
    snakemake(workdir, target, "--cores", "2", "--rerun-incomplete", "--configfile", "tiny.yaml")
    info = json.loads((workdir / "results/runs/bench/cnn2_long/seed0/training.json").read_text())
    assert info["resumed_from_epoch"] >= 3
    history = pd.read_csv(workdir / "results/runs/bench/cnn2_long/seed0/history.csv")
    assert list(history["epoch"]) == list(range(1, len(history) + 1))
    assert len(history) == info["epochs_run"] > info["resumed_from_epoch"]
    assert not backup.exists(), "the backup is removed once training succeeded"


def test_a_killed_training_rerun_after_a_code_change_starts_afresh(tmp_path):
    """Editing the architecture's module reruns its training jobs; one that was killed must not
    resume from the backup the old code wrote (the new code would finish the old weights)."""
    workdir = copy_workflow(tmp_path / "wf")
    cfg = yaml.safe_load((workdir / "tiny.yaml").read_text())
    cfg["datasets"] = {"bench": cfg["datasets"]["bench"]}
    cfg["experiments"] = {"benchmark": {"dataset": "bench", "seeds": [0], "models": {}}}
    (workdir / "tiny.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    add_models(workdir, {"cnn2_long": LONG})
    target = "results/runs/bench/cnn2_long/seed0/model.keras"
    backup = workdir / "results" / "checkpoints" / "bench" / "cnn2_long" / "seed0"
    kill_after_backup(workdir, target, backup, epochs=1)

    source = workdir / "src" / "specbench" / "models" / "cnn.py"
    source.write_text(source.read_text() + "\n# a fix to the architecture, after the kill\n")
    snakemake(workdir, "--unlock", "--configfile", "tiny.yaml")
    snakemake(workdir, target, "--cores", "2", "--rerun-incomplete", "--configfile", "tiny.yaml")
    info = json.loads((workdir / "results/runs/bench/cnn2_long/seed0/training.json").read_text())
    assert info["resumed_from_epoch"] == 0
    log = (workdir / "results/logs/train_model/bench/cnn2_long/seed0.log").read_text()
    assert "ignoring backup" in log and "resuming" not in log
