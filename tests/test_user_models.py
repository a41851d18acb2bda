"""Models from the user's own files (issue 21): checked before any job, trained and tabled beside
the published ones, their files code inputs of their own jobs only, `specbench check-model`."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from conftest import REPO, copy_workflow, snakemake

HERE = Path(__file__).resolve().parent
USER_CONFIG = HERE / "configs" / "user_models.yaml"
EXAMPLE = REPO / "examples" / "my_models"
BAD = "tests/user_models/bad_builders.py"


def base_config() -> dict:
    return yaml.safe_load(USER_CONFIG.read_text())


def prepared(cfg: dict) -> dict:
    """The config as rules/common.smk prepares it (schema defaults, then check_config)."""
    from snakemake.utils import validate

    from specbench.workflow import config as sbconfig
    from specbench.core import schema

    cfg = copy.deepcopy(cfg)
    validate(cfg, str(schema.SCHEMA_PATH))
    return sbconfig.prepare(cfg, basedir=REPO)


@pytest.mark.parametrize(
    "architecture, message",
    [
        ("tests/user_models/missing.py:build", "tests/user_models/missing.py: no such file"),
        ("tests/user_models/broken_import.py:build", "import failed: ModuleNotFoundError"),
        (f"{BAD}:absent", f"{BAD}: no function 'absent'"),
        (
            f"{BAD}:wrong_signature",
            "wrong_signature(n_points, n_classes, **hyperparameters) cannot",
        ),
        (f"{BAD}:not_a_model", "not_a_model returned a str, not a keras.Model"),
        (f"{BAD}:wrong_input", "takes input of shape (None, 65), expected (None, 64)"),
        (f"{BAD}:wrong_output", "gives output of shape (None, 4), expected (None, 3)"),
        (f"{BAD}:no_softmax", "no_softmax's model has no softmax output"),
        (f"{BAD}:no_input", "no_input(64, 3) returns a model without a defined input"),
        ("user_nets_absent.net:build", "user_nets_absent.net: import failed"),
    ],
)
def test_bad_builder_refused_with_one_line(architecture, message, monkeypatch):
    from specbench.workflow.config import ConfigError

    monkeypatch.chdir(REPO)
    cfg = base_config()
    cfg["experiments"]["benchmark"]["models"] = {"mine": {"architecture": architecture}}
    with pytest.raises(ConfigError) as info:
        prepared(cfg)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"experiments.benchmark.models.mine.architecture={architecture!r}: ")
    assert message in text


def test_user_sources_are_the_file_and_its_local_imports():
    from specbench.workflow import codedeps
    from specbench.models import user

    arch = f"{EXAMPLE}/tiny_net.py:build"
    files = user.source_files(arch)
    assert files == [EXAMPLE / "layers.py", EXAMPLE / "tiny_net.py"]
    # keras and specbench are not the user's; the published architectures' files are not in it
    assert set(files) <= set(codedeps.architecture_sources(arch))


def test_published_registry_unchanged_by_user_entries():
    from specbench.models import registry

    assert registry.is_published("cnn2") and not registry.is_published("a.py:build")
    assert registry.check("x.py:build", {"filters": 3}) == {"filters": 3}
    assert registry.scale_kernels("x.py:build", {"kernel_size": 50}, 500, "auto") == {
        "kernel_size": 50
    }


def _cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "specbench", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={"PATH": "/usr/bin:/bin", "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(REPO / "src")},
        timeout=300,
    )


@pytest.mark.slow
def test_check_model_good_and_bad():
    good = _cli(
        "check-model",
        "examples/my_models/tiny_net.py:build",
        "--points",
        "64",
        "--classes",
        "3",
        "--hp",
        "filters=4",
        "--json",
    )
    assert good.returncode == 0, good.stderr
    summary = json.loads(good.stdout)
    assert summary["parameters"] > 0 and summary["macs"] > 0
    assert summary["output_shape"] == [None, 3] and summary["train_batch_s"] > 0
    bad = _cli("check-model", f"{BAD}:no_softmax", "--points", "64")
    assert bad.returncode == 1
    assert bad.stderr.strip().splitlines()[-1].startswith("specbench: error: " + BAD)


@pytest.mark.slow
def test_check_model_of_a_published_architecture_at_any_geometry():
    """`specbench check-model cnn2`: the registry's architecture at the user's geometry, its
    kernels scaled as training scales them, the same parameters as the model training builds."""
    from specbench.models import registry

    out = _cli(
        "check-model", "cnn2", "--points", "1000", "--classes", "27",
        "--architecture-scale", "auto", "--json",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    summary = json.loads(out.stdout)
    expected = registry.scale_kernels("cnn2", registry.check("cnn2"), 1000, "auto")
    assert summary["hyperparameters"] == expected
    assert expected["kernel_size"] != registry.check("cnn2")["kernel_size"]  # scaled
    model = registry.construct("cnn2", 1000, 27, expected)
    assert summary["parameters"] == model.count_params() and summary["macs"] > 0
    unknown = _cli("check-model", "cnn99")
    assert unknown.returncode == 1
    assert unknown.stderr.strip().splitlines()[-1] == (
        "specbench: error: 'cnn99': expected an architecture (" + ", ".join(registry.names())
        + "), FILE.py:FUNCTION or module:FUNCTION"
    )  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize(
    "hp, message",
    [
        ("foo=1", "specbench: error: architecture 'cnn2': unknown hyperparameter 'foo'"),
        ("kernel_size=-3", "specbench: error: architecture 'cnn2': hyperparameter kernel_size=-3"),
        ("dense_units=[8,", "specbench: error: --hp 'dense_units=[8,': not a YAML value"),
    ],
)
def test_check_model_refuses_a_bad_hyperparameter_in_one_line(hp, message):
    out = _cli("check-model", "cnn2", "--points", "500", "--hp", hp)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert out.stderr.strip().splitlines()[-1].startswith(message)


@pytest.mark.slow
def test_workflow_trains_user_models_beside_published(tmp_path, monkeypatch):
    """A file builder and a module builder trained, evaluated and tabled; editing the file's
    local import reruns exactly that model's jobs and the aggregates."""
    from test_rerun import DOWNSTREAM, planned_jobs, run_jobs

    workdir = copy_workflow(tmp_path / "wf")
    shutil.copytree(EXAMPLE, workdir / "my_models", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(HERE / "user_models" / "user_nets", workdir / "user_nets")
    shutil.copy2(USER_CONFIG, workdir / "user.yaml")
    monkeypatch.setenv("PYTHONPATH", str(workdir))  # the module builder is importable
    snakemake(workdir, "--cores", "2", "--configfile", "user.yaml")

    summary = pd.read_csv(workdir / "results" / "tables" / "summary.csv")
    assert {"vgg", "tiny_net", "modnet"} <= set(summary["model"])
    rows = summary[summary["experiment"] == "benchmark"].set_index("model")
    assert not rows.loc["tiny_net", "in_paper"] and rows.loc["vgg", "in_paper"]
    assert rows.loc["tiny_net", "paired_with"] == "vgg" and rows.loc["tiny_net", "paired_n"] == 1
    markdown = (workdir / "results" / "tables" / "summary.md").read_text()
    assert "tiny_net †" in markdown and "modnet †" in markdown
    assert set(summary.loc[summary["model"] == "tiny_net", "experiment"]) == {
        "benchmark",
        "activation",
    }
    assert list((workdir / "results" / "figures").glob("activation*.png"))
    info = json.loads(
        (
            workdir / "results" / "runs" / "bench" / "tiny_net" / "seed0" / "training.json"
        ).read_text()
    )
    assert info["architecture"] == "my_models/tiny_net.py:build"
    assert info["hyperparameters"] == {"filters": 4, "dense_units": 8}  # not compare_with

    out = _cli("info", "results/runs/bench/tiny_net/seed0", "--json", cwd=workdir)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["architecture"] == "my_models/tiny_net.py:build"

    assert planned_jobs(workdir, "user.yaml") == set()
    layers = workdir / "my_models" / "layers.py"
    layers.write_text(layers.read_text() + "\n# an edit to the user's helper\n")
    planned = planned_jobs(workdir, "user.yaml")
    run_level = {job for job in planned if job.startswith(("train_model[", "evaluate_model["))}
    assert run_level == run_jobs("bench", "tiny_net")  # not vgg's, not modnet's
    assert "aggregate_summary" in planned and planned - run_level <= DOWNSTREAM


@pytest.mark.slow
def test_pytorch_wrapped_example_trains_on_torch_backend(tmp_path):
    """examples/my_models/torch_net.py: a torch.nn.Module in keras.layers.TorchModuleWrapper,
    trained with training.backend: torch and evaluated (loaded with safe_mode off: the
    workflow's own model of the user's own code)."""
    workdir = copy_workflow(tmp_path / "wf")
    shutil.copytree(EXAMPLE, workdir / "my_models", ignore=shutil.ignore_patterns("__pycache__"))
    cfg = base_config()
    del cfg["experiments"]["activation"]  # the torch model alone
    cfg["experiments"]["benchmark"]["models"] = {
        "torch_net": {
            "architecture": "my_models/torch_net.py:build",
            "channels": 4,
            "training": {"backend": "torch"},
        }
    }
    (workdir / "torch.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    snakemake(workdir, "--cores", "2", "--configfile", "torch.yaml")
    run = workdir / "results" / "runs" / "bench" / "torch_net" / "seed0"
    info = json.loads((run / "training.json").read_text())
    assert info["backend"] == "torch" and info["architecture"] == "my_models/torch_net.py:build"
    metrics = json.loads((run / "metrics.json").read_text())
    assert 0.0 <= metrics["test_accuracy"] <= 1.0
    summary = pd.read_csv(workdir / "results" / "tables" / "summary.csv")
    assert list(summary["model"]) == ["torch_net"] and not summary["in_paper"].iloc[0]


def test_example_config_joins_the_default_experiments(monkeypatch):
    """examples/own-models.yaml merged into config/config.yaml as `--configfile A B` merges them:
    valid, both example builders checked (the torch one on the torch backend)."""
    from snakemake.utils import update_config

    monkeypatch.chdir(REPO)
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    update_config(cfg, yaml.safe_load((REPO / "examples" / "own-models.yaml").read_text()))
    experiments = prepared(cfg)["experiments"]
    assert {"cnn2", "tiny_net", "torch_net"} <= set(experiments["benchmark"]["models"])
    # joined, not replaced: the published ten stay in the activation experiment beside tiny_net
    default = yaml.safe_load((REPO / "config" / "config.yaml").read_text())["experiments"]
    activation = set(experiments["activation"]["models"])
    assert activation == set(default["activation"]["models"]) | {"tiny_net"}


def test_user_architectures_are_labelled_short_and_marked():
    from specbench.results.tables.common import architecture_label, architecture_order

    assert architecture_label("cnn2") == "cnn2"
    assert architecture_label("my_models/tiny_net.py:build") == "tiny_net †"
    assert architecture_label("user_nets.net:make") == "user_nets.net:make †"
    assert architecture_order(["my_models/a.py:build", "vgg", "cnn2"])[-1] == "my_models/a.py:build"


def test_compare_with_must_name_a_model_of_the_experiment(tmp_path):
    """A misspelt ``compare_with`` would leave the model without any paired comparison, its
    paired_* columns empty and no word said: Snakemake stops before any job, naming the key."""
    workdir = copy_workflow(tmp_path / "wf")
    shutil.copytree(EXAMPLE, workdir / "my_models", ignore=shutil.ignore_patterns("__pycache__"))
    cfg = base_config()
    cfg["experiments"] = {"benchmark": cfg["experiments"]["benchmark"]}
    cfg["experiments"]["benchmark"]["models"].pop("modnet")
    cfg["experiments"]["benchmark"]["models"]["tiny_net"]["compare_with"] = "vgg16"
    (workdir / "user.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(workdir, "-n", "--configfile", "user.yaml", check=False)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0, output
    assert (
        "experiments.benchmark.models.tiny_net.compare_with='vgg16' is not another model of "
        "experiment 'benchmark' (its models: vgg)" in output
    ), output
    cfg["experiments"]["benchmark"]["models"]["tiny_net"]["compare_with"] = "vgg"
    (workdir / "user.yaml").write_text(yaml.safe_dump(cfg))
    snakemake(workdir, "-n", "--configfile", "user.yaml")  # the right name plans
    # a model a baseline ships counts (docs/baselines.md: tiny_net against the shipped cnn6)
    from specbench.workflow.config import ConfigError, check_compare_with

    mine = {"architecture": "my_models/tiny_net.py:build", "compare_with": "cnn6"}
    alone = {"experiments": {"activation": {"models": {"tiny_net": mine}}}}
    check_compare_with(alone, shipped=[("activation", "cnn6")])
    with pytest.raises(ConfigError, match="its models: none"):
        check_compare_with(alone, shipped=[("modifications", "cnn6")])


def test_editing_compare_with_retrains_nothing(tmp_path):
    """`compare_with` names the model the tables pair a user model with; the builder never gets
    it, so changing it reruns the tables, not the model's training or evaluation. (Finished jobs
    are recorded by `snakemake --touch` on stand-in files: the jobs' params, without training.)"""
    workdir = copy_workflow(tmp_path / "wf")
    shutil.copytree(EXAMPLE, workdir / "my_models", ignore=shutil.ignore_patterns("__pycache__"))
    cfg = base_config()
    models = cfg["experiments"]["benchmark"]["models"]
    cfg["experiments"] = {"benchmark": {**cfg["experiments"]["benchmark"], "models": models}}
    del models["modnet"]
    models["cnn2"] = {"architecture": "cnn2"}
    (workdir / "user.yaml").write_text(yaml.safe_dump(cfg))
    run = workdir / "results" / "runs" / "bench" / "tiny_net" / "seed0"
    data = workdir / "results" / "datasets" / "bench"
    run.mkdir(parents=True)
    data.mkdir(parents=True)
    for name in ("model.keras", "history.csv", "training.json", "predictions.parquet"):
        (run / name).touch()
    (run / "metrics.json").touch()
    os.utime(run / "metrics.json", (1, 1))  # older than its inputs: --touch records the jobs
    for name in ("classes.json", "train.parquet", "val.parquet", "test.parquet"):
        (data / name).touch()
    (data / "ambiguous_pairs.csv").touch()
    for path in run.iterdir():
        os.utime(path, (1, 1))
    target = "results/runs/bench/tiny_net/seed0/metrics.json"
    args = ("--cores", "1", "--configfile", "user.yaml")
    touched = snakemake(workdir, *args, "--touch", target).stderr
    assert "Finished jobid" in touched and "train_model" in touched

    models["tiny_net"]["compare_with"] = "cnn2"
    (workdir / "user.yaml").write_text(yaml.safe_dump(cfg))
    planned = snakemake(workdir, *args, "-n", target)
    assert "Nothing to be done" in planned.stdout + planned.stderr, planned.stdout
