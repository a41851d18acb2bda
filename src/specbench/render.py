"""Rendering spectra of classes: random training/validation variation and fixed test variants.

A spectrum is the sum of its peaks (deltas of the given heights at integer positions; a later peak
at the same index overwrites an earlier one) broadened by a Gaussian of width sigma points, with
exactly the semantics of ``scipy.ndimage.gaussian_filter1d(x, sigma, mode="constant")``: kernel
radius ``int(4 * sigma + 0.5)``, weights ``exp(-x^2 / (2 sigma^2))`` normalised to sum 1 over the
radius, zero outside the spectrum.

render_peaks does this for many spectra at once without a per-spectrum loop: every peak adds its
row's kernel (computed once per row) to a window of the output, one vectorised scatter per peak
slot, in float64, written once as float32. Work is proportional to peaks x kernel width, not to
spectrum length, which is why it is much faster than filtering each spectrum (benchmarks/render.py).
Narrow kernels (the Gaussian's) scatter point by point and copy back only the touched points;
wide ones (Lorentzian tails) add whole kernel-wide windows to a padded buffer copied back at once.

Randomness (NumPy SPEC 7): class k's spectra of split s come from
``default_rng([k, seed, SPLIT_CODES[s]])``, so rendering is reproducible and class k's rows do not
change when classes are added or removed.

Measurement artifacts (other peak shapes, a background, noise; specbench.artifacts) are off unless
the config's ``render``/``test`` asks for them; then the plan carries their per-row parameters,
render_peaks mixes the Lorentzian kernel in by each row's eta, and apply_artifacts adds background
and noise. Without them nothing here changes: the same spectra and the same Parquet files.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from specbench import io, schema
from specbench.artifacts import (
    Artifacts,
    apply_artifacts,
    draw_artifacts,
    lorentzian_kernels,
    settings_of,
)
from specbench.classes import ClassSet, load_classes
from specbench.variants import (
    MAX_HEIGHT,
    find_ambiguous_pairs,
    log_ambiguous_pairs,
    parse_variant,
    tallest_mask,
    write_ambiguous_pairs,
)

log = logging.getLogger(__name__)

SPLIT_CODES = {"train": 0, "val": 1}
TRUNCATE = 4.0
#: Where the schema defines a dataset's render and test settings and their defaults.
RENDER = ("datasets", "*", "render")
TEST = ("datasets", "*", "test")
CHUNK_ROWS = 256  # rows summed at a time in a float64 buffer (10 MB at 5000 points)
# Below this many output points per touched point a chunk is copied out whole (one pass) rather
# than point by point (an index gather and scatter per touched point).
SPARSE_COPY_FACTOR = 4


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
            self.sigma[rows],
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


# ------------------------------------------------------------------ the renderer


def gaussian_kernels(sigma: np.ndarray, truncate: float = TRUNCATE) -> tuple[np.ndarray, int]:
    """Per-row Gaussian weights as gaussian_filter1d builds them, on a common grid.

    Returns (weights float64 [rows, 2R+1], R) with R the largest radius: row r's weights are
    gaussian_filter1d's for sigma[r] (radius int(truncate*sigma+0.5), normalised to sum 1) in the
    centre and zero outside its own radius.
    """
    sigma = np.asarray(sigma, dtype=np.float64)
    if sigma.size and not np.all(sigma > 0):
        raise ValueError(f"sigma must be positive, got min {sigma.min()}")
    radius = (truncate * sigma + 0.5).astype(np.int64)
    big = int(radius.max()) if radius.size else 0
    x = np.arange(-big, big + 1, dtype=np.int64)
    sigma2 = sigma * sigma
    weights = np.exp((-0.5 / sigma2)[:, None] * (x**2)[None, :])
    weights[np.abs(x)[None, :] > radius[:, None]] = 0.0
    weights /= weights.sum(axis=1, keepdims=True)
    return weights, big


def profile_kernels(sigma: np.ndarray, eta: np.ndarray) -> tuple[np.ndarray, int]:
    """Per-row pseudo-Voigt weights (1 - eta) G + eta L on a common grid (as gaussian_kernels).

    G is gaussian_kernels' row, L lorentzian_kernels' row of the same FWHM (both sum to 1), so
    eta = 0 gives the Gaussian kernel exactly and eta = 1 the Lorentzian one.
    """
    sigma = np.asarray(sigma, dtype=np.float64)
    eta = np.asarray(eta, dtype=np.float64)
    if eta.shape != sigma.shape:
        raise ValueError(f"eta has shape {eta.shape}, sigma {sigma.shape}")
    if eta.size and not np.all((eta >= 0) & (eta <= 1)):
        raise ValueError(f"eta must be in [0, 1], got [{eta.min()}, {eta.max()}]")
    gauss, g_big = gaussian_kernels(sigma)
    mixed = eta > 0
    if not mixed.any():
        return gauss, g_big
    lorentz, l_big = lorentzian_kernels(sigma[mixed])
    big = max(g_big, l_big)
    weights = np.zeros((len(sigma), 2 * big + 1), dtype=np.float64)
    weights[:, big - g_big : big + g_big + 1] = gauss
    mix = eta[mixed][:, None]
    padded = np.zeros((int(mixed.sum()), 2 * big + 1), dtype=np.float64)
    padded[:, big - l_big : big + l_big + 1] = lorentz
    weights[mixed] = (1.0 - mix) * weights[mixed] + mix * padded
    return weights, big


def render_peaks(
    positions: np.ndarray,
    heights: np.ndarray,
    sigma: np.ndarray,
    n_points: int,
    counts: np.ndarray | None = None,
    out: np.ndarray | None = None,
    chunk_rows: int = CHUNK_ROWS,
    eta: np.ndarray | None = None,
) -> np.ndarray:
    """Render spectra float32 [rows, n_points] from padded peaks, as gaussian_filter1d would.

    positions int [rows, P] (in [0, n_points)), heights [rows, P], sigma [rows]; counts[r] (default
    P) is the number of valid entries of row r. Each row equals
    ``gaussian_filter1d(x, sigma[r], mode="constant")`` with x zero except ``x[p] = h`` for its
    peaks in order (a later peak at the same position overwrites), to float32 rounding.

    Sums are taken in float64 in a buffer of chunk_rows rows, one vectorised scatter per peak
    slot, and written to `out` (allocated when None) as float32: only the points that peaks touch
    when the kernels are narrow (work proportional to peaks x kernel width), whole chunks when
    they are wide (SPARSE_COPY_FACTOR decides). The sums and so the bytes are the same either way.

    eta [rows] (default: all Gaussian) mixes in the Lorentzian of the same FWHM per row
    (profile_kernels; specbench.artifacts).
    """
    positions = np.asarray(positions, dtype=np.int64)
    heights = np.asarray(heights, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    if positions.ndim != 2:
        raise ValueError(f"positions must be 2-D [rows, peaks], got shape {positions.shape}")
    rows, slots = positions.shape
    if heights.shape != positions.shape or sigma.shape != (rows,):
        raise ValueError(
            f"shapes differ: positions {positions.shape}, heights {heights.shape}, "
            f"sigma {sigma.shape}"
        )
    if out is None:
        out = np.empty((rows, n_points), dtype=np.float32)
    elif out.shape != (rows, n_points) or out.dtype != np.float32 or not out.flags.c_contiguous:
        raise ValueError(
            f"out must be a C-contiguous float32 array of shape {(rows, n_points)}, got "
            f"{out.dtype} {out.shape}"
        )
    if rows == 0:
        return out
    valid = (
        np.ones((rows, slots), dtype=bool)
        if counts is None
        else np.arange(slots)[None, :] < np.asarray(counts)[:, None]
    )
    if np.any(valid & ((positions < 0) | (positions >= n_points))):
        raise ValueError(f"peak positions outside the spectrum [0, {n_points})")
    # Overwrite semantics: a peak is dropped when a later valid peak of its row has its position.
    later_same = (positions[:, :, None] == positions[:, None, :]) & valid[:, None, :]
    later_same &= np.triu(np.ones((slots, slots), dtype=bool), k=1)[None]
    effective = np.where(valid & ~later_same.any(axis=2), heights, 0.0)

    weights, big = gaussian_kernels(sigma) if eta is None else profile_kernels(sigma, eta)
    chunk_rows = max(1, min(chunk_rows, rows))
    if slots * (2 * big + 1) * SPARSE_COPY_FACTOR < n_points:
        _scatter_sparse(out, positions, effective, weights, big, chunk_rows)
    else:
        _scatter_dense(out, positions, effective, weights, big, chunk_rows)
    return out


def _scatter_sparse(out, positions, effective, weights, big, chunk_rows) -> None:
    """Narrow kernels: one flat-index scatter per peak slot into a float64 buffer; only the
    touched points are copied to `out` (zeroed first) and re-zeroed in the buffer."""
    rows, n_points = out.shape
    offsets = np.arange(-big, big + 1, dtype=np.int64)
    buf = np.zeros(chunk_rows * n_points, dtype=np.float64)
    out[...] = 0.0
    for start in range(0, rows, chunk_rows):
        stop = min(start + chunk_rows, rows)
        row_base = (np.arange(stop - start, dtype=np.int64) * n_points)[:, None]
        touched = []
        for slot in range(positions.shape[1]):
            h = effective[start:stop, slot]
            live = np.flatnonzero(h)
            if live.size == 0:
                continue
            cols = positions[start + live, slot][:, None] + offsets[None, :]
            vals = h[live, None] * weights[start + live]
            index = row_base[live] + cols
            inside = (cols >= 0) & (cols < n_points)
            if not inside.all():
                index, vals = index[inside], vals[inside]
            # One peak per row and slot, so the indices are unique and += is a correct scatter.
            buf[index] += vals
            touched.append(index.ravel())
        if touched:
            index = np.concatenate(touched)
            out[start:stop].reshape(-1)[index] = buf[index]
            buf[index] = 0.0


def _scatter_dense(out, positions, effective, weights, big, chunk_rows) -> None:
    """Wide kernels (e.g. Lorentzian tails): every peak adds its kernel to a kernel-wide window
    of a float64 buffer whose rows are padded by the kernel radius (a contiguous copy per row and
    peak, no per-point index); each chunk is then copied to `out` whole."""
    rows, n_points = out.shape
    width = 2 * big + 1
    buf = np.zeros((chunk_rows, n_points + 2 * big), dtype=np.float64)
    windows = sliding_window_view(buf, width, axis=1, writeable=True)  # [r, p]: centred on p
    for start in range(0, rows, chunk_rows):
        stop = min(start + chunk_rows, rows)
        for slot in range(positions.shape[1]):
            h = effective[start:stop, slot]
            live = np.flatnonzero(h)
            if live.size:  # one peak per row and slot: the windows of one scatter are disjoint
                windows[live, positions[start + live, slot]] += (
                    h[live, None] * weights[start + live]
                )
        out[start:stop] = buf[: stop - start, big : big + n_points]
        buf[: stop - start] = 0.0


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
    (specbench.artifacts; None or {}: Gaussian peaks, no noise, no background). Other settings
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
    class-major in the listed order, all at width sigma. No randomness in the peaks; artifacts
    (as in random_split) draw from the test split's streams of `seed`. Settings left None: the
    schema's defaults (``datasets.*.test``).

    Same result as specbench.variants.apply_variant per (class, variant), vectorised: heights
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
    parsed = {code: parse_variant(code) for code in set(codes)}
    labels_a = np.asarray(labels, dtype=np.int32)
    rows, slots = len(labels_a), base_pos.shape[1]
    h_sign = np.array([parsed[c].height for c in codes], dtype=np.float64)
    s_sign = np.array([parsed[c].shift for c in codes], dtype=np.int64)
    padding = np.arange(slots)[None, :] >= counts[:, None]
    tallest = base_hgt == np.where(padding, -np.inf, base_hgt).max(axis=1, keepdims=True)
    vary = ~tallest[labels_a] & ~padding[labels_a]
    heights = base_hgt[labels_a] + np.where(vary, h_sign[:, None] * delta, 0.0)
    heights = np.where(vary, np.clip(heights, 0.0, MAX_HEIGHT), heights)
    positions = np.clip(base_pos[labels_a] + s_sign[:, None] * int(shift), 0, n - 1)
    positions[padding[labels_a]] = 0
    names = {code: v.label(shift, delta) for code, v in parsed.items()}
    return SplitPlan(
        n,
        labels_a,
        positions.astype(np.int32),
        heights.astype(np.float32),
        counts[labels_a],
        np.full(rows, sigma, dtype=np.float32),
        [names[c] for c in codes],
        draw_artifacts(artifacts, labels_a, seed=seed, split="test") if artifacts else None,
    )


test_split.__test__ = False  # not a pytest test function


def _or_defaults(location: tuple[str, ...], **given):
    """`given` (in its order) with each None replaced by the schema's default at `location`."""
    if all(value is not None for value in given.values()):
        return given
    default = schema.defaults(*location)
    return {key: default[key] if value is None else value for key, value in given.items()}


