"""Baselines: shipped runs (result bundles) that join this workflow's tables without retraining.

The config key ``baselines`` lists result bundles (specbench.results.bundles; e.g. the folders in
reference-results/). Before any job, :func:`load` checks each: its files (checksums), and that
every dataset its runs were tested on is a dataset of this config with the very same test split:
the fingerprint of the bundle's test split (specbench.data.fingerprint) must equal the one this
config's definition renders (computed in memory, cached in ``.snakemake/specbench/fingerprints``).
A mismatch stops the workflow in one line naming the bundle, the dataset and what differs (the
settings that differ, e.g. ``seed 2023 there, 2024 here``, then the fingerprint's words). So is a
model both trained here and shipped in a baseline (same experiment and model name).

The baselines' runs then enter the run records (rules/common.smk) with their files inside the
bundle: runs.csv, summary.csv (``baseline``), the figures, the paired tests and the report treat
them as runs of this workflow; nothing trains or evaluates them, and no model file is needed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from specbench.core.canonical import canonical_json
from specbench.core.inputs import config_path
from specbench.data import fingerprint
from specbench.results.bundles import Bundle, BundleError, read_bundle
from specbench.workflow import config as sbconfig
from specbench.workflow.config_datasets import ConfigError, classes_sources, test_render

#: Settings of a dataset that define its test split (a difference names the cause of a mismatch),
#: with the render settings the test spectra use (config_datasets.test_render: your own phases'
#: crystallite size).
TEST_SETTINGS = ("source", "n_points", "seed", "generate", "test")
#: Where the fingerprints of this config's datasets are cached (in the working directory).
CACHE = Path(".snakemake") / "specbench" / "fingerprints"

__all__ = ["CACHE", "TEST_SETTINGS", "load", "local_fingerprint", "setting_differences"]


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, Mapping):
        out: dict[str, Any] = {}
        for key, sub in value.items():
            out.update(_flat(sub, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def setting_differences(theirs: Mapping[str, Any], ours: Mapping[str, Any]) -> list[str]:
    """The test-defining settings (:data:`TEST_SETTINGS`, the test's render settings) that
    differ, as "key X there, Y here"."""
    a, b = (
        _flat(
            {
                **{key: d.get(key) for key in TEST_SETTINGS},
                "render": test_render(d.get("render") or {}),
            }
        )
        for d in (theirs, ours)
    )
    return [
        f"{key} {a.get(key)!r} there, {b.get(key)!r} here"
        for key in sorted(set(a) | set(b))
        if a.get(key) != b.get(key)
    ]


def fingerprint_code() -> list[Path]:
    """The files whose code a fingerprint runs: every package module specbench.data.fingerprint
    loads (specbench.workflow.codedeps) and the schema whose defaults rendering fills in."""
    from specbench.core import schema
    from specbench.workflow import codedeps

    return [*codedeps.package_sources(fingerprint.__file__), schema.SCHEMA_PATH]


def _package_code() -> str:
    """A digest of :func:`fingerprint_code` (a cached fingerprint is stale when it changes)."""
    digest = hashlib.sha256()
    for path in fingerprint_code():
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def local_fingerprint(dataset: dict, name: str, basedir: str = ".", cache: Path = CACHE) -> dict:
    """The fingerprint of the test split that this config's definition of `name` renders."""
    sources = classes_sources(dataset, basedir)
    contents = hashlib.sha256(b"".join(path.read_bytes() for path in sources)).hexdigest()
    key = hashlib.sha256(canonical_json([dataset, _package_code(), contents]).encode()).hexdigest()[
        :24
    ]
    cached = cache / f"{name}-{key}.json"
    if cached.is_file():
        try:
            return json.loads(cached.read_text())
        except ValueError:
            pass
    found = fingerprint.of_dataset(dataset, name=name, source=sources or None)
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps(found))
    return found


def load(config: dict, basedir: str = ".") -> list[Bundle]:
    """The checked bundles of ``config["baselines"]`` (paths relative to the working directory);
    ConfigError (one line) for a bundle that is unusable or measured on another test split."""
    entries = config.get("baselines") or []
    seen: dict[Path, str] = {}
    for entry in entries:  # one folder named twice would enter its runs twice
        where = config_path(entry).resolve()
        if where in seen:
            raise ConfigError(
                f"baselines: {entry} is listed twice (also as {seen[where]}): name each bundle once"
            )
        seen[where] = entry
    bundles = []
    local = {(run.experiment, run.model) for run in sbconfig.runs(config)}
    shipped: dict[tuple[str, str], str] = {}
    for entry in entries:
        try:  # relative to the working directory, else to the workflow's
            bundle = read_bundle(config_path(entry))
        except BundleError as exc:
            raise ConfigError(f"baselines: {exc}") from None
        for name, info in bundle.datasets.items():
            if name not in config["datasets"]:
                raise ConfigError(
                    f"baselines: {entry}: its runs were tested on dataset {name!r}, which this "
                    f"config does not define (its definition: {entry}/config.yaml)"
                )
            ours = config["datasets"][name]
            differs = fingerprint.differences(
                info["fingerprint"], local_fingerprint(ours, name, basedir)
            )
            if differs:
                causes = setting_differences(info.get("definition") or {}, ours)
                raise ConfigError(
                    f"baselines: {entry}: dataset {name!r} is not the test split its runs were "
                    f"measured on: {'; '.join(causes + differs)}"
                )
        for run in bundle.runs:
            key = (run["experiment"], run["model"])
            if key in local:
                raise ConfigError(
                    f"baselines: {entry}: {key[0]}/{key[1]} is shipped there and trained here too: "
                    "leave it out of this config's experiments"
                )
            if shipped.get(key, bundle.name) != bundle.name:
                raise ConfigError(
                    f"baselines: {entry}: {key[0]}/{key[1]} is in baseline {shipped[key]} too"
                )
            shipped[key] = bundle.name
        bundles.append(bundle)
    return bundles
