"""Config validation: the schema plus specbench.workflow.config.check_config reject user mistakes with a
message naming the offending key and value, before any job runs."""

from __future__ import annotations

import json

import pytest
import yaml

from conftest import REPO, TINY_CONFIG, copy_workflow, snakemake
from specbench.workflow import config as sbconfig
from specbench.workflow import validation as sbvalidation
from specbench.data.classes import peak_count_spec
from specbench.core import schema as sbschema


def load(path):
    with open(path) as fh:
        return yaml.safe_load(fh)


def check(cfg):
    """What rules/common.smk does: schema validation (with defaults), sweeps expanded and
    validated again, then semantic checks."""
    sbvalidation.prepare_config(cfg, basedir=REPO)
    return cfg


@pytest.fixture
def tiny():
    return load(TINY_CONFIG)


@pytest.mark.parametrize(
    "path",
    [
        REPO / "config" / "config.yaml",
        REPO / "config" / "paper.yaml",
        REPO / "config" / "robustness.yaml",
        TINY_CONFIG,
    ],
)
def test_shipped_configs_are_valid(path):
    cfg = check(load(path))
    assert cfg["training"]["early_stopping"]["patience"] >= 1
    assert sbconfig.runs(cfg)


def test_schema_fills_the_defaults_the_code_reads(tiny):
    """A config without `training` or `test` gets the schema's defaults, which are what
    specbench.core.schema hands code outside the workflow."""
    del tiny["training"]
    del tiny["datasets"]["bench"]["test"]
    tiny["datasets"]["bench"]["generate"] = {"n_classes": 6}
    tiny["datasets"]["bench"]["n_points"] = 300  # room for the default boundary and peak count
    cfg = check(tiny)
    assert cfg["training"] == sbschema.defaults("training")
    assert cfg["datasets"]["bench"]["test"] == sbschema.defaults("datasets", "*", "test")
    generate = cfg["datasets"]["bench"]["generate"]
    assert generate == sbschema.fill({"n_classes": 6}, "datasets", "*", "generate")
    assert generate["peak_count"] == peak_count_spec()  # the gamma's parameters filled in


def mutate(cfg, dotted, value):
    keys = dotted.split(".")
    node = cfg
    for key in keys[:-1]:
        node = node[key]
    if value is DELETE:
        del node[keys[-1]]
    else:
        node[keys[-1]] = value
    return cfg


DELETE = object()

