"""Tests of specbench.data.render and specbench.data.variants on real files (small spectra)."""

from __future__ import annotations

import csv
import json
import logging
from pathlib import Path

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter1d

from helpers import render_files
from specbench.data import peaks
from specbench.data import splits
from specbench.data.classes import ClassSet, generate_classes, load_classes
from specbench.data.render import (
    fill_defaults,
    plan_splits,
    random_split,
    render_peaks,
    test_split,
)
from specbench.data.variants import (
    VariantError,
    apply_variant,
    find_ambiguous_pairs,
    parse_variant,
)

ROOT = Path(__file__).resolve().parents[1]
N = 120


def edge_classes() -> ClassSet:
    """Classes with peaks at the first and last index and two close peaks."""
    return ClassSet(
        n_points=N,
        positions=[np.array([0, 60]), np.array([30, 31, N - 1]), np.array([5, 100])],
        heights=[np.array([1.0, 0.4]), np.array([0.2, 1.0, 0.7]), np.array([0.05, 1.0])],
        test_variants=[None, ["0", "+s", "l-s"], None],
    )


def params(**render) -> dict:
    base = {"train_per_class": 6, "val_per_class": 3, "shift": 4, "sigma": [0.3, 5.0]}
    return {"seed": 11, "render": {**base, **render}, "test": {"sigma": 5, "shift": 3}}


def rerender(split: splits.Split) -> np.ndarray:
    """Each row rendered the published way, from its stored peaks and sigma."""
    out = np.zeros(split.spectra.shape)
    for r in range(len(split)):
        x = np.zeros(split.n_points)
        for p, h in zip(split.peak_positions[r], split.peak_heights[r]):
            x[p] = h  # a later peak at the same index overwrites
        out[r] = gaussian_filter1d(x, float(split.sigma[r]), mode="constant")
    return out


# ------------------------------------------------------------------ renderer


def test_every_split_matches_gaussian_filter1d(tmp_path):
    paths = render_files(tmp_path, edge_classes(), params())
    seen_edges = set()
    for split_name, path in paths.items():
        split = splits.read_split(path)
        assert split.metadata["dataset"] == "ds" and split.metadata["config_hash"] == "cafe"
        assert split.metadata["split"] == split_name
        np.testing.assert_allclose(split.spectra, rerender(split), rtol=0, atol=1e-6)
        assert split.spectra.max() > 0.05
        for pos in split.peak_positions:
            seen_edges |= {0, N - 1} & set(pos.tolist())
    assert seen_edges == {0, N - 1}  # the test really covers peaks at both ends
    test = splits.read_split(paths["test"])
    assert np.all(test.sigma == 5.0)


def test_generated_dataset_matches_gaussian_filter1d(tmp_path):
    classes = generate_classes(8, n_points=300, seed=4, boundary=5)
    paths = render_files(tmp_path, classes, params(shift=10, sigma=[0.4, 1.0]))
    for path in paths.values():
        split = splits.read_split(path)
        np.testing.assert_allclose(split.spectra, rerender(split), rtol=0, atol=1e-6)


def test_render_peaks_overwrites_and_handles_edges():
    positions = np.array([[3, 3, 0], [0, 9, 9], [4, 0, 0]])
    heights = np.array([[1.0, 0.25, 0.5], [0.5, 0.3, 0.9], [2.0, 0.0, 0.0]])
    sigma = np.array([1.0, 5.0, 0.2])
    counts = np.array([3, 3, 1])  # row 2's padding (position 0) is not a peak
    out = render_peaks(positions, heights, sigma, 10, counts=counts)
    want = np.zeros((3, 10))
    for r in range(3):
        x = np.zeros(10)
        for p, h in zip(positions[r, : counts[r]], heights[r, : counts[r]]):
            x[p] = h
        want[r] = gaussian_filter1d(x, sigma[r], mode="constant")
    np.testing.assert_allclose(out, want, rtol=0, atol=1e-7)
    assert out[0, 3] < 0.5  # the 0.25 peak replaced the 1.0 one, it did not add to it
    assert out.dtype == np.float32
    with pytest.raises(ValueError, match=r"outside the spectrum \[0, 10\)"):
        render_peaks(np.array([[10]]), np.array([[1.0]]), np.array([1.0]), 10)
    # the message names the first offending row and position
    with pytest.raises(ValueError, match=r"row 1.* position -2 .*outside the spectrum \[0, 10\)"):
        render_peaks(np.array([[3], [-2]]), np.ones((2, 1)), np.ones(2), 10)


