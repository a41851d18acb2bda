"""Agreement of a run's results with the published ones (the laptop-scale study's measure).

From a ``summary.csv`` (rule aggregate_summary; its ``paper_*`` columns hold the published values
of config/reference/) and the published signs of the paired differences
(config/reference/paper_differences.csv), :func:`agreement` computes:

- ``benchmark_rho``: Spearman's rank correlation between our mean benchmark error and the published
  mean misclassifications of the architectures with a finished run (NaN, with ``benchmark_ranks:
  false``, when our errors are all equal: a set every model classifies perfectly ranks nothing);
- ``challenge_rho``: the same between our mean challenge accuracy and the published one (the middle
  of the published range) of the activation experiment's models;
- ``signs_agreed`` / ``signs_total``: paired differences (ReLU - linear; modification - original)
  whose sign is the published one; a difference of exactly 0 agrees with none. In the table each
  is judged with its per-spectrum test (McNemar per seed, the paired interval across seeds):
  "agrees, significant", "same sign, within noise", "opposite sign, within noise" or "opposite,
  significant" (specbench.results.tables.paired.verdict), never by its sign alone;
- ``cnn6_rank_benchmark`` / ``cnn6_rank_challenge``: cnn6's rank (1 = best; ties share the best
  rank they span, e.g. "1=" when tied first) on each set, where the paper has it first on both;
  "" where no other model has a result to rank it against.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd

from specbench.results.tables.common import TableInputError, subset_title, write_table
from specbench.results.tables.paired import mcnemar_text, paired_test, verdict
from specbench.results.tables.runs import read_runs

#: The published best architecture on both sets (Schuetzke et al. 2023).
PAPER_BEST = "cnn6"
#: A rank correlation at least this high counts as agreeing with the published ranking.
RHO_AGREES = 0.7
#: Means are compared at this many decimals: means over seeds of the same total (misclassified
#: 0 and 6 spectra, or 1 and 5) are equal, though their floats may differ in the last bit.
DECIMALS = 9
#: Columns of config/reference/paper_differences.csv.
DIFFERENCE_COLUMNS = ["experiment", "model", "paired_with", "paper_sign", "source"]


def load_differences(path: str | Path) -> pd.DataFrame:
    """The published signs of paired differences (one row per model and counterpart)."""
    try:
        table = pd.read_csv(path, comment="#")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise TableInputError(f"{path}: not a readable table ({exc})") from None
    missing = [col for col in DIFFERENCE_COLUMNS if col not in table.columns]
    if missing:
        raise TableInputError(f"{path}: missing column(s) {', '.join(missing)}")
    bad = table[~table["paper_sign"].isin([-1, 1])]
    if len(bad):
        raise TableInputError(
            f"{path}: paper_sign must be 1 or -1, got {bad['paper_sign'].iloc[0]}"
        )
    return table


def spearman(ours: pd.Series, paper: pd.Series) -> float:
    """Spearman's rho of two equally long series (average ranks for ties, equal at
    :data:`DECIMALS`); NaN if either is constant or fewer than 3 pairs are given."""
    ours = pd.to_numeric(ours, errors="coerce").round(DECIMALS)
    paper = pd.to_numeric(paper, errors="coerce").round(DECIMALS)
    keep = ours.notna() & paper.notna()
    ours, paper = ours[keep], paper[keep]
    if len(ours) < 3 or ours.nunique() < 2 or paper.nunique() < 2:
        return float("nan")
    return float(np.corrcoef(ours.rank(), paper.rank())[0, 1])


def rank_of(values: pd.Series, name: str, *, higher_is_better: bool) -> str:
    """Rank of `name` (index label) in `values`, 1 = best; "k=" when tied with others (equal
    at :data:`DECIMALS`)."""
    if name not in values.index or pd.isna(values[name]):
        return ""
    values = pd.to_numeric(values, errors="coerce").round(DECIMALS)
    mine = values[name]
    better = (values > mine) if higher_is_better else (values < mine)
    tied = int((values == mine).sum()) > 1
    return f"{int(better.sum()) + 1}{'=' if tied else ''}"


def _experiment(summary: pd.DataFrame, experiment: str) -> pd.DataFrame:
    rows = summary[summary["experiment"] == experiment]
    return rows.drop_duplicates("model").set_index("model")


def agreement(
    summary: pd.DataFrame, differences: pd.DataFrame, runs: pd.DataFrame | None = None
) -> dict:
    """The agreement measures of the module docstring for one run's summary table; with the
    run's `runs` table, each published paired difference is tested per spectrum
    (specbench.results.tables.paired.paired_test) and judged by :func:`~specbench.results.tables.
    paired.verdict` ("agrees, significant", "same sign, within noise", ...)."""
    out: dict = {}
    bench = _experiment(summary, "benchmark")
    # ranked: the models with a result of ours (allow_missing_runs: some may have none) and a
    # published one
    bench = bench[bench["paper_test_error_pct_mean"].notna() & bench["test_error_pct_mean"].notna()]
    out["benchmark_models"] = len(bench)
    out["benchmark_error_pct_min"] = (
        float(bench["test_error_pct_mean"].min()) if len(bench) else np.nan
    )
    out["benchmark_error_pct_max"] = (
        float(bench["test_error_pct_mean"].max()) if len(bench) else np.nan
    )
    out["benchmark_ranks"] = bool(
        len(bench) and bench["test_error_pct_mean"].round(DECIMALS).nunique() > 1
    )
    out["benchmark_rho"] = spearman(
        bench["test_error_pct_mean"], bench["paper_test_error_pct_mean"]
    )
    # a rank among the models with a result; alone (a subset run of cnn6) it ranks nothing
    out["cnn6_rank_benchmark"] = (
        rank_of(bench["test_error_pct_mean"], PAPER_BEST, higher_is_better=False)
        if len(bench) >= 2
        else ""
    )

    chal = _experiment(summary, "activation")
    paper_mid = (chal["paper_test_accuracy_min"] + chal["paper_test_accuracy_max"]) / 2
    chal = chal.assign(paper_mid=paper_mid)[paper_mid.notna() & chal["test_accuracy_mean"].notna()]
    out["challenge_models"] = len(chal)
    out["challenge_rho"] = spearman(chal["test_accuracy_mean"], chal["paper_mid"])
    out["cnn6_rank_challenge"] = (
        rank_of(chal["test_accuracy_mean"], PAPER_BEST, higher_is_better=True)
        if len(chal) >= 2
        else ""
    )

    agreed, total, details, sign_rows = 0, 0, [], []
    for row in differences.itertuples(index=False):
        exp = _experiment(summary, row.experiment)
        if row.model not in exp.index or row.paired_with not in exp.index:
            continue
        diff = 100.0 * (
            exp.loc[row.model, "test_accuracy_mean"]
            - exp.loc[row.paired_with, "test_accuracy_mean"]
        )
        test = None
        if runs is not None:
            test = paired_test(runs, row.experiment, row.model, row.paired_with)
            diff = test["mean"] if test["n"] else np.nan
        if pd.isna(diff):
            continue
        total += 1
        ok = bool(np.sign(diff) == row.paper_sign)
        agreed += ok
        details.append(f"{row.model}-{row.paired_with} {diff:+.1f}{'' if ok else ' (x)'}")
        ours = f"{diff:+.1f} pp"
        judged = "yes" if ok else "no"
        if test is not None:
            if test["n"] >= 2:
                ours += f" [{test['low']:+.1f}, {test['high']:+.1f}]"
            if test["mcnemar"]:  # runs without predictions have no per-spectrum test
                ours += f", McNemar p {mcnemar_text(test['mcnemar'])}"
            judged = verdict(diff, test["significant"], row.paper_sign)
        sign_rows.append(
            (
                f"{row.model} − {row.paired_with} ({row.experiment})",
                ours,
                "+" if row.paper_sign > 0 else "−",
                judged,
            )
        )
    out["signs_agreed"], out["signs_total"] = agreed, total
    out["sign_details"] = "; ".join(details)
    out["sign_rows"] = sign_rows
    return out


def agreement_table(
    summary: pd.DataFrame, differences: pd.DataFrame, runs: pd.DataFrame | None = None
) -> pd.DataFrame:
    """One row per measure of :func:`agreement` (the agreement table of a workflow run):
    measure, ours, paper, agrees ("yes"/"no"/"" where the run cannot tell; for a paired
    difference, with `runs`, the verdict of its per-spectrum test)."""
    out = agreement(summary, differences, runs)
    rows = []

    def rho_row(what: str, rho: float, n: int) -> None:
        if n < 3:
            return
        ours = "no ranking (all equal)" if math.isnan(rho) else f"ρ = {rho:+.2f}"
        agrees = "" if math.isnan(rho) else ("yes" if rho >= RHO_AGREES else "no")
        rows.append((f"{what} ranking of {n} models (Spearman)", ours, "ρ = +1", agrees))

    rho_row("benchmark error", out["benchmark_rho"], out["benchmark_models"])
    rho_row("challenge accuracy", out["challenge_rho"], out["challenge_models"])
    for what, rank in (("benchmark", "cnn6_rank_benchmark"), ("challenge", "cnn6_rank_challenge")):
        if out[rank]:
            agrees = "yes" if out[rank] == "1" else "no"
            rows.append((f"{PAPER_BEST}'s rank on the {what} set", out[rank], "1", agrees))
    rows += out["sign_rows"]
    return pd.DataFrame(rows, columns=["measure", "ours", "paper", "agrees"])


def aggregate_agreement(
    summary: str | Path,
    differences: str | Path,
    csv: str | Path,
    md: str | Path,
    selection: str = "",
    runs: str | Path | None = None,
) -> pd.DataFrame:
    """Rule aggregate_agreement: :func:`agreement_table` of summary.csv (and runs.csv, whose
    runs' predictions test each paired difference), as CSV and Markdown."""
    try:
        table = pd.read_csv(summary)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise TableInputError(f"{summary}: not a readable summary table ({exc})") from None
    run_table = read_runs(runs) if runs is not None else None
    out = agreement_table(table, load_differences(differences), run_table)
    write_table(out, csv, md, title=subset_title("Agreement with the paper", selection))
    return out
