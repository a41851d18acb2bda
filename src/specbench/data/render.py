"""Rendering spectra of classes: random training/validation variation and fixed test variants.

A split is planned (:class:`SplitPlan`: every spectrum's peaks, width and artifacts, one row per
spectrum, class-major), then rendered block by block by :func:`specbench.data.peaks.render_peaks` (the
Gaussian broadening of peak lists, with gaussian_filter1d's semantics) and streamed to Parquet.

Randomness (NumPy SPEC 7): class k's spectra of split s come from
``default_rng([k, seed, SPLIT_CODES[s]])``, so rendering is reproducible and class k's rows do not
change when classes are added or removed.

Measurement artifacts (other peak shapes, a background, noise; specbench.data.artifacts) are off unless
the config's ``render``/``test`` asks for them; then the plan carries their per-row parameters,
render_peaks mixes the Lorentzian kernel in by each row's eta, and apply_artifacts adds background
and noise. Without them nothing here changes: the same spectra and the same Parquet files.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from specbench.core import schema
from specbench.data import splits
from specbench.data.artifacts import Artifacts, apply_artifacts, draw_artifacts, settings_of
from specbench.data.classes import ClassSet
from specbench.data.xrd import broaden_test, vary_xrd
from specbench.data.peaks import (  # noqa: F401 (gaussian_kernels, profile_kernels: public here too)
    gaussian_kernels,
    profile_kernels,
    render_peaks,
)
from specbench.data.variants import (
    MAX_HEIGHT,
    find_ambiguous_pairs,
    parse_variant,
    tallest_mask,
)

SPLIT_CODES = {"train": 0, "val": 1}
#: Where the schema defines a dataset's render and test settings and their defaults.
RENDER = ("datasets", "*", "render")
TEST = ("datasets", "*", "test")


@dataclass
class SplitPlan:
    """What the spectra of one split are rendered from (one row per spectrum, class-major).

    positions/heights are padded [rows, max_peaks] arrays (the stored float32 heights and sigma
    are exactly what is rendered); counts[r] says how many entries of row r are peaks, in class
    order (a later entry overwrites an earlier one at the same position).
    """

    n_points: int
    labels: np.ndarray  # int32 [rows]
    positions: np.ndarray  # int32 [rows, max_peaks]
    heights: np.ndarray  # float32 [rows, max_peaks]
    counts: np.ndarray  # int64 [rows]
    sigma: np.ndarray  # float32 [rows]
    variant: list[str]
    artifacts: Artifacts | None = None  # per-row shape/noise/background; None: Gaussian, clean
    # float32 [rows, max_peaks]: every peak's own width (X-ray size broadening); None: sigma's
    peak_sigma: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def render(self, start: int = 0, stop: int | None = None, out=None) -> np.ndarray:
        """Spectra float32 of rows start:stop (all by default), into `out` when given."""
        stop = len(self) if stop is None else stop
        rows = slice(start, stop)
        art = None if self.artifacts is None else self.artifacts[rows]
        spectra = render_peaks(
            self.positions[rows],
            self.heights[rows],
            self.sigma[rows] if self.peak_sigma is None else self.peak_sigma[rows],
            self.n_points,
            counts=self.counts[rows],
            out=out,
            eta=None if art is None else art.eta,
        )
        return spectra if art is None else apply_artifacts(spectra, art, out=spectra)

    def peak_lists(self, start: int = 0, stop: int | None = None):
        """(positions, heights) of rows start:stop as lists of 1-D arrays (the valid peaks)."""
        stop = len(self) if stop is None else stop
        pos = [self.positions[r, : self.counts[r]] for r in range(start, stop)]
        hgt = [self.heights[r, : self.counts[r]] for r in range(start, stop)]
        return pos, hgt

    def peak_widths(self, start: int = 0, stop: int | None = None):
        """Every peak's own width of rows start:stop as a list of 1-D arrays (None without)."""
        if self.peak_sigma is None:
            return None
        stop = len(self) if stop is None else stop
        return [self.peak_sigma[r, : self.counts[r]] for r in range(start, stop)]


# ------------------------------------------------------------------ splits


