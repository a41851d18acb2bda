"""Classes of synthetic spectra: generation, the challenge set, and the published JSON format.

A class is a set of peaks: integer positions in [0, n_points) and heights (the tallest 1.0). The
published format (Schuetzke et al. 2023) of a class set is::

    {"datapoints": n, "classes": k,
     "spectra": {"0": {"peak_positions": [int, ...], "peak_heights": [float, ...]}, ...}}

plus optional metadata keys at the top level. A class entry may carry ``"test_variants"`` (variant
codes, specbench.data.variants, overriding the dataset's ``test.variants``: the challenge set,
config/challenge_classes.json), ``"test_shift"`` and ``"test_delta"`` (the class's own test shift in
points of the file and height change, overriding ``test.shift`` and ``test.delta``: the authors'
benchmark set, config/benchmark_classes.json, whose rendering script gives four classes a smaller
height change and two a smaller shift) and a free-text ``"group"``. Three sources (config
``source``): ``generated`` (generate_classes), ``challenge`` (the shipped challenge set) and
``file`` (any file in the published format). Imports numpy only (the workflow's planning uses it).
"""

from __future__ import annotations

import functools
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from specbench.core import schema
from specbench.core.atomic import atomic_path
from specbench.data.variants import MAX_HEIGHT, VariantError, check_variants

log = logging.getLogger(__name__)

CLASS_KEYS = (
    "peak_positions",
    "peak_heights",
    "test_variants",
    "test_shift",
    "test_delta",
    "group",
)
#: Where the schema defines the generation settings and their defaults (the paper's recipe).
GENERATE = ("datasets", "*", "generate")


class ClassesError(ValueError):
    """A classes file or class definition that cannot be used; the message names file and problem."""


@dataclass
class ClassSet:
    """Peaks of every class of a dataset.

    positions[k] (int64) and heights[k] (float64) are class k's peaks, sorted by position;
    test_variants[k] is class k's own list of test variant codes or None (use the dataset's);
    test_shift[k] and test_delta[k] its own test shift (points) and height change or None (the
    dataset's ``test.shift``, ``test.delta``); both lists None when no class has its own.
    """

    n_points: int
    positions: list[np.ndarray]
    heights: list[np.ndarray]
    test_variants: list[list[str] | None]
    metadata: dict[str, Any] = field(default_factory=dict)
    groups: list[str | None] | None = None
    test_shift: list[int | None] | None = None
    test_delta: list[float | None] | None = None

    def __len__(self) -> int:
        return len(self.positions)

    def to_json(self) -> dict[str, Any]:
        """The published format (metadata keys first, then datapoints, classes, spectra)."""
        out: dict[str, Any] = {
            k: v for k, v in self.metadata.items() if k not in ("datapoints", "classes", "spectra")
        }
        out["datapoints"] = int(self.n_points)
        out["classes"] = len(self)
        spectra = {}
        for k, (pos, hgt, var) in enumerate(zip(self.positions, self.heights, self.test_variants)):
            entry: dict[str, Any] = {
                "peak_positions": [int(p) for p in pos],
                "peak_heights": [float(h) for h in hgt],
            }
            if var is not None:
                entry["test_variants"] = list(var)
            for key in ("test_shift", "test_delta"):
                own = getattr(self, key)
                if own is not None and own[k] is not None:
                    entry[key] = own[k]
            if self.groups is not None and self.groups[k] is not None:
                entry["group"] = self.groups[k]
            spectra[str(k)] = entry
        out["spectra"] = spectra
        return out


# ------------------------------------------------------------------ validation


def _is_int(value: object) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def _is_number(value: object) -> bool:
    return (
        isinstance(value, (int, float, np.integer, np.floating))
        and not isinstance(value, (bool, np.bool_))
        and bool(np.isfinite(value))
    )


