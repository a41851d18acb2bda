"""A dataset's files, one function per rule that writes them (rules/datasets.smk).

- :func:`render_training_splits` (rule render_spectra): train.parquet and val.parquet, from the
  classes, the seed and the ``render`` settings;
- :func:`render_test` (rule render_test_split): test.parquet, from the classes, the seed, the
  ``test`` settings and the render settings the test spectra use (your own phases' XRD);
- :func:`list_ambiguous_pairs` (rule find_ambiguous_pairs): ambiguous_pairs.csv, the test
  variants inside another class's training variation (``render`` against ``test``);
- :func:`render_dataset`: all of them at once, outside the workflow.

Three rules, so that an edit of the test settings re-renders the test split and retrains nothing
(specbench.workflow.config_datasets: each rule's params are what its files are made of). The
spectra are planned by specbench.data.render and written in blocks, so memory stays small at
any scale. Every split's metadata names the dataset, the hash of what the file is made of
(``config_hash``) and of its class definition (``classes_hash``: a model and a split of another
definition may mean other classes by the same index).
"""

from __future__ import annotations

import json
import logging
import os
import time

from specbench.data.classes import ClassSet, load_classes
from specbench.data.render import SplitPlan, ambiguous_pairs, fill_defaults, plan_splits
from specbench.data.render import plan_test, write_plan
from specbench.data.variants import log_ambiguous_pairs, write_ambiguous_pairs

log = logging.getLogger(__name__)

__all__ = ["list_ambiguous_pairs", "render_dataset", "render_test", "render_training_splits"]


def _metadata(classes: ClassSet, name: str, config_hash: str, classes_hash: str | None) -> dict:
    """Split metadata; the axis and class names of your own phases travel with the data
    (specbench.data.phases)."""
    own = {k: json.dumps(classes.metadata[k]) for k in ("axis", "names") if k in classes.metadata}
    hashes = {"config_hash": config_hash}
    if classes_hash is not None:
        hashes["classes_hash"] = classes_hash
    return {"dataset": name, **hashes, **own}


def _write(plan: SplitPlan, path, name: str, split: str, metadata: dict) -> None:
    t0 = time.perf_counter()
    write_plan(plan, path, metadata={**metadata, "split": split})
    log.info(
        "dataset %s: %s: %d spectra of %d points rendered and written to %s in %.2f s",
        name,
        split,
        len(plan),
        plan.n_points,
        path,
        time.perf_counter() - t0,
    )


def render_training_splits(
    *,
    classes_path: str | os.PathLike,
    render: dict,
    name: str,
    config_hash: str,
    classes_hash: str | None = None,
    train_path: str | os.PathLike,
    val_path: str | os.PathLike,
) -> dict[str, int]:
    """Rule render_spectra: the training and validation splits of a dataset.

    render: {seed, render} of the dataset config (specbench.workflow.config_datasets.
    render_params; the schema's defaults are filled here too). Returns the spectra per split.
    """
    classes = load_classes(classes_path)
    plans = plan_splits(classes, render, test=False)
    metadata = _metadata(classes, name, config_hash, classes_hash)
    for split, path in (("train", train_path), ("val", val_path)):
        _write(plans[split], path, name, split, metadata)
    return {split: len(plan) for split, plan in plans.items()}


def render_test(
    *,
    classes_path: str | os.PathLike,
    render: dict,
    name: str,
    config_hash: str,
    classes_hash: str | None = None,
    test_path: str | os.PathLike,
) -> int:
    """Rule render_test_split: the test split of a dataset (no training spectra are drawn).

    render: {seed, render, test} of the dataset config, render holding what the test spectra
    use (config_datasets.test_params). Returns the number of test spectra.
    """
    classes = load_classes(classes_path)
    plan = plan_test(classes, render)
    _write(plan, test_path, name, "test", _metadata(classes, name, config_hash, classes_hash))
    return len(plan)


def check_test_sigma(render: dict, name: str) -> bool:
    """Warn when the test width lies outside the training widths (params {render, test});
    False then."""
    params = fill_defaults({"seed": 0, **render})
    r, t = params["render"], params["test"]
    if r["sigma"][0] <= t["sigma"] <= r["sigma"][1]:
        return True
    log.warning(
        "dataset %s: test.sigma=%g is outside the training range render.sigma=%s",
        name,
        t["sigma"],
        r["sigma"],
    )
    return False


def list_ambiguous_pairs(
    *,
    classes_path: str | os.PathLike,
    render: dict,
    name: str,
    ambiguous_path: str | os.PathLike,
) -> int:
    """Rule find_ambiguous_pairs: the test variants inside another class's training variation
    (specbench.data.variants), one warning per class pair; and a warning when the test width is
    outside the training widths. render: {render, test} (config_datasets.pairs_params).
    Returns the number of (class, variant, class) rows."""
    classes = load_classes(classes_path)
    check_test_sigma(render, name)
    pairs = ambiguous_pairs(classes, {"seed": 0, **render})
    write_ambiguous_pairs(pairs, ambiguous_path, names=classes.metadata.get("names"))
    log_ambiguous_pairs(pairs, name)
    log.info("dataset %s: %d ambiguous (class, variant, class) rows", name, len(pairs))
    return len(pairs)


def render_dataset(
    *,
    classes_path: str | os.PathLike,
    render: dict,
    name: str,
    config_hash: str,
    train_path: str | os.PathLike,
    val_path: str | os.PathLike,
    test_path: str | os.PathLike,
    ambiguous_path: str | os.PathLike,
    classes_hash: str | None = None,
) -> dict[str, int]:
    """A dataset's three splits and its ambiguous pairs, outside the workflow (the three rules'
    functions in turn; every split's metadata gets `config_hash`). render: {seed, render, test}.
    Returns the number of spectra per split."""
    hashes = {"name": name, "config_hash": config_hash, "classes_hash": classes_hash}
    counts = render_training_splits(
        classes_path=classes_path,
        render=render,
        train_path=train_path,
        val_path=val_path,
        **hashes,
    )
    counts["test"] = render_test(
        classes_path=classes_path, render=render, test_path=test_path, **hashes
    )
    list_ambiguous_pairs(
        classes_path=classes_path, render=render, name=name, ambiguous_path=ambiguous_path
    )
    return counts
