"""The Snakemake adapter: a rule's input as the one path a job function takes, paths that a
config names (relative to the working directory, else to the workflow's), and whether a cell of
a user's text file is a number (peak lists, spectrum exports)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any


def single_path(value: Any, name: str) -> Path:
    """`value` as one path: a str/PathLike, or a list of exactly one (as Snakemake passes an
    input given by a function that returns a list); ValueError naming `name` otherwise."""
    if isinstance(value, (str, os.PathLike)):
        return Path(value)
    items = list(value)
    if len(items) != 1 or not isinstance(items[0], (str, os.PathLike)):
        raise ValueError(f"{name} must be one file, got {items!r}")
    return Path(items[0])


#: The workflow's own directory: the source checkout holding src/specbench (the Snakefile's).
WORKFLOW_DIR = Path(__file__).resolve().parents[3]


def config_path(path: str | os.PathLike, workdir: str | os.PathLike = ".") -> Path:
    """A file or folder named in a config (a user builder's ``FILE.py``, a baseline bundle):
    relative to the working directory; where nothing is there, relative to the workflow's own
    directory, so that the shipped examples work from any ``snakemake --directory``."""
    path = Path(path)
    here = Path(workdir) / path
    if path.is_absolute() or here.exists():
        return here
    fallback = WORKFLOW_DIR / path
    return fallback if fallback.exists() else here


def is_number(text: str) -> bool:
    """Whether `text` (a cell of a user's text file) is a number that float() reads."""
    try:
        float(text)
    except ValueError:
        return False
    return True