def parse_classes(data: object, where: str = "classes") -> ClassSet:
    """Validate a published-format dict and return its ClassSet (positions as in the file).

    ClassesError names `where` (the file) and the problem: wrong format, a peak outside the
    spectrum [0, datapoints), heights and positions of different lengths, a bad test variant code.
    """
    if not isinstance(data, dict):
        raise ClassesError(f"{where}: expected a JSON object, got {type(data).__name__}")
    for key in ("datapoints", "spectra"):
        if key not in data:
            raise ClassesError(
                f"{where}: missing key {key!r} (published format: datapoints, " f"classes, spectra)"
            )
    n = data["datapoints"]
    if not _is_int(n) or n < 1:
        raise ClassesError(f"{where}: 'datapoints' must be a positive integer, got {n!r}")
    spectra = data["spectra"]
    if not isinstance(spectra, dict) or not spectra:
        raise ClassesError(f"{where}: 'spectra' must be a non-empty object of classes")
    expected = [str(k) for k in range(len(spectra))]
    if sorted(spectra, key=lambda s: (len(s), s)) != expected:
        raise ClassesError(
            f"{where}: 'spectra' keys must be the class indices '0'..'{len(spectra) - 1}', "
            f"got {sorted(spectra)[:10]!r}"
        )
    if "classes" in data and data["classes"] != len(spectra):
        raise ClassesError(
            f"{where}: 'classes' is {data['classes']!r} but 'spectra' has {len(spectra)} classes"
        )
    positions, heights, variants, groups = [], [], [], []
    own_test: dict[str, list] = {"test_shift": [], "test_delta": []}
    for k in range(len(spectra)):
        entry = spectra[str(k)]
        cwhere = f"{where}: class {k}"
        if not isinstance(entry, dict):
            raise ClassesError(f"{cwhere}: expected an object, got {type(entry).__name__}")
        unknown = sorted(set(entry) - set(CLASS_KEYS))
        if unknown:
            raise ClassesError(
                f"{cwhere}: unknown key(s) {unknown} (known: {', '.join(CLASS_KEYS)})"
            )
        pos, hgt = entry.get("peak_positions"), entry.get("peak_heights")
        if not isinstance(pos, list) or not pos:
            raise ClassesError(f"{cwhere}: 'peak_positions' must be a non-empty list of integers")
        if not isinstance(hgt, list):
            raise ClassesError(f"{cwhere}: 'peak_heights' must be a list of numbers")
        if len(pos) != len(hgt):
            raise ClassesError(
                f"{cwhere}: {len(pos)} peak_positions but {len(hgt)} peak_heights "
                f"(the lengths must match)"
            )
        for p in pos:
            if not _is_int(p):
                raise ClassesError(f"{cwhere}: peak position {p!r} is not an integer")
            if not 0 <= p < n:
                raise ClassesError(
                    f"{cwhere}: peak position {p} is outside the spectrum [0, {n}) "
                    f"(datapoints={n})"
                )
        for h in hgt:
            if not _is_number(h) or h < 0:
                raise ClassesError(f"{cwhere}: peak height {h!r} is not a non-negative number")
            if h > MAX_HEIGHT:  # rendering clips heights to [0, 2]: the class would be lost
                raise ClassesError(
                    f"{cwhere}: peak height {h!r} is above {MAX_HEIGHT:g} (heights are relative, "
                    "the tallest peak 1.0; rendering clips them to [0, 2])"
                )
        if not any(h > 0 for h in hgt):
            raise ClassesError(f"{cwhere}: no peak height above 0 (its spectra would be all zero)")
        var = entry.get("test_variants")
        if var is not None:
            try:
                var = check_variants(var, f"{cwhere}: test_variants")
            except VariantError as exc:
                raise ClassesError(str(exc)) from None
        shift, delta = entry.get("test_shift"), entry.get("test_delta")
        if shift is not None and (not _is_int(shift) or shift < 0):
            raise ClassesError(f"{cwhere}: test_shift {shift!r} is not a non-negative integer")
        if delta is not None and (not _is_number(delta) or delta < 0):
            raise ClassesError(f"{cwhere}: test_delta {delta!r} is not a non-negative number")
        own_test["test_shift"].append(None if shift is None else int(shift))
        own_test["test_delta"].append(None if delta is None else float(delta))
        p_arr = np.asarray(pos, dtype=np.int64)
        h_arr = np.asarray(hgt, dtype=np.float64)
        order = np.argsort(p_arr, kind="stable")
        positions.append(p_arr[order])
        heights.append(h_arr[order])
        variants.append(var)
        group = entry.get("group")
        if group is not None and not isinstance(group, str):
            raise ClassesError(f"{cwhere}: 'group' must be a string, got {group!r}")
        groups.append(group)
    metadata = {k: v for k, v in data.items() if k not in ("datapoints", "classes", "spectra")}
    has_groups = any(g is not None for g in groups)
    own = {k: (v if any(x is not None for x in v) else None) for k, v in own_test.items()}
    return ClassSet(
        int(n), positions, heights, variants, metadata, groups if has_groups else None, **own
    )


