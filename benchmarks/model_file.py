"""Benchmark: the workflow's model file against Keras' full save, in the same run.

For each architecture (paper scale by default: 5000 points; 27 classes, the challenge set's),
a model is built, compiled as training compiles it (Adam) and fitted for one epoch on a few random
spectra (so that the optimizer holds its state), then saved twice: with
``specbench.training.train.save_trained`` (what rule train_model writes: architecture, weights and
compile settings) and with ``model.save`` (the baseline: also Adam's two moments per weight). Each file is then loaded as the evaluation loads it
(``keras.saving.load_model(compile=False)``) and its predictions are compared with the model's.
Printed per architecture: file sizes, save and load seconds of both, and their ratios (the
workflow's / the baseline's). Each architecture runs in the same process, one after the other
(fresh models; inc6 has 187 million parameters, a 2.2 GB full save).

Run:  PYTHONPATH=src python benchmarks/model_file.py [--architectures cnn2 inc6]
      [--points 5000] [--classes 27] [--backend jax|tensorflow|torch]
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))


def measure(keras, arch: str, points: int, classes: int, folder: Path) -> dict:
    from specbench.models import registry
    from specbench.training.train import compile_model, save_trained

    keras.utils.set_random_seed(0)
    model = registry.construct(arch, points, classes, registry.check(arch, {}))
    compile_model(model, 3e-4)
    rng = np.random.default_rng(0)
    x = rng.random((64, points), dtype=np.float32)
    model.fit(x, np.arange(64) % classes, epochs=1, batch_size=32, verbose=0)
    expected = model.predict(x, verbose=0)
    row = {"arch": arch, "parameters": model.count_params()}
    for name, save in (("workflow", lambda p: save_trained(model, p)), ("full", model.save)):
        path = folder / f"{arch}-{name}.keras"
        t = time.perf_counter()
        save(path)
        row[f"{name}_save_s"] = time.perf_counter() - t
        row[f"{name}_mb"] = path.stat().st_size / 1e6
        t = time.perf_counter()
        loaded = keras.saving.load_model(path, compile=False)
        row[f"{name}_load_s"] = time.perf_counter() - t
        row[f"{name}_same"] = bool(np.array_equal(loaded.predict(x, verbose=0), expected))
        del loaded
        path.unlink()
    del model
    keras.backend.clear_session()
    gc.collect()
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--architectures", nargs="+", default=["cnn2", "cnn6", "inc6"])
    parser.add_argument("--points", type=int, default=5000)
    parser.add_argument("--classes", type=int, default=27)
    parser.add_argument("--backend", default="jax", choices=["jax", "tensorflow", "torch"])
    args = parser.parse_args(argv)
    os.environ["KERAS_BACKEND"] = args.backend
    import keras

    print(
        f"# model file: {args.points} points, {args.classes} classes, backend {args.backend}; "
        "workflow = save_trained (no optimizer state), full = model.save (with Adam's state)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for arch in args.architectures:
            r = measure(keras, arch, args.points, args.classes, Path(tmp))
            same = "identical" if r["workflow_same"] and r["full_same"] else "DIFFER"
            print(
                f"{arch:<7} {r['parameters']:>11,} parameters: "
                f"{r['workflow_mb']:7.0f} MB vs {r['full_mb']:7.0f} MB "
                f"(ratio {r['workflow_mb'] / r['full_mb']:.2f}); "
                f"save {r['workflow_save_s']:5.2f} s vs {r['full_save_s']:5.2f} s "
                f"({r['workflow_save_s'] / r['full_save_s']:.2f}); "
                f"load {r['workflow_load_s']:5.2f} s vs {r['full_load_s']:5.2f} s "
                f"({r['workflow_load_s'] / r['full_load_s']:.2f}); predictions {same}",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
