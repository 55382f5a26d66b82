"""The app-facing gRPC API (Dapr's InvokeService and GetMetadata) and apps that speak gRPC behind a
sidecar (AppCallback/OnInvoke), as an app using a Dapr gRPC SDK, or curl, would see them."""
import json
import time

import grpc
import pytest

import grpc_protos
from harness import invoke_url, port_open, requests, wait_until

P = grpc_protos.load()
Verb = P.common.HTTPExtension


def grpc_ready(sidecar):
    wait_until(lambda: port_open(sidecar.grpc_port), what=f"gRPC API on {sidecar.grpc_port}")
    return sidecar


@pytest.fixture
def channels():
    """Opens channels to sidecars' gRPC ports and closes them after the test."""
    opened = []

    def open_channel(sidecar):
        ch = grpc_protos.channel(grpc_ready(sidecar).grpc_port)
        opened.append(ch)
        return ch

    yield open_channel
    for ch in opened:
        ch.close()


@pytest.fixture
def http_callee(cluster, channels):
    """order (caller, no app; its gRPC API as a channel) and cart, whose app is the HTTP sample app."""
    cart_app = cluster.app("cart")
    cluster.sidecar("cart", app_port=cart_app.port)
    order = cluster.sidecar("order")
    return order, channels(order)


@pytest.fixture
def grpc_callee(cluster, channels):
    """order (caller, no app; its gRPC API as a channel), stock's sidecar and stock's app, which speaks gRPC."""
    app = cluster.grpc_app("stock")
    stock = cluster.sidecar("stock", app_port=app.port, app_protocol="grpc")
    order = cluster.sidecar("order")
    return order, channels(order), stock, app


def invoke(ch, app_id, method, data=b"", content_type="", verb=None, querystring="", type_url="", timeout=10):
    """InvokeService; returns (InvokeResponse, call)."""
    req = P.runtime.InvokeServiceRequest(id=app_id)
    req.message.method = method
    req.message.content_type = content_type
    req.message.data.type_url = type_url
    req.message.data.value = data
    if verb is not None:
        req.message.http_extension.verb = verb
        req.message.http_extension.querystring = querystring
    return grpc_protos.dapr_stubs(ch).InvokeService.with_call(req, timeout=timeout)


def test_invoke_service_carries_body_and_content_type_to_an_http_app_and_back(http_callee):
    _, ch = http_callee
    body = bytes(range(256)) * 300
    res, call = invoke(ch, "cart", "echo/it", body, "application/x-test", verb=Verb.POST)
    assert res.data.value == body
    assert res.content_type == "application/x-test"
    assert grpc_protos.metadata(call.initial_metadata())["dapr-http-status"] == "200"


@pytest.mark.parametrize("verb", ["GET", "POST", "PUT", "PATCH", "DELETE"])
def test_invoke_service_http_extension_sets_the_verb_and_query_string(http_callee, verb):
    _, ch = http_callee
    res, _ = invoke(ch, "cart", "inspect/items", b"12345", "text/plain", verb=Verb.Verb.Value(verb),
                    querystring="a=1&b=%20x")
    seen = json.loads(res.data.value)
    assert seen["verb"] == verb
    assert seen["target"] == "/inspect/items?a=1&b=%20x"
    headers = {k.lower(): v for k, v in seen["headers"]}
    assert headers["dapr-caller-app-id"] == "order"
    assert headers["dapr-callee-app-id"] == "cart"
    if verb in ("POST", "PUT", "PATCH"):
        assert seen["body_size"] == 5
        assert headers["content-type"] == "text/plain"


@pytest.mark.parametrize("status, code, message", [
    (404, grpc.StatusCode.NOT_FOUND, "Not Found"),
    (500, grpc.StatusCode.UNKNOWN, "Internal Server Error"),
    (418, grpc.StatusCode.UNKNOWN, "I'm a teapot"),
])
def test_a_non_2xx_http_status_becomes_a_grpc_error_carrying_dapr_http_status(http_callee, status, code, message):
    _, ch = http_callee
    with pytest.raises(grpc.RpcError) as failed:
        invoke(ch, "cart", f"status/{status}", verb=Verb.GET)
    e = failed.value
    assert (e.code(), e.details()) == (code, message)
    assert grpc_protos.metadata(e.initial_metadata())["dapr-http-status"] == str(status)
    # As Dapr: one google.rpc.ErrorInfo detail with the HTTP code and the start of the body.
    details = grpc_protos.status_details(e)
    assert (details.code, details.message) == (code.value[0], message)
    [info] = details.details
    assert info.type_url == "type.googleapis.com/google.rpc.ErrorInfo"
    assert b"dapr.io" in info.value and b"http.code" in info.value and str(status).encode() in info.value
    assert f"status {status}".encode() in info.value  # the sample app's body


def test_a_2xx_http_status_other_than_200_is_a_success(http_callee):
    _, ch = http_callee
    res, call = invoke(ch, "cart", "status/204", verb=Verb.GET)
    assert res.data.value == b""
    assert grpc_protos.metadata(call.initial_metadata())["dapr-http-status"] == "204"


