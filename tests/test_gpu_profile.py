"""The gpu profile (`snakemake --profile gpu`) run for real on the tiny config: on this CPU-only
machine it falls back to the CPU, with the JAX backend it names and, switched on the command line,
PyTorch. Also the precision detection behind `precision: auto` and the GPU-sharing environment."""

from __future__ import annotations

import json

import pytest

import yaml

from conftest import REPO, copy_workflow, snakemake
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


def test_a_model_entry_naming_its_backend_keeps_it_under_the_profile(tmp_path, monkeypatch):
    """The gpu profile's keras_backend (jax) replaces the config's backend, not the one a model's
    own entry names: a wrapped torch module (examples/my_models/torch_net.py, `training: {backend:
    torch}` on its entry, as docs/own-models.md says) fails to build on JAX ("Can't call numpy()
    on Tensor that requires grad"), so under `--profile gpu` its training job failed, after the
    check before any job had passed it on torch."""
    import runpy
    from types import SimpleNamespace

    from specbench.training import train
    from specbench.workflow import config as sbconfig

    cfg = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
    models = cfg["experiments"]["benchmark"]["models"]
    models["torch_net"] = {"architecture": "x.py:build", "training": {"backend": "torch"}}
    cfg["experiments"]["benchmark"]["training"] = {"backend": "tensorflow"}
    assert sbconfig.entry_backend(cfg, "bench", "torch_net") == "torch"
    # the experiment's or the config's backend is the profile's to replace
    assert sbconfig.entry_backend(cfg, "bench", "cnn2") is None
    assert "entry_backend=get_entry_backend" in (REPO / "rules" / "training.smk").read_text()

    got = {}
    monkeypatch.setattr(train, "train_model", lambda **kwargs: got.update(kwargs))
    for model, expected in (("torch_net", "torch"), ("cnn2", "jax")):
        job = SimpleNamespace(
            input=SimpleNamespace(train="t", val="v", code=[], architecture=[]),
            output=SimpleNamespace(model="m", history="h", info="i"),
            params=SimpleNamespace(
                spec={},
                backup_dir="b",
                entry_backend=sbconfig.entry_backend(cfg, "bench", model) or "",
            ),
            wildcards=SimpleNamespace(seed="0", dataset="bench", model=model),
            threads=2,
            resources={"keras_backend": "jax", "jobs_per_gpu": 8},  # gpu/config.yaml's
            log=[str(tmp_path / "job.log")],
        )
        runpy.run_path(str(REPO / "scripts" / "train_model.py"), {"snakemake": job})
        assert got["backend_override"] == expected, model
