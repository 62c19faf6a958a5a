#!/usr/bin/env bash
# The Debian packages MoeCode's build, demo and tests need, in one place: the README's first command and
# .ci/run both run this. Works as root (containers, CI) and as a user with sudo.
#   chromium            its SwiftShader Vulkan driver is the software WebGPU adapter (no GPU), and the
#                       browser of the editor tests
#   libvulkan1          the Vulkan loader Dawn opens
#   clang lld           the CPU backend's WebAssembly kernels (clang --target=wasm32, wasm-ld): SIMD128
#   clang-19 lld-19     the same kernels' relaxed-SIMD build (clang 14 cannot write relaxed dot products)
#   libkrb5-dev ripgrep build-essential python3
#                       code-server's install for the editor tests (kerberos and node-pty build from
#                       source; its ripgrep download is pre-seeded from Debian's rg)
#   python3-numpy python3-torch
#                       the training tools' tests (tools/train: the shipped model's data and export)
#   unzip               the packaging test lists what the .vsix holds
# MOECODE_APT_DRY_RUN=1 only simulates the install (apt-get -s) and skips `apt-get update`.
set -euo pipefail

PACKAGES=(chromium libvulkan1 clang lld clang-19 lld-19 libkrb5-dev ripgrep build-essential python3 python3-numpy python3-torch unzip)

as_root() {
  if [ "$(id -u)" -eq 0 ]; then
    "$@"
  elif command -v sudo >/dev/null 2>&1; then
    sudo "$@"
  else
    echo "install-system-packages: run as root, or install sudo: apt-get needs root for: ${PACKAGES[*]}" >&2
    exit 1
  fi
}

if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-system-packages: no apt-get: this script is for Debian/Ubuntu; install these yourself: ${PACKAGES[*]}" >&2
  exit 1
fi

if [ "${MOECODE_APT_DRY_RUN:-}" = "1" ]; then
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -s -y --no-install-recommends "${PACKAGES[@]}"
  exit 0
fi
as_root env DEBIAN_FRONTEND=noninteractive apt-get update
as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PACKAGES[@]}"
