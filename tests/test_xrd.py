"""Position-aware X-ray variation (specbench.data.xrd) against its formulas: lattice strain
(Δ2θ = −2ε tan θ), sample displacement (Δ2θ = −2s cos θ / R) and Scherrer crystallite-size
broadening (β = Kλ / (L cos θ)), at low and high 2θ, measured on rendered spectra; identity when
off; per-peak widths kept in the split file and rendered back the same. numpy only."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest

from specbench.core import schema
from specbench.data import fingerprint, render, splits, xrd
from specbench.data.classes import ClassSet

START, STOP, N = 10.0, 90.0, 8001  # 0.01° per point
STEP = (STOP - START) / (N - 1)
LOW, HIGH = 1000, 7000  # points: 2θ = 20° and 80°
CU_KA = 1.54184  # Å


def two_peak_classes() -> ClassSet:
    """Two classes with peaks at 2θ = 20° and 80° (heights differ), on a 0.01° grid."""
    classes = ClassSet(N, [np.array([LOW, HIGH]), np.array([LOW, HIGH])],
                       [np.array([1.0, 0.8]), np.array([0.8, 1.0])], [None, None])  # fmt: skip
    classes.metadata = {
        "axis": {"unit": "2theta", "start": START, "stop": STOP},
        "wavelength_angstrom": CU_KA,
    }
    return classes


def xrd_settings(**given) -> dict:
    """render.xrd with the schema's defaults filled in (goniometer_radius, shape_factor)."""
    return schema.fill(given, "datasets", "*", "render", "xrd", name="xrd")


def still_plan(classes: ClassSet, sigma: float = 0.5, per_class: int = 6):
    """Training spectra without the uniform jitter: only the XRD variation moves the peaks."""
    return render.random_split(classes, per_class=per_class, seed=3, split="train", shift=0,
                               height_shift=0.0, sigma=(sigma, sigma))  # fmt: skip


def fwhm_degrees(spectrum: np.ndarray, centre: int, half_window: int = 400) -> float:
    """The full width at half maximum (degrees) of the peak near point `centre`, interpolated."""
    lo = max(centre - half_window, 0)
    y = spectrum[lo : centre + half_window].astype(np.float64)
    top = int(np.argmax(y))
    half = y[top] / 2
    left = np.flatnonzero(y[:top] < half)[-1]
    right = top + np.flatnonzero(y[top:] < half)[0]
    x_left = left + (half - y[left]) / (y[left + 1] - y[left])
    x_right = right - 1 + (y[right - 1] - half) / (y[right - 1] - y[right])
    return (x_right - x_left) * STEP


def drawn(plan, classes: ClassSet, index: int, bound: float) -> np.ndarray:
    """Every row's `index`-th XRD draw ~ U(−bound, bound) (0: strain, 1: displacement; the
    documented order), replayed from its class's stream as vary_xrd draws them (seed 3, split 0)."""
    values = np.zeros(len(plan))
    for k in range(len(classes)):
        rows = np.flatnonzero(plan.labels == k)
        rng = np.random.default_rng([k, 3, 0, xrd.XRD_STREAM])
        draws = [rng.uniform(-b, b, size=len(rows)) for b in (0.0,) * index + (bound,)]
        values[rows] = draws[-1]
    return values


def assert_moved_by(plan, moved, expected_delta) -> None:
    """Each row's first two peaks moved by expected_delta(row, 2θ before) degrees, to the nearest
    point."""
    grid = xrd.axis_grid(START, STOP, N)
    for row in range(len(plan)):
        before = grid[plan.positions[row, :2]]
        after = grid[moved.positions[row, :2]]
        assert np.all(np.abs((after - before) - expected_delta(row, before)) <= STEP / 2 + 1e-9)


def test_strain_moves_peaks_by_minus_two_eps_tan_theta():
    """Δ2θ = −2ε tan θ for the strain drawn per spectrum (the first of the documented draws), at
    2θ = 20° and 80° (to the nearest point): high angles move further, every peak the same way;
    strain 0: the plan unchanged."""
    classes = two_peak_classes()
    plan = still_plan(classes)
    moved = xrd.vary_xrd(plan, classes, xrd_settings(strain=0.004), seed=3, split_code=0)
    eps = drawn(plan, classes, 0, 0.004)
    assert_moved_by(
        plan, moved, lambda row, at: np.degrees(-2 * eps[row] * np.tan(np.radians(at / 2)))
    )
    shift = np.abs(moved.positions[:, :2] - plan.positions[:, :2]).sum(axis=0)
    assert shift[1] > 3 * shift[0]  # tan 40° / tan 10° = 4.8: high angles move far more
    assert (np.sign(moved.positions[:, 0] - LOW) * np.sign(moved.positions[:, 1] - HIGH) >= 0).all()
    assert xrd.vary_xrd(plan, classes, xrd_settings(strain=0.0), seed=3, split_code=0) is plan


