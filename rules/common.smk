import os
import sys
from pathlib import Path

# The workflow's own package (src/specbench) is importable by the Snakefile and, through
# PYTHONPATH, by every job: locally, in --sdm conda environments and on Slurm nodes alike.
SRC = str(Path(workflow.basedir) / "src")
if SRC not in sys.path:
    sys.path.insert(0, SRC)
# (Set, not read: nothing is required of the user's environment, hence no `envvars:`.)
os.environ.update(PYTHONPATH=os.pathsep.join(p for p in (SRC, os.environ.get("PYTHONPATH")) if p))

from specbench.workflow import baselines as sbbaselines  # noqa: E402
from specbench.workflow import codedeps  # noqa: E402
from specbench.workflow import condaenvs  # noqa: E402
from specbench.workflow import config as sbconfig  # noqa: E402
from specbench.workflow import config_datasets as sbdatasets  # noqa: E402
from specbench.core import formats as sbformats  # noqa: E402
from specbench.data import variants as sbvariants  # noqa: E402
from specbench.workflow import trees as sbtrees  # noqa: E402
from specbench.models import user as sbuser  # noqa: E402
from specbench.workflow import validation as sbvalidation  # noqa: E402

# The schema (package data, the one source of defaults) is not an input of any rule: it changes
# results only through the config values it fills in here, which reach the jobs as params
# (Snakemake reruns a job whose params change, so a changed default reruns exactly the jobs it
# affects), and through checks that stop the workflow before any job. Inside a job the package
# fills the same defaults again (specbench.core.schema) into params that have them all already.
# specbench/core/schema.py, the code that reads it, is a code input of the rules whose scripts import
# it (script_sources below).
# Schema check (one line naming the key, the value and what is allowed), sweeps expanded, data
# seeds' datasets added, semantic checks: specbench.workflow.validation.prepare_config.
try:
    ALL_SWEPT_EXPERIMENTS = sbvalidation.prepare_config(config, basedir=workflow.basedir)
except sbconfig.ConfigError as exc:
    raise WorkflowError(f"Invalid config: {exc}") from None


DATASETS = sorted(config["datasets"])
# Result bundles whose shipped runs join the tables (config `baselines`), checked before any job:
# their files, and each dataset's test split against this config's (specbench.workflow.baselines).
try:
    BASELINES = sbbaselines.load(config, basedir=workflow.basedir)
except sbconfig.ConfigError as exc:
    raise WorkflowError(f"Invalid config: {exc}") from None
BASELINE_RECORDS = [record for bundle in BASELINES for record in bundle.records()]
# A user model's compare_with names a model of its experiment, trained here or shipped.
try:
    sbconfig.check_compare_with(config, [(r["experiment"], r["model"]) for r in BASELINE_RECORDS])
except sbconfig.ConfigError as exc:
    raise WorkflowError(f"Invalid config: {exc}") from None
# One results tree per config: a plan that would re-render a dataset that runs were trained on,
# from another definition of it, stops here (specbench.workflow.trees).
try:
    sbtrees.check_datasets(
        config["datasets"],
        DATASETS,
        replace=config["replace_datasets"],
        configfiles=[str(f) for f in workflow.overwrite_configfiles or ()],
    )
except sbconfig.ConfigError as exc:
    raise WorkflowError(str(exc)) from None
RUNS = sbconfig.runs(config)  # those of `select`, if given
MODELS = sorted({run.model for run in RUNS})
USED_DATASETS = sorted({run.dataset for run in RUNS} | {r["dataset"] for r in BASELINE_RECORDS})
EXPERIMENTS = sbconfig.selected_experiments(config)
EXPERIMENTS += [
    e for e in dict.fromkeys(r["experiment"] for r in BASELINE_RECORDS) if e not in EXPERIMENTS
]
# the sweep levels of the selected experiments only (a `select` may leave a swept one out)
SWEPT_EXPERIMENTS = [row for row in ALL_SWEPT_EXPERIMENTS if row["experiment"] in EXPERIMENTS]
SELECTION = sbconfig.describe_selection(config)
# the datasets of those levels: what a swept experiment's models are tested on (evaluate_level)
LEVEL_DATASETS = sorted({row["dataset"] for row in SWEPT_EXPERIMENTS})
# A run folder's files (rules train_model, evaluate_model): the patterns of specbench.core.formats,
# the one description of the run folder that specbench.evaluation.runs and the CLI read too.
RUN_FILE = {name: sbformats.run_file_pattern(file) for name, file in sbformats.RUN_FILES.items()}


