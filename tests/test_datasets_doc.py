"""docs/datasets.md is true: its command renders the example dataset and every Python block of the
page runs, in order, on the result (as a new user would copy them)."""

from __future__ import annotations

import re
import shlex

import pytest

from conftest import REPO, copy_workflow, snakemake

pytestmark = pytest.mark.slow

PAGE = REPO / "docs" / "datasets.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", PAGE.read_text(), flags=re.S)


def test_render_then_load_in_numpy_torch_and_pyarrow(tmp_path, monkeypatch):
    pytest.importorskip("torch")
    workdir = copy_workflow(tmp_path / "wf")
    (workdir / "examples").mkdir(exist_ok=True)
    (workdir / "examples" / "datasets-only.yaml").write_text(
        (REPO / "examples" / "datasets-only.yaml").read_text()
    )
    (command,) = blocks("bash")
    args = shlex.split(command.strip())
    assert args[:1] == ["snakemake"]
    proc = snakemake(workdir, *args[1:])
    log = proc.stdout + proc.stderr
    assert "train_model" not in re.findall(r"^rule (\w+):", log, flags=re.M)
    assert (workdir / "runs" / "data" / "results" / "datasets" / "mydata" / "test.parquet").exists()
    assert not (workdir / "runs" / "data" / "results" / "runs").exists()  # the data, only

    monkeypatch.chdir(workdir)
    namespace: dict = {}
    for code in blocks("python"):
        exec(compile(code, str(PAGE), "exec"), namespace)
    assert namespace["x_train"].shape == (600, 1000)
    assert tuple(namespace["spectra"].shape) == (128, 1, 1000)
    assert len(namespace["meta"]) == len(namespace["x_test"]) == 180
