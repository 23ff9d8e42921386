#!/usr/bin/env bash
# The test command: installs what is missing (Debian packages), builds everything and runs
# every test, the bounded fuzzer runs included. Works from a fresh Debian 12 machine with git.
#   GRADIENTS_BUILD_DIR   build directory (default: build)
#   GRADIENTS_FUZZ_SECONDS  seconds per fuzzer (default: 60)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

build=${GRADIENTS_BUILD_DIR:-build}
jobs=$(nproc)
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DGRADIENTS_FUZZ_SECONDS="${GRADIENTS_FUZZ_SECONDS:-60}"
cmake --build "$build" -j "$jobs"
ctest --test-dir "$build" --output-on-failure -j "$jobs"
