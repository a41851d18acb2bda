"""Code inputs derived from imports (specbench.workflow.codedeps) against an independent trace.

The trace runs in a fresh interpreter and lets Python's import system do the work: for each
script it executes the script's import statements (not the rest of the script, which needs
Snakemake's `snakemake` object), then, until nothing new loads, the import statements inside the
functions of every package module loaded so far (a function-level import runs whenever its
function is called), and reads the package's modules from `sys.modules`. Between targets the
package's modules are removed from `sys.modules`, so each target starts from none of them.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
from functools import cache
from pathlib import Path

import pytest
import yaml

from conftest import REPO, TINY_CONFIG, copy_workflow, snakemake

sys.path.insert(0, str(REPO / "src"))
from specbench.workflow import codedeps  # noqa: E402
from specbench.models import registry  # noqa: E402

SRC = REPO / "src"
SCRIPTS = sorted((REPO / "scripts").glob("*.py"))

TRACER = r"""
import dis, importlib, json, sys, types

src, package, *targets = sys.argv[1:]
sys.path.insert(0, src)


def ours(name):
    return name == package or name.startswith(package + ".")


def code_objects(code):
    yield code
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            yield from code_objects(const)


def run_imports(path, namespace):
    # Every import statement of the file (functions included) that names the package or is
    # relative, executed as its IMPORT_NAME instruction would: __import__(name, globals,
    # locals, fromlist, level).
    with open(path) as f:
        code = compile(f.read(), path, "exec")
    for co in code_objects(code):
        instructions = list(dis.get_instructions(co))
        for i, ins in enumerate(instructions):
            if ins.opname != "IMPORT_NAME":
                continue
            level, fromlist = instructions[i - 2], instructions[i - 1]
            assert level.opname in ("LOAD_CONST", "LOAD_SMALL_INT"), (path, level)
            assert fromlist.opname == "LOAD_CONST", (path, fromlist)
            if level.argval or ours(ins.argval):
                __import__(ins.argval, namespace, None, fromlist.argval, level.argval)


results = {}
for target in targets:
    for name in [name for name in sys.modules if ours(name)]:
        del sys.modules[name]
    if target.endswith(".py"):  # a script: its import statements, not its body
        run_imports(target, {"__name__": "__main__", "__package__": None})
    else:  # a module: imported
        importlib.import_module(target)
    done = set()
    while todo := [name for name in list(sys.modules) if ours(name) and name not in done]:
        for name in todo:
            done.add(name)
            file = getattr(sys.modules[name], "__file__", None)
            if file:
                run_imports(file, vars(sys.modules[name]))
    results[target] = sorted(
        module.__file__
        for name, module in sys.modules.items()
        if ours(name) and getattr(module, "__file__", None)
    )
print("TRACE" + json.dumps(results))
"""


def trace(targets: list[str], src: Path = SRC, package: str = "specbench") -> dict[str, set[Path]]:
    """Target (script path or module name) -> source files of the package's modules it loads."""
    env = dict(os.environ, KERAS_BACKEND="tensorflow", TF_CPP_MIN_LOG_LEVEL="3")
    env.pop("PYTHONPATH", None)
    proc = subprocess.run(
        [sys.executable, "-c", TRACER, str(src), package, *targets],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-5000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("TRACE"))
    return {k: {Path(f).resolve() for f in v} for k, v in json.loads(line[5:]).items()}


def module_files(names) -> set[Path]:
    return {codedeps.module_file(name) for name in names}


EXCLUDED_FILES = module_files(codedeps.EXCLUDED)
ARCHITECTURE_FILES = {Path(f).resolve() for n in registry.names() for f in registry.source_files(n)}


@cache
def package_trace() -> dict[str, set[Path]]:
    """The trace of every script and of every architecture's module, in one interpreter."""
    modules = sorted(
        {f"specbench.models.{arch.module}" for arch in registry.ARCHITECTURES.values()}
    )
    return trace([str(script) for script in SCRIPTS] + modules)


def traced_script(script: Path) -> set[Path]:
    """What the rule of `script` must declare as code inputs, according to the trace."""
    return package_trace()[str(script)] - EXCLUDED_FILES - ARCHITECTURE_FILES


def traced_architecture(name: str) -> set[Path]:
    module = f"specbench.models.{registry.architecture(name).module}"
    return package_trace()[module] - EXCLUDED_FILES


# ------------------------------------------------------------------- the workflow's inputs

JOB_START = re.compile(r"^(?:local)?rule (\w+):\s*$")


def planned_inputs(
    workdir: Path, configfile: str = "tiny.yaml"
) -> list[tuple[str, str, list[str]]]:
    """(rule, wildcards, input files) of every job that `snakemake -n` plans."""
    proc = snakemake(workdir, "-n", "--cores", "1", "--configfile", configfile)
    jobs: list[list] = []
    for line in proc.stdout.splitlines():
        if match := JOB_START.match(line):
            jobs.append([match.group(1), "", []])
        elif jobs and (match := re.match(r"^\s+input: (.*)$", line)):
            jobs[-1][2] = match.group(1).split(", ")
        elif jobs and (match := re.match(r"^\s+wildcards: (.*)$", line)):
            jobs[-1][1] = match.group(1)
    return [tuple(job) for job in jobs]


