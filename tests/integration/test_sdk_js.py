"""Dapr's official JavaScript SDK (@dapr/dapr from the npm registry, pinned in sdk_js/package-lock.json)
as an app would use it against skiffd: over HTTP and gRPC, with DAPR_API_TOKEN set, which the SDK reads
by itself; a wrong token is refused, and the app behind the callee gets its own APP_API_TOKEN."""
import json
import os
import subprocess

import pytest

TOKEN = "js-sdk-token"


def run_sdk(sdk_dir, sidecar, protocol, token):
    env = dict(os.environ, DAPR_HTTP_PORT=str(sidecar.http_port), DAPR_GRPC_PORT=str(sidecar.grpc_port),
               DAPR_API_TOKEN=token)
    return subprocess.run(["node", "invoke.mjs", protocol], cwd=sdk_dir, capture_output=True, text=True,
                          timeout=60, env=env)


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_the_dapr_js_sdk_invokes_with_its_api_token(cluster, sdk_dir, protocol):
    app = cluster.app("cart")  # its /inspect answers with what it received, as JSON
    cluster.sidecar("cart", app_port=app.port, env=dict(cluster.env, APP_API_TOKEN="for-the-app"))
    order = cluster.sidecar("order", env=dict(cluster.env, DAPR_API_TOKEN=TOKEN))
    r = run_sdk(sdk_dir, order, protocol, TOKEN)
    assert r.returncode == 0, (r.stdout, r.stderr)
    answer = json.loads(r.stdout.strip().splitlines()[-1])["answer"]  # the SDK logs lines before it
    assert answer["app"] == "cart" and answer["target"] == "/inspect" and answer["verb"] == "POST"
    assert answer["body_size"] == len(json.dumps({"from": "js-sdk"}, separators=(",", ":")))
    headers = {n.lower(): v for n, v in answer["headers"]}
    assert headers["dapr-api-token"] == "for-the-app"  # never the caller's token
    assert headers["dapr-caller-app-id"] == "order"
    # The same SDK with a wrong token is refused: its start-up probe of the metadata API, which needs
    # the token as with daprd, never succeeds, so it gives up before invoking anything.
    r = run_sdk(sdk_dir, order, protocol, "wrong")
    assert r.returncode == 1, (r.stdout, r.stderr)
    assert "DAPR_SIDECAR_COULD_NOT_BE_STARTED" in r.stderr, r.stderr


@pytest.mark.parametrize("protocol", ["http", "grpc"])
def test_the_dapr_js_sdk_works_with_tracing_and_metrics_on(cluster, sdk_dir, protocol):
    """Spans exported for every call (OTLP receiver), metrics served: the SDK's calls are unchanged."""
    from harness import free_port, requests, wait_until
    from otlp_receiver import Receiver
    receiver = Receiver(free_port())
    try:
        env = dict(cluster.env, OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{receiver.server.server_port}",
                   OTEL_BSP_SCHEDULE_DELAY="100")
        app = cluster.app("cart")
        cluster.sidecar("cart", app_port=app.port, env=env)
        order = cluster.sidecar("order", env=dict(env, DAPR_API_TOKEN=TOKEN))
        r = run_sdk(sdk_dir, order, protocol, TOKEN)
        assert r.returncode == 0, (r.stdout, r.stderr)
        answer = json.loads(r.stdout.strip().splitlines()[-1])["answer"]
        assert answer["app"] == "cart" and answer["verb"] == "POST"
        headers = {n.lower(): v for n, v in answer["headers"]}
        trace_id = headers["traceparent"].split("-")[1]
        # The callee's sidecar recorded the call, and the app's traceparent names its client span.
        wait_until(lambda: any(s.trace_id.hex() == trace_id and svc == "cart" for svc, s in receiver.spans()),
                   timeout=20, what="the callee sidecar's spans")
        cart_client = [s for svc, s in receiver.spans() if svc == "cart" and s.kind == 3][-1]
        assert headers["traceparent"].split("-")[2] == cart_client.span_id.hex()
        metrics = requests.get(f"http://127.0.0.1:{order.metrics_port}/metrics", timeout=5).text
        assert 'dapr_runtime_service_invocation_req_sent_total{app_id="order",dst_app_id="cart"' in metrics
    finally:
        receiver.close()
