"""Registry of the benchmarked 1-D CNN architectures (importable without importing Keras).

Each architecture is a plain builder function ``build_<name>(n_points, n_classes, **hp)`` in its
own module of :mod:`specbench.models`; this registry knows, for every architecture, the module,
the published hyperparameters (``defaults``) and the citation. Planning the workflow only needs
:func:`names`, :func:`check` and :func:`source_files`, so this module imports neither Keras nor
any builder module; :func:`build` imports the builder lazily.

Hyperparameters (the keys a config model entry may set next to ``architecture``):

- ``dense_units``: list of positive ints, the hidden dense layers after Flatten (may be empty).
- ``dropout_rate``: float in [0, 1); Dropout before every hidden dense layer and before the
  output layer (no Dropout layer at all when 0).
- ``dense_activation``: activation of the hidden dense layers (one of :data:`ACTIVATIONS`).
- ``batch_norm``: bool; BatchNormalization after every convolution (conv -> BN -> activation).
- ``conv_dropout``: float in [0, 1); Dropout after each convolutional stage's pooling layer
  (resnet: after each residual layer; inc3/inc6: after the three stem stages only).
- ``kernel_size``: an int for every convolution of the stages (vgg; resnet: stem and residual
  convolutions, not the 1x1 shortcut), or, for architectures with per-stage kernels (cnn2, cnn3,
  cnn6, cnn_bn, and the cnn3 stem of inc3/inc6), either an int for all stages or a list with one
  int per stage. Inception branch kernels (1, 3, 5) are fixed.
- ``stem_activation`` (resnet only): activation of the first convolution.

Geometry scaling (:func:`scale_kernels`, the training key ``architecture_scale``): the published
kernels were designed for spectra of :data:`REFERENCE_POINTS` points. For spectra of another
length they can be scaled by a factor f (``auto``: f = n_points / 5000) so that each kernel keeps
the fraction of the spectrum it spans: k' = max(min(k, MIN_KERNEL), floor(k * f + 0.5)) (round
half up; a kernel of 3 or more points never drops below :data:`MIN_KERNEL`, a smaller one is kept
as it is). Only ``kernel_size`` is scaled: the pool sizes and strides (1 to 3) are kept, since
scaling them would remove the downsampling and change every dense layer's width. At f = 1 (5000
points, or ``published``) the kernels are the published ones.
"""

from __future__ import annotations

import copy
import importlib
import math
import numbers
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any

from specbench.models import user

__all__ = [
    "ACTIVATIONS",
    "ARCHITECTURES",
    "Architecture",
    "HyperparameterError",
    "architecture",
    "build",
    "check",
    "check_sizes",
    "is_published",
    "construct",
    "names",
    "scale_factor",
    "scale_kernels",
    "source_files",
    "MIN_KERNEL",
    "REFERENCE_POINTS",
]

#: Activation names accepted for ``dense_activation`` and ``stem_activation`` (Keras names).
ACTIVATIONS = tuple("linear relu elu selu gelu silu swish tanh sigmoid leaky_relu".split())

MODELS_DIR = Path(__file__).resolve().parent

#: Points per spectrum the published architectures were designed for (Schuetzke et al. 2023).
REFERENCE_POINTS = 5000
#: The smallest kernel that geometry scaling makes of a published kernel of >= 3 points.
MIN_KERNEL = 3


class HyperparameterError(ValueError):
    """An unknown architecture, an unknown hyperparameter or a hyperparameter of a wrong value."""


@dataclass(frozen=True)
class Architecture:
    """One registered architecture: everything published about it, once.

    name: registry name (also the Keras model name); module: module of specbench.models holding
    the builder; builder: the builder function's name; defaults: the published hyperparameters
    (the keys a config entry may override); layout: the published fixed structure the builder
    takes as keyword arguments (stages, filters, blocks; not overridable); reference: the
    publication the architecture is taken from.
    """

    name: str
    module: str
    builder: str
    defaults: dict[str, Any] = field(default_factory=dict)
    layout: dict[str, Any] = field(default_factory=dict)
    reference: str = ""


_LEE_2020 = (
    "Lee, J.-W., Park, W. B., Lee, J. H., Singh, S. P. & Sohn, K.-S. A deep-learning technique "
    "for phase identification in multiphase inorganic compounds using synthetic XRD powder "
    "patterns. Nat. Commun. 11, 86 (2020)"
)

_COMMON = {"batch_norm": False, "conv_dropout": 0.0}


