"""``specbench check-model``: a user builder checked by hand (specbench.models.user), with its
parameters, MACs, output shape and the time of one forward/backward batch on this machine.

Kept out of specbench.models.user, which the registry (so every training job) imports: this
module pulls in the training and MAC-counting code.
"""

from __future__ import annotations

from typing import Any

from specbench.models.user import CHECK_CLASSES, UserModelError, check_model

__all__ = ["describe", "parse_hp"]


def describe(
    architecture: str,
    n_points: int = 5000,
    n_classes: int = CHECK_CLASSES,
    hyperparameters: dict | None = None,
    batch_size: int = 32,
) -> dict[str, Any]:
    """`specbench check-model`: check the builder, then its parameters, MACs per spectrum,
    output shape and the seconds of one forward/backward batch (after one warm-up batch)."""
    import time

    import numpy as np

    from specbench.models.macs import count_macs
    from specbench.training.train import compile_model

    model = check_model(architecture, n_points, n_classes, hyperparameters)
    compile_model(model, 1e-3)
    rng = np.random.default_rng(0)
    x = rng.random((batch_size, n_points), dtype=np.float32)
    y = rng.integers(0, n_classes, batch_size)
    model.train_on_batch(x, y)  # warm-up: tracing/compilation
    start = time.perf_counter()
    model.train_on_batch(x, y)
    batch_s = time.perf_counter() - start
    wrapped = any(type(layer).__name__ == "TorchModuleWrapper" for layer in model.layers)
    try:  # a wrapped torch module's operations are invisible to count_macs
        macs: int | None = None if wrapped else int(count_macs(model))
    except Exception:  # layers count_macs does not know
        macs = None
    return {
        "builder": architecture,
        "n_points": n_points,
        "n_classes": n_classes,
        "hyperparameters": dict(hyperparameters or {}),
        "parameters": int(model.count_params()),
        "macs": macs,
        "output_shape": [None, n_classes],
        "batch_size": batch_size,
        "train_batch_s": round(batch_s, 6),
    }


def parse_hp(items: list[str]) -> dict[str, Any]:
    """``key=value`` strings -> hyperparameters (values read as YAML: 16, 0.3, [8, 16], true)."""
    import yaml

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.isidentifier():
            raise UserModelError(f"--hp {item!r}: expected key=value")
        out[key] = yaml.safe_load(value)
    return out
