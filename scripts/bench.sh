#!/usr/bin/env bash
# Runs the benchmark: direct, skiff (with and without mTLS) and nginx-chain (with and without TLS)
# topologies on loopback, in one run, and prints
# the table (JSON in bench/results/). Installs nginx (nginx-light) if missing, as a program the
# benchmark starts itself, never as a service. `scripts/bench.sh --quick` finishes in under 3
# minutes; other options go to bench/run.py (see bench/run.py --help).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh nginx-light
build=${SKIFF_BUILD_DIR:-build}
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" >/dev/null
fi
meson compile -C "$build" >/dev/null
exec /usr/bin/python3 bench/run.py --build "$build" "$@"
