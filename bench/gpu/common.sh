# Sourced by the device scripts (run.sh, profile.sh, train_bench.sh) from the repository root:
# where things are, the CUDA build, and the benchmark's shapes.
# shellcheck shell=bash
deps=${GRADIENTS_DEVICE_DEPS:-$PWD/.device/root}
out=${OUT:-$PWD/build-gpu/out}
build=${GRADIENTS_BUILD_DIR:-build-gpu}
mkdir -p "$out"
export LD_LIBRARY_PATH="$deps/usr/lib/x86_64-linux-gnu${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"

# Configures the build against the libtorch inside PyTorch and builds it (or only the targets
# given as arguments); the log goes to $out/build.log (the device tool returns few files).
build_against_pytorch() {
  local torch_prefix targets=()
  torch_prefix=$(python3 -c 'import torch; print(torch.utils.cmake_prefix_path)')
  for target in "$@"; do targets+=(--target "$target"); done
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DGRADIENTS_BUILD_SERVICES=OFF -DGRADIENTS_BUILD_FUZZERS=OFF \
    -DCMAKE_PREFIX_PATH="$torch_prefix;$deps/usr" >"$out/build.log" 2>&1 || { tail -40 "$out/build.log"; return 1; }
  cmake --build "$build" -j "$(nproc)" "${targets[@]}" >>"$out/build.log" 2>&1 ||
    { grep -m20 -A5 error "$out/build.log"; return 1; }
}

# The three shapes, as bench/train_throughput flags (bench/gpu/hf_train_bench.py has the same).
# shellcheck disable=SC2034
declare -A shape_flags=(
  [h288]="--hidden 288 --layers 6 --heads 6 --kv-heads 6 --ffn 768 --vocab 32000 --batch 16 --seq 512"
  [h768]="--hidden 768 --layers 12 --heads 12 --kv-heads 12 --ffn 2048 --vocab 32000 --batch 16 --seq 1024"
  [tinyllama]="--hidden 2048 --layers 22 --heads 32 --kv-heads 4 --ffn 5632 --vocab 32000 --batch 8 --seq 2048"
)
