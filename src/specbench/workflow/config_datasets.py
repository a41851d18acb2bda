"""The datasets of the workflow configuration: where a dataset's classes come from and the
semantic checks of one dataset (what the schema cannot say: files that exist, peaks inside the
spectrum, settings that depend on each other, value ranges that are not empty).

Also :class:`ConfigError`, the error of every config check (:mod:`specbench.workflow.config`, which
re-exports all of this, checks the rest of a config). Pure Python, no Keras import.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from specbench.core import schema
from specbench.core.canonical import canonical_json
from specbench.core.inputs import WORKFLOW_DIR, config_path

__all__ = [
    "CHALLENGE_CLASSES",
    "ConfigError",
    "PLANNING_KEYS",
    "RENDER_KEYS",
    "TEST_RENDER_KEYS",
    "TEST_XRD_KEYS",
    "check_dataset",
    "classes_hash",
    "classes_params",
    "classes_source_path",
    "classes_sources",
    "config_hash",
    "pairs_params",
    "render_params",
    "test_hash",
    "test_params",
    "test_render",
    "training_hash",
]

# The hand-defined 27-class challenge set, relative to the workflow directory.
CHALLENGE_CLASSES = Path("config") / "challenge_classes.json"
#: The largest data seed: NumPy's SeedSequence takes a larger one as two 32-bit words and ignores
#: trailing zero words, so default_rng([k, 2**32 + s, 0]) (class k's training spectra of seed
#: 2**32 + s) would be default_rng([k, s, 1]) (its validation spectra of seed s).
MAX_SEED = 2**32 - 1


class ConfigError(ValueError):
    """A user mistake in the workflow configuration; the message names the key and the value."""


def classes_source_path(dataset_cfg: dict, basedir: str | Path = ".") -> Path | None:
    """The JSON file a dataset's classes come from (None for generated datasets).

    The challenge set ships with the workflow (`basedir`, the Snakefile's folder); a
    `classes_file` is relative to the working directory, else to the workflow's own directory
    (specbench.core.inputs.config_path, as structures, peak lists and builders are: the shipped
    config/benchmark_classes.json works from any ``snakemake --directory``).
    """
    source = dataset_cfg["source"]
    if source == "challenge":
        return Path(basedir) / CHALLENGE_CLASSES
    if source == "file":
        return config_path(dataset_cfg["classes_file"])
    return None


#: A dataset's keys that define how its spectra are rendered (the rendering rules' params:
#: render_params, test_params, pairs_params), not its classes.
RENDER_KEYS = ("render", "test")
#: Keys the planning consumes: a sweep's levels become datasets of their own, a data seed's
#: derived dataset names its origin (its own seed is a classes key).
PLANNING_KEYS = ("sweep", "derived_from")


def classes_params(dataset_cfg: dict) -> dict:
    """The part of a dataset's config that defines its classes (rule generate_classes' params):
    every key but the rendering's and the planning's, derived rather than listed, so that a key
    added to the schema reruns the class generation unless it is declared a rendering one. In
    the schema's order (the params Snakemake stored before stay the same)."""
    order = list(schema.node("datasets", "*")["properties"])
    keys = [key for key in dataset_cfg if key not in RENDER_KEYS + PLANNING_KEYS]
    keys.sort(key=lambda key: (order.index(key) if key in order else len(order), key))
    return {key: dataset_cfg[key] for key in keys}


#: The render settings the test split reads (specbench.data.render.plan_test), of which
#: test_render keeps what the test spectra depend on.
TEST_RENDER_KEYS = ("xrd",)
#: The settings of ``render.xrd`` the test spectra use too: your own phases' crystallite-size
#: broadening at the middle of the training's sizes (specbench.data.xrd.broaden_test). The rest
#: of ``render`` (strain, displacement, texture included) is the training variation alone.
TEST_XRD_KEYS = ("size", "shape_factor")


