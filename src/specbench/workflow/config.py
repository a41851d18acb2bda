"""Workflow configuration: semantic checks and the expansion of experiments into runs.

The JSON schema (src/specbench/core/schema.yaml, applied by rules/common.smk) checks types, ranges, enums
and keys and fills the defaults; the checks here need more than the schema says: files that exist,
peaks inside the spectrum, settings that depend on each other, architectures and hyperparameters
that exist, and model names that mean one thing per dataset. They take a config the schema has
validated (defaults filled). The checks of one dataset, where its classes come from and
ConfigError are :mod:`specbench.workflow.config_datasets`' (re-exported here). Everything here is pure
Python (no Keras import), so planning a paper-scale workflow stays fast.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from specbench.core import schema
from specbench.core.canonical import canonical_json
from specbench.workflow.config_datasets import (  # noqa: F401 (public here too)
    CHALLENGE_CLASSES,
    ConfigError,
    PLANNING_KEYS,
    RENDER_KEYS,
    check_dataset,
    classes_params,
    classes_source_path,
    classes_sources,
    config_hash,
)

#: Keys of the optional top-level `select` (a subset of the experiments' runs), the schema's.
SELECT_KEYS = tuple(schema.node("select")["properties"])


@dataclass(frozen=True, order=True)
class Run:
    """One training job of one experiment: a model trained with one seed on one dataset.

    `dataset` is the rendered dataset the run uses: the experiment's dataset, or, for another of
    the experiment's `data_seeds`, the derived dataset :func:`data_seed_dataset` names;
    `data_seed` is the seed that dataset was rendered with.
    """

    experiment: str
    dataset: str
    model: str
    seed: int
    data_seed: int = -1


def deep_merge(base: dict, override: dict | None, replace=None) -> dict:
    """Return base updated recursively by override (neither is modified). `replace(key, old,
    new)`, if given, says where two dicts are not merged: the override's dict replaces the base's.
    """
    merged = copy.deepcopy(base)
    for key, value in (override or {}).items():
        old = merged.get(key)
        if isinstance(value, dict) and isinstance(old, dict):
            whole = replace is not None and replace(key, old, value)
            merged[key] = copy.deepcopy(value) if whole else deep_merge(old, value, replace)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


#: The settings of a dataset whose other keys depend on one of theirs, its kind (the schema's
#: alternatives): setting -> that key. A sweep level that changes the kind replaces the setting.
KINDS = schema.kinds()


def _kind_changes(key: str, old: dict, new: dict) -> bool:
    kind = KINDS.get(key)
    return kind is not None and kind in new and new[kind] != old.get(kind)


def merge_level(base: dict, override: dict) -> dict:
    """A sweep level's dataset: `base` deep-merged with `override` (neither is modified), except
    that a setting of :data:`KINDS` whose kind the override changes is the override's alone (the
    keys of the base's kind, e.g. the gamma parameters the schema filled in, do not belong to it).
    """
    return deep_merge(base, override, replace=_kind_changes)


def expand_sweeps(config: dict) -> dict:
    """A copy of `config` with every dataset sweep expanded into datasets of their own.

    ``datasets.<base>.sweep: {<level>: <override>, ...}`` adds the dataset ``<base>_<level>`` =
    the base deep-merged with the override (:func:`merge_level`: a level that changes a
    setting's kind, e.g. the noise's, replaces that setting), for each level in order; the base
    stays a dataset of its own, without ``sweep`` (so adding or changing a level changes no other
    dataset's config, and Snakemake reruns only that level's jobs). An experiment with ``sweep:
    true`` on a swept dataset becomes one experiment ``<experiment>_<level>`` per level (without
    ``sweep``), on the level's dataset. Pure: neither `config` nor its parts are modified. Run
    it after schema validation, then validate again (the derived datasets get their schema
    defaults and checks).
    """
    out = copy.deepcopy(config)
    datasets: dict = {}
    levels_of: dict[str, list[str]] = {}
    for base, ds in config["datasets"].items():
        base_ds = {key: value for key, value in ds.items() if key != "sweep"}
        datasets[base] = copy.deepcopy(base_ds)
        for level, override in (ds.get("sweep") or {}).items():
            name = f"{base}_{level}"
            if name in config["datasets"] or name in datasets:
                raise ConfigError(
                    f"datasets.{base}.sweep.{level}: the derived dataset name {name!r} is "
                    f"already a dataset"
                )
            datasets[name] = merge_level(base_ds, override)
            levels_of.setdefault(base, []).append(level)
    out["datasets"] = datasets
    experiments: dict = {}
    for exp_name, exp in config["experiments"].items():
        if not exp.get("sweep"):
            experiments[exp_name] = copy.deepcopy(
                {key: value for key, value in exp.items() if key != "sweep"}
            )
            continue
        levels = levels_of.get(exp["dataset"])
        if not levels:
            raise ConfigError(
                f"experiments.{exp_name}.sweep=true but its dataset {exp['dataset']!r} has no "
                f"sweep (datasets.{exp['dataset']}.sweep)"
            )
        for level in levels:
            name = f"{exp_name}_{level}"
            if name in config["experiments"] or name in experiments:
                raise ConfigError(
                    f"experiments.{exp_name}: the derived experiment name {name!r} is "
                    f"already an experiment"
                )
            entry = {key: value for key, value in exp.items() if key != "sweep"}
            experiments[name] = copy.deepcopy({**entry, "dataset": f"{exp['dataset']}_{level}"})
    out["experiments"] = experiments
    return out


def sweep_levels(config: dict) -> dict[str, list[str]]:
    """{base dataset: [its sweep levels, in order]} of a config before expand_sweeps."""
    return {base: list(ds["sweep"]) for base, ds in config["datasets"].items() if ds.get("sweep")}


def swept_experiments(config: dict) -> list[dict]:
    """One {experiment, base, level, level_index, dataset} per experiment that expand_sweeps
    derives from an experiment with `sweep: true` (config before expand_sweeps), in sweep order."""
    levels = sweep_levels(config)
    return [
        {
            "experiment": f"{name}_{level}",
            "base": name,
            "level": level,
            "level_index": index,
            "dataset": f"{exp['dataset']}_{level}",
        }
        for name, exp in config["experiments"].items()
        if exp.get("sweep")
        for index, level in enumerate(levels.get(exp["dataset"], []))
    ]


def _training_experiment(config: dict, dataset: str, model: str) -> dict:
    """The (first) experiment that trains `model` on `dataset`."""
    for exp in config["experiments"].values():
        if model in exp["models"] and dataset in dict(experiment_datasets(config, exp)):
            return exp
    raise ConfigError(f"no experiment trains model {model!r} on dataset {dataset!r}")


def model_entry(config: dict, dataset: str, model: str) -> dict:
    """The (first) config entry of `model` on `dataset`, with experiment training merged in.

    `dataset` may be a dataset derived for a data seed (see :func:`expand_data_seeds`).
    """
    return resolve_model(config, _training_experiment(config, dataset, model), model)


def entry_backend(config: dict, dataset: str, model: str) -> str | None:
    """The Keras backend that the config entry of :func:`model_entry` names itself
    (``training: {backend: torch}`` on the model), else None. An execution profile's backend
    (the gpu profile's ``keras_backend``) replaces the config's and the experiment's, not this
    one: a wrapped torch module (specbench.models.user) builds on torch only."""
    entry = _training_experiment(config, dataset, model)["models"][model]
    return (entry.get("training") or {}).get("backend")


# ---------------------------------------------------------------- data seeds


def data_seed_dataset(dataset: str, seed: int) -> str:
    """Name of the variant of `dataset` rendered with data seed `seed`."""
    return f"{dataset}_seed{seed}"


def experiment_datasets(config: dict, experiment: dict) -> list[tuple[str, int]]:
    """(dataset name, data seed) of every data realization an experiment trains on.

    Without `data_seeds` that is its dataset with the dataset's own seed. With `data_seeds`, the
    dataset's own seed keeps the dataset's name (its files and runs are shared with experiments
    that use it plainly); every other seed names a derived dataset, :func:`data_seed_dataset`.
    """
    base = experiment["dataset"]
    own = int(config["datasets"][base]["seed"])
    seeds = [int(s) for s in experiment.get("data_seeds") or [own]]
    return [(base if s == own else data_seed_dataset(base, s), s) for s in seeds]


def expand_data_seeds(config: dict) -> dict:
    """Add to config["datasets"] the derived dataset of every experiment's extra data seed.

    A derived dataset is a copy of its base with `seed` replaced (so its classes, if generated,
    and every rendered spectrum are drawn anew) and ``derived_from: {dataset, seed}`` added. Each
    is a dataset of its own: adding a data seed renders and trains only what is new. Called once,
    after schema validation (defaults filled) and before :func:`check_config`; returns `config`.
    """
    datasets = config["datasets"]
    for exp_name, exp in config["experiments"].items():
        base = exp["dataset"]
        if base not in datasets or "derived_from" in datasets[base]:
            continue  # check_config reports an unknown dataset
        for name, seed in experiment_datasets(config, exp):
            if name == base:
                continue
            derived = {"dataset": base, "seed": seed}
            if name in datasets:
                if datasets[name].get("derived_from") != derived:
                    raise ConfigError(
                        f"experiments.{exp_name}.data_seeds: {seed} derives dataset {name!r}, "
                        f"but datasets.{name} is defined in the config; rename that dataset"
                    )
                continue
            entry = copy.deepcopy(datasets[base])
            entry["seed"] = seed
            entry["derived_from"] = derived
            datasets[name] = entry
    return config


# ---------------------------------------------------------------- selection


def selection(config: dict) -> dict[str, list]:
    """The config's `select` as {key: list} (values normalised: seeds as int); {} = everything.

    `--config select='{experiments: [activation], models: [cnn2]}'` arrives from Snakemake's
    command line with every scalar as a string, hence the conversion here.
    """
    select = config.get("select") or {}
    out = {}
    for key, values in select.items():
        if values is None:
            continue
        if isinstance(values, (str, int)):
            values = [values]
        if key in ("seeds", "data_seeds"):
            try:
                values = [int(v) for v in values]
            except (TypeError, ValueError):
                raise ConfigError(f"select.{key}={values!r}: seeds are integers") from None
        else:
            values = [str(v) for v in values]
        out[key] = values
    return out


def describe_selection(config: dict) -> str:
    """One line naming the subset `select` chose ("" when the whole config runs)."""
    sel = selection(config)
    parts = [f"{key} {', '.join(map(str, sel[key]))}" for key in SELECT_KEYS if key in sel]
    return "; ".join(parts)


def _check_selection(config: dict) -> None:
    sel = selection(config)
    known = {
        "experiments": set(config["experiments"]),
        "models": {m for exp in config["experiments"].values() for m in exp["models"]},
        "seeds": {int(s) for exp in config["experiments"].values() for s in exp["seeds"]},
        "data_seeds": {
            s for exp in config["experiments"].values() for _, s in experiment_datasets(config, exp)
        },
    }
    for key, values in sel.items():
        missing = [v for v in values if v not in known[key]]
        if missing:
            raise ConfigError(
                f"select.{key}: {', '.join(map(str, missing))} not in the config "
                f"(known: {', '.join(map(str, sorted(known[key])))})"
            )
    if sel and not runs(config):
        raise ConfigError(f"select={config['select']!r} matches no run of the config")


def resolve_model(config: dict, experiment: dict, model: str) -> dict:
    """{'architecture', 'hyperparameters', 'training'} for one model of one experiment."""
    entry = dict(experiment["models"][model])
    architecture = entry.pop("architecture")
    model_training = entry.pop("training", None)
    training = deep_merge(config.get("training", {}), experiment.get("training"))
    training = deep_merge(training, model_training)
    return {"architecture": architecture, "hyperparameters": entry, "training": training}


def runs(config: dict) -> list[Run]:
    """Every (experiment, dataset, model, seed) of the config that `select` keeps, sorted.

    One run per model, training seed and data realization (:func:`experiment_datasets`).
    """
    sel = selection(config)

    def keep(key: str, value) -> bool:
        return key not in sel or value in sel[key]

    out = {
        Run(name, dataset, model, int(seed), data_seed)
        for name, exp in config["experiments"].items()
        if keep("experiments", name)
        for dataset, data_seed in experiment_datasets(config, exp)
        if keep("data_seeds", data_seed)
        for model in exp["models"]
        if keep("models", model)
        for seed in exp["seeds"]
        if keep("seeds", int(seed))
    }
    return sorted(out)


def selected_experiments(config: dict) -> list[str]:
    """Names of the experiments with at least one selected run, in config order."""
    names = {run.experiment for run in runs(config)}
    return [name for name in config["experiments"] if name in names]


def unique_jobs(config: dict) -> list[tuple[str, str, int]]:
    """Distinct (dataset, model, seed) training jobs (a model shared by experiments trains once)."""
    return sorted({(r.dataset, r.model, r.seed) for r in runs(config)})


def job_priority(runs: list[Run], seed: int, *, evaluation: bool = False) -> int:
    """Scheduling priority (Snakemake's `priority:`, higher first) of a training job of training
    seed `seed`, or of its evaluation: seed-major, so that every model's first seed is trained
    before any model's second (a run stopped early, or a time-boxed GPU run, then covers every
    model), and a finished training is evaluated before the next seed's training starts.
    Always >= 0 (Snakemake's MILP scheduler would leave negative-priority jobs out)."""
    order = sorted({run.seed for run in runs})
    rank = order.index(seed) if seed in order else len(order)
    return 2 * (len(order) - rank) + (1 if evaluation else 0)


def _check_user_model(config: dict, experiment: dict, spec: dict) -> None:
    """Build a user's model (specbench.models.user) at the experiment dataset's n_points, once
    per builder and hyperparameters: a bad builder stops the workflow before any job. The class
    count is the generated one, else a small stand-in (the output layer's width is checked)."""
    from specbench.models import user

    dataset = config["datasets"][experiment["dataset"]]
    n_points = int(dataset.get("n_points") or user.CHECK_POINTS)
    n_classes = int((dataset.get("generate") or {}).get("n_classes") or user.CHECK_CLASSES)
    key = canonical_json([spec["architecture"], spec["hyperparameters"], n_points, n_classes])
    backend = (spec.get("training") or {}).get("backend") or "tensorflow"
    key = canonical_json([key, backend])
    if key not in _USER_CHECKED:
        user.check_in_subprocess(
            spec["architecture"], n_points, n_classes, spec["hyperparameters"], backend
        )
        _USER_CHECKED.add(key)


#: User models already checked in this process (planning checks each once).
_USER_CHECKED: set[str] = set()


def check_config(config: dict, basedir: str | Path = ".") -> None:
    """Raise ConfigError naming the key and value of the first semantic mistake in `config`
    (validated against the schema first: types, ranges and unknown keys are the schema's)."""
    from specbench.models import registry

    basedir = Path(basedir)
    for name, ds in config["datasets"].items():
        check_dataset(name, ds, basedir)

    seen: dict[tuple[str, str], tuple[str, str]] = {}
    for exp_name, exp in config["experiments"].items():
        key = f"experiments.{exp_name}"
        if exp["dataset"] not in config["datasets"]:
            raise ConfigError(
                f"{key}.dataset={exp['dataset']!r} is not a dataset "
                f"(known: {', '.join(config['datasets'])})"
            )
        if "derived_from" in config["datasets"][exp["dataset"]]:
            raise ConfigError(
                f"{key}.dataset={exp['dataset']!r} is a data-seed variant; name its base dataset "
                f"and list the seed in {key}.data_seeds"
            )
        for model in exp["models"]:
            spec = resolve_model(config, exp, model)
            mkey = f"{key}.models.{model}"
            try:
                registry.check(spec["architecture"], spec["hyperparameters"])
                if not registry.is_published(spec["architecture"]):
                    _check_user_model(config, exp, spec)
            except ValueError as exc:
                raise ConfigError(f"{mkey}.architecture={spec['architecture']!r}: {exc}") from None
            fingerprint = canonical_json(spec)
            other = seen.get((exp["dataset"], model))
            if other is not None and other[1] != fingerprint:
                raise ConfigError(
                    f"{mkey} differs from experiments.{other[0]}.models.{model} on the same "
                    f"dataset {exp['dataset']!r}: give one of them another name"
                )
            seen[(exp["dataset"], model)] = (exp_name, fingerprint)
    _check_selection(config)


def check_compare_with(config: dict, shipped: Iterable[tuple[str, str]] = ()) -> None:
    """ConfigError naming the key unless every model's ``compare_with`` (a user model's
    counterpart in the paired tests, specbench.models.user) names another model of its experiment:
    one the config defines, or one a baseline ships (`shipped`: its (experiment, model) pairs).
    A name that is neither would leave the model without any paired comparison, silently."""
    shipped = set(shipped)
    for exp_name, exp in config["experiments"].items():
        for model, entry in exp["models"].items():
            other = entry.get("compare_with")
            if other is None:
                continue
            if other == model or (other not in exp["models"] and (exp_name, other) not in shipped):
                known = sorted(
                    {*exp["models"], *(m for e, m in shipped if e == exp_name)} - {model}
                )
                raise ConfigError(
                    f"experiments.{exp_name}.models.{model}.compare_with={other!r} is not another "
                    f"model of experiment {exp_name!r} (its models: {', '.join(known) or 'none'})"
                )


def prepare(config: dict, basedir: str | Path = ".") -> dict:
    """Expand data seeds and check the (schema-validated) config; returns it. See rules/common.smk."""
    expand_data_seeds(config)
    check_config(config, basedir)
    return config
