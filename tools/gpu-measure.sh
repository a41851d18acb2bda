#!/usr/bin/env bash
# The published-scale GPU campaign (config/paper.yaml protocol, float32) in one time-boxed run, in
# the campaign's order:
#   a. the challenge experiments (activation and modifications: 18 models, seeds 0-4), every
#      model's first seed before any model's second (the workflow's seed-major job priorities),
#      until the training deadline;
#   b. if a. finished early: the benchmark experiment, seed 0 of the architectures that fit in what
#      is left, cheapest first (tools/gpu_plan.py, sized from the throughput already shipped for
#      this GPU: THROUGHPUT);
#   c. at the end: the project training path against a bare model.fit on the GPU (cnn6), and K
#      trainings side by side (the gpu profile's packing, K = 1, 4, 8), once per kind of GPU
#      (skipped where reference-results/gpu-<gpu>-throughput/packing-*.json exists; MEASURE=1).
# The tables and figures are made afterwards on any CPU from what comes back, merged with the runs
# of earlier sessions: tools/gpu-aggregate.sh.
# Runs an earlier session shipped (the bundles reference-results/gpu-*-challenge|benchmark/) are not
# trained again (at SCALE=tiny they are: its datasets are other ones), but for the models in
# RETRAIN: cnn_bn by default, whose shipped seeds trained on Keras' clipped loss of JAX (before
# 2026-12-05), which measurably changed it (benchmarks/loss_clip.py, docs/fidelity.md). Everything comes back in $OUT as at most three files: run.log (every timing),
# campaign.tar.gz (per run metrics.json, training.json, history.csv and predictions.parquet, no
# models; the jobs' logs and benchmark timings, measurements, versions) and,
# only if the run was cut off before its end, partial.tar.gz (refreshed every PARTIAL_S seconds).
#
#   OUT=gpu-out BUDGET_S=540 bash tools/gpu-measure.sh                      # published scale
#   OUT=/tmp/rehearsal BUDGET_S=420 SCALE=tiny bash tools/gpu-measure.sh    # CPU rehearsal
#
# Needs snakemake, keras, jax (CUDA) importable; the project runs from source (PYTHONPATH=src).
set -uo pipefail
REPO=${REPO:-$(cd "$(dirname "$0")/.." && pwd)}
OUT=${OUT:-$REPO/gpu-out}
BUDGET_S=${BUDGET_S:-540}
SCALE=${SCALE:-paper}
WORK=${WORK:-/tmp/specbench-gpu}
MEASURE_S=${MEASURE_S:-120} # item c, at the end (MEASURE below)
PACK_S=${PACK_S:-20}        # the final archive
PARTIAL_S=${PARTIAL_S:-45}
THROUGHPUT=${THROUGHPUT:-$REPO/reference-results/gpu-h200-throughput/throughput.json}
RETRAIN=${RETRAIN-cnn_bn} # models whose shipped runs are trained again (space-separated)
T0=$(date +%s)
left() { echo $((BUDGET_S - ($(date +%s) - T0))); }
stamp() { echo "[$(($(date +%s) - T0)) s] $*"; }
M=$WORK/measure # the measurements and logs of this script; packed with the runs
rm -rf "$WORK" && mkdir -p "$OUT" "$M"
exec > >(tee -a "$OUT/run.log") 2>&1
export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3
# one XLA compilation per model shape for all processes (the seeds of a model share it)
export JAX_COMPILATION_CACHE_DIR="$WORK/jax-cache" JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0
PY=${PYTHON:-python3}
SM=("$PY" -m snakemake)

if [ "$SCALE" = tiny ]; then
  CONFIG=tests/configs/tiny.yaml
  CHAL_EXPERIMENTS=activation+modifications CHAL_MODELS=cnn2,cnn2_relu,vgg,vgg_k20_relu
  BENCH_MODELS=vgg,cnn2 SPECTRA="bench=48+24 chal=36+18"
  RATIO=(--points 128 --classes 6 --samples 64 --val-samples 16 --epochs 2 --architectures cnn2)
  PACK=(--points 250 --classes 27 --samples 162 --val-samples 81 --epochs 2 --architectures cnn2)
  PACK_K=(1 2) K=${K:-2} CORES=2 TRAIN_CORES=2
