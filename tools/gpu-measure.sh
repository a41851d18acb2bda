#!/usr/bin/env bash
# One time-boxed GPU measurement: the training-throughput table, then as much of the published-
# scale benchmark (seed 0 per architecture, cheapest first) and of the challenge experiments
# (activation, then modifications; five seeds) as fits, sized by tools/gpu_plan.py from the
# throughput measured first; then tables and figures of what finished, and the packing of K
# trainings per GPU if time is left. Everything lands in $OUT (run.log has every timing).
#
#   OUT=gpu-out BUDGET_S=520 bash tools/gpu-measure.sh            # paper scale (config/paper.yaml)
#   OUT=/tmp/rehearsal BUDGET_S=400 SCALE=tiny bash tools/gpu-measure.sh   # CPU rehearsal
#
# Needs snakemake, keras, jax (CUDA) importable; the project runs from source (PYTHONPATH=src).
set -uo pipefail
REPO=${REPO:-$(cd "$(dirname "$0")/.." && pwd)}
OUT=${OUT:-$REPO/gpu-out}
BUDGET_S=${BUDGET_S:-520}
SCALE=${SCALE:-paper}
WORK=${WORK:-/tmp/specbench-gpu}
T0=$(date +%s)
left() { echo $((BUDGET_S - ($(date +%s) - T0))); }
stamp() { echo "[$(($(date +%s) - T0)) s] $*"; }
mkdir -p "$OUT" "$WORK"
exec > >(tee -a "$OUT/run.log") 2>&1
export PYTHONPATH="$REPO/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3
# one XLA compilation per model shape for all processes (the benchmark's and the jobs')
export JAX_COMPILATION_CACHE_DIR="$WORK/jax-cache" JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS=0
PY=${PYTHON:-python3}
SM=("$PY" -m snakemake)

if [ "$SCALE" = tiny ]; then
  CONFIG=tests/configs/tiny.yaml
  TP=(--points 128 --classes 6 --samples 64 --val-samples 16 --epochs 2)
  ARCHS=(vgg cnn2)
  BENCH_MODELS=vgg,cnn2 CHAL_MODELS=cnn2,cnn2_relu,vgg_k20_relu CHAL_SEEDS=0 SPECTRA="bench=48+24 chal=162+81"
  PACK=(--points 250 --classes 27 --samples 162 --val-samples 81 --epochs 2 --architectures cnn2)
  CORES=2
else
  CONFIG=config/paper.yaml
  TP=(--samples 2048 --val-samples 256 --epochs 2)
  ARCHS=(vgg cnn2 cnn3 cnn_bn cnn6 inc6 inc3 resnet) # the order the plan needs them in
  BENCH_MODELS=vgg,cnn2,cnn3,cnn_bn,inc3,inc6,cnn6,resnet
  CHAL_MODELS=cnn6,cnn6_linear,inc6,inc6_relu,inc3,inc3_relu,cnn3,cnn3_relu,cnn2,cnn2_relu
  CHAL_MODELS=$CHAL_MODELS,cnn6_bn,cnn6_convdrop,resnet,resnet_nobn_relu,vgg,vgg_k20_relu,cnn_bn
  CHAL_MODELS=$CHAL_MODELS,cnn_bn_nobn_relu
  CHAL_SEEDS=0-4 SPECTRA="bench=25000+5000 chal=1350+270"
  CHAL_EXTRA=", data_variation" # cnn2 linear/ReLU on two more renderings (cheap)
  PACK=(--classes 27 --samples 1350 --val-samples 270 --epochs 3 --warmup 2 --architectures cnn6)
  CORES=16
fi
stamp "scale $SCALE, config $CONFIG, budget ${BUDGET_S} s, commit $(git -C "$REPO" rev-parse --short HEAD 2>/dev/null)"
(nvidia-smi -L; nvidia-smi --query-gpu=name,memory.total,driver_version,compute_cap --format=csv) \
  > "$OUT/gpu.txt" 2>&1
"$PY" -c "import jax, keras, snakemake; print('jax', jax.__version__, jax.devices()); print('keras', keras.__version__, 'snakemake', snakemake.__version__)" 2>&1 | tail -2 | tee "$OUT/versions.txt"
nproc >> "$OUT/versions.txt"

# deterministic: true sets XLA's --xla_gpu_deterministic_ops, under which some XLA versions refuse
# to compile select-and-scatter (the gradient of max pooling). Probe it; if it fails, run without
# (recorded here and in run.log) rather than lose the whole measurement.
if ! "$PY" - > "$OUT/determinism-probe.txt" 2>&1 <<'PY'
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

# work directories: the benchmark and the challenge experiments run side by side
for wd in bench chal; do
  mkdir -p "$WORK/$wd"
  for part in Snakefile rules scripts config envs report src gpu; do cp -r "$REPO/$part" "$WORK/$wd/"; done
  cp "$REPO/$CONFIG" "$WORK/$wd/run.yaml"
done
BENCH_SELECT="experiments: [benchmark], seeds: [0]"
CHAL_SELECT="experiments: [activation, modifications${CHAL_EXTRA:-}]"
GPU_RES=(--set-resources train_model:gpu=1 train_model:jobs_per_gpu=6 train_model:keras_backend=jax
  evaluate_model:gpu=1 evaluate_model:jobs_per_gpu=6 --set-threads train_model=2 evaluate_model=2)

