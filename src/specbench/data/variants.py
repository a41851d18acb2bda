"""Test variants of a class and the detection of ambiguous class pairs.

A test variant is a fixed modification of a class's peaks, named by a code (the pattern of
``$defs.variant`` in src/specbench/core/schema.yaml; the default list is ``datasets.*.test.variants``'s
default there): ``"0"`` (unchanged), a height part ``"h"`` (+delta) or ``"l"`` (-delta), a shift
part ``"+s"`` or ``"-s"`` (every peak moved by ``test.shift`` points), or both, e.g. ``"l-s"``.
The height change is not applied to the class's tallest peak (height 1.0 in the published format),
heights are clipped to [0, 2] and positions to the spectrum [0, n_points).

This module imports numpy only, and reads the schema (specbench.core.schema) when it first checks a
code (it is used while the workflow is planned).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from specbench.core import schema

log = logging.getLogger(__name__)

MAX_HEIGHT = 2.0  # heights of rendered peaks are clipped to [0, MAX_HEIGHT]


class VariantError(ValueError):
    """An invalid test variant code."""


@dataclass(frozen=True)
class Variant:
    """A parsed variant code: the signs (-1, 0, +1) of its height and shift changes."""

    code: str
    height: int
    shift: int

    def label(self, shift: int, delta: float) -> str:
        """Human-readable description stored in the test split, e.g. ``shift=-30,height=+0.04``."""
        s = self.shift * int(shift)
        h = self.height * float(delta)
        shift_txt = f"{s:+d}" if s else "0"
        height_txt = f"{h:+g}" if h else "0"
        return f"shift={shift_txt},height={height_txt}"


@functools.cache
def variant_pattern() -> re.Pattern:
    """The valid codes: the schema's ``$defs.variant`` pattern."""
    return re.compile(schema.node("$defs", "variant")["pattern"])


def parse_variant(code: str) -> Variant:
    """Parse a variant code such as ``"h-s"``; VariantError names an invalid code."""
    if not isinstance(code, str) or not variant_pattern().match(code):
        raise VariantError(
            f"invalid test variant {code!r}: expected '0', 'h' or 'l' (heights +/-delta), "
            f"'+s' or '-s' (shift), or both, e.g. 'l-s'"
        )
    height = {"h": 1, "l": -1}.get(code[0], 0)
    shift = 1 if code.endswith("+s") else -1 if code.endswith("-s") else 0
    return Variant(code, height, shift)


def variant_codes(shift: int, delta: float) -> dict[str, str]:
    """Label -> code of every test variant rendered with `shift` and `delta` (the labels that a
    test split's ``variant`` column holds, see Variant.label). Where two codes share a label
    (shift or delta 0), the first in the schema's default list (every code) keeps it ("0"
    before "+s")."""
    codes: dict[str, str] = {}
    for code in schema.defaults("datasets", "*", "test")["variants"]:
        codes.setdefault(parse_variant(code).label(shift, delta), code)
    return codes


def check_variants(codes: object, where: str) -> list[str]:
    """Validate a list of variant codes (non-empty, unique); the error message starts with where."""
    if not isinstance(codes, list) or not codes:
        raise VariantError(f"{where}: expected a non-empty list of variant codes, got {codes!r}")
    for code in codes:
        try:
            parse_variant(code)
        except VariantError as exc:
            raise VariantError(f"{where}: {exc}") from None
    if len(set(codes)) != len(codes):
        raise VariantError(f"{where}: duplicate variant codes in {codes!r}")
    return list(codes)


def tallest_mask(heights: np.ndarray) -> np.ndarray:
    """True for the peak(s) of a class whose height is the class's maximum (1.0 when normalised)."""
    heights = np.asarray(heights, dtype=np.float64)
    if heights.size == 0:
        return np.zeros(0, dtype=bool)
    return heights == heights.max()