@pytest.mark.parametrize("eta", [None, "mixed"])
def test_both_scatters_render_the_same_bytes(monkeypatch, eta):
    rng = np.random.default_rng(11)
    rows, n = 70, 120
    positions = rng.integers(0, n, size=(rows, 6))
    positions[:5, :2] = [0, n - 1]  # peaks at both edges
    positions[5:9, 1] = positions[5:9, 0]  # overwritten peaks
    heights = rng.uniform(0.1, 2.0, size=(rows, 6))
    counts = rng.integers(1, 7, size=rows)
    sigma = rng.uniform(0.3, 4.0, size=rows)
    mix = None if eta is None else rng.uniform(0, 1, size=rows)
    out = {}
    for path, factor in {"sparse": 0, "dense": 10**9}.items():  # force each path
        monkeypatch.setattr(peaks, "SPARSE_COPY_FACTOR", factor)
        out[path] = render_peaks(
            positions, heights, sigma, n, counts=counts, eta=mix, chunk_rows=16
        )
    np.testing.assert_array_equal(out["sparse"], out["dense"])
    want = np.zeros((rows, n))
    for r in range(rows):
        x = np.zeros(n)
        for p, h in zip(positions[r, : counts[r]], heights[r, : counts[r]]):
            x[p] = h
        want[r] = gaussian_filter1d(x, sigma[r], mode="constant")
    if eta is None:
        np.testing.assert_allclose(out["dense"], want, rtol=0, atol=1e-6)


def test_random_variation_stays_in_its_ranges():
    classes = edge_classes()
    plan = random_split(
        classes,
        per_class=200,
        seed=1,
        split="train",
        shift=4,
        height_shift=0.05,
        sigma=(2.0, 3.0),
        vary_tallest=False,
    )
    assert np.all((plan.sigma >= 2.0) & (plan.sigma <= 3.0))
    moved = set()
    for r in range(len(plan)):
        k = plan.labels[r]
        pos = plan.positions[r, : plan.counts[r]].astype(int)
        hgt = plan.heights[r, : plan.counts[r]]
        base_p, base_h = classes.positions[k], classes.heights[k]
        lo, hi = np.clip(base_p - 4, 0, N - 1), np.clip(base_p + 3, 0, N - 1)
        assert np.all((pos >= lo) & (pos <= hi))
        moved |= set((pos - base_p).tolist())
        assert np.all(np.abs(hgt - base_h) <= 0.05 + 1e-6)
        assert np.all(hgt[base_h == 1.0] == 1.0)  # vary_tallest false
    assert moved == set(range(-4, 4))
    varied = random_split(classes, per_class=50, seed=1, split="train", vary_tallest=True)
    tallest = varied.heights[varied.labels == 0][:, 0]
    assert len(set(tallest.tolist())) > 10


def test_test_split_variants_and_labels():
    classes = edge_classes()
    plan = test_split(classes, sigma=2, shift=3, delta=0.04, variants=["0", "h+s", "l"])
    assert plan.labels.tolist() == [0, 0, 0, 1, 1, 1, 2, 2, 2]  # class 1 has its own list
    assert plan.variant[:3] == ["shift=0,height=0", "shift=+3,height=+0.04", "shift=0,height=-0.04"]
    assert plan.variant[3:6] == ["shift=0,height=0", "shift=+3,height=0", "shift=-3,height=-0.04"]
    # class 0, h+s: positions +3, the 0.4 peak +0.04, the tallest unchanged
    np.testing.assert_array_equal(plan.positions[1, :2], [3, 63])
    np.testing.assert_allclose(plan.heights[1, :2], [1.0, 0.44], atol=1e-7)
    # class 1, +s: the peak at N-1 is clipped to the spectrum
    np.testing.assert_array_equal(plan.positions[4, :3], [33, 34, N - 1])
    # class 1, l-s: heights -0.04 except the tallest
    np.testing.assert_allclose(plan.heights[5, :3], [0.16, 1.0, 0.66], atol=1e-7)


