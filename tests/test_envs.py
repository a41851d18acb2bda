"""The conda environments of the rules (envs/*.yaml) against the code and the tested versions.

Conda is not needed: for every rule with a `conda:` directive, its script's imports are followed
(with ast) through the specbench modules it uses, and every third-party package found must be
pinned in the rule's environment, to the version installed here, which is pyproject.toml's pin.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from functools import cache
from pathlib import Path

import pytest
import yaml

from specbench.workflow import condaenvs

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src"
ENVS = ("datasets", "training", "results")

# PyPI distribution (normalised name) -> conda-forge package, where they differ.
CONDA_NAMES = {"pyyaml": "pyyaml", "tensorflow-cpu": "tensorflow", "torch": "pytorch"}
# Top-level imports that jobs get from outside their environment: the workflow's own package
# (src/ on PYTHONPATH, rules/common.smk) and Snakemake (its script preamble adds its own path).
NOT_FROM_ENV = {"specbench", "snakemake"}
# What a conda-forge package pulls in by itself on conda-forge but is pinned too, for agreement.
EXTRA_PINS = {"jax": {"jaxlib"}}

PIN = re.compile(r"^(?P<name>[a-z0-9][a-z0-9._-]*) ==(?P<version>[0-9][^\s=,*]*)$")
PYTHON_RANGE = re.compile(r"^python (?P<spec>>=3\.\d+,<3\.\d+)$")


def normalise(name: str) -> str:
    """PEP 503 normalised distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def public_version(version: str) -> str:
    """'2.13.0+cpu' -> '2.13.0' (a local version label is a wheel's build, not a version)."""
    return version.split("+")[0]


# ----------------------------------------------------------------------------- the rules


def parse_rules() -> dict[str, dict]:
    """rule name -> {'file', 'conda' (Path or None), 'script' (Path or None), 'architectures'}."""
    rules = {}
    for smk in sorted((REPO / "rules").glob("*.smk")):
        text = smk.read_text()
        starts = [(m.start(), m.group(1)) for m in re.finditer(r"^rule (\w+):", text, re.M)]
        for i, (start, name) in enumerate(starts):
            end = starts[i + 1][0] if i + 1 < len(starts) else len(text)
            block = text[start:end]

            def directive(key):
                m = re.search(rf"^    {key}:\s*\n\s+\"([^\"]+)\"", block, re.M)
                return (smk.parent / m.group(1)).resolve() if m else None

            def conda():
                """`conda: conda_env("x")` -> envs/x.yaml (or a path literal's file)."""
                m = re.search(r"^    conda:\s*\n\s+conda_env\(\"(\w+)\"\)", block, re.M)
                return REPO / "envs" / f"{m.group(1)}.yaml" if m else directive("conda")

            rules[name] = {
                "file": smk.name,
                "conda": conda(),
                # conda_env() pins python to Snakemake's; a path literal would not
                "conda_env_call": "conda_env(" in block,
                "script": directive("script"),
                # train_model declares its architecture's source files as inputs
                "architectures": "get_model_sources" in block,
            }
    return rules


RULES = parse_rules()
CONDA_RULES = {name: rule for name, rule in RULES.items() if rule["conda"] is not None}


# ------------------------------------------------------------------------------ imports


