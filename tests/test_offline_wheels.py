"""tools/offline-wheels.sh: the folder it fetches installs keras, snakemake and jsonschema at the
project's pins with nothing but that folder (the install on a machine without internet).

Needs PyPI (as the README's install does). The wheels are fetched for the Python running the
test, nothing left out (SKIP empty), and pip resolves the requirements against the folder alone
(``--no-index --ignore-installed --dry-run``): a dependency the script failed to fetch fails it.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import tomllib

import pytest

from conftest import REPO

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not (sys.platform == "linux" and platform.machine() == "x86_64"),
        reason="the script fetches manylinux x86_64 wheels",
    ),
]


def test_the_folder_alone_installs_the_pinned_packages(tmp_path):
    dest = tmp_path / "whl"
    env = {**os.environ, "PYVER": f"{sys.version_info.major}.{sys.version_info.minor}", "SKIP": ""}
    env["PYTHON"] = sys.executable
    fetched = subprocess.run(
        ["bash", str(REPO / "tools" / "offline-wheels.sh"), str(dest)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert fetched.returncode == 0, fetched.stderr[-2000:]

    deps = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["dependencies"]
    pinned = {d.split("==")[0]: d for d in deps if d.split("==")[0] in ("keras", "snakemake")}
    requirements = (dest / "requirements.txt").read_text().split()
    assert pinned["keras"] in requirements and pinned["snakemake"] in requirements
    assert list(dest.glob("connection_pool-*-py3-none-any.whl")), "the sdist-only dependency"

    plan = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--no-index"]
        + ["--find-links", str(dest), "-r", str(dest / "requirements.txt")],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert plan.returncode == 0, plan.stdout[-2000:] + plan.stderr[-2000:]
    for name in ("keras", "snakemake", "jsonschema", "numpy"):
        assert name in plan.stdout, plan.stdout[-2000:]
