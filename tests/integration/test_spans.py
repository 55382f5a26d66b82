"""The sidecars' spans, exported by the observer-otlp plugin to an OTLP/HTTP receiver (otlp_receiver.py):
one trace of four spans through two sidecars, linked to the apps' own spans by the traceparent each
hop carries; OpenTelemetry's environment variables configure it as they configure an SDK; a
collector that is down or stalled costs dropped spans, counted in the log, never a call."""
from urllib.parse import quote

import grpc
import pytest

import grpc_protos
from harness import free_port, invoke_url, port_open, requests, wait_until
from otlp_receiver import Receiver

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
APP_SPAN = "00f067aa0ba902b7"
SERVER, CLIENT = 2, 3  # Span.SpanKind


@pytest.fixture
def receiver():
    r = Receiver(free_port())
    yield r
    r.close()


def otel_env(cluster, port, **extra):
    env = dict(cluster.env, OTEL_EXPORTER_OTLP_ENDPOINT=f"http://127.0.0.1:{port}",
               OTEL_BSP_SCHEDULE_DELAY="100")
    env.pop("OTEL_SERVICE_NAME", None)
    env.update(extra)
    return env


def start_pair(cluster, env):
    app = cluster.recording_app("cart")
    cluster.sidecar("cart", app_port=app.port, env=env)
    order = cluster.sidecar("order", env=env)
    return order, app


def attrs(span):
    out = {}
    for a in span.attributes:
        v = a.value
        out[a.key] = v.int_value if v.WhichOneof("value") == "int_value" else v.string_value
    return out


def trace_spans(receiver, trace_id, count):
    wait_until(lambda: len([s for _, s in receiver.spans() if s.trace_id.hex() == trace_id]) >= count,
               timeout=20, what=f"{count} spans of trace {trace_id}")
    return [(svc, s) for svc, s in receiver.spans() if s.trace_id.hex() == trace_id]


def traceparent_seen(app):
    [value] = [v for n, v in app.requests()[-1]["headers"] if n.lower() == "traceparent"]
    return value


def test_one_call_through_two_sidecars_is_one_trace_of_four_linked_spans(cluster, receiver):
    order, app = start_pair(cluster, otel_env(cluster, receiver.server.server_port))
    r = requests.post(invoke_url(order, "cart", "orders/17"), data=b"hi", timeout=10,
                      headers={"traceparent": f"00-{TRACE_ID}-{APP_SPAN}-01"})
    assert r.status_code == 200, r.text
    spans = trace_spans(receiver, TRACE_ID, 4)
    assert len(spans) == 4, spans
    by = {(svc, s.kind): s for svc, s in spans}
    caller_server, caller_client = by[("order", SERVER)], by[("order", CLIENT)]
    callee_server, callee_client = by[("cart", SERVER)], by[("cart", CLIENT)]
    # The chain: calling app -> caller's server -> caller's client -> callee's server -> callee's
    # client -> the callee app, whose traceparent names the last.
    assert caller_server.parent_span_id.hex() == APP_SPAN
    assert caller_client.parent_span_id == caller_server.span_id
    assert callee_server.parent_span_id == caller_client.span_id
    assert callee_client.parent_span_id == callee_server.span_id
    assert traceparent_seen(app) == f"00-{TRACE_ID}-{callee_client.span_id.hex()}-01"
    assert len({s.span_id for _, s in spans}) == 4
    # Names and attributes after OpenTelemetry's HTTP and RPC conventions.
    assert caller_server.name == "POST /v1.0/invoke/{id}/method/{method}"
    assert attrs(caller_server)["http.response.status_code"] == 200
    assert attrs(caller_server)["http.route"] == "/v1.0/invoke/{id}/method/{method}"
    assert caller_client.name == callee_server.name == "skiff.Invocation/Call"
    assert attrs(caller_client)["rpc.system"] == "skiff"
    assert attrs(caller_client)["skiff.target.app_id"] == "cart"
    assert attrs(caller_client)["skiff.retries"] == 0
    assert attrs(callee_server)["skiff.caller.app_id"] == "order"  # from the certificate
    assert callee_client.name == "POST"
    assert attrs(callee_client)["url.full"].endswith("/orders/17")
    assert attrs(callee_client)["server.port"] == app.port
    for _, s in spans:
        assert s.end_time_unix_nano >= s.start_time_unix_nano > 0
        assert s.status.code == 0  # unset: no error
    # Nested in time as they are in the tree.
    assert caller_server.start_time_unix_nano <= caller_client.start_time_unix_nano
    assert caller_client.end_time_unix_nano <= caller_server.end_time_unix_nano
    # The wire format by opentelemetry-proto's field numbers, read without the compiled messages.
    raw = {(t, s, p, n) for t, s, p, n in receiver.raw_spans() if t == TRACE_ID}
    assert (TRACE_ID, caller_server.span_id.hex(), APP_SPAN, caller_server.name) in raw
    headers = receiver.requests[0][0]
    assert headers["Content-Type"] == "application/x-protobuf"