def _padded(classes: ClassSet) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    counts = np.array([len(p) for p in classes.positions], dtype=np.int64)
    slots = int(counts.max()) if len(counts) else 0
    pos = np.zeros((len(classes), slots), dtype=np.int64)
    hgt = np.zeros((len(classes), slots), dtype=np.float64)
    for k, (p, h) in enumerate(zip(classes.positions, classes.heights)):
        pos[k, : len(p)] = p
        hgt[k, : len(h)] = h
    return pos, hgt, counts


def random_split(
    classes: ClassSet,
    *,
    per_class: int,
    seed: int,
    split: str,
    shift: int | None = None,
    height_shift: float | None = None,
    sigma: Sequence[float] | None = None,
    vary_tallest: bool | None = None,
    artifacts: dict | None = None,
) -> SplitPlan:
    """Training/validation spectra: per_class random variations of every class (class-major).

    For each spectrum, every peak position moves by an independent uniform integer in
    [-shift, shift) (clipped to the spectrum), every height by uniform(-height_shift, height_shift)
    (clipped to [0, 2]; the tallest peak is kept when vary_tallest is false), and the width is
    sigma ~ uniform(sigma[0], sigma[1]). Class k's draws come from default_rng([k, seed, split])
    with split 0 for train and 1 for val. artifacts: {peak_shape, noise, background} settings
    (specbench.data.artifacts; None or {}: Gaussian peaks, no noise, no background). Other settings
    left None: the schema's defaults (``datasets.*.render``).
    """
    if split not in SPLIT_CODES:
        raise ValueError(f"split must be one of {sorted(SPLIT_CODES)}, got {split!r}")
    shift, height_shift, sigma, vary_tallest = _or_defaults(
        RENDER, shift=shift, height_shift=height_shift, sigma=sigma, vary_tallest=vary_tallest
    ).values()
    n = classes.n_points
    base_pos, base_hgt, counts = _padded(classes)
    n_classes, slots = base_pos.shape
    rows = n_classes * per_class
    shifts = np.zeros((rows, slots), dtype=np.int64)
    dh = np.zeros((rows, slots), dtype=np.float64)
    widths = np.zeros(rows, dtype=np.float64)
    code = SPLIT_CODES[split]
    for k in range(n_classes):
        c = int(counts[k])
        rng = np.random.default_rng([k, seed, code])
        block = slice(k * per_class, (k + 1) * per_class)
        if shift > 0:
            shifts[block, :c] = rng.integers(-shift, shift, size=(per_class, c))
        dh[block, :c] = rng.uniform(-height_shift, height_shift, size=(per_class, c))
        widths[block] = rng.uniform(sigma[0], sigma[1], size=per_class)
        if not vary_tallest:
            dh[block, :c][:, tallest_mask(base_hgt[k, :c])] = 0.0
    labels = np.repeat(np.arange(n_classes, dtype=np.int32), per_class)
    padding = np.arange(slots)[None, :] >= counts[labels][:, None]
    positions = np.clip(base_pos[labels] + shifts, 0, n - 1).astype(np.int32)
    heights = np.clip(base_hgt[labels] + dh, 0.0, MAX_HEIGHT).astype(np.float32)
    positions[padding] = 0
    heights[padding] = 0.0
    return SplitPlan(
        n,
        labels,
        positions,
        heights,
        counts[labels],
        widths.astype(np.float32),
        ["random"] * rows,
        draw_artifacts(artifacts, labels, seed=seed, split=split) if artifacts else None,
    )


