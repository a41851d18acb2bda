"""Test misclassifications per model (rule plot_misclassifications): the paper's swarm plot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.ticker  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from specbench.results.figures.layout import legend_below, placeholder, save_figure  # noqa: E402
from specbench.results.figures.runs import model_reference  # noqa: E402
from specbench.results.figures.style import PAPER, REFERENCE_COLOR, palette, styled  # noqa: E402
from specbench.results.tables.common import experiment_order, model_order  # noqa: E402
from specbench.results.tables.runs import read_runs  # noqa: E402


def plot_misclassifications(
    runs: str | Path,
    reference: str | Path | Sequence[str | Path] | None,
    png: str | Path,
    svg: str | Path,
    style: Mapping[str, Any] | None = None,
    experiment: str | None = "benchmark",
) -> None:
    """Test error rate (%) per model of `experiment`, one point per seed (a swarm plot).

    The left axis is the error rate, comparable between the reduced default scale and the
    paper's 4,500 test spectra; the right axis counts the misclassified spectra of this run's
    test set. Where a published value applies (match_reference) its mean is a diamond and
    its range over seeds a bar beside the model's points. Without a `experiment` in runs.csv
    (e.g. no benchmark experiment configured) the first experiment in the tables' order
    (:func:`specbench.results.tables.common.experiment_order`: the paper's, then by name) is drawn.
    """
    table = read_runs(runs)
    names = experiment_order(table["experiment"])
    if experiment not in names:
        experiment = names[0] if names else None
    if experiment is None:
        placeholder("no runs configured", png, svg, style)
        return
    data = table[table["experiment"] == experiment]
    ok = data[(data["status"] == "ok") & data["test_error_pct"].notna()]
    order = model_order(data)
    ref = model_reference(data, reference)
    if ok.empty:
        placeholder(f"experiment {experiment}: no finished runs to draw", png, svg, style)
        return
    with styled(style) as s:
        fig, ax = plt.subplots(figsize=(s["width"], s["height"]))
        colors = palette(s, len(order))
        sns.swarmplot(
            data=ok,
            x="model",
            y="test_error_pct",
            order=order,
            hue="model",
            hue_order=order,
            palette=colors,
            legend=False,
            size=6,
            ax=ax,
        )
        handles = [Line2D([], [], marker="o", ls="", color="0.5", label="this workflow, per seed")]
        means = ok.groupby("model")["test_error_pct"].mean()
        for i, model in enumerate(order):
            if model in means:
                ax.hlines(means[model], i - 0.25, i + 0.25, color="black", lw=1.5, zorder=3)
        handles.append(Line2D([], [], color="black", lw=1.5, label="this workflow, mean"))
        has_ref = False
        for i, model in enumerate(order):
            row = ref.loc[model]
            if np.isnan(row["test_error_pct_mean"]):
                continue
            has_ref = True
            low = 100.0 * (1.0 - row["test_accuracy_max"])
            high = 100.0 * (1.0 - row["test_accuracy_min"])
            mean = row["test_error_pct_mean"]
            ax.errorbar(
                i + 0.32,
                mean,
                yerr=[[mean - low], [high - mean]] if not np.isnan(low) else None,
                fmt="D",
                color=REFERENCE_COLOR,
                markersize=5,
                capsize=3,
                zorder=4,
            )
        if has_ref:
            n_seeds = ref["n_seeds"].dropna()
            n_test = ref["n_test"].dropna()
            detail = (
                f", {int(n_seeds.max())} seeds, {int(n_test.max())} test spectra"
                if len(n_seeds) and len(n_test)
                else ""
            )
            handles.append(
                Line2D(
                    [],
                    [],
                    marker="D",
                    color=REFERENCE_COLOR,
                    ls="-",
                    label=f"published mean and range ({PAPER}{detail})",
                )
            )
        n_missing = data[data["status"] != "ok"].groupby("model").size()
        ax.set_xticks(range(len(order)))
        crowded = len(order) > 6  # long names side by side would run into each other
        ax.set_xticklabels(
            [
                f"{m}{' ' if crowded else chr(10)}({n_missing[m]} missing)" if m in n_missing else m
                for m in order
            ],
            rotation=30 if crowded else 0,
            ha="right" if crowded else "center",
        )
        ax.set_xlim(-0.6, len(order) - 0.4)
        ax.set_ylim(0, ax.get_ylim()[1] * 1.05)
        ax.set_xlabel("model")
        ax.set_ylabel("test error rate (%)")
        n_tests = ok["n_test"].dropna().unique()
        if len(n_tests) == 1 and n_tests[0] > 0:
            n = float(n_tests[0])
            right = ax.secondary_yaxis(
                "right", functions=(lambda p: p * n / 100.0, lambda c: c * 100.0 / n)
            )
            right.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            right.set_ylabel(f"misclassified of {int(n)} test spectra")
        dataset = ", ".join(sorted(data["dataset"].unique()))
        ax.set_title(f"Test misclassifications: experiment {experiment} ({dataset})")
        legend_below(fig, handles, ncol=1)
        save_figure(fig, png, svg, s["dpi"])