def test_a_grpc_invoke_service_call_has_the_callers_server_span_too(cluster, receiver):
    # Dapr's SDKs call over gRPC: InvokeService gets its server span as HTTP invoke does, named
    # after OpenTelemetry's RPC conventions, and a refused call gets one with its status code.
    P = grpc_protos.load()
    order, app = start_pair(cluster, otel_env(cluster, receiver.server.server_port))
    wait_until(lambda: port_open(order.grpc_port), what="gRPC API")
    with grpc_protos.channel(order.grpc_port) as ch:
        stubs = grpc_protos.dapr_stubs(ch)
        req = P.runtime.InvokeServiceRequest(id="cart")
        req.message.method = "orders/9"
        req.message.http_extension.verb = P.common.HTTPExtension.POST
        stubs.InvokeService(req, metadata=(("traceparent", f"00-{TRACE_ID}-{APP_SPAN}-01"),), timeout=10)
        other = "0af7651916cd43dd8448eb211c80319c"
        req.id = "nosuch"
        with pytest.raises(grpc.RpcError):
            stubs.InvokeService(req, metadata=(("traceparent", f"00-{other}-{APP_SPAN}-01"),), timeout=10)
    spans = trace_spans(receiver, TRACE_ID, 4)
    by = {(svc, s.kind): s for svc, s in spans}
    server, client = by[("order", SERVER)], by[("order", CLIENT)]
    assert server.name == "dapr.proto.runtime.v1.Dapr/InvokeService"
    assert server.parent_span_id.hex() == APP_SPAN
    assert client.parent_span_id == server.span_id
    assert by[("cart", SERVER)].parent_span_id == client.span_id
    a = attrs(server)
    assert (a["rpc.system"], a["rpc.service"], a["rpc.method"]) == ("grpc", "dapr.proto.runtime.v1.Dapr",
                                                                    "InvokeService")
    assert a["rpc.grpc.status_code"] == 0
    assert traceparent_seen(app).startswith(f"00-{TRACE_ID}-")
    [(_, failed)] = [(svc, s) for svc, s in trace_spans(receiver, other, 2) if s.kind == SERVER]
    assert attrs(failed)["rpc.grpc.status_code"] != 0


def test_without_a_traceparent_the_callers_server_span_is_the_root(cluster, receiver):
    order, app = start_pair(cluster, otel_env(cluster, receiver.server.server_port))
    r = requests.post(invoke_url(order, "cart", "x"), data=b"hi", timeout=10)
    assert r.status_code == 200
    trace_id = traceparent_seen(app).split("-")[1]
    spans = trace_spans(receiver, trace_id, 4)
    roots = [s for _, s in spans if not s.parent_span_id]
    assert len(roots) == 1 and roots[0].kind == SERVER and roots[0].name.startswith("POST ")


def test_otel_variables_name_the_service_add_headers_and_choose_the_sampler(cluster, receiver):
    env = otel_env(cluster, receiver.server.server_port, OTEL_SERVICE_NAME="shop",
                   OTEL_EXPORTER_OTLP_HEADERS="x-tenant=acme,authorization=Bearer%20t0k",
                   OTEL_RESOURCE_ATTRIBUTES="deployment.environment=test",
                   OTEL_TRACES_SAMPLER="parentbased_always_off")
    order, app = start_pair(cluster, env)
    # A new trace is not sampled (always_off)...
    requests.post(invoke_url(order, "cart", "unsampled"), data=b"hi", timeout=10)
    unsampled = traceparent_seen(app)
    assert unsampled.endswith("-00")
    # ...while one that arrives sampled is recorded (parent-based).
    requests.post(invoke_url(order, "cart", "sampled"), data=b"hi", timeout=10,
                  headers={"traceparent": f"00-{TRACE_ID}-{APP_SPAN}-01"})
    spans = trace_spans(receiver, TRACE_ID, 4)
    assert {svc for svc, _ in spans} == {"shop"}
    assert not [s for _, s in receiver.spans() if s.trace_id.hex() == unsampled.split("-")[1]]
    headers = receiver.requests[-1][0]
    assert headers["x-tenant"] == "acme" and headers["authorization"] == "Bearer t0k"
    request = receiver.requests[-1][1]
    resource = {a.key: a.value.string_value for a in request.resource_spans[0].resource.attributes}
    assert resource["deployment.environment"] == "test"


