"""Choosing the Keras backend, precision, threads and determinism of a training/evaluation job.

Keras 3 reads ``KERAS_BACKEND`` once, when ``keras`` is first imported, so :func:`configure` must
run before anything imports keras (the training and evaluation modules import keras only inside
their functions, after calling it). Within one process the backend can therefore be chosen only
once: asking for another backend after keras was imported raises :class:`BackendError` (run the
job in a fresh process, as Snakemake does).

What :func:`configure` does per backend:

- tensorflow: ``TF_NUM_INTRAOP_THREADS`` and ``tf.config.threading`` intra-op threads = `threads`
  (the job's Snakemake threads; inter-op threads are left at TensorFlow's default),
  ``tf.config.experimental.enable_op_determinism()`` when `deterministic` (this also makes Keras
  skip XLA compilation, as ``jit_compile="auto"`` does on CPU anyway).
- jax: XLA on CPU is deterministic already; for GPUs ``--xla_gpu_deterministic_ops=true`` is added
  to ``XLA_FLAGS``. With ``threads == 1`` XLA's multi-threaded Eigen is switched off; otherwise
  XLA uses its own thread pool (it has no reliable knob for N threads).
- torch: ``torch.set_num_threads(threads)`` and, when `deterministic`,
  ``torch.use_deterministic_algorithms(True)``.

The backends and precisions a config may name, and the defaults (the config's ``training``),
are the schema's (specbench.core.schema).

Precision: ``"float32"``, ``"mixed_bfloat16"`` (Keras dtype policy: bfloat16 compute, float32
variables) or ``"auto"`` (bfloat16 where the device has native bfloat16 arithmetic, float32
elsewhere: :func:`specbench.training.devices.resolve_precision`); the model builders keep their softmax
output layer in float32 either way. :func:`runtime` tells what a configured process resolved.

GPUs (jax, torch): before the backend is imported, :func:`specbench.training.devices.gpu_environment` bounds
JAX's GPU memory per job (``jobs_per_gpu``, the gpu profile's packing) and, on a multi-GPU node,
gives each job one GPU; the model and data then live on that device (Keras' default placement).
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Any

from specbench.core import schema

logger = logging.getLogger("specbench.training.backend")

#: Backends a config may name (the schema's ``training.backend``).
BACKENDS = tuple(schema.enum("$defs", "training", "backend"))
#: Precisions a config may name (the schema's); "auto" resolves to one of the others.
PRECISIONS = tuple(schema.enum("$defs", "training", "precision"))
#: The Python package whose version is recorded for each backend (every one of BACKENDS).
BACKEND_PACKAGES = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}


class BackendError(ValueError):
    """An unknown backend/precision, or a backend that cannot be selected in this process."""


def check(backend: str, precision: str | None = None) -> None:
    """Raise BackendError naming `backend` or `precision` (when given) if either is unknown."""
    if backend not in BACKENDS:
        raise BackendError(f"unknown backend {backend!r} (known: {', '.join(BACKENDS)})")
    if precision is not None and precision not in PRECISIONS:
        raise BackendError(f"unknown precision {precision!r} (known: {', '.join(PRECISIONS)})")


def _add_xla_flag(flag: str) -> None:
    flags = os.environ.get("XLA_FLAGS", "").split()
    name = flag.split("=")[0]
    if not any(f.split("=")[0] == name for f in flags):
        os.environ["XLA_FLAGS"] = " ".join([*flags, flag])


_RUNTIME: dict[str, Any] = {}


def runtime() -> dict[str, Any]:
    """{"backend", "precision" (resolved), "device": specbench.training.devices.describe_device(...)} of
    the last :func:`configure` in this process ({} before)."""
    return dict(_RUNTIME)


def _set_env_before_import(
    backend: str, threads: int, deterministic: bool, jobs_per_gpu: int | None = None
) -> None:
    from specbench.training import devices

    os.environ.update(devices.gpu_environment(backend, jobs_per_gpu))
    os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if backend == "tensorflow":
        os.environ["TF_NUM_INTRAOP_THREADS"] = str(threads)
    elif backend == "jax":
        if deterministic:
            _add_xla_flag("--xla_gpu_deterministic_ops=true")
        if threads == 1:  # (XLA has no intra-op thread count flag: a bare
            # "intra_op_parallelism_threads=1", often quoted, is ignored, "--" + it refused)
            _add_xla_flag("--xla_cpu_multi_thread_eigen=false")


def _configure_tensorflow(threads: int, deterministic: bool) -> None:
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
    except RuntimeError:  # the runtime is initialised already (e.g. a second job in one process)
        current = tf.config.threading.get_intra_op_parallelism_threads()
        if current != threads:
            logger.warning(
                "TensorFlow is initialised already with %d intra-op threads; cannot set %d",
                current,
                threads,
            )
    if deterministic:
        tf.config.experimental.enable_op_determinism()
    elif tf.config.experimental.is_op_determinism_enabled():
        logger.warning("op determinism was enabled earlier in this process and stays enabled")


def _configure_torch(threads: int, deterministic: bool, jobs_per_gpu: int | None = None) -> None:
    import torch

    torch.set_num_threads(threads)
    torch.use_deterministic_algorithms(deterministic)
    if deterministic and torch.cuda.is_available():
        # cuBLAS needs this for deterministic matrix products (else torch raises at the first).
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if jobs_per_gpu and torch.cuda.is_available():
        from specbench.training.devices import GPU_MEMORY_SHARE

        torch.cuda.set_per_process_memory_fraction(GPU_MEMORY_SHARE / jobs_per_gpu)


def configure(
    backend: str | None = None,
    precision: str | None = None,
    threads: int = 1,
    deterministic: bool = True,
    jobs_per_gpu: int | None = None,
) -> Any:
    """Select the Keras backend and set threads, determinism and precision; returns ``keras``.

    `backend`, `precision`: None is the schema's default (the config's ``training``).
    `jobs_per_gpu`: how many jobs share one GPU (the job's resource under the gpu profile);
    None: unknown (JAX then allocates GPU memory on demand). :func:`runtime` afterwards holds
    the resolved precision and the device.

    Must be called before keras is imported (raises BackendError if keras was imported with
    another backend). May be called again in the same process with the same backend (e.g. two
    training runs in one test session); precision is then switched, threads only where the
    backend still allows it.
    """
    if backend is None or precision is None:
        default = schema.defaults("training")
        backend = default["backend"] if backend is None else backend
        precision = default["precision"] if precision is None else precision
    check(backend, precision)
    threads = max(1, int(threads))
    if "keras" in sys.modules:
        import keras

        current = keras.backend.backend()
        if current != backend:
            raise BackendError(
                f"backend {backend!r} requested, but keras was imported already with backend "
                f"{current!r} in this process (KERAS_BACKEND must be set before keras is "
                "imported; run the job in a fresh process)"
            )
    else:
        _set_env_before_import(backend, threads, deterministic, jobs_per_gpu)
    if backend == "tensorflow":
        _configure_tensorflow(threads, deterministic)
    elif backend == "torch":
        _configure_torch(threads, deterministic, jobs_per_gpu)

    import keras

    from specbench.training import devices

    device = devices.describe_device(backend)
    resolved = devices.resolve_precision(precision, device)
    keras.config.set_dtype_policy(resolved)
    _RUNTIME.clear()
    _RUNTIME.update(backend=backend, precision=resolved, device=device, threads=threads)
    logger.info(
        "keras %s, backend %s on %s %s, precision %s%s, %d thread(s), deterministic=%s",
        keras.__version__,
        backend,
        device["kind"],
        device["name"],
        resolved,
        " (auto)" if precision == "auto" else "",
        threads,
        deterministic,
    )
    return keras


def versions(backend: str | None = None) -> dict[str, str]:
    """Versions of python, numpy, keras, the backend's library and specbench."""
    import platform

    import keras
    import numpy

    import specbench

    backend = backend or keras.backend.backend()
    out = {
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "keras": keras.__version__,
    }
    package = BACKEND_PACKAGES[backend]
    module = __import__(package)
    out[package] = getattr(module, "__version__", "unknown")
    out["specbench"] = specbench.__version__
    return out
