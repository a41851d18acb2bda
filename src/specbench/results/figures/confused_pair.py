"""The most confused class pair and the model's most confident mistake on it (rule
plot_confused_pair)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from specbench.results.figures.layout import (  # noqa: E402
    legend_over_headroom,
    placeholder,
    save_figure,
)
from specbench.results.figures.spectra import (  # noqa: E402
    class_label,
    read_predictions_columns,
    read_split_columns,
    reference_row,
    split_axis,
    variant_code,
)
from specbench.results.figures.style import FigureInputError, palette, styled  # noqa: E402
from specbench.evaluation.predictions import COLUMNS as PREDICTIONS_COLUMNS  # noqa: E402
from specbench.results.tables.confusions import CONFUSIONS_COLUMNS  # noqa: E402


def _test_split(tests: Mapping[str, str | Path], dataset: str) -> Path:
    """The test split of `dataset` among `tests` ({dataset: path}, from the rule)."""
    if dataset not in tests:
        raise FigureInputError(
            f"no test split of dataset {dataset!r} among those given "
            f"({', '.join(f'{k}: {v}' for k, v in tests.items()) or 'none'})"
        )
    return Path(tests[dataset])


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
    tests: Mapping[str, str | Path],
    png: str | Path,
    svg: str | Path,
    style: Mapping[str, Any] | None = None,
    variants: Mapping[str, str] | None = None,
) -> None:
    """The most confused class pair (first row of confusions.csv with the largest count).

    Top: the two classes' reference spectra (their unchanged test variant "0", else their first
    test spectrum) overlaid. Bottom: the model's most confident mistake on the pair (over its
    seeds) with both references, titled with the decision: predicted class and probability,
    runner-up and probability. `runs`: the run records (predictions paths); `tests`: the test
    split of each dataset, {dataset: path}; `variants`: the test variants' labels -> their codes
    (see specbench.results.figures.class_variation).
    """
    path = Path(confusions)
    try:
        table = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise FigureInputError(f"{path}: not a readable confusions table ({exc})") from None
    missing = [c for c in CONFUSIONS_COLUMNS if c not in table.columns]
    if missing:
        raise FigureInputError(f"{path}: missing column(s) {', '.join(missing)}")
    if table.empty:
        placeholder("no misclassified test spectra: no confused pair", png, svg, style)
        return
    top = table.loc[table["count"].idxmax()]
    dataset, model = str(top["dataset"]), str(top["model"])
    a, b = int(top["class_a"]), int(top["class_b"])
    columns = list(PREDICTIONS_COLUMNS)
    mistakes = []
    seen = set()
    for record in runs:
        if record["dataset"] != dataset or record["model"] != model:
            continue
        if int(record["seed"]) in seen or not Path(record["predictions"]).exists():
            continue
        seen.add(int(record["seed"]))
        pred = read_predictions_columns(record["predictions"], columns)
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
    test_path = _test_split(tests, dataset)
    test = read_split_columns(test_path, ["label", "spectrum", "variant"])
    if int(worst["row"]) >= len(test):
        raise FigureInputError(
            f"test split of {dataset} has {len(test)} rows; predictions name row {worst['row']}"
        )
    refs = {c: reference_row(test[test["label"] == c], variants) for c in (a, b)}
    spectrum = np.asarray(test.iloc[int(worst["row"])]["spectrum"])
    lo, hi = _window(refs[a]["spectrum"], refs[b]["spectrum"], spectrum)
    # your own phases: their axis (e.g. 2theta) and names instead of points and indices
    x, unit, names = split_axis(test_path, len(spectrum))
    name = {c: class_label(c, names) for c in (a, b)}
    short = {c: names[c] if names else str(c) for c in (a, b)}
    pair = f"{names[a]} and {names[b]}" if names else f"classes {a} and {b}"
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
                label=f"{name[c]}, test variant {variant_code(refs[c]['variant'], variants)}",
            )
        top_ax.set_title(
            f"{model} on {dataset}: {pair} confused {int(top['count'])}x over "
            f"{int(top['n_seeds'])} seed(s)\n({short[a]}->{short[b]}: {int(top['a_as_b'])}, "
            f"{short[b]}->{short[a]}: {int(top['b_as_a'])})",
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
            label=f"test spectrum {int(worst['row'])} ({class_label(true, names)}, "
            f"variant {variant_code(worst['variant'], variants)})",
        )
        for c in (a, b):
            bottom_ax.plot(
                x,
                refs[c]["spectrum"],
                color=colors[c],
                lw=1.2,
                ls="--",
                label=f"{name[c]} reference",
            )
        bottom_ax.set_title(
            f"seed {int(worst['seed'])}: true {short[true]}, predicted {short[predicted]} "
            f"(p = {worst['probability']:.2f}), runner-up "
            f"{names[int(worst['runner_up'])] if names else int(worst['runner_up'])} "
            f"(p = {worst['runner_up_probability']:.2f})",
            fontsize="medium",
        )
        bottom_ax.set_xlabel(unit)
        bottom_ax.set_ylabel("intensity")
        bottom_ax.set_xlim(x[lo], x[hi])
        bottom_ax.legend(fontsize="small", loc="upper right")
        # each legend above its panel's highest point in the window drawn (not over a peak)
        window = slice(lo, hi + 1)
        references = max(float(np.max(refs[c]["spectrum"][window])) for c in (a, b))
        tops = {top_ax: references, bottom_ax: max(references, float(np.max(spectrum[window])))}
        legend_over_headroom(fig, tops)
        save_figure(fig, png, svg, s["dpi"])
