"""tools/compare_runs.py: two workflow directories' runs compared exactly, on the shipped H200
runs; a run that lacks a file is reported, not a traceback."""

from __future__ import annotations

import importlib.util
import shutil

from conftest import REPO

RUNS = REPO / "reference-results" / "gpu-h200-challenge" / "runs" / "challenge"


def load():
    spec = importlib.util.spec_from_file_location(
        "compare_runs", REPO / "tools" / "compare_runs.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_runs_compared_and_an_unevaluated_run_reported(tmp_path, capsys):
    for side in ("a", "b"):
        for model in ("cnn2", "vgg"):
            shutil.copytree(
                RUNS / model / "seed0", tmp_path / side / "results/runs/chal" / model / "seed0"
            )
    compare_runs = load()
    assert compare_runs.main([str(tmp_path / "a"), str(tmp_path / "b")]) == 0
    assert "2 runs compared, 0 differ" in capsys.readouterr().out

    extra = tmp_path / "b/results/runs/chal/vgg/seed1"  # a run only B has: not "0 differ"
    shutil.copytree(RUNS / "vgg" / "seed0", extra)
    assert compare_runs.main([str(tmp_path / "a"), str(tmp_path / "b")]) == 1
    assert f"chal/vgg/seed1: missing in {tmp_path / 'a'}" in capsys.readouterr().out
    shutil.rmtree(extra)

    (tmp_path / "b/results/runs/chal/vgg/seed0/metrics.json").unlink()  # trained, not evaluated
    history = tmp_path / "b/results/runs/chal/cnn2/seed0/history.csv"
    lines = history.read_text().splitlines()
    history.write_text("\n".join(lines[:-1]) + "\n")  # one epoch fewer
    assert compare_runs.main([str(tmp_path / "a"), str(tmp_path / "b")]) == 1
    out = capsys.readouterr().out
    assert f"chal/vgg/seed0: metrics.json missing in {tmp_path / 'b'}" in out
    assert "chal/cnn2/seed0: history differs" in out and "2 runs compared, 2 differ" in out


def test_a_history_column_only_one_side_has_is_a_difference(tmp_path, capsys):
    """history.csv without val_loss on one side: not "identical" (the compared columns are
    those either side has, not only those both have)."""
    import pandas as pd

    for side in ("a", "b"):
        shutil.copytree(RUNS / "cnn2" / "seed0", tmp_path / side / "results/runs/chal/cnn2/seed0")
    history = tmp_path / "b/results/runs/chal/cnn2/seed0/history.csv"
    pd.read_csv(history).drop(columns="val_loss").to_csv(history, index=False)
    compare_runs = load()
    assert compare_runs.main([str(tmp_path / "a"), str(tmp_path / "b")]) == 1
    assert "chal/cnn2/seed0: history differs" in capsys.readouterr().out
