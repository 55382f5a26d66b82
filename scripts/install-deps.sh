#!/usr/bin/env bash
# Installs every build and test dependency of skiff from Debian 12 packages, plus any package
# named on the command line.
# Idempotent and quiet: it only calls apt-get when a package is missing.
set -euo pipefail

packages=(
  # build
  meson ninja-build pkgconf g++ ccache clang-format
  libboost1.74-dev libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libssl-dev libavahi-client-dev libsqlite3-dev libtomlplusplus-dev libcli11-dev
  libspdlog-dev nlohmann-json3-dev libc-ares-dev libgtest-dev libgmock-dev
  # tests and demo
  python3 python3-pytest python3-requests python3-grpcio python3-protobuf openssl curl sqlite3
  iproute2 procps util-linux
  # real backing servers for the resolver tests (started by the tests themselves, never as
  # system services: see the policy-rc.d guard below)
  etcd-server etcd-client dnsmasq-base avahi-daemon avahi-utils dbus
  # a real Prometheus server and promtool for the metrics tests
  prometheus
  # abidw reads the plugin ABI's layout for the ABI stability check (tests/abi)
  abigail-tools
)

# Node.js and npm for the test with Dapr's JavaScript SDK (from the npm registry): Debian's, unless
# the machine already has a Node.js of its own (whose package may carry npm itself).
command -v node >/dev/null || packages+=(nodejs)
command -v npm >/dev/null || packages+=(npm)

# Extra packages a caller needs (scripts/bench.sh adds nginx-light).
packages+=("$@")

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
# avahi-daemon and etcd-server would start as system services on install; avahi's multicast must
# never reach the machine's real interfaces, so services are kept from starting for this install.
guard=""
if [ ! -e /usr/sbin/policy-rc.d ]; then
  guard=/usr/sbin/policy-rc.d
  printf '#!/bin/sh\nexit 101\n' | $sudo tee "$guard" >/dev/null
  $sudo chmod 755 "$guard"
fi
trap 'if [ -n "$guard" ]; then $sudo rm -f "$guard"; fi' EXIT
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
