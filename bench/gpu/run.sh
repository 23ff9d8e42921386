#!/usr/bin/env bash
# The device check, run on a GPU machine that has a CUDA PyTorch but no apt and no gRPC:
#   build     builds common/, trainers/, their tests and bench/ against the libtorch inside PyTorch
#             (with the fused CUDA kernels, trainers/cuda_kernels.cu), then runs the fused
#             kernels' tests (FusedKernels.*: against the unfused operations and the CPU);
#   trainer   trains with `gradients train` on the GPU and loads the results with PEFT and
#             transformers (bench/gpu/trainer_check.py);
#   models    compares the model with transformers in float32 and bfloat16 on the GPU
#             (bench/gpu/transformers_check.py) and checks safetensors interoperability with
#             Hugging Face's library both ways (bench/gpu/safetensors_interop.py);
#   bench     benchmarks training against transformers + PEFT (bench/gpu/train_bench.sh) on
#             GRADIENTS_GPU_BENCH_SHAPES (default: h288 h768 tinyllama);
#   tests     runs the whole test suite (the device tests resolve cuda:0 there).
# GRADIENTS_GPU_STEPS picks the steps (default: all, in this order: the correctness checks first,
# a short device session needs those most); the build always runs.
# The Debian headers and libraries the build needs are unpacked beforehand, on a machine with
# apt, by `bench/gpu/fetch_deps.sh` into .device/root (git ignores it; the device tool carries it).
set -euo pipefail
cd "$(dirname "$0")/../.."
# shellcheck source=bench/gpu/common.sh
source bench/gpu/common.sh
steps=" ${GRADIENTS_GPU_STEPS:-trainer models bench tests} "
wants() { [[ "$steps" == *" $1 "* ]]; }
python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda,
      torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU")' | tee "$out/device.txt"
if wants tests || wants models; then
  # shellcheck disable=SC2119  # no targets: build everything
  build_against_pytorch
else
  targets=(trainers_test)
  if wants trainer; then targets+=(gradients); fi
  if wants bench; then targets+=(train_throughput); fi
  build_against_pytorch "${targets[@]}"
fi
grep -m1 "Fused CUDA kernels" "$out/build.log" || echo "Fused CUDA kernels: not built"
echo "[$SECONDS s] build: ok"
# Each check runs even when an earlier one fails; the script fails if any did.
failed=0
"$build/tests/trainers/trainers_test" --gtest_filter='FusedKernels.*' >"$out/fused_kernels.log" 2>&1 || failed=1
grep -E "^\[  (PASSED|FAILED|SKIPPED) |Failure|Expected|Which is|difference" "$out/fused_kernels.log" | head -30
if wants trainer; then
  echo "[$SECONDS s] trainer check"
  python3 bench/gpu/trainer_check.py --build "$build" --out "$out" >"$out/trainer_check.log" 2>&1 || failed=1
  tail -8 "$out/trainer_check.log"
fi
if wants models; then
  echo "[$SECONDS s] transformers check"
  python3 bench/gpu/transformers_check.py --build "$build" --out "$out" >"$out/transformers_check.log" 2>&1 || failed=1
  tail -24 "$out/transformers_check.log"
  if python3 bench/gpu/safetensors_interop.py --repo . --out "$out" >"$out/safetensors_interop.log" 2>&1; then
    echo "safetensors interop: ok"
  else
    tail -20 "$out/safetensors_interop.log"
    failed=1
  fi
fi
shapes=${GRADIENTS_GPU_BENCH_SHAPES-h288 h768 tinyllama}
if wants bench && [[ -n "$shapes" ]]; then
  echo "[$SECONDS s] training benchmark: $shapes"
  # shellcheck disable=SC2086
  bench/gpu/train_bench.sh "$build" $shapes | tee "$out/train_bench.jsonl"
fi
if wants tests; then
  echo "[$SECONDS s] tests"
  # The GPT-2 and SentencePiece references (npm registry, spm_train/spm_encode) and the Debian data
  # the corpora read (WordNet, fortunes), and docker-compose, are not on the GPU machine; those tests
  # run in CI.
  exclude="BpeByteLevel|SentencePiece|Corpora.Debians|BaseModel|ComposeFiles"
  ctest --test-dir "$build" --output-on-failure -j "$(nproc)" -E "${GRADIENTS_GPU_CTEST_EXCLUDE:-$exclude}" \
    >"$out/ctest.log" 2>&1 || failed=1
  tail -4 "$out/ctest.log"
fi
echo "[$SECONDS s] done"
exit $failed
