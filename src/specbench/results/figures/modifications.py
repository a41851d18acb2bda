"""Modified models beside their original, per architecture (rule plot_modifications)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

from specbench.results.figures.layout import (
    label_above,
    legend_below,
    placeholder,
    save_figure,
    unstack_labels_above,
)  # noqa: E402
from specbench.results.figures.runs import experiment_runs  # noqa: E402
from specbench.results.figures.style import palette, styled  # noqa: E402
from specbench.results.tables.common import is_original, model_order  # noqa: E402
from specbench.results.tables.paired import paired_label, paired_test  # noqa: E402


def plot_modifications(
    runs: str | Path,
    png: str | Path,
    svg: str | Path,
    style: Mapping[str, Any] | None = None,
    experiment: str = "modifications",
) -> None:
    """Test accuracy (%) of every modified model beside its original, one panel per architecture.

    The original of an architecture is its model without hyperparameter overrides; its mean is
    a dashed line across the panel. One point per seed, a black bar per model mean.
    """
    experiment, data = experiment_runs(runs, experiment)
    ok = data[(data["status"] == "ok") & data["test_accuracy"].notna()].copy()
    ok["accuracy_pct"] = 100.0 * ok["test_accuracy"]
    if ok.empty:
        placeholder(f"experiment {experiment}: no finished runs to draw", png, svg, style)
        return
    order = model_order(data)
    archs = []
    for model in order:
        arch = data.loc[data["model"] == model, "architecture"].iloc[0]
        if arch not in archs:
            archs.append(arch)
    groups = {
        a: [m for m in order if (data.loc[data["model"] == m, "architecture"] == a).any()]
        for a in archs
    }
    with styled(style) as s:
        fig, axes = plt.subplots(
            1,
            len(archs),
            figsize=(s["width"], s["height"]),
            sharey=True,
            gridspec_kw={"width_ratios": [len(groups[a]) for a in archs]},
            squeeze=False,
        )
        colors = palette(s, 2)
        for ax, arch in zip(axes[0], archs):
            models = groups[arch]
            rows = data[data["model"].isin(models)].drop_duplicates("model")
            originals = [
                m for m in models if is_original(rows.set_index("model").loc[m, "hyperparameters"])
            ]
            sub = ok[ok["model"].isin(models)].copy()
            sub["kind"] = np.where(sub["model"].isin(originals), "original", "modified")
            if not sub.empty:
                sns.stripplot(
                    data=sub,
                    x="model",
                    y="accuracy_pct",
                    order=models,
                    hue="kind",
                    hue_order=["original", "modified"],
                    palette=colors,
                    jitter=0.08,
                    size=6,
                    legend=False,
                    ax=ax,
                    zorder=3,
                )
            means = sub.groupby("model")["accuracy_pct"].mean()
            for i, model in enumerate(models):
                if model in means:
                    ax.hlines(means[model], i - 0.3, i + 0.3, color="black", lw=1.5, zorder=4)
                else:  # a partial run set (allow_missing_runs): say so rather than leave a gap
                    ax.annotate(
                        "no finished\nrun",
                        (i, 0.03),
                        xycoords=("data", "axes fraction"),
                        ha="center",
                        va="bottom",
                        fontsize="xx-small",
                        color="0.4",
                    )
            if originals and originals[0] in means:
                ax.axhline(means[originals[0]], color=colors[0], ls="--", lw=1, zorder=1)
            labels = []
            for i, model in enumerate(models):  # paired difference to the original, with CI
                if originals and model not in originals:
                    diff = paired_test(data, experiment, model, originals[0])
                    text = paired_label(diff)
                    if text:
                        text = (
                            text.replace(" [", "\n[")
                            .replace(" (", "\n(")
                            .replace("seed, ", "seed,\n")
                        )
                        labels.append(label_above(ax, i, text, "xx-small"))
            ax.set_xticks(range(len(models)))
            ax.set_xticklabels(models, rotation=45 if len(models) > 2 else 30, ha="right")
            ax.set_xlim(-0.6, len(models) - 0.4)
            # labels side by side in a narrow panel are stacked; the title clears the highest
            ax.set_title(arch, pad=max(34.0, unstack_labels_above(ax, labels) + 4))
            ax.set_xlabel("")
            ax.set_ylabel("")
        axes[0][0].set_ylabel("test accuracy (%)")
        handles = [
            # this workflow's runs of the published model, not the paper's numbers
            Line2D(
                [],
                [],
                marker="o",
                ls="",
                color=colors[0],
                label="original (published hyperparameters)",
            ),
            Line2D([], [], marker="o", ls="", color=colors[1], label="modified"),
            Line2D([], [], color="black", lw=1.5, label="mean over seeds"),
            Line2D([], [], color=colors[0], ls="--", lw=1, label="original's mean"),
        ]
        dataset = ", ".join(sorted(data["dataset"].unique()))
        fig.suptitle(f"Modifications against their originals\nexperiment {experiment} ({dataset})")
        legend_below(fig, handles, ncol=2)
        save_figure(fig, png, svg, s["dpi"])
