"""``specbench check-model``: a published architecture (by its registry name) or a user builder
(specbench.models.user, checked as the workflow checks it), with its parameters, MACs, output shape
and the time of one forward/backward batch on this machine, at any geometry.

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
    architecture_scale: Any = "published",
) -> dict[str, Any]:
    """`specbench check-model`: build the model (a registered architecture with its published
    hyperparameters, overridden by `hyperparameters` and its kernels scaled to `n_points` by
    `architecture_scale` as training does; or a user builder, checked as the workflow checks it),
    then its parameters, MACs per spectrum, output shape and the seconds of one forward/backward
    batch (after one warm-up batch). HyperparameterError or UserModelError name a bad value."""
    import time

    import numpy as np

    from specbench.models import registry
    from specbench.models.macs import count_macs
    from specbench.training.train import compile_model

    if registry.is_published(architecture):
        registry.check_sizes(architecture, n_points, n_classes)
        hyperparameters = registry.scale_kernels(
            architecture,
            registry.check(architecture, hyperparameters),
            n_points,
            architecture_scale,
        )
        model = registry.construct(architecture, n_points, n_classes, hyperparameters)
    else:
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
        "architecture": architecture,
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
        try:
            out[key] = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            reason = str(exc).splitlines()[0]
            raise UserModelError(f"--hp {item!r}: not a YAML value ({reason})") from None
    return out