else
  CONFIG=config/paper.yaml
  CHAL_EXPERIMENTS=activation+modifications
  CHAL_MODELS=cnn6,cnn6_linear,inc6,inc6_relu,inc3,inc3_relu,cnn3,cnn3_relu,cnn2,cnn2_relu
  CHAL_MODELS=$CHAL_MODELS,cnn6_bn,cnn6_convdrop,resnet,resnet_nobn_relu,vgg,vgg_k20_relu,cnn_bn
  CHAL_MODELS=$CHAL_MODELS,cnn_bn_nobn_relu
  BENCH_MODELS=vgg,cnn2,cnn3,cnn_bn,inc3,inc6,cnn6,resnet SPECTRA="bench=25000+5000 chal=1350+270"
  RATIO=(--samples 2048 --val-samples 256 --epochs 2 --architectures cnn6)
  PACK=(--classes 27 --samples 1350 --val-samples 270 --epochs 3 --warmup 2 --architectures cnn6)
  PACK_K=(1 4 8) K=${K:-8} CORES=16 TRAIN_CORES=14
fi
SEEDS=${SEEDS:-0-4}
CHAL_MODELS=${CHAL_ONLY:-$CHAL_MODELS} # e.g. the models an earlier run of the session left out
stamp "scale $SCALE, config $CONFIG, budget ${BUDGET_S} s, K=$K, commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)"
(nvidia-smi -L; nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv) \
  > "$M/gpu.txt" 2>&1
KERAS_BACKEND=jax "$PY" -c "import jax, keras, snakemake; print('jax', jax.__version__, jax.devices()); print('keras', keras.__version__, 'snakemake', snakemake.__version__)" 2>&1 | tail -2 | tee "$M/versions.txt"
"$PY" -c "import numpy, pandas, pyarrow, scipy, sys; print('python', sys.version.split()[0], 'numpy', numpy.__version__, 'pandas', pandas.__version__, 'pyarrow', pyarrow.__version__, 'scipy', scipy.__version__)" >> "$M/versions.txt" 2>&1
echo "cpus $(nproc)" >> "$M/versions.txt"
git -C "$REPO" rev-parse HEAD >> "$M/versions.txt" 2>/dev/null
git -C "$REPO" status --short >> "$M/versions.txt" 2>/dev/null
# c. is measured once per kind of GPU: skipped (its time goes to training) when this GPU's
# packing is shipped already, unless MEASURE=1; MEASURE=0 always skips it
# the GPU's model as reference-results/ names it: "NVIDIA H100 80GB HBM3" -> h100, "NVIDIA H200" ->
# h200, "NVIDIA A100-SXM4-80GB" -> a100, "NVIDIA GeForce RTX 4090" -> 4090
gpu_slug() { sed -E 's/^NVIDIA +//; s/^((Tesla|GeForce|Quadro|RTX) +)+//' | awk '{print tolower($1)}' | cut -d- -f1; }
GPU_SLUG=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1 | gpu_slug)
MEASURE=${MEASURE:-auto}
if [ "$MEASURE" = auto ]; then
  MEASURE=1
  ls "$REPO"/reference-results/gpu-"${GPU_SLUG:-none}"-throughput/packing-*.json > /dev/null 2>&1 && MEASURE=0
fi
[ "$MEASURE" = 1 ] || MEASURE_S=0
stamp "GPU '${GPU_SLUG:-none}': measurements (c.) $([ "$MEASURE" = 1 ] && echo "at the end, ${MEASURE_S} s" || echo skipped)"

