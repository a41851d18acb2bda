"""The hardware a training or evaluation job runs on: device description, precision, GPU sharing.

- :func:`resolve_precision`: ``precision: auto`` (the default) becomes ``mixed_bfloat16`` where
  the device computes bfloat16 natively (NVIDIA compute capability >= 8.0; CPUs with AVX512_BF16
  or AMX-BF16) and ``float32`` elsewhere (on other CPUs bfloat16 is emulated, and slower than
  float32). Pure function of the device description, so it is unit-tested with given flags.
- :func:`describe_device`: the device the selected Keras backend computes on (name, kind,
  compute capability or CPU flags), read after keras was imported; recorded in training.json.
- :func:`gpu_environment`: what a job sets before importing its backend so that several jobs
  share one GPU sanely (JAX preallocates 75 % of a GPU per process by default; with ``K`` jobs
  per GPU each takes at most 0.9 / K) and, on a multi-GPU node, each job sees one GPU
  (:func:`claim_gpu`: a slot lock per GPU and job, spread over the GPUs).

Nothing here imports a deep-learning library at import time.
"""

from __future__ import annotations

import fcntl
import logging
import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

logger = logging.getLogger("specbench.training.devices")

#: CPU flags (Linux /proc/cpuinfo names) of native bfloat16 arithmetic.
BF16_CPU_FLAGS = ("avx512_bf16", "amx_bf16")
#: NVIDIA compute capability from which bfloat16 tensor cores exist (Ampere).
BF16_MIN_COMPUTE_CAPABILITY = (8, 0)
#: Share of a GPU's memory that the jobs on it may take together (the rest: CUDA contexts).
GPU_MEMORY_SHARE = 0.9


def _capability(value: Any) -> tuple[int, int] | None:
    """(major, minor) from "9.0", (9, 0) or None."""
    if value in (None, ""):
        return None
    if isinstance(value, str):
        major, _, minor = value.partition(".")
        return int(major), int(minor or 0)
    major, minor = value
    return int(major), int(minor)


def resolve_precision(precision: str, device: dict[str, Any]) -> str:
    """The precision a job uses: `precision` itself unless it is "auto" (see module docstring).

    `device`: {"kind": "gpu"|"cpu", "compute_capability": "9.0" (GPUs), "cpu_flags": [...]}
    as :func:`describe_device` returns it.
    """
    if precision != "auto":
        return precision
    if device.get("kind") == "gpu":
        cc = _capability(device.get("compute_capability"))
        native = cc is not None and cc >= BF16_MIN_COMPUTE_CAPABILITY
    else:
        flags = set(device.get("cpu_flags") or ())
        native = any(flag in flags for flag in BF16_CPU_FLAGS)
    return "mixed_bfloat16" if native else "float32"


def cpu_description() -> dict[str, Any]:
    """{"name", "cpu_flags"} of this machine's CPU (flags: Linux only; elsewhere empty)."""
    name, flags = platform.processor() or platform.machine(), []
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and value.strip():
            name = value.strip()
        elif key == "flags" and not flags:
            flags = value.split()
    if not text and platform.system() == "Darwin":
        try:
            name = (
                subprocess.run(
                    ["sysctl", "-n", "machdep.cpu.brand_string"],
                    capture_output=True,
                    text=True,
                    timeout=5,
                ).stdout.strip()
                or name
            )
        except (OSError, subprocess.SubprocessError):
            pass
    return {"name": name, "cpu_flags": flags}