# (what is wrong, key to set, value, words the message must contain)
BAD = [
    ("unknown top-level key", "datasetz", {}, ["datasetz"]),
    ("unknown dataset key", "datasets.bench.n_pointz", 10, ["n_pointz"]),
    ("wrong type", "datasets.bench.n_points", "many", ["n_points", "many"]),
    ("negative count", "datasets.bench.render.train_per_class", -5, ["train_per_class", "-5"]),
    ("zero classes", "datasets.bench.generate.n_classes", 0, ["n_classes", "0"]),
    ("one class", "datasets.bench.generate.n_classes", 1, ["n_classes=1", "at least 2"]),
    ("one point", "datasets.bench.n_points", 1, ["n_points", "1 is less than the minimum of 2"]),
    (
        "unknown distribution",
        "datasets.bench.generate.peak_count",
        {"distribution": "poisson"},
        ["poisson"],
    ),
    ("bad variant code", "datasets.bench.test.variants", ["0", "x+s"], ["x+s"]),
    ("unknown backend", "training.backend", "theano", ["theano"]),
    ("unknown training key", "training.epochz", 3, ["epochz"]),
    (  # "is not valid under any of the given schemas" said nothing of what is
        "bad architecture scale",
        "training.architecture_scale",
        "big",
        ["architecture_scale", "big", "(allowed: 'published' or 'auto', or a number > 0)"],
    ),
    (
        "zero architecture scale",
        "experiments.benchmark.models.cnn2.training",
        {"architecture_scale": 0},
        ["architecture_scale", "0"],
    ),
    (
        "noise level not a number",
        "datasets.bench.render.noise",
        {"kind": "gaussian", "snr": "high"},
        ["noise.snr = 'high'", "(allowed: a number, or a list of 2 numbers)"],
    ),
    ("unknown select key", "select", {"modelz": ["cnn2"]}, ["modelz"]),
    ("unknown source", "datasets.bench.source", "magic", ["magic"]),
    ("seeds not a list", "experiments.benchmark.seeds", 3, ["seeds", "3"]),
    (  # NumPy's legacy seeding (keras.utils.set_random_seed) takes one 32-bit word: the job failed
        "training seed of two words",
        "experiments.benchmark.seeds",
        [0, 2**32],
        ["seeds", "4294967296", "maximum"],
    ),
    ("bad dataset name", "experiments.benchmark.dataset", "nope", ["nope", "dataset"]),
    ("unknown architecture", "experiments.benchmark.models.cnn2.architecture", "cnn99", ["cnn99"]),
    (  # the line named the known ones only, no word of the missing :FUNCTION
        "own builder without its function",
        "experiments.benchmark.models.cnn2.architecture",
        "my_models/net.py",
        ["'my_models/net.py'", "'my_models/net.py:FUNCTION'"],
    ),
    (
        "unknown hyperparameter",
        "experiments.benchmark.models.cnn2.dense_unitz",
        [10],
        ["dense_unitz", "cnn2"],
    ),
    ("boundary too wide", "datasets.bench.generate.boundary", 64, ["boundary", "64"]),
    ("sigma reversed", "datasets.bench.render.sigma", [2.0, 1.0], ["sigma"]),
    (
        "uniform min above max",
        "datasets.bench.generate.peak_count",
        {"distribution": "uniform", "min": 5, "max": 3},
        ["min", "5", "max", "3"],
    ),
    ("missing classes file", "datasets.chal", None, ["classes_file", "missing.json"]),
    (  # generated classes have no 2theta axis: the variation would be left out silently
        "xrd variation of generated classes",
        "datasets.bench.render.xrd",
        {"strain": 0.01},
        ["datasets.bench.render.xrd", "structures", "generated"],
    ),
    (
        "xrd variation of challenge classes",
        "datasets.chal.render.xrd",
        {"size": [10, 50]},
        ["datasets.chal.render.xrd", "structures", "challenge"],
    ),
]


@pytest.mark.parametrize("what,key,value,words", BAD, ids=[b[0] for b in BAD])
def test_bad_config_is_rejected_naming_the_key(tiny, what, key, value, words):
    if what == "missing classes file":
        tiny["datasets"]["chal"]["source"] = "file"
        tiny["datasets"]["chal"]["classes_file"] = "missing.json"
    else:
        mutate(tiny, key, value)
    with pytest.raises(sbconfig.ConfigError) as err:
        check(tiny)
    message = str(err.value)
    assert "\n" not in message, message  # one line, never the schema's text
    for word in words:
        assert word in message, f"{what}: {word!r} not in {message!r}"


def test_same_model_name_must_mean_the_same_model(tiny):
    tiny["experiments"]["modifications"]["models"]["cnn2"] = {
        "architecture": "cnn2",
        "dense_activation": "relu",
    }
    with pytest.raises(sbconfig.ConfigError, match="cnn2.*another name"):
        check(tiny)


def test_shared_model_trains_once(tiny):
    tiny["experiments"]["modifications"]["models"]["cnn2"] = {"architecture": "cnn2"}
    cfg = check(tiny)
    runs = sbconfig.runs(cfg)
    jobs = sbconfig.unique_jobs(cfg)
    assert len([r for r in runs if r.model == "cnn2" and r.dataset == "chal"]) == 2
    assert len([j for j in jobs if j[1] == "cnn2" and j[0] == "chal"]) == 1


