"""Benchmark (fidelity): how often the clipped cross-entropy of Keras on JAX drops a spectrum's gradient.

Keras 3 computes the cross-entropy of a softmax output differently per backend. TensorFlow takes it
from the logits behind the softmax; JAX and PyTorch take it from the probabilities clipped to
[eps, 1 - eps] (eps = ``keras.config.epsilon()``, 1e-7). Where a training spectrum's probability
of its true class, p, falls below eps in the forward pass of a training step, the clipped loss
gives that spectrum no gradient at all (the logit loss would pull it towards its class with a
gradient of size about 1); above 1 - eps both gradients are below 2 eps. docs/fidelity.md
("How the code compares with the authors'") shows the two on one spectrum. The published-scale
GPU runs shipped in reference-results/gpu-h200-challenge trained on JAX with the clipped loss;
what this measured is why train_model takes the loss from the logits on every backend since.

Per model, seed and loss (each in a fresh process): the model of the config entry trained with
``specbench.training.train.fit`` (the function train_model calls: same data order, callbacks,
early stopping, best weights) on the given splits, with the loss taken from the logits as
train_model takes it now (``logits``, :func:`specbench.training.objective.logits_training`) or
with Keras' own loss of the softmax output (``probabilities``: train_model's until 2026-12-05,
clipped on JAX and PyTorch), and three extra Keras metrics computed on the very forward passes the
gradients come from (training mode, dropout on; validation: inference mode):

* ``below_eps``: the fraction of the epoch's spectra with p < eps (gradient dropped);
* ``above_1_eps``: the fraction with p > 1 - eps (gradient below 2 eps either way);
* ``lowest_p``: the lowest p of the epoch.

Metrics change nothing of the training (they read the forward pass; EarlyStopping and the history
read only the protocol's own keys). Printed while a model trains: one line per epoch. Then, per
model: epochs run, spectrum-epochs with p < eps (training, validation), the lowest p seen, the test
split's wrong count. ``--csv`` writes every epoch's row.

Run (the challenge set at the published scale, rendered by the workflow; on 2 CPU cores 6-20 min
a training of cnn2, cnn_bn or vgg, 1-1.5 h of cnn6; seconds on a GPU):

    snakemake --cores all --configfile config/paper.yaml --directory /tmp/clip \\
        results/datasets/challenge/{train,val,test}.parquet
    PYTHONPATH=src python benchmarks/loss_clip.py --splits /tmp/clip/results/datasets/challenge \\
        --models cnn2 cnn_bn --seeds 0 1 2 --losses probabilities logits --csv /tmp/clip/epochs.csv
"""

from __future__ import annotations

import argparse
import contextlib
import itertools
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

from specbench.training import backend as sb_backend

EPS_NAME = "below_eps"
ROOT = Path(__file__).resolve().parents[1]


def model_spec(config_path: Path, dataset: str, model: str) -> dict:
    """{'architecture', 'hyperparameters', 'training'} of `model` trained on `dataset` in the config."""
    from specbench.workflow.config import resolve_model

    config = yaml.safe_load(config_path.read_text())
    for experiment in config.get("experiments", {}).values():
        if experiment.get("dataset") == dataset and model in experiment.get("models", {}):
            return resolve_model(config, experiment, model)
    raise ValueError(f"{config_path}: no experiment trains model {model!r} on dataset {dataset!r}")


