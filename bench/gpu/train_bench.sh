#!/usr/bin/env bash
# The GPU training benchmark: bench/train_throughput (this project's training step) and
# bench/gpu/hf_train_bench.py (transformers + PEFT) on the issue's three shapes, LoRA and full,
# side by side in one run on the same GPU. Prints one JSON line per run; bench/gpu/run.sh calls it.
# On the shapes named in GRADIENTS_GPU_BENCH_UNFUSED (default tinyllama) this project's step runs a
# second time with GRADIENTS_FUSED_KERNELS=0 (without the fused CUDA kernels).
#   bench/gpu/train_bench.sh BUILD_DIR [SHAPE...]     (shapes: h288 h768 tinyllama; default all)
set -uo pipefail
build_dir=$1
shift
shapes=("${@:-h288 h768 tinyllama}")
# shellcheck disable=SC2206
shapes=(${shapes[*]})
cd "$(dirname "$0")/../.." || exit 1
# shellcheck source=bench/gpu/common.sh
source bench/gpu/common.sh
for shape in "${shapes[@]}"; do
  for mode in lora full; do
    # shellcheck disable=SC2086
    result=$("$build_dir/bench/train_throughput" ${shape_flags[$shape]} --mode "$mode" --device cuda --steps 10 --warmup 3 2>&1)
    echo "{\"shape\": \"$shape\", \"gradients\": ${result:-null}}" | tr -d '\n'
    echo
    if [[ " ${GRADIENTS_GPU_BENCH_UNFUSED-tinyllama} " == *" $shape "* ]]; then
      # The same step without the fused CUDA kernels (ATen's operations in their place): their share.
      # shellcheck disable=SC2086
      result=$(GRADIENTS_FUSED_KERNELS=0 "$build_dir/bench/train_throughput" ${shape_flags[$shape]} --mode "$mode" \
        --device cuda --steps 10 --warmup 3 2>&1)
      echo "{\"shape\": \"$shape\", \"gradients_unfused\": ${result:-null}}" | tr -d '\n'
      echo
    fi
    python3 bench/gpu/hf_train_bench.py --shape "$shape" --mode "$mode" --steps 10 --warmup 3 2>&1 | tail -1
  done
done