def config_hash(obj: Any) -> str:
    """Short, stable hash of a config fragment (key order does not matter)."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:16]


# What each file of a rendered dataset is made of besides its classes (classes.json, an input of
# every rendering rule): the params of the rule that writes it. An edit reruns the rules whose
# params it changes, and only those: a test-only edit re-renders the test split and the ambiguous
# pairs, and retrains nothing.


def render_params(dataset_cfg: dict) -> dict:
    """Rule render_spectra's params (the training and validation splits): seed and render."""
    return {"seed": dataset_cfg["seed"], "render": dataset_cfg["render"]}


def test_render(render: dict) -> dict:
    """The part of a dataset's ``render`` that its test split reads: ``xrd`` with the settings of
    TEST_XRD_KEYS where it broadens by crystallite size, else nothing (an edit of the strain
    re-renders no test split, and so re-evaluates nothing on it)."""
    (xrd,) = TEST_RENDER_KEYS
    variation = render.get(xrd) or {}
    if not variation.get("size"):
        return {}
    return {xrd: {key: variation[key] for key in TEST_XRD_KEYS if key in variation}}


def test_params(dataset_cfg: dict) -> dict:
    """Rule render_test_split's params: the seed (the test artifacts' streams), the test settings
    and the render settings of test_render (the only ones the test split reads)."""
    render = test_render(dataset_cfg["render"])
    return {"seed": dataset_cfg["seed"], "render": render, "test": dataset_cfg["test"]}


def pairs_params(dataset_cfg: dict) -> dict:
    """Rule find_ambiguous_pairs' params: the training variation against the test variants."""
    return {"render": dataset_cfg["render"], "test": dataset_cfg["test"]}


def classes_hash(dataset_cfg: dict) -> str:
    """The hash of a dataset's class definition (in every split's metadata and training.json:
    a model and a split of another definition may mean other classes by the same index)."""
    return config_hash(classes_params(dataset_cfg))


def training_hash(dataset_cfg: dict) -> str:
    """The hash of what the training and validation splits are made of (their `config_hash`)."""
    return config_hash({**classes_params(dataset_cfg), **render_params(dataset_cfg)})


def test_hash(dataset_cfg: dict) -> str:
    """The hash of what the test split is made of (its `config_hash`)."""
    return config_hash({**classes_params(dataset_cfg), **test_params(dataset_cfg)})


def classes_sources(dataset_cfg: dict, basedir: str | Path = ".") -> list[Path]:
    """Every file a dataset's classes come from (rule generate_classes' inputs): the JSON file
    of classes_source_path, or the structure files / the peak list of your own phases
    (specbench.data.phases.source_files; ClassesError if they cannot be found)."""
    if dataset_cfg["source"] in ("structures", "peaks"):
        from specbench.data.phases import source_files

        return source_files(dataset_cfg)
    path = classes_source_path(dataset_cfg, basedir)
    return [] if path is None else [path]