def _stages(filters, strides, pools, pool_strides) -> tuple[dict[str, int], ...]:
    """Per-stage layout of a plain CNN (models.cnn): one dict per convolutional stage."""
    return tuple(
        {"filters": f, "strides": s, "pool_size": p, "pool_strides": ps}
        for f, s, p, ps in zip(filters, strides, pools, pool_strides, strict=True)
    )


#: cnn3's stages, also the stem of inc3/inc6 (Lee et al. 2020).
_CNN3_STAGES = _stages((64, 64, 64), (1, 1, 2), (3, 2, 1), (3, 3, 2))

ARCHITECTURES: dict[str, Architecture] = {
    arch.name: arch
    for arch in (
        Architecture(
            "cnn2",
            "cnn",
            "build_cnn",
            {
                "kernel_size": [50, 25],
                "dense_units": [2000, 500],
                "dropout_rate": 0.3,
                "dense_activation": "linear",
                **_COMMON,
            },
            {"stages": _stages((64, 64), (2, 3), (3, 2), (2, 3)), "activation": "relu"},
            _LEE_2020 + " (CNN2)",
        ),
        Architecture(
            "cnn3",
            "cnn",
            "build_cnn",
            {
                "kernel_size": [20, 15, 10],
                "dense_units": [2500, 1000],
                "dropout_rate": 0.3,
                "dense_activation": "linear",
                **_COMMON,
            },
            {"stages": _CNN3_STAGES, "activation": "relu"},
            _LEE_2020 + " (CNN3)",
        ),
        Architecture(
            "cnn6",
            "cnn",
            "build_cnn",
            {
                "kernel_size": [35, 30, 25, 20, 15, 10],
                "dense_units": [3100, 1200],
                "dropout_rate": 0.7,
                "dense_activation": "relu",
                **_COMMON,
            },
            {
                "stages": _stages((64,) * 6, (1,) * 6, (3, 3, 2, 1, 1, 1), (2,) * 6),
                "activation": "relu",
            },
            "Szymanski, N. J., Bartel, C. J., Zeng, Y., Tu, Q. & Ceder, G. Probabilistic deep "
            "learning approach to automate the interpretation of multi-phase diffraction spectra. "
            "Chem. Mater. 33, 4204-4215 (2021)",
        ),
        Architecture(
            "vgg",
            "vgg",
            "build_vgg",
            {
                "kernel_size": 5,
                "dense_units": [120, 84, 186],
                "dropout_rate": 0.0,
                "dense_activation": "linear",
                "batch_norm": False,
                "conv_dropout": 0.2,
            },
            # (filters, convolutions) of each stage; MaxPool(2) after each
            {"stages": ((6, 1), (16, 2), (32, 2), (64, 2))},
            "Wang, H. et al. Rapid identification of X-ray diffraction patterns based on very "
            "limited data by interpretable convolutional neural networks. J. Chem. Inf. Model. "
            "60, 2004-2011 (2020)",
        ),
        Architecture(
            "resnet",
            "resnet",
            "build_resnet",
            {
                "kernel_size": 5,
                "stem_activation": "linear",
                "dense_units": [],
                "dropout_rate": 0.5,
                "dense_activation": "linear",
                "batch_norm": True,
                "conv_dropout": 0.0,
            },
            {"stem_filters": 64, "filters": 100, "n_layers": 6, "blocks_per_layer": 2},
            "Ho, C.-S. et al. Rapid identification of pathogenic bacteria using Raman spectroscopy "
            "and deep learning. Nat. Commun. 10, 4927 (2019)",
        ),
        Architecture(
            "cnn_bn",
            "cnn",
            "build_cnn",
            {
                "kernel_size": [21, 11, 5],
                "dense_units": [2048],
                "dropout_rate": 0.5,
                "dense_activation": "linear",
                "batch_norm": True,
                "conv_dropout": 0.0,
            },
            # LeakyReLU with negative slope 0.1 (Liu 2017)
            {
                "stages": _stages((16, 32, 64), (1,) * 3, (2,) * 3, (2,) * 3),
                "activation": ("leaky_relu", 0.1),
            },
            "Liu, J. et al. Deep convolutional neural networks for Raman spectrum recognition: a "
            "unified solution. Analyst 142, 4067-4074 (2017)",
        ),
        Architecture(
            "inc3",
            "inception",
            "build_inception",
            {
                "kernel_size": [20, 15, 10],
                "dense_units": [3700, 740],
                "dropout_rate": 0.3,
                "dense_activation": "linear",
                **_COMMON,
            },
            {"stem": _CNN3_STAGES, "n_blocks": 3},
            _LEE_2020 + " (CNN3 with 3 Inception blocks)",
        ),
        Architecture(
            "inc6",
            "inception",
            "build_inception",
            {
                "kernel_size": [20, 15, 10],
                "dense_units": [4000, 400],
                "dropout_rate": 0.3,
                "dense_activation": "linear",
                **_COMMON,
            },
            {"stem": _CNN3_STAGES, "n_blocks": 6},
            _LEE_2020 + " (CNN3 with 6 Inception blocks)",
        ),
    )
}