def test_a_failed_call_gives_error_spans(cluster, receiver):
    env = otel_env(cluster, receiver.server.server_port)
    order = cluster.sidecar("order", env=env)
    r = requests.post(invoke_url(order, "nobody", "x"), data=b"hi", timeout=10,
                      headers={"traceparent": f"00-{TRACE_ID}-{APP_SPAN}-01"})
    assert r.status_code == 500
    spans = trace_spans(receiver, TRACE_ID, 2)
    assert {s.kind for _, s in spans} == {SERVER, CLIENT}
    assert all(s.status.code == 2 for _, s in spans)  # ERROR
    client = next(s for _, s in spans if s.kind == CLIENT)
    assert "couldn't find service" in client.status.message


def test_a_collector_that_is_down_costs_spans_not_calls(cluster):
    closed = free_port()
    order, app = start_pair(cluster, otel_env(cluster, closed))
    for i in range(50):
        r = requests.post(invoke_url(order, "cart", f"m{i}"), data=b"hi", timeout=10,
                          headers={"traceparent": f"00-{TRACE_ID}-{APP_SPAN}-01"})
        assert r.status_code == 200
    wait_until(lambda: "cannot export spans" in order.output() and "dropped" in order.output(),
               timeout=20, what="the drop report")
    assert len(app.requests()) == 50


def test_a_stalled_collector_never_holds_a_call_or_the_shutdown(cluster):
    stalled = Receiver(free_port(), mode="stall")
    try:
        env = otel_env(cluster, stalled.server.server_port, OTEL_EXPORTER_OTLP_TIMEOUT="2000",
                       OTEL_BSP_MAX_QUEUE_SIZE="8", OTEL_BSP_MAX_EXPORT_BATCH_SIZE="4")
        order, app = start_pair(cluster, env)
        for i in range(100):
            r = requests.post(invoke_url(order, "cart", f"m{i}"), data=b"hi", timeout=10,
                              headers={"traceparent": f"00-{TRACE_ID}-{APP_SPAN}-01"})
            assert r.status_code == 200
        wait_until(lambda: "dropped" in order.output(), timeout=20, what="the drop report")
        assert "no answer within 2000 ms" in order.output()
        # SIGTERM while an export hangs: the sidecar still stops at once.
        assert order.stop(timeout=5) == 0, order.output()  # not killed at the timeout
        assert "skiffd stopped" in order.output()
    finally:
        stalled.close()


def test_a_call_to_an_endpoint_outside_the_mesh_gets_the_callers_server_span(cluster, receiver):
    # No sidecar answers there: the caller's server span is the one span this sidecar records, and
    # the endpoint's traceparent names it, as the callee app's names the callee sidecar's span.
    app = cluster.app("plain")
    order = cluster.sidecar("order", env=otel_env(cluster, receiver.server.server_port))
    app_id = quote(f"http://127.0.0.1:{app.port}", safe="")
    r = requests.get(invoke_url(order, app_id, "inspect/x"), timeout=10,
                     headers={"traceparent": f"00-{TRACE_ID}-{APP_SPAN}-01"})
    assert r.status_code == 200, r.text
    [(svc, server)] = trace_spans(receiver, TRACE_ID, 1)
    assert (svc, server.kind) == ("order", SERVER)
    assert server.parent_span_id.hex() == APP_SPAN
    assert server.name == "GET /v1.0/invoke/{id}/method/{method}"
    assert attrs(server)["http.response.status_code"] == 200
    seen = dict((k.lower(), v) for k, v in r.json()["headers"])
    assert seen["traceparent"] == f"00-{TRACE_ID}-{server.span_id.hex()}-01"


@pytest.mark.parametrize("endpoint,why", [
    ("https://collector:4318", "https is not supported"),
    ("ftp://collector", "expected an http:// URL"),
    ("http://:4318", "expected http://host:port"),
])
def test_a_bad_endpoint_is_refused_with_the_key(cluster, endpoint, why):
    out, checked = cluster.refused("bad", config=f'[tracing]\notlp_endpoint = "{endpoint}"\n')
    assert why in out and "tracing.otlp_endpoint" in out, out
    assert why in checked, checked
