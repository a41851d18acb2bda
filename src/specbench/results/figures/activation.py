"""Hidden dense activation, linear vs ReLU, per architecture (rule plot_activation)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from specbench.results.figures.layout import (
    label_above,
    legend_below,
    placeholder,
    save_figure,
)  # noqa: E402
from specbench.results.figures.runs import experiment_runs, model_reference  # noqa: E402
from specbench.results.figures.style import PAPER, palette, styled  # noqa: E402
from specbench.results.tables.common import architecture_label, architecture_order  # noqa: E402
from specbench.results.tables.paired import paired_label, paired_test  # noqa: E402


def _dodge_offsets(n: int, width: float = 0.8) -> list[float]:
    """Centre offsets of `n` dodged hue levels (seaborn's categorical dodge)."""
    step = width / max(n, 1)
    return [-width / 2 + step * (j + 0.5) for j in range(n)]


def plot_activation(
    runs: str | Path,
    png: str | Path,
    svg: str | Path,
    style: Mapping[str, Any] | None = None,
    experiment: str = "activation",
    reference: str | Path | Sequence[str | Path] | None = None,
) -> None:
    """Test accuracy (%) per architecture of `experiment`, hidden dense layers linear vs ReLU.

    One point per seed, coloured by the effective dense activation (explicit setting or the
    architecture's default); where `reference` (config/reference/paper_challenge.csv) has
    published values for a model, its published range is a grey bar behind its points.
    """
    experiment, data = experiment_runs(runs, experiment)
    data["activation"] = data["dense_activation"].fillna("default")
    ok = data[(data["status"] == "ok") & data["test_accuracy"].notna()].copy()
    ok["accuracy_pct"] = 100.0 * ok["test_accuracy"]
    archs = architecture_order(data["architecture"])
    known = ["linear", "relu"]
    levels = [a for a in known if a in set(data["activation"])]
    levels += sorted(set(data["activation"]) - set(known))
    if ok.empty:
        placeholder(f"experiment {experiment}: no finished runs to draw", png, svg, style)
        return
    ref = model_reference(data, reference)
    offsets = dict(zip(levels, _dodge_offsets(len(levels))))
    with styled(style) as s:
        fig, ax = plt.subplots(figsize=(s["width"], s["height"]))
        colors = dict(zip(levels, palette(s, len(levels))))
        has_ref = False
        width = 0.8 / len(levels)
        for model, row in ref.iterrows():
            if np.isnan(row["test_accuracy_min"]) or np.isnan(row["test_accuracy_max"]):
                continue
            info = data[data["model"] == model].iloc[0]
            x = archs.index(info["architecture"]) + offsets[info["activation"]]
            low, high = 100.0 * row["test_accuracy_min"], 100.0 * row["test_accuracy_max"]
            ax.bar(
                x,
                high - low,
                bottom=low,
                width=0.8 * width,
                color="0.82",
                edgecolor="0.6",
                zorder=0,
            )
            has_ref = True
        sns.stripplot(
            data=ok,
            x="architecture",
            y="accuracy_pct",
            hue="activation",
            order=archs,
            hue_order=levels,
            palette=colors,
            dodge=True,
            jitter=0.08,
            size=6,
            legend=False,
            ax=ax,
            zorder=3,
        )
        means = ok.groupby(["architecture", "activation"])["accuracy_pct"].mean()
        for (arch, act), mean in means.items():
            x = archs.index(arch) + offsets[act]
            ax.hlines(mean, x - 0.4 * width, x + 0.4 * width, color="black", lw=1.5, zorder=4)
        handles = [
            Line2D(
                [],
                [],
                marker="o",
                ls="",
                color=colors[level],
                label=f"{'ReLU' if level == 'relu' else level} hidden dense layers",
            )
            for level in levels
        ]
        handles.append(Line2D([], [], color="black", lw=1.5, label="mean over seeds"))
        if has_ref:
            handles.append(
                Patch(facecolor="0.82", edgecolor="0.6", label=f"published range ({PAPER})")
            )
        ax.set_xticks(range(len(archs)))
        ax.set_xticklabels([architecture_label(a) for a in archs])
        ax.set_xlim(-0.6, len(archs) - 0.4)
        ax.set_xlabel("architecture")
        ax.set_ylabel("test accuracy (%)")
        label_height = _annotate_relu_gain(ax, data, experiment, archs)
        dataset = ", ".join(sorted(data["dataset"].unique()))
        ax.set_title(
            f"Hidden dense activation: experiment {experiment} ({dataset})",
            pad=max(40.0, label_height + 8.0),
        )
        legend_below(fig, handles, ncol=2)
        save_figure(fig, png, svg, s["dpi"])


def _narrow(text: str) -> str:
    """A paired-difference label on more, shorter lines (for narrow columns)."""
    for sign in (" +", " -"):
        if sign in text:
            text = text.replace(sign, "\n" + sign[1], 1)
            break
    return text.replace(" (", "\n(").replace("seed: ", "seed:\n").replace("seed, ", "seed,\n")


def _annotate_relu_gain(ax: plt.Axes, data: pd.DataFrame, experiment: str, archs: list) -> float:
    """Above each architecture: the paired ReLU - linear difference of test accuracy with its
    95 % interval (seed s of both models shares data order and initial weights). Labels too wide
    for their column (e.g. a user model beside the five) are set on more lines in a smaller
    font. Returns the labels' height in points (the title goes above them)."""
    labels = {}
    for arch in archs:
        rows = data[data["architecture"] == arch].drop_duplicates("model")
        relu = rows[rows["activation"] == "relu"]["model"].tolist()
        linear = rows[rows["activation"] == "linear"]["model"].tolist()
        if relu and linear:
            diff = paired_test(data, experiment, relu[0], linear[0])
            text = paired_label(diff, "ReLU−lin.")
            if text:
                labels[arch] = text.replace(" (", "\n(", 1)
    texts = [label_above(ax, archs.index(arch), text, "x-small") for arch, text in labels.items()]
    if not texts:
        return 0.0
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    column = ax.transData.transform((1, 0))[0] - ax.transData.transform((0, 0))[0]
    if max(t.get_window_extent(renderer).width for t in texts) > 0.95 * column:
        for t in texts:
            t.remove()
        texts = [
            label_above(ax, archs.index(arch), _narrow(text), "xx-small")
            for arch, text in labels.items()
        ]
    height_px = max(t.get_window_extent(renderer).height for t in texts)
    return height_px * 72.0 / fig.dpi
