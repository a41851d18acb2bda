"""Rerun only what changed: after a real tiny run, change one thing and assert the exact job list
that `snakemake -n` plans. These are the guarantees listed in the README."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from conftest import snakemake

pytestmark = pytest.mark.slow

AGGREGATES = {
    "aggregate_runs",
    "aggregate_summary",
    "aggregate_agreement",
    "aggregate_confusions",
    "aggregate_runtimes",
}
RUN_FIGURES = {
    "plot_misclassifications",
    "plot_activation",
    "plot_modifications",
    "plot_loss_curves",
    "plot_confused_pair",
}
DOWNSTREAM = AGGREGATES | RUN_FIGURES | {"all"}
DATASET_RULES = ("generate_classes", "render_spectra", "render_test_split", "find_ambiguous_pairs")
# (dataset, model) of every run of tests/configs/tiny.yaml (seed 0)
RUNS = [
    ("bench", "cnn2"),
    ("bench", "vgg"),
    ("chal", "cnn2"),
    ("chal", "cnn2_relu"),
    ("chal", "vgg"),
    ("chal", "vgg_k20_relu"),
]

JOB_START = re.compile(r"^(?:local)?rule (\w+):\s*$")
WILDCARDS = re.compile(r"^\s+wildcards: (.*)$")


def planned_jobs(workdir: Path, configfile: str = "tiny.yaml") -> set[str]:
    """Jobs of `snakemake -n` as 'rule' or 'rule[key=value,...]' strings."""
    proc = snakemake(workdir, "-n", "--cores", "2", "--configfile", configfile)
    jobs: list[list] = []
    for line in proc.stdout.splitlines():
        if match := JOB_START.match(line):
            jobs.append([match.group(1), ""])
        elif jobs and (match := WILDCARDS.match(line)):
            jobs[-1][1] = match.group(1).replace(" ", "")
    return {f"{rule}[{wc}]" if wc else rule for rule, wc in jobs}


def run_jobs(dataset: str, model: str, seed: int = 0) -> set[str]:
    wildcards = f"dataset={dataset},model={model},seed={seed}"
    return {f"train_model[{wildcards}]", f"evaluate_model[{wildcards}]"}


def edit_config(workdir: Path, change) -> None:
    path = workdir / "tiny.yaml"
    cfg = yaml.safe_load(path.read_text())
    change(cfg)
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def test_nothing_changed_nothing_to_do(clone_run):
    workdir = clone_run()
    assert planned_jobs(workdir) == set()


def test_model_hyperparameter_reruns_only_that_model(clone_run):
    workdir = clone_run()

    def change(cfg):
        cfg["experiments"]["modifications"]["models"]["vgg_k20_relu"]["dropout_rate"] = 0.2

    edit_config(workdir, change)
    assert planned_jobs(workdir) == run_jobs("chal", "vgg_k20_relu") | DOWNSTREAM


def test_architecture_source_reruns_only_that_architecture(clone_run):
    workdir = clone_run()
    source = workdir / "src" / "specbench" / "models" / "vgg.py"
    source.write_text(source.read_text() + "\n# an edit to the VGG architecture\n")
    expected = run_jobs("bench", "vgg") | run_jobs("chal", "vgg") | run_jobs("chal", "vgg_k20_relu")
    assert planned_jobs(workdir) == expected | DOWNSTREAM


def edit_module(workdir: Path, module: str) -> None:
    """Append a comment to src/specbench/<module> (a code change Snakemake sees)."""
    source = workdir / "src" / "specbench" / module
    source.write_text(source.read_text() + "\n# an edit\n")


def test_macs_module_reruns_evaluation_not_training(clone_run):
    """models/macs.py counts the `macs` of metrics.json: evaluate_model's script imports it."""
    workdir = clone_run()
    edit_module(workdir, "models/macs.py")
    expected = {f"evaluate_model[dataset={d},model={m},seed=0]" for d, m in RUNS}
    # the loss curves read the training histories only, which evaluation does not change
    assert planned_jobs(workdir) == expected | (DOWNSTREAM - {"plot_loss_curves"})


def test_shared_tables_module_reruns_every_rule_that_imports_it(clone_run):
    """results/tables/common.py (display order, writing): every aggregate and every figure drawn from
    runs, but not the class variation figure, which reads the dataset only."""
    workdir = clone_run()
    edit_module(workdir, "results/tables/common.py")
    assert planned_jobs(workdir) == DOWNSTREAM


