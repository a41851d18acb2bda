"""Where the time of a run set's training and evaluation jobs went.

Reads a run set, a shipped folder (``reference-results/<set>/``: runtimes.csv and runs/) or a
results folder (``results/``: tables/runtimes.csv and runs/), and splits every finished run's job
time into
- ``compile``: what the first epoch took beyond the steady pace (the median of the later
  epochs): tracing and XLA compilation of the training and validation steps (a persistent
  compilation cache shortens it for later seeds);
- ``epochs``: the rest of its epochs' time (training and validation, the work itself);
- ``outside``: the training job's wall time outside its epochs (process start, imports, reading
  the splits, building the model, writing model, history and backups);
- ``evaluation``: the evaluation job's wall time (a fresh process: start, loading the model,
  predicting the test split).
The job wall times are Snakemake's benchmark files (runtimes.csv), the epoch times history.csv
(``epoch_time_s``). Printed: the mean seconds per run of each model and the shares of the total.
Where the runs' training.json records the job's steps (``timings``, written since 2026-12-05;
specbench.training.timings.TIMINGS), ``outside`` is split further (:data:`OUTSIDE`): ``start``
(from the process's start to the training: interpreter, Snakemake's script preamble, imports),
``backend`` (importing Keras and its backend, finding the device), ``read``, ``build``, ``fit_rest`` (inside
``model.fit`` but outside its epochs), ``save`` (the model file) and ``rest`` (the remainder:
Snakemake's start and end of the job, writing history and training.json, the process's exit).

  python tools/job_times.py reference-results/gpu-h200-challenge
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from specbench.training.timings import TIMINGS

PARTS = ("epochs", "compile", "outside", "evaluation")  # they add up to the job time
OUTSIDE = (
    "start",
    "backend",
    "read",
    "build",
    "fit_rest",
    "save",
    "rest",
)  # they add up to "outside"


def outside_steps(run: Path, train_s: float, epochs_s: float) -> dict[str, float]:
    """The training job's time outside its epochs split by the steps its training.json records
    ({} for a run without them, or resumed: its fit ran only some of the epochs)."""
    path = run / "training.json"
    info = json.loads(path.read_text()) if path.is_file() else {}
    t = info.get("timings") or {}
    if info.get("resumed_from_epoch") or any(t.get(k) is None for k in TIMINGS):
        return {}
    steps = {
        "start": t["start_s"],
        "backend": t["configure_s"],
        "read": t["read_s"],
        "build": t["build_s"],
        "fit_rest": t["fit_s"] - epochs_s,
        "save": t["save_s"],
    }
    steps["rest"] = train_s - epochs_s - sum(steps.values())
    return steps


def runtimes_file(folder: Path) -> Path:
    for path in (folder / "runtimes.csv", folder / "tables" / "runtimes.csv"):
        if path.is_file():
            return path
    raise SystemExit(f"{folder}: no runtimes.csv (a shipped run set or a results folder)")


def job_times(folder: str | Path) -> pd.DataFrame:
    """One row per run with a training and an evaluation job and a history: dataset, model, seed,
    epochs_run, wall_s (training job), eval_s and the parts (:data:`PARTS`), in seconds."""
    folder = Path(folder)
    runtimes = pd.read_csv(runtimes_file(folder))
    wall = {
        rule: {
            (row.dataset, row.model, int(row.seed)): float(row.wall_s)
            for row in runtimes[runtimes["rule"] == rule].itertuples()
        }
        for rule in ("train_model", "evaluate_model")
    }
    rows = []
    for key, train_s in sorted(wall["train_model"].items()):
        dataset, model, seed = key
        history = folder / "runs" / dataset / model / f"seed{seed}" / "history.csv"
        if key not in wall["evaluate_model"] or not history.is_file():
            continue
        epoch_s = pd.read_csv(history)["epoch_time_s"]
        steady = float(epoch_s.iloc[1:].median()) if len(epoch_s) > 1 else float(epoch_s.iloc[0])
        rows.append(
            {
                "dataset": dataset,
                "model": model,
                "seed": seed,
                "epochs_run": len(epoch_s),
                "wall_s": train_s,
                "eval_s": wall["evaluate_model"][key],
                "epochs": float(epoch_s.sum()) - (float(epoch_s.iloc[0]) - steady),
                "compile": float(epoch_s.iloc[0]) - steady,
                "outside": train_s - float(epoch_s.sum()),
                "evaluation": wall["evaluate_model"][key],
                **outside_steps(history.parent, train_s, float(epoch_s.sum())),
            }
        )
    if not rows:
        raise SystemExit(f"{folder}: no run with a training job, an evaluation job and a history")
    return pd.DataFrame(rows)


def shares(times: pd.DataFrame) -> dict[str, float]:
    """Percent of the summed job time (training and evaluation jobs) of each part."""
    total = float((times["wall_s"] + times["eval_s"]).sum())
    return {part: 100 * float(times[part].sum()) / total for part in PARTS}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="a shipped run set or a results folder")
    args = parser.parse_args(argv)
    times = job_times(args.folder)
    per_model = times.groupby("model", sort=False)[["epochs_run", *PARTS]].mean()
    per_model.insert(0, "runs", times.groupby("model", sort=False).size())
    print(f"mean seconds per run ({len(times)} runs):")
    print(per_model.round(1).to_string())
    total = float((times["wall_s"] + times["eval_s"]).sum())
    print(f"\nshares of the {total:.0f} s of job time (training and evaluation jobs):")
    for part, pct in shares(times).items():
        print(f"  {part:<10} {pct:5.1f} %")
    by_seed = times.groupby("seed")[["compile", "outside"]].mean().round(1)
    print("\nmean compile and outside seconds per run, by seed:")
    print(by_seed.to_string())
    steps = times.dropna(subset=list(OUTSIDE)) if set(OUTSIDE) <= set(times) else times[:0]
    if len(steps):
        per_model = steps.groupby("model", sort=False)[["outside", *OUTSIDE]].mean()
        per_model.insert(0, "runs", steps.groupby("model", sort=False).size())
        print(f"\nthe training job outside its epochs, mean seconds per run ({len(steps)} runs")
        print("whose training.json records its steps):")
        print(per_model.round(1).to_string())
    else:
        print("\n(no run records its steps in training.json: outside is not split further)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