# deterministic: true sets XLA's --xla_gpu_deterministic_ops, under which some XLA versions refuse
# to compile select-and-scatter (the gradient of max pooling). Probe it; if it fails, run without
# (recorded here and in run.log) rather than lose the whole measurement.
if ! "$PY" - > "$M/determinism-probe.txt" 2>&1 <<'PY'
import os
os.environ["XLA_FLAGS"] = os.environ.get("XLA_FLAGS", "") + " --xla_gpu_deterministic_ops=true"
import jax, jax.numpy as jnp
def f(x):
    return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, 2, 1), (1, 2, 1), "VALID").sum()
print("max-pool gradient compiles with --xla_gpu_deterministic_ops=true:", jax.grad(f)(jnp.ones((4, 64, 8))).sum())
PY
then
  export XLA_FLAGS="${XLA_FLAGS:-} --xla_gpu_deterministic_ops=false"
  stamp "WARNING: deterministic GPU ops unavailable here (determinism-probe.txt); running without"
fi

# everything small that a run leaves: no models, no rendered splits, no backups
pack() {
  tar czf "$OUT/$1.tmp" -C "$WORK" --exclude='*.keras' --exclude='*.parquet.tmp*' \
    --exclude='*/datasets/*/*.parquet' --exclude='*/checkpoints' --exclude='.snakemake' \
    measure $(cd "$WORK" && ls -d chal/results bench/results 2>/dev/null) 2>/dev/null
  mv "$OUT/$1.tmp" "$OUT/$1"
}
(while sleep "$PARTIAL_S"; do pack partial.tar.gz; done) &
PACKER=$!

# work directories: the challenge and the benchmark experiments, each a copy of the workflow
for wd in chal bench; do
  mkdir -p "$WORK/$wd"
  for part in Snakefile rules scripts config envs report src gpu; do cp -r "$REPO/$part" "$WORK/$wd/"; done
  cp "$REPO/$CONFIG" "$WORK/$wd/run.yaml"
done
CHAL_SELECT="experiments: [${CHAL_EXPERIMENTS//+/, }]"
BENCH_SELECT="experiments: [benchmark], seeds: [0]"
GPU_RES=(--resources gpu=$K --set-resources train_model:gpu=1 train_model:jobs_per_gpu=$K
  train_model:keras_backend=jax evaluate_model:gpu=1 evaluate_model:jobs_per_gpu=$K
  --set-threads train_model=1 evaluate_model=1)

DATA_RULES="render_spectra render_test_split find_ambiguous_pairs" # rules/datasets.smk
stamp "rendering the datasets (CPU)"
PIDS=()
for wd in chal bench; do
  select=$CHAL_SELECT
  [ $wd = bench ] && select=$BENCH_SELECT
  (cd "$WORK/$wd" && "${SM[@]}" --profile gpu --configfile run.yaml --cores $((CORES / 2)) \
    --config "select={$select}" --until $DATA_RULES > "$M/render-$wd.log" 2>&1) &
  PIDS+=($!)
done
wait "${PIDS[@]}"
stamp "datasets rendered"

SHIPPED=() # result bundles; their runs are skipped where the config defines their dataset alike
for d in "$REPO"/reference-results/gpu-*-challenge "$REPO"/reference-results/gpu-*-benchmark; do
  [ -f "$d/bundle.json" ] && SHIPPED+=(--skip-shipped "$d")
