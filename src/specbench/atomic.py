"""Atomic file writes: a reader (or a rerun after a crash) never sees half a file.

:func:`atomic_path` is the one way the package writes a result file whole or not at all
(specbench.io re-exports it). It lives in a module of its own, importing the standard library
only, so that the code inputs of a job that writes files (specbench.codedeps) do not grow by
the Parquet layer, and the workflow can use it while it is planned (specbench.condaenvs).
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

    The temporary file is ``.<stem>.tmp-<pid><suffix>`` in the same directory (same file
    system, so the rename is atomic; the same suffix, so writers that infer a format from the
    name, such as matplotlib's savefig, write the right one; the process id, so parallel writers
    never share one). On an exception it is removed and `path` is left as it was. `mkdir`:
    create the parent directory first.
    """
    path = Path(path)
    if mkdir:
        path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
