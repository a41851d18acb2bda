#!/usr/bin/env python3
"""Check that pyproject.toml installs from wheels on every supported platform and Python.

Not a test: it asks the package index (PyPI, through pip), so it needs the network. Run it
after changing a pin:

    python tools/check_platforms.py            # all extras, 3 platforms x Python 3.11-3.13
    python tools/check_platforms.py --no-deps  # only the pins themselves (faster)

For each target (Linux x86_64 and aarch64 as manylinux_2_28, i.e. glibc >= 2.28; macOS 14 on
arm64; CPython 3.11, 3.12, 3.13) it evaluates the environment markers of every requirement of
pyproject.toml (`dependencies` and every optional extra) for that target, then:

1. pins: every requirement that applies must have a wheel for the target (pip, dry run,
   --only-binary=:all: --platform ... --python-version ...; nothing is downloaded but metadata);
2. dependencies (unless --no-deps): the requirements of those wheels, recursively, with their
   markers evaluated for the target (pip would evaluate them for the machine it runs on) and the
   specifiers of all requirers merged. A dependency without a wheel for the target is checked
   again allowing a source distribution: if that sdist builds (here) into a `py3-none-any` wheel
   it is pure Python and installs anywhere, so it is reported ("sdist, pure Python"), not failed;
   one that compiles code, or has nothing at all, fails.

It prints a matrix (requirement x target: the wheel's tag, `n/a` where a marker excludes the
requirement, FAIL) and, per target, a summary of the dependency walk. Exit status 1 if anything
failed. The walk approximates pip's resolver (newest version that satisfies every requirer
seen), which is what a fresh `pip install` picks when the tree has no conflicts.

Run it with pip >= 25.3 (any Python >= 3.11 with `packaging`; the tool needs no other package):

    python -m venv /tmp/pipcheck && /tmp/pipcheck/bin/pip install -U pip packaging
    /tmp/pipcheck/bin/python tools/check_platforms.py --jobs 9

From pip 25.3 on, a dry run reads only each wheel's metadata: from the index (PEP 658) or, with
--use-feature=fast-deps, which this tool passes, by HTTP range requests into the wheel. Older pip
downloads every wheel it resolves in full even in a dry run: torch, tensorflow and the CUDA
libraries of the `gpu` extra, several times per target, tens of GB in all.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

try:
    from packaging.markers import Marker
    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet
    from packaging.utils import canonicalize_name
    from packaging.version import Version
except ImportError:  # pip's own copy
    from pip._vendor.packaging.markers import Marker  # type: ignore[no-redef]
    from pip._vendor.packaging.requirements import Requirement  # type: ignore[no-redef]
    from pip._vendor.packaging.specifiers import SpecifierSet  # type: ignore[no-redef]
    from pip._vendor.packaging.utils import canonicalize_name  # type: ignore[no-redef]
    from pip._vendor.packaging.version import Version  # type: ignore[no-redef]

REPO = Path(__file__).resolve().parents[1]

LINUX = {"sys_platform": "linux", "platform_system": "Linux"}
MACOS = {"sys_platform": "darwin", "platform_system": "Darwin"}


def manylinux(arch: str) -> list[str]:
    """Wheel platform tags a glibc 2.28 system takes (pip expands macOS tags, not these)."""
    return [f"manylinux_2_{minor}_{arch}" for minor in range(28, 16, -1)] + [
        f"manylinux2014_{arch}"
    ]


#: name -> (pip --platform tags, marker values).
PLATFORMS = {
    "linux-x86_64": (manylinux("x86_64"), {**LINUX, "platform_machine": "x86_64"}),
    "linux-aarch64": (manylinux("aarch64"), {**LINUX, "platform_machine": "aarch64"}),
    # pip adds the older macOS tags itself (macosx_13_0, ..., macosx_11_0).
    "macos-arm64": (["macosx_14_0_arm64"], {**MACOS, "platform_machine": "arm64"}),
}
PYTHONS = ("3.11", "3.12", "3.13")


@dataclass(frozen=True)
class Target:
    platform: str
    python: str

    @property
    def name(self) -> str:
        return f"{self.platform} py{self.python}"

    def marker_env(self, extra: str = "") -> dict[str, str]:
        return {
            **PLATFORMS[self.platform][1],
            "os_name": "posix",
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
            "python_version": self.python,
            "python_full_version": f"{self.python}.0",
            "implementation_version": f"{self.python}.0",
            "platform_release": "",
            "platform_version": "",
            "extra": extra,
        }


def pyproject_requirements() -> list[tuple[str, Requirement]]:
    """(group, requirement) of pyproject.toml: group 'main' or the extra's name."""
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    out = [("main", Requirement(spec)) for spec in project["dependencies"]]
    for group, specs in project.get("optional-dependencies", {}).items():
        out += [(group, Requirement(spec)) for spec in specs]
    return out


