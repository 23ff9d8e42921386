#!/usr/bin/env bash
# Profiles training steps on the GPU machine, ours (bench/train_throughput) and transformers + PEFT
# (bench/gpu/hf_train_bench.py) on the same shapes, and summarises each trace
# (bench/gpu/profile_summary.py) into $OUT/profile.txt. Builds only bench/train_throughput.
#   bench/gpu/profile.sh [SHAPE:MODE ...]      (default: h288:lora h288:full tinyllama:lora)
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=bench/gpu/common.sh
source bench/gpu/common.sh
build_against_pytorch train_throughput
echo "[$SECONDS s] build: ok"
runs=("${@:-h288:lora h288:full tinyllama:lora}")
# shellcheck disable=SC2206
runs=(${runs[*]})
for run in "${runs[@]}"; do
  shape=${run%%:*} mode=${run##*:}
  trace=/tmp/gradients_${shape}_$mode.json
  # shellcheck disable=SC2086
  "$build/bench/train_throughput" ${shape_flags[$shape]} --mode "$mode" --device cuda --steps 5 --warmup 3 \
    --profile "$trace" | tee -a "$out/profile.txt"
  { echo "== gradients $shape $mode"; python3 bench/gpu/profile_summary.py "$trace"; } >>"$out/profile.txt" 2>&1
  python3 bench/gpu/hf_train_bench.py --shape "$shape" --mode "$mode" --steps 5 --warmup 3 \
    --profile "/tmp/hf_${shape}_$mode.json" 2>&1 | tail -1 | tee -a "$out/profile.txt"
  { echo "== transformers+peft $shape $mode"; python3 bench/gpu/profile_summary.py "/tmp/hf_${shape}_$mode.json"; } \
    >>"$out/profile.txt" 2>&1
  echo "[$SECONDS s] $shape $mode profiled"
done
