"""Memory of one training job per architecture, against the share a job gets under the gpu profile.

For each architecture, Keras' own training step (``model.train_step``: forward, loss, gradients,
Adam, metrics) is compiled by XLA (JAX backend) for one batch, and XLA's memory analysis of the
compiled step is read: the arguments (weights, Adam's two moments, metrics), the temporaries
(activations kept for the gradients, workspace) and the outputs not written in place of the
arguments. A job's device memory is then that step's peak plus the spectra the feeder keeps on
the device (specbench.training.feeding: the training spectra, the epoch's reordered copy, the
validation spectra). The baseline, read in the same run: the memory each of K jobs sharing one
GPU may take (0.9 of the GPU's memory / K, specbench.training.devices; K from
``gpu/config.yaml``'s ``jobs_per_gpu``), for each GPU memory given; printed is the job's peak as
a fraction of that share (under 1: K jobs fit) and the most jobs that fit.

XLA plans memory per device: on a CPU this is the CPU compiler's plan (an estimate for a GPU,
whose fusions and convolution workspaces differ); run it on the GPU for the GPU's own numbers.

Run:  PYTHONPATH=src python benchmarks/train_memory.py [--architectures cnn6 inc6]
      [--points 5000] [--classes 27] [--batch-size 128] [--train-spectra 1350 --val-spectra 270]
      [--gpu-memory-gb 80 141] [--precision float32|mixed_bfloat16] [--json out.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
GB = 1e9


def profile_k(path: Path = REPO / "gpu" / "config.yaml") -> int:
    """K, the jobs per GPU of the gpu profile (train_model's ``jobs_per_gpu``)."""
    import yaml

    return int(yaml.safe_load(path.read_text())["set-resources"]["train_model"]["jobs_per_gpu"])


def step_memory(keras, arch: str, points: int, classes: int, batch: int) -> dict:
    """XLA's memory analysis of `arch`'s compiled training step: bytes of arguments,
    temporaries, outputs and outputs aliased to (donated) arguments; and the parameters."""
    import jax

    from specbench.models import registry
    from specbench.training.train import compile_model

    model = registry.construct(arch, points, classes, registry.check(arch, {}))
    compile_model(model, 3e-4)
    x = np.zeros((batch, points), np.float32)
    y = np.zeros((batch,), np.int32)
    model._symbolic_build(data_batch=(x, y))  # optimizer and metric variables, as fit makes them
    state = tuple(
        [v.value for v in variables]
        for variables in (
            model.trainable_variables,
            model.non_trainable_variables,
            model.optimizer.variables,
            model.metrics_variables,
        )
    )
    # the training step as Keras' JAX trainer jits it (the state donated: updated in place)
    compiled = jax.jit(model.train_step, donate_argnums=0).lower(state, (x, y)).compile()
    m = compiled.memory_analysis()
    out = {
        "parameters": int(model.count_params()),
        "arguments": int(m.argument_size_in_bytes),
        "temporaries": int(m.temp_size_in_bytes),
        "outputs": int(m.output_size_in_bytes),
        "aliased": int(m.alias_size_in_bytes),
    }
    del model, state, compiled
    keras.backend.clear_session()
    gc.collect()
    return out


def main(argv=None) -> int:
    from specbench.models import registry

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--architectures", nargs="+", default=registry.names())
    parser.add_argument("--points", type=int, default=5000)
    parser.add_argument("--classes", type=int, default=27)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--train-spectra", type=int, default=1350, help="the challenge set's")
    parser.add_argument("--val-spectra", type=int, default=270)
    parser.add_argument("--gpu-memory-gb", type=float, nargs="+", default=[80.0, 141.0])
    parser.add_argument("--precision", default="float32", choices=["float32", "mixed_bfloat16"])
    parser.add_argument("--json", help="also write the measurements (bytes) to this file")
    args = parser.parse_args(argv)

    os.environ["KERAS_BACKEND"] = "jax"
    import jax
    import keras

    from specbench.training.devices import GPU_MEMORY_SHARE

    keras.config.set_dtype_policy(args.precision)
    k = profile_k()
    # the feeder's spectra on the device: training, its reordered copy, validation (float32)
    data = (2 * args.train_spectra + args.val_spectra) * args.points * 4
    gpus = args.gpu_memory_gb
    print(
        f"# training step memory (XLA, {jax.devices()[0].platform}, jax {jax.__version__}, "
        f"keras {keras.__version__}): {args.points} points, {args.classes} classes, batch "
        f"{args.batch_size}, {args.precision}; spectra on the device "
        f"{data / GB:.2f} GB ({args.train_spectra} + {args.val_spectra})"
    )
    print(
        f"# baseline: the share of one of K = {k} jobs (gpu/config.yaml) of a GPU: "
        + ", ".join(f"{g:g} GB -> {GPU_MEMORY_SHARE * g / k:.1f} GB" for g in gpus)
    )
    head = ["architecture", "parameters", "state GB", "temp GB", "job peak GB"]
    head += [f"of {g:g} GB share" for g in gpus] + [f"jobs on {g:g} GB" for g in gpus]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    rows = {}
    for arch in args.architectures:
        m = step_memory(keras, arch, args.points, args.classes, args.batch_size)
        peak = m["arguments"] + m["temporaries"] + m["outputs"] - m["aliased"] + data
        rows[arch] = {**m, "data": data, "job_peak": peak}
        shares = [peak / (GPU_MEMORY_SHARE * g * GB / k) for g in gpus]
        fits = [math.floor(GPU_MEMORY_SHARE * g * GB / peak) for g in gpus]
        row = [arch, f"{m['parameters']:,}", f"{m['arguments'] / GB:.2f}"]
        row += [f"{m['temporaries'] / GB:.2f}", f"{peak / GB:.2f}"]
        row += [f"{s:.2f}" for s in shares] + [str(f) for f in fits]
        print("| " + " | ".join(row) + " |", flush=True)
    if args.json:
        meta = {"device": jax.devices()[0].platform, "jax": jax.__version__, "k": k, **vars(args)}
        Path(args.json).write_text(json.dumps({"settings": meta, "bytes": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
