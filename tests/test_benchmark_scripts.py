"""The scripts beside the package (benchmarks/, tools/*.py) still start after a refactor.

They are not imported by the workflow or the package, so a moved or renamed function breaks them
silently. Each script's --help runs in a fresh process (its imports, its argument parser); the
benchmarks with a real run at a tiny scale have their own tests (test_train_memory.py,
test_loss_clip.py, test_compare_runs.py, test_job_times.py, test_projection.py), and
bundle_size.py, which plans the paper's test split from config/paper.yaml, runs here with one run.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from conftest import REPO

SCRIPTS = sorted(
    str(path.relative_to(REPO))
    for path in [*(REPO / "benchmarks").rglob("*.py"), *(REPO / "tools").glob("*.py")]
)


def run_script(script: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    """`script` in a fresh process on this checkout's package (PYTHONPATH=src, as the docs run
    them; some scripts add src/ themselves, some rely on it)."""
    paths = [str(REPO / "src"), os.environ.get("PYTHONPATH")]
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(filter(None, paths)))
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    return subprocess.run(
        [sys.executable, str(REPO / script), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env=env,
        timeout=timeout,
    )


def test_the_scripts_are_found():
    assert "benchmarks/render.py" in SCRIPTS and "benchmarks/laptop-scale/analyse.py" in SCRIPTS
    assert "tools/gpu_plan.py" in SCRIPTS and len(SCRIPTS) >= 12


@pytest.mark.parametrize("script", SCRIPTS)
def test_every_script_imports_and_parses_its_arguments(script):
    done = run_script(script, "--help")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.startswith("usage:"), done.stdout[:500]


def test_bundle_size_plans_the_papers_test_split():
    # the paper's benchmark set is read from its classes file (source: file), as the workflow does
    done = run_script("benchmarks/bundle_size.py", "--seeds", "1", "--architectures", "1")
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    assert lines[0].startswith("# bundle of the paper's benchmark experiment: 1 runs x 4500 test")
    assert "(500 classes)" in lines[0]
    assert [line.split()[0] for line in lines[1:]] == [
        "predictions.parquet",
        "other",
        "bundle.json",
        "total",
    ]