def test_same_seed_gives_byte_identical_parquet(tmp_path):
    classes = generate_classes(6, n_points=200, seed=2, boundary=5)
    a = render_files(tmp_path / "a", classes, params())
    b = render_files(tmp_path / "b", classes, params())
    c = render_files(tmp_path / "c", classes, {**params(), "seed": 12})
    for split in a:
        assert a[split].read_bytes() == b[split].read_bytes()
    assert a["train"].read_bytes() != c["train"].read_bytes()
    assert a["test"].read_bytes() == c["test"].read_bytes()  # the test split has no randomness


def test_adding_a_class_leaves_the_other_rows_unchanged(tmp_path):
    five = generate_classes(5, n_points=200, seed=2, boundary=5)
    six = generate_classes(6, n_points=200, seed=2, boundary=5)
    a = render_files(tmp_path / "five", five, params())
    b = render_files(tmp_path / "six", six, params())
    for split in a:
        sa, sb = splits.read_split(a[split]), splits.read_split(b[split])
        keep = sb.labels < 5
        assert keep.sum() == len(sa) < len(sb)
        np.testing.assert_array_equal(sa.spectra, sb.spectra[keep])
        np.testing.assert_array_equal(sa.sigma, sb.sigma[keep])
        np.testing.assert_array_equal(sa.labels, sb.labels[keep])


def test_challenge_dataset_uses_per_class_variants(tmp_path):
    classes = load_classes(ROOT / "config" / "challenge_classes.json", n_points=1000)
    render = {
        "seed": 2023,
        "render": {
            "train_per_class": 2,
            "val_per_class": 1,
            "shift": 10,
            "sigma": [0.4, 1.0],
            "vary_tallest": False,
        },
        "test": {"sigma": 0.4, "shift": 6, "delta": 0.03},
    }
    plans = plan_splits(classes, fill_defaults(render))
    assert len(plans["test"]) == 27 * 6 and len(plans["train"]) == 54
    rows = plans["test"].labels == 19
    assert plans["test"].variant[int(np.flatnonzero(rows)[0])] == "shift=0,height=-0.03"
    # the tallest peak is 1.0 in every training spectrum of the challenge set
    train = plans["train"]
    for r in range(len(train)):
        assert 1.0 in train.heights[r, : train.counts[r]]


# ------------------------------------------------------------------ variants


def test_parse_variant():
    assert parse_variant("l-s").height == -1 and parse_variant("l-s").shift == -1
    assert parse_variant("+s").height == 0 and parse_variant("h").shift == 0
    assert parse_variant("0").label(30, 0.04) == "shift=0,height=0"
    assert parse_variant("h-s").label(30, 0.04) == "shift=-30,height=+0.04"
    for bad in ("", "s", "hl", "h+", "x-s", "0-s", "-s+s"):
        with pytest.raises(VariantError, match="invalid test variant"):
            parse_variant(bad)


def test_apply_variant_clips():
    pos, hgt = apply_variant(
        np.array([1, 50, 98]), np.array([1.98, 1.0, 0.01]), "l-s", shift=3, delta=0.04, n_points=100
    )
    np.testing.assert_array_equal(pos, [0, 47, 95])
    np.testing.assert_allclose(hgt, [1.98, 0.96, 0.0])  # 1.98 is the tallest: not varied
    pos, hgt = apply_variant(
        np.array([1, 98]), np.array([1.0, 1.99]), "h+s", shift=3, delta=0.04, n_points=100
    )
    np.testing.assert_array_equal(pos, [4, 99])
    np.testing.assert_allclose(hgt, [1.04, 1.99])


# ------------------------------------------------------------------ ambiguous pairs


