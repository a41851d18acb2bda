"""One results tree per configuration: no config replaces the data another one trained on.

Every output of the workflow lies under ``results/`` in Snakemake's working directory. Two configs
that give a dataset the same name but define it differently (config/config.yaml and
config/paper.yaml both have ``benchmark`` and ``challenge``, at 500 and 5000 points) cannot share
a working directory: the second would re-render the first's datasets and retrain everything on
them. Each config runs in its own working directory instead (``snakemake --directory DIR``, the
Snakefile and its files are found from there), and switching between them reruns nothing.

:func:`check_datasets` keeps the mistake from costing anything: before any job, a plan that would
re-render a dataset on which runs were trained, from another definition of it, stops with one line
naming the dataset, the runs at stake and the two ways on (its own directory, or
``replace_datasets``). A dataset with no trained run is re-rendered as before (it costs minutes).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from specbench.core import formats
from specbench.workflow.config_datasets import ConfigError, config_hash, training_hash

__all__ = ["check_datasets", "prune_empty_dirs", "trained_runs"]


def trained_runs(dataset: str, root: str | os.PathLike = ".") -> list[Path]:
    """Run folders of `dataset` under `root` that hold a trained model or its record."""
    runs = Path(root) / formats.RUNS_ROOT / dataset
    found = {
        p.parent
        for name in (formats.INFO_FILE, formats.MODEL_FILE)
        for p in runs.glob(f"*/*/{name}")
    }
    return sorted(found)


#: Said of a training split rendered before the rendering became three rules (its config_hash
#: is the whole dataset's, test settings included; it has no classes_hash).
PRE_SPLIT = (
    " (it was rendered by specbench before 2026-12 from the whole dataset's definition, so an "
    "edit of the test settings alone cannot be told apart: the upgrade retrains these runs "
    "anyway; or run the unedited config once first)"
)


def _rendered_metadata(dataset: str, root: Path) -> dict:
    """The metadata of a dataset's rendered training split ({}: not rendered, or unreadable)."""
    path = root / "results" / "datasets" / dataset / "train.parquet"
    if not path.exists():
        return {}
    from specbench.data.splits import read_metadata

    try:
        return read_metadata(path)
    except Exception:  # an unreadable split is re-rendered by its rule anyway
        return {}


def check_datasets(
    datasets: Mapping[str, dict],
    names: Iterable[str],
    *,
    replace: bool = False,
    root: str | os.PathLike = ".",
    configfiles: Iterable[str] = (),
) -> None:
    """ConfigError (one line) if a dataset of `names`, as `datasets` defines it, differs from the
    training split under `root`/results/datasets on which runs were trained (its test settings
    may differ: a new test split retrains nothing), unless `replace`."""
    if replace:
        return
    root = Path(root)
    for name in names:
        metadata = _rendered_metadata(name, root)
        rendered = metadata.get("config_hash")
        # the training split's hash covers what it is made of (a test-only edit changes nothing
        # a run was trained on); the whole dataset's hash: a split rendered before specbench
        # split the rendering into three rules, from this very definition
        if rendered in (None, training_hash(datasets[name]), config_hash(datasets[name])):
            continue
        runs = trained_runs(name, root)
        if not runs:
            continue
        # one --configfile for all: Snakemake keeps only the last of several such options
        files = " ".join(map(str, configfiles))
        given = f"--configfile {files}" if files else ""
        raise ConfigError(
            f"dataset {name!r} in {root.resolve() / 'results'} was rendered from another "
            f"definition, and {len(runs)} trained run(s) depend on it: give this config its own "
            f"working directory (snakemake --directory DIR {given}".rstrip()
            + "), or replace them with --config replace_datasets=True"
            + ("" if "classes_hash" in metadata else PRE_SPLIT)
        )


def prune_empty_dirs(root: str | os.PathLike) -> int:
    """Remove the empty folders under `root` and `root` itself if it ends up empty (bottom-up);
    returns how many. The Snakefile's ``onsuccess`` runs it on ``results/checkpoints``: a
    training removes its finished backup, the folders around it go when the workflow succeeds
    (not within the job, where another job may be creating its own backup folder beside it)."""
    root = Path(root)
    removed = 0
    if not root.is_dir():
        return 0
    for folder in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        try:
            folder.rmdir()
            removed += 1
        except OSError:  # not empty
            pass
    try:
        root.rmdir()
        removed += 1
    except OSError:
        pass
    return removed
