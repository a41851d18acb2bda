"""The robustness experiment's figures (rules plot_robustness, plot_level_spectra); its table:
:mod:`specbench.results.tables.robustness`.

- :func:`plot_robustness`: per model, test accuracy against test level, one line per train level
  (the matched level, trained and tested at the same level, bold), the band the seeds' range;
- :func:`plot_level_spectra`: one class's test spectrum (its unvaried variant) at each level.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from specbench.data import splits
from specbench.results.figures.layout import legend_below, placeholder, save_figure
from specbench.results.figures.spectra import class_label, split_axis
from specbench.results.figures.style import palette, styled


def plot_robustness(
    *, table: str | Path, png: str | Path, svg: str | Path, style: Mapping | None = None
) -> None:
    """Per experiment and model a panel: test accuracy against the level tested at, one thin line
    per level trained at and, bold, the matched level (trained and tested at the same level);
    line: mean over seeds, band: min to max."""
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    data = pd.read_csv(table)
    if data.empty:
        placeholder(
            "no finished robustness runs (of an experiment with sweep: true)", png, svg, style
        )
        return
    panels = list(dict.fromkeys(zip(data["experiment"], data["model"])))
    several = data["experiment"].nunique() > 1
    ncols = min(len(panels), 2)
    nrows = math.ceil(len(panels) / ncols)
    with styled(style) as st:
        # one colour per level trained at, the same in every panel (the legend is shared): a
        # panel without runs at some level (allow_missing_runs) must not shift the others'
        trained = data.sort_values("train_level_index", kind="stable")["train_level"].unique()
        colors = dict(zip(trained, palette(st, len(trained))))
        fig, axes = plt.subplots(
            nrows,
            ncols,
            figsize=(st["width"], st["height"] * nrows),
            squeeze=False,
            sharey=True,
        )
        handles: dict[str, Any] = {}
        for ax, (experiment, model) in zip(axes.flat, panels):
            rows = data[(data["experiment"] == experiment) & (data["model"] == model)]
            levels = rows.drop_duplicates("test_level_index").sort_values("test_level_index")
            trains = rows.drop_duplicates("train_level_index").sort_values("train_level_index")
            for train in trains["train_level"]:
                color = colors[train]
                m = rows[rows["train_level"] == train].sort_values("test_level_index")
                x = m["test_level_index"].to_numpy()
                (line,) = ax.plot(
                    x, 100 * m["mean_accuracy"], marker="o", ms=3.5, lw=1.2, color=color, zorder=3
                )
                ax.fill_between(
                    x, 100 * m["min_accuracy"], 100 * m["max_accuracy"], color=color, alpha=0.12
                )
                handles.setdefault(f"trained at {train}", line)
            # the matched level (each train level's own point), bold and under the thin lines:
            # its band is the train level's band at that point
            m = rows[rows["matched"].astype(bool)].sort_values("test_level_index")
            (line,) = ax.plot(
                m["test_level_index"].to_numpy(),
                100 * m["mean_accuracy"],
                marker="o",
                ms=9,
                mfc="none",
                mew=1.8,
                lw=3.0,
                color="0.15",
                alpha=0.75,
                zorder=2,
            )
            handles.setdefault("trained and tested at the level", line)
            ax.set_xticks(levels["test_level_index"], levels["test_level"])
            ax.set_xlabel("level tested at")
            ax.set_title(f"{model} ({experiment})" if several else model)
        for ax in axes.flat[len(panels) :]:
            ax.set_visible(False)
        for ax in axes[:, 0]:
            ax.set_ylabel("test accuracy (%)")
        bands = Line2D([], [], color="0.6", lw=6, alpha=0.4)
        handles["seeds' range (band)"] = bands
        legend_below(
            fig,
            [_labelled(h, label) for label, h in handles.items()],
            ncol=3,
        )
        save_figure(fig, png, svg, st["dpi"])
        plt.close(fig)


def _labelled(handle, label: str):
    """A copy of a legend handle's look with `label` (the panels' lines share one legend)."""
    from matplotlib.lines import Line2D

    return Line2D(
        [],
        [],
        color=handle.get_color(),
        lw=handle.get_linewidth(),
        alpha=handle.get_alpha(),
        marker=handle.get_marker(),
        ms=handle.get_markersize(),
        mfc=handle.get_markerfacecolor(),
        mew=handle.get_markeredgewidth(),
        label=label,
    )


def plot_level_spectra(
    *,
    tests: Mapping[str, str | Path],
    png: str | Path,
    svg: str | Path,
    style: Mapping | None = None,
    label: int = 0,
) -> None:
    """Class `label`'s unvaried test spectrum at each level (tests: {level: test.parquet}),
    one panel per level, top to bottom in sweep order."""
    import matplotlib.pyplot as plt

    if not tests:
        placeholder("no dataset sweep", png, svg, style)
        return
    with styled(style) as st:
        fig, axes = plt.subplots(
            len(tests),
            1,
            figsize=(st["width"], st["height"] * max(1, len(tests)) / 2),
            sharex=True,
            sharey=True,  # one scale: the noise's size is comparable between levels
            squeeze=False,
        )
        for ax, (level, path) in zip(axes[:, 0], tests.items()):
            split = splits.read_split(path)
            rows = np.flatnonzero(split.labels == label)
            unvaried = [r for r in rows if split.variant[r] == "shift=0,height=0"]
            r = unvaried[0] if unvaried else rows[0]
            x, unit, names = split_axis(path, split.n_points)
            ax.plot(x, split.spectra[r], lw=0.8, color="C0")
            ax.set_ylabel(level, rotation=0, ha="right", va="center")
            ax.set_yticks([])
        title = f"{class_label(label, names)}, test spectrum ({split.variant[r]}) per level"
        axes[0, 0].set_title(title)
        axes[-1, 0].set_xlabel(unit)
        fig.tight_layout()
        save_figure(fig, png, svg, st["dpi"])
        plt.close(fig)
