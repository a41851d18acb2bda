"""Atomic file writes: a reader (or a rerun after a crash) never sees half a file.

:func:`atomic_path` is the one way the package writes a result file whole or not at all
(specbench.data.splits uses it). It lives in a module of its own, importing the standard library
only, so that the code inputs of a job that writes files (specbench.workflow.codedeps) do not grow by
the Parquet layer, and the workflow can use it while it is planned (specbench.workflow.condaenvs).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

__all__ = ["atomic_path"]


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, *, mkdir: bool = True) -> Iterator[Path]:
    """Yield a temporary sibling of `path` to write, renamed to `path` when the block succeeds.

    The temporary file is ``.<stem>.tmp-<pid><suffixes>`` in the same directory (same file
    system, so the rename is atomic; the same suffixes, so writers that infer a format from the
    name write the right one: matplotlib's savefig, Keras' ``.keras`` and ``.weights.h5``; the
    process id, so parallel writers never share one). On an exception it is removed and `path` is left as it was. `mkdir`:
    create the parent directory first.
    """
    path = Path(path)
    if mkdir:
        path.parent.mkdir(parents=True, exist_ok=True)
    suffixes = "".join(path.suffixes)
    stem = path.name[: len(path.name) - len(suffixes)] if suffixes else path.name
    tmp = path.with_name(f".{stem}.tmp-{os.getpid()}{suffixes}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
