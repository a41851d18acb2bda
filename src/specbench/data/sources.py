"""Where a dataset's classes come from (rule generate_classes): generated, the challenge set, a
classes file in the published format, or your own phases (crystal structures and peak lists,
specbench.data.phases), written in the published format (specbench.data.classes).

Kept apart from specbench.data.classes, which the rendering and the figures read: only the rule
that builds the classes (and the fingerprints of test splits) loads the sources of your own
phases, and with them pymatgen.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from specbench import __version__
from specbench.core import schema
from specbench.data.classes import (
    GENERATE,
    ClassesError,
    ClassSet,
    generate_classes,
    load_classes,
    save_classes,
)
from specbench.data.phases import own_classes

log = logging.getLogger("specbench.data.classes")

__all__ = ["build_classes", "make_classes"]


def _one_source(source: str | os.PathLike | Sequence[str] | None) -> Path | None:
    if source is None or isinstance(source, (str, os.PathLike)):
        return None if source in (None, "") else Path(source)
    items = list(source)
    if len(items) > 1:
        raise ClassesError(f"expected one classes source file, got {items}")
    return Path(items[0]) if items else None


def make_classes(
    dataset: dict,
    *,
    name: str,
    output: str | os.PathLike,
    source: str | os.PathLike | Sequence[str] | None = None,
) -> ClassSet:
    """Rule generate_classes: :func:`build_classes`, written to `output` (published format)."""
    classes = build_classes(dataset, name=name, source=source)
    save_classes(classes, output)
    return classes


def build_classes(
    dataset: dict, *, name: str, source: str | os.PathLike | Sequence[str] | None = None
) -> ClassSet:
    """A dataset's classes (metadata keys dataset, source, seed, specbench_version).

    dataset: the config entry (unset generation settings: the schema's defaults); source: the
    JSON file of a challenge/file dataset, the files of a structures/peaks one (rule input)."""
    kind = dataset["source"]
    seed = int(dataset["seed"])
    if kind == "generated":
        if "n_points" not in dataset:
            raise ClassesError(f"dataset {name!r}: n_points is required for source 'generated'")
        try:
            gen = schema.fill(dataset.get("generate"), *GENERATE, name="generate")
        except schema.SchemaError as exc:
            raise ClassesError(f"dataset {name!r}: {exc}") from None
        classes = generate_classes(
            int(gen["n_classes"]),
            n_points=int(dataset["n_points"]),
            seed=seed,
            boundary=gen["boundary"],
            max_height=gen["max_height"],
            peak_count=gen["peak_count"],
        )
        log.info("dataset %s: generated %d classes (seed %d)", name, len(classes), seed)
    elif kind in ("structures", "peaks"):  # your own phases (optional extra for structures)
        classes = own_classes(dataset, name=name, source=source)
    elif kind in ("challenge", "file"):
        path = _one_source(source)
        if path is None:
            raise ClassesError(f"dataset {name!r}: source {kind!r} needs a classes file")
        classes = load_classes(path, dataset.get("n_points"))
        classes.metadata["source_file"] = str(path)
        log.info("dataset %s: %d classes from %s", name, len(classes), path)
    else:
        raise ClassesError(f"dataset {name!r}: unknown source {kind!r}")
    counts = np.bincount([len(p) for p in classes.positions])
    log.info(
        "dataset %s: peak counts %s", name, {int(k): int(v) for k, v in enumerate(counts) if v}
    )
    classes.metadata = {
        "dataset": name,
        "source": kind,
        "seed": seed,
        "specbench_version": __version__,
        **{k: v for k, v in classes.metadata.items() if k not in ("dataset", "source", "seed")},
    }
    return classes
