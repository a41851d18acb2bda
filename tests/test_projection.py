"""The expected GPU time of training jobs (specbench.workflow.projection) and the GPU plan built on it
(tools/gpu_plan.py), against what training does."""

from __future__ import annotations

import importlib.util
import json
import math
import types

import pytest
import yaml

from conftest import REPO
from specbench.results import bundles
from specbench.workflow import projection, validation
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


def shipped_bundle(folder, datasets, runs):
    """A result bundle's bundle.json (specbench.results.bundles) with `datasets`' definitions and
    `runs` (experiment, dataset, model, seed); no run files (read unverified, as the plan does)."""
    folder.mkdir()
    records = [dict(zip(("experiment", "dataset", "model", "seed"), run)) for run in runs]
    bundle = {
        "format": bundles.FORMAT,
        "version": bundles.VERSION,
        "datasets": {name: {"definition": definition} for name, definition in datasets.items()},
        "runs": records,
    }
    (folder / bundles.BUNDLE_FILE).write_text(json.dumps(bundle))
    return folder


def test_gpu_plan_skips_shipped_runs_and_prints_targets(tmp_path, capsys):
    """A second GPU session continues the campaign: the runs a shipped bundle holds are not planned
    again, where the config defines their dataset as the bundle does; --targets names the
    remaining runs' metrics.json; --cheapest-first orders a group by estimated cost."""
    throughput = tmp_path / "throughput.json"
    rows = [{"arch": "cnn2", "project": 1000.0}, {"arch": "cnn6", "project": 100.0}]
    throughput.write_text(json.dumps({"rows": rows}))
    config = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    validation.prepare_config(config, basedir=str(REPO))
    challenge = json.loads(json.dumps(config["datasets"]["challenge"]))  # as bundle.json holds it
    runs = [
        ("activation", "challenge", "cnn2", 0),
        ("activation", "challenge", "cnn6", 0),
        ("activation", "challenge", "cnn6", 1),
    ]
    shipped = shipped_bundle(tmp_path / "shipped", {"challenge": challenge}, runs)
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

    # --retrain: a model's shipped runs are planned again (here cnn6's two seeds), the others not
    load_gpu_plan().main(
        [*common, *group, "--skip-shipped", str(shipped), "--targets", "--retrain", "cnn6"]
    )
    out, err = capsys.readouterr()
    assert sorted(out.split()[1:]) == [
        f"results/runs/challenge/{model}/seed{seed}/metrics.json"
        for model, seed in (("cnn2", 1), ("cnn6", 0), ("cnn6", 1))
    ]
    assert "shipped: cnn6 trained again (--retrain)" in err

    # the same runs on a challenge set rendered otherwise (another seed) are not this plan's
    other = shipped_bundle(tmp_path / "other", {"challenge": {**challenge, "seed": 7}}, runs)
    load_gpu_plan().main([*common, *group, "--skip-shipped", str(other), "--targets"])
    out, err = capsys.readouterr()
    planned = out.split()[1:]
    assert len(planned) == 4 and "results/runs/challenge/cnn6/seed0/metrics.json" in planned
    assert "other: its dataset challenge is not this config's" in err


def test_gpu_plan_trains_shipped_models_on_a_rehearsals_datasets(capsys):
    """The tiny rehearsal (tools/gpu-measure.sh SCALE=tiny) trains its challenge models although
    the H200 challenge bundle ships the same experiment, model and seed names: its dataset is
    another one."""
    shipped = REPO / "reference-results" / "gpu-h200-challenge"
    shipped_names = {
        (r["experiment"], r["model"], r["seed"])
        for r in bundles.read_bundle(shipped, verify=False).runs
    }
    assert ("activation", "cnn2", 0) in shipped_names
    argv = [str(REPO / "no-throughput.json"), "--config", str(REPO / "tests/configs/tiny.yaml")]
    argv += ["--budget", "inf", "--epoch-spectra", "chal=36+18", "--targets"]
    argv += ["--group", "chal:activation+modifications:0:cnn2,cnn2_relu,vgg,vgg_k20_relu"]
    load_gpu_plan().main([*argv, "--skip-shipped", str(shipped)])
    out, err = capsys.readouterr()
    assert len(out.split()[1:]) == 4, out
    assert "gpu-h200-challenge: its dataset challenge is not this config's" in err


def test_gpu_plan_targets_are_the_runs_the_workflow_makes(capsys):
    """A swept experiment trains on its levels' datasets (noise_clean, ...), never on the base
    dataset, and an experiment with data seeds on every seed's dataset: the plan's targets are
    those runs' metrics.json (config.runs), not the base dataset's, which no rule makes."""
    from specbench.core import formats
    from specbench.workflow.config import runs

    config = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    validation.prepare_config(config, basedir=str(REPO))
    argv = [str(REPO / "no-throughput.json"), "--config", str(REPO / "config" / "paper.yaml")]
    argv += ["--budget", "inf", "--epoch-spectra", "r=1+1", "d=1+1", "--targets"]
    argv += ["--group", "r:robustness:0:cnn2", "--group", "d:data_variation:0:cnn2"]
    assert load_gpu_plan().main(argv) == 0
    out, _ = capsys.readouterr()
    planned = {line.split()[0]: set(line.split()[1:]) for line in out.splitlines()}

    def made(prefix):
        return {
            f"{formats.run_dir(run.dataset, run.model, run.seed)}/{formats.METRICS_FILE}"
            for run in runs(config)
            if run.experiment.startswith(prefix) and run.model == "cnn2" and run.seed == 0
        }

    assert planned["r"] == made("robustness_") and len(planned["r"]) == 4
    assert planned["d"] == made("data_variation") and len(planned["d"]) == 3


@pytest.mark.parametrize(
    "name, slug",
    [
        ("NVIDIA H100 80GB HBM3", "h100"),
        ("NVIDIA H100 PCIe", "h100"),
        ("NVIDIA H200", "h200"),
        ("NVIDIA A100-SXM4-80GB", "a100"),
        ("Tesla V100-SXM2-16GB", "v100"),
        ("NVIDIA GeForce RTX 4090", "4090"),
    ],
)
def test_gpu_measure_names_the_gpu_as_reference_results_does(name, slug):
    """gpu-measure.sh skips the measurements (item c.) where reference-results/gpu-<slug>-throughput
    ships them: the slug is the GPU's model, not the last word of nvidia-smi's name (an H100 is
    "NVIDIA H100 80GB HBM3", which once made the slug "hbm3")."""
    import subprocess

    script = (REPO / "tools" / "gpu-measure.sh").read_text()
    (function,) = [line for line in script.splitlines() if line.startswith("gpu_slug()")]
    out = subprocess.run(
        ["bash", "-c", f"{function}\necho {name!r} | gpu_slug"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == slug
