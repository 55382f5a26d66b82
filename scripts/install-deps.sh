#!/usr/bin/env bash
# Installs every build and test dependency of skiff from Debian 12 packages.
# Idempotent and quiet: it only calls apt-get when a package is missing.
set -euo pipefail

packages=(
  # build
  meson ninja-build pkgconf g++ ccache clang-format
  libboost1.74-dev libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libssl-dev libavahi-client-dev libsqlite3-dev libtomlplusplus-dev libcli11-dev
  libspdlog-dev nlohmann-json3-dev libc-ares-dev libgtest-dev libgmock-dev
  # tests and demo
  python3 python3-pytest python3-requests curl sqlite3 iproute2 procps
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq >/dev/null
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
