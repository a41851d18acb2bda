"""Position-aware X-ray diffraction variation of a dataset of your own phases (``render.xrd``).

Unlike the uniform jitter of every dataset (specbench.data.render.random_split: each peak moves
by its own random shift), the variation of a diffraction pattern depends on the angle, and acts
on a whole spectrum at once. Per training/validation spectrum, each drawn uniformly from the
configured range (θ = 2θ / 2; angles in radians inside the formulas, 2θ in degrees outside):

- **lattice strain** ε ~ U(−strain, strain): Bragg's law with d' = d (1 + ε) moves every peak by
  Δ2θ = −2ε·tan θ, so peaks at high angles move further, all in the same direction;
- **sample displacement** s ~ U(−displacement, displacement) (mm) of a Bragg–Brentano sample off
  the focusing circle of goniometer radius R (mm): Δ2θ = −2 s·cos θ / R, so peaks at low angles
  move further;
- **crystallite size** L ~ U(size) (nm) broadens every peak by Scherrer's equation,
  β = K λ / (L cos θ) (FWHM in radians of 2θ; K the shape factor, λ the wavelength): wider at high
  angles. The peak's Gaussian width combines it with the spectrum's instrument width σ (points)
  in quadrature: σ_peak² = σ² + (β / (2√(2 ln 2)) / step)²;
- **preferred orientation** r ~ U(r) along the plane normal [h k l] ``direction`` scales every
  peak's intensity by the March–Dollase factor averaged over the reflections behind it,
  P = Σ_j w_j (r² cos²α_j + sin²α_j / r)^(−3/2) / Σ_j w_j, α_j the angle between reflection j's
  normal and the direction (all symmetry equivalents of each hkl family: specbench.data.phases
  keeps them with the classes, ``reflections``). r < 1: platelets lying flat on the holder (the
  direction's reflections grow), r > 1: needles, r = 1: none. The tallest peak of a spectrum keeps
  its height, the others follow it.

Both shifts are added and rounded once to the nearest grid point. The test split is the classes'
reference patterns (no strain, no displacement, no texture), broadened by crystallites of the
harmonic mean of the size range (the middle of the training's Scherrer widths). numpy only: no
pymatgen here; the wavelength (Å) comes with the classes (metadata ``wavelength_angstrom``).
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np

from specbench.data.classes import ClassSet

__all__ = [
    "FWHM_PER_SIGMA",
    "XRD_STREAM",
    "axis_grid",
    "broaden_test",
    "displacement_delta",
    "grid_step",
    "march_dollase",
    "scherrer_fwhm",
    "strain_delta",
    "texture_factors",
    "to_points",
    "two_theta",
    "vary_xrd",
]

#: A Gaussian's FWHM divided by its σ.
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))


def grid_step(start: float, stop: float, n_points: int) -> float:
    """The axis distance between two neighbouring points of a grid of `n_points` over
    [start, stop] (point i at start + i * step): the one definition of a dataset's grid."""
    return (float(stop) - float(start)) / (int(n_points) - 1)


def axis_grid(start: float, stop: float, n_points: int) -> np.ndarray:
    """The x value of every point of a dataset's grid (start..stop, evenly)."""
    return np.linspace(float(start), float(stop), int(n_points))


def two_theta(positions: np.ndarray, *, start: float, stop: float, n_points: int) -> np.ndarray:
    """The 2θ (degrees) of grid positions (any shape)."""
    step = grid_step(start, stop, n_points)
    return start + np.asarray(positions, dtype=np.float64) * step


def to_points(angles: np.ndarray, *, start: float, stop: float, n_points: int) -> np.ndarray:
    """The nearest grid point (int64, clipped to the grid) of 2θ values in degrees."""
    step = grid_step(start, stop, n_points)
    return np.clip(np.rint((np.asarray(angles) - start) / step).astype(np.int64), 0, n_points - 1)


def strain_delta(angles: np.ndarray, strain: np.ndarray) -> np.ndarray:
    """Δ2θ (degrees) of peaks at 2θ `angles` [rows, peaks] under lattice strain ε per row
    (``strain`` [rows]): −2ε·tan θ."""
    theta = np.radians(np.asarray(angles, dtype=np.float64) / 2)
    return np.degrees(-2.0 * np.asarray(strain, dtype=np.float64)[:, None] * np.tan(theta))