@pytest.mark.parametrize(
    "positions, words",
    [([5, 140], "140"), ([5, 40], "at least 2")],
    ids=["peak outside the spectrum", "one class"],
)
def test_a_bad_classes_file_is_refused(tiny, tmp_path, monkeypatch, positions, words):
    """A peak outside the file's spectrum; a file of one class (a model of one class is not a
    run, training.json's n_classes >= 2: the evaluation would refuse it only after its
    training). Both are refused before any job, naming the dataset."""
    bad = {
        "datapoints": 100,
        "classes": 1,
        "spectra": {"0": {"peak_positions": positions, "peak_heights": [1.0, 0.5]}},
    }
    (tmp_path / "classes.json").write_text(json.dumps(bad))
    monkeypatch.chdir(tmp_path)
    tiny["datasets"]["chal"] = {
        "source": "file",
        "classes_file": "classes.json",
        "seed": 1,
        "render": {"train_per_class": 2, "val_per_class": 1},
    }
    with pytest.raises(sbconfig.ConfigError) as err:
        check(tiny)
    assert "datasets.chal" in str(err.value) and words in str(err.value)


def test_experiment_training_overrides_merge(tiny):
    tiny["experiments"]["benchmark"]["training"] = {"epochs": 9, "early_stopping": {"patience": 4}}
    tiny["experiments"]["benchmark"]["models"]["vgg"]["training"] = {"batch_size": 4}
    cfg = check(tiny)
    vgg = sbconfig.model_entry(cfg, "bench", "vgg")
    cnn2 = sbconfig.model_entry(cfg, "bench", "cnn2")
    assert vgg["training"]["epochs"] == 9 and cnn2["training"]["epochs"] == 9
    assert vgg["training"]["batch_size"] == 4 and cnn2["training"]["batch_size"] == 16
    assert vgg["training"]["early_stopping"]["patience"] == 4
    assert vgg["training"]["early_stopping"]["min_delta"] == pytest.approx(1e-4)
    assert vgg["hyperparameters"] == {}


