"""Benchmark: training throughput of the project's training path against a bare ``model.fit``.

For each architecture and precision (float32, mixed_bfloat16), in the same run:

* project path: the splits are written to Parquet with ``specbench.data.splits.write_split`` in a
  temporary directory, read back with ``specbench.data.preprocess.load_split`` and trained with
  ``specbench.training.train.fit``, the function ``train_model`` uses (one multi-epoch ``fit`` fed by
  ``EpochFeeder``, with its callbacks: per-epoch permutation, progress log, EarlyStopping/
  ReduceLROnPlateau/best-weights bookkeeping, and the resume backups in a temporary ``backup_dir`` with train_model's default
  spacing: the warm-up epoch writes one, later ones only when due, i.e. when backups stay under
  ~2 % of the training time);
* bare path: the same architecture (same seed) trained with one multi-epoch
  ``model.fit(x, y, shuffle=True, validation_data=...)`` on the in-memory float32 arrays the
  Parquet files were written from (max-normalised the same way).

Both paths run ``--warmup`` epoch(s) first (tracing/compilation, untimed), then ``--epochs`` timed
epochs; an epoch's time includes its validation pass over ``--val-samples`` spectra in both paths
(project: the wall time of the whole epoch including bookkeeping and backups,
FitResult.epoch_wall_s; bare: between Keras' epoch-end callbacks). Every measurement runs in a fresh
process (inc6 has 187M parameters; models must not pile up in one process), project and bare
alternately, --repeat times. On this shared 2-core VM single epochs come out bimodal (the same epoch
takes 2.5 s or 5 s depending on whether another process holds a core), so a path's throughput is
taken from its fastest timed epoch over all repeats: samples/s = samples / min epoch wall time.
Printed per row: both samples/s and their ratio (project / bare; required >= 0.95: data feeding and
bookkeeping are never the bottleneck), the same ratio on process CPU time (bare / project CPU
seconds of the fastest-CPU epoch, all threads), the peak memory, and the achieved GFLOP/s =
samples/s * 2 * MACs * 3 / 1e9, where MACs = multiply-accumulates of one forward pass of one
spectrum (``specbench.evaluation.evaluate.count_macs``: convolutions and dense layers), 2 FLOPs per MAC, and
3 = forward + backward (gradients with respect to activations and to weights, each about one
forward). Validation forward passes are not counted, so GFLOP/s slightly understates the work.

Paper scale is 5000 points, 500 classes (the defaults) and 25,000 training spectra per epoch; on a
small CPU machine run it with a few hundred spectra (defaults: 256 training and 32 validation
spectra, 1 warm-up and 4 timed epochs), which measures steady-state throughput per sample, not a
full paper-scale epoch (whose fixed per-epoch costs are relatively smaller still).

On a GPU (``--backend jax`` or ``torch``) each row also gives the achieved TFLOP/s as a fraction
of the chip's dense bfloat16 peak, measured in the same run (``--peak``: the best of a few large
bfloat16 matrix products, 8192 x 8192 x 8192, on the same device; ~790 TFLOP/s on an H100/H200),
and ``--concurrent 1 2 4 8`` measures the packing of the gpu profile: N copies of the project path
of the first architecture trained side by side on the one device, their summed samples/s (from
each copy's median timed epoch) against one copy's.

Run:  PYTHONPATH=src python benchmarks/train_throughput.py [--points 5000] [--classes 500]
      [--samples 256] [--epochs 4] [--repeat 1] [--architectures cnn2 vgg ...]
      [--precision float32 mixed_bfloat16] [--backend tensorflow|jax|torch] [--peak]
      [--concurrent 1 2 4] [--json results.json]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from specbench.training import backend as sb_backend  # noqa: E402
from specbench.core import schema  # noqa: E402
from specbench.data.splits import write_split  # noqa: E402
from specbench.models import names  # noqa: E402
from specbench.data.preprocess import normalise  # noqa: E402

PROTOCOL = schema.defaults("training")  # the paper's protocol: learning rate, batch size, backend


def synthetic_split(path: Path, n: int, points: int, classes: int, seed: int):
    """n random spectra (three Gaussian peaks each, random labels) written to `path`."""
    rng = np.random.default_rng(seed)
    t = np.arange(points, dtype=np.float32)
    pos = rng.uniform(0.05, 0.95, (n, 3)) * points
    height = rng.uniform(0.1, 1.0, (n, 3)).astype(np.float32)
    sigma = rng.uniform(2, 5, n).astype(np.float32)
    x = np.zeros((n, points), dtype=np.float32)
    for k in range(3):
        x += height[:, k, None] * np.exp(-0.5 * ((t - pos[:, k, None]) / sigma[:, None]) ** 2)
    y = rng.integers(0, classes, n).astype(np.int32)
    write_split(
        path,
        spectra=x,
        labels=y,
        peak_positions=list(pos.astype(np.int32)),
        peak_heights=list(height),
        sigma=sigma,
        variant=["random"] * n,
    )
    return x, y


def epoch_clock(keras):
    """A Keras callback recording the wall and process CPU time of each epoch of one fit call
    (validation included): .epochs is an array [epoch, (wall s, cpu s)]."""

    class EpochClock(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.times = [(time.perf_counter(), time.process_time())]

        def on_epoch_end(self, epoch, logs=None):
            self.times.append((time.perf_counter(), time.process_time()))

        @property
        def epochs(self):
            return np.diff(np.array(self.times), axis=0)  # [epoch, (wall, cpu)]

    return EpochClock()


def release(keras) -> None:
    keras.backend.clear_session()
    gc.collect()


def max_rss_gb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def bare_fit(keras, arch, args, train, val):
    """[timed epoch, (wall s, cpu s)] of a plain multi-epoch model.fit on in-memory arrays."""
    from specbench.models import build
    from specbench.training.train import compile_model

    keras.utils.set_random_seed(0)
    model = build(arch, args.points, args.classes)
    compile_model(model, PROTOCOL["learning_rate"])
    clock = epoch_clock(keras)
    model.fit(
        *train,
        epochs=args.warmup + args.epochs,
        batch_size=args.batch_size,
        validation_data=val,
        shuffle=True,
        callbacks=[clock],
        verbose=0,
    )
    times = clock.epochs[args.warmup :]  # [timed epoch, (wall s, cpu s)]
    release(keras)
    return times


def project_fit(keras, arch, args, train_path, val_path, backup_dir):
    """([timed epoch, (wall s, cpu s)], parameters, MACs) of specbench.training.train.fit fed from the
    Parquet files.

    Per-epoch wall times (FitResult.epoch_wall_s) include the per-epoch permutation, the
    EarlyStopping/ReduceLROnPlateau bookkeeping and the resume backups (the default spacing of
    train_model: the first epoch writes one, later ones when due).
    """
    from specbench.models import build
    from specbench.models.macs import count_macs
    from specbench.data.preprocess import load_split
    from specbench.training.train import compile_and_fit

    x, y = load_split(train_path)
    xv, yv = load_split(val_path)
    keras.utils.set_random_seed(0)
    model = build(arch, args.points, args.classes)  # the same model as the bare path
    training = {
        "epochs": args.warmup + args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": PROTOCOL["learning_rate"],
        "backend": keras.backend.backend(),
        "precision": keras.config.dtype_policy().name,
        "early_stopping": {"patience": 10**6},
    }
    result = compile_and_fit(  # as train_model: on the loss of the logits
        model,
        (x, y),
        (xv, yv),
        training=training,
        seed=0,
        backup_dir=backup_dir,
        fingerprint=f"bench-{arch}",
    )
    w = args.warmup
    times = np.array([result.epoch_wall_s[w:], result.epoch_cpu_s[w:]]).T
    params, macs = model.count_params(), count_macs(model)
    release(keras)
    return times, params, macs


def matmul_peak(backend: str, n: int = 8192, repeats: int = 10) -> float:
    """Dense bfloat16 TFLOP/s of an n x n x n matrix product on the backend's device (best of
    `repeats` timed products after a warm-up), the denominator of the peak fraction."""
    if backend == "jax":
        import jax
        import jax.numpy as jnp

        a = jnp.ones((n, n), jnp.bfloat16)
        f = jax.jit(lambda x, y: x @ y)
        f(a, a).block_until_ready()

        def once() -> None:
            f(a, a).block_until_ready()

    elif backend == "torch":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
        a = torch.rand((n, n), dtype=torch.bfloat16, device=device)
        a @ a

        def once() -> None:
            a @ a
            if device == "cuda":
                torch.cuda.synchronize()

    else:
        import tensorflow as tf

        a = tf.ones((n, n), tf.bfloat16)
        tf.linalg.matmul(a, a).numpy()

        def once() -> None:
            tf.linalg.matmul(a, a).numpy()

    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        once()
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e12


def child(args) -> None:
    """One measurement in this (fresh) process; prints one JSON line."""
    keras = sb_backend.configure(args.backend, args.precision[0], args.threads, True)
    device = sb_backend.runtime()["device"]
    if args.child == "peak":
        n = 8192 if device["kind"] == "gpu" else 1024
        out = {"peak_tflops": matmul_peak(args.backend, n), "device": device["name"]}
        print("RESULT " + json.dumps(out), flush=True)
        return
    data = Path(args.data)
    arch = args.architectures[0]
    if args.child == "project":
        backup = Path(args.backup_dir) if args.backup_dir else data / "backup"
        times, params, macs = project_fit(
            keras, arch, args, data / "train.parquet", data / "val.parquet", backup
        )
        out = {"params": int(params), "macs": int(macs)}
    else:
        train = (np.load(data / "x.npy"), np.load(data / "y.npy"))
        val = (np.load(data / "xv.npy"), np.load(data / "yv.npy"))
        times, out = bare_fit(keras, arch, args, train, val), {}
    out.update(epochs=np.asarray(times).tolist(), max_rss_gb=max_rss_gb())
    out.update(device=device["name"], device_kind=device["kind"])
    out["resolved_precision"] = sb_backend.runtime()["precision"]
    print("RESULT " + json.dumps(out), flush=True)


def _command(kind: str, arch: str, precision: str, data: Path, argv: list[str]):
    cmd = [sys.executable, __file__, *argv, "--child", kind, "--data", str(data)]
    cmd += ["--architectures", arch, "--precision", precision]
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, [src, os.environ.get("PYTHONPATH")]))
    )
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    # several processes on one GPU: JAX must not preallocate 75 % of it in each
    env.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")
    return cmd, env


def _result(proc_stdout: str, proc_stderr: str, what: str) -> dict:
    for line in proc_stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT ") :])
    raise RuntimeError(f"{what} failed:\n{proc_stdout[-3000:]}{proc_stderr[-3000:]}")


def measure(kind: str, arch: str, precision: str, data: Path, argv: list[str]) -> dict:
    """Run one measurement in a fresh process (clean memory, dtype policy and TF state)."""
    cmd, env = _command(kind, arch, precision, data, argv)
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return _result(proc.stdout, proc.stderr, f"{kind} {arch} {precision}")


def measure_concurrent(n: int, arch: str, precision: str, data: Path, argv: list[str]) -> dict:
    """n project-path processes side by side; their summed samples/s (median timed epochs)."""
    cmd, env = _command("project", arch, precision, data, argv)
    procs = []
    for copy in range(n):  # each copy writes its resume backups into its own folder
        backup = data / f"backup-{n}-{copy}"
        procs.append(
            subprocess.Popen(
                [*cmd, "--backup-dir", str(backup)],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env=env,
            )
        )
    results = []
    for proc in procs:
        out, err = proc.communicate()
        results.append(_result(out, err, f"concurrent project {arch} x{n}"))
    per_copy = [float(np.median(np.asarray(r["epochs"])[:, 0])) for r in results]
    return {"n": n, "epoch_s": per_copy}


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--points", type=int, default=5000)
    parser.add_argument("--classes", type=int, default=500)
    parser.add_argument("--samples", type=int, default=256, help="training spectra")
    parser.add_argument("--val-samples", type=int, default=32)
    parser.add_argument("--epochs", type=int, default=4, help="timed epochs")
    parser.add_argument("--warmup", type=int, default=1, help="untimed epochs first")
    parser.add_argument("--batch-size", type=int, default=PROTOCOL["batch_size"])
    parser.add_argument("--architectures", nargs="+", default=names(), choices=names())
    parser.add_argument(
        "--precision",
        nargs="+",
        default=["float32", "mixed_bfloat16"],
        choices=sb_backend.PRECISIONS,
    )
    parser.add_argument("--backend", default=PROTOCOL["backend"], choices=sb_backend.BACKENDS)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument(
        "--peak", action="store_true", help="measure the dense bf16 matmul peak of the device"
    )
    parser.add_argument(
        "--concurrent",
        type=int,
        nargs="*",
        default=[],
        help="also train N copies of the first architecture side by side (gpu profile packing)",
    )
    parser.add_argument(
        "--only-concurrent",
        action="store_true",
        help="skip the project/bare comparison (with --concurrent: packing only)",
    )
    parser.add_argument("--json", help="write the rows (and peak, packing) to this JSON file")
    parser.add_argument("--child", choices=["project", "bare", "peak"], help=argparse.SUPPRESS)
    parser.add_argument("--data", help=argparse.SUPPRESS)
    parser.add_argument("--backup-dir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args)
        return 0
    common = [
        a for a in argv if a not in ("--peak", "--only-concurrent")
    ]  # forwarded to the children, whose own
    # --architectures/--precision come last
    for flag in ("--concurrent", "--json"):  # options of the parent only
        if flag in common:
            i = common.index(flag)
            j = i + 1
            while j < len(common) and not common[j].startswith("--"):
                j += 1
            common = common[:i] + common[j:]

    print(
        f"# train throughput: {args.points} points, {args.classes} classes, {args.samples} "
        f"training + {args.val_samples} validation spectra, batch {args.batch_size}, "
        f"{args.warmup} warm-up + {args.epochs} timed epoch(s), backend {args.backend}, "
        f"{args.threads} thread(s), {args.repeat} repeat(s); fastest timed epoch of each path, "
        "each measurement in a fresh process"
    )
    print(f"# load average at start: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    rows = []
    n = args.samples  # per epoch
    peak = None
    if args.peak:
        got = measure("peak", args.architectures[0], args.precision[0], Path("."), common)
        peak = got["peak_tflops"]
        print(f"# dense bf16 matmul peak of {got['device']}: {peak:.0f} TFLOP/s", flush=True)
    packing = []
    with tempfile.TemporaryDirectory(prefix="specbench-bench-") as tmp:
        tmp = Path(tmp)
        x, y = synthetic_split(tmp / "train.parquet", args.samples, args.points, args.classes, 1)
        xv, yv = synthetic_split(
            tmp / "val.parquet", args.val_samples, args.points, args.classes, 2
        )
        # the bare path's in-memory arrays: the same data, max-normalised the same way
        for name, array in (("x", normalise(x)), ("y", y), ("xv", normalise(xv)), ("yv", yv)):
            np.save(tmp / f"{name}.npy", array)
        for precision in [] if args.only_concurrent else args.precision:
            for arch in args.architectures:
                project, bare = [], []  # timed epochs' (wall s, cpu s) of all repeats
                rss = 0.0
                for _ in range(args.repeat):  # alternating, so both see the same load
                    p = measure("project", arch, precision, tmp, common)
                    b = measure("bare", arch, precision, tmp, common)
                    project += p["epochs"]
                    bare += b["epochs"]
                    rss = max(rss, p["max_rss_gb"], b["max_rss_gb"])
                project = np.min(project, axis=0)  # the fastest epoch (wall, cpu)
                bare = np.min(bare, axis=0)
                row = {
                    "arch": arch,
                    "device": p["device"],
                    "precision": p["resolved_precision"],
                    "params": p["params"],
                    "macs": p["macs"],
                    "project": n / project[0],
                    "bare": n / bare[0],
                    "ratio": bare[0] / project[0],
                    "cpu_ratio": bare[1] / project[1],
                    "flop": 6 * p["macs"] / 1e9,
                }
                row["tflops"] = row["project"] * row["flop"] / 1e3
                row["peak_fraction"] = row["tflops"] / peak if peak else None
                rows.append(row)
                if args.json:  # after every row: a run cut short keeps what it measured
                    Path(args.json).write_text(
                        json.dumps({"peak_tflops": peak, "rows": rows, "packing": []}, indent=2)
                    )
                print(
                    f"{arch:8s} {row['precision']:15s} project {row['project']:8.1f}/s  "
                    f"bare {row['bare']:8.1f}/s  ratio {row['ratio']:5.3f}  "
                    f"(CPU time {row['cpu_ratio']:5.3f}), {row['tflops']:.2f} TFLOP/s, "
                    f"max RSS {rss:.1f} GB",
                    flush=True,
                )
        for k in args.concurrent:
            got = measure_concurrent(k, args.architectures[0], args.precision[0], tmp, common)
            total = sum(n / t for t in got["epoch_s"])
            packing.append({"n": k, "samples_per_s": total})
            base = packing[0]["samples_per_s"]
            print(
                f"# {k} x {args.architectures[0]} side by side: {total:.1f} samples/s in all "
                f"({total / base:.2f} x one copy's {base:.1f}/s)",
                flush=True,
            )
    print(f"# load average at end: {' '.join(f'{v:.2f}' for v in os.getloadavg())}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {"args": vars(args), "peak_tflops": peak, "rows": rows, "packing": packing},
                indent=2,
            )
        )

    header = (
        "| architecture | precision | MACs/spectrum | project samples/s "
        "| bare fit samples/s | ratio | project TFLOP/s | of peak |"
    )
    print()
    if rows:
        print(f"device: {rows[0]['device']}, backend {args.backend}")
    print(header)
    print("|---" * 8 + "|")
    for r in rows:
        frac = f"{100 * r['peak_fraction']:.1f} %" if r["peak_fraction"] else "n/a"
        print(
            f"| {r['arch']} | {r['precision']} | {r['macs']:,} "
            f"| {r['project']:.1f} | {r['bare']:.1f} | {r['ratio']:.3f} "
            f"| {r['tflops']:.2f} | {frac} |"
        )
    if not rows:
        return 0
    worst = min(r["ratio"] for r in rows)
    worst_cpu = min(r["cpu_ratio"] for r in rows)
    status = "PASS" if worst >= 0.95 else "FAIL"
    print(
        f"\nlowest project/bare samples/s ratio: {worst:.3f} (required >= 0.95): {status}; "
        f"lowest CPU-time ratio (bare CPU s / project CPU s): {worst_cpu:.3f}"
    )
    return 0 if worst >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
