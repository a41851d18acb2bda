"""Shared fixtures: a copy of the workflow in a temporary directory and one real tiny run."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
TINY_CONFIG = REPO / "tests" / "configs" / "tiny.yaml"
WORKFLOW_PARTS = (
    "Snakefile",
    "rules",
    "scripts",
    "config",
    "envs",
    "report",
    "src",
    "slurm",
    "gpu",
)
SNAKEMAKE = [sys.executable, "-m", "snakemake"]


def copy_workflow(dest: Path) -> Path:
    """Copy the workflow (not results/ or .snakemake/) to `dest`, a fresh working directory."""
    dest.mkdir(parents=True, exist_ok=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for part in WORKFLOW_PARTS:
        src = REPO / part
        if src.is_dir():
            shutil.copytree(src, dest / part, ignore=ignore)
        elif src.exists():
            shutil.copy2(src, dest / part)
    shutil.copy2(TINY_CONFIG, dest / "tiny.yaml")
    return dest


def snakemake(workdir: Path, *args: str, check: bool = True, timeout: float = 900):
    """Run the real snakemake CLI in `workdir`; returns the CompletedProcess (text output)."""
    env = dict(os.environ, PYTHONHASHSEED="0", TF_CPP_MIN_LOG_LEVEL="2")
    proc = subprocess.run(
        [*SNAKEMAKE, *args],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    if check and proc.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({proc.returncode}):\n"
            f"{proc.stdout[-5000:]}\n{proc.stderr[-8000:]}"
        )
    return proc


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """The whole workflow run for real on the tiny config (once per test session).

    Tests must treat the returned directory as read-only; copy it (`clone_run`) to change it.
    """
    workdir = copy_workflow(tmp_path_factory.mktemp("tiny") / "wf")
    snakemake(workdir, "--cores", "2", "--configfile", "tiny.yaml")
    return workdir


@pytest.fixture
def clone_run(tiny_run, tmp_path):
    """A private copy of the finished tiny run (files, timestamps and Snakemake metadata)."""

    def clone() -> Path:
        dest = tmp_path / "wf"
        shutil.copytree(tiny_run, dest, symlinks=True)
        return dest

    return clone