def applies(req: Requirement, target: Target, extras: frozenset[str] = frozenset()) -> bool:
    if req.marker is None:
        return True
    return any(req.marker.evaluate(target.marker_env(e)) for e in (extras or {""}))


def bare(req: Requirement) -> str:
    """The requirement without its marker (pip would evaluate that for this machine)."""
    extras = f"[{','.join(sorted(req.extras))}]" if req.extras else ""
    return f"{req.name}{extras}{req.specifier}"


def wheel_tag(filename: str) -> str:
    """The oldest platform of a wheel: 'pandas-3.1.1-cp313-cp313-manylinux_2_24_x86_64.
    manylinux_2_28_x86_64.whl' -> 'manylinux_2_24'; 'any' for a pure-Python wheel."""
    if not filename.endswith(".whl"):
        return "sdist"
    platform = filename[: -len(".whl")].split("-")[-1].split(".")[0]
    return re.sub(r"_(x86_64|aarch64|arm64|universal2)$", "", platform)


#: The first pip whose `install --dry-run` does not download the wheels it resolved.
METADATA_ONLY_PIP = (25, 3)


def pip_version() -> tuple[int, ...]:
    from pip import __version__

    return tuple(int(part) for part in re.findall(r"\d+", __version__)[:2])


def pip_env() -> dict[str, str]:
    """pip against the public index only: no config files, find-links or constraints of this
    machine (keeps PIP_CERT and proxies). PIP_INDEX_URL may point at a mirror of PyPI."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("PIP_") or k in ("PIP_CERT", "PIP_INDEX_URL")
    }
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    return env


@dataclass
class Found:
    name: str
    version: str
    filename: str
    requires: list[str] = field(default_factory=list)


def pip_query(specs: list[str], target: Target, binary_only: bool = True) -> dict[str, Found] | str:
    """What pip picks for `specs` on `target` (no dependencies): {name: Found}, or pip's error."""
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [
            sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-deps",
            *(f"--platform={tag}" for tag in PLATFORMS[target.platform][0]),
            "--python-version", target.python,
            "--implementation", "cp", "--target", str(Path(tmp) / "t"),
            "--report", str(report), "--quiet",
        ]  # fmt: skip
        if binary_only:
            cmd.append("--only-binary=:all:")
        if pip_version() >= METADATA_ONLY_PIP:
            cmd.append("--use-feature=fast-deps")  # metadata by range requests, not the wheel
        done = subprocess.run(cmd + specs, capture_output=True, text=True, env=pip_env())
        if done.returncode:
            errors = [ln for ln in done.stderr.splitlines() if ln.startswith("ERROR")]
            return "; ".join(errors) or done.stderr.strip()[-300:]
        out = {}
        for item in json.loads(report.read_text())["install"]:
            meta = item["metadata"]
            out[canonicalize_name(meta["name"])] = Found(
                meta["name"],
                meta["version"],
                item["download_info"]["url"].rsplit("/", 1)[-1],
                list(meta.get("requires_dist") or []),
            )
        return out


def query_each(
    specs: list[str], target: Target, binary_only: bool = True
) -> dict[str, Found | str]:
    """pip_query of all `specs` at once; one by one when that fails (to name the culprit)."""
    found = pip_query(specs, target, binary_only)
    if isinstance(found, dict):
        return {
            canonicalize_name(Requirement(s).name): found[canonicalize_name(Requirement(s).name)]
            for s in specs
        }
    if len(specs) == 1:
        return {canonicalize_name(Requirement(specs[0]).name): found}
    half = len(specs) // 2
    return {
        **query_each(specs[:half], target, binary_only),
        **query_each(specs[half:], target, binary_only),
    }


_PURE: dict[str, bool | str] = {}