@pytest.mark.slow
def test_every_rules_code_inputs_equal_the_trace_of_its_script(tmp_path):
    """Each job's package inputs, as Snakemake plans them, are what its script loads (trace).

    For training jobs also what the architecture's module loads (its own module, blocks, ...).
    """
    workdir = copy_workflow(tmp_path / "wf")
    # the tiny config plus a noise sweep with a swept experiment: every rule has a job
    cfg = yaml.safe_load(TINY_CONFIG.read_text())
    cfg["datasets"]["bench"]["sweep"] = {
        "clean": {},
        "snr30": {
            "render": {"noise": {"kind": "gaussian", "snr": 30}},
            "test": {"noise": {"kind": "gaussian", "snr": 30}},
        },
    }
    cfg["experiments"]["robustness"] = {
        "dataset": "bench",
        "sweep": True,
        "seeds": [0],
        "models": {"vgg": {"architecture": "vgg"}},
    }
    (workdir / "all-rules.yaml").write_text(yaml.safe_dump(cfg))
    architectures = {}
    for experiment in cfg["experiments"].values():
        for model, entry in experiment["models"].items():
            architectures[model] = entry["architecture"]
    jobs = planned_inputs(workdir, "all-rules.yaml")
    rules = {rule for rule, _, _ in jobs} - {"all"}
    assert rules == {script.stem for script in SCRIPTS}, "every script is a rule's, named after it"
    checked = set()
    for rule, wildcards, inputs in jobs:
        if rule == "all":
            continue
        declared = {(workdir / f).resolve() for f in inputs if f.startswith("src/")}
        expected = traced_script(REPO / "scripts" / f"{rule}.py")
        if rule == "train_model":
            model = re.search(r"model=(\w+)", wildcards).group(1)
            expected |= traced_architecture(architectures[model])
        # the trace ran on the repository's src/, Snakemake on the copy's
        expected = {workdir / path.relative_to(REPO) for path in expected}
        assert expected, rule
        assert declared == expected, (
            f"{rule}[{wildcards}]: declared but not loaded: {sorted(map(str, declared - expected))}"
            f"; loaded but not declared: {sorted(map(str, expected - declared))}"
        )
        checked.add(rule)
    assert checked == rules


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.stem)
def test_package_sources_equal_the_trace(script):
    assert set(codedeps.package_sources(script)) == traced_script(script)


@pytest.mark.parametrize("name", registry.names())
def test_architecture_sources_equal_the_trace(name):
    sources = set(codedeps.architecture_sources(name))
    assert sources == traced_architecture(name)
    assert {Path(f).resolve() for f in registry.source_files(name)} <= sources
    # only its own architecture module
    others = ARCHITECTURE_FILES - {Path(f).resolve() for f in registry.source_files(name)}
    assert not sources & others


def test_known_dependencies():
    """The three gaps of the hand-written lists, closed (README: Rerunning only what changed)."""
    scripts = {script.stem: script for script in SCRIPTS}

    def sources(rule):
        return {p.relative_to(SRC).as_posix() for p in codedeps.package_sources(scripts[rule])}

    assert "specbench/models/macs.py" in sources("evaluate_model")
    assert "specbench/models/macs.py" not in sources("train_model")
    assert "specbench/results/tables/common.py" in sources("plot_loss_curves")  # display order
    assert not any(
        s.startswith("specbench/results/tables/") for s in sources("plot_class_variation")
    )
    assert "specbench/data/variants.py" in sources("generate_classes")
    assert "specbench/models/blocks.py" not in sources("train_model")  # the architectures'
    assert all("specbench/workflow/logs.py" not in sources(rule) for rule in scripts)


FIGURES = (
    "misclassifications",
    "activation",
    "modifications",
    "loss_curves",
    "class_variation",
    "confused_pair",
)
TABLES = {"runs": "runs", "summary": "summary", "confusions": "confusions", "runtimes": "runtimes"}


def test_each_figure_and_table_depends_on_its_own_module_and_the_shared_ones_only():
    """The packages' __init__.py import none of their modules: a figure's rule has its own
    module and the shared helpers (style, layout) as code inputs, no other figure's module."""
    scripts = {script.stem: script for script in SCRIPTS}
    for figure in FIGURES:
        found = {
            p.relative_to(SRC).as_posix()
            for p in codedeps.package_sources(scripts[f"plot_{figure}"])
        }
        own = {f"specbench/results/figures/{name}.py" for name in FIGURES} & found
        assert own == {f"specbench/results/figures/{figure}.py"}, figure
        assert {
            "specbench/results/figures/style.py",
            "specbench/results/figures/layout.py",
        } <= found
    for rule, table in TABLES.items():
        found = {
            p.relative_to(SRC).as_posix()
            for p in codedeps.package_sources(scripts[f"aggregate_{rule}"])
        }
        assert not any(p.startswith("specbench/results/figures/") for p in found), rule
        assert f"specbench/results/tables/{table}.py" in found
        others = {f"specbench/results/tables/{name}.py" for name in TABLES.values()} - {
            f"specbench/results/tables/{table}.py"
        }
        # the summary reads runs.csv (tables.runs.read_runs); nothing else crosses
        assert found & others <= (
            {"specbench/results/tables/runs.py"} if rule == "summary" else set()
        )


