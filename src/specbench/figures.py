"""Figures of the workflow (seaborn/matplotlib, Agg backend), each written as PNG and SVG.

The functions called by the scripts of rules/results.smk (all take paths and write `png` and
`svg`; `style` is the figure's entry of the config's ``figures`` section):

- :func:`plot_misclassifications`: test error per architecture, one point per seed, with the
  published mean and range (the paper's swarm plot).
- :func:`plot_activation`: challenge test accuracy, linear vs ReLU hidden dense layers, per
  architecture, with the published ranges as grey bars.
- :func:`plot_modifications`: modification variants beside their original architecture.
- :func:`plot_loss_curves`: validation loss per epoch, mean over seeds and their range.
- :func:`plot_class_variation`: a class's reference spectrum with two training variants, and one
  peak's maxima in the training spectra against the test variants.
- :func:`plot_confused_pair`: the most confused class pair's spectra and one of the model's
  mistakes on them.

Style: ``{context, palette, width, height, dpi}`` (see src/specbench/schema.yaml): seaborn context and
palette; ``width`` is the figure width in inches and ``height`` the height of one row of panels.
Outputs are reproducible: no dates or software versions in the files, fixed SVG ids.
"""

from __future__ import annotations

import contextlib
import json
import logging
import math
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.collections  # noqa: E402
import matplotlib.text  # noqa: E402
import matplotlib.ticker  # noqa: E402
import matplotlib.transforms  # noqa: E402

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Patch  # noqa: E402

from specbench import tables  # noqa: E402

logger = logging.getLogger("specbench.figures")

__all__ = [
    "STYLE_DEFAULTS",
    "FigureInputError",
    "layout_problems",
    "plot_activation",
    "plot_class_variation",
    "plot_confused_pair",
    "plot_loss_curves",
    "plot_misclassifications",
    "plot_modifications",
    "resolve_style",
    "save_figure",
    "short_variant",
    "styled",
]

#: Defaults of a figure's style (the same as src/specbench/schema.yaml's figure_style).
STYLE_DEFAULTS = {
    "context": "notebook",
    "palette": "colorblind",
    "width": 7.0,
    "height": 4.0,
    "dpi": 150,
}
_CONTEXTS = ("paper", "notebook", "talk", "poster")
_PAPER = "Schuetzke et al. 2023"
_REFERENCE_COLOR = "0.25"


class FigureInputError(ValueError):
    """A figure's input or style is unusable; the message names the file or the key."""


# ---------------------------------------------------------------- style and output