def displacement_delta(angles: np.ndarray, displacement: np.ndarray, radius: float) -> np.ndarray:
    """Δ2θ (degrees) of peaks at 2θ `angles` [rows, peaks] of a sample displaced by s mm per row
    (``displacement`` [rows]) on a goniometer of radius R mm: −2 s·cos θ / R."""
    theta = np.radians(np.asarray(angles, dtype=np.float64) / 2)
    shift = -2.0 * np.asarray(displacement, dtype=np.float64)[:, None] * np.cos(theta)
    return np.degrees(shift / float(radius))


def scherrer_fwhm(
    angles: np.ndarray, size: np.ndarray, wavelength: float, shape_factor: float
) -> np.ndarray:
    """The FWHM (degrees of 2θ) of peaks at 2θ `angles` [rows, peaks] from crystallites of size
    L nm per row (``size`` [rows]): β = K λ / (L cos θ), λ in Å (L in Å is 10 L nm)."""
    theta = np.radians(np.asarray(angles, dtype=np.float64) / 2)
    length = 10.0 * np.asarray(size, dtype=np.float64)[:, None]
    return np.degrees(float(shape_factor) * float(wavelength) / (length * np.cos(theta)))


def march_dollase(cos2: np.ndarray, r: np.ndarray) -> np.ndarray:
    """The March–Dollase factor (r² cos²α + sin²α / r)^(−3/2) (broadcasting `cos2` = cos²α and
    `r`); 1 at r = 1 for every α."""
    cos2 = np.asarray(cos2, dtype=np.float64)
    r = np.asarray(r, dtype=np.float64)
    return (r * r * cos2 + (1.0 - cos2) / r) ** -1.5


def texture_factors(reflections: dict, direction, r: np.ndarray) -> np.ndarray:
    """Every peak's preferred-orientation factor [len(r), peaks] for a class's ``reflections``
    ({reciprocal, peaks: per peak [[h, k, l, weight], ...]}, specbench.data.phases) along the
    plane normal `direction` [h, k, l], for each March–Dollase r: the weighted mean of
    :func:`march_dollase` over the peak's reflections."""
    reciprocal = np.asarray(reflections["reciprocal"], dtype=np.float64)
    rows = [(j, m) for j, members in enumerate(reflections["peaks"]) for m in members]
    peak = np.array([j for j, _ in rows], dtype=np.int64)
    members = np.array([m for _, m in rows], dtype=np.float64).reshape(-1, 4)
    normals = members[:, :3] @ reciprocal
    axis = np.asarray(direction, dtype=np.float64) @ reciprocal
    cos = normals @ axis / (np.linalg.norm(normals, axis=1) * np.linalg.norm(axis))
    assign = np.zeros((len(members), len(reflections["peaks"])))
    assign[np.arange(len(members)), peak] = members[:, 3]
    factors = march_dollase(cos[None, :] ** 2, np.asarray(r, np.float64)[:, None]) @ assign
    return factors / assign.sum(axis=0)


def _peak_sigma(plan, angles, size, classes: ClassSet, xrd: dict, grid: dict) -> np.ndarray:
    """Every peak's Gaussian width (points, float32 [rows, peaks]): the row's instrument σ and
    the Scherrer width of crystallites of `size` nm [rows] in quadrature (padding: 1)."""
    wavelength = classes.metadata.get("wavelength_angstrom")
    if wavelength is None:
        raise ValueError("render.xrd.size needs the classes' wavelength (source 'structures')")
    fwhm = scherrer_fwhm(angles, size, wavelength, xrd["shape_factor"])
    scherrer = fwhm / FWHM_PER_SIGMA / grid_step(**grid)
    sigma = np.sqrt(np.asarray(plan.sigma, np.float64)[:, None] ** 2 + scherrer**2)
    padding = np.arange(plan.positions.shape[1])[None, :] >= plan.counts[:, None]
    sigma[padding] = 1.0
    return sigma.astype(np.float32)


def _grid(classes: ClassSet, plan) -> dict | None:
    axis = classes.metadata.get("axis")
    if axis is None:
        return None
    return {"start": float(axis["start"]), "stop": float(axis["stop"]), "n_points": plan.n_points}


#: The options of ``render.xrd`` that vary the training and validation spectra.
VARIATIONS = ("strain", "displacement", "size", "preferred_orientation")


