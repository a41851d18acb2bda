"""Benchmark: the size of a result bundle at the published benchmark scale.

A bundle (specbench.results.bundles) of the paper's benchmark experiment holds 5 seeds x 8
architectures = 40 runs, each with its per-spectrum predictions of the 4,500 test spectra. This
builds one without training anything: the paper's benchmark test split is planned from
config/paper.yaml (its real labels and variants; fingerprinted as a bundle fingerprints it), each
run's predictions.parquet is written by specbench.evaluation.predictions from predictions of a
given accuracy (the published range: 98.9-99.8 %; wrong rows and probabilities drawn at random),
and metrics.json, training.json and history.csv are copied from a shipped run of the same kind
(reference-results/gpu-h200-challenge, cnn6 seed 0). Prints the size of each part and the total.

    python benchmarks/bundle_size.py [--accuracy 0.99] [--seeds 5] [--architectures 8]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from specbench.core import formats  # noqa: E402
from specbench.data.sources import build_classes  # noqa: E402
from specbench.data.render import plan_test  # noqa: E402
from specbench.data.splits import write_split  # noqa: E402
from specbench.evaluation.evaluate import write_predictions  # noqa: E402
from specbench.results.bundles import write_bundle  # noqa: E402
from specbench.workflow import validation  # noqa: E402
from specbench.workflow.config import classes_source_path  # noqa: E402

TEMPLATE = (
    REPO / "reference-results" / "gpu-h200-challenge" / "runs" / "challenge" / "cnn6" / "seed0"
)


def size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accuracy", type=float, default=0.99)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--architectures", type=int, default=8)
    args = parser.parse_args(argv)
    config = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    validation.prepare_config(config, basedir=str(REPO))
    dataset = config["datasets"]["benchmark"]
    # the authors' 500 classes (config/benchmark_classes.json), as rule make_classes reads them
    source = classes_source_path(dataset, REPO)
    classes = build_classes(dataset, name="benchmark", source=source)
    plan = plan_test(classes, dataset)
    n, n_classes = len(plan), int(plan.labels.max()) + 1
    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        test = root / "test.parquet"  # the split a bundle fingerprints (not shipped)
        pos, hgt = plan.peak_lists()
        write_split(
            test,
            spectra=plan.render(),
            labels=plan.labels,
            peak_positions=pos,
            peak_heights=hgt,
            sigma=plan.sigma,
            variant=plan.variant,
        )
        bundle = root / "bundle"
        rows = []
        for arch in range(args.architectures):
            for seed in range(args.seeds):
                model = f"arch{arch}"
                run = bundle / "runs" / "benchmark" / model / f"seed{seed}"
                run.mkdir(parents=True)
                probabilities = rng.dirichlet(np.full(n_classes, 0.05), size=n).astype(np.float32)
                right = rng.random(n) < args.accuracy
                target = np.where(right, plan.labels, (plan.labels + 1) % n_classes)
                probabilities[np.arange(n), target] += 1.0
                probabilities /= probabilities.sum(axis=1, keepdims=True)
                write_predictions(
                    run / formats.PREDICTIONS_FILE,
                    labels=plan.labels,
                    probabilities=probabilities,
                    variant=plan.variant,
                )
                for name in (formats.METRICS_FILE, formats.INFO_FILE, formats.HISTORY_FILE):
                    shutil.copy2(TEMPLATE / name, run / name)
                rows.append(
                    {"experiment": "benchmark", "dataset": "benchmark", "model": model,
                     "seed": seed, "data_seed": 2022, "base_dataset": "benchmark",
                     "status": "ok", "architecture": "cnn6", "hyperparameters": "{}"}
                )  # fmt: skip
        write_bundle(bundle, pd.DataFrame(rows), {"benchmark": dataset}, {"benchmark": test})
        predictions = sum(p.stat().st_size for p in bundle.rglob(formats.PREDICTIONS_FILE))
        others = size(bundle / "runs") - predictions
        manifest = (bundle / "bundle.json").stat().st_size
        total = size(bundle)
        print(
            f"# bundle of the paper's benchmark experiment: {len(rows)} runs x {n} test spectra "
            f"({n_classes} classes), accuracy {args.accuracy}"
        )
        print(
            f"predictions.parquet  {predictions / 1e6:6.2f} MB ({predictions / len(rows) / 1e3:.0f} kB per run)"
        )
        print(f"other run files      {others / 1e6:6.2f} MB (metrics, training record, history)")
        print(f"bundle.json          {manifest / 1e6:6.2f} MB (runs, fingerprint, checksums)")
        print(f"total                {total / 1e6:6.2f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