wildcard_constraints:
    dataset="|".join(DATASETS),
    model="|".join(MODELS),
    seed=r"\d+",
    split="train|val|test",
    test_dataset="|".join(LEVEL_DATASETS) or "(?!)",


def workdir_path(path):
    """`path` relative to the working directory when inside it, or when both lie in the
    workflow's own tree (`--directory runs/paper`: the package files are ../../src/...), so that
    the declared inputs stay the same when the tree moves (else Snakemake would rerun every job:
    "Set of input files has changed"); otherwise absolute."""
    path = Path(path).resolve()
    cwd = Path.cwd().resolve()
    if path.is_relative_to(cwd):
        return str(path.relative_to(cwd))
    base = Path(workflow.basedir).resolve()
    if path.is_relative_to(base) and cwd.is_relative_to(base):
        return os.path.relpath(path, cwd)
    return str(path)


def workflow_file(path):
    """A file of the workflow itself (`path` relative to the repository), from any working
    directory (`snakemake --directory DIR`): relative where the working directory is the
    repository or a folder in it, else absolute (workdir_path)."""
    return workdir_path(Path(workflow.basedir) / path)


def script_sources(rule):
    """Code inputs of a rule: the package modules its script scripts/<rule>.py imports,
    transitively (derived from the import statements: specbench.workflow.codedeps)."""
    script = Path(workflow.basedir) / "scripts" / f"{rule}.py"
    return [workdir_path(path) for path in codedeps.package_sources(script)]


def conda_env(name):
    """envs/<name>.yaml with Python pinned to the one Snakemake runs on (specbench.workflow.condaenvs)."""
    source = Path(workflow.basedir) / "envs" / f"{name}.yaml"
    try:
        path = condaenvs.render(source, Path(".snakemake") / "specbench" / "envs")
    except ValueError as exc:
        raise WorkflowError(f"{source}: {exc}") from None
    return str(path.resolve())


# ---------------------------------------------------------------- datasets


def get_classes_params(wildcards):
    """The part of a dataset's config that defines its classes (specbench.workflow.config_datasets)."""
    return sbconfig.classes_params(config["datasets"][wildcards.dataset])


def get_classes_source(wildcards):
    paths = sbconfig.classes_sources(config["datasets"][wildcards.dataset], workflow.basedir)
    return [workdir_path(path) for path in paths]


# What each of a dataset's files is made of beyond its classes: an edit reruns only the rules
# whose params it changes (specbench.workflow.config_datasets).


def get_render_params(wildcards):
    """How the training and validation spectra are rendered: seed, render."""
    return sbdatasets.render_params(config["datasets"][wildcards.dataset])


def get_test_params(wildcards):
    """How the test spectra are rendered: seed, test, the render settings they use."""
    return sbdatasets.test_params(config["datasets"][wildcards.dataset])


def get_pairs_params(wildcards):
    """The training variation and the test variants whose overlap is listed: render, test."""
    return sbdatasets.pairs_params(config["datasets"][wildcards.dataset])


def get_training_hash(wildcards):
    return sbdatasets.training_hash(config["datasets"][wildcards.dataset])


def get_test_hash(wildcards):
    return sbdatasets.test_hash(config["datasets"][wildcards.dataset])


def get_classes_hash(wildcards):
    return sbdatasets.classes_hash(config["datasets"][wildcards.dataset])


# ---------------------------------------------------------------- training


def get_model_spec(wildcards):
    """Architecture, hyperparameters and training protocol of one model (result-changing): the
    entry's keys that are specbench's and not the builder's (a user model's `compare_with`, the
    model the tables pair it with; specbench.models.user.RESERVED) are left out, so that editing
    them retrains nothing (the tables read them from the config, run_records)."""
    spec = sbconfig.model_entry(config, wildcards.dataset, wildcards.model)
    hyperparameters = spec["hyperparameters"]
    spec["hyperparameters"] = {
        key: value for key, value in hyperparameters.items() if key not in sbuser.RESERVED
    }
    return spec


def get_entry_backend(wildcards):
    """The backend a model's own entry names ("": none), which the gpu profile's keras_backend
    does not replace (specbench.workflow.config.entry_backend)."""
    return sbconfig.entry_backend(config, wildcards.dataset, wildcards.model) or ""


def get_training_priority(wildcards):
    """Seed-major scheduling (specbench.workflow.config.job_priority): every model's first seed first."""
    return sbconfig.job_priority(RUNS, int(wildcards.seed))


