"""--enable-api-logging (daprd's flag): one line per call of the app-facing APIs, with daprd's message
and field names, the status, the duration and the trace id, in plain text or as JSON fields; nothing
a caller sends can break a line or forge one."""
import json
import re
from urllib.parse import quote

import grpc

import grpc_protos
from harness import free_port, invoke_url, port_open, raw_http, requests, wait_until


def lines_with(sidecar, text):
    return [line for line in sidecar.output().splitlines() if text in line]


def test_each_http_call_is_logged_with_its_status_duration_and_trace(cluster):
    app = cluster.app("cart")
    cluster.sidecar("cart", app_port=app.port)
    order = cluster.sidecar("order", extra=["--enable-api-logging"])
    r = requests.post(invoke_url(order, "cart", "echo") + "?secret=1", data=b"hi", timeout=10,
                      headers={"User-Agent": "shop/1.0"})
    assert r.status_code == 200
    requests.post(invoke_url(order, "nobody", "x"), data=b"hi", timeout=10)
    wait_until(lambda: len(lines_with(order, "HTTP API Called")) == 2, what="two access log lines")
    ok, failed = lines_with(order, "HTTP API Called")
    trace_id = r.headers["traceparent"].split("-")[1]
    assert 'method="POST /v1.0/invoke/cart/method/echo"' in ok  # no query: it may hold secrets
    assert "secret" not in ok
    assert "code=200" in ok and 'useragent="shop/1.0"' in ok
    assert f"trace_id={trace_id}" in ok and 'target_app_id="cart"' in ok
    assert "duration=" in ok
    assert "code=500" in failed and 'target_app_id="nobody"' in failed


def test_off_by_default(cluster):
    order = cluster.sidecar("order")
    requests.get(f"{order.url}/v1.0/healthz", timeout=5)
    requests.get(f"{order.url}/v1.0/metadata", timeout=5)
    assert not lines_with(order, "API Called")


def test_json_lines_carry_the_fields(cluster):
    app = cluster.app("cart")
    cluster.sidecar("cart", app_port=app.port)
    order = cluster.sidecar("order", extra=["--enable-api-logging", "--log-as-json"])
    r = requests.post(invoke_url(order, "cart", "echo"), data=b"hi", timeout=10)

    def entries():
        return [json.loads(line) for line in order.output().split("\n")[:-1]
                if line.strip() and "API Called" in line]

    wait_until(lambda: entries(), what="the JSON access log line")
    [entry] = entries()
    assert entry["msg"] == "HTTP API Called" and entry["level"] == "info"
    assert entry["method"] == "POST /v1.0/invoke/cart/method/echo" and entry["code"] == "200"
    assert isinstance(entry["duration"], (int, float)) and entry["duration"] >= 0
    assert entry["trace_id"] == r.headers["traceparent"].split("-")[1]
    assert entry["app_id"] == "order" and entry["target_app_id"] == "cart"


def test_a_hostile_request_cannot_forge_a_line(cluster):
    order = cluster.sidecar("order", extra=["--enable-api-logging"])
    answer = raw_http(order.http_port, b'GET /v1.0/metadata HTTP/1.1\r\nHost: x\r\n'
                                       b'User-Agent: evil" code=999\tx\r\nConnection: close\r\n\r\n')
    assert answer.startswith(b"HTTP/1.1 200"), answer[:100]
    wait_until(lambda: lines_with(order, "HTTP API Called"), what="the access log line")
    [line] = lines_with(order, "HTTP API Called")
    assert 'useragent="evil\\" code=999\\x09x"' in line, line
    assert " code=200 " in line


def test_each_grpc_call_is_logged(cluster):
    P = grpc_protos.load()
    app = cluster.app("cart")
    cluster.sidecar("cart", app_port=app.port)
    order = cluster.sidecar("order", extra=["--enable-api-logging"])
    wait_until(lambda: port_open(order.grpc_port), what="gRPC API")
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    with grpc_protos.channel(order.grpc_port) as ch:
        stubs = grpc_protos.dapr_stubs(ch)
        req = P.runtime.InvokeServiceRequest(id="cart")
        req.message.method = "echo"
        req.message.http_extension.verb = P.common.HTTPExtension.POST
        stubs.InvokeService(req, metadata=(("traceparent", f"00-{trace_id}-00f067aa0ba902b7-01"),),
                            timeout=10)
        req.id = "nobody"
        try:
            stubs.InvokeService(req, timeout=10)
        except grpc.RpcError:
            pass
    wait_until(lambda: len(lines_with(order, "gRPC API Called")) == 2, what="two gRPC access log lines")
    ok, failed = lines_with(order, "gRPC API Called")
    assert 'method="/dapr.proto.runtime.v1.Dapr/InvokeService"' in ok and "code=OK" in ok
    assert f"trace_id={trace_id}" in ok
    assert "code=OK" not in failed
    # Both name their target; the call without a traceparent is logged with the trace it started.
    assert 'target_app_id="cart"' in ok and 'target_app_id="nobody"' in failed
    assert re.search(r"trace_id=[0-9a-f]{32}", failed) and trace_id not in failed


def test_a_call_to_an_endpoint_outside_the_mesh_is_logged_with_its_target(cluster):
    app = cluster.app("plain")
    order = cluster.sidecar("order", extra=["--enable-api-logging"])
    app_id = quote(f"http://127.0.0.1:{app.port}", safe="")
    r = requests.get(invoke_url(order, app_id, "inspect/x"), timeout=10)
    assert r.status_code == 200
    seen = dict((k.lower(), v) for k, v in r.json()["headers"])
    closed = quote(f"http://127.0.0.1:{free_port()}", safe="")
    assert requests.get(invoke_url(order, closed, "x"), timeout=10).status_code >= 500
    wait_until(lambda: len(lines_with(order, "HTTP API Called")) == 2, what="two access log lines")
    ok, failed = lines_with(order, "HTTP API Called")
    assert "code=200" in ok and f'target_app_id="http://127.0.0.1:{app.port}"' in ok
    assert f"trace_id={seen['traceparent'].split('-')[1]}" in ok
    assert "code=5" in failed and "target_app_id=\"http://127.0.0.1:" in failed
