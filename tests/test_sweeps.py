"""Dataset sweeps (specbench.workflow.config.expand_sweeps): a base plus named overrides, each its own
dataset, with the exact job list and per-level reruns checked on the real workflow."""

from __future__ import annotations

import copy
import json
import re

import pytest
import yaml
from snakemake.utils import validate

from conftest import REPO, TINY_CONFIG, copy_workflow, snakemake
from specbench.core.schema import SCHEMA_PATH
from specbench.workflow import config as sbconfig

SCHEMA = str(SCHEMA_PATH)
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


@pytest.mark.slow
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
    # each level's models tested on every other level (their own: evaluate_model's)
    crosses = [w for rule, w in jobs if rule == "evaluate_level"]
    want = [
        f"dataset=bench_{train}, model=vgg, seed={seed}, test_dataset=bench_{test}"
        for train in LEVELS
        for test in LEVELS
        if test != train
        for seed in (0, 1)
    ]
    assert crosses == sorted(want) and len(crosses) == 3 * 2 * 2
    evaluations = [w for rule, w in jobs if rule == "evaluate_model"]
    assert len(evaluations) == len(trains)

    # Render the levels for real, then change one level: only that level is rendered again.
    targets = [
        f"results/datasets/bench_{level}/{split}.parquet"
        for level in LEVELS
        for split in ("train", "test")
    ]
    snakemake(workdir, *targets, "--cores", "1", "--configfile", "sweep.yaml")
    levels = copy.deepcopy(LEVELS)
    levels["snr30"]["render"]["noise"]["snr"] = 40
    (workdir / "sweep.yaml").write_text(yaml.safe_dump(swept(levels)))
    proc = snakemake(workdir, *targets, "-n", "--configfile", "sweep.yaml")
    # the training noise: the training splits (the test split has its own `test` settings)
    assert planned_jobs(proc.stdout + proc.stderr) == [("render_spectra", "dataset=bench_snr30")]


# ------------------------------------------------------------------ robustness experiment


