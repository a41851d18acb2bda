"""tools/job_times.py: a run set's job time split into epochs, compilation, the rest of the
training job, and evaluation."""

from __future__ import annotations

import importlib.util
import json

import pytest

from conftest import REPO


def load_job_times():
    spec = importlib.util.spec_from_file_location("job_times", REPO / "tools" / "job_times.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_run(folder, model, seed, epoch_times):
    run = folder / "runs" / "chal" / model / f"seed{seed}"
    run.mkdir(parents=True)
    lines = ["epoch,epoch_time_s", *(f"{i + 1},{t}" for i, t in enumerate(epoch_times))]
    (run / "history.csv").write_text("\n".join(lines) + "\n")


def test_parts_of_hand_made_jobs(tmp_path):
    # cnn2: first epoch 12 s, then 1, 2, 3 s (steady pace: median 2 s); training job 40 s, its
    # evaluation 10 s. vgg: no evaluation job, left out.
    write_run(tmp_path, "cnn2", 0, [12, 1, 2, 3])
    write_run(tmp_path, "vgg", 0, [5, 1])
    (tmp_path / "runtimes.csv").write_text(
        "rule,dataset,model,seed,wall_s\n"
        "train_model,chal,cnn2,0,40\n"
        "evaluate_model,chal,cnn2,0,10\n"
        "train_model,chal,vgg,0,9\n"
    )
    jt = load_job_times()
    times = jt.job_times(tmp_path)
    assert times[["model", "epochs_run"]].values.tolist() == [["cnn2", 4]]
    row = times.iloc[0]
    assert (row.epochs, row.compile, row.outside, row.evaluation) == (8.0, 10.0, 22.0, 10.0)
    assert jt.shares(times) == pytest.approx(
        {"epochs": 16.0, "compile": 20.0, "outside": 44.0, "evaluation": 20.0}
    )


def test_outside_split_by_the_steps_training_json_records(tmp_path, capsys):
    # cnn2: a 40 s training job with epochs of 12+1+2+3 s (22 s outside them); its process
    # recorded start 3 s, configure 4, read 1, build 2, fit 19 (1 s beyond its epochs), save 5:
    # 6 s remain (Snakemake, history and training.json, exit). cnn3 resumed: not split.
    for model in ("cnn2", "cnn3"):
        write_run(tmp_path, model, 0, [12, 1, 2, 3])
    steps = dict(start_s=3, configure_s=4, read_s=1, build_s=2, fit_s=19, save_s=5)
    for model, resumed in (("cnn2", 0), ("cnn3", 2)):
        info = {"resumed_from_epoch": resumed, "timings": steps}
        (tmp_path / "runs" / "chal" / model / "seed0" / "training.json").write_text(
            json.dumps(info)
        )
    (tmp_path / "runtimes.csv").write_text(
        "rule,dataset,model,seed,wall_s\n"
        + "".join(f"{r},chal,{m},0,{s}\n" for m in ("cnn2", "cnn3") for r, s in RULE_S)
    )
    jt = load_job_times()
    times = jt.job_times(tmp_path).set_index("model")
    assert times.loc["cnn2", list(jt.OUTSIDE)].tolist() == [3.0, 4.0, 1.0, 2.0, 1.0, 5.0, 6.0]
    assert times.loc["cnn2", list(jt.OUTSIDE)].sum() == times.loc["cnn2", "outside"]
    assert times.loc["cnn3", list(jt.OUTSIDE)].isna().all()
    assert jt.main([str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "(1 runs" in out and "fit_rest" in out


RULE_S = (("train_model", 40), ("evaluate_model", 10))


def test_the_parts_of_the_shipped_gpu_runs_add_up_to_their_job_time(capsys):
    folder = REPO / "reference-results" / "gpu-h200-challenge"
    jt = load_job_times()
    times = jt.job_times(folder)
    assert len(times) == 30  # every finished run of the set
    parts = times[list(jt.PARTS)].sum(axis=1)
    assert parts.values == pytest.approx((times["wall_s"] + times["eval_s"]).values)
    assert sum(jt.shares(times).values()) == pytest.approx(100.0)
    assert jt.main([str(folder)]) == 0
    assert "shares of the" in capsys.readouterr().out
