#!/usr/bin/env bash
# The GPU training benchmark: bench/train_throughput (this project's training step) and
# bench/gpu/hf_train_bench.py (transformers + PEFT) on the three shapes, LoRA and full,
# side by side in one run on the same GPU. Prints one JSON line per run; bench/gpu/run.sh calls it.
#   bench/gpu/train_bench.sh BUILD_DIR [SHAPE...]     (shapes: h288 h768 tinyllama; default all)
set -uo pipefail
build=$1
shift
shapes=("${@:-h288 h768 tinyllama}")
# shellcheck disable=SC2206
shapes=(${shapes[*]})
declare -A flags=(
  [h288]="--hidden 288 --layers 6 --heads 6 --kv-heads 6 --ffn 768 --vocab 32000 --batch 16 --seq 512"
  [h768]="--hidden 768 --layers 12 --heads 12 --kv-heads 12 --ffn 2048 --vocab 32000 --batch 16 --seq 1024"
  [tinyllama]="--hidden 2048 --layers 22 --heads 32 --kv-heads 4 --ffn 5632 --vocab 32000 --batch 8 --seq 2048"
)
for shape in "${shapes[@]}"; do
  for mode in lora full; do
    # shellcheck disable=SC2086
    result=$("$build/bench/train_throughput" ${flags[$shape]} --mode "$mode" --device cuda --steps 10 --warmup 3 2>&1)
    echo "{\"shape\": \"$shape\", \"gradients\": ${result:-null}}" | tr -d '\n'
    echo
    python3 bench/gpu/hf_train_bench.py --shape "$shape" --mode "$mode" --steps 10 --warmup 3 2>&1 | tail -1
  done
done
