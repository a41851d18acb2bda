"""How a class varies: reference, training variants and one peak's positions and heights (rule
plot_class_variation)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from specbench.data.classes import ClassesError, ClassSet, load_classes  # noqa: E402
from specbench.data.xrd import grid_step  # noqa: E402
from specbench.results.figures.spectra import class_label  # noqa: E402
from specbench.results.figures.layout import (  # noqa: E402
    fit_title,
    legend_below,
    place_labels,
    placeholder,
    save_figure,
    tight,
)
from specbench.results.figures.spectra import read_split_columns  # noqa: E402
from specbench.results.figures.spectra import reference_row, variant_code  # noqa: E402
from specbench.results.figures.style import FigureInputError, palette, styled  # noqa: E402


def _load_classes(path: str | Path) -> ClassSet:
    """classes.json read by the package's reader (specbench.data.classes.load_classes)."""
    try:
        return load_classes(path)
    except ClassesError as exc:
        raise FigureInputError(str(exc)) from None


def _choose_class(classes: ClassSet, test: pd.DataFrame, codes: Mapping[str, str] | None) -> int:
    """The first class with at least two peaks and an unchanged test variant (else class 0)."""
    with_zero = set(test.loc[test["variant"].map(lambda v: variant_code(v, codes)) == "0", "label"])
    for index, positions in enumerate(classes.positions):
        if len(positions) >= 2 and index in with_zero:
            return index
    return 0


def plot_class_variation(
    classes: str | Path,
    train: str | Path,
    test: str | Path,
    png: str | Path,
    svg: str | Path,
    style: Mapping[str, Any] | None = None,
    class_index: int | None = None,
    variants: Mapping[str, str] | None = None,
) -> None:
    """How a class varies: its reference spectrum with two training variants (left), and the
    position and height (before broadening: the split's peak_heights, not the rendered maximum)
    of one of its peaks in every training spectrum against the test variants (right).

    The class is `class_index`, by default the first class with two or more peaks and an
    unchanged test variant "0" (the reference spectrum; else the class's first test spectrum).
    The peak is the one whose height varies most over the training spectra. `variants`: the test
    variants' labels (as in the split) -> their codes, which label them in the figure
    (specbench.data.variants.variant_codes; rules/common.smk passes them); labels not in it as they are.
    """
    definitions = _load_classes(classes)
    labels = read_split_columns(test, ["label", "variant"])
    if class_index is None:
        class_index = _choose_class(definitions, labels, variants)
    if not 0 <= class_index < len(definitions.positions):
        raise FigureInputError(f"{classes}: no class {class_index}")
    columns = ["label", "spectrum", "peak_positions", "peak_heights", "variant"]
    test_rows = read_split_columns(test, columns, labels=[class_index])
    train_rows = read_split_columns(train, columns, labels=[class_index])
    if test_rows.empty or train_rows.empty:
        placeholder(f"class {class_index} has no training or test spectra", png, svg, style)
        return
    reference = reference_row(test_rows, variants)
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
        # your own phases: their axis (e.g. 2theta) and names instead of points and indices
        axis = definitions.metadata.get("axis")
        n = len(reference["spectrum"])
        step = 1.0 if axis is None else grid_step(axis["start"], axis["stop"], n)
        start = 0.0 if axis is None else float(axis["start"])
        unit = "position (point)" if axis is None else str(axis["unit"])
        names = definitions.metadata.get("names")
        name = class_label(class_index, names)
        x = start + step * np.arange(len(reference["spectrum"]))
        left.plot(
            x,
            reference["spectrum"],
            color="black",
            lw=1.6,
            label=f"reference (test variant {variant_code(reference['variant'], variants)})",
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
        left.set_xlim(start + step * lo, start + step * hi)
        left.axvline(start + step * ref_pos, color="0.5", ls=":", lw=1)
        left.set_xlabel(unit)
        left.set_ylabel("intensity")

        train_pos = [row[peak] for row in train_rows["peak_positions"]]
        train_h = heights[:, peak]
        right.scatter(
            start + step * np.asarray(train_pos),
            train_h,
            s=14,
            color=colors[0],
            alpha=0.6,
            label=f"peak, training spectra ({len(train_rows)})",
        )
        test_pos = [row[peak] for row in test_rows["peak_positions"]]
        test_h = [row[peak] for row in test_rows["peak_heights"]]
        right.scatter(
            start + step * np.asarray(test_pos),
            test_h,
            s=60,
            marker="X",
            color=colors[1],
            zorder=3,
            label=f"peak, test variants ({len(test_rows)})",
        )
        right.set_xlabel(f"peak {unit}" if axis is not None else "peak position (point)")
        # The peak's height as drawn (the split's peak_heights), before the broadening: the
        # rendered maximum on the left is lower, and lower the wider the peak (sigma).
        right.set_ylabel("peak height (before broadening)")
        # Room for the labels: a margin of a tenth of the range on every side.
        right.margins(0.12)
        tight(fig)
        fit_title(left, f"{name}: reference and training variants")
        at = f"{ref_pos}" if axis is None else f"{start + step * ref_pos:.4g}"
        fit_title(right, f"peak {peak + 1} (at {at}): position and height")
        place_labels(
            right,
            list(zip(start + step * np.asarray(test_pos), test_h)),
            [variant_code(v, variants) for v in test_rows["variant"]],
        )
        # One legend for both panels, below them (inside a panel it would cover spectra).
        handles = left.get_legend_handles_labels()[0] + right.get_legend_handles_labels()[0]
        legend_below(fig, handles, ncol=2)
        save_figure(fig, png, svg, s["dpi"])