def module_path(module: str) -> Path | None:
    """The source file of a specbench module (None if there is none)."""
    base = SRC.joinpath(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def resolve_from(node: ast.ImportFrom, module: str, path: Path) -> str:
    """Absolute module name of a `from ... import` (relative imports included)."""
    if not node.level:
        return node.module or ""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    parts = package.split(".")
    base = ".".join(parts[: len(parts) - node.level + 1])
    return f"{base}.{node.module}" if node.module else base


class _Imports(ast.NodeVisitor):
    """Collects the imports of one module, telling apart those run when it is imported."""

    def __init__(self, module: str, path: Path):
        self.module, self.path = module, path
        self.eager: set[str] = set()  # run when the module is imported
        self.lazy: set[str] = set()  # inside functions: run when the function is called
        self.attributes: set[str] = set()
        self.depth = 0

    def _function(self, node):
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_FunctionDef = visit_AsyncFunctionDef = visit_Lambda = _function

    def _add(self, names):
        (self.lazy if self.depth else self.eager).update(names)

    def visit_Import(self, node):
        self._add(alias.name for alias in node.names)

    def visit_ImportFrom(self, node):
        base = resolve_from(node, self.module, self.path)
        # `from specbench.models import registry` uses the submodule (its package is only
        # loaded); `from specbench.data.splits import read_split` uses the module itself.
        names = set()
        for alias in node.names:
            sub = f"{base}.{alias.name}"
            names.add(sub if module_path(sub) is not None else base)
        self._add(names)

    def visit_Attribute(self, node):
        self.attributes.add(node.attr)
        self.generic_visit(node)


@cache
def imports_of(path: Path, module: str = "") -> dict[str, set[str]]:
    """Imports of one file: {'eager_third', 'lazy_third', 'eager_own', 'lazy_own', 'attributes'}.

    Third-party names are top-level import names; own names are specbench modules that exist.
    """
    visitor = _Imports(module, path)
    visitor.visit(ast.parse(path.read_text(), filename=str(path)))
    out = {"attributes": visitor.attributes}
    for kind, names in (("eager", visitor.eager), ("lazy", visitor.lazy)):
        out[f"{kind}_third"], out[f"{kind}_own"] = set(), set()
        for name in names:
            top = name.split(".")[0]
            if top == "specbench":
                if module_path(name) is not None:
                    out[f"{kind}_own"].add(name)
            elif top and top not in sys.stdlib_module_names and top != "__future__":
                out[f"{kind}_third"].add(top)
    return out


@cache
def registry_modules() -> tuple[str, ...]:
    """Modules of every architecture (the registry imports them by name, with importlib)."""
    sys.path.insert(0, str(SRC))
    try:
        from specbench.models import registry
    finally:
        sys.path.remove(str(SRC))
    modules = []
    for name in registry.names():
        for file in registry.source_files(name):
            rel = Path(file).resolve().relative_to(SRC).with_suffix("")
            modules.append(".".join(rel.parts))
    return tuple(sorted(set(modules)))


@cache
def backend_packages() -> tuple[str, ...]:
    """Import names of every Keras backend a run may select (specbench.training.backend.BACKEND_PACKAGES)."""
    tree = ast.parse(module_path("specbench.training.backend").read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Name) and t.id == "BACKEND_PACKAGES" for t in node.targets
        ):
            return tuple(sorted(ast.literal_eval(node.value).values()))
    raise AssertionError("specbench.training.backend defines no BACKEND_PACKAGES")


def parents(module: str) -> set[str]:
    """Packages whose __init__ runs when `module` is imported."""
    parts = module.split(".")
    return {".".join(parts[:i]) for i in range(1, len(parts))} - {module}


def rule_imports(rule: dict) -> tuple[set[str], set[str]]:
    """(third-party import names, specbench modules) that a rule's job imports.

    The modules the job *uses* are those its script imports (the rule's code inputs are derived
    from them, specbench.workflow.codedeps), the architectures' modules for training rules, and, again,
    every specbench module a used module imports (also inside functions). Every import of a
    used module counts, lazy ones included (heavy libraries are imported inside functions).
    Modules that are merely *loaded* (package __init__s and their module-level imports) add only
    their module-level imports: e.g. a package's __init__ that loads a submodule whose keras import
    runs only inside a function does not make the rule need keras.
    """
    script = rule["script"]
    assert script is not None and script.is_file(), f"script {script} of the rule is missing"
    top = imports_of(script)
    used = set()
    if rule.get("architectures"):
        used |= set(registry_modules())
    used |= top["eager_own"] | top["lazy_own"]
    third = top["eager_third"] | top["lazy_third"]
    attributes = set(top["attributes"])
    todo = set(used)
    while todo:
        module = todo.pop()
        path = module_path(module)
        assert path is not None, f"{module} has no source file under src/"
        found = imports_of(path, module)
        third |= found["eager_third"] | found["lazy_third"]
        attributes |= found["attributes"]
        new = (found["eager_own"] | found["lazy_own"]) - used
        used |= new
        todo |= new
    loaded = set(used)
    todo = set().union(*(parents(m) for m in used)) - loaded
    while todo:
        module = todo.pop()
        loaded.add(module)
        path = module_path(module)
        if path is None:
            continue
        found = imports_of(path, module)
        third |= found["eager_third"]
        todo |= found["eager_own"] | set().union(*(parents(m) for m in found["eager_own"]))
        todo -= loaded
    # Needed at run time without an import statement naming them:
    if "keras" in third and "specbench.training.backend" in used:
        third |= set(backend_packages())  # every backend the config may select
    if attributes & {"read_parquet", "to_parquet"}:
        third.add("pyarrow")  # pandas' Parquet engine
    return third - NOT_FROM_ENV, loaded


@cache
def import_to_distribution() -> dict[str, str]:
    """Top-level import name -> normalised name of the installed distribution providing it."""
    out = {}
    for top, dists in importlib.metadata.packages_distributions().items():
        out[top] = normalise(sorted(dists)[0])
    return out


def conda_name(import_name: str) -> str:
    dist = import_to_distribution().get(import_name)
    assert dist is not None, (
        f"'import {import_name}' is used, but no installed distribution provides it: "
        "add it to pyproject.toml"
    )
    return CONDA_NAMES.get(dist, dist)


# ------------------------------------------------------------------------- the env files


