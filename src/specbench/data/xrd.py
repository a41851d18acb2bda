"""Position-aware X-ray diffraction variation of a dataset of your own phases (``render.xrd``).

Unlike the uniform jitter of every dataset (specbench.data.render.random_split: each peak moves
by its own random shift), a lattice strain ε stretches the whole pattern: Bragg's law with
d' = d (1 + ε) moves every peak of a spectrum by Δ2θ = −2ε·tan θ (θ = 2θ / 2, in radians), so
peaks at high angles move further, all in the same direction. numpy only: no pymatgen here.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from specbench.data.classes import ClassSet

__all__ = ["XRD_STREAM", "axis_grid", "grid_step", "strain_shift", "vary_xrd"]


def grid_step(start: float, stop: float, n_points: int) -> float:
    """The axis distance between two neighbouring points of a grid of `n_points` over
    [start, stop] (point i at start + i * step): the one definition of a dataset's grid."""
    return (float(stop) - float(start)) / (int(n_points) - 1)


def axis_grid(start: float, stop: float, n_points: int) -> np.ndarray:
    """The x value of every point of a dataset's grid (start..stop, evenly)."""
    return np.linspace(float(start), float(stop), int(n_points))


def strain_shift(
    positions: np.ndarray, strain: np.ndarray, *, start: float, stop: float, n_points: int
) -> np.ndarray:
    """Positions (grid points, any shape [rows, peaks]) moved by lattice strain ε per row
    (``strain`` [rows]): Δ2θ = −2ε·tan θ, θ = 2θ / 2 at each peak, to the nearest point."""
    step = grid_step(start, stop, n_points)
    two_theta = start + np.asarray(positions, dtype=np.float64) * step
    delta = -2.0 * np.asarray(strain, dtype=np.float64)[:, None] * np.tan(np.radians(two_theta / 2))
    moved = np.rint((two_theta + np.degrees(delta) - start) / step).astype(np.int64)
    return np.clip(moved, 0, n_points - 1)


#: The stream of the XRD variation draws (default_rng([class, seed, split, STREAM])), apart from
#: the shift, height and width draws of specbench.data.render.random_split.
XRD_STREAM = 7


def vary_xrd(plan, classes: ClassSet, xrd: dict, *, seed: int, split_code: int):
    """A training/validation plan with the XRD variation of ``render.xrd`` applied: a lattice
    strain ε ~ U(−strain, strain) per spectrum moves its peaks by Δ2θ = −2ε·tan θ
    (:func:`strain_shift`). Class k's draws: default_rng([k, seed, split_code, XRD_STREAM])."""
    axis = classes.metadata.get("axis")
    if not xrd.get("strain") or axis is None:
        return plan
    strain = np.zeros(len(plan), dtype=np.float64)
    for k in range(len(classes)):
        rows = np.flatnonzero(plan.labels == k)
        rng = np.random.default_rng([k, seed, split_code, XRD_STREAM])
        strain[rows] = rng.uniform(-xrd["strain"], xrd["strain"], size=len(rows))
    moved = strain_shift(
        plan.positions, strain, start=axis["start"], stop=axis["stop"], n_points=plan.n_points
    )
    padding = np.arange(plan.positions.shape[1])[None, :] >= plan.counts[:, None]
    moved[padding] = 0
    return dataclasses.replace(plan, positions=moved.astype(np.int32))
