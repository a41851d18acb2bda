"""specbench.results.tables.agreement: the laptop-scale study's measures of agreement with the paper."""

from __future__ import annotations

import math

import pandas as pd
import pytest

from conftest import REPO
from specbench.results.tables.agreement import agreement, load_differences, rank_of, spearman
from specbench.results.tables.common import TableInputError

DIFFERENCES = REPO / "config" / "reference" / "paper_differences.csv"


def summary(bench_errors: dict, chal_acc: dict, mods: dict | None = None) -> pd.DataFrame:
    """A summary table with our values and made-up published ones (paper ranks = dict order)."""
    rows = []
    n = len(bench_errors)
    for i, (model, err) in enumerate(bench_errors.items()):
        rows.append(
            {
                "experiment": "benchmark",
                "model": model,
                "test_error_pct_mean": err,
                "test_accuracy_mean": 1 - err / 100,
                "paper_test_error_pct_mean": float(i + 1),  # published: first = best
            }
        )
    for i, (model, acc) in enumerate(chal_acc.items()):
        rows.append(
            {
                "experiment": "activation",
                "model": model,
                "test_accuracy_mean": acc,
                "paper_test_accuracy_min": 0.9 - i / 100,
                "paper_test_accuracy_max": 0.95 - i / 100,
            }
        )
    for model, acc in (mods or {}).items():
        rows.append({"experiment": "modifications", "model": model, "test_accuracy_mean": acc})
    assert n
    return pd.DataFrame(rows)


def test_spearman_and_ranks():
    assert spearman(pd.Series([1, 2, 3, 4]), pd.Series([10, 20, 30, 40])) == pytest.approx(1)
    assert spearman(pd.Series([4, 3, 2, 1]), pd.Series([10, 20, 30, 40])) == pytest.approx(-1)
    assert math.isnan(spearman(pd.Series([0, 0, 0]), pd.Series([1, 2, 3])))  # nothing ranks
    # ties take average ranks: ours [1, 1, 2] vs [1, 2, 3] -> ranks [1.5, 1.5, 3] vs [1, 2, 3]
    assert spearman(pd.Series([1, 1, 2]), pd.Series([1, 2, 3])) == pytest.approx(0.8660254)
    values = pd.Series({"a": 0.5, "b": 0.7, "c": 0.7})
    assert rank_of(values, "a", higher_is_better=True) == "3"
    assert rank_of(values, "b", higher_is_better=True) == "1="
    assert rank_of(values, "a", higher_is_better=False) == "1"
    assert rank_of(values, "zzz", higher_is_better=True) == ""


def test_agreement_of_a_run_that_ranks_as_the_paper():
    table = summary(
        {"cnn6": 0.5, "inc6": 1.0, "cnn2": 3.0},
        {"cnn6": 0.80, "cnn6_linear": 0.75, "cnn2_relu": 0.6, "cnn2": 0.5},
        {"cnn_bn": 0.5, "cnn_bn_nobn_relu": 0.6},
    )
    out = agreement(table, load_differences(DIFFERENCES))
    assert out["benchmark_rho"] == pytest.approx(1)
    assert out["challenge_rho"] == pytest.approx(1)
    assert out["benchmark_ranks"] is True
    assert (out["cnn6_rank_benchmark"], out["cnn6_rank_challenge"]) == ("1", "1")
    # cnn6 - cnn6_linear +5, cnn2_relu - cnn2 +10 agree; the modification's sign is the paper's
    paper = load_differences(DIFFERENCES).set_index("model")["paper_sign"]
    mod_ok = int(paper["cnn_bn_nobn_relu"] == 1)
    assert (out["signs_agreed"], out["signs_total"]) == (2 + mod_ok, 3)