@cache
def load_env(name: str) -> dict:
    path = REPO / "envs" / f"{name}.yaml"
    env = yaml.safe_load(path.read_text())
    assert isinstance(env, dict), f"{path} is not a YAML mapping"
    return env


def pins(name: str) -> dict[str, str]:
    """conda package -> exact version, from envs/<name>.yaml (python excluded)."""
    out = {}
    for dep in load_env(name)["dependencies"]:
        assert isinstance(dep, str), f"envs/{name}.yaml: {dep!r} (pip sections are not used)"
        if dep.startswith("python "):
            continue
        m = PIN.match(dep)
        assert m, f"envs/{name}.yaml: {dep!r} is not an exact pin 'name ==version'"
        assert m["name"] not in out, f"envs/{name}.yaml pins {m['name']} twice"
        out[m["name"]] = m["version"]
    return out


@cache
def pyproject_pins() -> dict[str, str]:
    """Normalised distribution -> version of every `name==version` in pyproject.toml."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    specs = list(project["dependencies"])
    for group in project.get("optional-dependencies", {}).values():
        specs += group
    out = {}
    for spec in specs:
        # `name==version` or `name[extra]==version; marker` (the marker picks the platforms)
        m = re.match(r"^([A-Za-z0-9._-]+)(\[[^\]]*\])?==([^\s;,]+)\s*(;.*)?$", spec.strip())
        if m:
            out[normalise(m.group(1))] = m.group(3)
    return out


def distribution_of(conda: str) -> str:
    """conda-forge package -> normalised PyPI distribution (inverse of CONDA_NAMES)."""
    inverse = {v: k for k, v in CONDA_NAMES.items()}
    return inverse.get(conda, conda)


# --------------------------------------------------------------------------------- tests


def test_rules_use_the_three_environments():
    """Every rule that runs a script has one of envs/{datasets,training,results}.yaml."""
    assert {"generate_classes", "render_spectra", "train_model", "evaluate_model"} <= set(RULES)
    for name, rule in RULES.items():
        if rule["script"] is None:
            continue
        assert rule["conda"] is not None, f"rule {name} ({rule['file']}) has no conda: directive"
        assert rule["conda"].parent == REPO / "envs", f"rule {name}: {rule['conda']}"
        assert rule["conda"].stem in ENVS, f"rule {name}: unknown environment {rule['conda']}"
        assert rule["conda_env_call"], f'rule {name}: conda: should be conda_env("<name>")'
    families = {
        "datasets": {
            "generate_classes",
            "render_spectra",
            "render_test_split",
            "find_ambiguous_pairs",
        },
        "training": {"train_model", "evaluate_model"},
    }
    for env, names in families.items():
        for name in names:
            assert RULES[name]["conda"].stem == env, f"rule {name} should use envs/{env}.yaml"
    results = [n for n, r in CONDA_RULES.items() if r["conda"].stem == "results"]
    assert any(n.startswith("aggregate_") for n in results)
    assert any(n.startswith("plot_") for n in results)


@pytest.mark.parametrize("env", ENVS)
def test_env_file_is_conda_forge_only_and_pinned(env):
    data = load_env(env)
    assert set(data) <= {"name", "channels", "dependencies"}, f"envs/{env}.yaml: {sorted(data)}"
    assert data["channels"] == ["conda-forge", "nodefaults"]
    deps = data["dependencies"]
    python = [d for d in deps if isinstance(d, str) and d.split()[0] == "python"]
    assert len(python) == 1, f"envs/{env}.yaml must list python once, has {python}"
    m = PYTHON_RANGE.match(python[0])
    assert m, f"envs/{env}.yaml: {python[0]!r} should read 'python >=3.X,<3.Y'"
    # Every Python the project supports, no other: the workflow pins it to Snakemake's own.
    requires = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    assert m["spec"] == requires.replace(
        " ", ""
    ), f"envs/{env}.yaml: python {m['spec']}, pyproject.toml requires-python {requires}"
    assert pins(env), f"envs/{env}.yaml pins no package"
    assert not {"specbench", "snakemake"} & set(pins(env)), "comes from PYTHONPATH / Snakemake"


@pytest.mark.parametrize("env", ENVS)
def test_pins_agree_with_installed_and_pyproject(env):
    for conda, version in pins(env).items():
        dist = distribution_of(conda)
        try:
            installed = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pytest.fail(f"envs/{env}.yaml pins {conda} ({dist} on PyPI), which is not installed")
        assert version == public_version(installed), (
            f"envs/{env}.yaml pins {conda} =={version}, but {dist} {installed} is what the "
            "tests run with"
        )
        pinned = pyproject_pins().get(normalise(dist))
        if pinned is not None:
            assert version == public_version(
                pinned
            ), f"envs/{env}.yaml pins {conda} =={version}, pyproject.toml {dist}=={pinned}"


@pytest.mark.parametrize("name", sorted(CONDA_RULES))
def test_env_pins_every_package_the_rule_imports(name):
    rule = CONDA_RULES[name]
    env = rule["conda"].stem
    third, modules = rule_imports(rule)
    assert modules, f"rule {name}'s script uses no specbench module"
    needed = {conda_name(top) for top in third}
    missing = needed - set(pins(env))
    assert not missing, (
        f"rule {name} ({rule['script'].relative_to(REPO)}, through {sorted(modules)}) imports "
        f"{sorted(missing)}, not pinned in envs/{env}.yaml"
    )
    for conda in set(pins(env)) & needed:
        for extra in EXTRA_PINS.get(conda, ()):
            assert extra in pins(env), f"envs/{env}.yaml pins {conda} but not {extra}"


@pytest.mark.parametrize("env", ENVS)
def test_env_pins_nothing_its_rules_do_not_need(env):
    """Each family's environment stays minimal: every pin is used by one of its rules."""
    users = [rule for rule in CONDA_RULES.values() if rule["conda"].stem == env]
    assert users, f"no rule uses envs/{env}.yaml"
    needed = set()
    for rule in users:
        third, _ = rule_imports(rule)
        needed |= {conda_name(top) for top in third}
    for conda in list(needed):
        needed |= EXTRA_PINS.get(conda, set())
    unused = set(pins(env)) - needed
    assert not unused, f"envs/{env}.yaml pins {sorted(unused)}, which none of its rules imports"


