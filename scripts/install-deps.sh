#!/usr/bin/env bash
# Installs the Debian 12 packages bigbird.cpp needs to build, test and benchmark.
# Idempotent: does nothing when every package is already installed.
set -euo pipefail
PKGS=(build-essential cmake pkg-config
      libopenblas-openmp-dev nlohmann-json3-dev libcli11-dev
      libgtest-dev libgmock-dev libbenchmark-dev
      libsentencepiece-dev libcpp-httplib-dev libopenmpi-dev openmpi-bin python3 python3-numpy)
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
