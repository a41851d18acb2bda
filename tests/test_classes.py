"""Tests of specbench.data.classes: generation, the published JSON format, the challenge set."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from specbench.data.sources import make_classes
from specbench.data.classes import (
    ClassesError,
    check_classes_file,
    generate_class,
    generate_classes,
    load_classes,
    rescale_positions,
    save_classes,
)

ROOT = Path(__file__).resolve().parents[1]
CHALLENGE = ROOT / "config" / "challenge_classes.json"

# Peak-count histogram of the authors' published 500-class config (Schuetzke et al. 2023).
PUBLISHED_COUNTS = {2: 126, 3: 183, 4: 100, 5: 50, 6: 19, 7: 7, 8: 6, 9: 3, 10: 6}


def write_json(path: Path, data: object) -> Path:
    path.write_text(json.dumps(data))
    return path


def published(n: int = 100) -> dict:
    return {
        "datapoints": n,
        "classes": 2,
        "spectra": {
            "0": {"peak_positions": [10, 50], "peak_heights": [1.0, 0.25]},
            "1": {"peak_positions": [0, n - 1], "peak_heights": [0.5, 1.0]},
        },
    }


# ------------------------------------------------------------------ generation


def test_generated_classes_follow_the_recipe():
    classes = generate_classes(200, n_points=1000, seed=7, boundary=20, max_height=100)
    assert len(classes) == 200 and classes.n_points == 1000
    for pos, hgt in zip(classes.positions, classes.heights):
        assert 2 <= len(pos) <= 10
        assert np.all(pos >= 20) and np.all(pos < 980)
        assert np.all(np.diff(pos) > 0)  # sorted, distinct
        assert hgt.max() == 1.0 and hgt.min() >= 0.01
        np.testing.assert_array_equal(hgt, np.round(hgt, 3))
    assert all(v is None for v in classes.test_variants)


def test_generation_is_reproducible_and_seeded():
    a = generate_classes(30, n_points=500, seed=1, boundary=10)
    b = generate_classes(30, n_points=500, seed=1, boundary=10)
    c = generate_classes(30, n_points=500, seed=2, boundary=10)
    assert all(np.array_equal(x, y) for x, y in zip(a.positions, b.positions))
    assert any(not np.array_equal(x, y) for x, y in zip(a.positions, c.positions))


def test_class_k_does_not_change_when_classes_are_added():
    small = generate_classes(5, n_points=800, seed=3, boundary=10)
    large = generate_classes(12, n_points=800, seed=3, boundary=10)
    for k in range(5):
        np.testing.assert_array_equal(small.positions[k], large.positions[k])
        np.testing.assert_array_equal(small.heights[k], large.heights[k])
    pos, hgt = generate_class(4, n_points=800, seed=3, boundary=10)
    np.testing.assert_array_equal(pos, large.positions[4])


def test_gamma_peak_counts_match_the_published_distribution():
    classes = generate_classes(500, n_points=5000, seed=2022)  # paper defaults
    counts = np.bincount([len(p) for p in classes.positions], minlength=11)
    assert counts[:2].sum() == 0 and counts[11:].sum() == 0
    # Bins 2, 3, 4, 5, 6+ (the tail is too thin to compare bin by bin).
    ours = [*counts[2:6], counts[6:].sum()]
    theirs = [PUBLISHED_COUNTS[k] for k in range(2, 6)]
    theirs.append(sum(v for k, v in PUBLISHED_COUNTS.items() if k >= 6))
    _, p_value, _, _ = stats.chi2_contingency(np.array([ours, theirs]))
    assert p_value > 0.01, (ours, theirs, p_value)
    # A clearly different distribution (uniform 2..10) is told apart by the same test.
    uniform = generate_classes(
        500,
        n_points=5000,
        seed=2022,
        peak_count={"distribution": "uniform", "min": 2, "max": 10},
    )
    u = np.bincount([len(p) for p in uniform.positions], minlength=11)
    _, p_uniform, _, _ = stats.chi2_contingency(np.array([[*u[2:6], u[6:].sum()], theirs]))
    assert p_uniform < 1e-6


def test_uniform_peak_count_stays_in_range():
    classes = generate_classes(
        100,
        n_points=600,
        seed=0,
        boundary=0,
        peak_count={"distribution": "uniform", "min": 3, "max": 4},
    )
    assert {len(p) for p in classes.positions} == {3, 4}


# ------------------------------------------------------------------ published format


def test_published_json_round_trips(tmp_path):
    source = write_json(tmp_path / "pub.json", published())
    classes = load_classes(source)
    assert classes.n_points == 100 and len(classes) == 2
    np.testing.assert_array_equal(classes.positions[1], [0, 99])
    out = tmp_path / "out.json"
    save_classes(classes, out)
    data = json.loads(out.read_text())
    assert data["datapoints"] == 100 and data["classes"] == 2
    assert data["spectra"] == published()["spectra"]
    again = load_classes(out)
    for a, b in zip(classes.heights, again.heights):
        np.testing.assert_array_equal(a, b)


def test_metadata_keys_are_kept_and_peaks_sorted(tmp_path):
    data = published()
    data["description"] = "mine"
    data["spectra"]["0"] = {"peak_positions": [50, 10], "peak_heights": [0.25, 1.0]}
    classes = load_classes(write_json(tmp_path / "c.json", data))
    assert classes.metadata["description"] == "mine"
    np.testing.assert_array_equal(classes.positions[0], [10, 50])
    np.testing.assert_array_equal(classes.heights[0], [1.0, 0.25])


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda d: d.pop("spectra"), "missing key 'spectra'"),
        (lambda d: d.update(datapoints=0), "'datapoints' must be a positive integer"),
        (lambda d: d.update(classes=3), "'classes' is 3 but 'spectra' has 2"),
        (lambda d: d["spectra"].update({"5": d["spectra"]["0"]}), "class indices"),
        (
            lambda d: d["spectra"]["1"].update(peak_positions=[0, 100]),
            "class 1: peak position 100 is outside the spectrum [0, 100)",
        ),
        (
            lambda d: d["spectra"]["1"].update(peak_positions=[-1, 5]),
            "peak position -1 is outside the spectrum",
        ),
        (
            lambda d: d["spectra"]["0"].update(peak_heights=[1.0]),
            "class 0: 2 peak_positions but 1 peak_heights",
        ),
        (
            lambda d: d["spectra"]["0"].update(peak_positions=[1.5, 3]),
            "peak position 1.5 is not an integer",
        ),
        (
            lambda d: d["spectra"]["0"].update(peak_heights=[1.0, "x"]),
            "peak height 'x' is not a non-negative number",
        ),
        (
            lambda d: d["spectra"]["0"].update(peak_heights=[100, 40]),
            "class 0: peak height 100 is above 2 (heights are relative, the tallest peak 1.0",
        ),
        (
            lambda d: d["spectra"]["1"].update(peak_heights=[0, 0.0]),
            "class 1: no peak height above 0",
        ),
        (
            lambda d: d["spectra"]["0"].update(test_variants=["0", "+x"]),
            "class 0: test_variants: invalid test variant '+x'",
        ),
        (
            lambda d: d["spectra"]["0"].update(test_variants=[]),
            "non-empty list of variant codes",
        ),
        (lambda d: d["spectra"]["0"].update(test_variant=["0"]), "unknown key(s) ['test_variant']"),
        (lambda d: d["spectra"]["0"].update(peak_positions=[]), "non-empty list of integers"),
    ],
)
def test_bad_classes_files_are_rejected_with_clear_messages(tmp_path, mutate, message):
    data = published()
    mutate(data)
    path = write_json(tmp_path / "bad.json", data)
    with pytest.raises(ClassesError) as err:
        check_classes_file(path)
    assert str(path) in str(err.value)
    assert message in str(err.value)
    assert isinstance(err.value, ValueError)


def test_not_json_and_missing_file_are_rejected(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"datapoints": 5000, "spectra": {')
    with pytest.raises(ClassesError, match="broken.json: not valid JSON"):
        check_classes_file(path)
    path.write_text("[1, 2]")
    with pytest.raises(ClassesError, match="expected a JSON object"):
        check_classes_file(path)
    with pytest.raises(ClassesError, match="nothere.json: no such classes file"):
        check_classes_file(tmp_path / "nothere.json")
    path.write_bytes(b"PAR1\x15\xc0\x00")  # a binary file (a split) given as classes_file
    with pytest.raises(ClassesError, match="broken.json: not valid JSON"):
        check_classes_file(path)


def test_rescaling_that_merges_peaks_is_rejected(tmp_path):
    data = published()
    data["spectra"]["0"]["peak_positions"] = [10, 11]
    path = write_json(tmp_path / "close.json", data)
    check_classes_file(path)  # fine at its own resolution
    check_classes_file(path, n_points=100)
    with pytest.raises(ClassesError, match="n_points=10 points merges peaks"):
        check_classes_file(path, n_points=10)


def test_rescaling_positions_is_proportional_and_logged(tmp_path, caplog):
    np.testing.assert_array_equal(
        rescale_positions(np.array([0, 700, 3070, 4999]), 5000, 1000), [0, 140, 614, 999]
    )
    with caplog.at_level(logging.INFO, logger="specbench.data.classes"):
        classes = load_classes(CHALLENGE, n_points=1000)
    assert "rescaling peak positions from 5000 to 1000 points" in caplog.text
    assert classes.n_points == 1000
    np.testing.assert_array_equal(classes.positions[12], [246, 421])  # round(1230/5), round(2103/5)
    np.testing.assert_array_equal(classes.heights[12], [0.15, 1.0])


def test_check_classes_file_imports_nothing_heavy():
    code = (
        "import sys; import specbench.data.classes as c; "
        f"c.check_classes_file({str(CHALLENGE)!r}, n_points=1000); "
        "heavy = [m for m in ('pandas', 'pyarrow', 'keras', 'tensorflow', 'scipy') "
        "if m in sys.modules]; print(heavy); assert not heavy"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={"PYTHONPATH": str(ROOT / "src")},
    )
    assert result.returncode == 0, result.stdout + result.stderr


# ------------------------------------------------------------------ challenge set


def test_challenge_json_matches_the_table():
    classes = check_classes_file(CHALLENGE)
    assert classes.n_points == 5000 and len(classes) == 27
    spot = {
        0: ([700, 3000], [0.7, 1.0]),
        1: ([700, 1800, 3000], [0.7, 0.035, 1.0]),
        8: ([500, 2100, 2260, 2750], [0.9, 1.0, 0.035, 0.035]),
        11: ([700, 3140], [1.0, 0.7]),
        13: ([1300, 2101], [0.15, 1.0]),
        17: ([1370, 1890, 4700], [0.15, 0.2, 1.0]),
        19: ([920, 1500], [0.155, 1.0]),
        22: ([1151, 2258], [1.0, 0.275]),
        24: ([302, 2750, 4198], [0.08, 1.0, 0.22]),
        26: ([299, 2750, 4202], [0.23, 1.0, 0.23]),
    }
    for k, (pos, hgt) in spot.items():
        np.testing.assert_array_equal(classes.positions[k], pos)
        np.testing.assert_array_equal(classes.heights[k], hgt)
    assert all(h.max() == 1.0 for h in classes.heights)


def test_challenge_variant_groups():
    classes = check_classes_file(CHALLENGE)
    groups = {
        ("0", "-s", "+s", "l", "l-s", "l+s"): [*range(9), 20, 23, 26],
        ("0", "+s", "h", "h+s", "l", "l+s"): [9, 12, 15],
        ("-s", "+s", "h-s", "h+s", "l-s", "l+s"): [10, 13, 16],
        ("0", "-s", "h", "h-s", "l", "l-s"): [11, 14, 17],
        ("0", "-s", "+s", "h", "h-s", "h+s"): [18, 21, 24],
        ("l", "l-s", "l+s", "h", "h-s", "h+s"): [19, 22, 25],
    }
    seen = []
    for codes, members in groups.items():
        for k in members:
            assert set(classes.test_variants[k]) == set(codes), k
            seen.append(k)
    assert sorted(seen) == list(range(27))


# ------------------------------------------------------------------ rule entry point


def test_make_classes_for_each_source(tmp_path):
    out = tmp_path / "gen" / "classes.json"
    cfg = {
        "source": "generated",
        "n_points": 600,
        "seed": 5,
        "generate": {"n_classes": 4, "boundary": 10},
    }
    made = make_classes(cfg, name="g", output=out)
    data = json.loads(out.read_text())
    assert data["classes"] == 4 and data["datapoints"] == 600
    assert data["dataset"] == "g" and data["source"] == "generated" and data["seed"] == 5
    np.testing.assert_array_equal(data["spectra"]["3"]["peak_positions"], made.positions[3])
    assert check_classes_file(out).n_points == 600

    out = tmp_path / "ch" / "classes.json"
    cfg = {"source": "challenge", "n_points": 1000, "seed": 2023}
    make_classes(cfg, name="challenge", output=out, source=[str(CHALLENGE)])
    data = json.loads(out.read_text())
    assert data["datapoints"] == 1000 and data["rescaled_from_datapoints"] == 5000
    assert data["spectra"]["19"]["test_variants"] == ["l", "l-s", "l+s", "h", "h-s", "h+s"]
    assert data["spectra"]["9"]["peak_positions"] == [140, 600]

    src = write_json(tmp_path / "pub.json", published())
    out = tmp_path / "file" / "classes.json"
    make_classes(
        {"source": "file", "classes_file": "x", "seed": 0}, name="f", output=out, source=str(src)
    )
    assert json.loads(out.read_text())["spectra"] == published()["spectra"]


BENCHMARK = ROOT / "config" / "benchmark_classes.json"


def test_the_shipped_benchmark_classes_are_the_authors():
    """config/benchmark_classes.json holds the authors' 500 classes (the peak-count histogram
    of their published config), and only six of them carry their own test settings."""
    classes = check_classes_file(BENCHMARK)
    assert len(classes) == 500 and classes.n_points == 5000
    counts = np.bincount([len(p) for p in classes.positions])
    assert {k: int(v) for k, v in enumerate(counts) if v} == PUBLISHED_COUNTS
    assert all(h.max() == 1.0 for h in classes.heights)
    shifts = {k: s for k, s in enumerate(classes.test_shift) if s is not None}
    deltas = {k: d for k, d in enumerate(classes.test_delta) if d is not None}
    assert shifts == {8: 17, 318: 17} and deltas == dict.fromkeys([164, 219, 281, 347], 0.025)


def test_a_class_s_own_test_settings_round_trip_and_scale(tmp_path):
    """test_shift and test_delta are kept by save_classes (rule generate_classes writes the
    dataset's classes.json so); a shift in the file's points scales with the positions; a bad
    value is refused naming the class."""
    data = {
        "datapoints": 1000,
        "spectra": {
            "0": {"peak_positions": [100, 500], "peak_heights": [0.5, 1.0], "test_shift": 17},
            "1": {"peak_positions": [300], "peak_heights": [1.0], "test_delta": 0.025},
        },
    }
    path = tmp_path / "own.json"
    path.write_text(json.dumps(data))
    classes = load_classes(path)
    assert classes.test_shift == [17, None] and classes.test_delta == [None, 0.025]
    save_classes(classes, tmp_path / "again.json")
    assert json.loads((tmp_path / "again.json").read_text())["spectra"] == data["spectra"]
    half = load_classes(path, n_points=500)
    assert half.test_shift == [8, None] and half.positions[0].tolist() == [50, 250]
    plain = load_classes(CHALLENGE)
    assert plain.test_shift is None and plain.test_delta is None
    for key, value in (("test_shift", -1), ("test_shift", 2.5), ("test_delta", "x")):
        bad = json.loads(json.dumps(data))
        bad["spectra"]["1"][key] = value
        path.write_text(json.dumps(bad))
        with pytest.raises(ClassesError, match=f"class 1: {key} {value!r} is not a non-negative"):
            check_classes_file(path)
