"""Laying a figure out and writing it: legends, titles and labels clear of the data, the
layout checker (:func:`layout_problems`, run on every figure saved) and :func:`save_figure`."""

from __future__ import annotations

import logging
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.collections  # noqa: E402
import matplotlib.text  # noqa: E402
import matplotlib.transforms  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from specbench.core.atomic import atomic_path  # noqa: E402
from specbench.results.figures.style import styled  # noqa: E402

logger = logging.getLogger("specbench.results.figures")


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
    with atomic_path(png) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", metadata={"Software": None})
    with atomic_path(svg) as tmp:
        fig.savefig(tmp, bbox_inches="tight", metadata={"Date": None, "Creator": None})
    plt.close(fig)
    logger.info("wrote %s and %s", png, svg)


def tight(fig: plt.Figure) -> None:
    """tight_layout, quietly: a big context on a small figure leaves crowded margins, no error."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Tight layout not applied")
        fig.tight_layout()


def legend_below(fig: plt.Figure, handles: list, ncol: int = 2) -> None:
    """Lay the figure out and hang its legend below it, clear of the data (saved with it)."""
    tight(fig)
    fig.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, 0.0),
        ncol=max(1, min(ncol, len(handles))),
        fontsize="small",
        frameon=False,
    )


def _compact_legend(ax: plt.Axes) -> None:
    """The panel's legend, where it is, with less space between its entries and columns and in
    as many columns (up to 3) as fit the panel's width: for a legend too tall for its panel."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    old = ax.get_legend()
    handles, labels = ax.get_legend_handles_labels()
    for ncol in range(min(len(labels), 3), 0, -1):
        legend = ax.legend(
            handles,
            labels,
            fontsize=old.get_texts()[0].get_fontsize() if old.get_texts() else "x-small",
            loc=old._loc,  # noqa: SLF001
            framealpha=old.get_frame().get_alpha(),
            ncols=ncol,
            labelspacing=0.25,
            columnspacing=0.8,
            handlelength=1.6,
            handletextpad=0.4,
            borderpad=0.3,
        )
        fig.draw_without_rendering()
        if ncol == 1 or legend.get_window_extent(renderer).width <= 0.96 * ax.bbox.width:
            break
    legend._specbench_compact = True