def check_dataset(name: str, ds: dict, basedir: str | Path = ".") -> None:
    """Raise ConfigError naming the key and value of the first semantic mistake in dataset `name`
    (`ds`, validated against the schema, defaults filled); `basedir` as in classes_source_path."""
    key = f"datasets.{name}"
    source = ds["source"]
    if ds["seed"] > MAX_SEED:  # a data seed's derived dataset is not validated by the schema
        derived = ds.get("derived_from")
        where = f"{key}.seed" if derived is None else f"data seed of {derived['dataset']}"
        raise ConfigError(
            f"{where}={ds['seed']}: seeds must be below 2^32 (a larger one would draw the spectra "
            "of another seed)"
        )
    if ds["render"].get("xrd") and source != "structures":  # it needs the classes' 2θ axis
        raise ConfigError(
            f"{key}.render.xrd (XRD variation) needs source 'structures' (got {source!r})"
        )
    if source == "generated":
        gen = ds.get("generate")
        if gen is None:
            raise ConfigError(f"{key}.generate is required when source is 'generated'")
        if "n_points" not in ds:
            raise ConfigError(f"{key}.n_points is required when source is 'generated'")
        if gen["n_classes"] < 2:
            raise ConfigError(
                f"{key}.generate.n_classes={gen['n_classes']}: a benchmark needs at least 2 classes"
            )
        n = ds["n_points"]
        boundary = gen["boundary"]
        if 2 * boundary >= n:
            raise ConfigError(
                f"{key}.generate.boundary={boundary} leaves no room for peaks in "
                f"n_points={n} (peaks are drawn in [boundary, n_points - boundary))"
            )
        pc = gen["peak_count"]
        if pc["distribution"] == "uniform" and pc["min"] > pc["max"]:
            raise ConfigError(
                f"{key}.generate.peak_count: min={pc['min']} is larger than max={pc['max']}"
            )
        if pc["max"] > n - 2 * boundary:
            raise ConfigError(
                f"{key}.generate.peak_count.max={pc['max']} exceeds the "
                f"{n - 2 * boundary} positions available"
            )
    elif source == "file":
        if "classes_file" not in ds:
            raise ConfigError(f"{key}.classes_file is required when source is 'file'")
        path = config_path(ds["classes_file"])
        if not path.is_file():
            raise ConfigError(
                f"{key}.classes_file={ds['classes_file']!r}: no such file (relative paths are "
                f"taken from the working directory {Path.cwd()}, else from {WORKFLOW_DIR})"
            )
    if source in ("structures", "peaks"):
        _check_own_phases(name, ds)
    else:
        for own in ("structures", "peaks_file", "axis", "xrd"):
            if own in ds:
                raise ConfigError(f"{key}.{own} is only used with source 'structures' or 'peaks'")
    if source != "file" and "classes_file" in ds:
        raise ConfigError(f"{key}.classes_file is only used with source 'file' (got {source!r})")
    if source != "generated" and "generate" in ds:
        raise ConfigError(f"{key}.generate is only used with source 'generated' (got {source!r})")
    path = classes_source_path(ds, basedir)
    if path is not None:
        from specbench.data.classes import check_classes_file  # no heavy imports

        try:
            classes = check_classes_file(path, n_points=ds.get("n_points"))
        except ValueError as exc:
            raise ConfigError(f"{key}: {exc}") from None
        if len(classes) < 2:
            raise ConfigError(
                f"{key}: {path} has {len(classes)} class; a benchmark needs at least 2"
            )
    render = ds["render"]
    low, high = render["sigma"]
    if low > high:
        raise ConfigError(f"{key}.render.sigma=[{low}, {high}]: low is larger than high")
    for section in ("render", "test"):
        _check_artifacts(f"{key}.{section}", ds.get(section) or {})


def _check_own_phases(name: str, ds: dict) -> None:
    """A structures or peaks dataset: its settings, then its classes built (the CIFs read and
    their patterns computed, or the peak list read) so that a bad file stops the plan."""
    key, source = f"datasets.{name}", ds["source"]
    needed = ["n_points", "axis", "structures" if source == "structures" else "peaks_file"]
    for setting in needed:
        if setting not in ds:
            raise ConfigError(f"{key}.{setting} is required when source is {source!r}")
    start, stop = ds["axis"]["range"]
    if not start < stop:
        raise ConfigError(f"{key}.axis.range=[{start}, {stop}]: start must be below stop")
    other = "peaks_file" if source == "structures" else "structures"
    for wrong in (other, "classes_file", "generate"):
        if wrong in ds:
            raise ConfigError(
                f"{key}.{wrong} is not used with source {source!r} (it takes `{needed[2]}`)"
            )
    if source == "peaks" and ds.get("xrd"):
        raise ConfigError(f"{key}.xrd is only used with source 'structures'")
    unit = ds["axis"].get("unit", "2theta")
    if source == "structures" and unit != "2theta":  # the patterns are computed in 2θ
        raise ConfigError(
            f"{key}.axis.unit={unit!r}: the patterns of structures are in 2theta (degrees)"
        )
    if unit == "2theta" and not (0 <= start and stop <= 180):  # a diffraction angle
        raise ConfigError(
            f"{key}.axis.range=[{start}, {stop}]: 2theta (degrees) lies between 0 and 180"
        )
    variation = ds["render"].get("xrd") or {}
    low, high = variation.get("size") or (1, 1)
    if low > high:
        raise ConfigError(f"{key}.render.xrd.size=[{low}, {high}]: smallest is larger than largest")
    texture = variation.get("preferred_orientation") or {"direction": [0, 0, 1], "r": [1, 1]}
    if not any(texture["direction"]) or texture["r"][0] > texture["r"][1]:
        raise ConfigError(
            f"{key}.render.xrd.preferred_orientation={texture}: the direction must not be "
            "[0, 0, 0] and r is [low, high]"
        )
    from specbench.data.classes import ClassesError
    from specbench.data.phases import own_classes

    files = _own_files(key, ds)
    try:
        classes = own_classes(ds, name=name, source=files)
    except ClassesError as exc:
        raise ConfigError(f"{key}: {exc}") from None
    if len(classes) < 2:
        raise ConfigError(f"{key}: {len(classes)} class; a benchmark needs at least 2")


