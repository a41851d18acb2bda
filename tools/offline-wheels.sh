#!/usr/bin/env bash
# Wheels to run the workflow from source on a Linux x86_64 machine without internet that already
# has the scientific stack but not Keras or Snakemake: a lent GPU machine (Python 3.12, JAX with
# CUDA, NumPy, pandas, pyarrow, SciPy, seaborn; see tools/gpu-measure.sh) or a cluster node
# without internet. Downloads, here, the project's pins of keras, snakemake and jsonschema
# (pyproject.toml: one source of truth) with every dependency, for that Python and platform, into
# one folder, plus the requirements file to install them from; connection_pool, an sdist on PyPI,
# is built into a pure-Python wheel. Packages the machine has anyway and that are large are left
# out (SKIP); pip there takes the machine's own copy wherever it satisfies the pins.
#
#   bash tools/offline-wheels.sh [DEST]         # DEST defaults to .whl (git-ignored)
#   PYVER=3.11 SKIP= bash tools/offline-wheels.sh /tmp/wheels   # another Python; skip nothing
#
# On the machine (from the repository root; nothing is fetched, a missing wheel fails at once):
#   python3 -m pip install -q --no-index --find-links .whl -r .whl/requirements.txt
#   PYTHONPATH=src python3 -m snakemake ...        # or: OUT=... bash tools/gpu-measure.sh
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
DEST=${1:-$REPO/.whl}
PYVER=${PYVER:-3.12}
PY=${PYTHON:-python3}
# on the lent GPU machines these come with JAX or the image (device KINDS.md) and are large
SKIP=${SKIP-numpy ml-dtypes h5py}
PLATFORMS=(manylinux_2_28_x86_64 manylinux_2_27_x86_64 manylinux_2_24_x86_64 manylinux_2_17_x86_64
  manylinux2014_x86_64 manylinux1_x86_64)

# the pins, read from pyproject.toml
pins=$("$PY" - "$REPO/pyproject.toml" <<'PY'
import re, sys, tomllib
deps = tomllib.load(open(sys.argv[1], "rb"))["project"]["dependencies"]
wanted = {"keras", "snakemake", "jsonschema"}
pins = [d for d in deps if re.split(r"[=<>!~;\[ ]", d, maxsplit=1)[0].lower() in wanted]
missing = wanted - {re.split(r"[=<>!~;\[ ]", p, maxsplit=1)[0].lower() for p in pins}
if missing:
    sys.exit(f"pyproject.toml pins no {', '.join(sorted(missing))}")
print("\n".join(pins))
PY
)
mkdir -p "$DEST"
rm -f "$DEST"/*.whl
echo "$pins" > "$DEST/requirements.txt"
echo "pins (pyproject.toml): $(echo $pins)"

# connection_pool (a dependency of snakemake) exists only as an sdist: build its wheel here
"$PY" -m pip wheel -q --no-deps --no-binary=:all: -w "$DEST" connection_pool
# everything else as binary wheels for the target Python and platform; the wheel just built is
# found through --find-links
platform_args=()
for p in "${PLATFORMS[@]}"; do platform_args+=(--platform "$p"); done
"$PY" -m pip download -q --only-binary=:all: --python-version "$PYVER" --implementation cp \
  "${platform_args[@]}" --find-links "$DEST" -d "$DEST" -r "$DEST/requirements.txt"

# leave out what the machine has (wheel names use underscores: ml-dtypes -> ml_dtypes-*.whl)
for name in $SKIP; do
  rm -f "$DEST/${name//-/_}"-*.whl
done
n=$(ls "$DEST"/*.whl | wc -l)
echo "$n wheels, $(du -sh "$DEST" | cut -f1) in $DEST (left out, the machine's own: ${SKIP:-nothing})"
