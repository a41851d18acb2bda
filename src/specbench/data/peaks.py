"""Rendering peaks into spectra: a Gaussian (or pseudo-Voigt) broadening of peak lists, vectorised.

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
Other peak shapes mix in the Lorentzian kernel of specbench.data.artifacts by each row's eta.

What is rendered (the splits' peaks, widths and artifacts) is :mod:`specbench.data.render`'s.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from specbench.data.artifacts import lorentzian_kernels

__all__ = ["CHUNK_ROWS", "TRUNCATE", "gaussian_kernels", "profile_kernels", "render_peaks"]

TRUNCATE = 4.0
CHUNK_ROWS = 256  # rows summed at a time in a float64 buffer (10 MB at 5000 points)
# Below this many output points per touched point a chunk is copied out whole (one pass) rather
# than point by point (an index gather and scatter per touched point).
SPARSE_COPY_FACTOR = 4


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

    positions int [rows, P] (in [0, n_points)), heights [rows, P], sigma [rows] (one width per
    row) or [rows, P] (every peak its own width, e.g. X-ray crystallite-size broadening,
    specbench.data.xrd); counts[r] (default P) is the number of valid entries of row r. Each row equals
    ``gaussian_filter1d(x, sigma[r], mode="constant")`` with x zero except ``x[p] = h`` for its
    peaks in order (a later peak at the same position overwrites), to float32 rounding.

    Sums are taken in float64 in a buffer of chunk_rows rows, one vectorised scatter per peak
    slot, and written to `out` (allocated when None) as float32: only the points that peaks touch
    when the kernels are narrow (work proportional to peaks x kernel width), whole chunks when
    they are wide (SPARSE_COPY_FACTOR decides). The sums and so the bytes are the same either way.

    eta [rows] (default: all Gaussian) mixes in the Lorentzian of the same FWHM per row
    (profile_kernels; specbench.data.artifacts).
    """
    positions = np.asarray(positions, dtype=np.int64)
    heights = np.asarray(heights, dtype=np.float64)
    sigma = np.asarray(sigma, dtype=np.float64)
    if positions.ndim != 2:
        raise ValueError(f"positions must be 2-D [rows, peaks], got shape {positions.shape}")
    rows, slots = positions.shape
    if heights.shape != positions.shape or sigma.shape not in ((rows,), (rows, slots)):
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
    outside = valid & ((positions < 0) | (positions >= n_points))
    if outside.any():
        row, slot = (int(i[0]) for i in np.nonzero(outside))
        raise ValueError(
            f"row {row}: peak position {int(positions[row, slot])} is outside the spectrum "
            f"[0, {n_points})"
        )
    # Overwrite semantics: a peak is dropped when a later valid peak of its row has its position.
    later_same = (positions[:, :, None] == positions[:, None, :]) & valid[:, None, :]
    later_same &= np.triu(np.ones((slots, slots), dtype=bool), k=1)[None]
    effective = np.where(valid & ~later_same.any(axis=2), heights, 0.0)

    kernels, big = _kernels(sigma, None if eta is None else np.asarray(eta), valid)
    chunk_rows = max(1, min(chunk_rows, rows))
    if slots * (2 * big + 1) * SPARSE_COPY_FACTOR < n_points:
        _scatter_sparse(out, positions, effective, kernels, big, chunk_rows)
    else:
        _scatter_dense(out, positions, effective, kernels, big, chunk_rows)
    return out


def _kernels(sigma: np.ndarray, eta: np.ndarray | None, valid: np.ndarray):
    """(kernels, big): kernels(rows, slot) gives the weights [len(rows), 2 big + 1] of those rows'
    peaks in `slot`, centred, zero outside their own radius; big is the largest radius. One width
    per row: computed once (gaussian_kernels, or profile_kernels with eta); one per peak: per slot
    when asked for, on the common grid of the widest valid peak."""
    make = gaussian_kernels if eta is None else profile_kernels
    if sigma.ndim == 1:
        weights, big = make(sigma) if eta is None else make(sigma, eta)
        return (lambda rows, slot: weights[rows]), big
    widest = np.array([sigma[valid].max() if valid.any() else 1.0])
    _, big = make(widest) if eta is None else make(widest, np.array([eta.max()]))

    def kernels(rows, slot):
        args = (sigma[rows, slot],) if eta is None else (sigma[rows, slot], eta[rows])
        own, radius = make(*args)
        if radius == big:
            return own
        weights = np.zeros((len(own), 2 * big + 1), dtype=np.float64)
        weights[:, big - radius : big + radius + 1] = own
        return weights

    return kernels, big


def _scatter_sparse(out, positions, effective, kernels, big, chunk_rows) -> None:
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
            vals = h[live, None] * kernels(start + live, slot)
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


def _scatter_dense(out, positions, effective, kernels, big, chunk_rows) -> None:
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
                windows[live, positions[start + live, slot]] += h[live, None] * kernels(
                    start + live, slot
                )
        out[start:stop] = buf[: stop - start, big : big + n_points]
        buf[: stop - start] = 0.0
