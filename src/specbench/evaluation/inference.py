"""The one inference path: backend set-up, safe loading, checked input, batched prediction, top-k.

Used by the evaluation of a trained run (rules evaluate_model and evaluate_level,
:func:`specbench.evaluation.evaluate.evaluate_model`) and by ``specbench classify``:

- :func:`session`: ``specbench.training.backend.configure`` (backend, precision, threads, determinism) as a
  context manager that sets Keras' process-global dtype policy back to float32 on exit, so that
  mixed precision never leaks into what runs next (training can run in one too);
- :func:`load_model`: a run's ``model.keras`` loaded with ``safe_mode=True`` (no deserialisation
  of Python lambdas) and ``compile=False``, checked against its training.json (input points,
  output classes, parameter count);
- :func:`model_input`: spectra as the model's input type, float32, refusing any value that is not
  finite *in float32* (NaN, infinite, or beyond float32's range, e.g. ``1e308``);
- :func:`predict`: batched ``model.predict`` (:data:`PREDICT_BATCH_SIZE`: the same batches, so the
  same numbers, everywhere) as float32 probabilities;
- :func:`infer`: the four above for one run: configure, load, predict, reset;
- :func:`top_k`: the k most probable classes of each row (ties go to the lower class index, as
  numpy.argmax); :func:`check_labels`: labels within the model's classes.

Errors are :class:`specbench.evaluation.runs.RunError` naming the file. This module does not import keras
at import time.
"""

from __future__ import annotations

import contextlib
import os
import time
import warnings
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from specbench.core.formats import INFO_FILE
from specbench.evaluation.runs import Run, RunError

__all__ = [
    "PREDICT_BATCH_SIZE",
    "Inference",
    "check_labels",
    "infer",
    "load_model",
    "model_input",
    "predict",
    "session",
    "top_k",
]

#: Spectra per predict() batch (evaluation and ``specbench classify``: same batches, same numbers).
PREDICT_BATCH_SIZE = 256


@contextlib.contextmanager
def session(
    backend: str,
    precision: str,
    threads: int = 1,
    *,
    deterministic: bool = True,
    jobs_per_gpu: int | None = None,
) -> Iterator[Any]:
    """``with session(...) as keras``: Keras configured by specbench.training.backend.configure.

    On exit (also on an error) the global dtype policy is float32 again. Raises RunError when the
    backend's library is not installed (and specbench.training.backend.BackendError as configure does).
    """
    from specbench.training import backend as backends

    try:
        keras = backends.configure(
            backend, precision, threads, deterministic, jobs_per_gpu=jobs_per_gpu
        )
    except ImportError as exc:
        raise RunError(
            f"backend {backend!r} is not installed ({exc}); install it or choose another backend"
        ) from None
    try:
        yield keras
    finally:  # the dtype policy is process-global: do not leak mixed precision
        keras.config.set_dtype_policy("float32")


def load_model(keras, run: Run, trust_user_code: bool = False):
    """The run's Keras model (``safe_mode=True``, ``compile=False``), checked against training.json.

    A run of a user's builder (specbench.models.user): the builder's file or module is imported
    first (so that its custom layers, registered with ``keras.saving.register_keras_serializable``,
    load); with `trust_user_code` (the workflow's own evaluation of what it trained, ``specbench
    classify --trust-user-code``) the model is loaded with ``safe_mode=False``, which a wrapped
    torch.nn.Module (keras.layers.TorchModuleWrapper) needs.

    Raises RunError for a file that is not a loadable Keras archive, one that safe mode refuses,
    or a model whose input/output shape or parameter count differ from training.json's.
    """
    path = run.model_path
    if not zipfile.is_zipfile(path):
        raise RunError(f"{path}: not a Keras model file (not a .keras archive)")
    safe = True
    architecture = run.info.get("architecture")
    from specbench.models import user

    if user.is_user(architecture):
        try:
            user.load_builder(architecture)
        except user.UserModelError as exc:
            raise RunError(f"{path}: the model's builder cannot be imported here ({exc})") from None
        safe = not trust_user_code
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = keras.saving.load_model(path, compile=False, safe_mode=safe)
    except Exception as exc:  # noqa: BLE001 - Keras raises many types for a bad archive
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        raise RunError(f"{path}: cannot load the Keras model ({first})") from None
    inputs = getattr(model, "input_shape", None)
    outputs = getattr(model, "output_shape", None)
    expected = (None, run.n_points), (None, run.n_classes)
    if (inputs, outputs) != expected:
        raise RunError(
            f"{path}: not a model of this workflow: it maps {inputs} to {outputs}, "
            f"{run.info_path} says {expected[0]} to {expected[1]}"
        )
    parameters = run.info.get("parameters")
    if parameters is not None and model.count_params() != parameters:
        raise RunError(
            f"{path}: not the model of {run.info_path}: it has "
            f"{model.count_params()} parameters, {INFO_FILE} says {parameters}"
        )
    return model