def test_import_analysis(tmp_path):
    """The analysis itself, on a script written here: lazy imports, packages, architectures."""
    script = tmp_path / "script.py"
    script.write_text(
        "from specbench.workflow.logs import redirect_to_log\n"
        "def f():\n    import yaml\n    from specbench.models import registry\n"
    )
    found = imports_of(script)
    assert found["lazy_third"] == {"yaml"} and not found["eager_third"]
    assert found["eager_own"] == {"specbench.workflow.logs"}
    assert "specbench.models.registry" in found["lazy_own"]
    assert conda_name("yaml") == "pyyaml"
    assert conda_name("tensorflow") == "tensorflow"  # PyPI tensorflow-cpu

    # The registry alone (it imports an architecture's module, and so keras, only by name; the
    # checks of a user's model, specbench.models.user, use numpy).
    third, modules = rule_imports({"script": script})
    assert {"specbench.models", "specbench.models.registry"} <= modules
    assert third == {"yaml", "numpy"}
    # A training rule runs the architectures' modules, which import keras when imported.
    third, modules = rule_imports({"script": script, "architectures": True})
    assert set(registry_modules()) <= modules
    assert "keras" in third
    # Using macs (evaluation's count_macs) makes its lazy keras import count.
    script.write_text("def f():\n    from specbench.models.macs import count_macs\n")
    imports_of.cache_clear()
    third, _ = rule_imports({"script": script})
    assert "keras" in third


@pytest.mark.parametrize("env", ENVS)
def test_conda_gets_the_env_with_snakemakes_python(env, tmp_path):
    """What conda is handed (specbench.workflow.condaenvs.render, called by conda_env() in
    rules/common.smk): the env file with python pinned to the running Python, nothing else
    changed; a Python outside the supported range is refused, naming it."""
    source = REPO / "envs" / f"{env}.yaml"
    here = (sys.version_info.major, sys.version_info.minor)
    path = condaenvs.render(source, tmp_path)
    assert path == tmp_path / f"python{here[0]}.{here[1]}" / f"{env}.yaml"
    rendered = yaml.safe_load(path.read_text())
    original = load_env(env)
    python = [d for d in rendered["dependencies"] if d.split()[0] == "python"]
    assert python == [f"python ={here[0]}.{here[1]}"]
    assert [d for d in rendered["dependencies"] if d.split()[0] != "python"] == [
        d for d in original["dependencies"] if d.split()[0] != "python"
    ]
    assert {k: v for k, v in rendered.items() if k != "dependencies"} == {
        k: v for k, v in original.items() if k != "dependencies"
    }
    mtime = path.stat().st_mtime_ns
    assert condaenvs.render(source, tmp_path) == path and path.stat().st_mtime_ns == mtime
    version = (3, 12) if here == (3, 13) else (3, 13)
    other = condaenvs.render(source, tmp_path, version=version)
    assert other != path and f"python ={version[0]}.{version[1]}\n" in other.read_text()
    with pytest.raises(ValueError, match=r"Python 3\.10.*python >=3\.11"):
        condaenvs.pinned(source.read_text(), (3, 10))
    with pytest.raises(ValueError, match="one `- python`"):
        condaenvs.pinned("dependencies:\n  - numpy ==2.4.6\n", here)