def test_split(
    classes: ClassSet,
    *,
    sigma: float | None = None,
    shift: int | None = None,
    delta: float | None = None,
    variants: Sequence[str] | None = None,
    artifacts: dict | None = None,
    seed: int = 0,
) -> SplitPlan:
    """Test spectra: the fixed variants of every class (its own test_variants, else `variants`),
    class-major in the listed order, all at width sigma; a class's own test_shift and test_delta
    (specbench.data.classes) replace `shift` and `delta` for its variants. No randomness in the
    peaks; artifacts (as in random_split) draw from the test split's streams of `seed`. Settings
    left None: the schema's defaults (``datasets.*.test``).

    Same result as specbench.data.variants.apply_variant per (class, variant), vectorised: heights
    +/-delta except at the class's tallest peak, clipped to [0, 2]; positions +/-shift, clipped.
    """
    sigma, shift, delta, variants = _or_defaults(
        TEST, sigma=sigma, shift=shift, delta=delta, variants=variants
    ).values()
    n = classes.n_points
    base_pos, base_hgt, counts = _padded(classes)
    labels, codes = [], []
    for k in range(len(classes)):
        own = classes.test_variants[k] or list(variants)
        labels.extend([k] * len(own))
        codes.extend(own)
    shifts, deltas = class_test_settings(classes, shift, delta)
    parsed = {code: parse_variant(code) for code in set(codes)}
    labels_a = np.asarray(labels, dtype=np.int32)
    rows, slots = len(labels_a), base_pos.shape[1]
    h_sign = np.array([parsed[c].height for c in codes], dtype=np.float64)
    s_sign = np.array([parsed[c].shift for c in codes], dtype=np.int64)
    padding = np.arange(slots)[None, :] >= counts[:, None]
    tallest = base_hgt == np.where(padding, -np.inf, base_hgt).max(axis=1, keepdims=True)
    vary = ~tallest[labels_a] & ~padding[labels_a]
    row_delta, row_shift = deltas[labels_a], shifts[labels_a]
    heights = base_hgt[labels_a] + np.where(vary, (h_sign * row_delta)[:, None], 0.0)
    heights = np.where(vary, np.clip(heights, 0.0, MAX_HEIGHT), heights)
    positions = np.clip(base_pos[labels_a] + (s_sign * row_shift)[:, None], 0, n - 1)
    positions[padding[labels_a]] = 0
    names = [
        parsed[code].label(int(row_shift[i]), float(row_delta[i])) for i, code in enumerate(codes)
    ]
    return SplitPlan(
        n,
        labels_a,
        positions.astype(np.int32),
        heights.astype(np.float32),
        counts[labels_a],
        np.full(rows, sigma, dtype=np.float32),
        names,
        draw_artifacts(artifacts, labels_a, seed=seed, split="test") if artifacts else None,
    )


test_split.__test__ = False  # not a pytest test function


def class_test_settings(
    classes: ClassSet, shift: int, delta: float
) -> tuple[np.ndarray, np.ndarray]:
    """Every class's test shift (int64) and height change (float64): its own where the classes
    file gives one (test_shift, test_delta), else the dataset's `shift` and `delta`."""
    n = len(classes)
    own_shift = classes.test_shift or [None] * n
    own_delta = classes.test_delta or [None] * n
    shifts = np.array([int(shift) if s is None else s for s in own_shift], dtype=np.int64)
    deltas = np.array([float(delta) if d is None else d for d in own_delta], dtype=np.float64)
    return shifts, deltas


def _or_defaults(location: tuple[str, ...], **given):
    """`given` (in its order) with each None replaced by the schema's default at `location`."""
    if all(value is not None for value in given.values()):
        return given
    default = schema.defaults(*location)
    return {key: default[key] if value is None else value for key, value in given.items()}


def fill_defaults(render: dict) -> dict:
    """The render params {seed, render, test} with the schema's defaults filled in and checked
    (specbench.core.schema.fill; a SchemaError names the offending setting). In the workflow the
    config has them already (Snakemake validates it against the same schema)."""
    return {
        "seed": int(render["seed"]),
        "render": schema.fill(render["render"], *RENDER, name="render"),
        "test": schema.fill(render.get("test"), *TEST, name="test"),
    }


def plan_splits(classes: ClassSet, render: dict, test: bool = True) -> dict[str, SplitPlan]:
    """Plans of train, val and (unless not `test`) test of a class set with the params
    {seed, render, test}."""
    params = fill_defaults(render)
    r = params["render"]
    common = {
        "seed": params["seed"],
        "shift": int(r["shift"]),
        "height_shift": float(r["height_shift"]),
        "sigma": tuple(float(s) for s in r["sigma"]),
        "vary_tallest": bool(r["vary_tallest"]),
        "artifacts": settings_of(r),
    }
    plans = {
        split: random_split(classes, per_class=int(r[f"{split}_per_class"]), split=split, **common)
        for split in ("train", "val")
    }
    if r.get("xrd"):  # position-aware X-ray variation (specbench.data.xrd)
        for split, plan in plans.items():
            plans[split] = vary_xrd(
                plan, classes, r["xrd"], seed=params["seed"], split_code=SPLIT_CODES[split]
            )
    return {**plans, "test": plan_test(classes, render)} if test else plans


