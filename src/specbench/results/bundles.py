"""Result bundles: a finished run set that others can pair their own runs with, spectrum by spectrum.

A bundle is a shipped run set (specbench.results.shipped, ``reference-results/<name>/``) with a
``bundle.json`` that makes it usable as a baseline of another workflow directory (config key
``baselines``): no model files, nothing retrained. Format (``format: specbench-bundle``,
``version`` :data:`VERSION`):

- ``runs``: one entry per finished run: ``experiment``, ``dataset``, ``model``, ``seed``,
  ``data_seed``, ``base_dataset``, ``architecture``, ``hyperparameters`` and ``dir``, its folder
  in the bundle (``runs/<dataset>/<model>/seed<k>/``: metrics.json, training.json, history.csv
  and predictions.parquet, one row per test spectrum with the true class, the predicted class and
  the probability of the true class);
- ``datasets``: per dataset of the runs, the fingerprint of its test split
  (specbench.data.fingerprint) and its definition (the config entry, defaults filled);
- ``files``: the SHA-256 of every file the runs need, so that a missing or corrupted file is
  refused before any job;
- ``provenance``: provenance.json (command, hardware, versions, date, commit).

:func:`write_bundle` adds bundle.json to a shipped folder (the one code path of
``tools/reference_results.py ship``); :func:`read_bundle` checks one and returns it.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from specbench.core import formats
from specbench.data import fingerprint
from specbench.results.tables.runs import RUN_KEY_COLUMNS

FORMAT = "specbench-bundle"
VERSION = 1
BUNDLE_FILE = "bundle.json"
#: Run fields a bundle records: runs.csv's run keys (the run records of rules/common.smk, less
#: the file paths) but its status and bundle, and the hyperparameters.
RUN_FIELDS = (
    *(key for key in RUN_KEY_COLUMNS if key not in ("status", "baseline")),
    "hyperparameters",
)
#: A run folder's files a baseline needs (specbench.core.formats): all but the model.
RUN_FILES = tuple(name for name in formats.RUN_FILES.values() if name != formats.MODEL_FILE)

__all__ = [
    "BUNDLE_FILE",
    "FORMAT",
    "VERSION",
    "Bundle",
    "BundleError",
    "read_bundle",
    "write_bundle",
]


class BundleError(ValueError):
    """A bundle that cannot be used (one line naming the bundle and what is wrong)."""


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_bundle(
    folder: str | os.PathLike,
    runs: pd.DataFrame,
    datasets: Mapping[str, Mapping[str, Any]],
    test_splits: Mapping[str, str | os.PathLike],
) -> Path:
    """Write ``folder/bundle.json`` for the finished runs of `runs` (a runs.csv table; not the runs
    of baselines it joined) whose folders lie in ``folder/runs``; `datasets` the definitions of
    their datasets (config entries, defaults filled) and `test_splits` their rendered test split
    files (fingerprinted here)."""
    folder = Path(folder)
    own = runs["baseline"].fillna("").astype(str) == "" if "baseline" in runs else True
    ok = runs[(runs["status"] == "ok") & own]  # a baseline's runs stay in their own bundle
    entries, files = [], {}
    for row in ok.itertuples(index=False):
        run_dir = Path(formats.run_dir(row.dataset, row.model, row.seed))
        rel = Path("runs") / run_dir.relative_to(formats.RUNS_ROOT)
        for name in RUN_FILES:
            path = folder / rel / name
            if not path.is_file():
                raise BundleError(f"{folder}: run {rel} has no {name}")
            files[(rel / name).as_posix()] = _sha256(path)
        entry = {key: getattr(row, key) for key in RUN_FIELDS}
        entry["seed"], entry["data_seed"] = int(entry["seed"]), int(entry["data_seed"])
        entry["hyperparameters"] = json.loads(entry["hyperparameters"] or "{}")
        entry["dir"] = rel.as_posix()
        entries.append(entry)
    used = sorted({entry["dataset"] for entry in entries})
    missing = [name for name in used if name not in datasets or name not in test_splits]
    if missing:
        raise BundleError(f"{folder}: no definition or test split of dataset {missing[0]!r}")
    bundle = {
        "format": FORMAT,
        "version": VERSION,
        "name": folder.name,
        "provenance": "provenance.json",
        "datasets": {
            name: {
                "definition": dict(datasets[name]),
                "fingerprint": fingerprint.of_split(test_splits[name]),
            }
            for name in used
        },
        "runs": entries,
        "files": files,
    }
    path = folder / BUNDLE_FILE
    path.write_text(json.dumps(bundle, indent=1, sort_keys=False, default=str) + "\n")
    return path


@dataclass
class Bundle:
    """A checked bundle: its folder, name, runs (with absolute file paths) and datasets."""

    path: Path
    name: str
    runs: list[dict[str, Any]]
    datasets: dict[str, dict[str, Any]]
    provenance: dict[str, Any]

    def records(self) -> list[dict[str, Any]]:
        """Run records as rules/common.smk builds them for local runs, plus ``baseline``."""
        out = []
        for run in self.runs:
            folder = self.path / run["dir"]
            record = {key: run[key] for key in RUN_FIELDS}
            record.update(
                baseline=self.name,
                metrics=str(folder / formats.METRICS_FILE),
                predictions=str(folder / formats.PREDICTIONS_FILE),
                history=str(folder / formats.HISTORY_FILE),
            )
            out.append(record)
        return out


def read_bundle(path: str | os.PathLike, *, verify: bool = True) -> Bundle:
    """The bundle in folder `path`; BundleError (one line) if it is not one, is of another
    format version, or a file it lists is missing or changed (``verify``: SHA-256 checked)."""
    path = Path(path)
    manifest = path / BUNDLE_FILE
    if not manifest.is_file():
        raise BundleError(f"{path}: not a result bundle (no {BUNDLE_FILE})")
    try:
        data = json.loads(manifest.read_text())
    except (OSError, ValueError) as exc:
        raise BundleError(f"{manifest}: unreadable ({exc})") from None
    if data.get("format") != FORMAT:
        raise BundleError(f"{manifest}: not a {FORMAT} (format {data.get('format')!r})")
    if data.get("version") != VERSION:
        raise BundleError(
            f"{manifest}: bundle version {data.get('version')!r}, this specbench reads {VERSION}"
        )
    for rel, digest in (data.get("files") or {}).items():
        file = path / rel
        if not file.is_file():
            raise BundleError(f"{path}: {rel} is missing")
        if verify and _sha256(file) != digest:
            raise BundleError(
                f"{path}: {rel} is corrupted (its SHA-256 differs from {BUNDLE_FILE})"
            )
    provenance = {}
    if (path / str(data.get("provenance", ""))).is_file():
        provenance = json.loads((path / data["provenance"]).read_text())
    return Bundle(
        path=path.resolve(),
        name=str(data.get("name") or path.name),
        runs=list(data.get("runs") or []),
        datasets=dict(data.get("datasets") or {}),
        provenance=provenance,
    )


def bundle_names(records: Sequence[Mapping[str, Any]]) -> list[str]:
    """The bundles of a list of run records, in first-seen order."""
    return list(dict.fromkeys(r["baseline"] for r in records if r.get("baseline")))