def test_a_benchmark_without_errors_ranks_nothing():
    table = summary({"cnn6": 0.0, "inc6": 0.0, "cnn2": 0.0}, {"cnn6": 0.4, "cnn2": 0.6})
    out = agreement(table, load_differences(DIFFERENCES))
    assert out["benchmark_ranks"] is False and math.isnan(out["benchmark_rho"])
    assert out["cnn6_rank_benchmark"] == "1="
    assert out["cnn6_rank_challenge"] == "2"
    assert out["signs_total"] == 0  # no pair of the reference is in this run


def test_models_without_finished_runs_are_not_ranked():
    """A partial run set (allow_missing_runs): models whose every seed is missing have no mean.
    They are not counted as ranked models, and two finished models that differ are not 'all
    equal': with fewer than three finished models there is no ranking row at all."""
    from specbench.results.tables.agreement import agreement_table

    nan = float("nan")
    table = summary(
        {"cnn6": 1.0, "inc6": 2.0, "cnn2": nan, "vgg": nan},
        {"cnn6": 0.8, "cnn6_linear": nan, "inc3": 0.7, "cnn2_relu": nan, "cnn2": 0.6},
    )
    rows = agreement_table(table, load_differences(DIFFERENCES)).set_index("measure")
    assert not any("all equal" in ours for ours in rows["ours"])  # cnn6 1.0 %, inc6 2.0 %
    assert not any(m.startswith("benchmark error ranking") for m in rows.index)
    assert rows.loc["challenge accuracy ranking of 3 models (Spearman)", "ours"] == "ρ = +1.00"
    out = agreement(table, load_differences(DIFFERENCES))
    assert (out["benchmark_models"], out["challenge_models"]) == (2, 3)


def test_a_model_alone_has_no_rank():
    """A subset run of cnn6 alone (select: {models: [cnn6]}): first among one is no agreement
    with the paper's "cnn6 is the best architecture"; the table has no rank rows then."""
    from specbench.results.tables.agreement import agreement_table

    table = summary({"cnn6": 0.5, "vgg": float("nan")}, {"cnn6": 0.8, "cnn2": float("nan")})
    rows = agreement_table(table, load_differences(DIFFERENCES))
    assert not any("rank on the" in measure for measure in rows["measure"]), rows
    out = agreement(table, load_differences(DIFFERENCES))
    assert (out["cnn6_rank_benchmark"], out["cnn6_rank_challenge"]) == ("", "")
    two = agreement(
        summary({"cnn6": 0.5, "vgg": 0.7}, {"cnn6": 0.8, "cnn2": 0.9}),
        load_differences(DIFFERENCES),
    )
    assert (two["cnn6_rank_benchmark"], two["cnn6_rank_challenge"]) == ("1", "2")


def test_reference_differences_cover_the_paper_pairs_and_bad_files_are_named(tmp_path):
    table = load_differences(DIFFERENCES)
    assert set(table["experiment"]) <= {"activation", "modifications"}
    assert len(table) == len(table.drop_duplicates(["experiment", "model"]))
    bad = tmp_path / "bad.csv"
    bad.write_text("experiment,model,paired_with,paper_sign,source\nactivation,a,b,2,x\n")
    with pytest.raises(TableInputError, match="paper_sign must be 1 or -1, got 2"):
        load_differences(bad)
    with pytest.raises(TableInputError, match="missing column"):
        bad.write_text("experiment,model\n")
        load_differences(bad)


def test_agreement_table_rows(tmp_path):
    from specbench.results.tables.agreement import aggregate_agreement

    path = tmp_path / "summary.csv"
    summary(
        {"cnn6": 0.5, "inc6": 2.0, "cnn2": 1.0},
        {"cnn6": 0.80, "cnn6_linear": 0.85, "cnn2_relu": 0.6, "cnn2": 0.5},
    ).to_csv(path, index=False)
    table = aggregate_agreement(path, DIFFERENCES, tmp_path / "a.csv", tmp_path / "a.md")
    rows = table.set_index("measure")
    assert rows.loc["benchmark error ranking of 3 models (Spearman)", "ours"] == "ρ = +0.50"
    assert rows.loc["benchmark error ranking of 3 models (Spearman)", "agrees"] == "no"
    assert rows.loc["cnn6's rank on the challenge set", "ours"] == "2"
    assert rows.loc["cnn6 − cnn6_linear (activation)"].tolist() == ["-5.0 pp", "+", "no"]
    assert rows.loc["cnn2_relu − cnn2 (activation)"].tolist() == ["+10.0 pp", "+", "yes"]
    assert "# Agreement with the paper" in (tmp_path / "a.md").read_text()
    assert pd.read_csv(tmp_path / "a.csv").shape == (len(table), 4)