def _textured(heights, rows, plan, classes: ClassSet, k: int, texture: dict, ratio) -> np.ndarray:
    """`heights` (a copy on the first call) with class k's `rows` scaled by their preferred-
    orientation factors, each row rescaled so that its tallest peak keeps its height."""
    reflections = (classes.metadata.get("reflections") or [None] * len(classes))[k]
    if reflections is None:
        raise ValueError("render.xrd.preferred_orientation needs the classes' reflections "
                         "(source 'structures')")  # fmt: skip
    heights = heights.copy() if heights is plan.heights else heights
    n = len(reflections["peaks"])
    before = heights[rows, :n].astype(np.float64)
    after = before * texture_factors(reflections, texture["direction"], ratio)
    tallest = after.max(axis=1, keepdims=True)
    scale = np.divide(before.max(axis=1, keepdims=True), tallest, where=tallest > 0,
                      out=np.ones_like(tallest))  # fmt: skip
    heights[rows, :n] = (after * scale).astype(np.float32)
    return heights


#: The stream of the XRD variation draws (default_rng([class, seed, split, STREAM])), apart from
#: the shift, height and width draws of specbench.data.render.random_split.
XRD_STREAM = 7


def vary_xrd(plan, classes: ClassSet, xrd: dict, *, seed: int, split_code: int):
    """A training/validation plan with the XRD variation of ``render.xrd`` (schema defaults
    filled) applied (module docstring). Class k's draws, in this order whatever is on (so turning
    one on leaves the draws of the others): strain, displacement, size, March–Dollase r, from
    default_rng([k, seed, split_code, XRD_STREAM])."""
    grid = _grid(classes, plan)
    if grid is None or not any(xrd.get(key) for key in VARIATIONS):
        return plan
    strain, displacement = np.zeros(len(plan)), np.zeros(len(plan))
    size, ratio = np.ones(len(plan)), np.ones(len(plan))  # nm, March-Dollase r
    e, s = float(xrd.get("strain") or 0.0), float(xrd.get("displacement") or 0.0)
    texture = xrd.get("preferred_orientation")
    heights = plan.heights
    for k in range(len(classes)):
        rows = np.flatnonzero(plan.labels == k)
        rng = np.random.default_rng([k, seed, split_code, XRD_STREAM])
        strain[rows] = rng.uniform(-e, e, size=len(rows))
        displacement[rows] = rng.uniform(-s, s, size=len(rows))
        size[rows] = rng.uniform(*(xrd.get("size") or (1.0, 1.0)), size=len(rows))
        ratio[rows] = rng.uniform(*(texture["r"] if texture else (1.0, 1.0)), size=len(rows))
        if texture:
            heights = _textured(heights, rows, plan, classes, k, texture, ratio[rows])
    plan = dataclasses.replace(plan, heights=heights)
    base = two_theta(plan.positions, **grid)
    angles = base + strain_delta(base, strain)
    if s:  # both shifts at the reference angle, added
        angles += displacement_delta(base, displacement, xrd["goniometer_radius"])
    moved = to_points(angles, **grid)
    padding = np.arange(plan.positions.shape[1])[None, :] >= plan.counts[:, None]
    moved[padding] = 0
    plan = dataclasses.replace(plan, positions=moved.astype(np.int32))
    if not xrd.get("size"):
        return plan
    peak_sigma = _peak_sigma(plan, two_theta(moved, **grid), size, classes, xrd, grid)
    return dataclasses.replace(plan, peak_sigma=peak_sigma)


def broaden_test(plan, classes: ClassSet, xrd: dict):
    """The test plan with the crystallite-size broadening of ``render.xrd.size`` [L1, L2] at the
    harmonic mean 2 / (1/L1 + 1/L2) (the middle of the training's Scherrer widths); unchanged
    without it. No strain and no displacement: the test variants are the reference patterns."""
    grid = _grid(classes, plan)
    if grid is None or not xrd.get("size"):
        return plan
    low, high = (float(v) for v in xrd["size"])
    size = np.full(len(plan), 2.0 / (1.0 / low + 1.0 / high))
    angles = two_theta(plan.positions, **grid)
    return dataclasses.replace(plan, peak_sigma=_peak_sigma(plan, angles, size, classes, xrd, grid))
