#!/usr/bin/env bash
# One candidate of the laptop-scale study (README "Choosing the laptop scale"): a clean git
# worktree of HEAD, `snakemake --cores 2 --configfile <candidate>` there with the repository's
# virtual environment and the worktree's own package source, wall time and load recorded.
# Usage: [REV=commit] bash benchmarks/laptop-scale/run.sh CANDIDATE [OUTDIR]   (CANDIDATE: a yaml
# beside this; REV: the commit to run, default HEAD)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(git -C "$here" rev-parse --show-toplevel)
name=$1
out=${2:-/tmp/laptop-scale}
tree=$out/$name
python=${PYTHON:-$repo/.venv/bin/python}
rm -rf "$tree"; git -C "$repo" worktree prune
git -C "$repo" worktree add --detach "$tree" "${REV:-HEAD}" >/dev/null
cp "$here/$name.yaml" "$tree/candidate.yaml"
cd "$tree"
commit=$(git rev-parse --short HEAD)
start=$(date +%s); load0=$(cut -d' ' -f1-3 /proc/loadavg)
# /usr/bin/time: user + system CPU seconds of Snakemake and every job it ran (waited-for children)
PYTHONPATH="$tree/src" /usr/bin/time -o cpu.txt -f "%U %S" \
    "$(dirname "$python")/snakemake" --cores 2 --configfile candidate.yaml > snakemake.log 2>&1
end=$(date +%s); load1=$(cut -d' ' -f1-3 /proc/loadavg)
cpu=$(awk '{printf "%d", $1 + $2}' cpu.txt)
printf '{"candidate": "%s", "commit": "%s", "wall_s": %d, "cpu_s": %d, "load_start": "%s", "load_end": "%s", "cores": 2, "date": "%s"}\n' \
    "$name" "$commit" $((end - start)) "$cpu" "$load0" "$load1" "$(date -u +%FT%TZ)" > "$tree/timing.json"
cat "$tree/timing.json"