def resolve_style(style: Mapping[str, Any] | None) -> dict[str, Any]:
    """`style` with defaults filled in and checked (FigureInputError naming a wrong key/value)."""
    style = dict(style or {})
    unknown = sorted(set(style) - set(STYLE_DEFAULTS))
    if unknown:
        raise FigureInputError(
            f"figure style: unknown key(s) {', '.join(unknown)} "
            f"(accepted: {', '.join(STYLE_DEFAULTS)})"
        )
    out = {**STYLE_DEFAULTS, **style}
    if out["context"] not in _CONTEXTS:
        raise FigureInputError(
            f"figure style: context={out['context']!r} is not one of {', '.join(_CONTEXTS)}"
        )
    for key in ("width", "height", "dpi"):
        value = out[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise FigureInputError(f"figure style: {key}={value!r} must be a positive number")
    try:
        sns.color_palette(out["palette"])
    except (ValueError, TypeError):
        raise FigureInputError(
            f"figure style: palette={out['palette']!r} is not a seaborn or matplotlib palette"
        ) from None
    return out


@contextlib.contextmanager
def styled(style: Mapping[str, Any] | None) -> Iterator[dict[str, Any]]:
    """Apply a figure style (seaborn theme) inside the block; yields the resolved style."""
    resolved = resolve_style(style)
    with plt.rc_context():
        sns.set_theme(context=resolved["context"], style="whitegrid", palette=resolved["palette"])
        plt.rcParams["svg.hashsalt"] = "specbench"  # fixed element ids
        plt.rcParams["svg.fonttype"] = "none"  # text stays text (searchable, smaller)
        plt.rcParams["figure.dpi"] = 100
        yield resolved


def palette(style: Mapping[str, Any], n: int) -> list:
    """`n` colours of the style's palette (cycled when it has fewer)."""
    return sns.color_palette(style["palette"], max(n, 1))


def _titles(fig: plt.Figure) -> list[tuple[str, matplotlib.text.Text]]:
    out = []
    if fig._suptitle is not None and fig._suptitle.get_text():  # noqa: SLF001
        out.append(("figure title", fig._suptitle))  # noqa: SLF001
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        for title in (ax.title, ax._left_title, ax._right_title):  # noqa: SLF001
            if title.get_text():
                out.append((f"title of panel {i + 1}", title))
    return out


def _data_under(ax: plt.Axes, box: matplotlib.transforms.Bbox) -> bool:
    """Whether a line, band or marker of `ax` is drawn inside `box` (display coordinates)."""
    for line in ax.lines:
        if line.get_visible() and len(line.get_xydata()):
            path = line.get_transform().transform_path(line.get_path())
            if path.intersects_bbox(box, filled=False):
                return True
    for coll in ax.collections:
        if not coll.get_visible():
            continue
        for path in coll.get_paths():
            if isinstance(coll, matplotlib.collections.PolyCollection) and len(path.vertices):
                if coll.get_transform().transform_path(path).intersects_bbox(box, filled=True):
                    return True
        offsets = coll.get_offset_transform().transform(coll.get_offsets())
        if len(offsets) and not isinstance(coll, matplotlib.collections.PolyCollection):
            inside = (
                (offsets[:, 0] >= box.x0)
                & (offsets[:, 0] <= box.x1)
                & (offsets[:, 1] >= box.y0)
                & (offsets[:, 1] <= box.y1)
            )
            if inside.any():
                return True
    return False


def layout_problems(fig: plt.Figure) -> list[str]:
    """What is unreadable in `fig`: a title outside the canvas (it would be cut) or over another
    title, a legend over a panel's data (or, for a figure legend, over a panel), text labels of a
    panel over each other. Empty when the layout is clean."""
    fig.draw_without_rendering()
    renderer = fig.canvas.get_renderer()
    canvas = fig.bbox
    problems = []
    titles = [(name, t.get_window_extent(renderer)) for name, t in _titles(fig)]
    for i, (name, box) in enumerate(titles):
        if box.x0 < canvas.x0 - 1 or box.x1 > canvas.x1 + 1 or box.y1 > canvas.y1 + 1:
            problems.append(f"{name} reaches outside the figure (cut off)")
        for other, other_box in titles[i + 1 :]:
            if box.overlaps(other_box):
                problems.append(f"{name} overlaps {other}")
    for i, ax in enumerate(fig.axes):
        if not ax.get_visible():
            continue
        legend = ax.get_legend()
        if legend is not None and _data_under(ax, legend.get_window_extent(renderer)):
            problems.append(f"the legend of panel {i + 1} covers its data")
        labels = [t for t in ax.texts if t.get_visible() and t.get_text()]
        boxes = [t.get_window_extent(renderer) for t in labels]
        for j, box in enumerate(boxes):
            for k in range(j + 1, len(boxes)):
                if box.overlaps(boxes[k]):
                    problems.append(
                        f"labels {labels[j].get_text()!r} and {labels[k].get_text()!r} of panel "
                        f"{i + 1} overlap"
                    )
    for legend in fig.legends:
        box = legend.get_window_extent(renderer)
        for i, ax in enumerate(fig.axes):
            if ax.get_visible() and box.overlaps(ax.get_window_extent(renderer)):
                problems.append(f"the figure legend covers panel {i + 1}")
    return problems


def save_figure(fig: plt.Figure, png: str | Path, svg: str | Path, dpi: float) -> None:
    """Write `fig` as PNG (at `dpi`) and SVG, without timestamps, and close it (a WARNING for
    each of its layout_problems)."""
    for problem in layout_problems(fig):
        logger.warning("%s: %s", Path(png).name, problem)
    for path in (png, svg):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png, dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    fig.savefig(svg, bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    logger.info("wrote %s and %s", png, svg)


def _tight(fig: plt.Figure) -> None:
    """tight_layout, quietly: a big context on a small figure leaves crowded margins, no error."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tight layout not applied")
        fig.tight_layout()


def _legend_below(fig: plt.Figure, handles: list, ncol: int = 2) -> None:
    """Lay the figure out and hang its legend below it, clear of the data (saved with it)."""
    _tight(fig)
    fig.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=max(1, min(ncol, len(handles))),
        fontsize="small",
        frameon=False,
    )


def _legend_over_headroom(fig: plt.Figure, tops: Mapping[plt.Axes, float]) -> None:
    """Legends at the top of their panels, clear of the data: each legend gets as many columns
    as fit the panel's width, and the panel's y range is raised until the highest data point
    (`tops`: axes -> largest y value drawn) lies below its legend. Lays the figure out."""
    renderer = fig.canvas.get_renderer()
    _tight(fig)
    for ax in tops:
        legend = ax.get_legend()
        n = len(legend.get_texts()) if legend is not None else 0
        for ncol in range(min(n, 3), 1, -1):
            legend.set_ncols(ncol)
            fig.draw_without_rendering()
            if legend.get_window_extent(renderer).width <= 0.96 * ax.bbox.width:
                break
        else:
            if legend is not None:
                legend.set_ncols(1)
    for _ in range(4):
        fig.draw_without_rendering()
        changed = False
        for ax, top in tops.items():
            legend = ax.get_legend()
            if legend is None or not np.isfinite(top):
                continue
            if getattr(legend, "_specbench_outside", False):
                continue
            box = legend.get_window_extent(renderer).transformed(ax.transAxes.inverted())
            free = box.y0 - 0.03  # axes fraction left below the legend
            if free <= 0.4:  # a legend taller than the panel's upper half goes beside it
                handles, labels = ax.get_legend_handles_labels()
                legend = ax.legend(
                    handles,
                    labels,
                    fontsize="x-small",
                    loc="upper left",
                    bbox_to_anchor=(1.02, 1.0),
                    borderaxespad=0.0,
                    frameon=False,
                )
                legend._specbench_outside = True
                changed = True
                continue
            scale = ax.yaxis.get_transform()  # identity or log
            lo, hi = (float(v) for v in scale.transform(np.array(ax.get_ylim())))
            peak = float(scale.transform(np.array([top]))[0])
            if (peak - lo) <= free * (hi - lo) + 1e-12:
                continue
            new_hi = lo + (peak - lo) / free
            ax.set_ylim(top=float(scale.inverted().transform(np.array([new_hi]))[0]))
            changed = True
        _tight(fig)
        if not changed:
            break


def _fit_title(ax: plt.Axes, text: str, **kwargs) -> None:
    """A panel title no wider than its panel: broken after ': ', else between words."""
    title = ax.set_title(text, **kwargs)
    renderer = ax.figure.canvas.get_renderer()

    def fits(candidate: str) -> bool:
        title.set_text(candidate)
        return title.get_window_extent(renderer).width <= ax.bbox.width

    if fits(text) or fits(text.replace(": ", ":\n")):
        return
    lines: list[str] = []
    for word in text.split(" "):
        if lines and fits(f"{lines[-1]} {word}"):
            lines[-1] = f"{lines[-1]} {word}"
        else:
            lines.append(word)
    title.set_text("\n".join(lines))


def _place_labels(ax: plt.Axes, points: Sequence[tuple[float, float]], texts: Sequence[str]) -> None:
    """Label points of `ax` without overprinting: labels of coinciding points are merged, and
    each label goes to the first of eight spots around its point (in points: right, above,
    left, below, diagonals) clear of the markers, of the labels placed before it and inside the
    panel."""
    groups: dict[tuple[float, float], list[str]] = {}
    for point, text in zip(points, texts):
        groups.setdefault((float(point[0]), float(point[1])), []).append(text)
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    _tight(fig)
    spots = [(6, 0), (0, 7), (-6, 0), (0, -7), (6, 6), (-6, 6), (-6, -6), (6, -6)]
    align = {
        (1, 0): ("left", "center"),
        (0, 1): ("center", "bottom"),
        (-1, 0): ("right", "center"),
        (0, -1): ("center", "top"),
    }
    frame = ax.get_window_extent(renderer)
    # The labelled markers themselves are obstacles too (a box of about their size).
    radius = 5 * fig.dpi / 72
    placed: list[matplotlib.transforms.Bbox] = [
        matplotlib.transforms.Bbox.from_extents(px - radius, py - radius, px + radius, py + radius)
        for px, py in ax.transData.transform(np.array(list(groups), dtype=float).reshape(-1, 2))
    ]
    for (x, y), names in sorted(groups.items()):
        label = ", ".join(dict.fromkeys(names))
        best = None
        for dx, dy in spots:
            ha, va = align.get((int(np.sign(dx)), int(np.sign(dy))), (
                "left" if dx > 0 else "right",
                "bottom" if dy > 0 else "top",
            ))
            text = ax.annotate(label, (x, y), textcoords="offset points", xytext=(dx, dy),
                               ha=ha, va=va, fontsize="x-small")  # fmt: skip
            box = text.get_window_extent(renderer)
            clear = not any(box.overlaps(other) for other in placed)
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1
            if clear and inside:
                best = text
                break
            text.remove()
        if best is None:  # nowhere clear: the first spot, on top of the others' labels
            best = ax.annotate(label, (x, y), textcoords="offset points", xytext=spots[0],
                               ha="left", va="center", fontsize="x-small")  # fmt: skip
        placed.append(best.get_window_extent(renderer))


def _message(ax: plt.Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def _placeholder(text: str, png, svg, style: Mapping[str, Any] | None) -> None:
    """A figure that only says why there is nothing to draw (e.g. every run missing)."""
    logger.warning("%s: %s", Path(png).name, text)
    with styled(style) as s:
        fig, ax = plt.subplots(figsize=(s["width"], s["height"]))
        _message(ax, text)
        save_figure(fig, png, svg, s["dpi"])


# ---------------------------------------------------------------- inputs


def _experiment_runs(runs: str | Path, experiment: str | None) -> tuple[str, pd.DataFrame]:
    """Rows of runs.csv of `experiment` (None or absent: the benchmark one, else the first)."""
    table = tables.read_runs(runs)
    names = tables.experiment_order(table["experiment"])
    if not names:
        raise FigureInputError(f"{runs}: no runs")
    if experiment is None or experiment not in names:
        if experiment is not None:
            raise FigureInputError(
                f"{runs}: no runs of experiment {experiment!r} (experiments: {', '.join(names)})"
            )
        experiment = names[0]
    return experiment, table[table["experiment"] == experiment].copy()


def _model_reference(data: pd.DataFrame, reference) -> pd.DataFrame:
    """Per model of `data`: the published values that apply to it (see tables.match_reference)."""
    models = data.drop_duplicates("model").set_index("model", drop=False)
    if reference is None or (isinstance(reference, (list, tuple)) and not reference):
        return pd.DataFrame(np.nan, index=models.index, columns=tables.REFERENCE_VALUES)
    return tables.match_reference(models, tables.load_reference(reference))


def _read_parquet(path: str | Path, columns: Sequence[str], labels=None) -> pd.DataFrame:
    """Columns of a Parquet split or predictions file (rows of `labels` only, if given).

    Reads only what a figure draws, so the paper-scale training split (GBs) is never loaded
    whole. Spectra come back as one float32 array per row.
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = Path(path)
    filters = None if labels is None else [("label", "in", [int(v) for v in labels])]
    try:
        table = pq.read_table(path, columns=list(columns), filters=filters)
    except (OSError, ValueError, KeyError, pa.ArrowException) as exc:
        raise FigureInputError(f"{path}: cannot read columns {list(columns)} ({exc})") from None
    out = {}
    for name in columns:
        column = table.column(name)
        if name == "spectrum":
            array = column.combine_chunks()
            values = np.asarray(array.flatten().to_numpy(zero_copy_only=False), dtype=np.float32)
            out[name] = list(values.reshape(len(array), -1)) if len(array) else []
        else:
            out[name] = column.to_pylist()
    return pd.DataFrame(out)


# ---------------------------------------------------------------- misclassifications


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
    test set. Where a published value applies (tables.match_reference) its mean is a diamond and
    its range over seeds a bar beside the model's points. Without a `experiment` in runs.csv
    (e.g. no benchmark experiment configured) the first experiment is drawn.
    """
    table = tables.read_runs(runs)
    names = tables.experiment_order(table["experiment"])
    if experiment not in names:
        experiment = names[0] if names else None
    if experiment is None:
        _placeholder("no runs configured", png, svg, style)
        return
    data = table[table["experiment"] == experiment]
    ok = data[(data["status"] == "ok") & data["test_error_pct"].notna()]
    order = tables.model_order(data)
    ref = _model_reference(data, reference)
    if ok.empty:
        _placeholder(f"experiment {experiment}: no finished runs to draw", png, svg, style)
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
                color=_REFERENCE_COLOR,
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
                    color=_REFERENCE_COLOR,
                    ls="-",
                    label=f"published mean and range ({_PAPER}{detail})",
                )
            )
        n_missing = data[data["status"] != "ok"].groupby("model").size()
        ax.set_xticks(range(len(order)))
        ax.set_xticklabels(
            [f"{m}\n({n_missing[m]} missing)" if m in n_missing else m for m in order]
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
        _legend_below(fig, handles, ncol=1)
        save_figure(fig, png, svg, s["dpi"])


# ---------------------------------------------------------------- activation


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
    experiment, data = _experiment_runs(runs, experiment)
    data["activation"] = data["dense_activation"].fillna("default")
    ok = data[(data["status"] == "ok") & data["test_accuracy"].notna()].copy()
    ok["accuracy_pct"] = 100.0 * ok["test_accuracy"]
    archs = tables.architecture_order(data["architecture"])
    known = ["linear", "relu"]
    levels = [a for a in known if a in set(data["activation"])]
    levels += sorted(set(data["activation"]) - set(known))
    if ok.empty:
        _placeholder(f"experiment {experiment}: no finished runs to draw", png, svg, style)
        return
    ref = _model_reference(data, reference)
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
                Patch(facecolor="0.82", edgecolor="0.6", label=f"published range ({_PAPER})")
            )
        ax.set_xticks(range(len(archs)))
        ax.set_xticklabels(archs)
        ax.set_xlim(-0.6, len(archs) - 0.4)
        ax.set_xlabel("architecture")
        ax.set_ylabel("test accuracy (%)")
        _annotate_relu_gain(ax, data, experiment, archs)
        dataset = ", ".join(sorted(data["dataset"].unique()))
        ax.set_title(f"Hidden dense activation: experiment {experiment} ({dataset})", pad=40)
        _legend_below(fig, handles, ncol=2)
        save_figure(fig, png, svg, s["dpi"])


def _annotate_relu_gain(ax: plt.Axes, data: pd.DataFrame, experiment: str, archs: list) -> None:
    """Above each architecture: the paired ReLU - linear difference of test accuracy with its
    95 % interval (seed s of both models shares data order and initial weights)."""
    labels = {}
    for arch in archs:
        rows = data[data["architecture"] == arch].drop_duplicates("model")
        relu = rows[rows["activation"] == "relu"]["model"].tolist()
        linear = rows[rows["activation"] == "linear"]["model"].tolist()
        if relu and linear:
            diff = tables.paired_accuracy(data, experiment, relu[0], linear[0])
            text = tables.paired_label(diff, "ReLU−lin.")
            if text:
                labels[arch] = text.replace(" (", "\n(", 1)
    for arch, text in labels.items():
        _label_above(ax, archs.index(arch), text, "x-small")


def _label_above(ax: plt.Axes, x: float, text: str, fontsize: str) -> None:
    """`text` centred at data x, just above the top of the axes (a paired difference)."""
    ax.annotate(
        text,
        xy=(x, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(0, 2),
        textcoords="offset points",
        ha="center",
        va="bottom",
        fontsize=fontsize,
    )


# ---------------------------------------------------------------- modifications


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
    experiment, data = _experiment_runs(runs, experiment)
    ok = data[(data["status"] == "ok") & data["test_accuracy"].notna()].copy()
    ok["accuracy_pct"] = 100.0 * ok["test_accuracy"]
    if ok.empty:
        _placeholder(f"experiment {experiment}: no finished runs to draw", png, svg, style)
        return
    order = tables.model_order(data)
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
                m
                for m in models
                if tables.is_original(rows.set_index("model").loc[m, "hyperparameters"])
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
            if originals and originals[0] in means:
                ax.axhline(means[originals[0]], color=colors[0], ls="--", lw=1, zorder=1)
            for i, model in enumerate(models):  # paired difference to the original, with CI
                if originals and model not in originals:
                    diff = tables.paired_accuracy(data, experiment, model, originals[0])
                    text = tables.paired_label(diff)
                    if text:
                        text = text.replace(" [", "\n[").replace(" (", "\n(")
                        _label_above(ax, i, text, "xx-small")
            ax.set_xticks(range(len(models)))
            ax.set_xticklabels(models, rotation=30, ha="right")
            ax.set_xlim(-0.6, len(models) - 0.4)
            ax.set_title(arch, pad=34)
            ax.set_xlabel("")
            ax.set_ylabel("")
        axes[0][0].set_ylabel("test accuracy (%)")
        handles = [
            Line2D([], [], marker="o", ls="", color=colors[0], label="original (published)"),
            Line2D([], [], marker="o", ls="", color=colors[1], label="modified"),
            Line2D([], [], color="black", lw=1.5, label="mean over seeds"),
            Line2D([], [], color=colors[0], ls="--", lw=1, label="original's mean"),
        ]
        dataset = ", ".join(sorted(data["dataset"].unique()))
        fig.suptitle(f"Modifications against their originals: experiment {experiment} ({dataset})")
        _legend_below(fig, handles, ncol=4)
        save_figure(fig, png, svg, s["dpi"])


# ---------------------------------------------------------------- loss curves


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
                "hyperparameters": json.dumps(record.get("hyperparameters") or {}, sort_keys=True),
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
        _placeholder("no training history to draw", png, svg, style)
        return
    data = pd.concat(curves, ignore_index=True)
    archs = tables.architecture_order(data["architecture"])
    datasets = sorted(data["dataset"].unique())
    styles = ["-", "--", ":", "-."]
    with styled(style) as s:
        # Panels about 3.5 inches wide; `height` is the height of one row of panels.
        ncols = max(1, min(len(archs), int(s["width"] // 3.5)))
        nrows = math.ceil(len(archs) / ncols)
        fig, axes = plt.subplots(
            nrows, ncols, figsize=(s["width"], 0.75 * s["height"] * nrows), squeeze=False
        )
        tops = {}
        for ax, arch in zip(axes.flat, archs):
            sub = data[data["architecture"] == arch]
            tops[ax] = -np.inf
            models = tables.model_order(sub)
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
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
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
        fig.suptitle(f"Validation loss: mean over {seeds}, band = range", fontsize="medium")
        _legend_over_headroom(fig, tops)
        save_figure(fig, png, svg, s["dpi"])


# ---------------------------------------------------------------- class variation


def _variant_changes(variant: str) -> tuple[float, float] | None:
    """(shift, height change) of a test variant label ``shift=-30,height=+0.04`` (None: other)."""
    parts = dict(part.split("=", 1) for part in str(variant).split(",") if "=" in part)
    try:
        return float(parts["shift"]), float(parts["height"])
    except (KeyError, ValueError):
        return None


def short_variant(variant: str) -> str:
    """The variant code ("0", "h", "l-s", ...) of a test variant label; other labels unchanged."""
    changes = _variant_changes(variant)
    if changes is None:
        return str(variant)
    shift, height = changes
    code = ("h" if height > 0 else "l" if height < 0 else "") + (
        "+s" if shift > 0 else "-s" if shift < 0 else ""
    )
    return code or "0"


def _reference_row(rows: pd.DataFrame) -> pd.Series:
    """The unchanged test variant ("0") of a class if there is one, else its first test row."""
    unchanged = rows[rows["variant"].map(short_variant) == "0"]
    return (unchanged if len(unchanged) else rows).iloc[0]


def _load_classes(path: str | Path) -> dict[str, Any]:
    path = Path(path)
    try:
        classes = json.loads(path.read_text())
        spectra = classes["spectra"]
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as exc:
        raise FigureInputError(
            f"{path}: not a classes file in the published format ({exc})"
        ) from None
    return {int(k): v for k, v in spectra.items()}


def _choose_class(classes: Mapping[int, Any], test: pd.DataFrame) -> int:
    """The first class with at least two peaks and an unchanged test variant (else class 0)."""
    with_zero = set(test.loc[test["variant"].map(short_variant) == "0", "label"])
    for index in sorted(classes):
        if len(classes[index].get("peak_positions", [])) >= 2 and index in with_zero:
            return index
    return min(classes)


def plot_class_variation(
    classes: str | Path,
    train: str | Path,
    test: str | Path,
    png: str | Path,
    svg: str | Path,
    style: Mapping[str, Any] | None = None,
    class_index: int | None = None,
) -> None:
    """How a class varies: its reference spectrum with two training variants (left), and the
    maxima (position, height) of one of its peaks in every training spectrum against the test
    variants (right).

    The class is `class_index`, by default the first class with two or more peaks and an
    unchanged test variant "0" (the reference spectrum; else the class's first test spectrum).
    The peak is the one whose height varies most over the training spectra.
    """
    definitions = _load_classes(classes)
    labels = _read_parquet(test, ["label", "variant"])
    if class_index is None:
        class_index = _choose_class(definitions, labels)
    if class_index not in definitions:
        raise FigureInputError(f"{classes}: no class {class_index}")
    columns = ["label", "spectrum", "peak_positions", "peak_heights", "variant"]
    test_rows = _read_parquet(test, columns, labels=[class_index])
    train_rows = _read_parquet(train, columns, labels=[class_index])
    if test_rows.empty or train_rows.empty:
        _placeholder(f"class {class_index} has no training or test spectra", png, svg, style)
        return
    reference = _reference_row(test_rows)
    n_peaks = len(reference["peak_positions"])
    train_rows = train_rows[train_rows["peak_positions"].map(len) == n_peaks]
    test_rows = test_rows[test_rows["peak_positions"].map(len) == n_peaks]
    heights = np.array([list(h) for h in train_rows["peak_heights"]], dtype=float).reshape(
        len(train_rows), n_peaks
    )
    spread = heights.std(axis=0) if len(heights) > 1 else np.zeros(n_peaks)
    ref_heights = np.asarray(reference["peak_heights"], dtype=float)
    peak = int(np.lexsort((-ref_heights, -np.round(spread, 6)))[0])
    ref_pos = int(reference["peak_positions"][peak])
    with styled(style) as s:
        fig, (left, right) = plt.subplots(
            1, 2, figsize=(s["width"], s["height"]), gridspec_kw={"width_ratios": [1.6, 1]}
        )
        colors = palette(s, 3)
        x = np.arange(len(reference["spectrum"]))
        left.plot(
            x,
            reference["spectrum"],
            color="black",
            lw=1.6,
            label=f"reference (test variant {short_variant(reference['variant'])})",
        )
        for j, (_, row) in enumerate(train_rows.head(2).iterrows()):
            left.plot(
                x,
                row["spectrum"],
                color=colors[0],
                lw=1.2,
                ls=("-", "--")[j],
                label=f"training variant {j + 1}",
            )
        positions = [int(p) for row in test_rows["peak_positions"] for p in row]
        margin = max(10, int(0.04 * len(x)))
        lo = max(0, min([*positions, *reference["peak_positions"]]) - margin)
        hi = min(len(x) - 1, max([*positions, *reference["peak_positions"]]) + margin)
        left.set_xlim(lo, hi)
        left.axvline(ref_pos, color="0.5", ls=":", lw=1)
        left.set_xlabel("position (point)")
        left.set_ylabel("intensity")

        train_pos = [row[peak] for row in train_rows["peak_positions"]]
        train_h = heights[:, peak]
        right.scatter(
            train_pos,
            train_h,
            s=14,
            color=colors[0],
            alpha=0.6,
            label=f"peak maximum, training spectra ({len(train_rows)})",
        )
        test_pos = [row[peak] for row in test_rows["peak_positions"]]
        test_h = [row[peak] for row in test_rows["peak_heights"]]
        right.scatter(
            test_pos,
            test_h,
            s=60,
            marker="X",
            color=colors[1],
            zorder=3,
            label=f"peak maximum, test variants ({len(test_rows)})",
        )
        right.set_xlabel("peak position (point)")
        right.set_ylabel("peak height")
        # Room for the labels: a margin of a tenth of the range on every side.
        right.margins(0.12)
        _tight(fig)
        _fit_title(left, f"class {class_index}: reference and training variants")
        _fit_title(right, f"peak {peak + 1} (at {ref_pos}): maxima")
        _place_labels(
            right, list(zip(test_pos, test_h)), list(test_rows["variant"].map(short_variant))
        )
        # One legend for both panels, below them (inside a panel it would cover spectra).
        handles = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
        _legend_below(fig, handles, ncol=2)
        save_figure(fig, png, svg, s["dpi"])


# ---------------------------------------------------------------- confused pair


def _test_path_of(tests, dataset: str) -> Path:
    if isinstance(tests, Mapping):
        if dataset in tests:
            return Path(tests[dataset])
        candidates = list(tests.values())
    else:
        candidates = [tests] if isinstance(tests, (str, Path)) else list(tests)
        for path in candidates:
            if Path(path).parent.name == dataset:
                return Path(path)
    raise FigureInputError(
        f"no test split of dataset {dataset!r} among {', '.join(map(str, candidates))}"
    )


def _window(*spectra: np.ndarray, margin: int = 10) -> tuple[int, int]:
    """x range holding the signal of `spectra` (above 2 % of their maximum), with a margin."""
    stack = np.vstack(spectra)
    level = 0.02 * float(np.nanmax(stack)) if stack.size else 0.0
    idx = np.flatnonzero((stack > level).any(axis=0))
    if not len(idx):
        return 0, stack.shape[1] - 1
    margin = max(margin, int(0.03 * stack.shape[1]))
    return max(0, int(idx[0]) - margin), min(stack.shape[1] - 1, int(idx[-1]) + margin)


def plot_confused_pair(
    confusions: str | Path,
    runs: Sequence[Mapping[str, Any]],
    tests: Sequence[str | Path] | Mapping[str, str | Path],
    png: str | Path,
    svg: str | Path,
    style: Mapping[str, Any] | None = None,
) -> None:
    """The most confused class pair (first row of confusions.csv with the largest count).

    Top: the two classes' reference spectra (their unchanged test variant "0", else their first
    test spectrum) overlaid. Bottom: the model's most confident mistake on the pair (over its
    seeds) with both references, titled with the decision: predicted class and probability,
    runner-up and probability. `runs`: the run records (predictions paths); `tests`: the test
    splits (results/datasets/<dataset>/test.parquet, or a {dataset: path} mapping).
    """
    path = Path(confusions)
    try:
        table = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise FigureInputError(f"{path}: not a readable confusions table ({exc})") from None
    missing = [c for c in tables.CONFUSIONS_COLUMNS if c not in table.columns]
    if missing:
        raise FigureInputError(f"{path}: missing column(s) {', '.join(missing)}")
    if table.empty:
        _placeholder("no misclassified test spectra: no confused pair", png, svg, style)
        return
    top = table.loc[table["count"].idxmax()]
    dataset, model = str(top["dataset"]), str(top["model"])
    a, b = int(top["class_a"]), int(top["class_b"])
    columns = [
        "row",
        "label",
        "predicted",
        "runner_up",
        "probability",
        "runner_up_probability",
        "variant",
    ]
    mistakes = []
    seen = set()
    for record in runs:
        if record["dataset"] != dataset or record["model"] != model:
            continue
        if int(record["seed"]) in seen or not Path(record["predictions"]).exists():
            continue
        seen.add(int(record["seed"]))
        pred = _read_parquet(record["predictions"], columns)
        pred = pred[
            ((pred["label"] == a) & (pred["predicted"] == b))
            | ((pred["label"] == b) & (pred["predicted"] == a))
        ]
        mistakes.append(pred.assign(seed=int(record["seed"])))
    mistakes = pd.concat(mistakes, ignore_index=True) if mistakes else pd.DataFrame()
    if mistakes.empty:
        raise FigureInputError(
            f"{path}: {model} on {dataset} confuses classes {a} and {b}, but no predictions file "
            "of that model holds such a mistake (stale confusions table?)"
        )
    mistakes = mistakes.sort_values(["probability", "seed", "row"], ascending=[False, True, True])
    worst = mistakes.iloc[0]
    test = _read_parquet(_test_path_of(tests, dataset), ["label", "spectrum", "variant"])
    if int(worst["row"]) >= len(test):
        raise FigureInputError(
            f"test split of {dataset} has {len(test)} rows; predictions name row {worst['row']}"
        )
    refs = {c: _reference_row(test[test["label"] == c]) for c in (a, b)}
    spectrum = np.asarray(test.iloc[int(worst["row"])]["spectrum"])
    lo, hi = _window(refs[a]["spectrum"], refs[b]["spectrum"], spectrum)
    x = np.arange(len(spectrum))
    with styled(style) as s:
        fig, (top_ax, bottom_ax) = plt.subplots(
            2, 1, figsize=(s["width"], 2 * s["height"]), sharex=True
        )
        colors = dict(zip((a, b), palette(s, 2)))
        for c in (a, b):
            top_ax.plot(
                x,
                refs[c]["spectrum"],
                color=colors[c],
                lw=1.5,
                label=f"class {c} (test variant {short_variant(refs[c]['variant'])})",
            )
        top_ax.set_title(
            f"{model} on {dataset}: classes {a} and {b} confused {int(top['count'])}x over "
            f"{int(top['n_seeds'])} seed(s) ({a}->{b}: {int(top['a_as_b'])}, "
            f"{b}->{a}: {int(top['b_as_a'])})",
            fontsize="medium",
        )
        top_ax.set_ylabel("intensity")
        top_ax.legend(fontsize="small", loc="upper right")
        true, predicted = int(worst["label"]), int(worst["predicted"])
        bottom_ax.plot(
            x,
            spectrum,
            color="black",
            lw=2,
            alpha=0.8,
            label=f"test spectrum {int(worst['row'])} (class {true}, "
            f"variant {short_variant(worst['variant'])})",
        )
        for c in (a, b):
            bottom_ax.plot(
                x,
                refs[c]["spectrum"],
                color=colors[c],
                lw=1.2,
                ls="--",
                label=f"class {c} reference",
            )
        bottom_ax.set_title(
            f"seed {int(worst['seed'])}: true {true}, predicted {predicted} "
            f"(p = {worst['probability']:.2f}), runner-up {int(worst['runner_up'])} "
            f"(p = {worst['runner_up_probability']:.2f})",
            fontsize="medium",
        )
        bottom_ax.set_xlabel("position (point)")
        bottom_ax.set_ylabel("intensity")
        bottom_ax.set_xlim(lo, hi)
        bottom_ax.legend(fontsize="small", loc="upper right")
        _tight(fig)
        save_figure(fig, png, svg, s["dpi"])
