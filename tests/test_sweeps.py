"""Dataset sweeps (specbench.config.expand_sweeps): a base plus named overrides, each its own
dataset, with the exact job list and per-level reruns checked on the real workflow."""

from __future__ import annotations

import copy
import re

import pytest
import yaml
from snakemake.utils import validate

from conftest import REPO, TINY_CONFIG, copy_workflow, snakemake
from specbench import config as sbconfig

SCHEMA = str(REPO / "config" / "schema.yaml")
LEVELS = {
    "clean": {},
    "snr30": {
        "render": {"noise": {"kind": "gaussian", "snr": 30}},
        "test": {"noise": {"kind": "gaussian", "snr": 30}},
    },
    "snr10": {
        "render": {"noise": {"kind": "gaussian", "snr": [10, 20]}},
        "test": {"noise": {"kind": "gaussian", "snr": 10}},
    },
}


def swept(levels=None) -> dict:
    """The tiny config with a noise sweep on `bench` and a swept experiment on it."""
    with open(TINY_CONFIG) as fh:
        cfg = yaml.safe_load(fh)
    cfg["datasets"]["bench"]["sweep"] = copy.deepcopy(LEVELS if levels is None else levels)
    cfg["experiments"] = {
        "robustness": {
            "dataset": "bench",
            "sweep": True,
            "seeds": [0, 1],
            "models": {"vgg": {"architecture": "vgg"}},
        },
        "benchmark": cfg["experiments"]["benchmark"],
    }
    return cfg


def expand(cfg: dict) -> dict:
    """What rules/common.smk does: validate, expand, validate again, semantic checks."""
    validate(cfg, SCHEMA)
    out = sbconfig.expand_sweeps(cfg)
    validate(out, SCHEMA)
    sbconfig.check_config(out, basedir=REPO)
    return out


def test_each_level_is_the_base_with_its_override():
    cfg = swept()
    before = copy.deepcopy(cfg)
    validate(cfg, SCHEMA)
    validated = copy.deepcopy(cfg)
    out = expand(cfg)
    assert cfg == validated and before["datasets"]["bench"]["sweep"] == LEVELS  # pure
    assert list(out["datasets"]) == ["bench", "bench_clean", "bench_snr30", "bench_snr10", "chal"]
    base = {k: v for k, v in validated["datasets"]["bench"].items() if k != "sweep"}
    assert out["datasets"]["bench"] == base and out["datasets"]["bench_clean"] == base
    snr10 = out["datasets"]["bench_snr10"]
    assert snr10["render"]["noise"] == {"kind": "gaussian", "snr": [10, 20]}
    assert snr10["test"]["noise"] == {"kind": "gaussian", "snr": 10}
    assert snr10["render"]["sigma"] == base["render"]["sigma"]  # merged, not replaced
    assert snr10["test"]["shift"] == base["test"]["shift"]
    assert sbconfig.sweep_levels(cfg) == {"bench": ["clean", "snr30", "snr10"]}
    assert sorted(out["experiments"]) == [
        "benchmark",
        "robustness_clean",
        "robustness_snr10",
        "robustness_snr30",
    ]
    assert out["experiments"]["robustness_snr30"]["dataset"] == "bench_snr30"
    assert "sweep" not in out["experiments"]["robustness_snr30"]
    runs = sbconfig.runs(out)
    assert {(r.dataset, r.model, r.seed) for r in runs if r.experiment.startswith("robust")} == {
        (f"bench_{level}", "vgg", seed) for level in LEVELS for seed in (0, 1)
    }


def test_a_level_changes_only_its_own_dataset_config():
    """The rules' params of a dataset are its config (hash): one level's edit touches only it."""
    one = expand(swept())
    levels = copy.deepcopy(LEVELS)
    levels["snr30"]["test"]["noise"]["snr"] = 25
    levels["snr3"] = {"test": {"noise": {"kind": "gaussian", "snr": 3}}}
    two = expand(swept(levels))
    changed = {
        name
        for name in two["datasets"]
        if sbconfig.config_hash(two["datasets"][name])
        != sbconfig.config_hash(one["datasets"].get(name))
    }
    assert changed == {"bench_snr30", "bench_snr3"}


@pytest.mark.parametrize(
    "change,words",
    [
        (
            lambda c: c["datasets"].__setitem__("bench_snr30", c["datasets"]["chal"]),
            ["datasets.bench.sweep.snr30", "bench_snr30", "already a dataset"],
        ),
        (
            lambda c: c["datasets"]["bench"].pop("sweep"),
            ["experiments.robustness.sweep", "no sweep"],
        ),
        (
            lambda c: c["datasets"]["bench"]["sweep"]["snr30"]["render"].update(
                noise={"kind": "gaussian", "snr": -1}
            ),
            ["datasets.bench_snr30.render.noise.snr", "-1"],
        ),
        (
            lambda c: c["datasets"]["bench"]["sweep"].update(bad={"render": {"sigmaa": [1, 2]}}),
            ["sigmaa"],
        ),
        (lambda c: c["datasets"]["bench"]["sweep"].update(bad={"source": "file"}), ["source"]),
    ],
    ids=["name clash", "experiment without sweep", "bad level value", "unknown key", "source"],
)
def test_bad_sweeps_are_refused_naming_key_and_value(change, words):
    cfg = swept()
    change(cfg)
    with pytest.raises(Exception) as err:
        expand(cfg)
    for word in words:
        assert word in str(err.value), (word, str(err.value))


def planned_jobs(text: str) -> list[tuple[str, str]]:
    """(rule, wildcards) of every job in a `snakemake -n` listing."""
    jobs, rule = [], None
    for line in text.splitlines():
        match = re.match(r"^(?:local)?rule (\w+):", line.strip())
        if match:
            rule = match.group(1)
        elif line.strip().startswith("wildcards:") and rule:
            jobs.append((rule, line.strip()[len("wildcards: ") :]))
    return sorted(jobs)


def test_sweep_expands_to_the_exact_job_list_and_reruns_one_level(tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    cfg = swept()
    (workdir / "sweep.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(workdir, "-n", "--configfile", "sweep.yaml")
    jobs = planned_jobs(proc.stdout + proc.stderr)
    renders = [w for rule, w in jobs if rule == "render_spectra"]
    assert renders == sorted([f"dataset=bench_{level}" for level in LEVELS] + ["dataset=bench"])
    trains = [w for rule, w in jobs if rule == "train_model"]
    want = [f"dataset=bench_{level}, model=vgg, seed={seed}" for level in LEVELS for seed in (0, 1)]
    want += ["dataset=bench, model=cnn2, seed=0", "dataset=bench, model=vgg, seed=0"]
    assert sorted(trains) == sorted(want)

    # Render the levels for real, then change one level: only that level is rendered again.
    targets = [f"results/datasets/bench_{level}/test.parquet" for level in LEVELS]
    snakemake(workdir, "--cores", "1", "--configfile", "sweep.yaml", *targets)
    levels = copy.deepcopy(LEVELS)
    levels["snr30"]["render"]["noise"]["snr"] = 40
    (workdir / "sweep.yaml").write_text(yaml.safe_dump(swept(levels)))
    proc = snakemake(workdir, "-n", "--configfile", "sweep.yaml", *targets)
    assert planned_jobs(proc.stdout + proc.stderr) == [("render_spectra", "dataset=bench_snr30")]
