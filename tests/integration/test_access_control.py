"""Access-control policies on the callee, decided on the caller's verified identity (mTLS), over
HTTP and gRPC proxy mode: allowed, denied, `/*`, `/**`, verbs, namespaces, defaults; the most
specific operation wins whatever its place in the file; a denied call never reaches the app."""

import grpc
import pytest

import grpc_protos
from harness import invoke_url, port_open, requests, wait_until


CART_POLICY = """
[access_control]
default_action = "deny"
trust_domain = "public"

[[access_control.policies]]
app_id = "order"
default_action = "deny"
[[access_control.policies.operations]]
name = "/orders/*"
http_verbs = ["GET"]
action = "allow"
[[access_control.policies.operations]]
name = "/orders/secret"
http_verbs = ["*"]
action = "deny"
[[access_control.policies.operations]]
name = "/public/**"
http_verbs = ["*"]
action = "allow"

[[access_control.policies]]
app_id = "auditor"
namespace = "audit"
default_action = "allow"
"""


@pytest.fixture
def guarded_cart(cluster):
    app = cluster.recording_app("cart")
    cluster.sidecar("cart", app_port=app.port, config=CART_POLICY)
    return lambda: [r["method"] + " " + r["path"] for r in app.requests()]


@pytest.mark.parametrize("verb,method,expected", [
    ("GET", "orders/1", 200),            # /orders/* with GET
    ("POST", "orders/1", 403),           # the verb is not allowed: the policy's default, deny
    ("GET", "orders/secret", 403),       # more specific than /orders/*, though listed after it
    ("GET", "orders/1/items", 403),      # /* is one segment
    ("GET", "public/a/b/c", 200),        # /** is any depth
    ("DELETE", "public/x", 200),         # "*" is any verb
    ("GET", "other", 403),               # nothing matches: the policy's default
    ("GET", "orders%2Fsecret", 403),     # matched decoded, as the app may route it
])
def test_http_calls_are_decided_by_the_most_specific_operation(cluster, guarded_cart, verb, method, expected):
    order = cluster.sidecar("order")
    r = requests.request(verb, invoke_url(order, "cart", method), timeout=10)
    assert r.status_code == expected, r.text
    if expected == 403:
        body = r.json()
        assert body["errorCode"] == "ERR_DIRECT_INVOKE"
        assert "access control policy has denied access to appid: order" in body["message"]
        assert guarded_cart() == []  # the app never saw it
    else:
        assert guarded_cart() == [f"{verb} /{method}"]


@pytest.mark.parametrize("method", ["public/%zz", "public/../orders/secret", "public/%2e%2e/orders/secret"])
def test_a_method_a_caller_sidecar_sends_undecodable_or_climbing_is_denied(cluster, method):
    """A caller's own sidecar refuses such methods (400); a peer sidecar that sends one anyway,
    with a valid certificate, is denied by the callee's policy before the app."""
    import internal_wire as wire
    import tls_peer
    app = cluster.app("cart")
    cart = cluster.sidecar("cart", app_port=app.port, config=CART_POLICY)
    frames = wire.call(cart.internal_port, wire.call_head("cart", method, verb="GET"),
                       [wire.frame(wire.DATA_END, b"")],
                       dial=lambda port, timeout: tls_peer.dial(cluster, port, "order", timeout))
    assert frames and frames[0][0] == wire.FAIL, frames
    status, message = wire.parse_fail(frames[0][1])
    assert status == 7, message  # PERMISSION_DENIED
    assert "access control policy has denied access to appid: order" in message


