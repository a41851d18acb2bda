"""Figures of the results stage (specbench.results.figures) drawn from small but real input files."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from helpers import run_record, variant_label, write_predictions, write_split
from specbench.results.figures.activation import plot_activation
from specbench.results.figures.class_variation import plot_class_variation
from specbench.results.figures.confused_pair import plot_confused_pair
from specbench.results.figures.loss_curves import plot_loss_curves
from specbench.results.figures.misclassifications import plot_misclassifications
from specbench.results.figures.modifications import plot_modifications
from specbench.results.figures.style import FigureInputError
from specbench.results.tables.confusions import aggregate_confusions
from specbench.results.tables.runs import aggregate_runs
from specbench.data.variants import variant_codes

REPO = Path(__file__).resolve().parents[1]
REFERENCE = REPO / "config" / "reference"
N_POINTS = 120


# ---------------------------------------------------------------- inputs


def gauss(positions, heights, sigma=2.0) -> np.ndarray:
    x = np.arange(N_POINTS)[:, None]
    peaks = np.asarray(heights)[None] * np.exp(
        -0.5 * ((x - np.asarray(positions)[None]) / sigma) ** 2
    )
    return peaks.sum(axis=1).astype(np.float32)


CLASSES = {
    0: ([30, 60], [1.0, 0.5]),
    1: ([32, 60, 90], [1.0, 0.5, 0.3]),
    2: ([20, 100], [1.0, 0.8]),
}
TEST_VARIANTS = {"0": (0, 0.0), "-s": (-3, 0.0), "+s": (3, 0.0), "h": (0, 0.04), "l": (0, -0.04)}


#: (shift, delta) of the test variants: labels as specbench.data.variants names them, and their codes.
TEST_SHIFT, TEST_DELTA = 3, 0.04
VARIANT_CODES = variant_codes(TEST_SHIFT, TEST_DELTA)


def write_rows(path: Path, rows: list[tuple[int, list[int], list[float], str]]) -> None:
    spectra = np.stack([gauss(p, h) for _, p, h, _ in rows])
    labels, positions, heights, variants = (list(col) for col in zip(*rows))
    write_split(path, labels, spectra, positions, heights, variants, sigma=2.0)


def write_dataset(root: Path, name: str, codes: bool = False) -> Path:
    """classes.json, train.parquet and test.parquet of a 3-class dataset; returns its folder.

    Test variants are labelled as the render stage does (``shift=-3,height=0``), or with their
    codes ("0", "-s", ...) with `codes`.
    """
    folder = root / "results" / "datasets" / name
    folder.mkdir(parents=True, exist_ok=True)
    spectra = {str(k): {"peak_positions": p, "peak_heights": h} for k, (p, h) in CLASSES.items()}
    (folder / "classes.json").write_text(
        json.dumps({"datapoints": N_POINTS, "classes": len(CLASSES), "spectra": spectra})
    )
    rng = np.random.default_rng(3)
    train, test = [], []
    for label, (positions, heights) in CLASSES.items():
        for _ in range(8):
            shift = rng.integers(-4, 4, len(positions))
            scale = 1 + rng.uniform(-0.05, 0.05, len(heights))
            train.append(
                (label, list(np.add(positions, shift)), list(np.multiply(heights, scale)), "random")
            )
        for variant, (shift, delta) in TEST_VARIANTS.items():
            name = variant if codes else variant_label(variant, TEST_SHIFT, TEST_DELTA)
            shifted = [p + shift for p in positions]
            test.append((label, shifted, [h + delta for h in heights], name))
    write_rows(folder / "train.parquet", train)
    write_rows(folder / "test.parquet", test)
    return folder


def write_run(
    root,
    experiment,
    dataset,
    model,
    seed,
    architecture,
    hp=None,
    *,
    accuracy=0.9,
    predicted=None,
    write=True,
) -> dict:
    """A run record with metrics.json, history.csv and predictions.parquet (15 test spectra)."""
    record = run_record(root, experiment, dataset, model, seed, architecture, hp)
    if not write:
        return record
    base = Path(record["metrics"]).parent
    labels = np.repeat(np.arange(3), 5).astype(np.int32)
    predicted = labels.copy() if predicted is None else np.asarray(predicted, np.int32)
    n_test = len(labels)
    wrong = int(round(n_test * (1 - accuracy)))
    probability = np.linspace(0.5, 0.9, n_test)
    variants = list(TEST_VARIANTS) * 3
    write_predictions(
        record["predictions"], labels, predicted, probability, np.full(n_test, 0.05), variants
    )
    epochs = 6 + seed
    pd.DataFrame(
        {
            "epoch": np.arange(1, epochs + 1),
            "loss": np.linspace(2.0, 0.2, epochs),
            "accuracy": np.linspace(0.2, 0.95, epochs),
            "val_loss": np.linspace(2.2, 0.3, epochs) * (1 + 0.1 * seed),
            "val_accuracy": np.linspace(0.2, 0.9, epochs),
            "learning_rate": 1e-3,
            "epoch_time_s": 0.5,
        }
    ).to_csv(base / "history.csv", index=False)
    metrics = {
        "model": model,
        "dataset": dataset,
        "seed": seed,
        "architecture": architecture,
        "n_test": n_test,
        "test_wrong": wrong,
        "test_accuracy": 1 - wrong / n_test,
        "best_epoch": epochs - 2,
        "epochs_run": epochs,
        "best_val_accuracy": 0.9,
        "best_val_loss": 0.3,
        "parameters": 1000,
        "macs": 5000,
        "train_time_s": 3.0,
        "train_samples_per_s": 100.0,
        "backend": "tensorflow",
        "precision": "float32",
        "versions": {"python": "3.11", "keras": "3.15.1"},
    }
    (base / "metrics.json").write_text(json.dumps(metrics))
    return record


@pytest.fixture
def results(tmp_path):
    """Runs of the three experiments (one run missing), aggregated into runs.csv."""
    runs = []
    for seed, acc in ((0, 0.8), (1, 0.87), (2, None)):
        runs.append(
            write_run(
                tmp_path,
                "benchmark",
                "bench",
                "cnn2",
                seed,
                "cnn2",
                accuracy=acc or 0,
                write=acc is not None,
            )
        )
        runs.append(
            write_run(
                tmp_path,
                "benchmark",
                "bench",
                "cnn6",
                seed,
                "cnn6",
                accuracy=(acc or 0) + 0.1,
                write=acc is not None,
            )
        )
    for seed in (0, 1):
        runs.append(write_run(tmp_path, "activation", "chal", "cnn2", seed, "cnn2", accuracy=0.6))
        runs.append(
            write_run(
                tmp_path,
                "activation",
                "chal",
                "cnn2_relu",
                seed,
                "cnn2",
                {"dense_activation": "relu"},
                accuracy=0.67,
            )
        )
        runs.append(write_run(tmp_path, "modifications", "chal", "vgg", seed, "vgg", accuracy=0.73))
        runs.append(
            write_run(
                tmp_path,
                "modifications",
                "chal",
                "vgg_k20_relu",
                seed,
                "vgg",
                {"kernel_size": 20, "dense_activation": "relu"},
                accuracy=0.8,
            )
        )
    aggregate_runs(runs, tmp_path / "runs.csv", tmp_path / "runs.md")
    return tmp_path, runs


def outputs(tmp_path: Path, name: str) -> tuple[Path, Path]:
    return tmp_path / "figures" / f"{name}.png", tmp_path / "figures" / f"{name}.svg"


def assert_figure(png: Path, svg: Path) -> tuple[int, int]:
    """Both files exist, the PNG decodes to a non-empty image, the SVG parses; PNG size."""
    assert png.stat().st_size > 0 and svg.stat().st_size > 0
    with Image.open(png) as image:
        image.load()
        width, height = image.size
    assert width > 100 and height > 100
    root = ET.parse(svg).getroot()
    assert root.tag.endswith("svg")
    return width, height


# ---------------------------------------------------------------- figures


def test_misclassifications(results):
    tmp, _ = results
    png, svg = outputs(tmp, "misclassifications")
    plot_misclassifications(
        tmp / "runs.csv",
        REFERENCE / "paper_benchmark.csv",
        png,
        svg,
        {"width": 6, "height": 4, "dpi": 80},
    )
    assert_figure(png, svg)
    text = svg.read_text()
    assert "Schuetzke et al. 2023" in text  # the published values are drawn
    assert "1 missing" in text  # the missing seed is named under its model
    assert "test error rate" in text


def test_style_changes_the_output_and_same_style_repeats_it(results):
    tmp, _ = results
    runs = tmp / "runs.csv"
    ref = REFERENCE / "paper_benchmark.csv"
    base = {"context": "paper", "palette": "colorblind", "width": 6, "height": 3, "dpi": 80}
    sizes, data = {}, {}
    for name, style in {
        "a": base,
        "again": base,
        "dpi": {**base, "dpi": 160},
        "palette": {**base, "palette": "rocket"},
        "context": {**base, "context": "poster"},
    }.items():
        png, svg = outputs(tmp, f"mis_{name}")
        plot_misclassifications(runs, ref, png, svg, style)
        sizes[name] = assert_figure(png, svg)
        data[name] = (png.read_bytes(), svg.read_bytes())
    assert data["again"] == data["a"]  # reproducible: no dates, fixed SVG ids
    assert sizes["dpi"][0] > 1.5 * sizes["a"][0]
    assert data["palette"][0] != data["a"][0] and data["palette"][1] != data["a"][1]
    assert data["context"][1] != data["a"][1]


def test_bad_style_names_the_key(results):
    tmp, _ = results
    png, svg = outputs(tmp, "bad")
    with pytest.raises(FigureInputError, match="palette='no_such_palette'"):
        plot_misclassifications(tmp / "runs.csv", None, png, svg, {"palette": "no_such_palette"})
    with pytest.raises(FigureInputError, match="colour"):
        plot_misclassifications(tmp / "runs.csv", None, png, svg, {"colour": "red"})
    assert not png.exists()


def test_activation_with_published_ranges(results):
    tmp, _ = results
    png, svg = outputs(tmp, "activation")
    plot_activation(
        tmp / "runs.csv", png, svg, {"dpi": 60}, "activation", REFERENCE / "paper_challenge.csv"
    )
    assert_figure(png, svg)
    text = svg.read_text()
    assert "ReLU hidden dense layers" in text and "linear hidden dense layers" in text
    assert "published range" in text
    png2, svg2 = outputs(tmp, "activation_noref")
    plot_activation(tmp / "runs.csv", png2, svg2, {"dpi": 60}, "activation")
    assert_figure(png2, svg2)
    assert "published range" not in svg2.read_text()


def test_activation_of_an_unknown_experiment_is_an_error(results):
    tmp, _ = results
    png, svg = outputs(tmp, "x")
    with pytest.raises(FigureInputError, match="'nonexistent'"):
        plot_activation(tmp / "runs.csv", png, svg, {}, "nonexistent")


def test_modifications(results):
    tmp, _ = results
    png, svg = outputs(tmp, "modifications")
    plot_modifications(tmp / "runs.csv", png, svg, {"dpi": 60}, "modifications")
    assert_figure(png, svg)
    text = svg.read_text()
    assert "vgg_k20_relu" in text and "original" in text
    # the original's points are this workflow's runs of the published model, not published numbers
    assert "original (published)" not in text
    assert "original (published hyperparameters)" in text


def test_loss_curves_skip_missing_histories(results, caplog):
    tmp, runs = results
    png, svg = outputs(tmp, "loss_curves")
    plot_loss_curves(runs, png, svg, {"dpi": 60})
    assert_figure(png, svg)
    assert "cnn2_relu" in svg.read_text()
    assert any("seed 2" in r.getMessage() for r in caplog.records)


def test_placeholder_when_every_run_is_missing(tmp_path):
    runs = [write_run(tmp_path, "benchmark", "b", "cnn2", 0, "cnn2", write=False)]
    aggregate_runs(runs, tmp_path / "runs.csv", tmp_path / "runs.md")
    png, svg = outputs(tmp_path, "empty")
    plot_misclassifications(tmp_path / "runs.csv", None, png, svg, {"dpi": 50})
    assert_figure(png, svg)
    assert "no finished runs" in svg.read_text()


def test_class_variation(tmp_path):
    folder = write_dataset(tmp_path, "bench")
    png, svg = outputs(tmp_path, "class_variation")
    plot_class_variation(
        folder / "classes.json",
        folder / "train.parquet",
        folder / "test.parquet",
        png,
        svg,
        {"dpi": 60},
        variants=VARIANT_CODES,
    )
    assert_figure(png, svg)
    text = svg.read_text()
    # class 0 (the first with two peaks and an unchanged test variant), its 8 training spectra
    assert "class 0" in text and "training spectra (8)" in text and "test variants (5)" in text
    assert "reference (test variant 0)" in text
    assert "h-s" not in text and "+s" in text  # test variants annotated by their codes
    assert "shift=" not in text
    # The right panel draws the peak's height before broadening (the split's peak_heights), not
    # the maximum of the rendered peak (lower, and lower the wider the peak): it must not say so.
    assert "peak maximum" not in text and "maxima" not in text
    assert "peak height (before broadening)" in text
    other = write_dataset(tmp_path / "codes", "bench", codes=True)
    png2, svg2 = outputs(tmp_path, "class_variation_2")
    plot_class_variation(
        other / "classes.json",
        other / "train.parquet",
        other / "test.parquet",
        png2,
        svg2,
        {"dpi": 60},
        class_index=2,
        variants=VARIANT_CODES,
    )
    text = svg2.read_text()
    assert "class 2" in text and "reference (test variant 0)" in text


def test_variant_codes_name_every_label_the_render_stage_writes():
    codes = variant_codes(30, 0.04)
    assert codes["shift=0,height=0"] == "0"
    assert codes["shift=-30,height=+0.04"] == "h-s"
    assert codes["shift=+30,height=0"] == "+s"
    assert codes["shift=0,height=-0.04"] == "l"
    assert len(codes) == 9
    assert variant_codes(0, 0.04)["shift=0,height=0"] == "0"  # "+s" would be the same label


def test_confused_pair(tmp_path):
    folder = write_dataset(tmp_path, "bench")
    labels = np.repeat(np.arange(3), 5)
    predicted = labels.copy()
    predicted[[1, 3]] = 1  # two class-0 spectra taken for class 1 ...
    predicted[7] = 0  # ... and one class-1 spectrum for class 0
    runs = [
        write_run(tmp_path, "benchmark", "bench", "cnn2", 0, "cnn2", predicted=predicted),
        write_run(tmp_path, "benchmark", "bench", "cnn2", 1, "cnn2", write=False),
    ]
    aggregate_confusions(runs, 3, tmp_path / "confusions.csv", tmp_path / "c.md")
    png, svg = outputs(tmp_path, "confused_pair")
    plot_confused_pair(
        tmp_path / "confusions.csv",
        runs,
        {"bench": folder / "test.parquet"},
        png,
        svg,
        {"dpi": 60},
        variants=VARIANT_CODES,
    )
    assert_figure(png, svg)
    text = svg.read_text()
    # the pair, how often, and the most confident mistake: row 7 (p = 0.70) of class 1
    assert "classes 0 and 1 confused 3x" in text
    assert "true 1, predicted 0 (p = 0.70)" in text
    with pytest.raises(FigureInputError, match="'bench'"):
        plot_confused_pair(
            tmp_path / "confusions.csv", runs, {"other": tmp_path / "test.parquet"}, png, svg, {}
        )


def test_confused_pair_without_mistakes(tmp_path):
    folder = write_dataset(tmp_path, "bench")
    runs = [write_run(tmp_path, "benchmark", "bench", "cnn2", 0, "cnn2")]
    aggregate_confusions(runs, 3, tmp_path / "confusions.csv", tmp_path / "c.md")
    png, svg = outputs(tmp_path, "confused_pair")
    plot_confused_pair(
        tmp_path / "confusions.csv",
        runs,
        {"bench": folder / "test.parquet"},
        png,
        svg,
        {"dpi": 60},
        variants=VARIANT_CODES,
    )
    assert_figure(png, svg)
    assert "no confused pair" in svg.read_text()


def test_activation_labels_stay_apart_beside_a_user_model(tmp_path, caplog):
    """The default config's five pairs plus a user model, one seed each: the paired-difference
    labels above the six columns would overprint each other at their usual width; they are set
    narrower, and the layout check (run by save_figure) finds nothing."""
    import logging

    runs = []
    for i, arch in enumerate(["cnn2", "cnn3", "cnn6", "inc3", "inc6"]):
        linear = "cnn6_linear" if arch == "cnn6" else arch
        relu = "cnn6" if arch == "cnn6" else f"{arch}_relu"
        runs.append(write_run(tmp_path, "activation", "chal", linear, 0, arch,
                              {"dense_activation": "linear"}, accuracy=0.5 + i / 50))  # fmt: skip
        runs.append(write_run(tmp_path, "activation", "chal", relu, 0, arch,
                              {"dense_activation": "relu"}, accuracy=0.55 + i / 50))  # fmt: skip
    runs.append(
        write_run(
            tmp_path, "activation", "chal", "tiny_net", 0, "my/tiny_net.py:build", accuracy=0.6
        )
    )
    aggregate_runs(runs, tmp_path / "runs.csv", tmp_path / "runs.md")
    png, svg = outputs(tmp_path, "activation")
    with caplog.at_level(logging.INFO, logger="specbench.results.figures"):
        plot_activation(tmp_path / "runs.csv", png, svg, {}, "activation")
    assert_figure(png, svg)
    assert "tiny_net †" in svg.read_text()
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
    assert warnings == []
    assert any("wrote" in r.getMessage() for r in caplog.records)  # the log was captured


# ---------------------------------------------------------------- the report's text


def render_workflow_text(config: dict, drawn: list[str]) -> str:
    """report/workflow.rst as `snakemake --report` renders it (Jinja with `snakemake.config` and
    the report's `files`, then its link targets appended, then docutils): the HTML body, with
    docutils' error messages in it (e.g. 'Unknown target name') where a link has no target."""
    import io
    from types import SimpleNamespace

    from docutils.core import publish_parts
    from jinja2 import Environment

    files = [SimpleNamespace(target=name, path=name) for name in drawn]
    links = "\n\n" + "\n".join(
        f".. _{f.target}: javascript:app.showResultInfo('{f.path}')" for f in files
    )
    text = (REPO / "report" / "workflow.rst").read_text() + links
    rendered = (
        Environment()
        .from_string(text)
        .render(snakemake=SimpleNamespace(config=config), categories={}, files=files)
    )
    quiet = {"warning_stream": io.StringIO()}  # the messages stay in the HTML, as in the report
    return publish_parts(rendered, writer="html", settings_overrides=quiet)["html_body"]


def test_the_report_links_only_the_figures_it_has():
    """With `select` leaving out the activation and modifications experiments their figures are
    not drawn: the report's text must not link them (docutils: 'Unknown target name'); with the
    figures drawn it links them."""
    import yaml

    from specbench.workflow import validation

    config = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
    validation.prepare_config(config, basedir=str(REPO))
    config["select"] = {"experiments": ["benchmark"]}
    common = ["runs.csv", "summary.csv", "confusions.csv", "runtimes.csv", "loss_curves.png"]
    common += ["misclassifications.png", "class_variation.png", "confused_pair.png"]
    subset = render_workflow_text(config, common)
    assert "Unknown target name" not in subset
    assert "activation.png" not in subset and "modifications.png" not in subset
    full = render_workflow_text(config, [*common, "activation.png", "modifications.png"])
    assert "Unknown target name" not in full
    assert "activation.png" in full and "modifications.png" in full
    config["experiments"] = {}  # a config with datasets only: no tables, no figures
    del config["select"]
    assert "Unknown target name" not in render_workflow_text(config, [])


def test_the_report_names_the_rendering_rules_and_links_the_agreement_table():
    """The workflow description names the three rules that render a dataset (render_spectra,
    render_test_split, find_ambiguous_pairs) and links agreement.csv where the report has it."""
    import yaml

    from specbench.workflow import validation

    config = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
    validation.prepare_config(config, basedir=str(REPO))
    drawn = ["runs.csv", "summary.csv", "agreement.csv", "confusions.csv", "runtimes.csv"]
    drawn += ["misclassifications.png", "loss_curves.png", "class_variation.png"]
    drawn += ["confused_pair.png", "activation.png", "modifications.png"]
    text = render_workflow_text(config, drawn)
    assert "Unknown target name" not in text
    for rule in ("render_spectra", "render_test_split", "find_ambiguous_pairs"):
        assert rule in text
    assert "showResultInfo('agreement.csv')" in text
    without = render_workflow_text(config, [name for name in drawn if name != "agreement.csv"])
    assert "Unknown target name" not in without and "agreement.csv" not in without
    # the test variants lie within the training variation (ambiguous_pairs.csv: "also inside
    # class k's own training variation"), not beyond it
    assert "beyond what training showed" not in text


@pytest.mark.parametrize(
    "config_file",
    [
        "config/config.yaml",
        "config/paper.yaml",
        "config/robustness.yaml",
        "tests/configs/tiny.yaml",
    ],
)
def test_the_class_variation_caption_holds_for_the_shipped_configs(config_file):
    """report/class_variation.rst says where the test variants lie against the training spread in
    the shipped configs: each test peak inside it (training shifts are drawn from [-shift, shift),
    heights from +/-height_shift; the test's fixed shift and delta are smaller) and the test width
    the narrowest training width. It once said they lay "at and beyond the edge" of the training
    variation, which the figure's crosses, inside the dots, contradicted."""
    import yaml

    from specbench.workflow import validation

    caption = (REPO / "report" / "class_variation.rst").read_text()
    assert "beyond the edge" not in caption and "maxima" not in caption
    assert "inside the training spread" in caption and "narrowest" in caption
    assert "before broadening" in caption  # the right panel's heights (test_class_variation)
    config = yaml.safe_load((REPO / config_file).read_text())
    validation.prepare_config(config, basedir=str(REPO))
    for name, dataset in config["datasets"].items():
        render, test = dataset["render"], dataset["test"]
        assert test["shift"] <= render["shift"] - 1, name
        assert test["delta"] <= render["height_shift"], name
        assert test["sigma"] == render["sigma"][0], name
