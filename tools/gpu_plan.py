"""Size a time-boxed GPU measurement from a throughput measurement made at its start.

Reads the JSON of ``benchmarks/train_throughput.py --json`` (samples/s of the project training
path per architecture, at the benchmark's scale) and a config, estimates every candidate training
job's GPU seconds with :mod:`specbench.projection` (expected epochs = the published mean best
epoch + the model's early-stopping patience, else ``--default-epochs``, at most its ``epochs``;
seconds per epoch = (training + validation / 3 spectra) / samples per second; plus a start-up
per job shared by ``--slots`` jobs), and takes candidates in the given priority order while the
summed estimate fits ``--budget`` seconds of GPU time. Prints one line per work directory: the
models to select (`select`'s model list). (The benchmark's samples/s are training spectra over
an epoch's wall time, its short validation pass included: the estimate errs slightly high.)

Usage (tools/gpu-measure.sh):
  python tools/gpu_plan.py throughput.json --config config/paper.yaml --budget 300 \
      --epoch-spectra bench=25000+5000 chal=1350+270 \
      --group bench:benchmark:0:vgg,cnn2,cnn3,cnn_bn,inc3,inc6,cnn6,resnet \
      --group chal:activation:0-4:cnn6,cnn6_linear,inc6,inc6_relu,inc3,inc3_relu
A group is NAME:EXPERIMENTS:SEEDS:MODELS (experiments joined by "+", seeds "0-4" or "0"; a model
is looked up in the first of its experiments that has it); groups are interleaved by priority:
the first model of every group, then the second, ... ``--epoch-spectra`` gives each group's
training and validation spectra per epoch.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from specbench import projection, schema  # noqa: E402
from specbench.config import resolve_model  # noqa: E402
from specbench.tables.reference import load_reference  # noqa: E402

#: The published values with best epochs (those of rule aggregate_summary, rules/results.smk).
REFERENCE = [
    REPO / "config" / "reference" / f"paper_{name}.csv" for name in ("benchmark", "challenge")
]


def epoch_spectra(items: list[str]) -> dict[str, tuple[int, int]]:
    """{group: (training, validation) spectra per epoch} of NAME=TRAIN+VAL items."""
    sizes = {}
    for item in items:
        name, _, value = item.partition("=")
        train, plus, val = value.partition("+")
        if not plus:
            raise SystemExit(f"--epoch-spectra {item}: expected NAME=TRAIN+VAL, e.g. chal=1350+270")
        sizes[name] = (int(train), int(val))
    return sizes


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("throughput")
    parser.add_argument("--config", required=True)
    parser.add_argument("--budget", type=float, required=True, help="GPU seconds available")
    parser.add_argument("--group", action="append", required=True)
    parser.add_argument("--default-epochs", type=int, default=projection.DEFAULT_EPOCHS)
    parser.add_argument("--startup-s", type=float, default=15.0, help="per job (import, compile)")
    parser.add_argument("--slots", type=int, default=6, help="jobs side by side on the GPU")
    parser.add_argument(
        "--epoch-spectra",
        nargs="*",
        default=[],
        help="NAME=TRAIN+VAL training and validation spectra per epoch of a group, e.g. "
        "chal=1350+270",
    )
    args = parser.parse_args(argv)
    path = Path(args.throughput)
    rows = json.loads(path.read_text())["rows"] if path.exists() else []
    sps = {row["arch"]: row["project"] for row in rows}
    if not sps:  # the throughput step measured nothing in its time: take all, in priority order
        print("# no throughput measured: every candidate is taken", file=sys.stderr)
    cfg = yaml.safe_load(Path(args.config).read_text())
    reference = load_reference(REFERENCE)
    best_epochs = projection.published_best_epochs(reference)
    sizes = epoch_spectra(args.epoch_spectra)

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
        spec = resolve_model(cfg, cfg["experiments"][experiment], model)
        arch, training = spec["architecture"], schema.fill(spec["training"], "training")
        if not sps:
            chosen[name].append(model)
            continue
        if arch not in sps:
            print(f"# {name}/{model}: no throughput for {arch}; skipped", file=sys.stderr)
            continue
        n_train, n_val = sizes[name]
        epochs = projection.expected_epochs(
            best_epochs.get((experiment, model)),
            patience=training["early_stopping"]["patience"],
            max_epochs=training["epochs"],
            default=args.default_epochs,
        )
        epoch_s = projection.epoch_seconds(n_train, n_val, sps[arch])
        cost = projection.gpu_seconds(
            epochs=epochs,
            epoch_s=epoch_s,
            seeds=len(seeds),
            startup_s=args.startup_s,
            slots=args.slots,
        )
        fits = used + cost <= args.budget
        print(
            f"# {name}/{model} ({arch}): ~{epochs} epochs x {epoch_s:.2f} s "
            f"({n_train}+{n_val} spectra at {sps[arch]:.0f}/s) x {len(seeds)} seed(s) "
            f"= {cost:.0f} GPU s "
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