def test_one_table_module_reruns_that_table_and_what_reads_it(clone_run):
    """results/tables/confusions.py: its table, and the confused pair figure (which reads the table)."""
    workdir = clone_run()
    edit_module(workdir, "results/tables/confusions.py")
    assert planned_jobs(workdir) == {"aggregate_confusions", "plot_confused_pair", "all"}


def test_one_figure_module_reruns_that_figure_only(clone_run):
    workdir = clone_run()
    edit_module(workdir, "results/figures/loss_curves.py")
    assert planned_jobs(workdir) == {"plot_loss_curves", "all"}


def test_shared_figure_style_reruns_every_figure(clone_run):
    workdir = clone_run()
    edit_module(workdir, "results/figures/style.py")
    assert planned_jobs(workdir) == RUN_FIGURES | {"plot_class_variation", "all"}


def test_variants_module_reruns_the_datasets_and_everything_after(clone_run):
    """data/variants.py checks the classes' test variants (generate_classes) and renders them."""
    workdir = clone_run()
    edit_module(workdir, "data/variants.py")
    expected = {
        f"{rule}[dataset={dataset}]"
        for rule in DATASET_RULES
        for dataset in ("bench", "chal")
    }
    for dataset, model in RUNS:
        expected |= run_jobs(dataset, model)
    assert planned_jobs(workdir) == expected | DOWNSTREAM | {"plot_class_variation"}


def test_logs_module_reruns_nothing(clone_run):
    """workflow/logs.py only routes log lines (specbench.workflow.codedeps.EXCLUDED)."""
    workdir = clone_run()
    edit_module(workdir, "workflow/logs.py")
    assert planned_jobs(workdir) == set()


def test_dataset_rendering_parameter_reruns_only_that_dataset(clone_run):
    workdir = clone_run()

    def change(cfg):
        cfg["datasets"]["chal"]["render"]["height_shift"] = 0.04

    edit_config(workdir, change)
    # runs were trained on chal: replacing it takes a yes (specbench.workflow.trees)
    proc = snakemake(workdir, "-n", "--cores", "2", "--configfile", "tiny.yaml", check=False)
    assert proc.returncode != 0, proc.stdout
    output = proc.stdout + proc.stderr
    refusal = [line for line in output.splitlines() if "replace_datasets" in line]
    assert len(refusal) == 1, output
    assert "dataset 'chal'" in refusal[0] and "4 trained run(s)" in refusal[0], refusal

    edit_config(workdir, lambda cfg: cfg.update(replace_datasets=True))
    # the training variation: the training splits and the ambiguous pairs, not the test split
    expected = {"render_spectra[dataset=chal]", "find_ambiguous_pairs[dataset=chal]"}
    for model in ("cnn2", "cnn2_relu", "vgg", "vgg_k20_relu"):
        expected |= run_jobs("chal", model)
    # The class-variation figure draws the benchmark dataset (bench), which did not change.
    assert planned_jobs(workdir) == expected | DOWNSTREAM


def test_dataset_test_setting_reruns_its_test_split_and_evaluations_not_training(clone_run):
    """A test-only edit re-renders the test split and the ambiguous pairs and re-evaluates the
    models trained on that dataset; it retrains nothing, and is not refused (no run was trained
    on the test split)."""
    workdir = clone_run()

    def change(cfg):
        cfg["datasets"]["chal"].setdefault("test", {})["sigma"] = 0.6

    edit_config(workdir, change)
    expected = {"render_test_split[dataset=chal]", "find_ambiguous_pairs[dataset=chal]"}
    for model in ("cnn2", "cnn2_relu", "vgg", "vgg_k20_relu"):
        expected.add(f"evaluate_model[dataset=chal,model={model},seed=0]")
    # the loss curves are the trainings' histories: unchanged
    assert planned_jobs(workdir) == expected | DOWNSTREAM - {"plot_loss_curves"}


def test_one_more_seed_runs_only_the_new_seed(clone_run):
    workdir = clone_run()

    def change(cfg):
        cfg["experiments"]["benchmark"]["seeds"] = [0, 1]

    edit_config(workdir, change)
    expected = run_jobs("bench", "cnn2", 1) | run_jobs("bench", "vgg", 1)
    assert planned_jobs(workdir) == expected | DOWNSTREAM


def test_figure_style_reruns_only_that_figure(clone_run):
    workdir = clone_run()

    def change(cfg):
        cfg["figures"] = {"activation": {"height": 5, "palette": "deep"}}

    edit_config(workdir, change)
    assert planned_jobs(workdir) == {"plot_activation", "all"}