done
plan() { # plan NAME EXPERIMENTS SEEDS MODELS BUDGET [flags]: the metrics.json targets
  "$PY" "$REPO/tools/gpu_plan.py" "$THROUGHPUT" --config "$REPO/$CONFIG" --budget "$5" \
    --epoch-spectra $SPECTRA --group "$1:$2:$3:$4" --slots "$K" --targets "${SHIPPED[@]}" \
    --retrain $RETRAIN "${@:6}" \
    2>> "$M/plan.txt" | awk -v g="$1" '$1 == g {$1 = ""; print}'
}
train() { # train WORKDIR SELECT LIMIT TARGETS...: Snakemake, stopped (SIGINT) at the limit
  local wd=$1 select=$2 limit=$3
  shift 3
  (cd "$WORK/$wd" && timeout -s INT -k 20 "$limit" "${SM[@]}" --profile gpu --configfile run.yaml \
    --cores "$TRAIN_CORES" "${GPU_RES[@]}" --config "select={$select}" -- "$@" \
    >> "$M/train-$wd.log" 2>&1)
  pkill -f "$WORK/$wd/.snakemake/scripts" 2>/dev/null # jobs of a Snakemake stopped at its limit
}
finished() { find "$WORK/$1/results/runs" -name metrics.json 2>/dev/null | wc -l; }
TRAIN_END=$((BUDGET_S - MEASURE_S - PACK_S))

# a. the challenge experiments, seed-major, until the training deadline
CHAL_TARGETS=$(plan chal "$CHAL_EXPERIMENTS" "$SEEDS" "$CHAL_MODELS" inf)
stamp "a. challenge: $(echo $CHAL_TARGETS | wc -w) runs to train, until $TRAIN_END s"
[ -n "$CHAL_TARGETS" ] && train chal "$CHAL_SELECT" $((TRAIN_END - ($(date +%s) - T0))) $CHAL_TARGETS
stamp "a. challenge stopped or done: $(finished chal) runs finished"

# b. the benchmark, seed 0, cheapest first, in what is left of the training time
REMAINING=$((TRAIN_END - ($(date +%s) - T0)))
if [ "$REMAINING" -gt 30 ]; then
  BENCH_TARGETS=$(plan bench benchmark 0 "$BENCH_MODELS" "$REMAINING" --cheapest-first)
  stamp "b. benchmark: [$(echo $BENCH_TARGETS | tr ' ' '\n' | cut -d/ -f4 | paste -sd' ')] in $REMAINING s"
  [ -n "$BENCH_TARGETS" ] && train bench "$BENCH_SELECT" "$REMAINING" $BENCH_TARGETS
  stamp "b. benchmark stopped or done: $(finished bench) runs finished"
else
  stamp "b. benchmark: no training time left"
fi

# c. the measurements, alone on the machine (tables and figures: tools/gpu-aggregate.sh, later)
MEASURE_END=$((BUDGET_S - PACK_S))
if [ "$MEASURE" != 1 ]; then stamp "c. skipped"; else
stamp "c. project path against a bare model.fit"
timeout $(((MEASURE_END - ($(date +%s) - T0)) * 40 / 100)) "$PY" "$REPO/benchmarks/train_throughput.py" \
  --backend jax --precision float32 "${RATIO[@]}" --json "$M/ratio.json" > "$M/ratio.txt" 2>&1
cat "$M/ratio.txt"
stamp "c. K trainings side by side (K = ${PACK_K[*]})"
timeout $((MEASURE_END - ($(date +%s) - T0))) "$PY" "$REPO/benchmarks/train_throughput.py" \
  --backend jax --precision float32 --only-concurrent --concurrent "${PACK_K[@]}" "${PACK[@]}" \
  --json "$M/packing.json" > "$M/packing.txt" 2>&1
cat "$M/packing.txt"
fi
stamp "measurements done"

# the compilation cache the jobs shared: one entry per compiled function and shape; a model's
# later seeds add none where they hit it
echo "jax compilation cache: $(find "$WORK/jax-cache" -type f 2>/dev/null | wc -l) files, $(du -sh "$WORK/jax-cache" 2>/dev/null | cut -f1)" | tee "$M/jax-cache.txt"
kill "$PACKER" 2>/dev/null
wait "$PACKER" 2>/dev/null
cp "$OUT/run.log" "$M/run.log" 2>/dev/null
pack campaign.tar.gz && rm -f "$OUT/partial.tar.gz" "$OUT"/*.tmp
stamp "end: $(finished chal) challenge and $(finished bench) benchmark runs in campaign.tar.gz ($(du -h "$OUT/campaign.tar.gz" | cut -f1))"