def describe_device(backend: str) -> dict[str, Any]:
    """The device the Keras `backend` computes on (call after keras was imported).

    Returns {"kind": "gpu"|"cpu", "name", "compute_capability" (GPUs), "count" (GPUs visible),
    "cpu": CPU name, "cpu_flags"}.
    """
    cpu = cpu_description()
    out: dict[str, Any] = {"kind": "cpu", "name": cpu["name"], "cpu": cpu["name"]}
    out["cpu_flags"] = [f for f in cpu["cpu_flags"] if f in BF16_CPU_FLAGS or f.startswith("avx")]
    try:
        if backend == "jax":
            import jax

            devices = jax.devices()
            first = devices[0]
            if first.platform == "gpu":
                out.update(
                    kind="gpu",
                    name=first.device_kind,
                    compute_capability=getattr(first, "compute_capability", None),
                    count=len(devices),
                )
        elif backend == "torch":
            import torch

            if torch.cuda.is_available():
                major, minor = torch.cuda.get_device_capability(0)
                out.update(
                    kind="gpu",
                    name=torch.cuda.get_device_name(0),
                    compute_capability=f"{major}.{minor}",
                    count=torch.cuda.device_count(),
                )
        elif backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            if gpus:
                details = tf.config.experimental.get_device_details(gpus[0])
                cc = details.get("compute_capability")
                out.update(
                    kind="gpu",
                    name=details.get("device_name", gpus[0].name),
                    compute_capability=None if cc is None else "%d.%d" % tuple(cc),
                    count=len(gpus),
                )
    except Exception as exc:  # a broken GPU runtime must not stop a CPU job
        logger.warning("could not query the %s device (%s); assuming the CPU", backend, exc)
    return out


# ---------------------------------------------------------------- sharing GPUs between jobs


def gpu_count() -> int:
    """NVIDIA GPUs on this machine (nvidia-smi -L), 0 without nvidia-smi."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return 0
    try:
        proc = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return 0
    return sum(1 for line in proc.stdout.splitlines() if line.startswith("GPU "))


_held_slots: list[Any] = []  # open lock files: a slot is held until the process exits


def claim_gpu(
    n_gpus: int, jobs_per_gpu: int, lock_dir: str | os.PathLike | None = None
) -> int | None:
    """Index of the GPU this process should use, spreading jobs over `n_gpus` GPUs.

    Slot k of GPU i is a lock file; slots are tried in the order (k=0: GPU 0, 1, ...; k=1: ...)
    so that jobs fill every GPU's first slot before any second one. The lock (fcntl) is held
    until the process exits, also when it is killed. None when every slot is taken (more jobs
    than `n_gpus * jobs_per_gpu`: the caller then leaves the GPU choice to the framework).
    """
    if n_gpus < 1 or jobs_per_gpu < 1:
        raise ValueError(f"n_gpus={n_gpus} and jobs_per_gpu={jobs_per_gpu} must be >= 1")
    lock_dir = Path(lock_dir or Path(tempfile.gettempdir()) / "specbench-gpu-slots")
    lock_dir.mkdir(parents=True, exist_ok=True)
    for slot in range(jobs_per_gpu):
        for gpu in range(n_gpus):
            handle = open(lock_dir / f"gpu{gpu}-slot{slot}.lock", "a")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                handle.close()
                continue
            _held_slots.append(handle)
            return gpu
    return None


def gpu_environment(
    backend: str,
    jobs_per_gpu: int | None,
    environ: dict[str, str] | None = None,
    n_gpus: int | None = None,
) -> dict[str, str]:
    """Environment variables a job sets before importing its backend (see module docstring).

    Only variables the user has not set are returned. `jobs_per_gpu` (the gpu profile's packing,
    the job's ``jobs_per_gpu`` resource) bounds JAX's memory to 0.9 / K of the GPU; without it JAX
    allocates on demand (no preallocation), so that jobs started side by side do not fail.
    """
    environ = os.environ if environ is None else environ
    out: dict[str, str] = {}
    if backend == "jax" and "XLA_PYTHON_CLIENT_MEM_FRACTION" not in environ:
        if jobs_per_gpu:
            out["XLA_PYTHON_CLIENT_MEM_FRACTION"] = f"{GPU_MEMORY_SHARE / jobs_per_gpu:.3f}"
        elif "XLA_PYTHON_CLIENT_PREALLOCATE" not in environ:
            out["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"
    if "CUDA_VISIBLE_DEVICES" not in environ and backend in ("jax", "torch"):
        n_gpus = gpu_count() if n_gpus is None else n_gpus
        if n_gpus > 1:
            gpu = claim_gpu(n_gpus, jobs_per_gpu or 1)
            if gpu is not None:
                out["CUDA_VISIBLE_DEVICES"] = str(gpu)
    return out
