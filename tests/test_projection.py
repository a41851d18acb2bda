"""The expected GPU time of training jobs (specbench.workflow.projection) and the GPU plan built on it
(tools/gpu_plan.py), against what training does."""

from __future__ import annotations

import importlib.util
import json
import math
import types

import pytest

from conftest import REPO
from specbench.workflow import projection
from specbench.results.tables.reference import load_reference


def load_gpu_plan():
    spec = importlib.util.spec_from_file_location("gpu_plan", REPO / "tools" / "gpu_plan.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("best", [1, 4, 9])
def test_expected_epochs_are_what_training_runs(best):
    """training's EarlyStopping (specbench.training.callbacks) stops `patience` epochs after the best."""
    from specbench.training import callbacks
    from specbench.training.train import protocol

    patience = 3
    training = protocol({"epochs": 50, "early_stopping": {"patience": patience}})
    run = callbacks.callbacks(training, feeder=None, n_train=1, seed=0, name="t", checkpoint=None)
    model = types.SimpleNamespace(stop_training=False)
    run.early.set_model(model)
    run.early.on_train_begin()
    epochs = 0
    while not model.stop_training:
        # val_loss falls until the best epoch (1-based `best`), then stays flat
        run.early.on_epoch_end(epochs, {"val_loss": 1.0 / min(epochs + 1, best)})
        epochs += 1
    assert run.best_epoch == best
    assert epochs == projection.expected_epochs(best, patience=patience, max_epochs=50)


def test_expected_epochs_default_and_cap():
    assert projection.expected_epochs(47.0, patience=25, max_epochs=500) == 72
    assert projection.expected_epochs(48.6, patience=25, max_epochs=500) == 74
    assert projection.expected_epochs(None, patience=25, max_epochs=500) == 60
    assert projection.expected_epochs(math.nan, patience=25, max_epochs=500, default=80) == 80
    assert projection.expected_epochs(47.0, patience=25, max_epochs=3) == 3  # never past epochs
    assert projection.expected_epochs(None, patience=2, max_epochs=3) == 3


def test_epoch_and_gpu_seconds():
    # validation is a forward pass only: a third of a training spectrum's cost
    assert projection.epoch_seconds(25000, 5000, 10000.0) == pytest.approx(
        (25000 + 5000 / 3) / 10000
    )
    assert projection.gpu_seconds(epochs=10, epoch_s=2.0, seeds=5, startup_s=12, slots=6) == (
        pytest.approx(5 * (20 + 2))
    )
    with pytest.raises(ValueError, match="samples_per_s=0"):
        projection.epoch_seconds(1, 1, 0)
    with pytest.raises(ValueError, match="slots=0"):
        projection.gpu_seconds(epochs=1, epoch_s=1.0, slots=0)


def test_published_best_epochs():
    reference = load_reference(load_gpu_plan().REFERENCE)
    best = projection.published_best_epochs(reference)
    assert best[("benchmark", "cnn2")] == 47.0 and best[("benchmark", "vgg")] == 83.8
    assert ("activation", "cnn2") not in best  # the challenge table has no best epochs


def test_gpu_plan_takes_candidates_in_priority_order_within_the_budget(tmp_path, capsys):
    throughput = tmp_path / "throughput.json"
    throughput.write_text(json.dumps({"rows": [{"arch": "cnn2", "project": 1000.0}]}))
    argv = [
        str(throughput),
        "--config",
        str(REPO / "config" / "paper.yaml"),
        "--epoch-spectra",
        "bench=25000+5000",
        "chal=1350+270",
        "--group",
        "bench:benchmark:0:cnn2,vgg",
        "--group",
        "chal:activation:0-4:cnn2_relu,cnn2",
    ]
    # cnn2 on the benchmark: 47 + 25 epochs of (25000 + 5000/3) / 1000 s, + 15 s / 6 slots
    bench_cnn2 = 72 * (25000 + 5000 / 3) / 1000 + 15 / 6
    # on the challenge: no published best epoch, 60 epochs; five seeds (cnn2_relu costs the same)
    chal_cnn2 = 5 * (60 * (1350 + 270 / 3) / 1000 + 15 / 6)
    total = bench_cnn2 + 2 * chal_cnn2
    assert load_gpu_plan().main([*argv, "--budget", str(total + 1)]) == 0
    out, err = capsys.readouterr()
    assert out.splitlines() == ["bench cnn2", "chal cnn2_relu,cnn2"]
    assert f"= {bench_cnn2:.0f} GPU s (take" in err and "no throughput for vgg" in err
    assert f"= {chal_cnn2:.0f} GPU s (take" in err

    load_gpu_plan().main([*argv, "--budget", str(total - 1)])
    out, err = capsys.readouterr()
    assert out.splitlines() == ["bench cnn2", "chal cnn2_relu"]  # the last one no longer fits


def test_gpu_plan_skips_shipped_runs_and_prints_targets(tmp_path, capsys):
    """A second GPU session continues the campaign: the runs a shipped runs.csv holds (status ok)
    are not planned again; --targets names the remaining runs' metrics.json; --cheapest-first
    orders a group by estimated cost."""
    throughput = tmp_path / "throughput.json"
    rows = [{"arch": "cnn2", "project": 1000.0}, {"arch": "cnn6", "project": 100.0}]
    throughput.write_text(json.dumps({"rows": rows}))
    shipped = tmp_path / "runs.csv"
    shipped.write_text(
        "experiment,dataset,model,seed,status\n"
        "activation,challenge,cnn2,0,ok\n"
        "activation,challenge,cnn2,1,failed\n"
        "activation,challenge,cnn6,0,ok\n"
        "activation,challenge,cnn6,1,ok\n"
    )
    common = [str(throughput), "--config", str(REPO / "config" / "paper.yaml")]
    common += ["--epoch-spectra", "chal=1350+270", "--budget", "1e9"]
    group = ["--group", "chal:activation:0-1:cnn6,cnn2"]
    load_gpu_plan().main([*common, *group, "--skip-shipped", str(shipped), "--targets"])
    out, err = capsys.readouterr()
    assert out.splitlines() == ["chal results/runs/challenge/cnn2/seed1/metrics.json"]
    assert "cnn6 (cnn6): every seed shipped already" in err
    load_gpu_plan().main([*common, *group, "--cheapest-first"])
    out, _ = capsys.readouterr()
    assert out.splitlines() == ["chal cnn2,cnn6"]  # cnn2 is ten times faster