def test_displacement_moves_peaks_by_minus_two_s_cos_theta_over_r():
    """Δ2θ = −2 s cos θ / R for the displacement drawn per spectrum (the documented order of the
    draws: strain, then displacement): low angles move further, every peak the same way."""
    classes = two_peak_classes()
    plan = still_plan(classes)
    settings = xrd_settings(displacement=0.5, goniometer_radius=200.0)
    moved = xrd.vary_xrd(plan, classes, settings, seed=3, split_code=0)
    s = drawn(plan, classes, 1, 0.5)
    assert_moved_by(
        plan, moved, lambda row, at: np.degrees(-2 * s[row] * np.cos(np.radians(at / 2)) / 200.0)
    )
    shift = np.abs(moved.positions[:, :2] - plan.positions[:, :2]).sum(axis=0)
    assert shift[0] > shift[1]  # cos 10° / cos 40° = 1.29: low angles move further
    assert (np.sign(moved.positions[:, 0] - LOW) * np.sign(moved.positions[:, 1] - HIGH) >= 0).all()


def test_size_broadening_follows_scherrer_in_the_rendered_spectra():
    """Crystallites of L = 20 nm, Cu Kα, K = 0.9: every peak's width is σ² + (β/2.355/step)² with
    β = Kλ/(L cos θ), and the rendered peaks' FWHM at 20° and 80° are Scherrer's (2 %)."""
    classes = two_peak_classes()
    plan = still_plan(classes, sigma=0.5)
    settings = xrd_settings(size=[20, 20])
    broad = xrd.vary_xrd(plan, classes, settings, seed=3, split_code=0)
    assert (broad.positions == plan.positions).all() and broad.sigma is plan.sigma
    spectra = broad.render()
    for slot, point in enumerate((LOW, HIGH)):
        theta = math.radians((START + point * STEP) / 2)
        beta = math.degrees(0.9 * CU_KA / (200.0 * math.cos(theta)))  # FWHM, degrees of 2θ
        sigma = math.sqrt(0.5**2 + (beta / xrd.FWHM_PER_SIGMA / STEP) ** 2)
        assert broad.peak_sigma[:, slot] == pytest.approx(sigma, rel=1e-6)
        measured = [fwhm_degrees(spectrum, point) for spectrum in spectra]
        total = sigma * xrd.FWHM_PER_SIGMA * STEP
        assert measured == pytest.approx([total] * len(spectra), rel=0.02)
    ratio = broad.peak_sigma[0, 1] / broad.peak_sigma[0, 0]
    assert ratio == pytest.approx(math.cos(math.radians(10)) / math.cos(math.radians(40)), rel=0.01)


def test_sizes_drawn_in_the_range_and_the_test_at_the_harmonic_mean():
    classes = two_peak_classes()
    settings = xrd_settings(size=[10, 40])
    broad = xrd.vary_xrd(still_plan(classes, per_class=50), classes, settings, seed=3, split_code=0)
    widths = broad.peak_sigma[:, 0]
    narrowest, widest = (
        math.degrees(0.9 * CU_KA / (10 * size * math.cos(math.radians(10))))
        / xrd.FWHM_PER_SIGMA / STEP
        for size in (40, 10)
    )  # fmt: skip
    assert widths.min() >= narrowest and widths.max() <= widest * 1.001
    assert widths.max() - widths.min() > 0.5 * (widest - narrowest)  # drawn, not one size
    params = {"seed": 3, "render": {"train_per_class": 2, "val_per_class": 1, "xrd": settings},
              "test": {"sigma": 0.5, "shift": 0, "variants": ["0"]}}  # fmt: skip
    test = render.plan_test(classes, params)
    harmonic = 2 / (1 / 10 + 1 / 40)  # 16 nm
    beta = math.degrees(0.9 * CU_KA / (10 * harmonic * math.cos(math.radians(10))))
    expected = math.sqrt(0.25 + (beta / xrd.FWHM_PER_SIGMA / STEP) ** 2)
    assert test.peak_sigma[:, 0] == pytest.approx(expected, rel=1e-6)
    assert (test.positions[:, :2] == [LOW, HIGH]).all()  # no strain, no displacement in the test