def apply_variant(
    positions: np.ndarray,
    heights: np.ndarray,
    code: str,
    *,
    shift: int,
    delta: float,
    n_points: int,
) -> tuple[np.ndarray, np.ndarray]:
    """The peaks (positions int64, heights float64) of one test variant of a class.

    Heights change by +/-delta except at the tallest peak and are clipped to [0, 2]; every
    position moves by +/-shift and is clipped to [0, n_points - 1].
    """
    variant = parse_variant(code)
    positions = np.asarray(positions, dtype=np.int64)
    heights = np.asarray(heights, dtype=np.float64)
    new_heights = heights.copy()
    if variant.height:
        vary = ~tallest_mask(heights)
        new_heights[vary] = np.clip(heights[vary] + variant.height * delta, 0.0, MAX_HEIGHT)
    new_positions = np.clip(positions + variant.shift * int(shift), 0, n_points - 1)
    return new_positions, new_heights


# ------------------------------------------------------------------ ambiguous pairs

AMBIGUOUS_COLUMNS = ("class_a", "class_b", "variant", "variant_label", "in_own_range", "reason")


def find_ambiguous_pairs(
    positions: Sequence[np.ndarray],
    heights: Sequence[np.ndarray],
    variants: Sequence[Sequence[str]],
    *,
    n_points: int,
    train_shift: int,
    height_shift: float,
    vary_tallest: bool,
    test_shift: int | Sequence[int],
    test_delta: float | Sequence[float],
    tolerance: float = 1e-9,
) -> list[dict]:
    """Test variants of one class that lie inside another class's training variation.

    Criterion (support overlap). Training spectra of class b are drawn from a known set: peak i
    of b moves to ``clip(p_i + d, 0, n-1)`` with integer d in [-shift, shift) and its height to
    ``clip(h_i + e, 0, 2)`` with e in [-height_shift, +height_shift] (e = 0 for b's tallest peak
    when ``vary_tallest`` is false); sigma is drawn from the same range for every class and the test
    sigma is one value for all classes, so the broadening cannot tell classes apart and is not
    compared. A test variant t of class a (positions q, heights g, sorted by position) is
    *ambiguous with b* (b != a) when it could have been drawn as a training spectrum of b, i.e.
    when it lies in the support of b's training distribution:

    * t and b have the same number of peaks, and
    * matching peaks in position order, every q_i lies in b's reachable position interval
      ``[clip(p_i - shift), clip(p_i + shift - 1)]`` and every g_i in b's reachable height
      interval (within ``tolerance``).

    Then no classifier trained on the data can rule out b for that test spectrum: its expected
    label is ill-defined, and a "misclassification" as b is not a model error. The matching keeps
    peak order, which is exact unless two peaks of b lie closer than 2 * shift (they may then swap
    in training); such classes are rare and the order-preserving test then errs on the side of
    reporting nothing. ``in_own_range`` says whether t is also inside a's own training support
    (if not, the test spectrum is outside what a was trained on but inside what b was).

    positions/heights: the classes' peaks (sorted by position); variants: each class's test variant
    codes; test_shift/test_delta: one value, or one per class (a classes file's own). Returns one
    dict per (class_a, variant, class_b) with the keys of AMBIGUOUS_COLUMNS, sorted by class_a,
    variant order, class_b. Vectorised per peak count: 500 classes x 9 variants take about 0.2 s.
    """
    n_classes = len(positions)
    shifts = np.broadcast_to(np.asarray(test_shift, dtype=np.int64), (n_classes,))
    deltas = np.broadcast_to(np.asarray(test_delta, dtype=np.float64), (n_classes,))
    counts = np.array([len(p) for p in positions])
    rows: list[dict] = []
    # Reachable training ranges of every class, and the test variants, grouped by peak count.
    for k in np.unique(counts):
        members = np.flatnonzero(counts == k)
        if k == 0:
            continue
        pos = np.stack([np.asarray(positions[c], dtype=np.int64) for c in members])
        hgt = np.stack([np.asarray(heights[c], dtype=np.float64) for c in members])
        order = np.argsort(pos, axis=1, kind="stable")
        pos = np.take_along_axis(pos, order, axis=1)
        hgt = np.take_along_axis(hgt, order, axis=1)
        pos_lo = np.clip(pos - train_shift, 0, n_points - 1)
        pos_hi = np.clip(pos + max(train_shift - 1, 0), 0, n_points - 1)
        spread = np.full(hgt.shape, float(height_shift))
        if not vary_tallest:
            spread[hgt == hgt.max(axis=1, keepdims=True)] = 0.0
        h_lo = np.clip(hgt - spread, 0.0, MAX_HEIGHT) - tolerance
        h_hi = np.clip(hgt + spread, 0.0, MAX_HEIGHT) + tolerance

        # Test variants of the classes with k peaks.
        t_class, t_code, t_pos, t_hgt = [], [], [], []
        for c in members:
            for code in variants[c]:
                q, g = apply_variant(
                    positions[c],
                    heights[c],
                    code,
                    shift=int(shifts[c]),
                    delta=float(deltas[c]),
                    n_points=n_points,
                )
                o = np.argsort(q, kind="stable")
                t_class.append(c)
                t_code.append(code)
                t_pos.append(q[o])
                t_hgt.append(g[o])
        if not t_class:
            continue
        t_pos_a = np.stack(t_pos)
        t_hgt_a = np.stack(t_hgt)
        # inside[t, b]: variant t lies in the training support of class members[b].
        inside = np.ones((len(t_class), len(members)), dtype=bool)
        for i in range(k):
            q = t_pos_a[:, i, None]
            g = t_hgt_a[:, i, None]
            inside &= (q >= pos_lo[None, :, i]) & (q <= pos_hi[None, :, i])
            inside &= (g >= h_lo[None, :, i]) & (g <= h_hi[None, :, i])
        member_index = {c: j for j, c in enumerate(members)}
        for t, b in zip(*np.nonzero(inside)):
            a = t_class[t]
            class_b = int(members[b])
            if class_b == a:
                continue
            own = bool(inside[t, member_index[a]])
            code = t_code[t]
            label = parse_variant(code).label(int(shifts[a]), float(deltas[a]))
            own_txt = "also inside" if own else "outside"
            reason = (
                f"test variant {code!r} of class {a} ({label}) has the {k} peaks of class "
                f"{class_b} within its training shift [-{train_shift}, {train_shift}) and height "
                f"shift +/-{height_shift:g}; it is {own_txt} class {a}'s own training variation"
            )
            rows.append(
                {
                    "class_a": int(a),
                    "class_b": class_b,
                    "variant": code,
                    "variant_label": label,
                    "in_own_range": own,
                    "reason": reason,
                }
            )
    variant_rank = {(c, code): r for c in range(n_classes) for r, code in enumerate(variants[c])}
    rows.sort(
        key=lambda r: (r["class_a"], variant_rank[(r["class_a"], r["variant"])], r["class_b"])
    )
    return rows


def write_ambiguous_pairs(rows: list[dict], path, names: list[str] | None = None) -> None:
    """Write the rows of find_ambiguous_pairs as CSV (header only when there are none); with the
    class names of your own phases, two more columns name_a, name_b."""
    import csv

    extra = ("name_a", "name_b") if names else ()
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=[*AMBIGUOUS_COLUMNS, *extra])
        writer.writeheader()
        for row in rows:
            if names:
                row = {**row, "name_a": names[row["class_a"]], "name_b": names[row["class_b"]]}
            writer.writerow(row)


def log_ambiguous_pairs(rows: list[dict], dataset: str = "") -> None:
    """One WARNING per (class_a, class_b) pair, naming its ambiguous test variants."""
    pairs: dict[tuple[int, int], list[str]] = {}
    for row in rows:
        pairs.setdefault((row["class_a"], row["class_b"]), []).append(row["variant"])
    where = f"dataset {dataset!r}: " if dataset else ""
    for (a, b), codes in pairs.items():
        log.warning(
            "%sclass %d's test variant(s) %s lie inside class %d's training variation "
            "(ambiguous pair %d/%d; see ambiguous_pairs.csv)",
            where,
            a,
            ", ".join(codes),
            b,
            a,
            b,
        )