def _read_json(path: str | os.PathLike) -> object:
    path = Path(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ClassesError(f"{path}: no such classes file") from None
    except OSError as exc:
        raise ClassesError(f"{path}: cannot read classes file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ClassesError(f"{path}: not valid JSON (not UTF-8 text)") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ClassesError(f"{path}: not valid JSON ({exc})") from None


def rescale_positions(positions: np.ndarray, from_points: int, to_points: int) -> np.ndarray:
    """round(p * to_points / from_points), clipped to the new spectrum [0, to_points)."""
    positions = np.asarray(positions, dtype=np.int64)
    if from_points == to_points:
        return positions.copy()
    scaled = np.rint(positions * (to_points / from_points)).astype(np.int64)
    return np.clip(scaled, 0, to_points - 1)


def check_classes_file(path: str | os.PathLike, n_points: int | None = None) -> ClassSet:
    """Validate a classes file in the published format; return its ClassSet (unscaled).

    Raises ClassesError (a ValueError) naming the file and the problem: not JSON, wrong format,
    a peak outside the spectrum [0, datapoints), heights/positions length mismatch, a bad
    per-class test_variants code, or (with n_points) two peaks of a class that rescaling to
    n_points points would merge into one.
    """
    classes = parse_classes(_read_json(path), where=str(path))
    if n_points is not None and n_points != classes.n_points:
        for k, pos in enumerate(classes.positions):
            scaled = rescale_positions(pos, classes.n_points, n_points)
            if len(np.unique(scaled)) < len(np.unique(pos)):
                raise ClassesError(
                    f"{path}: class {k}: rescaling its peaks {pos.tolist()} from "
                    f"{classes.n_points} to n_points={n_points} points merges peaks "
                    f"({scaled.tolist()}); use more points"
                )
    return classes


def load_classes(path: str | os.PathLike, n_points: int | None = None) -> ClassSet:
    """Read a classes file; with n_points != its datapoints, rescale positions (and log it)."""
    classes = check_classes_file(path, n_points)
    if n_points is not None and n_points != classes.n_points:
        log.info(
            "%s: rescaling peak positions from %d to %d points (round(p * %d / %d))",
            path,
            classes.n_points,
            n_points,
            n_points,
            classes.n_points,
        )
        classes.metadata["rescaled_from_datapoints"] = classes.n_points
        classes.positions = [
            rescale_positions(p, classes.n_points, n_points) for p in classes.positions
        ]
        if classes.test_shift is not None:  # a class's own shift, in points, scales alike
            classes.test_shift = [
                None if s is None else int(np.rint(s * n_points / classes.n_points))
                for s in classes.test_shift
            ]
        classes.n_points = int(n_points)
    return classes


def dumps_classes(data: dict[str, Any]) -> str:
    """JSON text of a published-format dict: metadata keys first, then one line per class."""
    lines = ["{"]
    for key, value in data.items():
        if key != "spectra":
            lines.append(f" {json.dumps(key)}: {json.dumps(value)},")
    lines.append(' "spectra": {')
    entries = [f"  {json.dumps(k)}: {json.dumps(v)}" for k, v in data.get("spectra", {}).items()]
    lines.append(",\n".join(entries))
    lines.append(" }")
    lines.append("}")
    return "\n".join(lines) + "\n"


def save_classes(classes: ClassSet, path: str | os.PathLike) -> None:
    """Write a ClassSet in the published format (pretty-printed, stable key order)."""
    with atomic_path(path) as tmp:
        tmp.write_text(dumps_classes(classes.to_json()))


# ------------------------------------------------------------------ generation


def _generate_settings(boundary: int | None, max_height: int | None) -> tuple[int, int]:
    """(boundary, max_height), each the schema's default where None."""
    if boundary is None or max_height is None:
        default = schema.defaults(*GENERATE)
        boundary = default["boundary"] if boundary is None else boundary
        max_height = default["max_height"] if max_height is None else max_height
    return int(boundary), int(max_height)


@functools.lru_cache(maxsize=64)
def _filled_peak_count(given: str) -> str:
    where = (*GENERATE, "peak_count")
    try:
        spec = schema.fill(json.loads(given) or schema.defaults(*where), *where, name="peak_count")
    except schema.SchemaError as exc:
        raise ClassesError(str(exc)) from None
    return json.dumps(spec)


def peak_count_spec(peak_count: dict | None = None) -> dict:
    """The complete peak-count distribution: `peak_count` (None or {}: the schema's default, the
    paper's gamma) with the schema's defaults filled in and checked (ClassesError if invalid)."""
    return json.loads(_filled_peak_count(json.dumps(peak_count or {})))


def draw_peak_count(rng: np.random.Generator, peak_count: dict) -> int:
    """Number of peaks of one class: round(Gamma(shape, scale) + offset) capped at max, or a
    uniform integer in [min, max] (unset parameters: the schema's defaults)."""
    spec = peak_count_spec(peak_count)
    if spec["distribution"] == "gamma":
        value = rng.gamma(spec["shape"], spec["scale"]) + spec["offset"]
        return int(max(1, min(round(value), spec["max"])))
    if spec["distribution"] == "uniform":
        return int(rng.integers(spec["min"], spec["max"] + 1))
    raise ClassesError(f"peak_count.distribution={spec['distribution']!r} is not drawn here")


#: The last word of a generated class's stream, default_rng([class, seed, GENERATION_STREAM]).
#: Not 0: NumPy's SeedSequence ignores trailing zero words, so [class, seed] or [class, seed, 0]
#: is the stream that renders the class's training spectra (specbench.data.render, split code 0),
#: whose shifts and heights would then replay the draws that placed the class's peaks (so it was
#: until 2026-12-05). Apart from the other streams' last words: render's splits 0-1, the
#: artifacts' kinds 1-3 (specbench.data.artifacts), the X-ray variation's 7 (specbench.data.xrd).
GENERATION_STREAM = 5


def generate_class(
    index: int,
    *,
    n_points: int,
    seed: int,
    boundary: int | None = None,
    max_height: int | None = None,
    peak_count: dict | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Peaks (positions, heights) of generated class `index`, from
    ``default_rng([index, seed, GENERATION_STREAM])`` (:data:`GENERATION_STREAM`).

    Positions are distinct uniform integers in [boundary, n_points - boundary); heights uniform
    integers 1..max_height divided by their maximum (the tallest peak is 1.0), rounded to 3
    decimals; peaks sorted by position. Class k does not depend on how many classes are drawn.
    Unset settings (None): the schema's defaults (``datasets.*.generate``, the paper's recipe).
    """
    boundary, max_height = _generate_settings(boundary, max_height)
    rng = np.random.default_rng([index, seed, GENERATION_STREAM])
    available = n_points - 2 * boundary
    if available < 1:
        raise ClassesError(f"boundary={boundary} leaves no room for peaks in n_points={n_points}")
    k = min(draw_peak_count(rng, peak_count), available)
    positions = rng.choice(available, size=k, replace=False).astype(np.int64) + boundary
    raw = rng.integers(1, max_height + 1, size=k)
    heights = np.round(raw / raw.max(), 3)
    order = np.argsort(positions, kind="stable")
    return positions[order], heights[order]


def generate_classes(
    n_classes: int,
    *,
    n_points: int,
    seed: int,
    boundary: int | None = None,
    max_height: int | None = None,
    peak_count: dict | None = None,
) -> ClassSet:
    """Generate n_classes classes (see generate_class); paper scale 500 x 5000, seed 2022. Unset
    settings (None): the schema's defaults; the metadata records the settings used."""
    boundary, max_height = _generate_settings(boundary, max_height)
    peak_count = peak_count_spec(peak_count)
    positions, heights = [], []
    for index in range(n_classes):
        pos, hgt = generate_class(
            index,
            n_points=n_points,
            seed=seed,
            boundary=boundary,
            max_height=max_height,
            peak_count=peak_count,
        )
        positions.append(pos)
        heights.append(hgt)
    metadata = {
        "generator": {
            "seed": seed,
            "boundary": boundary,
            "max_height": max_height,
            "peak_count": peak_count,
        }
    }
    return ClassSet(n_points, positions, heights, [None] * n_classes, metadata)
