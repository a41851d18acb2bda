"""One results tree per configuration (specbench.workflow.trees): two configs that share dataset
names but define them differently, each in its own working directory (snakemake --directory),
never touch each other's results; in a shared one, the second is refused before any job."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from conftest import copy_workflow, snakemake

pytestmark = pytest.mark.slow


def tree(root: Path) -> dict[str, tuple[int, int]]:
    """{file under root/results: (size, mtime_ns)}: what a run wrote, and when."""
    return {
        str(path.relative_to(root)): (path.stat().st_size, path.stat().st_mtime_ns)
        for path in sorted((root / "results").rglob("*"))
        if path.is_file()
    }


def write_configs(workdir: Path) -> None:
    cfg = yaml.safe_load((workdir / "tiny.yaml").read_text())
    cfg["datasets"] = {"bench": cfg["datasets"]["bench"]}
    cfg["training"]["epochs"] = 2
    cfg["experiments"] = {
        "benchmark": {
            "dataset": "bench",
            "seeds": [0],
            "models": {"cnn2": {"architecture": "cnn2"}},
        }
    }
    (workdir / "a.yaml").write_text(yaml.safe_dump(cfg))
    cfg["datasets"]["bench"]["n_points"] = 160  # the same name, another dataset
    (workdir / "b.yaml").write_text(yaml.safe_dump(cfg))


def test_two_configs_never_touch_each_others_results(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    write_configs(workdir)
    a, b = tmp_path / "a", tmp_path / "b"

    def run(directory, configfile, check=True):
        args = ["--cores", "2", "--directory", str(directory), "--configfile", configfile]
        return snakemake(workdir, *args, check=check)

    run(a, "a.yaml")
    first = tree(a)
    assert any(name.endswith("metrics.json") for name in first)
    assert not (a / "results" / "checkpoints").exists()  # no empty backup folders left behind
    run(b, "b.yaml")
    second = tree(b)
    assert tree(a) == first and second

    again = run(a, "a.yaml")  # switching back: nothing to do, nothing rewritten
    assert "Nothing to be done" in again.stdout + again.stderr
    assert tree(a) == first and tree(b) == second

    # the mistake: config b in a's directory stops before any job, in one line
    wrong = run(a, "b.yaml", check=False)
    assert wrong.returncode != 0
    output = wrong.stdout + wrong.stderr
    lines = [line for line in output.splitlines() if "replace_datasets" in line]
    assert len(lines) == 1 and "dataset 'bench'" in lines[0] and "--directory" in lines[0]
    assert tree(a) == first
    assert not os.path.exists(workdir / "results")  # nothing landed beside the workflow either


def test_a_moved_repository_reruns_nothing_in_its_working_directories(tmp_path):
    """The documented layout, a working directory inside the repository (`--directory
    runs/paper`), moves with it: the jobs' package files are inputs named relative to the
    working directory, so moving the whole tree (another disk, another machine) reruns nothing.
    Named by absolute path they would change, and Snakemake would rerun every job, trainings
    included ("Set of input files has changed")."""
    before = copy_workflow(tmp_path / "before")
    target = ["--configfile", "tiny.yaml", "--directory", "runs/tiny"]
    target += ["results/datasets/bench/classes.json"]
    snakemake(before, "--cores", "1", *target)
    after = tmp_path / "after"
    before.rename(after)
    plan = snakemake(after, "-n", *target)
    assert "Nothing to be done" in plan.stdout + plan.stderr, plan.stdout[-3000:]
