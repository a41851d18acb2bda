"""Measurement artifacts: peak shapes beyond the Gaussian, noise and a smooth background.

All of them are off unless a dataset's ``render`` (training/validation) or ``test`` config asks for
them; a split without them is rendered and written exactly as before (same Parquet bytes).

Peak shape (``peak_shape``). A row's ``sigma`` keeps its meaning (the Gaussian's standard
deviation, in points) and every shape has the same full width at half maximum,
``FWHM = 2 sqrt(2 ln 2) sigma ~= 2.3548 sigma``:

* ``gaussian``: scipy's gaussian_filter1d kernel (see specbench.data.peaks), eta = 0;
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

A row's noise comes from its own stream, the counter-based ``numpy.random.Philox(key=[noise_seed,
0])`` (counter 0): z by Box-Muller on its raw draws (standard_normals gives the exact recipe), the
Poisson counts by ``numpy.random.Generator`` on it (``poisson(lam)``). So a row is re-rendered from
its columns alone (specbench.data.splits stores them; specbench.data.render.plan_from_split renders them), and
keying a reused Philox costs ~3 us where seeding a generator costs ~13 us: noise is the largest
cost of rendering with artifacts (benchmarks/render.py). A row whose peak maximum is 0 gets
neither background nor noise. Background and noise are computed in float32 (the stored precision).

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
CHUNK_ROWS = 32  # rows at a time in apply_artifacts (0.6 MB of float32 at 5000 points)


@dataclass
class Artifacts:
    """Per-row artifact parameters of a split (what specbench.data.splits stores, one value per row).

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
            raise ValueError(
                f"draw_artifacts needs class-major rows (each class contiguous): class {k}'s "
                f"{n} rows are not rows {start}..{start + n - 1}"
            )
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


