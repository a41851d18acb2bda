"""Figure layout at the published scale: no legend over data, no cut title, no overprinted label.

The loss curves and class variation figures are drawn from synthetic inputs the size of
config/paper.yaml's (its experiments and models: 26 models on two datasets, 5 seeds, up to 500
epochs; 500 classes of 5000 points, 9 test variants), and layout_problems (specbench.results.figures.layout), which
save_figure runs on every figure (a WARNING per problem), must find nothing.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402

from helpers import variant_label, write_split  # noqa: E402
from specbench.results.figures.class_variation import plot_class_variation  # noqa: E402
from specbench.results.figures.layout import layout_problems  # noqa: E402
from specbench.results.figures.loss_curves import plot_loss_curves  # noqa: E402
from specbench.data.variants import variant_codes  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
N_POINTS, N_CLASSES = 5000, 500
VARIANTS = ["0", "-s", "+s", "h", "h-s", "h+s", "l", "l-s", "l+s"]
STYLES = [None, {"context": "talk"}, {"width": 5.0, "height": 3.0}]


def layout_warnings(caplog) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "specbench.results.figures" and r.levelno >= logging.WARNING
    ]


# ---------------------------------------------------------------- the checker itself


def test_layout_problems_finds_what_it_should():
    """A legend on a line, two labels on one spot, a title wider than the canvas: all found;
    the same figure laid out properly: nothing."""
    fig, (ax, other) = plt.subplots(1, 2, figsize=(4, 3))
    ax.plot([0, 1], [0, 1], label="a line through the legend")  # ends in the upper right
    ax.legend(loc="upper right")
    ax.annotate("h+s", (0.5, 0.5))
    ax.annotate("l+s", (0.5, 0.5))
    other.set_title("a title much longer than its narrow panel and the whole figure is wide")
    problems = layout_problems(fig)
    assert any("legend of panel 1 covers its data" in p for p in problems)
    assert any("'h+s' and 'l+s'" in p for p in problems)
    assert any("title of panel 2 reaches outside the figure" in p for p in problems)
    plt.close(fig)

    fig, (ax, other) = plt.subplots(1, 2, figsize=(4, 3))
    ax.plot([0, 1], [0, 0.2], label="low line")
    ax.set_ylim(0, 1)
    ax.legend(loc="upper right")
    ax.annotate("h+s", (0.2, 0.5))
    ax.annotate("l+s", (0.2, 0.8))
    other.set_title("short")
    assert layout_problems(fig) == []
    plt.close(fig)


# ---------------------------------------------------------------- loss curves


def paper_runs(root: Path) -> list[dict]:
    """Run records of config/paper.yaml's experiments with a history.csv each (val_loss that
    falls, with noise; some rise first, as batch-norm models do; early stopping at 60-500)."""
    config = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    rng = np.random.default_rng(0)
    records, written = [], {}
    for experiment, spec in config["experiments"].items():
        if spec.get("sweep"):  # the robustness levels: datasets of their own
            continue
        for model, entry in spec["models"].items():
            for seed in spec["seeds"]:
                key = (spec["dataset"], model, seed)
                path = root / "runs" / spec["dataset"] / model / f"seed{seed}" / "history.csv"
                if key not in written:
                    epochs = int(rng.integers(60, 501))
                    t = np.arange(1, epochs + 1)
                    floor = rng.uniform(0.01, 0.3)
                    loss = floor + rng.uniform(2, 6) * np.exp(-t / rng.uniform(5, 60))
                    if "bn" in model or entry["architecture"] == "resnet":
                        loss += rng.uniform(1, 20) * np.exp(-((t - 8) ** 2) / 30)
                    loss *= np.exp(rng.normal(0, 0.08, epochs))
                    path.parent.mkdir(parents=True, exist_ok=True)
                    pd.DataFrame({"epoch": t - 1, "val_loss": loss}).to_csv(path, index=False)
                    written[key] = path
                records.append(
                    {
                        "experiment": experiment,
                        "dataset": spec["dataset"],
                        "model": model,
                        "seed": seed,
                        "architecture": entry["architecture"],
                        "hyperparameters": {k: v for k, v in entry.items() if k != "architecture"},
                        "history": str(path),
                    }
                )
    assert len(written) == 26 * 5
    return records


@pytest.mark.slow
@pytest.mark.parametrize("style", STYLES, ids=["default", "talk", "small"])
def test_loss_curves_at_paper_scale(tmp_path, caplog, style):
    runs = paper_runs(tmp_path)
    png, svg = tmp_path / "loss_curves.png", tmp_path / "loss_curves.svg"
    with caplog.at_level(logging.WARNING, logger="specbench.results.figures"):
        plot_loss_curves(runs, png, svg, {**(style or {}), "dpi": 60})
    assert png.stat().st_size > 0
    assert layout_warnings(caplog) == []
    assert "cnn6_convdrop (challenge)" in svg.read_text()


# ---------------------------------------------------------------- class variation


def gauss_rows(positions: list[list[int]], heights: list[list[float]], sigma=3.0) -> np.ndarray:
    x = np.arange(N_POINTS, dtype=np.float32)
    out = np.zeros((len(positions), N_POINTS), np.float32)
    for i, (pos, h) in enumerate(zip(positions, heights)):
        for p, hh in zip(pos, h):
            lo, hi = max(0, p - 30), min(N_POINTS, p + 31)
            out[i, lo:hi] += hh * np.exp(-0.5 * ((x[lo:hi] - p) / sigma) ** 2)
    return out


def paper_dataset(root: Path, tallest_fixed: bool) -> Path:
    """classes.json (500 classes, 5000 points), test.parquet (9 variants per class: shift 30,
    height change 0.04) and train.parquet (50 spectra of the first classes: shift U{-50..49},
    heights x U(0.95, 1.05)). With `tallest_fixed` the height variants leave the 1.0 peak alone
    (as with vary_tallest: false), so three test variants share each of its maxima."""
    rng = np.random.default_rng(1)
    spectra, test = {}, ([], [], [], [])
    for k in range(N_CLASSES):
        n = int(min(10, 2 + rng.gamma(1.2, 1.2)))
        pos = sorted(int(p) for p in rng.choice(np.arange(100, N_POINTS - 100), n, replace=False))
        h = list(rng.uniform(0.01, 1.0, n))
        h[int(rng.integers(n))] = 1.0
        spectra[str(k)] = {"peak_positions": pos, "peak_heights": h}
        for code in VARIANTS:
            label = variant_label(code, 30, 0.04)
            s = int(label.split(",")[0].split("=")[1])
            d = float(label.split(",")[1].split("=")[1])
            test[0].append(k)
            test[1].append([p + s for p in pos])
            test[2].append([x if (tallest_fixed and x == 1.0) else x + d for x in h])
            test[3].append(label)
    (root / "classes.json").write_text(
        json.dumps({"datapoints": N_POINTS, "classes": N_CLASSES, "spectra": spectra})
    )
    write_split(root / "test.parquet", test[0], gauss_rows(*test[1:3]), *test[1:], sigma=3.0)
    train = ([], [], [], [])
    for k in range(3):
        pos, h = spectra[str(k)]["peak_positions"], spectra[str(k)]["peak_heights"]
        for _ in range(50):
            train[0].append(k)
            train[1].append([p + int(rng.integers(-50, 50)) for p in pos])
            train[2].append([x * rng.uniform(0.95, 1.05) for x in h])
            train[3].append("random")
    write_split(root / "train.parquet", train[0], gauss_rows(*train[1:3]), *train[1:], sigma=3.0)
    return root


@pytest.mark.slow
@pytest.mark.parametrize(
    ("style", "tallest_fixed"),
    [
        pytest.param(style, fixed, id=f"{sid}-{'tallest-fixed' if fixed else 'all-vary'}")
        for style, sid in zip(STYLES, ["default", "talk", "small"])
        for fixed in (True, False)
    ],
)
def test_class_variation_at_paper_scale(tmp_path, caplog, style, tallest_fixed):
    folder = paper_dataset(tmp_path, tallest_fixed)
    png, svg = tmp_path / "class_variation.png", tmp_path / "class_variation.svg"
    with caplog.at_level(logging.WARNING, logger="specbench.results.figures"):
        plot_class_variation(
            folder / "classes.json",
            folder / "train.parquet",
            folder / "test.parquet",
            png,
            svg,
            {**(style or {}), "dpi": 60},
            variants=variant_codes(30, 0.04),
        )
    assert png.stat().st_size > 0
    assert layout_warnings(caplog) == []
    text = svg.read_text()
    for code in VARIANTS:  # every variant is labelled (merged where maxima coincide)
        assert code in text