@pytest.mark.slow
def test_the_workflow_writes_the_agreement_table(tiny_run):
    table = pd.read_csv(tiny_run / "results" / "tables" / "agreement.csv")
    assert list(table.columns) == ["measure", "ours", "paper", "agrees"]
    assert table["measure"].str.contains("cnn2_relu − cnn2").any()


def test_models_with_the_same_mean_error_tie_whatever_the_rounding():
    """cnn6 misclassifies 0 and 6 of 900 benchmark spectra in its two seeds, vgg 1 and 5: the
    same mean error (1/3 %), although the two float means differ in the last bit. They tie:
    cnn6's rank is "1=", which is not the paper's "cnn6 first" (agrees: no)."""
    from specbench.results.tables.agreement import agreement_table
    from specbench.results.tables.reference import load_reference
    from specbench.results.tables.summary import summary_table

    rows = []
    for model, activation, wrong in (
        ("cnn6", "relu", (0, 6)), ("vgg", "linear", (1, 5)), ("cnn2", "linear", (9, 11)),
    ):  # fmt: skip
        for seed, w in enumerate(wrong):
            rows.append(
                {"experiment": "benchmark", "dataset": "bench", "base_dataset": "bench",
                 "model": model, "seed": seed, "data_seed": 7, "status": "ok",
                 "architecture": model, "dense_activation": activation, "hyperparameters": "{}",
                 "n_test": 900, "test_wrong": w, "test_error_pct": 100 * w / 900,
                 "test_accuracy": 1 - w / 900, "best_epoch": 1, "epochs_run": 1,
                 "parameters": 1, "macs": 1, "train_time_s": 1.0}
            )  # fmt: skip
    summary = summary_table(
        pd.DataFrame(rows), load_reference(REPO / "config" / "reference" / "paper_benchmark.csv")
    )
    table = agreement_table(summary, load_differences(DIFFERENCES)).set_index("measure")
    assert table.loc["cnn6's rank on the benchmark set"].tolist() == ["1=", "1", "no"]
    assert agreement(summary, load_differences(DIFFERENCES))["benchmark_rho"] == pytest.approx(
        spearman(pd.Series([1.0, 1.0, 2.0]), pd.Series([8.4, 21.6, 38.0]))
    )


def test_a_paired_difference_without_predictions_names_no_mcnemar_test():
    """Runs without per-spectrum predictions (shipped as tables only): the agreement row gives
    the paired interval, and no "McNemar p" label without a p-value after it."""
    from specbench.results.tables.agreement import agreement_table

    runs = pd.DataFrame(
        [
            {"experiment": "activation", "model": model, "seed": seed, "data_seed": 1,
             "status": "ok", "test_accuracy": acc, "metrics": f"/absent/{model}/{seed}/m.json"}
            for model, accs in (("cnn2", (0.5, 0.6)), ("cnn2_relu", (0.6, 0.65)))
            for seed, acc in enumerate(accs)
        ]
    )  # fmt: skip
    table = agreement_table(
        summary({"cnn6": 0.5}, {"cnn2_relu": 0.625, "cnn2": 0.55}),
        load_differences(DIFFERENCES),
        runs,
    ).set_index("measure")
    row = table.loc["cnn2_relu − cnn2 (activation)"]
    assert row["ours"] == "+7.5 pp [-24.3, +39.3]"
    assert row["agrees"] == "same sign, within noise"
