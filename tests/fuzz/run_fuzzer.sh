#!/usr/bin/env bash
# run_fuzzer.sh FUZZER SECONDS SCRATCH_DIR SEED_DIR...
# Runs a libFuzzer binary for a bounded time over the seed corpora. New inputs go to
# SCRATCH_DIR (kept between runs, so later runs start from what earlier ones found); a crash,
# leak, sanitizer report or timeout makes the fuzzer, and so this test, fail, and leaves the
# reproducer in SCRATCH_DIR/artifacts.
set -euo pipefail
fuzzer=$1 seconds=$2 scratch=$3
shift 3
mkdir -p "$scratch/corpus" "$scratch/artifacts"
exec "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
  -artifact_prefix="$scratch/artifacts/" "$scratch/corpus" "$@"