def clip_metrics(keras, logits: bool = False) -> list:
    """The three metrics of the module docstring (p = the true class's softmax probability,
    normalised as the loss normalises it; `logits`: the model outputs the softmax's input)."""
    ops = keras.ops
    eps = keras.config.epsilon()

    def true_probability(y_true, y_pred):
        if logits:
            y_pred = ops.softmax(y_pred, axis=-1)
        y_pred = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
        labels = ops.reshape(ops.cast(y_true, "int32"), (-1, 1))
        return ops.take_along_axis(y_pred, labels, axis=-1)[:, 0]

    def below_eps(y_true, y_pred):
        return ops.cast(true_probability(y_true, y_pred) < eps, "float32")

    def above_1_eps(y_true, y_pred):
        return ops.cast(true_probability(y_true, y_pred) > 1.0 - eps, "float32")

    class LowestProbability(keras.metrics.Metric):
        def __init__(self, name="lowest_p", **kwargs):
            super().__init__(name=name, **kwargs)
            self.lowest = self.add_variable(shape=(), initializer="ones", name="lowest")

        def update_state(self, y_true, y_pred, sample_weight=None):
            low = ops.min(true_probability(y_true, y_pred))
            self.lowest.assign(ops.minimum(self.lowest.value, ops.cast(low, self.lowest.dtype)))

        def result(self):
            return ops.convert_to_tensor(self.lowest)

        def reset_state(self):
            self.lowest.assign(1.0)

    return [
        keras.metrics.MeanMetricWrapper(below_eps, name=EPS_NAME),
        keras.metrics.MeanMetricWrapper(above_1_eps, name="above_1_eps"),
        LowestProbability(),
    ]


def child(args) -> None:
    """Train one model in this (fresh) process; prints one JSON line."""
    import numpy as np

    spec = model_spec(Path(args.config), args.dataset, args.models[0])
    from specbench.training.objective import compile_model, logits_training, softmax_layer
    from specbench.training.train import fit, protocol

    training = protocol(spec["training"])
    training["backend"] = args.backend
    if args.epochs:
        training["epochs"] = args.epochs
    keras = sb_backend.configure(args.backend, training["precision"], args.threads, True)
    from specbench.data.preprocess import load_split
    from specbench.models import registry

    splits = Path(args.splits)
    train, val = load_split(splits / "train.parquet"), load_split(splits / "val.parquet")
    x_test, y_test = load_split(splits / "test.parquet")
    n_classes = int(max(train[1].max(), val[1].max())) + 1
    n_points = int(train[0].shape[1])
    hyperparameters = registry.check(spec["architecture"], spec["hyperparameters"])
    hyperparameters = registry.scale_kernels(
        spec["architecture"], hyperparameters, n_points, training["architecture_scale"]
    )
    keras.utils.set_random_seed(args.seed)
    model = registry.construct(spec["architecture"], n_points, n_classes, hyperparameters)
    logits = args.loss == "logits"
    if logits and softmax_layer(model) is None:
        raise ValueError(f"{args.models[0]}: its output is not a softmax layer's activation")
    # logits: as train_model trains (the loss of the logits, as TensorFlow computes it);
    # probabilities: Keras' own loss of the softmax output (train_model's before 2026-12-05)
    context = logits_training(model) if logits else contextlib.nullcontext(False)
    stack = contextlib.ExitStack()  # left once trained: the softmax back for the test split
    from_logits = stack.enter_context(context)
    metrics = clip_metrics(keras, logits=from_logits)
    compile_model(model, training["learning_rate"], metrics, from_logits=from_logits)

    rows: list[dict] = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            rows.append({"epoch": epoch + 1, **{k: float(v) for k, v in (logs or {}).items()}})
            row = rows[-1]  # progress: the parent shows these lines as they come
            print(
                f"EPOCH {row['epoch']}: loss {row.get('loss', float('nan')):.4g}, "
                f"val_accuracy {row.get('val_accuracy', float('nan')):.4f}, "
                f"p<eps {row.get(EPS_NAME, float('nan')):.2%} of the training spectra, "
                f"lowest p {row.get('lowest_p', float('nan')):.3g}",
                flush=True,
            )

    started = time.perf_counter()
    with stack:
        result = fit(
            model,
            train,
            val,
            training=training,
            seed=args.seed,
            name=args.models[0],
            extra_callbacks=[Record()],
        )
    predicted = np.argmax(model.predict(x_test, batch_size=256, verbose=0), axis=1)
    out = {
        "model": args.models[0],
        "architecture": spec["architecture"],
        "seed": args.seed,
        "backend": keras.backend.backend(),
        "loss": args.loss,
        "device": sb_backend.runtime()["device"]["name"],
        "epochs_run": result.epochs_run,
        "best_epoch": result.best_epoch,
        "n_train": int(len(train[0])),
        "n_val": int(len(val[0])),
        "test_wrong": int((predicted != y_test).sum()),
        "n_test": int(len(y_test)),
        "wall_s": time.perf_counter() - started,
        "epochs": rows,
    }
    print("RESULT " + json.dumps(out), flush=True)