def test_the_test_split_rule_gets_all_the_test_split_reads():
    """Rule render_test_split's params are config_datasets.test_params, not the whole dataset
    config (so that a training-only edit keeps the test split): the test plan made from them
    equals the one made from the whole config, with every render setting away from its default
    (a render setting the test split starts to read must join TEST_RENDER_KEYS or TEST_XRD_KEYS)."""
    from specbench.workflow.config_datasets import test_params

    classes = two_peak_classes()
    noise = {"kind": "gaussian", "snr": 30}
    ds = {"seed": 3,
          "render": {"train_per_class": 2, "val_per_class": 1, "shift": 4, "height_shift": 0.2,
                     "sigma": [0.3, 0.9], "vary_tallest": True, "noise": noise,
                     "peak_shape": {"shape": "lorentzian"}, "background": {"polynomial": [0.1]},
                     "xrd": xrd_settings(size=[10, 40], strain=0.01)},
          "test": {"sigma": 0.5, "shift": 1, "variants": ["0", "+s"], "noise": noise}}  # fmt: skip
    whole = render.plan_splits(classes, ds)["test"]
    alone = render.plan_test(classes, test_params(ds))
    assert set(test_params(ds)["render"]["xrd"]) == {"size", "shape_factor"}
    assert alone.peak_sigma is not None and alone.artifacts is not None
    for field in ("labels", "positions", "heights", "sigma", "peak_sigma", "variant"):
        assert np.array_equal(getattr(alone, field), getattr(whole, field)), field
    assert np.array_equal(alone.render(), whole.render())


def test_only_the_size_broadening_of_render_xrd_reaches_the_test_split_rule():
    """The test split reads render.xrd's size and shape_factor alone (broaden_test): an edit of
    the strain, displacement, goniometer radius or texture (training variation) keeps rule
    render_test_split's params and hash, so that it reruns no test split and no evaluation on
    it (a sweep's other levels' models on this level: evaluate_level); size and shape_factor
    change them, and a dataset without size broadening has no render settings in them."""
    from specbench.workflow.config_datasets import test_hash, test_params

    def dataset(**given):
        return {"source": "structures", "seed": 3, "render": {"sigma": [0.3, 0.9],
                "xrd": xrd_settings(**given)}, "test": {"sigma": 0.5}}  # fmt: skip

    base = dataset(size=[10, 40], strain=0.01)
    for training_only in (
        dataset(size=[10, 40], strain=0.02),
        dataset(size=[10, 40], strain=0.01, displacement=0.1),
        dataset(size=[10, 40], strain=0.01, goniometer_radius=200),
        dataset(size=[10, 40], strain=0.01,
                preferred_orientation={"direction": [0, 0, 1], "r": [0.7, 1.0]}),  # fmt: skip
    ):
        assert test_params(training_only) == test_params(base), training_only["render"]
        assert test_hash(training_only) == test_hash(base)
    for test_too in (dataset(size=[10, 50], strain=0.01),
                     dataset(size=[10, 40], strain=0.01, shape_factor=1.0)):  # fmt: skip
        assert test_params(test_too) != test_params(base) and test_hash(test_too) != test_hash(base)
    assert test_params(dataset(strain=0.01))["render"] == {}
    assert test_params(dataset(strain=0.02)) == test_params(dataset())


def test_a_baseline_mismatch_names_the_crystallite_size_that_broadens_its_test_peaks():
    """A baseline's test split measured with another render.xrd.size (your own phases): the
    refusal names the setting (specbench.workflow.baselines.setting_differences), as it names
    a `test` setting; a training-only xrd setting (strain) is no cause."""
    from specbench.workflow.baselines import setting_differences

    def dataset(**given):
        return {"source": "structures", "n_points": 100, "seed": 3, "test": {"sigma": 0.5},
                "render": {"sigma": [0.3, 0.9], "xrd": xrd_settings(**given)}}  # fmt: skip

    there = dataset(size=[10, 40], strain=0.01)
    assert setting_differences(there, dataset(size=[10, 40], strain=0.02)) == []
    assert setting_differences(there, dataset(size=[20, 40], strain=0.01)) == [
        "render.xrd.size [10, 40] there, [20, 40] here"
    ]
    assert setting_differences(there, dataset(strain=0.01)) == [
        "render.xrd.shape_factor 0.9 there, None here",
        "render.xrd.size [10, 40] there, None here",
    ]


