"""Models from the user's own code: ``architecture: path/to/file.py:build`` or ``pkg.module:build``.

A config model entry whose ``architecture`` contains a colon names a builder outside the
package: a Python file (relative to the working directory, the one Snakemake runs in) or an
importable module, and the builder function in it. The builder is called like the registry's,
``build(n_points, n_classes, **hyperparameters)`` (the entry's other keys), and must return an
uncompiled ``keras.Model`` taking (batch, n_points) spectra and giving a softmax over n_classes;
specbench compiles and trains it with the experiment's protocol.

User builders are not geometry-scaled: ``training.architecture_scale`` applies to the published
kernels only and is ignored for them (a user picks kernel sizes for the spectra at hand).

Planning (:func:`source_files`) imports nothing; :func:`load_builder` and :func:`check_model`
import the user's code (and Keras). Every mistake is a :class:`UserModelError` (a ValueError)
with one line naming the builder's file and what is wrong.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from specbench.core.inputs import config_path

__all__ = [
    "RESERVED",
    "UserModelError",
    "check_in_subprocess",
    "check_model",
    "construct",
    "is_user",
    "load_builder",
    "location",
    "source_files",
]

#: Sizes at which the workflow checks a builder before any job when the dataset's are unknown.
CHECK_POINTS = 128
CHECK_CLASSES = 3


#: Keys of a user model's config entry that specbench reads and the builder does not get:
#: ``compare_with`` names the model its paired difference is taken against (e.g. cnn2).
RESERVED = ("compare_with",)


class UserModelError(ValueError):
    """A user builder that cannot be imported, called or used (the message names its file)."""


def is_user(architecture: Any) -> bool:
    """True if `architecture` names a user builder (``FILE.py:FUNCTION`` or ``module:FUNCTION``)."""
    return isinstance(architecture, str) and ":" in architecture


def _split(architecture: str) -> tuple[str, str]:
    target, sep, function = architecture.rpartition(":")
    if not sep or not target or not function.isidentifier():
        raise UserModelError(
            f"{architecture!r}: a user builder is FILE.py:FUNCTION or package.module:FUNCTION"
        )
    return target, function


def _is_file(target: str) -> bool:
    return target.endswith(".py") or "/" in target or "\\" in target


def location(architecture: str, basedir: str | Path = ".") -> tuple[Path | None, str, str]:
    """(file or None for a module, module or file text, function) of a user builder."""
    target, function = _split(architecture)
    if _is_file(target):  # relative to the working directory, else to the workflow's
        return config_path(target, basedir).resolve(), target, function
    return None, target, function


def _module_file(target: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(target)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        return None
    return Path(spec.origin).resolve()


def _local_imports(path: Path, root: Path) -> set[Path]:
    """Files under `root` that the import statements of `path` name (not transitively)."""
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except SyntaxError:
        return set()
    found: set[Path] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
            bases = [path.parent, root]
        elif isinstance(node, ast.ImportFrom):
            mod = node.module or ""
            if node.level:
                base = path.parent
                for _ in range(node.level - 1):
                    base = base.parent
                bases = [base]
            else:
                bases = [path.parent, root]
            names = [mod] if mod else []
            names += [f"{mod}.{a.name}" if mod else a.name for a in node.names if a.name != "*"]
        else:
            continue
        for name in names:
            parts = name.split(".")
            for base in bases:
                for i in range(1, len(parts) + 1):
                    stem = base.joinpath(*parts[:i])
                    for cand in (stem.with_suffix(".py"), stem / "__init__.py"):
                        if cand.is_file():
                            found.add(cand.resolve())
    return found


def source_files(architecture: str, basedir: str | Path = ".") -> list[Path]:
    """The builder's file and the files it imports from its own folder tree, transitively.

    The code inputs of exactly this model's training jobs. Imports outside the folder holding
    the builder's file (installed packages, specbench) are not followed. A module builder that
    is not importable as a .py file has no source files (then the check before any job fails).
    """
    path, target, _ = location(architecture, basedir)
    if path is None:
        path = _module_file(target)
        if path is None:
            return []
    if not path.is_file():
        return []
    root = path.parent
    seen: set[Path] = set()
    todo = [path.resolve()]
    while todo:
        file = todo.pop()
        if file in seen:
            continue
        seen.add(file)
        todo.extend(f for f in _local_imports(file, root) if root in f.parents and f not in seen)
    return sorted(seen)


def load_builder(architecture: str, basedir: str | Path = "."):
    """The builder function named by `architecture` (imports the user's file or module)."""
    path, target, function = location(architecture, basedir)
    if path is not None:
        if not path.is_file():
            raise UserModelError(f"{target}: no such file (relative to {Path(basedir).resolve()})")
        name = "specbench_user_" + hashlib.blake2b(str(path).encode(), digest_size=6).hexdigest()
        folder = str(path.parent)
        if folder not in sys.path:  # the file's sibling modules are importable, as for a script
            sys.path.insert(0, folder)
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            sys.modules.pop(name, None)
            raise UserModelError(f"{target}: import failed: {type(exc).__name__}: {exc}") from None
    else:
        try:
            module = importlib.import_module(target)
        except Exception as exc:
            raise UserModelError(f"{target}: import failed: {type(exc).__name__}: {exc}") from None
    builder = getattr(module, function, None)
    if builder is None:
        raise UserModelError(f"{target}: no function {function!r}")
    if not callable(builder):
        raise UserModelError(f"{target}: {function!r} is not a function")
    return builder


def _check_signature(builder, target: str, function: str, hyperparameters: dict) -> None:
    try:
        inspect.signature(builder).bind(1, 2, **hyperparameters)
    except TypeError as exc:
        raise UserModelError(
            f"{target}: {function}(n_points, n_classes, **hyperparameters) cannot be called with "
            f"hyperparameters {sorted(hyperparameters)}: {exc}"
        ) from None
    except ValueError:  # no signature (a builtin): the call will tell
        pass


def construct(architecture: str, n_points: int, n_classes: int, hyperparameters: dict, basedir="."):
    """The user's model: the builder called with the sizes and hyperparameters, checked."""
    return check_model(architecture, n_points, n_classes, hyperparameters, basedir=basedir)


def check_model(
    architecture: str,
    n_points: int = CHECK_POINTS,
    n_classes: int = CHECK_CLASSES,
    hyperparameters: dict | None = None,
    basedir: str | Path = ".",
):
    """Import, call and check a user builder; returns the (uncompiled) keras.Model.

    UserModelError naming the file unless the builder imports, takes (n_points, n_classes,
    **hyperparameters), returns a keras.Model with input (None, n_points) and output
    (None, n_classes) whose last layer is a softmax.
    """
    hyperparameters = dict(hyperparameters or {})
    for key in RESERVED:  # keys of the entry that are specbench's, not the builder's
        hyperparameters.pop(key, None)
    _, target, function = location(architecture, basedir)
    builder = load_builder(architecture, basedir)
    _check_signature(builder, target, function, hyperparameters)
    keras = _keras()

    try:
        model = builder(n_points, n_classes, **hyperparameters)
    except Exception as exc:
        raise UserModelError(
            f"{target}: {function}({n_points}, {n_classes}) failed: {type(exc).__name__}: {exc}"
        ) from None
    if not isinstance(model, keras.Model):
        raise UserModelError(
            f"{target}: {function} returned a {type(model).__name__}, not a keras.Model"
        )
    _check_shapes(model, target, function, n_points, n_classes)
    _check_softmax(model, target, function, n_points)
    return model


def _keras():
    """Keras, imported by name: only the checks of a user's model need it, and they run where
    Keras is installed (planning, with Snakemake's environment; training). The registry, which
    the tables import for the architectures' order, imports this module, so a plain import here
    would make the results environment (no Keras) seem to need it (tests/test_envs.py)."""
    return importlib.import_module("keras")


def _shape(tensor_or_list) -> tuple:
    if isinstance(tensor_or_list, (list, tuple)):
        if len(tensor_or_list) != 1:
            return ("several",)
        tensor_or_list = tensor_or_list[0]
    return tuple(tensor_or_list.shape)


def _check_shapes(model, target, function, n_points, n_classes) -> None:
    try:
        inputs, outputs = _shape(model.inputs), _shape(model.outputs)
    except (AttributeError, ValueError):  # a subclassed model without a defined input
        inputs = outputs = None
    if inputs is None:  # it would train, built on the first batch, and its file not load back
        raise UserModelError(
            f"{target}: {function}({n_points}, {n_classes}) returns a model without a defined "
            "input (a Sequential without keras.Input, a subclassed Model): begin it with "
            "keras.Input(shape=(n_points,))"
        )
    if tuple(inputs[1:]) != (n_points,):
        raise UserModelError(
            f"{target}: {function}({n_points}, {n_classes}) takes input of shape {inputs}, "
            f"expected (None, {n_points})"
        )
    if outputs is not None and tuple(outputs[1:]) != (n_classes,):
        raise UserModelError(
            f"{target}: {function}({n_points}, {n_classes}) gives output of shape {outputs}, "
            f"expected (None, {n_classes})"
        )


def _check_softmax(model, target, function, n_points) -> None:
    keras = _keras()
    import numpy as np

    x = np.random.default_rng(0).random((2, n_points), dtype=np.float32)
    try:
        y = np.asarray(keras.ops.convert_to_numpy(model(x, training=False)), dtype=np.float64)
    except Exception as exc:
        raise UserModelError(
            f"{target}: {function}'s model fails on a batch of shape (2, {n_points}): "
            f"{type(exc).__name__}: {exc}"
        ) from None
    if y.ndim != 2 or y.shape[0] != 2:
        raise UserModelError(f"{target}: {function}'s model gives output of shape {y.shape}")
    if not (np.all(y >= 0) and np.allclose(y.sum(axis=1), 1.0, atol=1e-3)):
        raise UserModelError(
            f"{target}: {function}'s model has no softmax output (rows do not sum to 1: "
            f"{np.round(y.sum(axis=1), 4).tolist()})"
        )


def check_in_subprocess(
    architecture: str,
    n_points: int,
    n_classes: int,
    hyperparameters: dict | None,
    backend: str,
    cwd: str | Path = ".",
) -> None:
    """:func:`check_model` in a fresh interpreter on Keras backend `backend` (the model's
    training.backend: a wrapped torch module needs torch, and the planning process has no
    backend of its own); UserModelError with the check's one line if it fails."""
    import json
    import os
    import subprocess

    command = [sys.executable, "-m", "specbench", "check-model", architecture, "--check-only"]
    command += ["--points", str(n_points), "--classes", str(n_classes)]
    for key, value in (hyperparameters or {}).items():
        command += ["--hp", f"{key}={json.dumps(value)}"]
    env = dict(os.environ, KERAS_BACKEND=backend, TF_CPP_MIN_LOG_LEVEL="3")
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(p for p in (src, env.get("PYTHONPATH")) if p)
    proc = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        lines = [line for line in proc.stderr.splitlines() if line.startswith("specbench: error: ")]
        message = lines[-1].removeprefix("specbench: error: ") if lines else proc.stderr.strip()
        raise UserModelError(message.splitlines()[-1] if message else f"exit {proc.returncode}")
