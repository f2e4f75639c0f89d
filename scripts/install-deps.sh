#!/usr/bin/env bash
# Installs the Debian 12 packages bigbird.cpp needs to build, test and benchmark.
# Idempotent: does nothing when every package is already installed.
set -euo pipefail
PKGS=(build-essential cmake pkg-config
      libopenblas-openmp-dev nlohmann-json3-dev libcli11-dev
      libgtest-dev libgmock-dev libbenchmark-dev
      libsentencepiece-dev libicu-dev libonig-dev libcpp-httplib-dev libpng-dev zlib1g-dev libopenmpi-dev openmpi-bin python3 python3-numpy
      pybind11-dev python3-dev python3-pytest)  # the Python package (python/) and its tests
# --fuzz (make fuzz): clang-14 with libFuzzer and the sanitizer runtimes, and clang's OpenMP.
if [ "${1:-}" = "--fuzz" ]; then PKGS+=(clang-14 libclang-rt-14-dev libomp-14-dev); fi
# --bench (make bench-serve): wrk, the load generator.
if [ "${1:-}" = "--bench" ]; then PKGS+=(wrk); fi
missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then exit 0; fi
SUDO=""
[ "$(id -u)" -ne 0 ] && SUDO=sudo
echo "install-deps: installing ${missing[*]}" >&2
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
