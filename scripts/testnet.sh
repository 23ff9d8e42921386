#!/usr/bin/env bash
# The local testnet in one command: installs what is missing (Debian packages), builds the three
# programs, then runs `gradients testnet run`: a base model pretrained here (cached in
# ~/.cache/gradients), a WordNet dataset, one validator and three miners (fixed, random and TPE
# search) on loopback ports 7400-7402, rounds until Ctrl-C, each round's leaderboard and weights
# printed. Everything it writes is in .testnet/ (logs in .testnet/logs/).
#   GRADIENTS_BUILD_DIR  build directory (default: build, the test command's)
#   any arguments        go to `gradients testnet run` (--rounds N, --dir DIR, --configs DIR, ...)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

build=${GRADIENTS_BUILD_DIR:-build}
# The test command's configuration, so that either command reuses the other's build.
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j "$(nproc)" --target gradients gradients-validator gradients-miner

exec "$build/cli/gradients" testnet run --dir .testnet "$@"