def test_invoke_service_reaches_a_grpc_app_through_on_invoke(grpc_callee):
    _, ch, _, app = grpc_callee
    data = P.echo.Msg(text="widget", count=3).SerializeToString()
    type_url = "type.googleapis.com/skiff.test.v1.Msg"
    res, call = invoke(ch, "stock", "reserve", data, "application/x-protobuf", verb=Verb.PUT,
                       querystring="q=1&r=%20", type_url=type_url)
    assert (res.data.type_url, res.data.value, res.content_type) == (type_url, data, "application/x-protobuf")
    assert "dapr-http-status" not in grpc_protos.metadata(call.initial_metadata())
    [seen] = app.seen("invoke")
    assert seen["method"] == "reserve"
    assert seen["content_type"] == "application/x-protobuf"
    assert (seen["type_url"], seen["data_hex"]) == (type_url, data.hex())
    assert (seen["verb"], seen["querystring"]) == ("PUT", "q=1&r=%20")


def test_a_grpc_app_error_comes_back_with_its_code_and_message(grpc_callee):
    _, ch, _, app = grpc_callee
    with pytest.raises(grpc.RpcError) as failed:
        invoke(ch, "stock", "fail", b"x", verb=Verb.POST)
    assert (failed.value.code(), failed.value.details()) == (grpc.StatusCode.NOT_FOUND, "no such method: fail")
    assert app.seen("invoke", method="fail")


def test_an_http_caller_reaches_a_grpc_app_through_on_invoke(grpc_callee):
    order, _, _, app = grpc_callee
    r = requests.post(invoke_url(order, "stock", "reserve") + "?q=1&r=2", data=b"hello",
                      headers={"Content-Type": "text/plain"}, timeout=10)
    assert r.status_code == 200, r.text
    assert r.content == b"hello"
    assert r.headers["Content-Type"].startswith("text/plain")
    [seen] = app.seen("invoke", method="reserve")
    assert (seen["verb"], seen["querystring"]) == ("POST", "q=1&r=2")
    assert (seen["content_type"], seen["data_hex"]) == ("text/plain", b"hello".hex())

    r = requests.get(invoke_url(order, "stock", "lookup"), timeout=10)
    assert r.status_code == 200, r.text
    [seen] = app.seen("invoke", method="lookup")
    assert (seen["verb"], seen["querystring"], seen["data_hex"]) == ("GET", "", "")


def test_an_http_caller_gets_the_grpc_app_error_as_an_http_status(grpc_callee):
    order, _, _, _ = grpc_callee
    r = requests.post(invoke_url(order, "stock", "fail"), data=b"x", timeout=10)
    assert r.status_code == 404, r.text


def test_get_metadata_over_grpc_and_http(grpc_callee, channels):
    _, _, stock, app = grpc_callee
    meta = grpc_protos.dapr_stubs(channels(stock)).GetMetadata(P.runtime.GetMetadataRequest(), timeout=5)
    assert meta.id == "stock"
    assert meta.app_connection_properties.port == app.port
    assert meta.app_connection_properties.protocol == "grpc"
    meta = requests.get(f"{stock.url}/v1.0/metadata", timeout=5).json()
    assert meta["id"] == "stock"
    assert meta["appConnectionProperties"]["protocol"] == "grpc"


def test_other_dapr_grpc_methods_are_unimplemented(http_callee):
    _, ch = http_callee
    with pytest.raises(grpc.RpcError) as failed:
        grpc_protos.raw_unary(ch, f"/{grpc_protos.DAPR_SERVICE}/GetState")(b"", timeout=5)
    assert failed.value.code() == grpc.StatusCode.UNIMPLEMENTED
    # the connection and the sidecar keep serving
    assert grpc_protos.dapr_stubs(ch).GetMetadata(P.runtime.GetMetadataRequest(), timeout=5).id == "order"


@pytest.mark.parametrize("verb, path", [("GET", "/v1.0/state/store/key"), ("POST", "/v1.0/publish/pubsub/topic")])
def test_dapr_http_routes_skiff_lacks_get_501(cluster, verb, path):
    order = cluster.sidecar("order")
    r = requests.request(verb, f"{order.url}{path}", data=b"{}", timeout=5)
    assert r.status_code == 501, r.text
    body = r.json()
    assert isinstance(body["errorCode"], str) and body["errorCode"]
    assert isinstance(body["message"], str) and body["message"]


def test_invoke_service_to_an_unknown_app_fails_promptly(http_callee):
    _, ch = http_callee
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as failed:
        invoke(ch, "nosuchapp", "x", b"hi", verb=Verb.POST, timeout=10)
    assert time.monotonic() - started < 5
    assert failed.value.code() == grpc.StatusCode.INTERNAL
    assert "nosuchapp" in failed.value.details()


def test_an_sdk_that_dials_localhost_over_ipv6_reaches_the_grpc_api(cluster):
    """The gRPC API listens on both loopbacks by default, as daprd's does."""
    cart_app = cluster.app("cart")
    cluster.sidecar("cart", app_port=cart_app.port)
    order = grpc_ready(cluster.sidecar("order"))
    with grpc.insecure_channel(f"[::1]:{order.grpc_port}") as ch:
        res, _ = invoke(ch, "cart", "echo", b"over ::1", "text/plain", verb=Verb.POST)
        assert res.data.value == b"over ::1"