def fill_defaults(render: dict) -> dict:
    """The render params {seed, render, test} with the schema's defaults filled in and checked
    (specbench.schema.fill; a SchemaError names the offending setting). In the workflow the
    config has them already (Snakemake validates it against the same schema)."""
    return {
        "seed": int(render["seed"]),
        "render": schema.fill(render["render"], *RENDER, name="render"),
        "test": schema.fill(render.get("test"), *TEST, name="test"),
    }


def plan_splits(classes: ClassSet, render: dict) -> dict[str, SplitPlan]:
    """Plans of train, val and test of a class set with the params {seed, render, test}."""
    params = fill_defaults(render)
    r, t = params["render"], params["test"]
    common = {
        "seed": params["seed"],
        "shift": int(r["shift"]),
        "height_shift": float(r["height_shift"]),
        "sigma": tuple(float(s) for s in r["sigma"]),
        "vary_tallest": bool(r["vary_tallest"]),
        "artifacts": settings_of(r),
    }
    return {
        "train": random_split(
            classes, per_class=int(r["train_per_class"]), split="train", **common
        ),
        "val": random_split(classes, per_class=int(r["val_per_class"]), split="val", **common),
        "test": test_split(
            classes,
            sigma=float(t["sigma"]),
            shift=int(t["shift"]),
            delta=float(t["delta"]),
            variants=t["variants"],
            artifacts=settings_of(t),
            seed=params["seed"],
        ),
    }


