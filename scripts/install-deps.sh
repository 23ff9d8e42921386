#!/usr/bin/env bash
# Installs, from Debian 12's archive, the packages Gradients builds and tests with.
# Idempotent: packages already installed are left alone, and apt is not touched at all
# when nothing is missing. Prints what it installs and why.
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
)

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