def ambiguous_setup():
    """Class 1 is class 0 moved by 10 points (< shift 20): class 0's test variants lie in class 1's
    training range. Class 2 is far from both; class 3 has class 0's positions but one more peak."""
    positions = [
        np.array([100, 300]),
        np.array([110, 310]),
        np.array([500, 800]),
        np.array([100, 300, 600]),
    ]
    heights = [
        np.array([1.0, 0.5]),
        np.array([1.0, 0.52]),
        np.array([1.0, 0.5]),
        np.array([1.0, 0.5, 0.5]),
    ]
    variants = [["0", "-s", "h"], ["0"], ["0", "+s"], ["0"]]
    return positions, heights, variants


def test_ambiguous_pairs_are_found_and_separated_ones_are_not():
    positions, heights, variants = ambiguous_setup()
    rows = find_ambiguous_pairs(
        positions,
        heights,
        variants,
        n_points=1000,
        train_shift=20,
        height_shift=0.05,
        vary_tallest=True,
        test_shift=15,
        test_delta=0.04,
    )
    found = {(r["class_a"], r["class_b"], r["variant"]) for r in rows}
    # 0 (at 100/300) vs 1's range [90, 129]/[290, 329]: "0" and "h" inside, "-s" (85) outside;
    # 1 (at 110/310) vs 0's range [80, 119]/[280, 319]: inside.
    assert found == {(0, 1, "0"), (0, 1, "h"), (1, 0, "0")}
    assert all(r["in_own_range"] for r in rows)
    # Heights outside the training spread separate the same positions.
    heights[1] = np.array([1.0, 0.7])
    rows = find_ambiguous_pairs(
        positions,
        heights,
        variants,
        n_points=1000,
        train_shift=20,
        height_shift=0.05,
        vary_tallest=True,
        test_shift=15,
        test_delta=0.04,
    )
    assert rows == []


def test_ambiguous_pairs_written_and_logged(tmp_path, caplog):
    positions, heights, variants = ambiguous_setup()
    classes = ClassSet(1000, positions, heights, variants)
    render = {
        "seed": 0,
        "render": {"train_per_class": 2, "val_per_class": 1, "shift": 20, "sigma": [1, 2]},
        "test": {"sigma": 1, "shift": 15},
    }
    with caplog.at_level(logging.WARNING, logger="specbench.data.variants"):
        render_files(tmp_path, classes, render, name="amb")
    with open(tmp_path / "ambiguous_pairs.csv") as fh:
        table = list(csv.DictReader(fh))
    assert [(r["class_a"], r["class_b"], r["variant"]) for r in table] == [
        ("0", "1", "0"),
        ("0", "1", "h"),
        ("1", "0", "0"),
    ]
    assert table[1]["variant_label"] == "shift=0,height=+0.04"
    assert "class 1" in table[0]["reason"]
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 2  # one per (class_a, class_b) pair
    assert "ambiguous pair 0/1" in warnings[0].getMessage()


def test_no_ambiguous_pairs_gives_a_header_only_csv(tmp_path):
    render_files(tmp_path, edge_classes(), params())
    lines = (tmp_path / "ambiguous_pairs.csv").read_text().splitlines()
    assert lines == ["class_a,class_b,variant,variant_label,in_own_range,reason"]


def test_challenge_overlap_triplets_are_reported():
    """The challenge set's overlap triplets put test variants into neighbours' training ranges;
    the minor-peak triplets (different peak counts) are told apart."""
    from specbench.data.render import ambiguous_pairs

    classes = load_classes(ROOT / "config" / "challenge_classes.json")
    render = json.loads(json.dumps(params(shift=50, vary_tallest=False)))
    render["test"] = {"shift": 30, "delta": 0.03}
    rows = ambiguous_pairs(classes, render)
    pairs = {(r["class_a"], r["class_b"]) for r in rows}
    assert (9, 10) in pairs and (10, 9) in pairs and (18, 19) in pairs
    assert (9, 11) not in pairs  # 3000 vs 3140: beyond any shift
    assert not any(a < 9 for a, _ in pairs)


