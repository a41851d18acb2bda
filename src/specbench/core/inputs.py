"""The Snakemake adapter: a rule's input as the one path a job function takes."""

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
