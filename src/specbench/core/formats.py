"""The run folder and its JSON files, each described once: writers and readers follow these specs.

- **The run folder** (:data:`RUN_DIR`, :func:`run_dir`):
  ``results/runs/{dataset}/{model}/seed{seed}`` with :data:`MODEL_FILE`, :data:`HISTORY_FILE` and :data:`INFO_FILE` (rule train_model) and
  :data:`PREDICTIONS_FILE` and :data:`METRICS_FILE` (rule evaluate_model). rules/common.smk builds
  the rules' output patterns from these (:func:`run_file_pattern`); specbench.evaluation.runs finds a run's
  files by them.
- **training.json** (:data:`TRAINING_INFO`): written by :func:`specbench.training.train.train_model`
  through :func:`training_info`, read by :func:`specbench.evaluation.runs.read_info`, which requires the
  fields marked ``required`` (:data:`REQUIRED_INFO`).
- **metrics.json** (:data:`METRICS`): written by :func:`specbench.evaluation.evaluate.evaluate_model`
  through :func:`metrics_record`, read by :mod:`specbench.results.tables.runs` (its fixed columns are the
  ``core`` keys, :data:`CORE_METRICS`; ``identity`` keys must match the run) and
  ``specbench info``.

The other files passed between rules are described where they are written and read: the Parquet
split in :mod:`specbench.data.splits`, predictions.parquet in :mod:`specbench.evaluation.predictions`,
classes.json in :mod:`specbench.data.classes`, history.csv in :mod:`specbench.training.history`.

A plain-Python leaf module (standard library only): the results environment imports it without
the training environment (tests/test_envs.py).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple

# ---------------------------------------------------------------- the run folder

RUNS_ROOT = "results/runs"
SEED_DIR = "seed{seed}"
#: A run's folder, as a Snakemake pattern with the wildcards dataset, model and seed.
RUN_DIR = f"{RUNS_ROOT}/{{dataset}}/{{model}}/{SEED_DIR}"
MODEL_FILE = "model.keras"
HISTORY_FILE = "history.csv"
INFO_FILE = "training.json"
PREDICTIONS_FILE = "predictions.parquet"
METRICS_FILE = "metrics.json"
#: The run folder's files by the name of the rule output that writes them.
RUN_FILES = {
    "model": MODEL_FILE,
    "history": HISTORY_FILE,
    "info": INFO_FILE,
    "predictions": PREDICTIONS_FILE,
    "metrics": METRICS_FILE,
}


def run_file_pattern(name: str) -> str:
    """The Snakemake pattern of one file of a run folder (wildcards dataset, model, seed)."""
    return f"{RUN_DIR}/{name}"


def run_dir(dataset: str, model: str, seed: int | str) -> str:
    """The folder of one run (relative to the working directory)."""
    return RUN_DIR.format(dataset=dataset, model=model, seed=seed)


def run_label(dataset: str, model: str | None = None, seed: int | str | None = None) -> str:
    """A job as people read it: ``dataset/model/seedN`` (a run's folder under :data:`RUNS_ROOT`),
    without the parts not given."""
    label = "/".join(str(part) for part in (dataset, model) if part)
    return label if seed in (None, "") else f"{label}/{SEED_DIR.format(seed=seed)}"


# ---------------------------------------------------------------- JSON records


class Field(NamedTuple):
    """One key of a JSON record: its name, its kind (``str``, ``int``, ``float``, ``bool``,
    ``dict``, ``any``; ``|None`` when it may be null) and its role in the record."""

    name: str
    kind: str
    role: str = ""


def _record(spec: tuple[Field, ...], values: Mapping[str, Any], what: str, optional=()) -> dict:
    """`values` in the order of `spec`; ValueError for a missing or unknown key (a writer that
    drifted from its spec). `optional` keys are appended when given."""
    names = [f.name for f in spec]
    missing = [name for name in names if name not in values]
    unknown = [key for key in values if key not in names and key not in optional]
    if missing or unknown:
        raise ValueError(
            f"{what} does not follow its spec (specbench.core.formats): missing {missing}, "
            f"unknown {unknown}"
        )
    out = {name: values[name] for name in names}
    out.update((key, values[key]) for key in optional if key in values)
    return out


#: training.json, in the order written. ``required``: keys every reader of a run takes without a
#: default (a file without them is not a run of this workflow).
TRAINING_INFO = (
    Field("model", "str"),
    Field("dataset", "str"),
    Field("config_hash", "str"),  # of what the training split is made of
    Field("classes_hash", "str|None"),  # of the class definition (None: split from before 2026-12)
    Field("seed", "int"),
    Field("architecture", "str", "required"),
    Field("hyperparameters", "dict"),
    Field("training", "dict"),
    Field("backend", "str", "required"),
    Field("precision", "str", "required"),  # resolved ("auto" -> what the device does natively)
    Field("loss_from", "str"),  # "logits" (as TensorFlow computes it) or "probabilities"
    Field("device", "str"),
    Field("device_kind", "str"),
    Field("cpu", "str"),
    Field("threads", "int"),
    Field("parameters", "int"),
    Field("n_train", "int"),
    Field("n_val", "int"),
    Field("n_points", "int", "required"),
    Field("n_classes", "int", "required"),
    Field("epochs_run", "int"),
    Field("best_epoch", "int", "required"),
    Field("best_val_loss", "float"),
    Field("best_val_accuracy", "float"),
    Field("stopped_early", "bool"),
    Field("resumed_from_epoch", "int"),
    Field("train_time_s", "float", "required"),
    Field("train_samples_per_s", "float", "required"),
    # this process's steps in wall seconds (specbench.training.train.TIMINGS)
    Field("timings", "dict"),
    Field("versions", "dict"),
)
REQUIRED_INFO = tuple(f.name for f in TRAINING_INFO if f.role == "required")
#: training.json keys of a dataset of your own phases (specbench.data.phases), from its splits:
#: ``axis`` {unit, start, stop} of the grid, ``class_names`` in class order.
INFO_OPTIONAL = ("axis", "class_names")


def training_info(values: Mapping[str, Any]) -> dict[str, Any]:
    """training.json's content in :data:`TRAINING_INFO` order (ValueError if it does not fit)."""
    return _record(TRAINING_INFO, values, INFO_FILE, optional=INFO_OPTIONAL)


#: metrics.json, in the order written. ``identity``: the run (must match the run record);
#: ``core``: the metrics every runs table has a column for (empty for a missing run); the others
#: become further columns of runs.csv by name (nested dicts flattened with ".").
METRICS = (
    Field("model", "str", "identity"),
    Field("dataset", "str", "identity"),
    Field("seed", "int", "identity"),
    Field("architecture", "str", "identity"),
    Field("n_test", "int", "core"),
    Field("test_wrong", "int", "core"),
    Field("test_accuracy", "float", "core"),
    Field("best_epoch", "int", "core"),
    Field("epochs_run", "int", "core"),
    Field("best_val_accuracy", "float", "core"),
    Field("best_val_loss", "float", "core"),
    Field("parameters", "int", "core"),
    Field("macs", "int", "core"),
    # the kernels built (training.architecture_scale may have scaled the published ones)
    Field("kernel_size", "any"),
    Field("train_time_s", "float", "core"),
    Field("train_samples_per_s", "float", "core"),
    Field("backend", "str", "core"),
    Field("precision", "str", "core"),
    # what the cross-entropy was taken from (training.json; absent before 2026-12-05)
    Field("loss_from", "str|None"),
    Field("device", "str|None"),
    Field("evaluation_device", "str"),
    Field("versions", "dict"),
    Field("resumed_from_epoch", "int"),
    Field("predict_samples_per_s", "float|None"),
    Field("evaluation_versions", "dict"),
)
#: Written only by a cross-level evaluation (rule evaluate_level): the dataset tested on.
METRICS_OPTIONAL = ("test_dataset",)
IDENTITY_METRICS = tuple(f.name for f in METRICS if f.role == "identity")
CORE_METRICS = tuple(f.name for f in METRICS if f.role == "core")


def metrics_record(values: Mapping[str, Any]) -> dict[str, Any]:
    """metrics.json's content in :data:`METRICS` order (ValueError if it does not fit)."""
    return _record(METRICS, values, METRICS_FILE, optional=METRICS_OPTIONAL)