def test_test_split_equals_apply_variant_per_row():
    classes = generate_classes(30, n_points=400, seed=9, boundary=0)
    classes.positions[0] = np.array([0, 200, 399])  # clipping at both ends
    classes.heights[0] = np.array([1.98, 1.0, 0.02])
    classes.test_variants[3] = ["l+s", "0"]
    plan = test_split(classes, sigma=1.5, shift=7, delta=0.04)
    r = 0
    for k in range(len(classes)):
        for code in classes.test_variants[k] or [
            "0",
            "-s",
            "+s",
            "h",
            "h-s",
            "h+s",
            "l",
            "l-s",
            "l+s",
        ]:
            pos, hgt = apply_variant(
                classes.positions[k], classes.heights[k], code, shift=7, delta=0.04, n_points=400
            )
            assert plan.labels[r] == k
            np.testing.assert_array_equal(plan.positions[r, : plan.counts[r]], pos)
            np.testing.assert_array_equal(plan.heights[r, : plan.counts[r]], hgt.astype(np.float32))
            r += 1
    assert r == len(plan)


# ------------------------------------------------------------ the authors' benchmark set


def authors_test_variants(positions, heights, *, shift=30, delta=0.04, n=5000):
    """The nine test spectra's peaks of one class as the authors' spectra_from_config.py
    (jschuetzke/synthetic-spectra-benchmark) places them: exact, left, right, then heights
    +delta and -delta (peaks of height 1.0 unchanged, clipped to [0, 2]) at each position."""
    pos = np.asarray(positions)
    left, right = np.clip(pos - shift, 0, n - 1), np.clip(pos + shift, 0, n - 1)
    hgt = np.asarray(heights, dtype=np.float64)
    hi = np.clip(np.where(hgt != 1.0, hgt + delta, hgt), 0, 2)
    lo = np.clip(np.where(hgt != 1.0, hgt - delta, hgt), 0, 2)
    return [(p, h) for h in (hgt, hi, lo) for p in (pos, left, right)]


def test_the_benchmark_test_split_is_the_authors_variants_of_their_classes():
    """config/benchmark_classes.json (the authors' 500 classes) with config/paper.yaml's test
    settings gives every class's nine test variants where the authors' script puts them,
    including the smaller shift (classes 8, 318: 17) and height change (164, 281, 219, 347:
    0.025) their script gives six classes (the classes' own test_shift, test_delta)."""
    import yaml

    from conftest import REPO

    classes = load_classes(REPO / "config" / "benchmark_classes.json", n_points=5000)
    test = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())["datasets"]["benchmark"]
    test = test["test"]
    plan = test_split(classes, sigma=test["sigma"], shift=test["shift"], delta=test["delta"],
                      variants=test["variants"])  # fmt: skip
    assert len(plan) == 500 * 9 and (plan.labels == np.repeat(np.arange(500), 9)).all()
    own = {8: (17, 0.04), 318: (17, 0.04), 164: (30, 0.025), 281: (30, 0.025)}
    own |= {219: (30, 0.025), 347: (30, 0.025)}
    for k in range(500):
        shift, delta = own.get(k, (30, 0.04))
        expected = authors_test_variants(classes.positions[k], classes.heights[k], shift=shift,
                                         delta=delta)  # fmt: skip
        for j, (pos, hgt) in enumerate(expected):
            row = 9 * k + j
            count = plan.counts[row]
            assert count == len(pos)
            np.testing.assert_array_equal(plan.positions[row, :count], pos)
            np.testing.assert_allclose(plan.heights[row, :count], hgt.astype(np.float32))
    assert plan.variant[9 * 8 + 1] == "shift=-17,height=0"
    assert plan.variant[9 * 164 + 3] == "shift=0,height=+0.025"


def test_the_ambiguity_criterion_flags_the_pairs_the_authors_patched():
    """On the authors' benchmark classes, the test variants inside another class's training
    variation are exactly those of the three pairs their rendering script patched by hand
    (8/318, 164/281, 219/347); their patches do not take them out of it."""
    import yaml

    from conftest import REPO
    from specbench.data.render import ambiguous_pairs

    classes = load_classes(REPO / "config" / "benchmark_classes.json", n_points=5000)
    dataset = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())["datasets"]["benchmark"]
    pairs = ambiguous_pairs(classes, {"seed": 0, "render": dataset["render"],
                                      "test": dataset["test"]})  # fmt: skip
    found = {frozenset((p["class_a"], p["class_b"])) for p in pairs}
    assert found == {frozenset(pair) for pair in ((8, 318), (164, 281), (219, 347))}
