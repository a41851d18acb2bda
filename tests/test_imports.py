"""No import cycles in src/specbench, and every module imports alone.

The import graph is read statically (specbench.workflow.codedeps: every import statement, also those inside
functions, which run whenever their function is called; a deferred import does not break a cycle,
it only hides it until the function runs). An edge from a module to its own enclosing packages is
left out: Python initialises a module's packages before the module, whatever it imports.
"""

from __future__ import annotations

import ast
import concurrent.futures
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from conftest import REPO

sys.path.insert(0, str(REPO / "src"))
from specbench.workflow import codedeps  # noqa: E402

SRC = REPO / "src"


def import_graph(src: Path = SRC, package: str = "specbench") -> dict[str, set[str]]:
    """{module: the package modules it imports} (edges to its own enclosing packages left out)."""
    graph = {}
    for name in codedeps.module_names(src=src, package=package):
        imported = codedeps.imported_modules(name, src=src, package=package)
        graph[name] = {m for m in imported if not name.startswith(m + ".")}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as [a, b, ..., a], or None (depth-first search, iterative)."""
    done: set[str] = set()
    for root in sorted(graph):
        if root in done:
            continue
        path, on_path = [root], {root}
        stack = [iter(sorted(graph[root]))]
        while stack:
            step = next(stack[-1], None)
            if step is None:
                stack.pop()
                done.add(path[-1])
                on_path.discard(path.pop())
            elif step in on_path:
                return path[path.index(step) :] + [step]
            elif step not in done:
                path.append(step)
                on_path.add(step)
                stack.append(iter(sorted(graph.get(step, ()))))
    return None


def test_the_package_has_no_import_cycle():
    graph = import_graph()
    assert "specbench.training.train" in graph and "specbench.models.registry" in graph
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def stated_directions(src: Path = SRC, package: str = "specbench") -> dict[str, set[str]]:
    """{subpackage: the subpackages it may import}, read from the "May import:" sentence of each
    subpackage's __init__ docstring (the rule is stated once, where a reader of the code sees it).
    """
    rules = {}
    for init in sorted((src / package).glob("*/__init__.py")):
        doc = ast.get_docstring(ast.parse(init.read_text())) or ""
        assert "May import:" in doc, f"{init}: its docstring states no 'May import:'"
        stated = re.split(r"\(|This file|\n\n", doc.split("May import:", 1)[1])[0]
        names = set(re.findall(rf"{package}\.([a-z_]+)", stated))
        rules[init.parent.name] = {name for name in names if (src / package / name).is_dir()}
    return rules


def direction_violations(graph: dict[str, set[str]], rules: dict[str, set[str]]) -> list[str]:
    """Imports from one subpackage into another that its rule does not allow ("a.m -> b.n")."""
    found = []
    for module, imported in sorted(graph.items()):
        parts = module.split(".")
        if len(parts) < 3 or parts[1] not in rules:  # the top-level modules: entry points
            continue
        for other in sorted(imported):
            target = other.split(".")[1] if other.count(".") else None
            if target in (None, parts[1]) or target not in rules:
                continue
            if target not in rules[parts[1]]:
                found.append(f"{module} -> {other}")
    return found


def test_subpackages_import_only_in_their_stated_direction():
    """data <- training <- evaluation <- results, workflow and cli on top (core and models below
    all): what each subpackage's docstring says it may import is all it imports."""
    rules = stated_directions()
    assert set(rules) == {
        "core",
        "models",
        "data",
        "training",
        "evaluation",
        "results",
        "workflow",
        "cli",
    }
    assert rules["core"] == set() and rules["training"] == {"core", "models", "data"}
    assert direction_violations(import_graph(), rules) == []
    # the check can fail: a stage importing a later one is reported
    graph = {"specbench.data.render": {"specbench.training.train", "specbench.core.atomic"}}
    assert direction_violations(graph, rules) == [
        "specbench.data.render -> specbench.training.train"
    ]


def test_the_top_level_holds_only_subpackages_and_entry_modules():
    top = sorted(p.name for p in (SRC / "specbench").iterdir() if p.suffix == ".py")
    assert top == ["__init__.py", "__main__.py"]


def test_a_cycle_through_a_function_level_import_is_found(tmp_path):
    """The check can fail: a deferred import closing a cycle, as callbacks/training had."""
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from pkg.sub import c  # noqa\n")
    (pkg / "a.py").write_text("from pkg.b import x\n")
    (pkg / "b.py").write_text("x = 1\n\ndef f():\n    from pkg import a\n    return a\n")
    (pkg / "sub" / "c.py").write_text("from pkg.sub import d\n")  # sibling: no cycle
    (pkg / "sub" / "d.py").write_text("import pkg.sub\n")  # its own package: no cycle
    graph = import_graph(tmp_path, "pkg")
    assert graph["pkg.b"] == {"pkg.a"} and graph["pkg.sub.d"] == set()
    assert graph["pkg.sub"] == {"pkg.sub.c"} and graph["pkg.sub.c"] == {"pkg.sub.d"}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.a"]
    (pkg / "b.py").write_text("x = 1\n")
    assert find_cycle(import_graph(tmp_path, "pkg")) is None


@pytest.mark.slow
def test_every_module_imports_alone_in_a_fresh_interpreter():
    """Each module imported first, in its own interpreter (a top-level cycle would fail here).
    ``__main__`` modules are left out: importing one runs it (``python -m specbench``)."""
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("PYTHONPATH", None)
    script = textwrap.dedent("""
        import importlib, sys
        sys.path.insert(0, sys.argv[1])
        importlib.import_module(sys.argv[2])
        """)
    names = [n for n in codedeps.module_names() if n.rpartition(".")[2] != "__main__"]
    assert len(names) > 40  # the walk found the package

    def import_alone(name):
        return subprocess.run(
            [sys.executable, "-c", script, str(SRC), name],
            capture_output=True,
            text=True,
            env=env,
            timeout=300,
        )

    # one interpreter per core at a time (each is independent; the CPU is what they wait for)
    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        procs = dict(zip(names, pool.map(import_alone, names)))
    failed = {name: proc.stderr[-2000:] for name, proc in procs.items() if proc.returncode != 0}
    assert not failed, failed


#: The largest module the project keeps (issue 20): past it, a module is split by responsibility.
MAX_MODULE_LINES = 450


def test_no_module_over_the_size_limit():
    sizes = {
        str(path.relative_to(SRC)): len(path.read_text().splitlines())
        for path in sorted((SRC / "specbench").rglob("*.py"))
    }
    assert len(sizes) > 40  # the walk found the package
    too_long = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    assert not too_long, f"modules over {MAX_MODULE_LINES} lines: {too_long}"