def plan_from_split(split: io.Split) -> SplitPlan:
    """The plan of a split read back (io.read_split): re-renders every row from its columns."""
    counts = np.array([len(p) for p in split.peak_positions], dtype=np.int64)
    slots = int(counts.max()) if len(counts) else 0
    positions = np.zeros((len(split), slots), dtype=np.int32)
    heights = np.zeros((len(split), slots), dtype=np.float32)
    for r, (p, h) in enumerate(zip(split.peak_positions, split.peak_heights)):
        positions[r, : len(p)] = p
        heights[r, : len(h)] = h
    return SplitPlan(
        split.n_points,
        split.labels,
        positions,
        heights,
        counts,
        split.sigma,
        list(split.variant),
        split.artifacts,
    )


def write_plan(
    plan: SplitPlan,
    path: str | os.PathLike,
    metadata: dict | None = None,
    block_rows: int = io.ROW_GROUP_ROWS,
) -> None:
    """Render a split block by block (one reused buffer) and stream it to a Parquet file."""
    buffer = np.empty((min(block_rows, max(len(plan), 1)), plan.n_points), dtype=np.float32)
    with io.SplitWriter(
        path, plan.n_points, metadata=metadata, artifacts=plan.artifacts is not None
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
            )


def ambiguous_pairs(classes: ClassSet, render: dict) -> list[dict]:
    """Test variants inside another class's training variation (specbench.variants)."""
    params = fill_defaults(render)
    r, t = params["render"], params["test"]
    variants = [v or list(t["variants"]) for v in classes.test_variants]
    return find_ambiguous_pairs(
        classes.positions,
        classes.heights,
        variants,
        n_points=classes.n_points,
        train_shift=int(r["shift"]),
        height_shift=float(r["height_shift"]),
        vary_tallest=bool(r["vary_tallest"]),
        test_shift=int(t["shift"]),
        test_delta=float(t["delta"]),
    )


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
) -> dict[str, int]:
    """Rule render_spectra: render a dataset's three splits to Parquet and list ambiguous pairs.

    render: {seed, render: {...}, test: {...}} of the dataset config (schema defaults are filled
    here too). Spectra are rendered and written in blocks, so memory stays small at any scale.
    Returns the number of spectra per split.
    """
    classes = load_classes(classes_path)
    params = fill_defaults(render)
    r, t = params["render"], params["test"]
    if not r["sigma"][0] <= t["sigma"] <= r["sigma"][1]:
        log.warning(
            "dataset %s: test.sigma=%g is outside the training range render.sigma=%s",
            name,
            t["sigma"],
            r["sigma"],
        )
    plans = plan_splits(classes, params)
    paths = {"train": train_path, "val": val_path, "test": test_path}
    for split, plan in plans.items():
        t0 = time.perf_counter()
        write_plan(
            plan,
            paths[split],
            metadata={"dataset": name, "config_hash": config_hash, "split": split},
        )
        log.info(
            "dataset %s: %s: %d spectra of %d points rendered and written to %s in %.2f s",
            name,
            split,
            len(plan),
            plan.n_points,
            paths[split],
            time.perf_counter() - t0,
        )
    pairs = ambiguous_pairs(classes, params)
    write_ambiguous_pairs(pairs, ambiguous_path)
    log_ambiguous_pairs(pairs, name)
    log.info("dataset %s: %d ambiguous (class, variant, class) rows", name, len(pairs))
    return {split: len(plan) for split, plan in plans.items()}
