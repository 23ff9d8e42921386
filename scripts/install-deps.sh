#!/usr/bin/env bash
# Installs, from Debian 12's archive, the packages Gradients builds and tests with.
# Idempotent: packages already installed are left alone, and apt is not touched at all
# when nothing is missing. Prints what it installs and why.
#   --reference  also the tools that regenerate test fixtures and run the baselines in bench/
#                (Debian's python3-torch for ../shared/bench/torch_reference.py; Optuna and
#                matplotlib for the market benchmark, bench/market/run.py)
#   --miner-cuda only what a GPU owner needs to build the daemons against a CUDA libtorch of their
#                own (the one inside PyTorch, or the libtorch distribution): no Debian libtorch,
#                no test tools (Debian 12 or Ubuntu 24.04; README, Running a miner)
set -euo pipefail

reference=0 miner_cuda=0
for arg in "$@"; do
  case "$arg" in
    --reference) reference=1 ;;
    --miner-cuda) miner_cuda=1 ;;
    *) echo "install-deps: unknown option $arg (--reference, --miner-cuda)" >&2; exit 2 ;;
  esac
done

# name:reason, one package a line: what the daemons and the CLI build with.
PACKAGES=(
  "build-essential:C++ compiler and make"
  "cmake:build system (>= 3.25)"
  "ninja-build:fast parallel builds"
  "pkg-config:locates libsodium"
  "ccache:compiler cache for warm rebuilds"
  "libgrpc++-dev:gRPC C++ runtime"
  "protobuf-compiler-grpc:grpc_cpp_plugin for protoc"
  "libprotobuf-dev:protobuf runtime"
  "protobuf-compiler:protoc"
  "libboost-dev:Boost headers"
  "libspdlog-dev:logging"
  "nlohmann-json3-dev:JSON"
  "libsodium-dev:ed25519 signatures, BLAKE2b and SHA-256"
  "libsqlite3-dev:validator state"
  "libcli11-dev:command line parsing"
  "libpcre2-dev:Unicode-aware pre-tokenizer regexes"
  "libutf8proc-dev:Unicode normalization (NFC, NFKC) for tokenizers"
  "zlib1g-dev:reads the gzip'd miscfiles lists and FreeDict's dictzip'd dictionaries"
)
if [ "$miner_cuda" = 0 ]; then
  PACKAGES+=(
    "libtorch-dev:trainers (libtorch C++ API)"
    "libopenblas0-pthread:fast BLAS for libtorch (the reference BLAS is ~20x slower)"
    "clang:libFuzzer targets"
    "libclang-rt-14-dev:libFuzzer, ASan and UBSan runtimes for clang"
    "libgtest-dev:unit tests"
    "sentencepiece:spm_train and spm_encode: the base models' tokenizers, the SentencePiece reference in tests"
    "wordnet-base:WordNet's glosses: the testnet's dataset and pretraining text"
    "fortunes:fortune cookie texts: pretraining text for the base models"
    "miscfiles:countries and currencies (/usr/share/misc): the market benchmark's country-facts task"
    "dict-freedict-eng-fra:FreeDict English-French: the market benchmark's word-translation task"
    "dict-freedict-eng-deu:FreeDict English-German: the market benchmark's word-translation task"
    "dict-freedict-eng-spa:FreeDict English-Spanish: the market benchmark's word-translation task"
    "docker-compose:checks the compose files offline in the tests (no Docker engine needed)"
  )
  # Node.js runs the reference GPT-2 encoder (npm's gpt-3-encoder) in the tokenizer tests. Only the
  # commands matter: a machine with Node.js from elsewhere (NodeSource) keeps it.
  command -v node >/dev/null || PACKAGES+=("nodejs:runs the reference GPT-2 tokenizer in tests")
  command -v npm >/dev/null || PACKAGES+=("npm:fetches the reference GPT-2 tokenizer for tests")
fi
if [ "$miner_cuda" = 1 ]; then
  PACKAGES+=("python3-venv:a virtual environment to install PyTorch (and its CUDA libtorch) into")
fi
if [ "$reference" = 1 ]; then
  PACKAGES+=("python3-torch:the PyTorch reference that fixtures and baselines come from"
             "python3-optuna:the market benchmark's AutoML contender (bench/market/run.py)"
             "python3-matplotlib:the market benchmark's charts")
fi

missing=()
for entry in "${PACKAGES[@]}"; do
  name=${entry%%:*}
  if ! dpkg-query -W -f='${Status}' "$name" 2>/dev/null | grep -q '^install ok installed$'; then
    missing+=("$name")
    echo "install-deps: will install $name (${entry#*:})"
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages already installed"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: run as root or install sudo" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
echo "install-deps: installed ${#missing[@]} package(s): ${missing[*]}"
