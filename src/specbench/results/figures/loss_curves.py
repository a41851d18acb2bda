"""Validation loss per epoch, mean over seeds and their range (rule plot_loss_curves)."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.ticker  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402

from specbench.results.figures.layout import (
    legend_over_headroom,
    placeholder,
    save_figure,
)  # noqa: E402
from specbench.results.figures.style import FigureInputError, palette, styled  # noqa: E402
from specbench.results.tables.common import (  # noqa: E402
    architecture_order,
    hyperparameters_key,
    model_order,
)

logger = logging.getLogger("specbench.results.figures")


def _log_labels(ax: plt.Axes) -> matplotlib.ticker.Formatter:
    """Plain tick labels (0.3, 1, 2) of a log axis: decades, and 2, 3, 5 over short ranges."""

    def label(value: float, pos=None) -> str:
        if value <= 0:
            return ""
        low, high = ax.get_ylim()
        decades = math.log10(high / low) if low > 0 else math.inf
        mantissa = value / 10 ** math.floor(math.log10(value) + 1e-9)
        nearest = round(mantissa)
        if abs(mantissa - nearest) > 1e-6 * mantissa:
            return ""
        if nearest == 1 or (decades < 1.5 and nearest in (2, 3, 5)):
            return f"{value:g}"
        return ""

    return matplotlib.ticker.FuncFormatter(label)


def _read_history(path: str | Path) -> pd.DataFrame:
    path = Path(path)
    try:
        history = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise FigureInputError(f"{path}: not a readable history file ({exc})") from None
    missing = [col for col in ("epoch", "val_loss") if col not in history.columns]
    if missing:
        raise FigureInputError(f"{path}: missing column(s) {', '.join(missing)}")
    return history


def plot_loss_curves(
    runs: Sequence[Mapping[str, Any]],
    png: str | Path,
    svg: str | Path,
    style: Mapping[str, Any] | None = None,
) -> None:
    """Validation loss per epoch, one panel per architecture, one line per model and dataset.

    `runs` are the run records of rules/common.smk (their ``history`` paths). The line is the
    mean over the seeds that reached an epoch, the band their range; the y axis is logarithmic.
    A model trained once for several experiments is drawn once; runs without history.csv are
    skipped (WARNING).
    """
    jobs: dict[tuple[str, str], dict[str, Any]] = {}
    for record in runs:
        job = jobs.setdefault(
            (record["dataset"], record["model"]),
            {
                "architecture": record.get("architecture", ""),
                "hyperparameters": hyperparameters_key(record.get("hyperparameters")),
                "histories": {},
            },
        )
        job["histories"][int(record["seed"])] = record["history"]
    curves = []
    for (dataset, model), job in jobs.items():
        for seed, path in sorted(job["histories"].items()):
            if not Path(path).exists():
                logger.warning(
                    "loss curves: no history of %s/%s seed %s (%s)", dataset, model, seed, path
                )
                continue
            history = _read_history(path)
            curves.append(
                pd.DataFrame(
                    {
                        "dataset": dataset,
                        "model": model,
                        "architecture": job["architecture"],
                        "hyperparameters": job["hyperparameters"],
                        "seed": seed,
                        "epoch": history["epoch"].astype(int),
                        "val_loss": history["val_loss"].astype(float),
                    }
                )
            )
    if not curves:
        placeholder("no training history to draw", png, svg, style)
        return
    data = pd.concat(curves, ignore_index=True)
    archs = architecture_order(data["architecture"])
    datasets = sorted(data["dataset"].unique())
    styles = ["-", "--", ":", "-."]
    with styled(style) as s:
        # Panels about 3.5 inches wide; `height` is the height of one row of panels.
        # (3.5 at the notebook context, in proportion to the context's font size: a talk's
        # letters need wider panels for the same legend).
        scale = plt.rcParams["font.size"] / sns.plotting_context("notebook")["font.size"]
        ncols = max(1, min(len(archs), int(s["width"] // (3.5 * scale))))
        nrows = math.ceil(len(archs) / ncols)
        fig, axes = plt.subplots(
            nrows, ncols, figsize=(s["width"], 0.75 * s["height"] * nrows), squeeze=False
        )
        tops = {}
        for ax, arch in zip(axes.flat, archs):
            sub = data[data["architecture"] == arch]
            tops[ax] = -np.inf
            models = model_order(sub)
            lines = [
                (d, m)
                for m in models
                for d in datasets
                if ((sub["model"] == m) & (sub["dataset"] == d)).any()
            ]
            colors = palette(s, len(lines))
            for color, (dataset, model) in zip(colors, lines):
                curve = sub[(sub["model"] == model) & (sub["dataset"] == dataset)]
                stats = curve.groupby("epoch")["val_loss"].agg(["mean", "min", "max"])
                finite = stats["max"][np.isfinite(stats["max"])]
                tops[ax] = max(tops[ax], float(finite.max()) if len(finite) else -np.inf)
                label = model if len(datasets) == 1 else f"{model} ({dataset})"
                ax.plot(
                    stats.index,
                    stats["mean"],
                    color=color,
                    ls=styles[datasets.index(dataset) % len(styles)],
                    lw=1.5,
                    label=label,
                )
                if curve["seed"].nunique() > 1:
                    ax.fill_between(
                        stats.index, stats["min"], stats["max"], color=color, alpha=0.2, lw=0
                    )
            if (sub["val_loss"] > 0).all():
                ax.set_yscale("log")
                labels = _log_labels(ax)
                ax.yaxis.set_major_formatter(labels)
                ax.yaxis.set_minor_formatter(labels)
            # as many epoch ticks as their labels have room for (no overprinted numbers)
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins="auto", integer=True))
            ax.set_title(arch)
            ax.set_xlabel("epoch")
            ax.set_ylabel("validation loss")
            ax.legend(fontsize="x-small", loc="upper right", framealpha=0.8)
        for ax in list(axes.flat)[len(archs) :]:
            ax.set_visible(False)
        n_seeds = data.groupby(["dataset", "model"])["seed"].nunique()
        seeds = (
            f"{n_seeds.min()} seed(s)"
            if n_seeds.min() == n_seeds.max()
            else f"{n_seeds.min()}-{n_seeds.max()} seeds"
        )
        # The title one layout pad below the top (tight_layout keeps the panels that pad below
        # it): at the default y=0.98 a tall figure (many rows) has it on the first panel's title.
        pad = 1.08 * plt.rcParams["font.size"] / 72 / fig.get_figheight()
        fig.suptitle(
            f"Validation loss: mean over {seeds}, band = range", fontsize="medium", y=1 - pad
        )
        legend_over_headroom(fig, tops)
        save_figure(fig, png, svg, s["dpi"])