def test_robustness_table_and_figures(tmp_path):
    """Table and figures from a runs table (as aggregate_runs writes it) and rendered levels."""
    from specbench.data.dataset_files import render_dataset
    from specbench.results.figures.robustness import plot_level_spectra, plot_robustness
    from specbench.results.tables.robustness import robustness_table

    levels = sbconfig.swept_experiments(swept())
    assert [(r["experiment"], r["level"], r["level_index"], r["dataset"]) for r in levels] == [
        ("robustness_clean", "clean", 0, "bench_clean"),
        ("robustness_snr30", "snr30", 1, "bench_snr30"),
        ("robustness_snr10", "snr10", 2, "bench_snr10"),
    ]
    accuracy = {("clean", 0): 1.0, ("clean", 1): 0.9, ("snr30", 0): 0.8, ("snr30", 1): 0.7,
                ("snr10", 0): 0.5, ("snr10", 1): 0.3}  # fmt: skip
    rows = [
        {"experiment": f"robustness_{lvl}", "dataset": f"bench_{lvl}", "model": "vgg",
         "seed": seed, "test_accuracy": acc, "status": "ok"}
        for (lvl, seed), acc in accuracy.items()
    ]  # fmt: skip
    rows.append({**rows[0], "seed": 2, "test_accuracy": 0.0, "status": "missing"})
    rows.append({**rows[0], "experiment": "benchmark", "dataset": "bench", "test_accuracy": 0.1})
    import pandas as pd

    pd.DataFrame(rows).to_csv(tmp_path / "runs.csv", index=False)
    # vgg trained at each level, tested on the others: accuracy 0.1 * (train + 1) + 0.01 * test
    cross = []
    for i, train in enumerate(LEVELS):
        for j, test in enumerate(LEVELS):
            if test == train:
                continue
            for seed in (0, 1):
                path = tmp_path / "cross" / f"{train}_{test}_{seed}.json"
                path.parent.mkdir(exist_ok=True)
                path.write_text(
                    json.dumps({"test_accuracy": 0.1 * (i + 1) + 0.01 * j + seed / 100})
                )
                cross.append({"experiment": "robustness", "model": "vgg", "seed": seed,
                              "train_level": train, "test_level": test, "metrics": str(path)})  # fmt: skip
    cross.append({**cross[0], "seed": 5, "metrics": str(tmp_path / "absent.json")})  # left out
    table = robustness_table(
        runs=tmp_path / "runs.csv",
        levels=levels,
        cross=cross,
        csv=tmp_path / "r.csv",
        md=tmp_path / "r.md",
    )
    assert len(table) == 9 and table["experiment"].unique().tolist() == ["robustness"]
    assert list(zip(table["train_level"], table["test_level"]))[:4] == [
        ("clean", "clean"), ("clean", "snr30"), ("clean", "snr10"), ("snr30", "clean")
    ]  # fmt: skip
    diagonal = table[table["matched"]]
    assert diagonal["test_level"].tolist() == ["clean", "snr30", "snr10"]
    assert (diagonal["train_dataset"] == diagonal["test_dataset"]).all()
    assert table["seeds"].tolist() == [2] * 9  # the missing seeds are not counted
    assert diagonal["mean_accuracy"].tolist() == pytest.approx([0.95, 0.75, 0.4])
    assert diagonal["min_accuracy"].tolist() == pytest.approx([0.9, 0.7, 0.3])
    off = table.set_index(["train_level", "test_level"])
    assert off.loc[("snr10", "clean"), "mean_accuracy"] == pytest.approx(0.305)
    assert off.loc[("clean", "snr10"), "test_dataset"] == "bench_snr10"
    assert off.loc[("clean", "snr10"), "train_dataset"] == "bench_clean"
    md = (tmp_path / "r.md").read_text()
    assert "| model | trained at | seeds | clean | snr30 | snr10 |" in md
    assert "| vgg | snr10 | 2 | 30.5 | 31.5 | **40.0** |" in md
    assert max(line.count("|") for line in md.splitlines()) - 1 <= 8  # narrow
    plot_robustness(table=tmp_path / "r.csv", png=tmp_path / "r.png", svg=tmp_path / "r.svg")
    assert (tmp_path / "r.png").stat().st_size > 10_000

    cfg = expand(swept())
    from specbench.data.classes import generate_classes, save_classes

    save_classes(generate_classes(4, n_points=128, seed=7, boundary=8), tmp_path / "c.json")
    tests = {}
    for level in LEVELS:
        ds = cfg["datasets"][f"bench_{level}"]
        out = tmp_path / level
        render_dataset(
            classes_path=tmp_path / "c.json",
            render={"seed": ds["seed"], "render": ds["render"], "test": ds["test"]},
            name=level,
            config_hash="x",
            train_path=out / "train.parquet",
            val_path=out / "val.parquet",
            test_path=out / "test.parquet",
            ambiguous_path=out / "amb.csv",
        )
        tests[level] = out / "test.parquet"
    plot_level_spectra(tests=tests, png=tmp_path / "s.png", svg=tmp_path / "s.svg")
    assert (tmp_path / "s.png").stat().st_size > 10_000


def test_robustness_table_of_a_swept_experiment_without_finished_runs(tmp_path):
    """allow_missing_runs and every swept run failed: robustness.md names the swept experiment
    and says that none of its runs finished, not that the config has no swept experiment."""
    import pandas as pd
    from specbench.results.tables.robustness import robustness_table

    levels = sbconfig.swept_experiments(swept())
    rows = [
        {"experiment": f"robustness_{lvl}", "dataset": f"bench_{lvl}", "model": "vgg",
         "seed": 0, "test_accuracy": None, "status": "missing"}
        for lvl in LEVELS
    ]  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "runs.csv", index=False)
    table = robustness_table(
        runs=tmp_path / "runs.csv", levels=levels, csv=tmp_path / "r.csv", md=tmp_path / "r.md"
    )
    assert table.empty
    md = (tmp_path / "r.md").read_text()
    assert "No swept experiment" not in md
    assert md == "Swept experiment(s) robustness: no finished run, no robustness results.\n"
    no_levels = robustness_table(
        runs=tmp_path / "runs.csv", levels=[], csv=tmp_path / "n.csv", md=tmp_path / "n.md"
    )
    assert no_levels.empty and (tmp_path / "n.md").read_text().startswith("No swept experiment")


