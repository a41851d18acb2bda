"""The robustness experiment: models trained and tested on each level of a dataset sweep.

An experiment with ``sweep: true`` on a swept dataset becomes one experiment per level
(specbench.config.expand_sweeps). Here:

- :func:`robustness_table`: test accuracy per (experiment, model, level): mean, min, max over seeds;
- :func:`plot_robustness`: test accuracy against level per model, the band the seeds' range;
- :func:`plot_level_spectra`: one class's test spectrum (its unvaried variant) at each level.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from specbench import io
from specbench.atomic import atomic_path
from specbench.figures.layout import placeholder, save_figure
from specbench.figures.style import palette, styled

log = logging.getLogger(__name__)

COLUMNS = [
    "experiment",
    "model",
    "level",
    "level_index",
    "dataset",
    "seeds",
    "mean_accuracy",
    "min_accuracy",
    "max_accuracy",
]


def robustness_table(
    *, runs: str | Path, levels: Sequence[Mapping[str, Any]], csv: str | Path, md: str | Path
) -> pd.DataFrame:
    """Per swept experiment, model and level: test accuracy over the seeds (runs.csv's ok rows).

    levels: one {experiment, base, level, level_index, dataset} per derived experiment (the order
    of the sweep). Writes `csv` and a Markdown copy `md`.
    """
    data = pd.read_csv(runs)
    data = data[data["status"] == "ok"] if "status" in data else data
    meta = pd.DataFrame(list(levels))
    if meta.empty:
        table = pd.DataFrame(columns=COLUMNS)
    else:
        merged = data.merge(meta, on=["experiment", "dataset"], how="inner")
        table = (
            merged.groupby(["base", "model", "level", "level_index", "dataset"], sort=False)
            .agg(
                seeds=("seed", "nunique"),
                mean_accuracy=("test_accuracy", "mean"),
                min_accuracy=("test_accuracy", "min"),
                max_accuracy=("test_accuracy", "max"),
            )
            .reset_index()
            .rename(columns={"base": "experiment"})
            .sort_values(["experiment", "model", "level_index"])[COLUMNS]
        )
    Path(csv).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(md) as tmp:
        tmp.write_text(_markdown(table))
    log.info("robustness: %d (experiment, model, level) rows written to %s", len(table), csv)
    return table


def _markdown(table: pd.DataFrame) -> str:
    header = "| experiment | model | level | dataset | seeds | accuracy mean | min | max |"
    lines = [header, "|---|---|---|---|---:|---:|---:|---:|"]
    for row in table.itertuples(index=False):
        lines.append(
            f"| {row.experiment} | {row.model} | {row.level} | {row.dataset} | {row.seeds} | "
            f"{100 * row.mean_accuracy:.1f} % | {100 * row.min_accuracy:.1f} % | "
            f"{100 * row.max_accuracy:.1f} % |"
        )
    return "\n".join(lines) + "\n"


def plot_robustness(
    *, table: str | Path, png: str | Path, svg: str | Path, style: Mapping | None = None
) -> None:
    """Test accuracy against sweep level per model (line: mean over seeds; band: min to max)."""
    import matplotlib.pyplot as plt

    data = pd.read_csv(table)
    if data.empty:
        placeholder("no robustness runs (no experiment with sweep: true)", png, svg, style)
        return
    experiments = list(dict.fromkeys(data["experiment"]))
    with styled(style) as st:
        fig, axes = plt.subplots(
            1,
            len(experiments),
            figsize=(st["width"], st["height"]),
            squeeze=False,
            sharey=True,
        )
        for ax, experiment in zip(axes[0], experiments):
            rows = data[data["experiment"] == experiment]
            levels = rows.drop_duplicates("level_index").sort_values("level_index")
            models = list(dict.fromkeys(rows["model"]))
            for color, model in zip(palette(st, len(models)), models):
                m = rows[rows["model"] == model].sort_values("level_index")
                x = m["level_index"].to_numpy()
                ax.plot(x, 100 * m["mean_accuracy"], marker="o", color=color, label=model)
                ax.fill_between(
                    x, 100 * m["min_accuracy"], 100 * m["max_accuracy"], color=color, alpha=0.2
                )
            ax.set_xticks(levels["level_index"], levels["level"])
            ax.set_xlabel(f"level ({experiment})")
            ax.legend(title="model (band: seeds' range)", fontsize="small")
        axes[0][0].set_ylabel("test accuracy (%)")
        fig.tight_layout()
        save_figure(fig, png, svg, st["dpi"])
        plt.close(fig)


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
            split = io.read_split(path)
            rows = np.flatnonzero(split.labels == label)
            unvaried = [r for r in rows if split.variant[r] == "shift=0,height=0"]
            r = unvaried[0] if unvaried else rows[0]
            ax.plot(split.spectra[r], lw=0.8, color="C0")
            ax.set_ylabel(level, rotation=0, ha="right", va="center")
            ax.set_yticks([])
        axes[0, 0].set_title(f"class {label}, test spectrum ({split.variant[r]}) per level")
        axes[-1, 0].set_xlabel("point")
        fig.tight_layout()
        save_figure(fig, png, svg, st["dpi"])
        plt.close(fig)
