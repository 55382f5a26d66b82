"""W3C trace context through two sidecars, as an app with an OpenTelemetry or Dapr SDK sends it: a
valid traceparent and tracestate reach the callee app, a missing or invalid one starts a new trace
(per the W3C receiver rules), the calling app gets the traceparent back in the HTTP answer, over
HTTP and through the gRPC API."""
import re

import grpc
import pytest

import grpc_protos
from harness import invoke_url, port_open, requests, wait_until

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
VALID = f"00-{TRACE_ID}-{SPAN_ID}-01"
TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-0[01]$")


@pytest.fixture
def recorded(cluster):
    """order (caller) and cart, whose app records every request it gets."""
    app = cluster.recording_app("cart")
    cluster.sidecar("cart", app_port=app.port)
    order = cluster.sidecar("order")
    return order, app.requests


def call(order, headers):
    r = requests.post(invoke_url(order, "cart", "hello"), data=b"hi", headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    return r


def seen_headers(seen, i=-1):
    return [(n.lower(), v) for n, v in seen()[i]["headers"]]


def values(headers, name):
    return [v for n, v in headers if n == name]


def test_a_valid_traceparent_and_tracestate_reach_the_callee_app_and_come_back(recorded):
    order, seen = recorded
    r = call(order, {"traceparent": VALID, "tracestate": "rojo=00f067aa0ba902b7, congo=t61rcWkgMzE"})
    headers = seen_headers(seen)
    assert values(headers, "traceparent") == [VALID]
    assert values(headers, "tracestate") == ["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"]
    assert r.headers["traceparent"] == VALID


def test_without_a_traceparent_the_callers_sidecar_starts_a_trace(recorded):
    order, seen = recorded
    r1, r2 = call(order, {}), call(order, {"tracestate": "orphan=1"})
    first, second = (values(seen_headers(seen, i), "traceparent") for i in (0, 1))
    assert len(first) == 1 and TRACEPARENT.match(first[0]), first
    assert first[0].endswith("-01")  # tracing.sampling_rate defaults to 1
    assert r1.headers["traceparent"] == first[0] and r2.headers["traceparent"] == second[0]
    assert TRACEPARENT.match(first[0]).group(1) != TRACEPARENT.match(second[0]).group(1)
    assert values(seen_headers(seen, 1), "tracestate") == []  # no traceparent: its tracestate goes


@pytest.mark.parametrize("bad", [
    f"00-{TRACE_ID.upper()}-{SPAN_ID}-01",            # upper-case hex
    f"ff-{TRACE_ID}-{SPAN_ID}-01",                    # version ff
    f"00-{'0' * 32}-{SPAN_ID}-01",                    # all-zero trace id
    f"00-{TRACE_ID}-{'0' * 16}-01",                   # all-zero parent id
    f"00-{TRACE_ID}-{SPAN_ID}-01-extra",              # version 00 has four fields
    f"00-{TRACE_ID}-{SPAN_ID}",                       # too short
    f"{VALID},{VALID}",                               # two values in one field
])
def test_an_invalid_traceparent_starts_a_new_trace_and_drops_its_tracestate(recorded, bad):
    order, seen = recorded
    call(order, {"traceparent": bad, "tracestate": "rojo=1"})
    headers = seen_headers(seen)
    [carried] = values(headers, "traceparent")
    assert TRACEPARENT.match(carried) and TRACE_ID not in carried, carried
    assert values(headers, "tracestate") == []


def test_a_later_version_is_read_for_its_first_fields_and_passed_on_as_version_00(recorded):
    order, seen = recorded
    call(order, {"traceparent": f"cc-{TRACE_ID}-{SPAN_ID}-09-what-comes-next"})
    assert values(seen_headers(seen), "traceparent") == [VALID]


def test_tracestate_limits(recorded):
    order, seen = recorded
    too_many = ",".join(f"k{i}=v" for i in range(33))
    call(order, {"traceparent": VALID, "tracestate": too_many})
    assert values(seen_headers(seen), "tracestate") == []
    long = ",".join(f"k{i}=" + "v" * 40 for i in range(16)) + ",big=" + "x" * 200
    call(order, {"traceparent": VALID, "tracestate": long})
    [kept] = values(seen_headers(seen), "tracestate")
    assert len(kept) <= 512 and "big=" not in kept and kept.startswith("k0=")


def test_the_sampling_rate_decides_new_traces_only(cluster):
    app = cluster.recording_app("cart")
    cluster.sidecar("cart", app_port=app.port)
    order = cluster.sidecar("order", config="[tracing]\nsampling_rate = 0\n")
    for _ in range(5):
        call(order, {})
    assert all(values([(n.lower(), v) for n, v in e["headers"]], "traceparent")[0].endswith("-00")
               for e in app.requests())
    call(order, {"traceparent": VALID})
    assert values(seen_headers(app.requests), "traceparent") == [VALID]


def test_a_bad_sampling_rate_refuses_to_start(cluster):
    out, checked = cluster.refused("order", config="[tracing]\nsampling_rate = 1.5\n", exit_code=2)
    assert "tracing.sampling_rate" in checked and "expected a number from 0 to 1" in checked


def test_a_grpc_callers_traceparent_reaches_http_and_grpc_apps(cluster):
    """InvokeService from a gRPC client: its traceparent and tracestate reach an HTTP app and a gRPC
    app. (The grpc-trace-bin the callee's sidecar adds for a gRPC app is consumed by gRPC's own
    server in Python's grpcio, so only the traceparent is checked there.)"""
    P = grpc_protos.load()
    http_app = cluster.recording_app("cart")
    cluster.sidecar("cart", app_port=http_app.port)
    grpc_app = cluster.grpc_app("stock")
    cluster.sidecar("stock", app_port=grpc_app.port, app_protocol="grpc")
    order = cluster.sidecar("order")
    wait_until(lambda: port_open(order.grpc_port), what="gRPC API")
    with grpc_protos.channel(order.grpc_port) as ch:
        stubs = grpc_protos.dapr_stubs(ch)

        def invoke(app_id, metadata):
            req = P.runtime.InvokeServiceRequest(id=app_id)
            req.message.method = "hello"
            req.message.http_extension.verb = P.common.HTTPExtension.POST
            stubs.InvokeService(req, metadata=metadata, timeout=10)

        invoke("cart", (("traceparent", VALID), ("tracestate", "rojo=1")))
        headers = seen_headers(http_app.requests)
        assert values(headers, "traceparent") == [VALID] and values(headers, "tracestate") == ["rojo=1"]
        invoke("stock", (("traceparent", VALID),))
        invoke("stock", ())
    first, second = grpc_app.seen("invoke")
    assert first["metadata"]["traceparent"] == VALID
    assert TRACEPARENT.match(second["metadata"]["traceparent"])


def test_an_endpoint_without_a_sidecar_joins_the_trace_too(cluster):
    """A full URL as the app id ([[http_endpoints]] take the same path): the endpoint gets the
    calling app's traceparent, and the answer carries it back."""
    from urllib.parse import quote
    app = cluster.recording_app("outside")
    order = cluster.sidecar("order")
    url = invoke_url(order, quote(f"http://127.0.0.1:{app.port}", safe=""), "hello")
    r = requests.post(url, data=b"hi", headers={"traceparent": VALID, "tracestate": "rojo=1"}, timeout=10)
    assert r.status_code == 200, r.text
    headers = seen_headers(app.requests)
    assert values(headers, "traceparent") == [VALID] and values(headers, "tracestate") == ["rojo=1"]
    assert r.headers["traceparent"] == VALID
    r = requests.post(url, data=b"hi", timeout=10)
    [started] = values(seen_headers(app.requests), "traceparent")
    assert TRACEPARENT.match(started) and r.headers["traceparent"] == started