def test_robustness_figure_colours_a_train_level_alike_in_every_panel(tmp_path, monkeypatch):
    """A model without runs at one train level (allow_missing_runs): each level trained at keeps
    the colour the shared legend gives it in every panel (not the next level's)."""
    import matplotlib.colors as mcolors
    import pandas as pd
    from specbench.results.figures import robustness as figure

    index = {"clean": 0, "snr30": 1, "snr10": 2}
    rows = []
    for model, trains in (("vgg", ["clean", "snr30", "snr10"]), ("cnn2", ["snr30", "snr10"])):
        for train in trains:
            for test in index:  # mean accuracy: which level the model was trained at
                acc = 0.9 - 0.2 * index[train]
                rows.append({"experiment": "robustness", "model": model, "train_level": train,
                             "train_level_index": index[train], "test_level": test,
                             "test_level_index": index[test], "matched": train == test,
                             "seeds": 2, "mean_accuracy": acc, "min_accuracy": acc - 0.05,
                             "max_accuracy": acc + 0.05})  # fmt: skip
    pd.DataFrame(rows).to_csv(tmp_path / "r.csv", index=False)
    saved = {}
    monkeypatch.setattr(figure, "save_figure", lambda fig, *a: saved.setdefault("fig", fig))
    figure.plot_robustness(table=tmp_path / "r.csv", png=tmp_path / "r.png", svg=tmp_path / "r.svg")
    fig = saved["fig"]
    legend = {t.get_text(): h for t, h in zip(fig.legends[0].texts, fig.legends[0].legend_handles)}
    level = {round(100 * (0.9 - 0.2 * i), 6): name for name, i in index.items()}
    checked = 0
    for ax in fig.axes[:2]:
        for line in ax.get_lines():
            if line.get_linewidth() != 1.2:  # the bold matched-level line
                continue
            train = level[round(float(line.get_ydata()[0]), 6)]
            want = legend[f"trained at {train}"].get_color()
            assert mcolors.same_color(line.get_color(), want), (ax.get_title(), train)
            checked += 1
    assert checked == 5


