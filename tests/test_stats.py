"""Paired differences and the spread over training seeds vs data seeds, on constructed cases
whose answers are known in closed form; and the summary table's use of them."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from specbench.results import stats
from specbench.results.tables.paired import counterpart
from specbench.results.tables.summary import summary_markdown, summary_table


def write_outcomes(folder, labels, correct) -> str:
    """predictions.parquet in `folder`: right where `correct`, else the next of 4 classes;
    returns the path of the metrics.json beside it (where the tables look for predictions)."""
    from helpers import write_predictions

    n = len(labels)
    predicted = np.where(correct, labels, (labels + 1) % 4)
    write_predictions(
        folder / "predictions.parquet", labels, predicted, np.full(n, 0.9), np.full(n, 0.05),
        ["0"] * n,
    )  # fmt: skip
    return str(folder / "metrics.json")


def run_row(model, seed, correct, metrics) -> dict:
    """A run record of the activation experiment with its test accuracy and metrics path."""
    return {"experiment": "activation", "model": model, "seed": seed, "data_seed": 1,
            "status": "ok", "test_accuracy": correct.mean(), "metrics": metrics}  # fmt: skip


def test_paired_difference_has_the_student_t_interval():
    # differences 1, 2, 3: mean 2, sd 1, n 3, t(0.975, 2) = 4.302653 -> half width 2.484138
    diff = stats.paired_difference([11, 12, 13], [10, 10, 10])
    assert diff["n"] == 3 and diff["mean"] == pytest.approx(2.0)
    assert diff["low"] == pytest.approx(2 - 4.302653 / math.sqrt(3), rel=1e-6)
    assert diff["high"] == pytest.approx(2 + 4.302653 / math.sqrt(3), rel=1e-6)
    # pairing matters: a constant shift has no spread, whatever the spread of each sample
    tight = stats.paired_difference([50, 60, 70, 80], [48, 58, 68, 78])
    assert (tight["low"], tight["mean"], tight["high"]) == pytest.approx((2, 2, 2))


def test_paired_difference_with_one_pair_has_no_interval():
    diff = stats.paired_difference([61.0], [58.0])
    assert diff["n"] == 1 and diff["mean"] == 3.0
    assert math.isnan(diff["low"]) and math.isnan(diff["high"])
    with pytest.raises(ValueError, match="differ in length"):
        stats.paired_difference([1, 2], [1])


def test_spread_separates_training_seeds_from_data_seeds():
    # accuracy = data effect (0, 10, 20 by data seed) + seed effect (+-1 by training seed)
    rows = [
        {"seed": s, "data_seed": d, "test_accuracy": 10 * i + (1 if s else -1)}
        for i, d in enumerate((2023, 2024, 2025))
        for s in (0, 1)
    ]
    got = stats.spread(pd.DataFrame(rows))
    assert got["seed_sd"] == pytest.approx(math.sqrt(2))  # var of {-1, 1} = 2 in every dataset
    assert got["data_sd"] == pytest.approx(10.0)  # var of {0, 10, 20} = 100 at either seed
    one = stats.spread(pd.DataFrame(rows[:1]))
    assert math.isnan(one["seed_sd"]) and math.isnan(one["data_sd"])


def runs_frame(values: dict[str, list[float]], hyper: dict[str, str]) -> pd.DataFrame:
    rows = []
    for model, accs in values.items():
        for seed, acc in enumerate(accs):
            rows.append(
                {
                    "experiment": "activation",
                    "dataset": "chal",
                    "base_dataset": "chal",
                    "model": model,
                    "seed": seed,
                    "data_seed": 11,
                    "status": "ok",
                    "architecture": "cnn2",
                    "dense_activation": "relu" if "relu" in model else "linear",
                    "hyperparameters": hyper[model],
                    "n_test": 100,
                    "test_wrong": round(100 * (1 - acc)),
                    "test_accuracy": acc,
                }
            )
    frame = pd.DataFrame(rows)
    frame["test_error_pct"] = 100 * (1 - frame["test_accuracy"])
    for col in ("best_epoch", "epochs_run", "parameters", "macs", "train_time_s"):
        frame[col] = 1
    return frame


def test_summary_pairs_each_variant_with_its_original():
    hyper = {"cnn2": "{}", "cnn2_relu": '{"dense_activation": "relu"}'}
    runs = runs_frame({"cnn2": [0.60, 0.62, 0.58], "cnn2_relu": [0.65, 0.66, 0.64]}, hyper)
    assert counterpart(runs, "activation", "cnn2_relu") == "cnn2"
    assert counterpart(runs, "activation", "cnn2") is None
    table = summary_table(runs).set_index("model")
    expected = stats.paired_difference([65, 66, 64], [60, 62, 58])
    relu = table.loc["cnn2_relu"]
    assert relu["paired_with"] == "cnn2" and relu["paired_n"] == 3
    assert relu["paired_diff_pct"] == pytest.approx(expected["mean"])
    assert relu["paired_ci_low_pct"] == pytest.approx(expected["low"])
    assert table.loc["cnn2", "paired_with"] == "" and np.isnan(table.loc["cnn2", "paired_diff_pct"])
    md = summary_markdown(summary_table(runs))
    assert len(md.columns) <= 10
    assert "vs cnn2 (n=3)" in md.set_index("model").loc["cnn2_relu", "paired Δ (pp) [95 % CI]"]


def test_mcnemar_is_the_exact_binomial_test_of_the_discordant_spectra():
    """A known small case: 4 spectra right for a only, 1 for b only. Two-sided exact p =
    P(X >= 4) + P(X <= 1) for X ~ Binomial(5, 1/2) = (5 + 1 + 1 + 5) / 32 = 0.375."""
    from scipy.stats import binomtest

    a = [1, 1, 1, 1, 0, 0, 1, 0, 1, 1]
    b = [0, 1, 0, 0, 0, 1, 1, 0, 0, 1]
    result = stats.mcnemar(a, b)
    assert (result["b"], result["c"]) == (4, 1)
    assert result["p"] == pytest.approx(0.375) == binomtest(4, 5, 0.5).pvalue
    assert stats.mcnemar(a, a) == {"b": 0, "c": 0, "p": 1.0}  # no discordant spectrum
    lopsided = stats.mcnemar([1] * 12 + [0] * 8, [0] * 12 + [0] * 8)
    assert lopsided["p"] == pytest.approx(2 * 0.5**12) == binomtest(12, 12, 0.5).pvalue


def test_paired_tests_and_verdicts_from_real_prediction_files(tmp_path):
    """paired_test reads each run's predictions.parquet (beside its metrics.json), counts the
    discordant spectra per seed, and judges significance; verdict words the agreement table."""
    from specbench.results.tables.paired import paired_test, verdict

    labels = np.arange(40) % 4
    rows = []
    right = {  # spectra each model gets right, per seed
        ("relu", 0): np.arange(40) < 36,
        ("lin", 0): np.arange(40) < 20,
        ("relu", 1): np.arange(40) < 30,
        ("lin", 1): np.arange(40) < 14,
    }
    for (model, seed), correct in right.items():
        metrics = write_outcomes(tmp_path / model / f"seed{seed}", labels, correct)
        rows.append(run_row(model, seed, correct, metrics))
    runs = pd.DataFrame(rows)
    test = paired_test(runs, "activation", "relu", "lin")
    assert [(t["seed"], t["b"], t["c"]) for t in test["mcnemar"]] == [(0, 16, 0), (1, 16, 0)]
    assert test["mcnemar"][0]["p"] == pytest.approx(2 * 0.5**16)
    assert test["n"] == 2 and test["mean"] == pytest.approx(40.0)
    assert test["significant"]  # p < 0.05 in every seed, the same direction
    one = paired_test(runs[runs["seed"] == 0], "activation", "relu", "lin")
    assert one["n"] == 1 and one["significant"]
    assert verdict(one["mean"], one["significant"], +1) == "agrees, significant"
    assert verdict(one["mean"], one["significant"], -1) == "opposite, significant"
    assert verdict(2.0, False, +1) == "same sign, within noise"
    assert verdict(-2.0, False, +1) == "opposite sign, within noise"
    assert verdict(0.0, False, +1) == "no difference"

    # a third seed, the other way round, shipped without predictions: its pair has no
    # per-spectrum test, so "every seed beyond noise" cannot be claimed; the interval decides
    third = [
        {"experiment": "activation", "model": model, "seed": 2, "data_seed": 1, "status": "ok",
         "test_accuracy": accuracy, "metrics": str(tmp_path / "nowhere" / model / "metrics.json")}
        for model, accuracy in (("relu", 14 / 40), ("lin", 30 / 40))
    ]  # fmt: skip
    partial = paired_test(pd.concat([runs, pd.DataFrame(third)]), "activation", "relu", "lin")
    assert partial["n"] == 3 and len(partial["mcnemar"]) == 2 and partial["low"] < 0
    assert partial["significant"] is False


def test_summary_counts_the_seeds_below_alpha_from_the_exact_p_values(tmp_path):
    """McNemar p just below 0.05 (42 vs 25 and 81 vs 57 discordant spectra: p = 0.0498) is below
    the threshold in every seed, so the pair is significant ("*"); summary.md's count of the
    seeds with p < 0.05 must say so too, not count p-values rounded to "0.05" in summary.csv."""

    n = 200
    labels = np.arange(n) % 4
    runs = runs_frame(
        {"cnn2": [0.5, 0.5], "cnn2_relu": [0.5, 0.5]},
        {"cnn2": "{}", "cnn2_relu": '{"dense_activation": "relu"}'},
    )
    metrics = []
    for row in runs.itertuples():
        b, c = ((42, 25), (81, 57))[row.seed]  # right for cnn2_relu only, for cnn2 only
        right = np.arange(n) < b if row.model == "cnn2_relu" else (np.arange(n) >= b)
        right &= np.arange(n) < b + c  # the rest: both wrong
        metrics.append(write_outcomes(tmp_path / row.model / f"seed{row.seed}", labels, right))
        runs.loc[row.Index, "test_accuracy"] = right.mean()
    runs["metrics"] = metrics
    table = summary_table(runs).set_index("model")
    relu = table.loc["cnn2_relu"]
    assert relu["paired_n"] == 2 and relu["paired_significant"] is True
    p_values = [float(p) for p in relu["paired_mcnemar_p"].split()]
    assert p_values == pytest.approx([0.0498001, 0.0498481], abs=1e-6)
    md = summary_markdown(table.reset_index()).set_index("model")
    text = md.loc["cnn2_relu", "paired Δ (pp) [95 % CI]"]
    assert "p < 0.05 in 2/2 seeds" in text and text.endswith("*")


def test_a_zero_width_interval_is_no_evidence_of_a_difference(tmp_path):
    """Three seeds in each of which one model gets exactly one more of 162 test spectra right
    (102 vs 101, 101 vs 100, 150 vs 149): the paired differences are equal (+0.6 pp each, up to
    floating-point rounding), so the t-interval has width 0 and 'excludes' 0, but each seed's
    exact McNemar p is 1. That is within noise, not a significant difference."""
    from specbench.results.tables.paired import paired_test, verdict

    n = 162
    labels = np.arange(n) % 4
    rows = []
    for model, counts in (("relu", (102, 101, 150)), ("lin", (101, 100, 149))):
        for seed, right_count in enumerate(counts):
            correct = np.arange(n) < right_count
            metrics = write_outcomes(tmp_path / model / f"seed{seed}", labels, correct)
            rows.append(run_row(model, seed, correct, metrics))
    test = paired_test(pd.DataFrame(rows), "activation", "relu", "lin")
    assert test["n"] == 3 and test["mean"] == pytest.approx(100 / 162)
    assert test["high"] - test["low"] < 1e-9  # zero but for rounding
    assert [t["p"] for t in test["mcnemar"]] == [1.0, 1.0, 1.0]
    assert test["significant"] is False
    assert verdict(test["mean"], test["significant"], +1) == "same sign, within noise"


def test_the_workflow_doc_quotes_the_one_seed_label_of_the_figures():
    """docs/workflow.md ("Paired differences") says what the activation and modifications figures
    print above a pair with one seed: in a workflow run every pair has its predictions, so the
    label gives the seed's McNemar p-value (paired_label of a paired_test result)."""
    from conftest import REPO
    from specbench.results.tables.paired import paired_label

    label = paired_label({"n": 1, "mean": 3.0, "mcnemar": [{"p": 0.04}]})
    assert label == "Δ +3.0 pp (1 seed, McNemar p 0.04)"
    doc = " ".join((REPO / "docs" / "workflow.md").read_text().split())
    assert 'with one seed, that seed\'s McNemar p-value instead ("1 seed, McNemar p 0.04"' in doc


