#!/usr/bin/env bash
# Tables and figures of GPU campaign runs, on any CPU, without their models: the runs of one or
# more campaign archives (tools/gpu-measure.sh's campaign.tar.gz or partial.tar.gz) and of shipped
# folders (reference-results/gpu-*-challenge|benchmark: runs/, benchmarks/ and logs/) are put together
# in a fresh copy of the workflow, the datasets are rendered again from the config (the same
# spectra on every machine), and every rule except training and evaluation runs
# (snakemake --allowed-rules: the runs' metrics.json, history.csv and predictions.parquet are
# taken as they are; a model is never needed). Then ship the result:
#
#   bash tools/gpu-aggregate.sh /tmp/agg challenge reference-results/gpu-h200-challenge gpu-out/campaign.tar.gz
#   python tools/reference_results.py ship gpu-h200-challenge --results /tmp/agg/results ...
#
# Usage: [CONFIG=config/paper.yaml] gpu-aggregate.sh WORKDIR challenge|benchmark SOURCE...
#   (a run found in two sources is taken from the later one: shipped folders first, then archives)
#   (challenge: the activation and modifications experiments; benchmark: the benchmark, seed 0;
#   CONFIG: the config the runs were trained with, tools/gpu-measure.sh's)
set -euo pipefail
REPO=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 3 ] || { sed -n 2,16p "$0"; exit 2; }
CONFIG=${CONFIG:-$REPO/config/paper.yaml}
CONFIG=$(cd "$(dirname "$CONFIG")" && pwd)/$(basename "$CONFIG")
WORKDIR=$1 SET=$2
shift 2
case $SET in
  challenge) SELECT="experiments: [activation, modifications]" PART=chal ;;
  benchmark) SELECT="experiments: [benchmark], seeds: [0]" PART=bench ;;
  *) echo "gpu-aggregate.sh: the set must be challenge or benchmark, not '$SET'" >&2; exit 2 ;;
esac
PY=${PYTHON:-python3}
case $PY in */*) PY=$(cd "$(dirname "$PY")" && pwd)/$(basename "$PY") ;; esac # used after cd
rm -rf "$WORKDIR" && mkdir -p "$WORKDIR/results"
for part in Snakefile rules scripts config envs report src; do cp -r "$REPO/$part" "$WORKDIR/"; done
cp "$CONFIG" "$WORKDIR/run.yaml"
for source in "$@"; do
  if [ -d "$source" ]; then # a shipped folder: runs/, benchmarks/, logs/ (robustness/)
    [ -d "$source/runs" ] || { echo "gpu-aggregate.sh: $source has no runs/" >&2; exit 1; }
    cp -r "$source/runs" "$WORKDIR/results/"
    for d in benchmarks logs robustness; do
      [ -d "$source/$d" ] && cp -r "$source/$d" "$WORKDIR/results/"
    done
  elif [ -f "$source" ]; then # a campaign archive
    tmp=$(mktemp -d)
    tar xzf "$source" -C "$tmp"
    for d in runs benchmarks logs robustness; do
      [ -d "$tmp/$PART/results/$d" ] && cp -r "$tmp/$PART/results/$d" "$WORKDIR/results/"
    done
    rm -rf "$tmp"
  else
    echo "gpu-aggregate.sh: no such archive or folder: $source" >&2
    exit 1
  fi
done
find "$WORKDIR/results/runs" -name "*.keras" -delete 2>/dev/null || true
echo "$(find "$WORKDIR/results/runs" -name metrics.json | wc -l) finished runs"
cd "$WORKDIR"
# the rendering's own timing, if a source brought one, is the GPU machine's: keep it
saved=$(mktemp -d)
RENDERING=(render_spectra render_test_split) # rules/datasets.smk, with benchmark files
for rule in "${RENDERING[@]}"; do
  [ -d "results/benchmarks/$rule" ] && cp -r "results/benchmarks/$rule" "$saved/"
done
"$PY" -m snakemake --cores all --configfile run.yaml --config "select={$SELECT}" \
  --until "${RENDERING[@]}" find_ambiguous_pairs > aggregate-render.log 2>&1
for rule in "${RENDERING[@]}"; do
  [ -d "$saved/$rule" ] && cp "$saved/$rule"/* "results/benchmarks/$rule/"
done
RULES=$(grep -h "^rule " rules/*.smk | awk '{print $2}' | tr -d : |
  grep -v -x -e train_model -e evaluate_model -e evaluate_level | paste -sd' ')
"$PY" -m snakemake --cores all --configfile run.yaml --config "select={$SELECT}" \
  allow_missing_runs=True --allowed-rules $RULES > aggregate.log 2>&1
echo "tables and figures in $WORKDIR/results (log: $WORKDIR/aggregate.log)"
