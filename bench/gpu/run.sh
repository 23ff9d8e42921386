#!/usr/bin/env bash
# The device check, run on a GPU machine that has a CUDA PyTorch but no apt and no gRPC:
#   1. builds common/, trainers/, their tests and bench/ against the libtorch inside PyTorch;
#   2. trains with `gradients train` on the GPU and loads the results with PEFT and transformers
#      (bench/gpu/trainer_check.py);
#   3. compares the model with transformers in float32 and bfloat16 on the GPU
#      (bench/gpu/transformers_check.py);
#   4. checks safetensors interoperability with Hugging Face's library both ways
#      (bench/gpu/safetensors_interop.py), writing its files to $OUT;
#   5. benchmarks training against transformers + PEFT (bench/gpu/train_bench.sh), unless
#      GRADIENTS_GPU_BENCH_SHAPES is empty (default: h288 h768 tinyllama);
#   6. runs the tests (the device tests resolve cuda:0 there).
# The correctness checks come first, then the benchmark: a short device session needs those most.
# The Debian headers and libraries the build needs are unpacked beforehand, on a machine with
# apt, by `bench/gpu/fetch_deps.sh` into .device/root (git ignores it; the device tool carries it).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=bench/gpu/common.sh
source bench/gpu/common.sh
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")' | tee "$out/device.txt"
# shellcheck disable=SC2119  # no targets: build everything
build_against_pytorch
echo "[$SECONDS s] build: ok"
# Each check runs even when an earlier one fails; the script fails if any did.
failed=0
echo "[$SECONDS s] trainer check"
python3 bench/gpu/trainer_check.py --build "$build" --out "$out" >"$out/trainer_check.log" 2>&1 || failed=1
tail -8 "$out/trainer_check.log"
echo "[$SECONDS s] transformers check"
python3 bench/gpu/transformers_check.py --build "$build" --out "$out" >"$out/transformers_check.log" 2>&1 || failed=1
tail -24 "$out/transformers_check.log"
if python3 bench/gpu/safetensors_interop.py --repo . --out "$out" >"$out/safetensors_interop.log" 2>&1; then
  echo "safetensors interop: ok"
else
  tail -20 "$out/safetensors_interop.log"
  failed=1
fi
shapes=${GRADIENTS_GPU_BENCH_SHAPES-h288 h768 tinyllama}
if [[ -n "$shapes" ]]; then
  echo "[$SECONDS s] training benchmark: $shapes"
  # shellcheck disable=SC2086
  bench/gpu/train_bench.sh "$build" $shapes | tee "$out/train_bench.jsonl"
fi
echo "[$SECONDS s] tests"
# The GPT-2 and SentencePiece references (npm registry, spm_train/spm_encode) are not on the GPU
# machine; those tests run in CI.
ctest --test-dir "$build" --output-on-failure -j "$(nproc)" -E "${GRADIENTS_GPU_CTEST_EXCLUDE:-BpeByteLevel|SentencePiece}" \
  >"$out/ctest.log" 2>&1 || failed=1
tail -4 "$out/ctest.log"
echo "[$SECONDS s] done"
exit $failed