def _split_exponent(n_points: int) -> tuple[int, int]:
    """(blocks, block) with blocks * block >= n_points and block ~ sqrt(n_points)."""
    block = math.isqrt(max(n_points - 1, 0)) + 1
    return -(-n_points // block), block


def add_backgrounds(spectra: np.ndarray, art: Artifacts, scale: np.ndarray) -> None:
    """Add ``scale[r] * b_r(t)`` (the module docstring's background) to each row of `spectra`
    (float32 [rows, n], in place); scale: the rows' peak maxima.

    float32 arithmetic: the polynomial by Horner's rule with the coefficients scaled first, the
    exponential as a product of two float64 exponentials rounded once,
    ``exp(-t_i / d) = exp(-q B / ((n - 1) d)) * exp(-j / ((n - 1) d))`` for ``i = q B + j``
    (B ~ sqrt(n)), so a row needs ~2 sqrt(n) exponentials, not n.
    """
    rows, n_points = spectra.shape
    scale = np.asarray(scale, dtype=np.float64)
    t = (np.arange(n_points, dtype=np.float64) / max(n_points - 1, 1)).astype(np.float32)
    coefficients = (art.background.astype(np.float64) * scale[:, None]).astype(np.float32)
    degree = coefficients.shape[1] - 1
    if degree == 0:
        spectra += coefficients
    elif degree > 0:  # Horner's rule, from the highest coefficient
        work = np.multiply(coefficients[:, degree : degree + 1], t[None, :])
        for j in range(degree - 1, 0, -1):
            work += coefficients[:, j : j + 1]
            work *= t[None, :]
        work += coefficients[:, :1]
        spectra += work
    if np.any(art.exp_amplitude != 0):
        blocks, block = _split_exponent(n_points)
        rate = 1.0 / (max(n_points - 1, 1) * art.exp_decay.astype(np.float64))  # per point
        amplitude = art.exp_amplitude.astype(np.float64) * scale
        outer = np.exp(-np.arange(blocks) * block * rate[:, None]) * amplitude[:, None]
        inner = np.exp(-np.arange(block) * rate[:, None])
        product = np.empty((rows, blocks, block), dtype=np.float32)
        np.multiply(outer[:, :, None], inner[:, None, :], out=product, casting="same_kind")
        spectra += product.reshape(rows, -1)[:, :n_points]


def backgrounds(art: Artifacts, n_points: int) -> np.ndarray:
    """Relative backgrounds float32 [rows, n_points] (peak maximum 1), as add_backgrounds adds."""
    out = np.zeros((len(art), n_points), dtype=np.float32)
    add_backgrounds(out, art, np.ones(len(art)))
    return out


#: The key of a row's noise stream is [noise_seed, NOISE_KEY_WORD] (numpy.random.Philox).
NOISE_KEY_WORD = 0


def _noise_key(seed: int) -> np.ndarray:
    return np.array([seed, NOISE_KEY_WORD], dtype=np.uint64)


def noise_generator(seed: int) -> np.random.Philox:
    """The bit generator of a row's noise: ``numpy.random.Philox(key=[seed, 0])``, counter 0."""
    return np.random.Philox(key=_noise_key(seed))


class _NoiseStreams:
    """One Philox bit generator re-keyed per row (same draws as noise_generator(seed), without
    constructing one per row)."""

    def __init__(self):
        self.bitgen = np.random.Philox(key=0)
        self.zeros = np.zeros(4, dtype=np.uint64)

    def key(self, seed: int) -> np.random.Philox:
        self.bitgen.state = {
            "bit_generator": "Philox",
            "state": {"counter": self.zeros, "key": _noise_key(seed)},
            "buffer": self.zeros,
            "buffer_pos": 4,
            "has_uint32": 0,
            "uinteger": 0,
        }
        return self.bitgen


_TWO_PI = np.float32(2.0 * math.pi)
_U24 = np.float32(2.0**-24)


def standard_normals(seeds: np.ndarray, n_points: int) -> np.ndarray:
    """z float32 [rows, n_points] ~ N(0, 1): row r from the noise stream of seeds[r].

    Box-Muller in float32 on ``h = ceil(n / 2)`` raw 64-bit draws ``w`` of
    ``numpy.random.Philox(key=[seed, 0])``: ``u = (w >> 40) + 1`` and ``v = (w >> 16) & (2^24 - 1)``
    (two 24-bit integers), ``r = sqrt(-2 ln(u 2^-24))``, ``a = 2 pi v 2^-24``; then
    ``z[:h] = r cos a`` and ``z[h:] = (r sin a)[: n - h]``. Exact normal up to float32 rounding,
    with the tails cut at |z| = sqrt(48 ln 2) ~ 5.77 (probability 8e-9).
    """
    seeds = np.asarray(seeds, dtype=np.int64)
    rows = len(seeds)
    half = -(-n_points // 2)
    raw = np.empty((rows, half), dtype=np.uint64)
    streams = _NoiseStreams()
    for i, seed in enumerate(seeds.tolist()):
        raw[i] = streams.key(seed).random_raw(half)
    radius = (raw >> np.uint64(40)).astype(np.float32)
    radius += np.float32(1.0)
    radius *= _U24
    np.log(radius, out=radius)
    radius *= np.float32(-2.0)
    np.sqrt(radius, out=radius)
    angle = ((raw >> np.uint64(16)) & np.uint64(0xFFFFFF)).astype(np.float32)
    angle *= _U24 * _TWO_PI
    z = np.empty((rows, 2 * half), dtype=np.float32)
    np.multiply(radius, np.cos(angle), out=z[:, :half])
    np.multiply(radius, np.sin(angle), out=z[:, half:])
    return z[:, :n_points]


def apply_artifacts(
    clean: np.ndarray,
    art: Artifacts,
    out: np.ndarray | None = None,
    chunk_rows: int = CHUNK_ROWS,
) -> np.ndarray:
    """Add background and noise to rendered spectra (float32 [rows, n]); returns float32.

    `out` (float32, same shape) may be `clean` itself. Computed in float32 per the module
    docstring, chunk_rows rows at a time (so the passes over a chunk stay in cache): the background
    (add_backgrounds), then each noisy row's noise from its own stream (standard_normals for
    Gaussian noise; ``numpy.random.Generator(noise_generator(seed)).poisson`` for Poisson noise).
    """
    clean = np.asarray(clean)
    rows, n_points = clean.shape
    if len(art) != rows:
        raise ValueError(f"{len(art)} artifact rows for {rows} spectra")
    unknown = set(np.unique(art.noise).tolist()) - set(NOISE_KINDS)
    if unknown:
        raise ValueError(f"unknown noise kind {sorted(unknown)[0]!r} (known: {NOISE_KINDS})")
    if out is None:
        out = np.empty((rows, n_points), dtype=np.float32)
    if rows == 0 or n_points == 0:
        return out
    has_background = art.background.shape[1] > 0 or bool(np.any(art.exp_amplitude != 0))
    for start in range(0, rows, chunk_rows):
        stop = min(start + chunk_rows, rows)
        spectra = out[start:stop]
        if out is not clean:
            spectra[...] = clean[start:stop]
        peak_max = spectra.max(axis=1)
        live = peak_max > 0  # a row whose peak maximum is 0 gets neither background nor noise
        chunk = art[start:stop]
        if has_background:
            add_backgrounds(spectra, chunk, peak_max * live)
        gaussian = np.flatnonzero((chunk.noise == "gaussian") & live)
        if gaussian.size:
            scale = peak_max[gaussian] / chunk.noise_level[gaussian]
            noise = standard_normals(chunk.noise_seed[gaussian], n_points)
            noise *= scale[:, None]
            if gaussian.size == stop - start:
                spectra += noise
            else:
                spectra[gaussian] += noise
        for i in np.flatnonzero((chunk.noise == "poisson") & live):
            level, m = np.float64(chunk.noise_level[i]), np.float64(peak_max[i])
            rng = np.random.Generator(noise_generator(int(chunk.noise_seed[i])))
            lam = np.maximum(spectra[i].astype(np.float64) * (level / m), 0.0)
            spectra[i] = rng.poisson(lam) * (m / level)
    return out