def _legend_under(ax: plt.Axes) -> None:
    """The panel's legend below its x axis (tick labels and label), in as many columns as fit
    the panel's width. Below, not beside: beside a panel a legend runs into the panel to its
    right, or (one column of panels) narrows every panel."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    handles, labels = ax.get_legend_handles_labels()
    fig.draw_without_rendering()
    depth = (ax.bbox.y0 - ax.xaxis.get_tightbbox(renderer).y0) / fig.dpi + 0.04  # inches
    under = ax.transAxes + matplotlib.transforms.ScaledTranslation(0, -depth, fig.dpi_scale_trans)
    for ncol in range(min(len(labels), 3), 0, -1):
        legend = ax.legend(
            handles,
            labels,
            fontsize="x-small",
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),
            bbox_transform=under,
            ncols=ncol,
            borderaxespad=0.0,
            frameon=False,
        )
        fig.draw_without_rendering()
        if ncol == 1 or legend.get_window_extent(renderer).width <= ax.bbox.width:
            break
    legend._specbench_outside = True


def legend_over_headroom(fig: plt.Figure, tops: Mapping[plt.Axes, float]) -> None:
    """Legends at the top of their panels, clear of the data: each legend gets as many columns
    as fit the panel's width, and the panel's y range is raised until the highest data point
    (`tops`: axes -> largest y value drawn) lies below its legend; a legend that would leave
    the data less than 40 % of the panel is made compact, and if that is not enough goes below
    the panel. Lays the figure out."""
    renderer = fig.canvas.get_renderer()
    tight(fig)
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
            if free <= 0.4:  # too tall: a compact legend, else one below the panel
                if not getattr(legend, "_specbench_compact", False):
                    _compact_legend(ax)
                else:
                    _legend_under(ax)
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
        tight(fig)
        if not changed:
            break


def fit_title(ax: plt.Axes, text: str, **kwargs) -> None:
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


def place_labels(ax: plt.Axes, points: Sequence[tuple[float, float]], texts: Sequence[str]) -> None:
    """Label points of `ax` without overprinting: labels of coinciding points are merged, and
    each label goes to the first of eight spots around its point (in points: right, above,
    left, below, diagonals) clear of the markers, of the labels placed before it and inside the
    panel. A merged label that fits nowhere on one line is tried again with one name per line
    (narrower: a narrow panel, a big context)."""
    groups: dict[tuple[float, float], list[str]] = {}
    for point, text in zip(points, texts):
        groups.setdefault((float(point[0]), float(point[1])), []).append(text)
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    tight(fig)
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
        unique = list(dict.fromkeys(names))
        label = ", ".join(unique)
        tries = [
            (text, spot) for text in dict.fromkeys([label, "\n".join(unique)]) for spot in spots
        ]
        best = None
        for candidate, (dx, dy) in tries:
            ha, va = align.get(
                (int(np.sign(dx)), int(np.sign(dy))),
                (
                    "left" if dx > 0 else "right",
                    "bottom" if dy > 0 else "top",
                ),
            )
            text = ax.annotate(candidate, (x, y), textcoords="offset points", xytext=(dx, dy),
                               ha=ha, va=va, fontsize="x-small")  # fmt: skip
            box = text.get_window_extent(renderer)
            clear = not any(box.overlaps(other) for other in placed)
            inside = (
                frame.x0 <= box.x0
                and box.x1 <= frame.x1
                and frame.y0 <= box.y0
                and box.y1 <= frame.y1
            )
            if clear and inside:
                best = text
                break
            text.remove()
        if best is None:  # nowhere clear: the first spot, on top of the others' labels
            best = ax.annotate(label, (x, y), textcoords="offset points", xytext=spots[0],
                               ha="left", va="center", fontsize="x-small")  # fmt: skip
        placed.append(best.get_window_extent(renderer))


def label_above(ax: plt.Axes, x: float, text: str, fontsize: str):
    """`text` centred at data x, just above the top of the axes (a paired difference); returns
    the annotation."""
    return ax.annotate(
        text,
        xy=(x, 1.0),
        xycoords=("data", "axes fraction"),
        xytext=(0, 2),
        textcoords="offset points",
        ha="center",
        va="bottom",
        fontsize=fontsize,
    )


def unstack_labels_above(ax: plt.Axes, labels: Sequence[matplotlib.text.Annotation]) -> float:
    """Raise each of `labels` (from :func:`label_above`, left to right) that would overlap an
    earlier one above it, so that none overlap; returns the points the highest reaches above
    the axes (for the panel title's pad)."""
    fig = ax.figure
    renderer = fig.canvas.get_renderer()
    placed: list[matplotlib.transforms.Bbox] = []
    top = 0.0
    for label in labels:
        fig.draw_without_rendering()
        box = label.get_window_extent(renderer)
        lift = max((p.y1 - box.y0 for p in placed if p.x0 < box.x1 and box.x0 < p.x1), default=0)
        if lift > 0:
            dx, dy = label.xyann
            label.xyann = (dx, dy + (lift + 2) * 72 / fig.dpi)
            fig.draw_without_rendering()
            box = label.get_window_extent(renderer)
        placed.append(box)
        top = max(top, (box.y1 - ax.bbox.y1) * 72 / fig.dpi)
    return top


def message(ax: plt.Axes, text: str) -> None:
    ax.text(0.5, 0.5, text, ha="center", va="center", transform=ax.transAxes, wrap=True)
    ax.set_xticks([])
    ax.set_yticks([])


def placeholder(text: str, png, svg, style: Mapping[str, Any] | None) -> None:
    """A figure that only says why there is nothing to draw (e.g. every run missing)."""
    logger.warning("%s: %s", Path(png).name, text)
    with styled(style) as s:
        fig, ax = plt.subplots(figsize=(s["width"], s["height"]))
        message(ax, text)
        save_figure(fig, png, svg, s["dpi"])


# ---------------------------------------------------------------- inputs