def sdist_is_pure(spec: str) -> bool | str:
    """Build the sdist of `spec` here: True if it gives a py3-none-any wheel (cached)."""
    if spec not in _PURE:
        with tempfile.TemporaryDirectory() as tmp:
            done = subprocess.run(
                [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-binary=:all:", "-q", "-w", tmp, spec],
                capture_output=True, text=True, env=pip_env(),
            )  # fmt: skip
            wheels = list(Path(tmp).glob("*.whl"))
            if done.returncode or not wheels:
                _PURE[spec] = f"sdist does not build: {done.stderr.strip()[-200:]}"
            else:
                _PURE[spec] = wheels[0].name.endswith("-none-any.whl")
    return _PURE[spec]


@dataclass
class Walk:
    """The dependency walk of one target."""

    target: Target
    pins: dict[tuple[str, str], str] = field(default_factory=dict)  # (group, req) -> cell
    wheels: dict[str, Found] = field(default_factory=dict)
    pure_sdists: dict[str, Found] = field(default_factory=dict)
    failures: dict[str, str] = field(default_factory=dict)
    backtracked: list[str] = field(default_factory=list)  # older versions taken, and why


def check_target(target: Target, requirements: list[tuple[str, Requirement]], deps: bool) -> Walk:
    walk = Walk(target)
    wanted = [(g, r) for g, r in requirements if applies(r, target)]
    for group, req in requirements:
        if (group, req) not in wanted:
            walk.pins[(group, str(req))] = "n/a"
    answers = query_each(sorted({bare(r) for _, r in wanted}), target)
    for group, req in wanted:
        answer = answers[canonicalize_name(req.name)]
        if isinstance(answer, str):
            walk.pins[(group, str(req))] = "FAIL"
            walk.failures[canonicalize_name(req.name)] = answer
        else:
            walk.pins[(group, str(req))] = wheel_tag(answer.filename)
    if not deps:
        return walk

    # Dependency walk. Who asks for what: name -> {requirer: specifier}, requirer being
    # "pyproject.toml" or "<name> <version>" of a picked distribution; versions excluded by
    # backtracking; extras per name; what was picked.
    required_by: dict[str, dict[str, SpecifierSet]] = {}
    excluded: dict[str, set[str]] = {}
    extras: dict[str, set[str]] = {}
    picked: dict[str, Found] = {}

    def spec(name: str) -> SpecifierSet:
        merged = SpecifierSet()
        for specifier in required_by.get(name, {}).values():
            merged &= specifier
        for version in sorted(excluded.get(name, ())):
            merged &= SpecifierSet(f"!={version}")
        return merged

    def want(req: Requirement, requirer: str = "pyproject.toml") -> bool:
        name = canonicalize_name(req.name)
        required_by.setdefault(name, {})[requirer] = req.specifier
        new = name not in picked or not set(req.extras) <= extras.get(name, set())
        extras.setdefault(name, set()).update(req.extras)
        if name in picked and not spec(name).contains(
            Version(picked[name].version), prereleases=True
        ):
            new = True
        return new

    def unpick(name: str) -> None:
        """Forget `name`'s pick and what it asked for."""
        found = picked.pop(name)
        walk.wheels.pop(name, None)
        walk.pure_sdists.pop(name, None)
        for asks in required_by.values():
            asks.pop(f"{name} {found.version}", None)

    def backtrack(name: str, error: str) -> str | None:
        """No version of `name` satisfies all its requirers: as pip's resolver would, take an
        older version of the one requirer without whom a published version fits (not a pin of
        pyproject.toml). Returns that requirer's name, or None if there is none."""
        listed = re.search(r"\(from versions: ([^)]*)\)", error)
        versions = []
        for text in listed.group(1).split(", ") if listed else ():
            try:
                versions.append(Version(text))
            except ValueError:
                pass
        asks = required_by.get(name, {})
        for requirer in sorted(asks):
            if requirer == "pyproject.toml":
                continue
            other, version = requirer.split(" ")
            if "pyproject.toml" in required_by.get(other, {}):
                continue
            rest = SpecifierSet()
            for who, specifier in asks.items():
                if who != requirer:
                    rest &= specifier
            if any(rest.contains(v) for v in versions):
                walk.backtracked.append(
                    f"{requirer} (asks {name}{asks[requirer]}; others: {name}{rest}): older {other}"
                )
                excluded.setdefault(other, set()).add(version)
                unpick(other)
                return other
        return None

    def prune() -> set[str]:
        """Unpick what nothing picked asks for any more (after a backtrack): pip would not
        install it. Returns the names unpicked."""
        gone: set[str] = set()
        while True:
            live = {"pyproject.toml"} | {f"{n} {f.version}" for n, f in picked.items()}
            orphans = [n for n in picked if not live & set(required_by.get(n, {}))]
            if not orphans:
                return gone
            for name in orphans:
                unpick(name)
            gone.update(orphans)

    todo = {canonicalize_name(r.name) for _, r in wanted if want(r)}
    # The pins' answers are the first round (the specifiers are the pins' own, merged).
    queried: dict[str, Found | str] | None = {n: answers[n] for n in todo if n not in walk.failures}
    todo = set()
    for _ in range(50):
        if queried is None:
            todo -= set(walk.failures)
            if not todo:
                break
            queried = query_each(sorted(f"{n}{spec(n)}" for n in todo), target)
            todo = set()
        for name, answer in queried.items():
            if not isinstance(answer, str) and answer.version in excluded.get(name, ()):
                todo.add(name)  # backtracked earlier in this round: ask again
                continue
            is_wheel = True
            if isinstance(answer, str):
                if "from versions:" in answer and (older := backtrack(name, answer)):
                    todo |= {older, name}  # the requirer again (older), then this again
                    continue
                # no wheel: is there a pure-Python sdist?
                sdist = query_each([f"{name}{spec(name)}"], target, binary_only=False)[name]
                if isinstance(sdist, str):
                    walk.failures[name] = answer
                    continue
                pure = sdist_is_pure(f"{name}=={sdist.version}")
                if pure is not True:
                    walk.failures[name] = f"only an sdist ({sdist.filename}), " + (
                        "which compiles code" if pure is False else pure
                    )
                    continue
                answer, is_wheel = sdist, False
            if name in picked:
                unpick(name)  # a new version (or new extras): its own requirements below
            picked[name] = answer
            (walk.wheels if is_wheel else walk.pure_sdists)[name] = answer
            for line in answer.requires:
                req = Requirement(line)
                requirer = f"{name} {answer.version}"
                if applies(req, target, frozenset(extras.get(name, ()))) and want(req, requirer):
                    todo.add(canonicalize_name(req.name))
        if walk.backtracked:
            todo -= prune()
        queried = None
    else:
        walk.failures["(walk)"] = f"not finished after 50 rounds; still to check: {sorted(todo)}"

    prune()
    for name in walk.failures:  # who asked for what (a conflict names every side)
        if len(required_by.get(name, {})) > 1:
            asks = ", ".join(f"{who}: {s or 'any'}" for who, s in sorted(required_by[name].items()))
            walk.failures[name] += f" [required by {asks}]"
    return walk


def matrix(requirements, walks: list[Walk]) -> str:
    head = ["requirement", "extra", *(w.target.name for w in walks)]
    rows = [head, ["---"] * len(head)]
    for group, req in requirements:
        rows.append([f"`{req.name}{req.specifier}`", "" if group == "main" else group]
                    + [w.pins[(group, str(req))] for w in walks])  # fmt: skip
    return "\n".join("| " + " | ".join(row) + " |" for row in rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--no-deps", action="store_true", help="check only the pins, not what they need"
    )
    parser.add_argument("--platforms", nargs="+", default=list(PLATFORMS), choices=list(PLATFORMS))
    parser.add_argument("--pythons", nargs="+", default=list(PYTHONS))
    parser.add_argument(
        "--jobs", type=int, default=3, help="targets checked at once (network-bound)"
    )
    args = parser.parse_args(argv)
    if pip_version() < METADATA_ONLY_PIP:
        print(f"warning: pip {'.'.join(map(str, pip_version()))} downloads every wheel it resolves, "
              "even in a dry run (tens of GB here); run this with pip >= 25.3 (see --help)",
              file=sys.stderr)  # fmt: skip

    requirements = pyproject_requirements()
    targets = [Target(p, v) for p in args.platforms for v in args.pythons]
    with ThreadPoolExecutor(args.jobs) as pool:
        walks = list(pool.map(lambda t: check_target(t, requirements, not args.no_deps), targets))

    print("Pins of pyproject.toml: the wheel each target gets (n/a: excluded by its marker)\n")
    print(matrix(requirements, walks))
    failed = False
    print()
    for walk in walks:
        if args.no_deps:
            line = "pins only"
        else:
            sdists = ", ".join(f"{f.name} {f.version}" for f in walk.pure_sdists.values())
            line = f"{len(walk.wheels) + len(walk.pure_sdists)} distributions, {len(walk.wheels)} wheels"
            line += f", pure-Python sdists: {sdists}" if sdists else ""
        status = "FAIL" if walk.failures else "ok"
        print(f"{walk.target.name}: {status}: {line}")
        for why in walk.backtracked:
            print(f"    backtracked: {why}")
        for name, why in sorted(walk.failures.items()):
            failed = True
            why = re.sub(r"ERROR: Ignored the following yanked versions: [^;]*; ", "", why)
            print(f"    FAIL {name}: {re.sub(r' [(]from versions: [^)]*[)]', '', why)}")
    print(f"\n{'FAILED' if failed else 'all targets install from wheels (or pure-Python sdists)'}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