def test_differences_that_cancel_are_no_difference():
    """Two seeds whose paired differences cancel (120 vs 119 and 97 vs 98 of 162 spectra right):
    the mean difference is exactly 0, "no difference" in the agreement table, which agrees with
    no published sign; floating-point rounding must not make it -0.0 'opposite sign'."""
    from specbench.results.tables.agreement import agreement, agreement_table, load_differences
    from specbench.results.tables.paired import paired_accuracy

    hyper = {"cnn2": "{}", "cnn2_relu": '{"dense_activation": "relu"}'}
    runs = runs_frame({"cnn2_relu": [120 / 162, 97 / 162], "cnn2": [119 / 162, 98 / 162]}, hyper)
    assert paired_accuracy(runs, "activation", "cnn2_relu", "cnn2")["mean"] == 0.0
    from conftest import REPO

    differences = load_differences(REPO / "config" / "reference" / "paper_differences.csv")
    summary = summary_table(runs)
    rows = agreement_table(summary, differences, runs).set_index("measure")
    row = rows.loc["cnn2_relu − cnn2 (activation)"]
    assert row["agrees"] == "no difference" and row["ours"].startswith("+0.0 pp")
    out = agreement(summary, differences, runs)
    assert (out["signs_agreed"], out["signs_total"]) == (0, 1)
