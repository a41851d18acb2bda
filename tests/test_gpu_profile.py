"""The gpu profile (`snakemake --profile gpu`) run for real on the tiny config: on this CPU-only
machine it falls back to the CPU, with the JAX backend it names and, switched on the command line,
PyTorch. Also the precision detection behind `precision: auto` and the GPU-sharing environment."""

from __future__ import annotations

import json

import pytest

import yaml

from conftest import copy_workflow, snakemake
from specbench.training import devices

SUBSET = "select={experiments: [benchmark], models: [cnn2]}"


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["jax", "torch"])
def test_gpu_profile_runs_the_tiny_workflow(backend, tmp_path):
    workdir = copy_workflow(tmp_path / "wf")
    cfg = yaml.safe_load((workdir / "tiny.yaml").read_text())
    del cfg["training"]["precision"]  # the default, `auto`
    (workdir / "auto.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    args = ["--profile", "gpu", "--cores", "2", "--configfile", "auto.yaml", "--config", SUBSET]
    if backend != "jax":  # a command-line --set-resources replaces the profile's, so name all
        args += ["--set-resources", "train_model:gpu=1", "train_model:jobs_per_gpu=4"]
        args += [f"train_model:keras_backend={backend}"]
    snakemake(workdir, *args)
    run = workdir / "results" / "runs" / "bench" / "cnn2" / "seed0"
    info = json.loads((run / "training.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    cpu = devices.cpu_description()
    expected = devices.resolve_precision("auto", {"kind": "cpu", "cpu_flags": cpu["cpu_flags"]})
    assert info["backend"] == metrics["backend"] == backend
    assert info["training"]["precision"] == "auto"  # auto.yaml names none: the default
    assert info["precision"] == metrics["precision"] == expected
    assert info["device_kind"] == "cpu" and info["device"] == cpu["name"]
    assert info["threads"] == 2  # the profile's set-threads
    runs = (workdir / "results" / "tables" / "runs.md").read_text()
    assert "subset: experiments benchmark; models cnn2" in runs


@pytest.mark.parametrize(
    ("device", "expected"),
    [
        ({"kind": "gpu", "compute_capability": "9.0"}, "mixed_bfloat16"),  # H100
        ({"kind": "gpu", "compute_capability": "8.0"}, "mixed_bfloat16"),  # A100
        ({"kind": "gpu", "compute_capability": (7, 5)}, "float32"),  # T4: no bf16 units
        ({"kind": "gpu", "compute_capability": None}, "float32"),
        ({"kind": "cpu", "cpu_flags": ["avx2", "avx512f", "avx512_bf16"]}, "mixed_bfloat16"),
        ({"kind": "cpu", "cpu_flags": ["avx2", "amx_bf16", "amx_tile"]}, "mixed_bfloat16"),
        ({"kind": "cpu", "cpu_flags": ["avx2", "avx512f"]}, "float32"),  # emulated bf16
        ({"kind": "cpu", "cpu_flags": []}, "float32"),  # e.g. macOS: no flags known
    ],
)
def test_auto_precision_follows_native_bf16_support(device, expected):
    assert devices.resolve_precision("auto", device) == expected
    # an explicit precision is kept whatever the hardware
    assert devices.resolve_precision("float32", device) == "float32"
    assert devices.resolve_precision("mixed_bfloat16", device) == "mixed_bfloat16"


def test_gpu_environment_bounds_jax_memory_and_spreads_jobs(tmp_path, monkeypatch):
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # private slot locks
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    env = devices.gpu_environment("jax", jobs_per_gpu=4, environ={}, n_gpus=1)
    assert env == {"XLA_PYTHON_CLIENT_MEM_FRACTION": "0.225"}
    # unknown packing: allocate on demand rather than 75 % per process
    assert devices.gpu_environment("jax", None, environ={}, n_gpus=0) == {
        "XLA_PYTHON_CLIENT_PREALLOCATE": "false"
    }
    # the user's own settings win
    mine = {"XLA_PYTHON_CLIENT_MEM_FRACTION": "0.5", "CUDA_VISIBLE_DEVICES": "1"}
    assert devices.gpu_environment("jax", 4, environ=mine, n_gpus=2) == {}
    # two GPUs, two slots each: the first slot of every GPU before any second one
    picks = [devices.claim_gpu(2, 2, lock_dir=tmp_path / "locks") for _ in range(5)]
    assert picks == [0, 1, 0, 1, None]
    with pytest.raises(ValueError, match="jobs_per_gpu=0"):
        devices.claim_gpu(1, 0, lock_dir=tmp_path / "locks")
