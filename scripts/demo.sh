#!/usr/bin/env bash
# The two-service demo: installs what is missing, builds, starts the sample apps `order` and
# `cart` each with its own skiffd, shows order calling cart through both sidecars three ways
# (skiff invoke, curl on the invoke URL, curl with the dapr-app-id header), then stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$(pwd)
build=${SKIFF_BUILD_DIR:-$repo/build}

scripts/install-deps.sh
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
meson compile -C "$build" >/dev/null

work=$(mktemp -d)
export XDG_STATE_HOME="$work/state"  # a private SQLite name-resolution file for the demo
export SKIFF_PLUGIN_PATH="$build/plugins/resolver-sqlite:$build/plugins/transport-grpc:$build/plugins/transport-tcp:$build/plugins/observer-prometheus:$build/plugins/observer-otlp"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

start() {  # name, then the command
  local name=$1
  shift
  "$@" >"$work/$name.log" 2>&1 &
  pids+=($!)
}

wait_for() {  # name, text that shows it is ready
  local name=$1 text=$2
  for _ in $(seq 1 200); do
    grep -q "$text" "$work/$name.log" 2>/dev/null && return 0
    if ! kill -0 "${pids[-1]}" 2>/dev/null && ! grep -q "$text" "$work/$name.log"; then break; fi
    sleep 0.05
  done
  echo "demo: $name did not start:" >&2
  cat "$work/$name.log" >&2
  exit 1
}

app="$build/examples/apps/sample-app/skiff-sample-app"
skiffd="$build/core/skiffd/skiffd"
start cart-app "$app" --name cart --port 8081
wait_for cart-app "listening"
start order-app "$app" --name order --port 8080 --sidecar-port 3500
wait_for order-app "listening"
start cart-sidecar "$skiffd" --app-id cart --app-port 8081 --dapr-http-port 3501 --dapr-internal-grpc-port 50012 \
  --metrics-port 9091
wait_for cart-sidecar "skiffd ready"
start order-sidecar "$skiffd" --app-id order --app-port 8080 --dapr-http-port 3500 --dapr-internal-grpc-port 50002 \
  --metrics-port 9090
wait_for order-sidecar "skiffd ready"

echo "order (app :8080, sidecar :3500) and cart (app :8081, sidecar :3501) are running."
echo
echo "\$ skiff invoke --app-id cart --method cart/items --data '{\"item\":\"apple\",\"qty\":2}'"
"$build/core/cli/skiff" invoke --app-id cart --method cart/items --data '{"item":"apple","qty":2}'
echo
echo "\$ curl -X POST http://127.0.0.1:3500/v1.0/invoke/cart/method/cart/items -d '{\"item\":\"pear\",\"qty\":1}'"
curl -sS -i -X POST http://127.0.0.1:3500/v1.0/invoke/cart/method/cart/items \
  -H 'Content-Type: application/json' -d '{"item":"pear","qty":1}'
echo
echo
echo "\$ curl -H 'dapr-app-id: cart' http://127.0.0.1:3500/inspect/cart?user=42"
curl -sS -H 'dapr-app-id: cart' 'http://127.0.0.1:3500/inspect/cart?user=42'
echo
echo
echo "The order app itself calls cart through its sidecar (app -> skiffd :3500 -> skiffd :3501 -> cart app):"
echo "\$ curl -X POST http://127.0.0.1:8080/call/cart/cart/checkout -d '{\"order\":17}'"
curl -sS -X POST http://127.0.0.1:8080/call/cart/cart/checkout -H 'Content-Type: application/json' -d '{"order":17}'
echo
echo
echo "Both sidecars counted the calls under Dapr's metric names (Prometheus format, cart's on :9091):"
echo "\$ curl -s http://127.0.0.1:9091/metrics | grep '^dapr_runtime_service_invocation_req_recv_total'"
curl -sS http://127.0.0.1:9091/metrics | grep '^dapr_runtime_service_invocation_req_recv_total' || true
echo
echo "demo finished; stopping the apps and sidecars."
