#!/usr/bin/env bash
# Unpacks, without installing, the Debian packages bench/gpu/run.sh needs on a GPU machine
# that has no apt: JSON, logging, libsodium, CLI11 and GoogleTest headers and libraries, into
# .device/root. Run on a Debian 12 machine (needs apt-get download and dpkg-deb only).
set -euo pipefail
cd "$(dirname "$0")/../.."
packages=(nlohmann-json3-dev libspdlog-dev libspdlog1.10 libfmt-dev libfmt9 libsodium-dev libsodium23
          libgtest-dev libgmock-dev libpcre2-dev libpcre2-8-0
          libutf8proc-dev libutf8proc2 libcli11-dev)
rm -rf .device && mkdir -p .device/debs .device/root
(cd .device/debs && apt-get download "${packages[@]}")
for deb in .device/debs/*.deb; do dpkg-deb -x "$deb" .device/root; done
rm -rf .device/debs
du -sh .device/root