@pytest.mark.slow
def test_snakemake_stops_before_any_job(tmp_path):
    """A real snakemake invocation on a bad config fails at parse time and creates nothing."""
    workdir = copy_workflow(tmp_path / "wf")
    cfg = load(workdir / "tiny.yaml")
    cfg["datasets"]["bench"]["render"]["train_per_class"] = -5
    (workdir / "bad.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(workdir, "--cores", "1", "--configfile", "bad.yaml", check=False)
    assert proc.returncode != 0
    output = (proc.stderr + proc.stdout).strip().splitlines()
    line = next(x for x in output if x.startswith("Invalid config:"))
    assert line == (
        "Invalid config: datasets.bench.render.train_per_class = -5: -5 is less than the "
        "minimum of 1"
    )
    assert len(output) <= 6, output  # Snakemake's own header lines, not the schema
    assert not (workdir / "results").exists()


def test_every_schema_error_on_request(tiny, monkeypatch):
    """The one line names the most specific problem; SPECBENCH_CONFIG_ERRORS=full adds all."""
    tiny["datasets"]["bench"]["render"]["train_per_class"] = -5
    tiny["training"]["epochz"] = 3
    with pytest.raises(sbconfig.ConfigError, match="every error: SPECBENCH_CONFIG_ERRORS=full"):
        check(tiny)
    monkeypatch.setenv(sbvalidation.FULL_ERRORS_ENV, "full")
    tiny = load(TINY_CONFIG)
    tiny["datasets"]["bench"]["render"]["train_per_class"] = -5
    tiny["training"]["epochz"] = 3
    with pytest.raises(sbconfig.ConfigError) as err:
        check(tiny)
    text = str(err.value)
    assert "epochz" in text and "train_per_class" in text and "Failed validating" in text


@pytest.mark.parametrize("experiments", [None, {}])
def test_a_config_with_datasets_only_is_valid(tiny, experiments):
    if experiments is None:
        del tiny["experiments"]
    else:
        tiny["experiments"] = experiments
    cfg = check(tiny)
    assert cfg["experiments"] == {} and sbconfig.runs(cfg) == []


def test_jobs_are_scheduled_seed_major(tmp_path):
    """Every job of seed s outranks every training of seed s+1 (a time-boxed or stopped run covers
    every model's first seed before any second), and an evaluation outranks the trainings of its
    own seed: read off the priorities Snakemake itself plans (`snakemake -n` prints them)."""
    workdir = copy_workflow(tmp_path / "wf")
    cfg = load(workdir / "tiny.yaml")
    cfg["experiments"] = {
        "benchmark": {
            "dataset": "bench",
            "seeds": [0, 3, 1],
            "models": {name: {"architecture": name} for name in ("cnn2", "vgg", "cnn3")},
        }
    }
    (workdir / "seeds.yaml").write_text(yaml.safe_dump(cfg))
    proc = snakemake(workdir, "-n", "--cores", "1", "--configfile", "seeds.yaml")
    priority: dict[tuple[str, int], set[int]] = {}
    rule = seed = None
    for line in proc.stdout.splitlines():
        if line.startswith(("rule ", "localrule ")):
            rule, seed = line.split()[1].rstrip(":"), None
        elif line.strip().startswith("wildcards:") and "seed=" in line:
            seed = int(line.split("seed=")[1].split(",")[0])
        elif line.strip().startswith("priority:") and seed is not None:
            priority.setdefault((rule, seed), set()).add(int(line.split(":")[1]))
    train = {seed: priority[("train_model", seed)] for seed in (0, 1, 3)}
    evaluate = {seed: priority[("evaluate_model", seed)] for seed in (0, 1, 3)}
    assert all(len(p) == 1 for p in [*train.values(), *evaluate.values()]), priority
    assert min(train[0]) > max(evaluate[1]) > max(train[1]) > max(evaluate[3]) > max(train[3])
    assert min(evaluate[0]) > max(train[0]) and min(train[3]) > 0


@pytest.mark.slow
def test_default_and_paper_plan_quickly(tmp_path):
    """`snakemake -n` plans the whole paper-scale workflow (every job listed)."""
    workdir = copy_workflow(tmp_path / "wf")
    proc = snakemake(workdir, "-n", "--configfile", "config/paper.yaml")
    cfg = check(load(REPO / "config" / "paper.yaml"))
    n_jobs = len(sbconfig.unique_jobs(cfg))
    text = proc.stdout + proc.stderr
    # cnn6 is shared by activation and modifications; data_variation adds cnn2 and cnn2_relu,
    # seed 0, on two more renderings of the challenge set (its 2023 runs are activation's);
    # robustness: 4 models x 4 noise levels x 5 seeds
    assert n_jobs == 8 * 5 + 18 * 5 + 2 * 2 + 4 * 4 * 5
    # robustness: each of those 4 x 4 x 5 models tested on the 3 other levels too
    crosses = 4 * 4 * 5 * 3
    for rule, count in (
        ("train_model", n_jobs),
        ("evaluate_model", n_jobs),
        ("render_spectra", 8),
        ("render_test_split", 8),
        ("evaluate_level", crosses),
    ):
        assert any(line.split()[:2] == [rule, str(count)] for line in text.splitlines()), text
    # the docs' counts are the dry run's (they drifted before: 130 + 80, 210, 275)
    total = next(line.split()[1] for line in text.splitlines() if line.startswith("total "))
    robustness = len({j for j in sbconfig.unique_jobs(cfg) if j[0].startswith("noise_")})
    fidelity = (REPO / "docs" / "fidelity.md").read_text()
    assert (
        f"{n_jobs - robustness} training jobs of the paper's experiments, plus {robustness} of "
        "the robustness experiment" in " ".join(fidelity.split())
    )
    assert f"{total} jobs in all" in " ".join(fidelity.split())
    cluster = " ".join((REPO / "docs" / "cluster-gpu.md").read_text().split())
    assert f"({n_jobs} training jobs, each requesting a GPU" in cluster


def test_select_leaves_out_the_unselected_sweep(tmp_path):
    """A subset of paper.yaml without its swept experiment plans no robustness job and renders
    none of the sweep's datasets."""
    workdir = copy_workflow(tmp_path / "wf")
    subset = "select={experiments: [activation], models: [cnn2]}"
    proc = snakemake(workdir, "-n", "--configfile", "config/paper.yaml", "--config", subset)
    text = proc.stdout + proc.stderr
    counts = {
        line.split()[0]: int(line.split()[1])
        for line in text.splitlines()
        if len(line.split()) == 2 and line.split()[1].isdigit()
    }
    assert counts["train_model"] == 5 and counts["render_spectra"] == 1, text
    robustness = {"aggregate_robustness", "plot_robustness", "plot_level_spectra", "evaluate_level"}
    assert not robustness & set(counts)


def test_the_class_variation_draws_a_dataset_the_runs_use(tmp_path, tiny):
    """An experiment whose data seeds leave out its dataset's own seed trains on derived datasets
    only (bench_seed8): the class-variation figure draws one of those, rather than rendering the
    base dataset (other classes, for generated ones) that no run uses."""
    workdir = copy_workflow(tmp_path / "wf")
    tiny["experiments"] = {"benchmark": {**tiny["experiments"]["benchmark"], "data_seeds": [8]}}
    (workdir / "seeds.yaml").write_text(yaml.safe_dump(tiny))
    proc = snakemake(workdir, "-n", "--configfile", "seeds.yaml")
    text = proc.stdout + proc.stderr
    rendered = set()
    rule = None
    for line in text.splitlines():
        if line.strip().startswith("rule "):
            rule = line.split()[1].rstrip(":")
        elif line.strip().startswith("wildcards:") and rule in (
            "render_spectra",
            "generate_classes",
        ):
            rendered.add(line.split("dataset=")[1].strip())
    assert "rule plot_class_variation:" in text
    assert rendered == {"bench_seed8"}, text


def test_a_baseline_named_twice_is_refused(tiny):
    # two spellings of one bundle folder would enter its runs into the tables twice
    from specbench.workflow import baselines
    from specbench.workflow.config_datasets import ConfigError

    folder = REPO / "reference-results" / "gpu-h200-challenge"
    again = REPO / "reference-results" / "." / "gpu-h200-challenge"
    tiny["baselines"] = [str(folder), str(again)]
    with pytest.raises(ConfigError, match="listed twice") as refused:
        baselines.load(tiny)
    assert str(again) in str(refused.value) and str(folder) in str(refused.value)


def training_split_of(root, dataset, config_hash, classes_hash=None):
    """A two-row train.parquet of `dataset` under `root`/results/datasets with that config hash
    (and classes hash: rendered since the rendering is three rules)."""
    import numpy as np

    from specbench.data.splits import write_split

    data = root / "results" / "datasets" / dataset
    data.mkdir(parents=True, exist_ok=True)
    write_split(
        data / "train.parquet",
        spectra=np.ones((2, 4), dtype=np.float32),
        labels=np.zeros(2, dtype=np.int32),
        peak_positions=[np.array([1], dtype=np.int32)] * 2,
        peak_heights=[np.array([1.0], dtype=np.float32)] * 2,
        sigma=np.ones(2, dtype=np.float32),
        variant=["random"] * 2,
        metadata={"config_hash": config_hash}
        | ({} if classes_hash is None else {"classes_hash": classes_hash}),
    )


def test_the_tree_message_suggests_a_command_that_keeps_every_configfile(tmp_path, tiny):
    """Snakemake keeps only the last of several --configfile options: the suggested command
    must name every file after one --configfile (it wrote `--configfile a --configfile b`)."""
    from specbench.workflow import trees

    training_split_of(tmp_path, "bench", "another definition")
    run = tmp_path / "results" / "runs" / "bench" / "cnn2" / "seed0"
    run.mkdir(parents=True)
    (run / "training.json").write_text("{}")
    datasets = check(tiny)["datasets"]
    with pytest.raises(sbconfig.ConfigError) as error:
        trees.check_datasets(datasets, ["bench"], root=tmp_path, configfiles=["a.yaml", "b.yaml"])
    assert "(snakemake --directory DIR --configfile a.yaml b.yaml)" in str(error.value)


def test_the_tree_check_refuses_a_new_training_split_only(tmp_path, tiny):
    """Runs were trained on the training split: another `test` setting (a new test split) and a
    split rendered before the rendering became three rules (its hash the whole dataset's) pass;
    another `render` setting, or another class definition, is refused; so is a test-only edit of
    a pre-split tree (its hash covers the test settings), the refusal saying why."""
    import copy

    from specbench.workflow import trees

    datasets = check(tiny)["datasets"]
    run = tmp_path / "results" / "runs" / "bench" / "cnn2" / "seed0"
    run.mkdir(parents=True)
    (run / "training.json").write_text("{}")

    def edited(change):
        out = copy.deepcopy(datasets)
        change(out["bench"])
        return out

    new_test = edited(lambda ds: ds["test"].update(sigma=ds["test"]["sigma"] * 2))
    new_render = edited(lambda ds: ds["render"].update(height_shift=0.123))
    new_classes = edited(lambda ds: ds.update(seed=ds["seed"] + 1))
    for since in (False, True):  # a training split rendered before the split, and since
        hash_of = trees.training_hash if since else sbconfig.config_hash
        training_split_of(tmp_path, "bench", hash_of(datasets["bench"]), "c" if since else None)
        trees.check_datasets(datasets, ["bench"], root=tmp_path)
        for other in (new_render, new_classes) if since else (new_render, new_classes, new_test):
            with pytest.raises(sbconfig.ConfigError, match="1 trained run") as refused:
                trees.check_datasets(other, ["bench"], root=tmp_path)
            # a pre-split tree cannot tell a test-only edit apart: the message says so
            assert ("test settings alone cannot be told" in str(refused.value)) is not since
        if since:
            trees.check_datasets(new_test, ["bench"], root=tmp_path)


@pytest.mark.parametrize("where", ["dataset seed", "data seed"])
def test_a_seed_of_two_words_is_refused(tiny, where):
    """A seed >= 2^32 is two 32-bit words to NumPy's SeedSequence, and trailing zero words are
    ignored, so class k's training stream default_rng([k, 2^32 + s, 0]) is the validation
    stream default_rng([k, s, 1]) of seed s: two data realizations would share their spectra."""
    import numpy as np

    big = 2**32 + 7
    same = [np.random.default_rng(key).integers(0, 2**62, 4) for key in ([0, big, 0], [0, 7, 1])]
    assert (same[0] == same[1]).all()  # why such seeds must not reach the renderer
    if where == "dataset seed":
        tiny["datasets"]["bench"]["seed"] = big
    else:
        tiny["experiments"]["benchmark"]["data_seeds"] = [7, big]
    with pytest.raises(sbconfig.ConfigError) as err:
        check(tiny)
    message = str(err.value)
    assert "\n" not in message and str(big) in message and "seed" in message, message
    fine = load(TINY_CONFIG)
    fine["datasets"]["bench"]["seed"] = 2**32 - 1  # the largest seed of one word
    fine["experiments"]["benchmark"]["data_seeds"] = [2**32 - 1, 0]
    check(fine)


def test_every_dataset_key_defines_the_classes_or_the_rendering(tiny):
    """Rule generate_classes' params (sbconfig.classes_params) are every key of a dataset but the
    rendering's (render_spectra's params) and the planning's, derived from the config rather
    than listed: a key the schema gains reruns the class generation unless declared a rendering
    one, never leaves classes.json stale."""
    check(tiny)
    properties = list(sbschema.node("datasets", "*")["properties"])
    assert set(sbconfig.RENDER_KEYS + sbconfig.PLANNING_KEYS) == {
        "render",
        "test",
        "sweep",
        "derived_from",
    }
    for name, ds in tiny["datasets"].items():
        params = sbconfig.classes_params(ds)
        assert set(params) == set(ds) - {"render", "test", "sweep", "derived_from"}, name
        assert list(params) == [key for key in properties if key in params]  # the schema's order
    # a key unknown today (a new schema property) defines the classes
    everything = {key: key for key in properties} | {"derived_from": {}, "a_new_key": 1}
    assert list(sbconfig.classes_params(everything)) == [
        key for key in properties if key not in ("render", "test", "sweep")
    ] + ["a_new_key"]