def test_off_is_identity_and_each_variation_keeps_the_others_draws():
    classes = two_peak_classes()
    plan = still_plan(classes)
    assert xrd.vary_xrd(plan, classes, xrd_settings(), seed=3, split_code=0) is plan
    assert xrd.broaden_test(plan, classes, xrd_settings(strain=0.01)) is plan
    strained = xrd.vary_xrd(plan, classes, xrd_settings(strain=0.01), seed=3, split_code=0)
    both = xrd.vary_xrd(plan, classes, xrd_settings(strain=0.01, size=[10, 40]),
                        seed=3, split_code=0)  # fmt: skip
    assert strained.peak_sigma is None and (strained.positions != plan.positions).any()
    assert (both.positions == strained.positions).all() and both.peak_sigma is not None
    params = {"seed": 3, "render": {"train_per_class": 2, "val_per_class": 1}, "test": {}}
    assert render.plan_test(classes, params).peak_sigma is None
    no_wavelength = dataclasses.replace(classes)
    no_wavelength.metadata = {"axis": classes.metadata["axis"]}
    with pytest.raises(ValueError, match="needs the classes' wavelength"):
        xrd.vary_xrd(plan, no_wavelength, xrd_settings(size=[10, 40]), seed=3, split_code=0)


def test_peak_widths_are_kept_in_the_split_and_rendered_back_the_same(tmp_path):
    """A split with every peak's own width: the column peak_sigma; plan_from_split re-renders its
    spectra exactly; the fingerprint of the file equals the plan's and differs from the
    unbroadened split's; a split without it has no such column."""
    classes = two_peak_classes()
    plan = still_plan(classes)
    broad = xrd.vary_xrd(plan, classes, xrd_settings(size=[10, 40]), seed=3, split_code=0)
    render.write_plan(broad, tmp_path / "broad.parquet")
    render.write_plan(plan, tmp_path / "plain.parquet")
    split = splits.read_split(tmp_path / "broad.parquet")
    assert [len(w) for w in split.peak_sigma] == [2] * len(plan)
    assert np.array_equal(render.plan_from_split(split).render(), split.spectra)
    assert np.array_equal(split.spectra, broad.render())
    assert splits.read_split(tmp_path / "plain.parquet").peak_sigma is None
    assert "peak_sigma" not in splits.read_metadata(tmp_path / "plain.parquet")
    of_file = fingerprint.of_split(tmp_path / "broad.parquet")
    assert of_file["parameters_sha256"] == fingerprint.of_plan(broad)["parameters_sha256"]
    plain = fingerprint.of_split(tmp_path / "plain.parquet")
    assert plain["parameters_sha256"] != of_file["parameters_sha256"]


def cubic_reflections(a: float = 5.64) -> dict:
    """NaCl-like: a peak of the (111) family (8 members) and one of (200) (6 members)."""
    signs = [(i, j, k) for i in (-1, 1) for j in (-1, 1) for k in (-1, 1)]
    h111 = [[*s, 1.0] for s in signs]
    h200 = [[2 * s if n == m else 0 for n in range(3)] + [1.0] for m in range(3) for s in (-1, 1)]
    return {"reciprocal": (np.eye(3) / a).tolist(), "peaks": [h111, h200]}


def test_march_dollase_factors_follow_the_formula():
    """(r² cos²α + sin²α / r)^(−3/2), averaged over a family: along [001] with r = 0.5, (200)
    (cos²α = 1 for 2 of its 6 members, 0 for 4) and (111) (cos²α = 1/3 for all 8); r = 1: none."""
    assert xrd.march_dollase(np.array([0.0, 0.3, 1.0]), 1.0) == pytest.approx([1, 1, 1])

    def p200(r):
        return (2 * (r * r) ** -1.5 + 4 * (1 / r) ** -1.5) / 6

    def p111(r):
        return (r * r / 3 + (2 / 3) / r) ** -1.5

    factors = xrd.texture_factors(cubic_reflections(), [0, 0, 1], np.array([0.5, 1.0, 2.0]))
    assert factors[0] == pytest.approx([p111(0.5), p200(0.5)])  # (200) 4.9x relative to (111)
    assert factors[1] == pytest.approx([1.0, 1.0])
    assert factors[2] == pytest.approx([p111(2.0), p200(2.0)])
    # [111]: the (111) family's two members along it grow with platelets
    along = xrd.texture_factors(cubic_reflections(), [1, 1, 1], np.array([0.5]))
    assert along[0, 0] > along[0, 1]


