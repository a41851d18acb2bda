"""Statistics the paper does not give: paired differences between models, and the spread of a
result over training seeds and over data realizations (dataset seeds), separately.

Paired difference: seed s of a model and of its counterpart share the data order and the initial
convolution weights (and the dataset realization), so their test accuracies are paired; the
difference of means is estimated from the per-pair differences d_i with a Student-t interval,
mean(d) +- t(0.975, n - 1) * sd(d) / sqrt(n). With one pair there is no interval (NaN).

Per-spectrum test (McNemar): seed s of two models classify the same test spectra; only the
discordant spectra (one right, the other wrong) say which is better. With b spectra that the first
model gets right and the second wrong, and c the reverse, the exact McNemar test is the two-sided
binomial test of b successes in b + c trials at p = 1/2 (p = 1 when b + c = 0).

Spread: ``seed_sd`` is the standard deviation over training seeds on one dataset realization,
pooled over realizations (root of the mean within-realization variance); ``data_sd`` the standard
deviation over dataset realizations at one training seed, pooled over training seeds.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

#: Confidence level of the paired-difference intervals.
CONFIDENCE = 0.95


def paired_difference(
    a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE
) -> dict[str, float]:
    """{"n", "mean", "low", "high"} of a - b over pairs (a[i], b[i]); low/high NaN for n < 2."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired samples differ in length: {a.shape} and {b.shape}")
    d = a - b
    d = d[~np.isnan(d)]
    n = len(d)
    if n == 0:
        return {"n": 0, "mean": math.nan, "low": math.nan, "high": math.nan}
    mean = float(d.mean())
    if n < 2:
        return {"n": 1, "mean": mean, "low": math.nan, "high": math.nan}
    half = float(scipy_stats.t.ppf(0.5 + confidence / 2, n - 1) * d.std(ddof=1) / math.sqrt(n))
    return {"n": n, "mean": mean, "low": mean - half, "high": mean + half}


def mcnemar(correct_a: Sequence[bool], correct_b: Sequence[bool]) -> dict[str, float]:
    """{"b", "c", "p"}: spectra right for a only (b), for b only (c), and the exact two-sided
    McNemar p-value (binomial test of b in b + c at 1/2; 1 when no spectrum is discordant)."""
    a, b = np.asarray(correct_a, dtype=bool), np.asarray(correct_b, dtype=bool)
    if a.shape != b.shape:
        raise ValueError(f"paired outcomes differ in length: {a.shape} and {b.shape}")
    only_a, only_b = int((a & ~b).sum()), int((~a & b).sum())
    n = only_a + only_b
    p = float(scipy_stats.binomtest(only_a, n, 0.5).pvalue) if n else 1.0
    return {"b": only_a, "c": only_b, "p": p}


def pooled_sd(values: pd.Series, groups: pd.Series) -> float:
    """Root of the mean within-group variance (ddof 1) over groups with >= 2 values; NaN if none."""
    frame = pd.DataFrame({"v": values.to_numpy(dtype=float), "g": groups.to_numpy()}).dropna()
    variances = frame.groupby("g")["v"].var(ddof=1).dropna()
    return float(math.sqrt(variances.mean())) if len(variances) else math.nan


def spread(runs: pd.DataFrame, value: str = "test_accuracy") -> dict[str, float]:
    """{"seed_sd", "data_sd"} of `value` over the finished runs of one model (columns seed,
    data_seed, `value`); see module docstring."""
    return {
        "seed_sd": pooled_sd(runs[value], runs["data_seed"]),
        "data_sd": pooled_sd(runs[value], runs["seed"]),
    }
