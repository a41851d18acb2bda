"""A figure's style: ``{context, palette, width, height, dpi}``, its defaults and checks from the
config schema (specbench/core/schema.yaml, ``$defs.figure_style``): seaborn context and palette;
``width`` is the figure width in inches and ``height`` the height of one row of panels.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import seaborn as sns  # noqa: E402

from specbench.core import schema  # noqa: E402

__all__ = ["PAPER", "REFERENCE_COLOR", "FigureInputError", "palette", "resolve_style", "styled"]

#: How the figures cite the published values.
PAPER = "Schuetzke et al. 2023"
#: Colour of the published values in the figures.
REFERENCE_COLOR = "0.25"


class FigureInputError(ValueError):
    """A figure's input or style is unusable; the message names the file or the key."""


def resolve_style(style: Mapping[str, Any] | None) -> dict[str, Any]:
    """`style` with the schema's defaults filled in and checked against the schema
    (FigureInputError naming the wrong key or value), and its palette known to seaborn."""
    try:
        out = schema.fill(dict(style or {}), "$defs", "figure_style", name="figure style")
    except schema.SchemaError as exc:
        raise FigureInputError(str(exc)) from None
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