def summary(result: dict) -> dict:
    """Totals over the epochs of one model's run."""
    rows = result["epochs"]
    return {
        "model": result["model"],
        "seed": result["seed"],
        "loss": result["loss"],
        "epochs": result["epochs_run"],
        "best": result["best_epoch"],
        "train p<eps": round(sum(r[EPS_NAME] for r in rows) * result["n_train"]),
        "val p<eps": round(sum(r["val_" + EPS_NAME] for r in rows) * result["n_val"]),
        "train p>1-eps": round(sum(r["above_1_eps"] for r in rows) * result["n_train"]),
        "lowest p train": min(r["lowest_p"] for r in rows),
        "lowest p val": min(r["val_lowest_p"] for r in rows),
        "test wrong": f"{result['test_wrong']}/{result['n_test']}",
        "minutes": round(result["wall_s"] / 60, 1),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--splits", required=True, help="folder with train/val/test.parquet")
    parser.add_argument("--config", default=str(ROOT / "config" / "paper.yaml"))
    parser.add_argument("--dataset", default="challenge", help="the dataset of the splits")
    parser.add_argument("--models", nargs="+", default=["cnn2"], help="model names of the config")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="training seeds")
    parser.add_argument("--backend", default="jax", choices=sb_backend.BACKENDS)
    parser.add_argument(
        "--losses",
        nargs="+",
        default=["probabilities"],
        choices=["probabilities", "logits"],
        help="probabilities: the project's compile (Keras' loss of the softmax output; clipped on "
        "JAX and PyTorch); logits: the same model trained on the loss of its logits (the output "
        "layer's softmax taken off), as TensorFlow computes it",
    )
    parser.add_argument("--epochs", type=int, help="cap the protocol's epochs (default: as is)")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--csv", help="write every epoch's row of every model to this CSV")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)  # the child's
    parser.add_argument("--loss", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0

    import pandas as pd

    results, failed = [], []
    # every model's seeds in turn, each seed with every loss (pairs finish together)
    for model, seed, loss in itertools.product(args.models, args.seeds, args.losses):
        what = f"{model} seed {seed}, {args.backend}, loss from the {loss}"
        print(f"training {what} ...", flush=True)
        cmd = [sys.executable, __file__, "--child", "--models", model, "--splits", args.splits]
        cmd += ["--config", args.config, "--dataset", args.dataset, "--seed", str(seed)]
        cmd += ["--backend", args.backend, "--threads", str(args.threads), "--loss", loss]
        cmd += ["--epochs", str(args.epochs)] if args.epochs else []
        lines, other = [], []
        with subprocess.Popen(
            cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as proc:
            for line in proc.stdout:  # stderr merged in: no pipe is left to fill up
                if line.startswith("RESULT "):
                    lines.append(line)
                elif line.startswith("EPOCH "):
                    print(
                        f"  {model} seed {seed}, {loss}, epoch {line[len('EPOCH '):]}",
                        end="",
                        flush=True,
                    )
                else:
                    other.append(line)
        if proc.returncode or not lines:
            failed.append(what)
            print(f"{what}: failed (rc {proc.returncode})\n{''.join(other)[-3000:]}", flush=True)
            continue
        result = json.loads(lines[-1][len("RESULT ") :])
        results.append(result)
        print(pd.DataFrame([summary(result)]).to_string(index=False), flush=True)
        if args.csv:  # after every model: a cut-off run keeps what finished
            rows = [
                {"model": r["model"], "seed": r["seed"], "loss_from": r["loss"], **e}
                for r in results
                for e in r["epochs"]
            ]
            pd.DataFrame(rows).to_csv(args.csv, index=False, float_format="%.6g")
    if results:
        print(
            f"\n{results[0]['backend']} on {results[0]['device']}; eps = 1e-7; counts are "
            "spectrum-epochs (one spectrum in one epoch)"
        )
        print(pd.DataFrame([summary(r) for r in results]).to_string(index=False))
        print(f"per-epoch rows: {args.csv}" if args.csv else "", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
