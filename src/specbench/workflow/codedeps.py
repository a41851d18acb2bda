"""The package source files a job's results depend on, derived from import statements.

Snakemake reruns a job when one of its input files changes. Every rule that runs a script
declares, as its ``code`` input, the source files of the package modules the script runs
(rules/common.smk: ``script_sources``), and the training jobs also their architecture's module
(``get_model_sources``); this module derives these lists, so that none is written by hand and
editing a module reruns exactly the jobs that use it.

The derivation reads import statements with :mod:`ast` (nothing is imported) and follows the
package's own modules transitively, counting what Python's import system loads:

- every ``import``/``from ... import`` statement of a file, also those inside functions (the
  package imports heavy or optional modules lazily; such an import runs whenever its function
  is called);
- ``import a.b.c`` and ``from a.b.c import x`` load the packages ``a`` and ``a.b`` too, whose
  ``__init__.py`` runs (and so do its imports);
- ``from a.b import c`` loads the submodule ``a.b.c`` when there is one;
- relative imports (``from . import x``, ``from ..io import y``) are resolved against the
  importing module.

Not followed: modules imported by a computed name (``importlib.import_module(name)``). The model
registry imports each architecture's module so; an architecture's module (and what it imports)
is an input of that architecture's jobs only (:func:`architecture_sources`), never of every job
that uses the registry. ``from package import *`` counts the package itself only.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable
from pathlib import Path

__all__ = [
    "EXCLUDED",
    "PACKAGE",
    "SRC_DIR",
    "architecture_modules",
    "architecture_sources",
    "imported_modules",
    "loaded_modules",
    "module_file",
    "module_names",
    "package_sources",
]

PACKAGE = __name__.partition(".")[0]
#: The directory holding the package (src/).
SRC_DIR = Path(__file__).resolve().parents[2]

#: Package modules that cannot change a result, so that editing them reruns nothing:
#: module name -> the reason.
EXCLUDED: dict[str, str] = {
    "specbench.workflow.logs": "only where a job's log lines go (the log files are not results)",
}


def module_file(name: str, *, src: Path = SRC_DIR) -> Path | None:
    """Source file of module `name` under `src` (a package's ``__init__.py``); None if none.

    A package directory wins over a module file of the same name, as in Python's import system.
    """
    base = src.joinpath(*name.split("."))
    for path in (base / "__init__.py", base.with_suffix(".py")):
        if path.is_file():
            return path
    return None


def _module_name(path: Path, src: Path) -> str | None:
    """Module name of the file `path` if it lies under `src` (None for a script elsewhere)."""
    try:
        rel = path.resolve().relative_to(src.resolve())
    except ValueError:
        return None
    parts = list(rel.with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _with_parents(name: str) -> list[str]:
    """'a.b.c' -> ['a', 'a.b', 'a.b.c']: importing a module first loads its packages."""
    parts = name.split(".")
    return [".".join(parts[:i]) for i in range(1, len(parts) + 1)]


def _in_package(name: str, package: str) -> bool:
    return name == package or name.startswith(package + ".")


def _imports(path: Path, module: str | None, src: Path, package: str) -> frozenset[str]:
    """Modules of `package` that the import statements of file `path` load (not transitively).

    `module` is the file's module name (None for a script, which may not import relatively).
    Cached per file version (planning asks for every training job's architecture).
    """
    stat = path.stat()
    return _parsed_imports(path, stat.st_mtime_ns, stat.st_size, module, src, package)


@functools.lru_cache(maxsize=1024)
def _parsed_imports(
    path: Path, mtime_ns: int, size: int, module: str | None, src: Path, package: str
) -> frozenset[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                if module is None:
                    raise ValueError(
                        f"{path}:{node.lineno}: relative import in a file outside {src}"
                    )
                here = module if path.name == "__init__.py" else module.rpartition(".")[0]
                parts = here.split(".") if here else []
                if node.level - 1 >= len(parts):
                    raise ValueError(
                        f"{path}:{node.lineno}: relative import beyond the top-level package"
                    )
                base = ".".join(parts[: len(parts) - (node.level - 1)])
                if node.module:
                    base = f"{base}.{node.module}"
            else:
                base = node.module
            found = [base]
            # `from a.b import c` loads the submodule a.b.c if there is one (else c is a name).
            found += [
                f"{base}.{alias.name}"
                for alias in node.names
                if alias.name != "*" and module_file(f"{base}.{alias.name}", src=src)
            ]
        else:
            continue
        for name in found:
            if not _in_package(name, package):
                continue
            if module_file(name, src=src) is None:
                raise ValueError(
                    f"{path}:{node.lineno}: imports {name}, which has no source file in {src}"
                )
            names.update(_with_parents(name))
    return frozenset(names)


def module_names(*, src: Path = SRC_DIR, package: str = PACKAGE) -> list[str]:
    """Names of every module of `package` under `src` (a package by its own name), sorted."""
    names = {_module_name(path, src) for path in (src / package).rglob("*.py")}
    return sorted(name for name in names if name is not None)


def imported_modules(name: str, *, src: Path = SRC_DIR, package: str = PACKAGE) -> set[str]:
    """Modules of `package` that the import statements of module `name` load, not transitively.

    Every statement counts, also inside functions, with the packages it loads first (``import
    a.b.c`` loads ``a`` and ``a.b``); the module itself is left out. tests/test_imports.py walks
    this graph to keep the package free of import cycles.
    """
    file = module_file(name, src=src)
    if file is None:
        raise ValueError(f"no module {name} in {src}")
    return set(_imports(file, name, src, package)) - {name}


def loaded_modules(path: Path | str, *, src: Path = SRC_DIR, package: str = PACKAGE) -> set[str]:
    """Names of the modules of `package` that running file `path` loads, transitively.

    `path` is a script or a module under `src` (then it counts itself and its packages). Every
    import statement counts, also inside functions; imports by computed name do not.
    """
    path = Path(path)
    module = _module_name(path, src)
    loaded: set[str] = set()
    todo: set[str] = set()
    if module is not None:
        todo.update(_with_parents(module))
    else:
        todo.update(_imports(path, None, src, package))
    while todo:
        name = todo.pop()
        loaded.add(name)
        file = module_file(name, src=src)
        if file is not None:  # None: a namespace package, which has no code
            todo.update(_imports(file, name, src, package) - loaded)
    return loaded


def architecture_modules() -> set[str]:
    """Modules of the registered architectures (imported by the registry, by name)."""
    from specbench.models import registry

    return {f"{registry.__package__}.{arch.module}" for arch in registry.ARCHITECTURES.values()}


def _files(modules: Iterable[str]) -> list[Path]:
    return sorted(file for file in map(module_file, modules) if file is not None)


def package_sources(script: Path | str) -> list[Path]:
    """Source files of the package modules that `script` runs: the code inputs of its rule.

    Excluded: :data:`EXCLUDED` and the architectures' modules, which are inputs of their own
    architecture's jobs (:func:`architecture_sources`).
    """
    modules = loaded_modules(script) - set(EXCLUDED) - architecture_modules()
    return _files(modules)


def architecture_sources(name: str) -> list[Path]:
    """Source files of architecture `name`'s module and of the package modules it loads.

    The inputs that only the jobs of this architecture have (plus those shared with every
    training job, e.g. models/blocks.py and the registry). Excluded: :data:`EXCLUDED`.
    """
    from specbench.models import registry

    modules: set[str] = set()
    own: list[Path] = []
    for file in registry.source_files(name):
        modules |= loaded_modules(file)
        if not registry.is_published(name):  # a user's files (specbench.models.user)
            own.append(Path(file))
    return sorted(set(own) | set(_files(modules - set(EXCLUDED))))
