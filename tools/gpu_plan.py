"""Size a time-boxed GPU measurement from a throughput measurement made at its start.

Reads the JSON of ``benchmarks/train_throughput.py --json`` (samples/s of the project training
path per architecture, at the benchmark's scale) and a config, estimates every candidate training
job's GPU seconds with :mod:`specbench.workflow.projection` (expected epochs = the published mean best
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
training and validation spectra per epoch. ``--cheapest-first`` orders each group's models by
their estimated cost instead; ``--skip-shipped FOLDER`` leaves out the runs an earlier session
shipped (a result bundle, reference-results/<set>/: so a second GPU session continues the
campaign), those of a dataset that this config defines as the bundle records it (another
dataset, e.g. the tiny rehearsal's, is trained), but for the models named by ``--retrain``; ``--targets`` prints each group's planned runs
as their metrics.json paths (Snakemake targets) instead of model names. Only the seeds an
experiment lists in the config are planned, on every dataset the workflow trains it on: an
experiment with `sweep: true` stands for its levels' experiments (<experiment>_<level>, each on
its level's dataset), one with `data_seeds` trains on each seed's dataset.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from collections.abc import Iterable
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from specbench.core import formats
from specbench.core.canonical import canonical_json
from specbench.results.bundles import read_bundle
from specbench.workflow import validation
from specbench.workflow import projection
from specbench.core import schema  # noqa: E402
from specbench.workflow.config import experiment_datasets, resolve_model  # noqa: E402
from specbench.results.tables.reference import load_reference  # noqa: E402

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


def shipped_runs(
    folders: list[str], datasets: dict, retrain: Iterable[str] = ()
) -> set[tuple[str, str, str, int]]:
    """(experiment, dataset, model, seed) of the runs of shipped result bundles (`folders`) whose
    dataset `datasets` (the config's definitions, defaults filled) defines as the bundle records
    it; a bundle's dataset defined otherwise here is named on stderr and its runs are not
    shipped ones of this plan, nor are the runs of the models in `retrain` (named on stderr)."""
    retrain = set(retrain)
    done = set()
    for folder in folders:
        bundle = read_bundle(folder, verify=False)
        same = set()
        for name, info in bundle.datasets.items():
            if name in datasets and canonical_json(info.get("definition")) == canonical_json(
                datasets[name]
            ):
                same.add(name)
            else:
                print(
                    f"# {bundle.name}: its dataset {name} is not this config's (absent or "
                    "defined otherwise): its runs are not skipped",
                    file=sys.stderr,
                )
        again = sorted({run["model"] for run in bundle.runs if run["model"] in retrain})
        if again:
            print(f"# {bundle.name}: {', '.join(again)} trained again (--retrain)", file=sys.stderr)
        for run in bundle.runs:
            if run["dataset"] in same and run["model"] not in retrain:
                done.add((run["experiment"], run["dataset"], run["model"], int(run["seed"])))
    return done


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
    parser.add_argument(
        "--cheapest-first",
        action="store_true",
        help="take each group's models in the order of their estimated cost, not as listed",
    )
    parser.add_argument(
        "--skip-shipped",
        action="append",
        default=[],
        metavar="FOLDER",
        help="a shipped result bundle (reference-results/<set>/): its runs (experiment, "
        "dataset, model, seed) are not planned again where this config defines the dataset as "
        "the bundle does (repeatable)",
    )
    parser.add_argument(
        "--retrain",
        nargs="*",
        default=[],
        metavar="MODEL",
        help="models whose shipped runs are planned again all the same (e.g. runs trained "
        "before a change of the protocol that changed their results)",
    )
    parser.add_argument(
        "--targets",
        action="store_true",
        help="print, per group, the metrics.json of every planned run (Snakemake targets) "
        "instead of the model names",
    )
    args = parser.parse_args(argv)
    path = Path(args.throughput)
    rows = json.loads(path.read_text())["rows"] if path.exists() else []
    sps = {row["arch"]: row["project"] for row in rows}
    if not sps:  # no throughput measured: take all, in priority order
        print("# no throughput measured: every candidate is taken", file=sys.stderr)
    cfg = yaml.safe_load(Path(args.config).read_text())
    prepared = copy.deepcopy(cfg)  # as rules/common.smk plans it: sweeps and data seeds expanded
    swept_experiments = validation.prepare_config(prepared, basedir=str(REPO))
    reference = load_reference(REFERENCE)
    best_epochs = projection.published_best_epochs(reference)
    sizes = epoch_spectra(args.epoch_spectra)
    done = shipped_runs(args.skip_shipped, prepared["datasets"], args.retrain)

    swept = {}  # a `sweep: true` experiment as the config names it -> its experiments per level
    for item in swept_experiments:
        swept.setdefault(item["base"], []).append(item["experiment"])

    def estimate(name, experiments, seeds, model):
        """(experiment, spec, remaining (dataset, seed)s, GPU seconds or None) of one candidate:
        the runs the workflow makes, every sweep level and data seed included."""
        experiment = next(
            e
            for e in experiments.split("+")
            if model in prepared["experiments"][swept.get(e, [e])[0]]["models"]
        )
        derived = swept.get(experiment, [experiment])
        spec = resolve_model(prepared, prepared["experiments"][derived[0]], model)
        left = []
        for exp_name in derived:
            exp = prepared["experiments"][exp_name]
            configured = {int(seed) for seed in exp["seeds"]}
            for dataset, _ in experiment_datasets(prepared, exp):
                left += [
                    (dataset, s)
                    for s in seeds
                    if s in configured and (exp_name, dataset, model, s) not in done
                ]
        arch, training = spec["architecture"], schema.fill(spec["training"], "training")
        if not sps or arch not in sps:
            return experiment, spec, left, None, ""
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
            seeds=len(left),
            startup_s=args.startup_s,
            slots=args.slots,
        )
        how = (
            f"~{epochs} epochs x {epoch_s:.2f} s ({n_train}+{n_val} spectra at "
            f"{sps[arch]:.0f}/s) x {len(left)} seed(s)"
        )
        return experiment, spec, left, cost, how

    groups = []
    for text in args.group:
        name, experiments, seeds, models = text.split(":")
        lo, _, hi = seeds.partition("-")
        seed_list = list(range(int(lo), int(hi or lo) + 1))
        items = [
            (model, estimate(name, experiments, seed_list, model)) for model in models.split(",")
        ]
        if args.cheapest_first:  # unknown costs last, in the order given
            items.sort(key=lambda item: (item[1][3] is None, item[1][3] or 0.0))
        groups.append((name, items))
    order = []
    for rank in range(max(len(items) for _, items in groups)):
        for name, items in groups:
            if rank < len(items):
                order.append((name, *items[rank]))

    used = 0.0
    chosen: dict[str, list] = {name: [] for name, _ in groups}
    for name, model, (experiment, spec, left, cost, how) in order:
        label = f"{name}/{model} ({spec['architecture']})"
        if not left:
            print(f"# {label}: every seed shipped already; skipped", file=sys.stderr)
            continue
        if sps and cost is None:
            if args.budget != float("inf"):  # an unbounded plan (inf) takes it all the same
                print(
                    f"# {label}: no throughput for {spec['architecture']}; skipped", file=sys.stderr
                )
                continue
            print(f"# {label}: no throughput for {spec['architecture']}; taken", file=sys.stderr)
        if cost is not None:
            fits = used + cost <= args.budget
            print(
                f"# {label}: {how} = {cost:.0f} GPU s "
                f"({'take' if fits else 'skip'}; {used:.0f} of {args.budget:.0f} s used before)",
                file=sys.stderr,
            )
            if not fits:
                continue
            used += cost
        chosen[name].append((model, left))
    for name, picked in chosen.items():
        if args.targets:
            paths = [
                f"{formats.run_dir(dataset, model, seed)}/{formats.METRICS_FILE}"
                for model, left in picked
                for dataset, seed in left
            ]
            print(f"{name} {' '.join(paths)}")
        else:
            print(f"{name} {','.join(model for model, _ in picked)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