@pytest.mark.slow
def test_models_are_tested_on_every_level_for_real(tmp_path):
    """A real run of a two-level sweep: the robustness table has every (train level, test level)
    pair, the cross rows from evaluate_level; evaluate_level on a model's own level gives
    evaluate_model's metrics exactly (same model, same test split), and so does the diagonal."""
    import pandas as pd

    workdir = copy_workflow(tmp_path / "wf")
    cfg = swept({"clean": LEVELS["clean"], "snr10": LEVELS["snr10"]})
    cfg["experiments"] = {
        "robustness": {
            **cfg["experiments"]["robustness"],
            "models": {"cnn2": {"architecture": "cnn2"}},
        }
    }
    (workdir / "sweep.yaml").write_text(yaml.safe_dump(cfg))
    own = "results/robustness/bench_clean/cnn2/seed0/on_bench_clean.json"  # not planned: asked
    targets = [
        "results/tables/robustness.csv",
        "results/figures/robustness.png",
        "results/tables/runtimes.csv",
        own,
    ]
    snakemake(workdir, *targets, "--cores", "2", "--configfile", "sweep.yaml")
    results = workdir / "results"
    for train, test, seed in [("clean", "snr10", 0), ("snr10", "clean", 1)]:
        cross = results / "robustness" / f"bench_{train}" / "cnn2" / f"seed{seed}"
        metrics = json.loads((cross / f"on_bench_{test}.json").read_text())
        assert metrics["dataset"] == f"bench_{train}" and metrics["test_dataset"] == f"bench_{test}"
        assert not list(cross.glob("*.parquet"))  # metrics only
    again = json.loads((workdir / own).read_text())
    metrics = json.loads(
        (results / "runs" / "bench_clean" / "cnn2" / "seed0" / "metrics.json").read_text()
    )
    for key in ("n_test", "test_wrong", "test_accuracy", "parameters", "macs"):
        assert again[key] == metrics[key], key

    runtimes = pd.read_csv(results / "tables" / "runtimes.csv")
    level_jobs = runtimes[runtimes["rule"] == "evaluate_level"]
    assert sorted(level_jobs["wildcards"].str.split(",test_dataset=").str[1]) == sorted(
        ["bench_snr10", "bench_clean"] * 2
    )  # every cross-level evaluation (one model, two seeds), with its time
    assert (level_jobs["wall_s"] > 0).all()

    table = pd.read_csv(results / "tables" / "robustness.csv")
    pairs = list(zip(table["train_level"], table["test_level"]))
    assert pairs == [("clean", "clean"), ("clean", "snr10"), ("snr10", "clean"), ("snr10", "snr10")]
    assert table["seeds"].tolist() == [2] * 4 and table["model"].unique().tolist() == ["cnn2"]
    runs = pd.read_csv(results / "tables" / "runs.csv")
    for row in table[table["matched"]].itertuples():
        own_runs = runs[runs["dataset"] == row.train_dataset]["test_accuracy"]
        assert row.mean_accuracy == pytest.approx(own_runs.mean(), abs=1e-6)
        assert row.min_accuracy == pytest.approx(own_runs.min(), abs=1e-6)
    for row in table[~table["matched"]].itertuples():
        accs = [
            json.loads(
                (results / "robustness" / row.train_dataset / "cnn2" / f"seed{seed}"
                 / f"on_{row.test_dataset}.json").read_text()
            )["test_accuracy"]
            for seed in (0, 1)
        ]  # fmt: skip
        assert row.mean_accuracy == pytest.approx(sum(accs) / 2, abs=1e-6)
    md = (results / "tables" / "robustness.md").read_text()
    assert "| model | trained at | seeds | clean | snr10 |" in md
    assert (results / "figures" / "robustness.png").stat().st_size > 10_000
    log = (results / "logs" / "plot_robustness.log").read_text()
    assert "WARNING" not in log, log

    # A level's test settings alone: its test split, its models' evaluations and the other
    # level's models' evaluations on it (evaluate_level); no training, no training split.
    cfg["datasets"]["bench"]["sweep"]["snr10"]["test"]["noise"]["snr"] = 15
    (workdir / "sweep.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(workdir, *targets, "-n", "--configfile", "sweep.yaml")
    jobs = [job for job in planned_jobs(proc.stdout) if job[0] != "find_ambiguous_pairs"]
    assert jobs == sorted(
        [("render_test_split", "dataset=bench_snr10")]
        + [("evaluate_model", f"dataset=bench_snr10, model=cnn2, seed={s}") for s in (0, 1)]
        + [
            (
                "evaluate_level",
                f"dataset=bench_clean, model=cnn2, seed={s}, test_dataset=bench_snr10",
            )
            for s in (0, 1)
        ]
    ), jobs


@pytest.mark.parametrize(
    "base,level,expected",
    [
        (  # a base without peak_count: the schema fills the gamma defaults before the sweep
            {},
            {"generate": {"peak_count": {"distribution": "uniform", "min": 2, "max": 4}}},
            ("generate", "peak_count", {"distribution": "uniform", "min": 2, "max": 4}),
        ),
        (
            {"render": {"noise": {"kind": "gaussian", "snr": 30}}},
            {"render": {"noise": {"kind": "poisson", "counts": 100}}},
            ("render", "noise", {"kind": "poisson", "counts": 100}),
        ),
        (
            {"test": {"peak_shape": {"shape": "pseudo_voigt", "eta": 0.5}}},
            {"test": {"peak_shape": {"shape": "lorentzian"}}},
            ("test", "peak_shape", {"shape": "lorentzian"}),
        ),
    ],
    ids=["peak_count distribution", "noise kind", "peak shape"],
)
def test_a_level_may_switch_a_setting_to_another_kind(base, level, expected):
    """A level that changes the kind of a setting (peak_count's distribution, the noise's kind,
    the peak shape) gets that setting as it gives it: the base's keys of the other kind are not
    merged in (the schema refuses them); a level of the same kind still merges."""
    cfg = swept({"other": level, "same": {"render": {"sigma": [0.6, 0.9]}}})
    for section, value in base.items():
        cfg["datasets"]["bench"][section].update(value)
    out = expand(cfg)
    section, key, value = expected
    assert out["datasets"]["bench_other"][section][key] == value
    assert out["datasets"]["bench_same"] == {
        **out["datasets"]["bench"],
        "render": {**out["datasets"]["bench"]["render"], "sigma": [0.6, 0.9]},
    }


def test_the_settings_with_a_kind_are_derived_from_the_schema():
    """merge_level's KINDS come from the schema: every one is a dataset key that uses that
    definition, and every dataset key whose definition is chosen by a kind is among them (a new
    setting with alternatives needs no second list)."""
    from specbench.core import schema
    from specbench.workflow.config import KINDS

    dataset = schema.load()["properties"]["datasets"]["additionalProperties"]

    def refs(node, key=None):  # (config key, referenced $defs name) anywhere under node
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if key is not None and ref.startswith("#/$defs/"):
                yield key, ref.rsplit("/", 1)[1]
            for k, v in node.items():
                yield from refs(v, k if k not in ("properties", "then", "else") else key)
        elif isinstance(node, list):
            for v in node:
                yield from refs(v, key)

    used = {(key, name) for key, name in refs(dataset) if name in schema.load()["$defs"]}
    assert {name for _, name in used if name in KINDS} == set(KINDS)
    assert all(key == name for key, name in used if name in KINDS)
    assert {"peak_count", "peak_shape", "noise"} <= set(KINDS)  # the derivation finds them