def plan_test(classes: ClassSet, render: dict) -> SplitPlan:
    """The plan of the test split alone: what a dataset's test spectra are, without drawing the
    training and validation splits. Params {seed, render, test} as plan_splits takes them, of
    whose ``render`` only ``xrd`` is read (the keys config_datasets.TEST_RENDER_KEYS names: rule
    render_test_split gets those alone)."""
    t = schema.fill(render.get("test"), *TEST, name="test")
    xrd = (render.get("render") or {}).get("xrd")
    plan = test_split(
        classes,
        sigma=float(t["sigma"]),
        shift=int(t["shift"]),
        delta=float(t["delta"]),
        variants=t["variants"],
        artifacts=settings_of(t),
        seed=int(render["seed"]),
    )
    # X-ray crystallite-size broadening of your own phases (specbench.data.xrd)
    if not xrd:
        return plan
    return broaden_test(plan, classes, schema.fill(xrd, *RENDER, "xrd", name="render.xrd"))


def plan_from_split(split: splits.Split) -> SplitPlan:
    """The plan of a split read back (splits.read_split): re-renders every row from its columns."""
    counts = np.array([len(p) for p in split.peak_positions], dtype=np.int64)
    slots = int(counts.max()) if len(counts) else 0
    positions = np.zeros((len(split), slots), dtype=np.int32)
    heights = np.zeros((len(split), slots), dtype=np.float32)
    widths = None if split.peak_sigma is None else np.ones((len(split), slots), np.float32)
    for r, (p, h) in enumerate(zip(split.peak_positions, split.peak_heights)):
        positions[r, : len(p)] = p
        heights[r, : len(h)] = h
        if widths is not None:
            widths[r, : len(p)] = split.peak_sigma[r]
    return SplitPlan(
        split.n_points,
        split.labels,
        positions,
        heights,
        counts,
        split.sigma,
        list(split.variant),
        split.artifacts,
        widths,
    )


def write_plan(
    plan: SplitPlan,
    path: str | os.PathLike,
    metadata: dict | None = None,
    block_rows: int = splits.ROW_GROUP_ROWS,
) -> None:
    """Render a split block by block (one reused buffer) and stream it to a Parquet file."""
    buffer = np.empty((min(block_rows, max(len(plan), 1)), plan.n_points), dtype=np.float32)
    with splits.SplitWriter(
        path,
        plan.n_points,
        metadata=metadata,
        artifacts=plan.artifacts is not None,
        peak_sigma=plan.peak_sigma is not None,
    ) as writer:
        for start in range(0, len(plan), block_rows):
            stop = min(start + block_rows, len(plan))
            spectra = plan.render(start, stop, out=buffer[: stop - start])
            pos, hgt = plan.peak_lists(start, stop)
            writer.write(
                spectra=spectra,
                labels=plan.labels[start:stop],
                peak_positions=pos,
                peak_heights=hgt,
                sigma=plan.sigma[start:stop],
                variant=plan.variant[start:stop],
                artifacts=None if plan.artifacts is None else plan.artifacts[start:stop],
                peak_sigma=plan.peak_widths(start, stop),
            )


def ambiguous_pairs(classes: ClassSet, render: dict) -> list[dict]:
    """Test variants inside another class's training variation (specbench.data.variants)."""
    params = fill_defaults(render)
    r, t = params["render"], params["test"]
    variants = [v or list(t["variants"]) for v in classes.test_variants]
    shifts, deltas = class_test_settings(classes, int(t["shift"]), float(t["delta"]))
    return find_ambiguous_pairs(
        classes.positions,
        classes.heights,
        variants,
        n_points=classes.n_points,
        train_shift=int(r["shift"]),
        height_shift=float(r["height_shift"]),
        vary_tallest=bool(r["vary_tallest"]),
        test_shift=shifts,
        test_delta=deltas,
    )