def get_evaluation_priority(wildcards):
    """A finished training's evaluation before the trainings of the next seed."""
    return sbconfig.job_priority(RUNS, int(wildcards.seed), evaluation=True)


def get_model_sources(wildcards):
    """The architecture's module (and what it imports): editing it reruns only its jobs."""
    spec = get_model_spec(wildcards)
    return [workdir_path(path) for path in codedeps.architecture_sources(spec["architecture"])]


def split_file(split, dataset):
    """A dataset's split file (train, val: from render_spectra; test: render_test_split)."""
    writer = rules.render_test_split if split == "test" else rules.render_spectra
    return expand(writer.output[split], dataset=dataset)[0]


def get_split(split):
    def get_split_file(wildcards):
        return split_file(split, wildcards.dataset)

    return get_split_file


# ---------------------------------------------------------------- results


def run_records():
    """One dict per (experiment, dataset, model, seed) with its files; see specbench.results.tables."""
    records = []
    for run in RUNS:
        paths = {"dataset": run.dataset, "model": run.model, "seed": run.seed}
        spec = sbconfig.model_entry(config, run.dataset, run.model)
        records.append(
            {
                "experiment": run.experiment,
                "dataset": run.dataset,
                "model": run.model,
                "seed": run.seed,
                "data_seed": run.data_seed,
                "base_dataset": config["experiments"][run.experiment]["dataset"],
                "architecture": spec["architecture"],
                "hyperparameters": spec["hyperparameters"],
                "metrics": expand(rules.evaluate_model.output.metrics, **paths)[0],
                "predictions": expand(rules.evaluate_model.output.predictions, **paths)[0],
                "history": expand(rules.train_model.output.history, **paths)[0],
                "baseline": "",
            }
        )
    return records + BASELINE_RECORDS


def allow_missing():
    return config["allow_missing_runs"]


def get_run_files(kind):
    """All runs' files of one kind; with allow_missing_runs only those of the finished runs
    (whose metrics.json exists: a run trained but not evaluated counts as missing)."""

    def get_files(wildcards):
        records = run_records()
        if allow_missing():
            records = [r for r in records if os.path.exists(r["metrics"])]
        return sorted({record[kind] for record in records})

    return get_files


def get_runs_params(wildcards):
    """Every expected run with its files (also those missing after a failed job)."""
    return run_records()


def get_benchmark_params(wildcards):
    """One record per rendering, training and evaluation job (cross-level ones included): its
    rule, wildcards and Snakemake benchmark file (with allow_missing_runs only the files that
    exist); see specbench.results.tables.runtimes."""
    jobs = [
        (name, {"dataset": dataset})
        for dataset in USED_DATASETS
        for name in ("render_spectra", "render_test_split")
    ]
    for dataset, model, seed in sbconfig.unique_jobs(config):
        for name in ("train_model", "evaluate_model"):
            jobs.append((name, {"dataset": dataset, "model": model, "seed": seed}))
    for record in cross_level_records():
        keys = ("dataset", "model", "seed", "test_dataset")
        jobs.append(("evaluate_level", {key: record[key] for key in keys}))
    records = []
    for name, wc in jobs:
        path = expand(getattr(rules, name).benchmark, **wc)[0]
        if allow_missing() and not os.path.exists(path):
            continue
        records.append(
            {
                "rule": name,
                "dataset": wc["dataset"],
                "model": wc.get("model"),
                "seed": wc.get("seed"),
                "wildcards": ",".join(f"{key}={value}" for key, value in wc.items()),
                "benchmark": path,
            }
        )
    return records


def get_benchmark_files(wildcards):
    """Snakemake benchmark files of every rendering, training and evaluation job."""
    return [record["benchmark"] for record in get_benchmark_params(wildcards)]


def get_variation_dataset(wildcards):
    """The dataset drawn in the class-variation figure: the benchmark experiment's, else the first
    (of the selected experiments); of an experiment with data seeds, the first dataset its runs
    use (its own dataset, unless its data seeds leave out the dataset's seed: then a derived one,
    not a dataset rendered for the figure alone)."""
    name = "benchmark" if "benchmark" in EXPERIMENTS else EXPERIMENTS[0]
    used = [run.dataset for run in RUNS if run.experiment == name]
    if used:
        base = config["experiments"][name]["dataset"]
        return base if base in used else used[0]
    return next(r["dataset"] for r in BASELINE_RECORDS if r["experiment"] == name)


