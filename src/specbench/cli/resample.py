"""The model's grid and resampling user spectra onto it (``specbench classify``).

The model's grid is its ``n_points`` positions ``0 .. n_points-1``
(:attr:`specbench.evaluation.runs.Run.grid`). ``--grid START,STOP`` (:func:`parse_grid`) says that the
model's points run evenly from START to STOP in the units of the user's x values: point i sits at
``START + i * (STOP - START) / (n_points - 1)`` (:func:`model_positions`). Spectra are then
linearly interpolated there (:func:`resample`, ``numpy.interp``).
"""

from __future__ import annotations

import numpy as np

from specbench.evaluation.runs import RunError, check_grid

__all__ = ["model_positions", "parse_grid", "resample"]


def parse_grid(text: str) -> tuple[float, float]:
    """``"START,STOP"`` → (start, stop); RunError naming `text` otherwise."""
    parts = str(text).split(",")
    if len(parts) != 2:
        raise RunError(f"grid {text!r} must be START,STOP (two numbers, e.g. 10,80)")
    try:
        values = [float(p) for p in parts]
    except ValueError:
        raise RunError(f"grid {text!r} must be START,STOP (two numbers, e.g. 10,80)") from None
    return check_grid(values, "grid")


def model_positions(n_points: int, grid: tuple[float, float]) -> np.ndarray:
    """The model's point positions in x units: n_points evenly from grid[0] to grid[1]."""
    return np.linspace(grid[0], grid[1], n_points)


def resample(
    x: np.ndarray,
    y: np.ndarray,
    positions: np.ndarray,
    *,
    source: str = "",
    grid_given: bool = False,
) -> np.ndarray:
    """Spectra `y` [n, m] sampled at `x` [m], linearly interpolated at `positions` [p].

    `x` may be ascending or descending but must be strictly monotonic, and its range must cover
    `positions` (to a relative tolerance of 1e-9); RunError naming `source` otherwise (with
    `grid_given`, the positions are the user's --grid: the message does not ask for one).
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.atleast_2d(np.asarray(y, dtype=np.float64))
    if not np.isfinite(x).all():
        raise RunError(f"{source}: x values contain NaN or infinite values")
    if len(x) > 1 and x[0] > x[-1]:
        x, y = x[::-1], y[:, ::-1]
    if len(x) < 2 or not (np.diff(x) > 0).all():
        raise RunError(f"{source}: x values are not strictly increasing or decreasing")
    lo, hi = float(positions.min()), float(positions.max())
    tolerance = 1e-9 * max(abs(hi - lo), abs(x[-1] - x[0]))
    if x[0] > lo + tolerance or x[-1] < hi - tolerance:
        raise RunError(
            f"{source}: x values span {x[0]:g}..{x[-1]:g} but the model's grid spans "
            f"{lo:g}..{hi:g}"
            + (" (--grid): they must cover it" if grid_given else "; set it with --grid START,STOP")
        )
    positions = np.clip(positions, x[0], x[-1])
    return np.stack([np.interp(positions, x, row) for row in y])