def _own_files(key: str, ds: dict) -> list[Path]:
    """The input files of a structures or peaks dataset (specbench.data.phases.source_files);
    ConfigError naming the setting and the path where one is missing or a folder has no CIF."""
    from specbench.data.classes import ClassesError
    from specbench.data.phases import source_files

    setting = "structures" if ds["source"] == "structures" else "peaks_file"
    given = ds[setting]
    items = [given] if isinstance(given, str) else list(given)
    for j, item in enumerate(items):
        path = config_path(item)
        folder = setting == "structures"  # a folder of CIFs, or a file
        if not (path.exists() if folder else path.is_file()):
            where = f"{key}.{setting}" + ("" if isinstance(given, str) else f"[{j}]")
            raise ConfigError(
                f"{where}={item!r}: no such {'file or folder' if folder else 'file'} (relative "
                f"paths are taken from the working directory {Path.cwd()}, else from "
                f"{WORKFLOW_DIR})"
            )
    try:
        return source_files(ds)
    except ClassesError as exc:  # a folder without CIFs, two files of one name
        raise ConfigError(f"{key}.{setting}: {exc}") from None


def _check_value(key: str, value: Any, *, minimum=None, maximum=None, positive=False) -> None:
    """A number or a range [low, high] (see specbench.data.artifacts) within the given bounds."""
    shown = json.dumps(value)
    values = list(value) if isinstance(value, (list, tuple)) else [value]
    if len(values) == 2 and values[0] > values[1]:
        raise ConfigError(f"{key}={shown}: empty range (low is larger than high)")
    for v in values:
        if positive and not v > 0:
            raise ConfigError(f"{key}={shown}: must be larger than 0")
        if minimum is not None and v < minimum or maximum is not None and v > maximum:
            raise ConfigError(f"{key}={shown}: must be within [{minimum}, {maximum}]")


def _check_artifacts(key: str, section: dict) -> None:
    """Peak shape, noise and background of a dataset's render or test section."""
    shape = section.get("peak_shape")
    if shape is not None:
        if shape["shape"] == "pseudo_voigt":
            if "eta" not in shape:
                raise ConfigError(f"{key}.peak_shape.eta is required when shape is 'pseudo_voigt'")
            _check_value(f"{key}.peak_shape.eta", shape["eta"], minimum=0, maximum=1)
        elif "eta" in shape:
            raise ConfigError(
                f"{key}.peak_shape.eta is only used with shape 'pseudo_voigt' "
                f"(got {shape['shape']!r})"
            )
    noise = section.get("noise")
    if noise is not None:
        level = {"gaussian": "snr", "poisson": "counts"}[noise["kind"]]
        _check_value(f"{key}.noise.{level}", noise[level], positive=True)
    background = section.get("background")
    if background is not None:
        for j, value in enumerate(background.get("polynomial") or []):
            _check_value(f"{key}.background.polynomial[{j}]", value)
        exponential = background.get("exponential")
        if exponential is not None:
            _check_value(f"{key}.background.exponential.amplitude", exponential["amplitude"])
            _check_value(f"{key}.background.exponential.decay", exponential["decay"], positive=True)
