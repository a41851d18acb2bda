"""Size a time-boxed GPU measurement from a throughput measurement made at its start.

Reads the JSON of ``benchmarks/train_throughput.py --json`` (samples/s of the project training
path per architecture, at the benchmark's scale) and a config, estimates every candidate training
job's GPU seconds (expected epochs x spectra per epoch / samples per second; expected epochs =
the published mean best epoch + the early-stopping patience, else ``--default-epochs``), and takes
candidates in the given priority order while the summed estimate fits ``--budget`` seconds of GPU
time. Prints one line per work directory: the models to select (`select`'s model list).

Usage (tools/gpu-measure.sh):
  python tools/gpu_plan.py throughput.json --config config/paper.yaml --budget 300 \
      --group bench:benchmark:0:vgg,cnn2,cnn3,cnn_bn,inc3,inc6,cnn6,resnet \
      --group chal:activation:0-4:cnn6,cnn6_linear,inc6,inc6_relu,inc3,inc3_relu
A group is NAME:EXPERIMENTS:SEEDS:MODELS (experiments joined by "+", seeds "0-4" or "0"; a model
is looked up in the first of its experiments that has it); groups are interleaved by priority:
the first model of every group, then the second, ...
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from specbench.tables.reference import load_reference  # noqa: E402

PATIENCE_DEFAULT = 25


def expected_epochs(reference, experiment: str, model: str, patience: int, default: int) -> int:
    hit = reference[(reference["experiment"] == experiment) & (reference["model"] == model)]
    if len(hit) and hit.iloc[0]["best_epoch_mean"] == hit.iloc[0]["best_epoch_mean"]:
        return int(round(hit.iloc[0]["best_epoch_mean"])) + patience
    return default


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("throughput")
    parser.add_argument("--config", required=True)
    parser.add_argument("--budget", type=float, required=True, help="GPU seconds available")
    parser.add_argument("--group", action="append", required=True)
    parser.add_argument("--default-epochs", type=int, default=60)
    parser.add_argument("--startup-s", type=float, default=15.0, help="per job (import, compile)")
    parser.add_argument("--slots", type=int, default=6, help="jobs side by side on the GPU")
    parser.add_argument(
        "--epoch-spectra",
        nargs="*",
        default=[],
        help="NAME=N spectra per epoch (training + validation) of a group, e.g. chal=1620",
    )
    args = parser.parse_args(argv)
    path = Path(args.throughput)
    rows = json.loads(path.read_text())["rows"] if path.exists() else []
    sps = {row["arch"]: row["project"] for row in rows}
    if not sps:  # the throughput step measured nothing in its time: take all, in priority order
        print("# no throughput measured: every candidate is taken", file=sys.stderr)
    cfg = yaml.safe_load(Path(args.config).read_text())
    reference = load_reference(sorted(Path("config/reference").glob("paper_*.csv")))
    patience = cfg.get("training", {}).get("early_stopping", {}).get("patience", PATIENCE_DEFAULT)
    sizes = dict(item.split("=") for item in args.epoch_spectra)

    groups = []
    for text in args.group:
        name, experiment, seeds, models = text.split(":")
        lo, _, hi = seeds.partition("-")
        seed_list = list(range(int(lo), int(hi or lo) + 1))
        groups.append((name, experiment, seed_list, models.split(",")))
    order = []
    for rank in range(max(len(g[3]) for g in groups)):
        for name, experiment, seeds, models in groups:
            if rank < len(models):
                order.append((name, experiment, seeds, models[rank]))

    used, chosen = 0.0, {g[0]: [] for g in groups}
    for name, experiments, seeds, model in order:
        experiment = next(
            e for e in experiments.split("+") if model in cfg["experiments"][e]["models"]
        )
        arch = cfg["experiments"][experiment]["models"][model]["architecture"]
        if not sps:
            chosen[name].append(model)
            continue
        if arch not in sps:
            print(f"# {name}/{model}: no throughput for {arch}; skipped", file=sys.stderr)
            continue
        per_epoch = float(sizes[name])
        epochs = expected_epochs(reference, experiment, model, patience, args.default_epochs)
        cost = len(seeds) * (epochs * per_epoch / sps[arch] + args.startup_s / args.slots)
        fits = used + cost <= args.budget
        print(
            f"# {name}/{model} ({arch}): ~{epochs} epochs x {per_epoch:.0f} spectra at "
            f"{sps[arch]:.0f}/s x {len(seeds)} seed(s) = {cost:.0f} GPU s "
            f"({'take' if fits else 'skip'}; {used:.0f} of {args.budget:.0f} s used before)",
            file=sys.stderr,
        )
        if fits:
            used += cost
            chosen[name].append(model)
    for name, models in chosen.items():
        print(f"{name} {','.join(models)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
