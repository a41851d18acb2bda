"""The robustness experiment: models trained on each level of a dataset sweep and tested on each.

An experiment with ``sweep: true`` on a swept dataset becomes one experiment per level
(specbench.config.expand_sweeps). Each level's models are tested on their own level's test split
(rule evaluate_model) and on every other level's (rule evaluate_level: a model trained on clean
spectra tested at SNR 10, and so on). Here:

- :func:`robustness_table`: test accuracy per (experiment, model, train level, test level): mean,
  min, max over seeds;
- :func:`plot_robustness`: per model, test accuracy against test level, one line per train level
  (the matched level, trained and tested at the same level, bold), the band the seeds' range;
- :func:`plot_level_spectra`: one class's test spectrum (its unvaried variant) at each level.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from specbench import splits
from specbench.atomic import atomic_path
from specbench.figures.layout import legend_below, placeholder, save_figure
from specbench.figures.style import palette, styled
from specbench.runs import read_metrics

log = logging.getLogger(__name__)

COLUMNS = [
    "experiment",
    "model",
    "train_level",
    "train_level_index",
    "train_dataset",
    "test_level",
    "test_level_index",
    "test_dataset",
    "matched",
    "seeds",
    "mean_accuracy",
    "min_accuracy",
    "max_accuracy",
]


def _accuracies(
    runs: str | Path, levels: Sequence[Mapping[str, Any]], cross: Sequence[Mapping[str, Any]]
) -> pd.DataFrame:
    """One row per (experiment, model, seed, train level, test level) with its test accuracy:
    the own level's from runs.csv (ok rows), the other levels' from the cross-level metrics."""
    data = pd.read_csv(runs)
    data = data[data["status"] == "ok"] if "status" in data else data
    meta = pd.DataFrame(list(levels), columns=["experiment", "base", "level", "dataset"])
    own = data.merge(meta, on=["experiment", "dataset"], how="inner")
    own = pd.DataFrame(
        {
            "experiment": own["base"],
            "model": own["model"],
            "seed": own["seed"],
            "train_level": own["level"],
            "test_level": own["level"],
            "test_accuracy": own["test_accuracy"],
        }
    )
    rows = []
    for record in cross:
        path = Path(record["metrics"])
        if not path.exists():
            log.warning("robustness: %s missing, left out", path)
            continue
        rows.append(
            {
                "experiment": record["experiment"],
                "model": record["model"],
                "seed": record["seed"],
                "train_level": record["train_level"],
                "test_level": record["test_level"],
                "test_accuracy": read_metrics(path)["test_accuracy"],
            }
        )
    other = pd.DataFrame(rows, columns=own.columns)
    return pd.concat([own, other], ignore_index=True) if rows else own


def robustness_table(
    *,
    runs: str | Path,
    levels: Sequence[Mapping[str, Any]],
    csv: str | Path,
    md: str | Path,
    cross: Sequence[Mapping[str, Any]] = (),
) -> pd.DataFrame:
    """Per swept experiment, model, train level and test level: test accuracy over the seeds.

    levels: one {experiment, base, level, level_index, dataset} per derived experiment (the order
    of the sweep); runs: runs.csv, whose ok rows give each level's models tested on their own
    level; cross: one {experiment (the base), model, seed, train_level, test_level, metrics} per
    model tested on another level (metrics: its metrics.json; a missing one is left out).
    Writes `csv` (every column) and a Markdown copy `md` (per experiment, one row per model and
    train level, one column per test level).
    """
    accuracies = _accuracies(runs, levels, cross)
    if not len(levels) or accuracies.empty:
        table = pd.DataFrame(columns=COLUMNS)
    else:
        meta = pd.DataFrame(list(levels))[["base", "level", "level_index", "dataset"]]
        meta = meta.rename(columns={"base": "experiment"})
        table = (
            accuracies.groupby(["experiment", "model", "train_level", "test_level"], sort=False)
            .agg(
                seeds=("seed", "nunique"),
                mean_accuracy=("test_accuracy", "mean"),
                min_accuracy=("test_accuracy", "min"),
                max_accuracy=("test_accuracy", "max"),
            )
            .reset_index()
        )
        for side in ("train", "test"):
            table = table.merge(
                meta.rename(
                    columns={
                        "level": f"{side}_level",
                        "level_index": f"{side}_level_index",
                        "dataset": f"{side}_dataset",
                    }
                ),
                on=["experiment", f"{side}_level"],
                how="inner",
            )
        table["matched"] = table["train_level"] == table["test_level"]
        order = ["experiment", "model", "train_level_index", "test_level_index"]
        table = table.sort_values(order)[COLUMNS].reset_index(drop=True)
    Path(csv).parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")
    with atomic_path(md) as tmp:
        tmp.write_text(_markdown(table))
    log.info(
        "robustness: %d (experiment, model, train level, test level) rows written to %s",
        len(table),
        csv,
    )
    return table


def _markdown(table: pd.DataFrame) -> str:
    """Per experiment: one row per model and train level, one column per test level (mean test
    accuracy over the seeds; bold: tested at the level trained at)."""
    if table.empty:
        return "No swept experiment (`sweep: true`): no robustness results.\n"
    parts = []
    for experiment, rows in table.groupby("experiment", sort=False):
        tests = rows.drop_duplicates("test_level").sort_values("test_level_index")["test_level"]
        tests = list(tests)
        parts.append(
            f"**{experiment}**: test accuracy (%), mean over the seeds; rows: trained at, "
            "columns: tested at (bold: the level trained at)\n"
        )
        parts.append("| model | trained at | seeds | " + " | ".join(tests) + " |")
        parts.append("|---|---|---:|" + "---:|" * len(tests))
        keys = ["model", "train_level_index", "train_level"]
        for (model, _, train), row in rows.groupby(keys, sort=True):
            seeds = sorted(set(row["seeds"]))
            seeds_text = str(seeds[0]) if len(seeds) == 1 else f"{seeds[0]}-{seeds[-1]}"
            cells = []
            for test in tests:
                hit = row[row["test_level"] == test]
                if hit.empty:
                    cells.append("–")
                    continue
                text = f"{100 * hit['mean_accuracy'].iloc[0]:.1f}"
                cells.append(f"**{text}**" if test == train else text)
            parts.append(f"| {model} | {train} | {seeds_text} | " + " | ".join(cells) + " |")
        parts.append("")
    return "\n".join(parts)


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
        placeholder("no robustness runs (no experiment with sweep: true)", png, svg, style)
        return
    panels = list(dict.fromkeys(zip(data["experiment"], data["model"])))
    several = data["experiment"].nunique() > 1
    ncols = min(len(panels), 2)
    nrows = math.ceil(len(panels) / ncols)
    with styled(style) as st:
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
            colors = palette(st, len(trains))
            for color, train in zip(colors, trains["train_level"]):
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
            ax.plot(split.spectra[r], lw=0.8, color="C0")
            ax.set_ylabel(level, rotation=0, ha="right", va="center")
            ax.set_yticks([])
        axes[0, 0].set_title(f"class {label}, test spectrum ({split.variant[r]}) per level")
        axes[-1, 0].set_xlabel("point")
        fig.tight_layout()
        save_figure(fig, png, svg, st["dpi"])
        plt.close(fig)