def model_input(spectra: np.ndarray, *, source: str | os.PathLike) -> np.ndarray:
    """`spectra` [n, points] as float32 (no copy if they are); RunError naming `source` and the
    first row with a value that is not finite in float32 (NaN, infinite, |value| > 3.4e38)."""
    with np.errstate(over="ignore"):  # values beyond float32's range become inf: refused below
        x = np.asarray(spectra, dtype=np.float32)
    finite = np.isfinite(x)
    if not finite.all():
        row = int(np.flatnonzero(~finite.reshape(len(x), -1).all(axis=1))[0])
        raise RunError(
            f"{source}: spectrum in row {row} has NaN or infinite values in float32, the model's "
            f"input type (magnitudes up to {float(np.finfo(np.float32).max):.4g})"
        )
    return x


def predict(model, x: np.ndarray, *, batch_size: int = PREDICT_BATCH_SIZE) -> np.ndarray:
    """The model's probabilities [n, classes] for input `x`, float32, in batches of batch_size."""
    return np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float32)


@dataclass
class Inference:
    """What :func:`infer` returns."""

    probabilities: np.ndarray  # [n, n_classes] float32
    parameters: int  # the model's parameter count
    predict_s: float  # seconds predict() took
    macs: int | None = None  # multiply-accumulates per spectrum (infer(..., macs=True))


def infer(
    run: Run,
    x: np.ndarray,
    *,
    backend: str | None = None,
    threads: int = 1,
    jobs_per_gpu: int | None = None,
    batch_size: int = PREDICT_BATCH_SIZE,
    macs: bool = False,
    trust_user_code: bool = False,
) -> Inference:
    """Predict `x` (normalised model input, :func:`model_input`) with the run's model.

    Configures `backend` (default: the run's) with the run's precision, deterministic; loads the
    model (:func:`load_model`); predicts in batches; and sets the dtype policy back to float32.
    `macs`: also count the model's multiply-accumulates (specbench.models.macs). Raises RunError.
    """
    with session(
        backend or run.backend, run.precision, threads, jobs_per_gpu=jobs_per_gpu
    ) as keras:
        model = load_model(keras, run, trust_user_code=trust_user_code)
        t0 = time.perf_counter()
        probabilities = predict(model, x, batch_size=batch_size)
        predict_s = time.perf_counter() - t0
        count = None
        if macs:
            from specbench.models.macs import count_macs

            count = count_macs(model)
        return Inference(
            probabilities=probabilities,
            parameters=int(model.count_params()),
            predict_s=predict_s,
            macs=count,
        )


def top_k(probabilities: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(classes [n, k] int32, their probabilities [n, k] float32), most probable first.

    Ties go to the lower class index (as numpy.argmax). RunError unless 1 <= k <= classes.
    """
    p = np.asarray(probabilities, dtype=np.float32)
    if p.ndim != 2 or not 1 <= k <= p.shape[1]:
        raise RunError(
            f"top-k {k!r} needs probabilities of shape [n, >= {k} classes], got {p.shape}"
        )
    order = np.argsort(-p, axis=1, kind="stable")[:, :k].astype(np.int32)
    return order, np.take_along_axis(p, order, axis=1)


def check_labels(labels: np.ndarray, run: Run, *, source: str | os.PathLike) -> None:
    """RunError naming `source` unless every label is a class of the run's model."""
    if len(labels) and (labels.min() < 0 or labels.max() >= run.n_classes):
        raise RunError(
            f"{source}: labels {labels.min()}..{labels.max()} lie outside the model's "
            f"{run.n_classes} classes ({run.info_path})"
        )