def test_preferred_orientation_scales_the_rendered_heights():
    """In a plan: every spectrum's (200)/(111) height ratio is the class's times P200/P111 of its
    own r, the tallest peak keeps its height; the test split is untextured; r = [1, 1]: identity."""
    classes = two_peak_classes()
    classes.metadata["reflections"] = [cubic_reflections(), cubic_reflections()]
    plan = still_plan(classes, per_class=20)
    texture = {"direction": [0, 0, 1], "r": [0.5, 0.9]}
    textured = xrd.vary_xrd(plan, classes, xrd_settings(preferred_orientation=texture),
                            seed=3, split_code=0)  # fmt: skip
    ratio = textured.heights[:, 1] / textured.heights[:, 0]
    base = plan.heights[:, 1] / plan.heights[:, 0]
    low, high = (xrd.texture_factors(cubic_reflections(), [0, 0, 1], np.array([r]))[0]
                 for r in (0.9, 0.5))  # fmt: skip
    assert (ratio / base >= low[1] / low[0] - 1e-5).all()
    assert (ratio / base <= high[1] / high[0] + 1e-5).all()
    assert np.ptp(ratio / base) > 1.0  # drawn per spectrum, not one r
    assert textured.heights.max(axis=1) == pytest.approx(plan.heights.max(axis=1))
    assert (textured.positions == plan.positions).all()
    flat = {"direction": [0, 0, 1], "r": [1.0, 1.0]}
    same = xrd.vary_xrd(plan, classes, xrd_settings(preferred_orientation=flat),
                        seed=3, split_code=0)  # fmt: skip
    assert np.allclose(same.heights, plan.heights, rtol=1e-6)
    params = {"seed": 3, "render": {"train_per_class": 2, "val_per_class": 1,
                                    "xrd": xrd_settings(preferred_orientation=texture)},
              "test": {"sigma": 0.5, "shift": 0, "variants": ["0"]}}  # fmt: skip
    test = render.plan_test(classes, params)
    assert (test.heights[:, :2] == np.array([[1.0, 0.8], [0.8, 1.0]], np.float32)).all()


def test_no_two_random_streams_of_a_class_coincide(monkeypatch):
    # Every stream a dataset draws from, for classes 0 and 1 at seed 3: their generation, the
    # training and validation variation, every artifact kind of every split, the X-ray
    # variation. NumPy's SeedSequence ignores trailing zero words ([k, seed, 0] is [k, seed]), so
    # two keys that differ only in trailing zeros are one stream; each purpose needs its own.
    from specbench.data.classes import generate_classes

    phases, plan = two_peak_classes(), still_plan(two_peak_classes())
    made = []
    real = np.random.default_rng

    def recording(seed=None):
        made.append(seed)
        return real(seed)

    monkeypatch.setattr(np.random, "default_rng", recording)
    generated = generate_classes(2, n_points=400, seed=3)
    everything = {
        "peak_shape": {"shape": "pseudo_voigt", "eta": [0.2, 0.8]},
        "noise": {"kind": "gaussian", "snr": [5, 100]},
        "background": {"polynomial": [[0, 0.2]]},
    }
    render.plan_splits(
        generated,
        {"seed": 3, "render": {"train_per_class": 2, "val_per_class": 2, **everything},
         "test": everything},
    )  # fmt: skip
    for code in render.SPLIT_CODES.values():
        xrd.vary_xrd(plan, phases, xrd_settings(strain=0.01), seed=3, split_code=code)
    keys = [tuple(np.trim_zeros(np.atleast_1d(s), "b").tolist()) for s in made]
    # per class: generation, train, val, 3 artifact kinds x 3 splits, X-ray train and val
    assert len(keys) == 2 * (1 + 2 + 3 * 3 + 2)
    assert len(set(keys)) == len(keys), sorted(keys)