def variant_codes(datasets):
    """Test variant label (as in the test splits of `datasets`) -> its code, for the figures."""
    codes = {}
    for dataset in datasets:
        test = config["datasets"][dataset]["test"]
        for label, code in sbvariants.variant_codes(test["shift"], test["delta"]).items():
            codes.setdefault(label, code)
    return codes


def get_variation_variants(wildcards):
    return variant_codes([get_variation_dataset(wildcards)])


def get_pair_tests(wildcards):
    """The test split of every dataset of the runs, named test_<dataset>."""
    return {f"test_{dataset}": split_file("test", dataset) for dataset in USED_DATASETS}


def get_pair_variants(wildcards):
    return variant_codes(USED_DATASETS)


def get_variation_inputs(wildcards):
    dataset = get_variation_dataset(wildcards)
    return {
        "classes": expand(rules.generate_classes.output.classes, dataset=dataset)[0],
        "train": split_file("train", dataset),
        "test": split_file("test", dataset),
    }


def get_all_datasets(wildcards):
    """Every split and ambiguous-pairs table of every dataset of the config (rule
    render_datasets: the data alone, whatever the experiments)."""
    return [
        *expand(rules.render_spectra.output, dataset=DATASETS),
        *expand(rules.render_test_split.output, dataset=DATASETS),
        *expand(rules.find_ambiguous_pairs.output, dataset=DATASETS),
    ]


def get_final_outputs(wildcards):
    if not EXPERIMENTS:  # a config with datasets only: its data
        return get_all_datasets(wildcards)
    outputs = list(rules.aggregate_runs.output) + list(rules.aggregate_summary.output)
    outputs += list(rules.aggregate_agreement.output)
    outputs += list(rules.aggregate_confusions.output) + list(rules.aggregate_runtimes.output)
    outputs += list(rules.plot_misclassifications.output) + list(rules.plot_loss_curves.output)
    outputs += list(rules.plot_class_variation.output) + list(rules.plot_confused_pair.output)
    if "activation" in EXPERIMENTS:
        outputs += list(rules.plot_activation.output)
    if "modifications" in EXPERIMENTS:
        outputs += list(rules.plot_modifications.output)
    outputs += expand(rules.find_ambiguous_pairs.output.ambiguous, dataset=USED_DATASETS)
    if SWEPT_EXPERIMENTS:
        outputs += list(rules.aggregate_robustness.output) + list(rules.plot_robustness.output)
        outputs += list(rules.plot_level_spectra.output)
    return outputs


# ---------------------------------------------------------------- robustness


def cross_level_records():
    """One dict per (swept run, other level of its sweep): the run trained at one level and
    tested on another level's test split (rule evaluate_level), with its metrics file. The run's
    own level is evaluate_model's (runs.csv). Runs of a data seed's derived dataset are left out,
    as in the robustness table."""
    records = []
    for train in SWEPT_EXPERIMENTS:
        for run in RUNS:
            if run.experiment != train["experiment"] or run.dataset != train["dataset"]:
                continue
            for test in SWEPT_EXPERIMENTS:
                if test["base"] != train["base"] or test["level"] == train["level"]:
                    continue
                paths = {
                    "dataset": run.dataset,
                    "model": run.model,
                    "seed": run.seed,
                    "test_dataset": test["dataset"],
                }
                records.append(
                    {
                        "experiment": train["base"],
                        "dataset": run.dataset,
                        "test_dataset": test["dataset"],
                        "model": run.model,
                        "seed": run.seed,
                        "train_level": train["level"],
                        "test_level": test["level"],
                        "metrics": expand(rules.evaluate_level.output.metrics, **paths)[0],
                    }
                )
    return records


def get_cross_level_params(wildcards):
    """Every cross-level evaluation whose metrics exist (with allow_missing_runs) or is planned."""
    records = cross_level_records()
    if allow_missing():
        records = [r for r in records if os.path.exists(r["metrics"])]
    return records


def get_cross_level_files(wildcards):
    return [record["metrics"] for record in get_cross_level_params(wildcards)]


def get_level_test(wildcards):
    """The test split of the level a model is tested on (evaluate_level)."""
    return split_file("test", wildcards.test_dataset)


def get_level_tests(wildcards):
    """{test_<level>: test split} of the first swept experiment's dataset, in sweep order."""
    first = SWEPT_EXPERIMENTS[0]["base"] if SWEPT_EXPERIMENTS else None
    return {
        f"test_{row['level']}": split_file("test", row["dataset"])
        for row in SWEPT_EXPERIMENTS
        if row["base"] == first
    }


def get_level_names(wildcards):
    return [name[len("test_") :] for name in get_level_tests(wildcards)]