def test_a_verb_in_another_case_is_matched_as_the_app_sees_it(cluster):
    from harness import raw_http
    app = cluster.app("cart")
    cluster.sidecar("cart", app_port=app.port, config="""
[[access_control.policies]]
app_id = "order"
default_action = "allow"
[[access_control.policies.operations]]
name = "/admin/**"
http_verbs = ["POST"]
action = "deny"
""")
    order = cluster.sidecar("order")
    for verb in ("POST", "post", "Post"):
        answer = raw_http(order.http_port, f"{verb} /v1.0/invoke/cart/method/admin/x HTTP/1.1\r\nHost: x\r\n"
                                           "Content-Length: 0\r\nConnection: close\r\n\r\n".encode())
        assert answer.startswith(b"HTTP/1.1 403"), (verb, answer[:200])
    assert requests.get(invoke_url(order, "cart", "admin/x"), timeout=10).status_code == 200


def test_namespaces_and_the_global_default_are_applied(cluster, guarded_cart):
    auditor = cluster.sidecar("auditor", env=dict(cluster.env, NAMESPACE="audit"))
    assert requests.get(invoke_url(auditor, "cart.default", "orders/secret"), timeout=10).status_code == 200
    # The same app id in another namespace is another caller: no policy, the global default.
    auditor_dev = cluster.sidecar("auditor")
    assert requests.get(invoke_url(auditor_dev, "cart", "orders/1"), timeout=10).status_code == 403
    stranger = cluster.sidecar("stranger")
    r = requests.get(invoke_url(stranger, "cart", "public/x"), timeout=10)
    assert r.status_code == 403 and "default_action is deny" in r.json()["message"]
    assert guarded_cart() == ["GET /orders/secret"]


def test_grpc_proxy_calls_match_the_full_method_name(cluster):
    app = cluster.grpc_app("echo")
    cluster.sidecar("echo", app_port=app.port, app_protocol="grpc", config="""
[access_control]
default_action = "deny"
[[access_control.policies]]
app_id = "caller"
[[access_control.policies.operations]]
name = "/skiff.test.v1.Echo/Unary"
action = "allow"
[[access_control.policies.operations]]
name = "/skiff.test.v1.Echo/*"
action = "deny"
""")
    caller = cluster.sidecar("caller")
    wait_until(lambda: port_open(caller.grpc_port), what="the caller's gRPC API")
    P = grpc_protos.load()
    md = (("dapr-app-id", "echo"),)
    with grpc_protos.channel(caller.grpc_port) as ch:
        stubs = grpc_protos.echo_stubs(ch)
        assert stubs.Unary(P.echo.Msg(text="hi"), metadata=md, timeout=10).text == "hi"
        with pytest.raises(grpc.RpcError) as e:
            list(stubs.ServerStream(P.echo.Msg(text="s", count=2), metadata=md, timeout=10))
        assert e.value.code() == grpc.StatusCode.PERMISSION_DENIED
        assert "operation: /skiff.test.v1.Echo/ServerStream" in e.value.details()
    assert [e["rpc"] for e in app.seen("start")] == ["Unary"]  # the denied call never started


@pytest.mark.parametrize("config,message", [
    ('[security]\nmtls = false\n[access_control]\ndefault_action = "deny"\n',
     ":3:1: access_control: access-control policies need security.mtls"),
    ('[access_control]\ndefault_action = "maybe"\n', ':2:18: access_control.default_action: expected "allow" or "deny"'),
    ('[[access_control.policies]]\nnamespace = "x"\n', "access_control.policies[0].app_id: missing"),
    ('[[access_control.policies]]\napp_id = "a"\n[[access_control.policies.operations]]\nname = "x"\naction = "allow"\n',
     "access_control.policies[0].operations[0].name: an operation starts with '/'"),
    ('[[access_control.policies]]\napp_id = "a"\nverbs = ["GET"]\n', "access_control.policies[0].verbs: unknown key"),
    ('[access_control]\ntrust_domain = "other"\n', ':2:16: access_control.trust_domain: "other" is not this sidecar'),
    ('[[access_control.policies]]\napp_id = "a"\ntrust_domain = "x"\n',
     'access_control.policies[0].trust_domain: "x" is not this sidecar'),
])
def test_bad_policies_are_refused_naming_the_key(cluster, config, message):
    output, checked = cluster.refused("cart", config=config, exit_code=2)
    for text in (output, checked):
        assert message in text, text
