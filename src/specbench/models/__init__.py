"""The benchmarked 1-D CNN architectures (Keras 3) and their registry.

Importing this package does not import Keras: the registry functions are plain Python and
:func:`build` imports Keras only when called. It loads nothing but the registry, so that the
jobs using the registry do not depend on (and rerun for edits of) other modules:
``count_macs`` lives in :mod:`specbench.models.macs` (re-exported by specbench.evaluation.evaluate).

May import: specbench.core.
"""

from specbench.models.registry import (
    ACTIVATIONS,
    ARCHITECTURES,
    Architecture,
    HyperparameterError,
    architecture,
    build,
    check,
    names,
    source_files,
)

__all__ = [
    "ACTIVATIONS",
    "ARCHITECTURES",
    "Architecture",
    "HyperparameterError",
    "architecture",
    "build",
    "check",
    "names",
    "source_files",
]
