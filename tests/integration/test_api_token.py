"""API tokens as Dapr's: DAPR_API_TOKEN (or api.token) guards a sidecar's HTTP and gRPC APIs, and
APP_API_TOKEN (or app.token) is what a sidecar shows its app, as `dapr-api-token` both ways."""

import grpc
import pytest

import grpc_protos
from harness import invoke_url, port_open, requests, wait_until

TOKEN = "s3cr3t-Token_1"


@pytest.fixture
def guarded(cluster):
    """order with DAPR_API_TOKEN; cart, whose app records what it gets, with APP_API_TOKEN."""
    app = cluster.recording_app("cart")
    cart = cluster.sidecar("cart", app_port=app.port, env=dict(cluster.env, APP_API_TOKEN="for-the-app"))
    order = cluster.sidecar("order", env=dict(cluster.env, DAPR_API_TOKEN=TOKEN))
    return order, cart, app.requests


def test_http_calls_need_the_token_and_health_does_not(guarded):
    order, _, seen = guarded
    url = invoke_url(order, "cart", "x")
    for headers in ({}, {"dapr-api-token": "wrong"}, {"dapr-api-token": TOKEN + "x"}, {"Dapr-Api-Token": ""}):
        r = requests.post(url, data=b"hi", headers=headers, timeout=10)
        assert r.status_code == 401, (headers, r.text)
        assert r.text == "invalid api token"
    assert requests.get(f"{order.url}/v1.0/metadata", timeout=5).status_code == 401
    assert seen() == []  # nothing reached the app
    assert requests.get(f"{order.url}/v1.0/healthz", timeout=5).status_code == 204
    assert requests.get(f"{order.url}/v1.0/healthz/outbound", timeout=5).status_code == 204
    r = requests.post(url, data=b"hi", headers={"dapr-api-token": TOKEN}, timeout=10)
    assert r.status_code == 200, r.text


def test_the_callers_token_is_never_forwarded_and_the_app_gets_its_own(guarded):
    order, _, seen = guarded
    r = requests.post(invoke_url(order, "cart", "x"), data=b"hi", headers={"dapr-api-token": TOKEN}, timeout=10)
    assert r.status_code == 200, r.text
    tokens = [v for n, v in seen()[0]["headers"] if n.lower() == "dapr-api-token"]
    assert tokens == ["for-the-app"]


def test_grpc_calls_need_the_token(guarded):
    order, _, _ = guarded
    wait_until(lambda: port_open(order.grpc_port), what="gRPC API")
    P = grpc_protos.load()
    with grpc_protos.channel(order.grpc_port) as ch:
        stub = grpc_protos.dapr_stubs(ch)
        req = P.runtime.InvokeServiceRequest(id="cart")
        req.message.method = "x"
        req.message.http_extension.verb = P.common.HTTPExtension.POST
        for md in ((), (("dapr-api-token", "wrong"),)):
            with pytest.raises(grpc.RpcError) as e:
                stub.InvokeService(req, metadata=md, timeout=10)
            assert e.value.code() == grpc.StatusCode.UNAUTHENTICATED
            assert e.value.details() == "invalid api token"
        res = stub.InvokeService(req, metadata=(("dapr-api-token", TOKEN),), timeout=10)
        assert res.data.value == b"ok"


def test_the_token_can_come_from_toml_and_a_bad_one_is_refused(cluster):
    order = cluster.sidecar("order", config=f'[api]\ntoken = "{TOKEN}"\n')
    assert requests.get(f"{order.url}/v1.0/metadata", timeout=5).status_code == 401
    assert requests.get(f"{order.url}/v1.0/metadata", headers={"dapr-api-token": TOKEN},
                        timeout=5).status_code == 200
    output, checked = cluster.refused("order", config='[api]\ntoken = "two words"\n', exit_code=2)
    for text in (output, checked):
        assert ":2:9: api.token: a token is visible ASCII" in text, text
