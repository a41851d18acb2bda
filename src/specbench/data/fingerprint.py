"""Fingerprints of test splits: which spectra a run's per-spectrum outcomes were measured on.

A shipped run (a result bundle, specbench.results.bundles) can be paired, spectrum by spectrum,
with a run trained elsewhere only if both were tested on the same spectra. A fingerprint says so
without the spectra themselves and independent of the file encoding (Parquet compression, row
groups, column order):

- ``n_spectra``, ``n_points``, ``classes`` (the labels present), ``variants`` (the test variant
  labels, in order of first appearance): exact;
- ``labels_sha256``: the label of every row, in row order;
- ``parameters_sha256``: what every row is rendered from, in row order: its label, its rendered
  peaks (positions, heights as float32), its width (float32), its test variant, every peak's own
  width for splits that have them (X-ray size broadening) and, for splits with measurement
  artifacts, their parameters. These are drawn from NumPy's seeded streams and
  cast to float32 the same way on every machine: exact;
- ``spectra``: per class (in label order) the sums over its spectra, each divided by its maximum,
  of the intensities, of their squares and of the intensity centroids; compared within the
  relative tolerance :data:`TOLERANCE`, because vectorised ``exp`` may differ in the last bit
  between CPUs (the spectra are rendered, not drawn).

:func:`of_split` fingerprints a rendered split file, :func:`of_plan` a planned split (rendered in
memory), :func:`of_dataset` a dataset definition's test split without writing anything;
:func:`differences` compares two fingerprints in words.
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

from specbench.data.sources import build_classes
from specbench.data.render import SplitPlan, plan_from_split, plan_test
from specbench.data.splits import read_split

__all__ = ["FORMAT", "TOLERANCE", "differences", "of_dataset", "of_plan", "of_split"]

#: Version of the fingerprint's layout.
FORMAT = 1
#: Relative tolerance of the per-class spectrum sums (last-bit differences of float32 rendering).
TOLERANCE = 1e-4


def _update_arrays(digest, *arrays) -> None:
    for values, dtype in arrays:
        data = np.ascontiguousarray(np.asarray(values, dtype=dtype))
        digest.update(np.int64(data.size).tobytes())
        digest.update(data.astype(np.dtype(dtype).newbyteorder("<"), copy=False).tobytes())


def _update_text(digest, text: str) -> None:
    raw = str(text).encode("utf-8")
    digest.update(np.int64(len(raw)).tobytes() + raw)


def _parameters_sha256(plan: SplitPlan) -> str:
    digest = hashlib.sha256()
    positions, heights = plan.peak_lists()
    widths = plan.peak_widths()
    art = plan.artifacts
    for r in range(len(plan)):
        _update_arrays(
            digest,
            (plan.labels[r], np.int32),
            (positions[r], np.int32),
            (heights[r], np.float32),
            (plan.sigma[r], np.float32),
        )
        _update_text(digest, plan.variant[r])
        if widths is not None:  # every peak's own width (X-ray size broadening)
            _update_arrays(digest, (widths[r], np.float32))
        if art is not None:
            _update_text(digest, art.shape[r])
            _update_text(digest, art.noise[r])
            _update_arrays(
                digest,
                (art.eta[r], np.float32),
                (art.noise_level[r], np.float32),
                (art.noise_seed[r], np.int64),
                (art.background[r], np.float32),
                (art.exp_amplitude[r], np.float32),
                (art.exp_decay[r], np.float32),
            )
    return digest.hexdigest()


def _spectra_sums(labels: np.ndarray, spectra: np.ndarray) -> list[list[float]]:
    x = np.asarray(spectra, dtype=np.float64)
    peak = x.max(axis=1, keepdims=True)
    peak[~(peak > 0)] = 1.0
    x = x / peak
    total = x.sum(axis=1)
    safe = np.where(total > 0, total, 1.0)
    centroid = (x * np.arange(x.shape[1])).sum(axis=1) / safe
    out = []
    for label in np.unique(labels):
        rows = labels == label
        out.append(
            [float(total[rows].sum()), float((x[rows] ** 2).sum()), float(centroid[rows].sum())]
        )
    return out


def of_plan(plan: SplitPlan, spectra: np.ndarray | None = None) -> dict:
    """The fingerprint of a planned split; `spectra` its rendered spectra (rendered if None)."""
    spectra = plan.render() if spectra is None else spectra
    labels = np.asarray(plan.labels, dtype=np.int32)
    digest = hashlib.sha256()
    _update_arrays(digest, (labels, np.int32))
    return {
        "format": FORMAT,
        "n_spectra": int(len(plan)),
        "n_points": int(plan.n_points),
        "classes": sorted(int(k) for k in np.unique(labels)),
        "variants": list(dict.fromkeys(plan.variant)),
        "labels_sha256": digest.hexdigest(),
        "parameters_sha256": _parameters_sha256(plan),
        "spectra": {"tolerance": TOLERANCE, "per_class": _spectra_sums(labels, spectra)},
    }


def of_split(path: str | os.PathLike) -> dict:
    """The fingerprint of a rendered split file (specbench.data.splits)."""
    split = read_split(path)
    return of_plan(plan_from_split(split), split.spectra)


def of_dataset(dataset: dict, *, name: str, source: str | os.PathLike | None = None) -> dict:
    """The fingerprint of the test split that a dataset definition (a config entry, defaults
    filled) renders, computed in memory: its classes, the test split's plan, its spectra."""
    classes = build_classes(dataset, name=name, source=source)
    plan = plan_test(classes, {"seed": dataset["seed"], "render": dataset["render"],
                               "test": dataset.get("test")})  # fmt: skip
    return of_plan(plan)


def differences(expected: dict, actual: dict) -> list[str]:
    """What differs from `expected` in `actual`, in words (empty: the same test split)."""
    out = []
    for key, what in (
        ("format", "fingerprint format"),
        ("n_points", "points per spectrum"),
        ("n_spectra", "test spectra"),
    ):
        if expected.get(key) != actual.get(key):
            out.append(f"{what} {expected.get(key)} there, {actual.get(key)} here")
    if expected.get("classes") != actual.get("classes"):
        out.append(
            f"classes {len(expected.get('classes', []))} there, {len(actual.get('classes', []))} here"
        )
    theirs, ours = expected.get("variants") or [], actual.get("variants") or []
    if theirs != ours:
        first = next((i for i, (a, b) in enumerate(zip(theirs, ours)) if a != b), None)
        detail = (
            f"{theirs[first]!r} there, {ours[first]!r} here"
            if first is not None
            else f"{len(theirs)} there, {len(ours)} here"
        )
        out.append(f"test variants ({detail})")
    if out:
        return out
    if expected.get("labels_sha256") != actual.get("labels_sha256"):
        out.append("the test rows' classes (their order or counts)")
    if expected.get("parameters_sha256") != actual.get("parameters_sha256"):
        out.append("the peaks, widths or variants the test spectra are rendered from")
    if not out:
        a = np.asarray(expected["spectra"]["per_class"], dtype=float)
        b = np.asarray(actual["spectra"]["per_class"], dtype=float)
        tolerance = float(expected["spectra"].get("tolerance", TOLERANCE))
        if a.shape != b.shape or not np.allclose(a, b, rtol=tolerance, atol=0.0):
            worst = (
                float(np.max(np.abs(a - b) / np.maximum(np.abs(a), 1e-12)))
                if a.shape == b.shape
                else np.inf
            )
            out.append(f"the rendered spectra (relative difference {worst:.1e} > {tolerance:g})")
    return out