def names() -> list[str]:
    """Registered architecture names, in registry order (the paper's, which tables follow)."""
    return list(ARCHITECTURES)


def is_published(name: str) -> bool:
    """True for a registered architecture (of the paper); False for a user's builder."""
    return name in ARCHITECTURES


def architecture(name: str) -> Architecture:
    """The registry entry of `name`; HyperparameterError naming it (and the known ones) if none."""
    try:
        return ARCHITECTURES[name]
    except (KeyError, TypeError):
        known = ", ".join(ARCHITECTURES)
        file = isinstance(name, str) and (name.endswith(".py") or "/" in name or "\\" in name)
        hint = f"; a builder of your own is named with its function: '{name}:FUNCTION'" * file
        raise HyperparameterError(f"unknown architecture {name!r} (known: {known}){hint}") from None


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _check_value(arch: Architecture, key: str, value: Any) -> None:
    where = f"architecture {arch.name!r}: hyperparameter {key}={value!r}"
    if key == "dense_units":
        if not isinstance(value, (list, tuple)) or not all(_is_int(v) and v > 0 for v in value):
            raise HyperparameterError(f"{where} must be a list of positive integers")
    elif key in ("dropout_rate", "conv_dropout"):
        if not _is_number(value) or not 0 <= value < 1:
            raise HyperparameterError(f"{where} must be a number in [0, 1)")
    elif key in ("dense_activation", "stem_activation"):
        if not isinstance(value, str) or value not in ACTIVATIONS:
            raise HyperparameterError(f"{where} must be one of: {', '.join(ACTIVATIONS)}")
    elif key == "batch_norm":
        if not isinstance(value, bool):
            raise HyperparameterError(f"{where} must be true or false")
    elif key == "kernel_size":
        default = arch.defaults["kernel_size"]
        if _is_int(value):
            if value < 1:
                raise HyperparameterError(f"{where} must be a positive integer")
        elif isinstance(default, list) and isinstance(value, (list, tuple)):
            if len(value) != len(default) or not all(_is_int(v) and v > 0 for v in value):
                raise HyperparameterError(
                    f"{where} must be a positive integer or a list of {len(default)} positive "
                    f"integers (one per convolutional stage, published: {default})"
                )
        else:
            kind = (
                f"a positive integer or a list of {len(default)} positive integers"
                if isinstance(default, list)
                else "a positive integer"
            )
            raise HyperparameterError(f"{where} must be {kind}")
    else:  # pragma: no cover - every default key is handled above
        raise AssertionError(f"no validation rule for hyperparameter {key!r}")


def check(name: str, hyperparameters: dict[str, Any] | None = None) -> dict[str, Any]:
    """Validate hyperparameter overrides of architecture `name`.

    Raises HyperparameterError (a ValueError) naming an unknown architecture (with the known
    ones), an unknown hyperparameter (with the accepted ones) or a value of the wrong type or
    range (with the value). Returns the complete hyperparameters: the published defaults merged
    with the overrides (a new dict; lists are copied).
    """
    hyperparameters = {} if hyperparameters is None else hyperparameters
    if user.is_user(name):  # the user's builder checks its own (specbench.models.user)
        if not isinstance(hyperparameters, dict):
            raise HyperparameterError(
                f"architecture {name!r}: hyperparameters must be a mapping, got {hyperparameters!r}"
            )
        return copy.deepcopy(dict(hyperparameters))
    arch = architecture(name)
    if not isinstance(hyperparameters, dict):
        raise HyperparameterError(
            f"architecture {name!r}: hyperparameters must be a mapping, got {hyperparameters!r}"
        )
    unknown = [key for key in hyperparameters if key not in arch.defaults]
    if unknown:
        raise HyperparameterError(
            f"architecture {name!r}: unknown hyperparameter {unknown[0]!r} "
            f"(accepted: {', '.join(sorted(arch.defaults))})"
        )
    merged = copy.deepcopy(arch.defaults)
    merged.update(copy.deepcopy(dict(hyperparameters)))
    for key, value in merged.items():
        _check_value(arch, key, value)
    return merged


