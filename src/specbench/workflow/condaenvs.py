"""The rules' conda environments (envs/*.yaml), handed to conda with Snakemake's own Python.

A `script:` job in a conda environment runs on the environment's Python, and Snakemake's
preamble unpickles the `snakemake` object there with Snakemake's own modules (it appends the
running Snakemake's sys.path): the job's Python must be the one Snakemake runs on. So the env
files allow every supported Python (``python >=3.11,<3.14``, pyproject.toml's requires-python)
and the workflow (rules/common.smk, ``conda_env(name)``) gives conda a copy of the file with
that line replaced by the running Python's minor version (``python =3.12``), written under
``.snakemake/specbench/envs/python3.12/``. Snakemake identifies an environment by the file's
content: every Python version gets its own environment, created once.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from specbench.core.atomic import atomic_path

__all__ = ["pinned", "python_range", "render"]

# `  - python >=3.11,<3.14  # comment` (one such line per env file)
_PYTHON = re.compile(
    r"^(?P<lead>[ \t]*-[ \t]*)python(?P<spec>[ \t]*[<>=!~][^#\n]*?)?[ \t]*(#.*)?$", re.M
)
_CLAUSE = re.compile(r"^(>=|<=|==|=|<|>)\s*(\d+)\.(\d+)$")


def python_range(text: str) -> str:
    """The Python specifier of an env file's text (e.g. '>=3.11,<3.14'); ValueError unless it
    has exactly one `python` dependency."""
    found = list(_PYTHON.finditer(text))
    if len(found) != 1:
        raise ValueError(f"an env file needs one `- python` dependency, found {len(found)}")
    return (found[0]["spec"] or "").strip()


def _allows(spec: str, version: tuple[int, int]) -> bool:
    for clause in filter(None, (c.strip() for c in spec.split(","))):
        m = _CLAUSE.match(clause)
        if not m:
            raise ValueError(f"python {spec}: cannot read {clause!r} (use e.g. >=3.11,<3.14)")
        op, bound = m.group(1), (int(m.group(2)), int(m.group(3)))
        ok = {
            ">=": version >= bound,
            "<=": version <= bound,
            "<": version < bound,
            ">": version > bound,
            "==": version == bound,
            "=": version == bound,
        }[op]
        if not ok:
            return False
    return True


def pinned(text: str, version: tuple[int, int] | None = None) -> str:
    """`text` of an env file with its python dependency pinned to `version` (default: this
    Python's), e.g. ``- python =3.12``; ValueError if the file's range excludes it."""
    version = tuple(version or sys.version_info[:2])
    spec = python_range(text)
    if not _allows(spec, version):
        raise ValueError(
            f"Snakemake runs on Python {version[0]}.{version[1]}, which the conda environments "
            f"do not support (python {spec}, as pyproject.toml's requires-python)"
        )
    return _PYTHON.sub(lambda m: f"{m['lead']}python ={version[0]}.{version[1]}", text)


def render(
    source: str | Path, directory: str | Path, version: tuple[int, int] | None = None
) -> Path:
    """Write `source` pinned to `version` as `directory`/python3.X/<name>.yaml (only when its
    content changes; atomically, as parallel jobs may parse the workflow at once)."""
    source = Path(source)
    version = tuple(version or sys.version_info[:2])
    text = (
        f"# Written by the workflow from {source.name} with Python pinned to Snakemake's "
        f"({version[0]}.{version[1]}): edit envs/{source.name}, not this copy.\n"
        + pinned(source.read_text(), version)
    )
    dest = Path(directory) / f"python{version[0]}.{version[1]}" / source.name
    if dest.is_file() and dest.read_text() == text:
        return dest
    with atomic_path(dest) as tmp:
        tmp.write_text(text)
    return dest
