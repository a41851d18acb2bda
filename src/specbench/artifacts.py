"""Measurement artifacts: peak shapes beyond the Gaussian, noise and a smooth background.

All of them are off unless a dataset's ``render`` (training/validation) or ``test`` config asks for
them; a split without them is rendered and written exactly as before (same Parquet bytes).

Peak shape (``peak_shape``). A row's ``sigma`` keeps its meaning (the Gaussian's standard
deviation, in points) and every shape has the same full width at half maximum,
``FWHM = 2 sqrt(2 ln 2) sigma ~= 2.3548 sigma``:

* ``gaussian``: scipy's gaussian_filter1d kernel (see specbench.render), eta = 0;
* ``lorentzian``: ``1 / (1 + (x / gamma)^2)`` at integer offsets x, half width
  ``gamma = FWHM / 2 = sqrt(2 ln 2) sigma``, cut at ``|x| <= int(LORENTZ_TRUNCATE * gamma + 0.5)``
  (the dropped tails hold ~2 % of the continuous area) and normalised to sum 1, eta = 1;
* ``pseudo_voigt``: ``(1 - eta) G + eta L`` of the two normalised kernels, with eta (the Lorentzian
  fraction) in [0, 1] drawn per spectrum.

Background (``background``), relative to the row's peak maximum m (the maximum of its spectrum
before background and noise), on ``t = i / (n_points - 1)`` in [0, 1]:
``b_i = m * (sum_j c_j t_i^j + a exp(-t_i / d))`` (polynomial coefficients c_j, exponential
amplitude a and decay length d as a fraction of the spectrum).

Noise (``noise``), added last:

* ``gaussian``: ``+ (m / snr) z_i`` with z ~ N(0, 1): the signal-to-noise ratio is the peak
  maximum over the noise's standard deviation;
* ``poisson``: counting noise with ``counts`` expected counts at the peak maximum: the spectrum
  s (peaks + background) becomes ``Poisson(counts * s / m) * m / counts`` (negative s counts as 0),
  so its relative noise at the maximum is 1 / sqrt(counts).

z and the Poisson draws of a row come from ``numpy.random.default_rng(noise_seed)`` (the row's own
stream, ``standard_normal(n_points)`` or ``poisson(lam)``), so a row is re-rendered from its
columns alone (specbench.io stores them; specbench.render.plan_from_split renders them). A row
whose peak maximum is 0 gets neither background nor noise.

Randomness (NumPy SPEC 7): the per-spectrum values of class k in split s come from one stream per
artifact kind, ``default_rng([k, seed, ARTIFACT_SPLIT_CODES[s], KIND_CODES[kind]])``, separate from
the peak variation's stream: switching an artifact on or changing its level leaves the peaks (and
the other artifacts' draws) of every row unchanged, and a noise level sweep reuses the same z.
Every config value is a number (fixed) or a range [low, high] (uniform per spectrum).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

SHAPES = ("gaussian", "lorentzian", "pseudo_voigt")
NOISE_KINDS = ("none", "gaussian", "poisson")
KEYS = ("peak_shape", "noise", "background")  # the artifact keys of `render` and `test`
FWHM_PER_SIGMA = 2.0 * math.sqrt(2.0 * math.log(2.0))
LORENTZ_TRUNCATE = 30.0  # Lorentzian kernel radius in half widths (kernel >= 1/901 of its peak)
ARTIFACT_SPLIT_CODES = {"train": 0, "val": 1, "test": 2}
KIND_CODES = {"peak_shape": 1, "noise": 2, "background": 3}
NOISE_LEVEL_KEY = {"gaussian": "snr", "poisson": "counts"}
CHUNK_ROWS = 32  # rows of float64 work at a time in apply_artifacts (1.3 MB at 5000 points)


@dataclass
class Artifacts:
    """Per-row artifact parameters of a split (what specbench.io stores, one value per row).

    background: relative polynomial coefficients [rows, degree + 1] (may have 0 columns);
    noise_level: the SNR (gaussian) or the counts at the peak maximum (poisson), 0 for none.
    Float values are float32, and exactly the stored values are rendered.
    """

    shape: np.ndarray  # object [rows]: gaussian / lorentzian / pseudo_voigt
    eta: np.ndarray  # float32 [rows]: Lorentzian fraction (gaussian 0, lorentzian 1)
    noise: np.ndarray  # object [rows]: none / gaussian / poisson
    noise_level: np.ndarray  # float32 [rows]
    noise_seed: np.ndarray  # int64 [rows]
    background: np.ndarray  # float32 [rows, degree + 1]
    exp_amplitude: np.ndarray  # float32 [rows]
    exp_decay: np.ndarray  # float32 [rows]

    def __len__(self) -> int:
        return len(self.eta)

    def __getitem__(self, rows: slice | np.ndarray) -> Artifacts:
        return Artifacts(
            self.shape[rows],
            self.eta[rows],
            self.noise[rows],
            self.noise_level[rows],
            self.noise_seed[rows],
            self.background[rows],
            self.exp_amplitude[rows],
            self.exp_decay[rows],
        )

    @classmethod
    def none(cls, rows: int, degree: int = -1) -> Artifacts:
        """Rows with Gaussian peaks, no noise and no background."""
        return cls(
            np.full(rows, "gaussian", dtype=object),
            np.zeros(rows, dtype=np.float32),
            np.full(rows, "none", dtype=object),
            np.zeros(rows, dtype=np.float32),
            np.zeros(rows, dtype=np.int64),
            np.zeros((rows, degree + 1), dtype=np.float32),
            np.zeros(rows, dtype=np.float32),
            np.zeros(rows, dtype=np.float32),
        )


def settings_of(section: Mapping) -> dict:
    """The artifact settings ({peak_shape, noise, background}) of a `render` or `test` config."""
    return {key: section[key] for key in KEYS if section.get(key) is not None}


# ------------------------------------------------------------------ kernels


def lorentzian_kernels(sigma: np.ndarray, truncate: float = LORENTZ_TRUNCATE):
    """Per-row Lorentzian weights of the same FWHM as a Gaussian of width sigma, on a common grid.

    Returns (weights float64 [rows, 2R+1], R): row r is 1 / (1 + (x / gamma_r)^2) with
    gamma_r = sqrt(2 ln 2) sigma_r for |x| <= int(truncate * gamma_r + 0.5), zero beyond,
    normalised to sum 1.
    """
    sigma = np.asarray(sigma, dtype=np.float64)
    if sigma.size and not np.all(sigma > 0):
        raise ValueError(f"sigma must be positive, got min {sigma.min()}")
    gamma = 0.5 * FWHM_PER_SIGMA * sigma
    radius = (truncate * gamma + 0.5).astype(np.int64)
    big = int(radius.max()) if radius.size else 0
    x = np.arange(-big, big + 1, dtype=np.float64)
    weights = 1.0 / (1.0 + (x[None, :] / gamma[:, None]) ** 2)
    weights[np.abs(x)[None, :] > radius[:, None]] = 0.0
    weights /= weights.sum(axis=1, keepdims=True)
    return weights, big


# ------------------------------------------------------------------ draws


def _values(rng: np.random.Generator, spec, size: int) -> np.ndarray:
    """A config value: a number (fixed) or [low, high] (uniform per spectrum), as float32."""
    if isinstance(spec, (list, tuple)):
        return rng.uniform(float(spec[0]), float(spec[1]), size=size).astype(np.float32)
    return np.full(size, spec, dtype=np.float32)


def draw_artifacts(settings: Mapping, labels: np.ndarray, *, seed: int, split: str) -> Artifacts:
    """Per-row artifact parameters of a class-major split (labels: the class of every row).

    settings: {peak_shape, noise, background} of the split's config (absent keys: off). Class k's
    values come from default_rng([k, seed, split code, kind code]), one stream per kind.
    """
    labels = np.asarray(labels)
    rows = len(labels)
    code = ARTIFACT_SPLIT_CODES[split]
    shape_cfg = settings.get("peak_shape") or {"shape": "gaussian"}
    noise_cfg = settings.get("noise")
    background_cfg = settings.get("background") or {}
    polynomial = background_cfg.get("polynomial") or []
    exponential = background_cfg.get("exponential")
    out = Artifacts.none(rows, degree=len(polynomial) - 1)
    shape = shape_cfg["shape"]
    out.shape[:] = shape
    if shape == "lorentzian":
        out.eta[:] = 1.0
    if noise_cfg is not None:
        out.noise[:] = noise_cfg["kind"]
    classes, starts, counts = np.unique(labels, return_index=True, return_counts=True)
    for k, start, n in zip(classes.tolist(), starts.tolist(), counts.tolist()):
        if not np.all(labels[start : start + n] == k):
            raise ValueError("draw_artifacts needs class-major rows (each class contiguous)")
        block = slice(start, start + n)

        def stream(kind: str) -> np.random.Generator:
            return np.random.default_rng([k, seed, code, KIND_CODES[kind]])

        if shape == "pseudo_voigt":
            out.eta[block] = _values(stream("peak_shape"), shape_cfg["eta"], n)
        if noise_cfg is not None:
            rng = stream("noise")
            out.noise_seed[block] = rng.integers(0, 2**63 - 1, size=n, dtype=np.int64)
            level = noise_cfg[NOISE_LEVEL_KEY[noise_cfg["kind"]]]
            out.noise_level[block] = _values(rng, level, n)
        if polynomial or exponential:
            rng = stream("background")
            for j, spec in enumerate(polynomial):
                out.background[block, j] = _values(rng, spec, n)
            if exponential:
                out.exp_amplitude[block] = _values(rng, exponential["amplitude"], n)
                out.exp_decay[block] = _values(rng, exponential["decay"], n)
    return out


# ------------------------------------------------------------------ background and noise


def backgrounds(art: Artifacts, n_points: int) -> np.ndarray:
    """Relative backgrounds float64 [rows, n_points] (to be multiplied by the peak maxima)."""
    t = np.arange(n_points, dtype=np.float64) / max(n_points - 1, 1)
    out = np.zeros((len(art), n_points), dtype=np.float64)
    coefficients = art.background.astype(np.float64)
    for j in range(coefficients.shape[1] - 1, -1, -1):  # Horner
        out *= t[None, :]
        out += coefficients[:, j : j + 1]
    live = np.flatnonzero(art.exp_amplitude != 0)
    if live.size:
        amplitude = art.exp_amplitude[live].astype(np.float64)
        decay = art.exp_decay[live].astype(np.float64)
        out[live] += amplitude[:, None] * np.exp(-t[None, :] / decay[:, None])
    return out


def apply_artifacts(
    clean: np.ndarray,
    art: Artifacts,
    out: np.ndarray | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> np.ndarray:
    """Add background and noise to rendered spectra (float32 [rows, n]); returns float32.

    `out` (float32, same shape) may be `clean` itself. Computed in float64 per the module
    docstring, chunk_rows rows at a time (so the passes over a chunk stay in cache); each noisy row
    draws from default_rng(its noise_seed).
    """
    clean = np.asarray(clean)
    rows, n_points = clean.shape
    if len(art) != rows:
        raise ValueError(f"{len(art)} artifact rows for {rows} spectra")
    if out is None:
        out = np.empty((rows, n_points), dtype=np.float32)
    if rows == 0 or n_points == 0:
        return out
    has_background = art.background.shape[1] > 0 or bool(np.any(art.exp_amplitude != 0))
    noisy = art.noise != "none"
    for start in range(0, rows, chunk_rows):
        stop = min(start + chunk_rows, rows)
        spectra = clean[start:stop].astype(np.float64)
        peak_max = spectra.max(axis=1)
        if has_background:  # zero where the peak maximum is 0
            background = backgrounds(art[start:stop], n_points)
            background *= peak_max[:, None]
            spectra += background
        for i in np.flatnonzero(noisy[start:stop] & (peak_max > 0)):
            r = start + i
            rng = np.random.default_rng(int(art.noise_seed[r]))
            level = float(art.noise_level[r])
            if art.noise[r] == "gaussian":
                spectra[i] += (peak_max[i] / level) * rng.standard_normal(n_points)
            elif art.noise[r] == "poisson":
                lam = np.maximum(spectra[i] * (level / peak_max[i]), 0.0)
                spectra[i] = rng.poisson(lam) * (peak_max[i] / level)
            else:
                raise ValueError(f"unknown noise kind {art.noise[r]!r} (known: {NOISE_KINDS})")
        out[start:stop] = spectra
    return out