# ------------------------------------------------------------- the analysis, on a toy package

TOY = {
    "toypkg/__init__.py": "VERSION = 1\n",
    "toypkg/core.py": "from . import util\nfrom .sub.deep import value\n",
    "toypkg/util.py": "import os\n",
    "toypkg/lazy.py": "def f():\n    from .sub import other\n    import toypkg.never_eager\n",
    "toypkg/never_eager.py": "",
    "toypkg/named.py": "import importlib\nM = importlib.import_module('toypkg.by_name')\n",
    "toypkg/by_name.py": "",
    "toypkg/unused.py": "",
    "toypkg/sub/__init__.py": "from ..util import os as _os\n",
    "toypkg/sub/deep.py": "from toypkg import VERSION\nvalue = VERSION\n",
    "toypkg/sub/other.py": "from .. import core\n",
}
TOY_SCRIPT = textwrap.dedent("""
    import json
    from toypkg.core import util
    import toypkg.named

    with open(snakemake.log[0]) as f:
        from toypkg import lazy
    """)


@pytest.fixture
def toy(tmp_path):
    src = tmp_path / "src"
    for rel, text in TOY.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_text(text)
    script = tmp_path / "script.py"
    script.write_text(TOY_SCRIPT)
    return src, script


def test_analysis_of_a_toy_package_equals_its_trace(toy):
    src, script = toy
    found = codedeps.loaded_modules(script, src=src, package="toypkg")
    # relative imports, parents' __init__s, `from pkg import module`, function-level imports;
    # not: a module imported by a computed name, nor one nobody imports
    assert found == {
        "toypkg",
        "toypkg.core",
        "toypkg.util",
        "toypkg.sub",
        "toypkg.sub.deep",
        "toypkg.sub.other",
        "toypkg.lazy",
        "toypkg.never_eager",
        "toypkg.named",
    }
    traced = trace([str(script)], src=src, package="toypkg")[str(script)]
    expected = {codedeps.module_file(name, src=src).resolve() for name in found}
    # the trace also sees toypkg.by_name, which toypkg.named imports by name when imported
    assert traced - {(src / "toypkg" / "by_name.py").resolve()} == expected

    # a module of the package is analysed as itself, its packages and its imports
    assert codedeps.loaded_modules(
        src / "toypkg" / "sub" / "other.py", src=src, package="toypkg"
    ) == {
        "toypkg",
        "toypkg.sub",
        "toypkg.sub.other",
        "toypkg.core",
        "toypkg.util",
        "toypkg.sub.deep",
    }


def test_analysis_errors_name_the_file_and_line(toy, tmp_path):
    src, _ = toy
    script = tmp_path / "bad.py"
    script.write_text("import json\nfrom . import core\n")
    with pytest.raises(ValueError, match=r"bad\.py:2: relative import"):
        codedeps.loaded_modules(script, src=src, package="toypkg")
    script.write_text("def f():\n    from toypkg import missing_module\n    import toypkg.gone\n")
    with pytest.raises(ValueError, match=r"bad\.py:3: imports toypkg\.gone, which has no source"):
        codedeps.loaded_modules(script, src=src, package="toypkg")
    (src / "toypkg" / "util.py").write_text("from ... import x\n")
    with pytest.raises(ValueError, match=r"util\.py:1: relative import beyond the top-level"):
        codedeps.loaded_modules(src / "toypkg" / "util.py", src=src, package="toypkg")


def test_a_cached_test_split_fingerprint_is_keyed_by_all_the_code_it_runs():
    """Baselines' fingerprint cache (specbench.workflow.baselines) is stale when any code the
    fingerprint runs changes: every package module that computing one really loads, in a fresh
    interpreter, is among the files its key digests (once only specbench/data/*.py)."""
    import subprocess
    import sys

    from specbench.workflow import baselines, validation

    config = yaml.safe_load((REPO / "tests" / "configs" / "tiny.yaml").read_text())
    validation.prepare_config(config, basedir=str(REPO))
    code = (
        "import json, sys\n"
        "from specbench.data import fingerprint\n"
        f"fingerprint.of_dataset(json.loads({json.dumps(json.dumps(config['datasets']['bench']))}),"
        " name='bench')\n"
        "print('\\n'.join(m.__file__ for n, m in sys.modules.items()"
        " if n.split('.')[0] == 'specbench' and getattr(m, '__file__', None)))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = {Path(line).resolve() for line in out.stdout.split()}
    keyed = {path.resolve() for path in baselines.fingerprint_code()}
    assert any(path.parent.name == "core" for path in loaded)  # not only data/
    assert loaded <= keyed, sorted(map(str, loaded - keyed))
