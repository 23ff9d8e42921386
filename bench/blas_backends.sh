#!/usr/bin/env bash
# Runs bench/matmul_gflops with the BLAS Debian's libtorch gets from libopenblas0-pthread, then
# with the reference BLAS (libblas3) preloaded over it: the slowdown a machine without
# libopenblas0-pthread would see. Usage: bench/blas_backends.sh [BUILD_DIR] (default: build)
set -euo pipefail
build=${1:-build}
bench=$build/bench/matmul_gflops
reference=/usr/lib/x86_64-linux-gnu/blas/libblas.so.3
echo "OpenBLAS (pthread):"
"$bench" 1024 10
if [ -e "$reference" ]; then
  echo "reference BLAS ($reference preloaded):"
  LD_PRELOAD=$reference "$bench" 1024 3
else
  echo "reference BLAS not installed ($reference); apt-get install libblas3 to compare"
fi
