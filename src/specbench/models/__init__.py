"""The benchmarked 1-D CNN architectures (Keras 3) and their registry.

Importing this package does not import Keras: the registry functions are plain Python and
:func:`build` / :func:`count_macs` import Keras only when called.
"""

from specbench.models.macs import count_macs
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
    "count_macs",
    "names",
    "source_files",
]