def check_sizes(name: str, n_points: Any, n_classes: Any) -> None:
    """HyperparameterError naming the value unless n_points >= 1 and n_classes >= 2 are ints."""
    for key, value, low in (("n_points", n_points, 1), ("n_classes", n_classes, 2)):
        if not _is_int(value) or value < low:
            raise HyperparameterError(
                f"architecture {name!r}: {key}={value!r} must be an integer >= {low}"
            )


def build(name: str, n_points: int, n_classes: int, **hyperparameters: Any):
    """Uncompiled keras.Model of architecture `name` for spectra of `n_points` points.

    The published hyperparameters are overridden by `hyperparameters`, validated by
    :func:`check`; then :func:`construct`. The model takes float32 spectra of shape
    (batch, n_points) and outputs softmax probabilities (batch, n_classes) in float32; it is
    named `name`.
    """
    return construct(name, n_points, n_classes, check(name, hyperparameters))


def construct(name: str, n_points: int, n_classes: int, hyperparameters: dict[str, Any]):
    """The model of :func:`build` from complete hyperparameters that :func:`check` returned
    (not validated again): the builder gets them and the registry's layout as keyword
    arguments."""
    check_sizes(name, n_points, n_classes)
    if user.is_user(name):
        return user.construct(name, n_points, n_classes, hyperparameters)
    arch = architecture(name)
    module = importlib.import_module(f"specbench.models.{arch.module}")
    builder = getattr(module, arch.builder)
    return builder(n_points, n_classes, name=name, **arch.layout, **hyperparameters)


def source_files(name: str) -> list[str]:
    """Absolute paths of the module defining architecture `name` (its training jobs' inputs).

    Only the architecture's own module; specbench.workflow.codedeps.architecture_sources adds the
    package modules it imports (blocks.py, this registry).
    """
    if user.is_user(name):
        return [str(path) for path in user.source_files(name)]
    arch = architecture(name)
    return [str(MODELS_DIR / f"{arch.module}.py")]


def scale_factor(architecture_scale: Any, n_points: int) -> float:
    """The kernel scale factor of the training key ``architecture_scale`` for `n_points`.

    ``"published"``: 1 (the published kernels whatever the length); ``"auto"``:
    n_points / :data:`REFERENCE_POINTS`; a positive number: that factor. HyperparameterError
    naming the value otherwise.
    """
    if architecture_scale == "published":
        return 1.0
    if architecture_scale == "auto":
        if not _is_int(n_points) or n_points < 1:
            raise HyperparameterError(f"n_points={n_points!r} must be a positive integer")
        return n_points / REFERENCE_POINTS
    if _is_number(architecture_scale) and architecture_scale > 0:
        return float(architecture_scale)
    raise HyperparameterError(
        f"architecture_scale={architecture_scale!r} must be 'published', 'auto' or a positive "
        "number"
    )


def _scaled_kernel(kernel: int, factor: float) -> int:
    # round half up on the factor as written (in binary, 1450 / 5000 is a little below 0.29)
    scaled = math.floor(kernel * Fraction(repr(float(factor))) + Fraction(1, 2))
    return max(min(kernel, MIN_KERNEL), scaled)


def scale_kernels(
    name: str, hyperparameters: dict[str, Any], n_points: int, architecture_scale: Any
) -> dict[str, Any]:
    """`hyperparameters` (complete, as :func:`check` returns them) with ``kernel_size`` scaled
    to spectra of `n_points` points by ``architecture_scale`` (see the module docstring).

    A new dict; identical to the input at a factor of 1. Every kernel of the architecture
    (an int or one per stage) is scaled, overrides included: an override is taken to be given in
    the published 5000-point geometry, like the defaults. A user builder
    (specbench.models.user) is not scaled: its hyperparameters are returned as they are.
    """
    if user.is_user(name):
        return copy.deepcopy(dict(hyperparameters))
    architecture(name)
    factor = scale_factor(architecture_scale, n_points)
    out = copy.deepcopy(dict(hyperparameters))
    if factor == 1.0 or "kernel_size" not in out:
        return out
    kernel = out["kernel_size"]
    if isinstance(kernel, (list, tuple)):
        out["kernel_size"] = [_scaled_kernel(int(k), factor) for k in kernel]
    else:
        out["kernel_size"] = _scaled_kernel(int(kernel), factor)
    return out