stamp "rendering the datasets (CPU) while the throughput is measured (GPU)"
(cd "$WORK/bench" && "${SM[@]}" --profile gpu --configfile run.yaml --cores 4 \
  --config "select={$BENCH_SELECT}" --until render_spectra > "$OUT/render-bench.log" 2>&1) &
PIDS=($!)
(cd "$WORK/chal" && "${SM[@]}" --profile gpu --configfile run.yaml --cores 4 \
  --config "select={$CHAL_SELECT}" --until render_spectra > "$OUT/render-chal.log" 2>&1) &
PIDS+=($!)

TP_LIMIT=$(($(left) * 33 / 100))
timeout "$TP_LIMIT" "$PY" "$REPO/benchmarks/train_throughput.py" --backend jax \
  --precision float32 --peak --architectures "${ARCHS[@]}" "${TP[@]}" \
  --json "$OUT/throughput.json" 2>&1 | tee "$OUT/throughput.txt"
stamp "throughput done (limit ${TP_LIMIT} s)"
wait "${PIDS[@]}" # (a plain `wait` would also wait for the tee of the log)
stamp "datasets rendered"

# K trainings side by side on the GPU (the gpu profile's packing), at the challenge scale
timeout $(($(left) * 12 / 100)) "$PY" "$REPO/benchmarks/train_throughput.py" --backend jax \
  --precision float32 --only-concurrent --concurrent 1 4 8 "${PACK[@]}" \
  --json "$OUT/packing.json" 2>&1 | tee "$OUT/packing.txt"
stamp "packing measured"

RESERVE=110 # tables, figures, copying
PLAN=$("$PY" "$REPO/tools/gpu_plan.py" "$OUT/throughput.json" --config "$REPO/$CONFIG" \
  --budget $(($(left) - RESERVE)) --epoch-spectra $SPECTRA \
  --group "bench:benchmark:0:$BENCH_MODELS" \
  --group "chal:activation+modifications:$CHAL_SEEDS:$CHAL_MODELS" 2> "$OUT/plan.txt")
cat "$OUT/plan.txt"
BENCH_PLAN=$(echo "$PLAN" | awk '$1 == "bench" {print $2}')
CHAL_PLAN=$(echo "$PLAN" | awk '$1 == "chal" {print $2}')
stamp "plan: benchmark [$BENCH_PLAN], challenge [$CHAL_PLAN]"

TRAIN_LIMIT=$(($(left) - RESERVE))
PIDS=()
if [ -n "$BENCH_PLAN" ]; then
  (cd "$WORK/bench" && timeout -s INT -k 30 "$TRAIN_LIMIT" "${SM[@]}" --profile gpu --configfile run.yaml \
    --cores $((CORES / 2)) --resources gpu=2 "${GPU_RES[@]}" \
    --config "select={$BENCH_SELECT, models: [$BENCH_PLAN]}" > "$OUT/train-bench.log" 2>&1) &
  PIDS+=($!)
fi
if [ -n "$CHAL_PLAN" ]; then
  seeds=$("$PY" -c "lo,_,hi='$CHAL_SEEDS'.partition('-'); print(', '.join(map(str, range(int(lo), int(hi or lo)+1))))")
  (cd "$WORK/chal" && timeout -s INT -k 30 "$TRAIN_LIMIT" "${SM[@]}" --profile gpu --configfile run.yaml \
    --cores $((CORES / 2)) --resources gpu=4 "${GPU_RES[@]}" \
    --config "select={$CHAL_SELECT, models: [$CHAL_PLAN], seeds: [$seeds]}" \
    > "$OUT/train-chal.log" 2>&1) &
  PIDS+=($!)
fi
[ ${#PIDS[@]} -gt 0 ] && wait "${PIDS[@]}"
pkill -f "$WORK/.*/.snakemake/scripts" 2>/dev/null # jobs of a Snakemake killed at its deadline
stamp "training stopped or done"

PIDS=()
for wd in bench chal; do
  plan=$BENCH_PLAN select=$BENCH_SELECT
  [ $wd = chal ] && plan=$CHAL_PLAN select=$CHAL_SELECT
  [ -z "$plan" ] && continue
  (cd "$WORK/$wd" && timeout 100 "${SM[@]}" --cores 8 --configfile run.yaml --nolock --rerun-triggers mtime \
    --config "select={$select, models: [$plan]}" allow_missing_runs=True \
    > "$OUT/aggregate-$wd.log" 2>&1;
   mkdir -p "$OUT/$wd" && cp -r results/tables results/figures results/benchmarks results/logs \
     "$OUT/$wd/" 2>/dev/null;
   find results/runs \( -name "*.json" -o -name "*.csv" \) \
     -exec cp --parents {} "$OUT/$wd/" \; ;
   cp --parents results/datasets/*/ambiguous_pairs.csv "$OUT/$wd/" 2>/dev/null) &
  PIDS+=($!)
done
[ ${#PIDS[@]} -gt 0 ] && wait "${PIDS[@]}"
stamp "tables and figures written"
# the device tool returns a limited number of files: everything in one archive (no models)
tar czf "$OUT/results.tar.gz" -C "$OUT" --exclude=results.tar.gz bench chal 2>/dev/null
rm -rf "$OUT/bench" "$OUT/chal"

stamp "end"
