"""Compare the runs of two workflow directories: metrics, predictions and histories, exactly.

    python tools/compare_runs.py DIR_A DIR_B

For every run folder DIR_A/results/runs/<dataset>/<model>/seed<N>: DIR_B has it (and DIR_B has
no run that DIR_A lacks), the core metrics
of metrics.json are equal (read with specbench.evaluation.runs.read_metrics), predictions.parquet is equal
table for table (specbench.evaluation.predictions.read_predictions), and the per-epoch loss and accuracy of
history.csv are equal. Timings and versions are not compared. Exit status 1 if anything differs
(or DIR_A has no runs). Used for "behaviour unchanged" checks, e.g. the tiny config run at
two commits (each from its own git worktree).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))
from specbench.core.formats import CORE_METRICS, HISTORY_FILE  # noqa: E402
from specbench.core.formats import METRICS_FILE, PREDICTIONS_FILE  # noqa: E402
from specbench.evaluation.predictions import read_predictions  # noqa: E402
from specbench.evaluation.runs import read_metrics  # noqa: E402

COMPARED = tuple(key for key in CORE_METRICS if key not in ("train_time_s", "train_samples_per_s"))
HISTORY_COLUMNS = ("loss", "accuracy", "val_loss", "val_accuracy")


def compare(a: Path, b: Path) -> int:
    runs = sorted(p.relative_to(a) for p in (a / "results" / "runs").glob("*/*/seed*"))
    differing = 0
    for run in sorted(p.relative_to(b) for p in (b / "results" / "runs").glob("*/*/seed*")):
        if not (a / run).is_dir():  # a run only B has is a difference too
            print(f"{run}: missing in {a}")
            differing += 1
    for run in runs:
        if not (b / run).is_dir():
            print(f"{run}: missing in {b}")
            differing += 1
            continue
        missing = [
            f"{name} missing in {x}"
            for name in (METRICS_FILE, PREDICTIONS_FILE, HISTORY_FILE)
            for x in (a, b)
            if not (x / run / name).is_file()
        ]
        if missing:  # trained but not evaluated, or cut off: not comparable
            print(f"{run}: {'; '.join(missing)}")
            differing += 1
            continue
        ma, mb = (read_metrics(x / run / METRICS_FILE) for x in (a, b))
        metrics = {k: (ma.get(k), mb.get(k)) for k in COMPARED if ma.get(k) != mb.get(k)}
        pa, pb = (read_predictions(x / run / PREDICTIONS_FILE) for x in (a, b))
        ha, hb = (pd.read_csv(x / run / HISTORY_FILE) for x in (a, b))
        columns = [c for c in HISTORY_COLUMNS if c in ha or c in hb]  # one side's lack differs
        same_history = all(c in ha and c in hb for c in columns) and ha[columns].equals(hb[columns])
        problems = [f"metrics {metrics}"] if metrics else []
        problems += [] if pa.equals(pb) else ["predictions differ"]
        problems += [] if same_history else ["history differs"]
        print(f"{run}: {'; '.join(problems) if problems else 'identical'}")
        differing += bool(problems)
    print(f"{len(runs)} runs compared, {differing} differ")
    return 1 if differing or not runs else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("a", type=Path)
    parser.add_argument("b", type=Path)
    args = parser.parse_args(argv)
    return compare(args.a, args.b)


if __name__ == "__main__":
    sys.exit(main())
