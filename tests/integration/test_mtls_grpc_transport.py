"""Mutual TLS on transport-grpc, where gRPC's own TLS stack runs the handshake with the host's
credentials and the host checks the peer's X.509-SVID (plugin ABI 1.3): what the internal port
refuses (the app never sees it), whom a callee believes, which callee a caller accepts, rotation,
and what TLS stacks no one here wrote (grpc-js, openssl, Python's ssl) see there."""
import json
import sqlite3
import subprocess

import grpc
import pytest

import tls_peer
from harness import REPO, invoke_url, requests, wait_until

GRPC = '[transport]\ntype = "grpc"\n'


@pytest.fixture
def recorded(cluster):
    """order (caller) and cart, both on transport-grpc; cart's app records every request it gets."""
    app = cluster.recording_app("cart")
    cart = cluster.sidecar("cart", app_port=app.port, config=GRPC)
    order = cluster.sidecar("order", config=GRPC)
    return order, cart, app.requests


def grpc_js_call(sdk_dir, port, cert, trust, caller="order"):
    """One call on the internal port with grpc-js: {"frames": [...]} or {"error": {...}}."""
    r = subprocess.run(["node", "internal_call.mjs", str(port), str(trust), str(cert[0]), str(cert[1]), caller,
                        str(REPO / "proto")], cwd=sdk_dir, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout)


def served_certificate(port, cert, trust):
    """The leaf the internal port presents, in PEM, as openssl s_client saw it over TLS 1.3."""
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_3", "-CAfile", trust,
                        "-cert", cert[0], "-key", cert[1], "-verify_return_error", "-alpn", "h2"],
                       input="", capture_output=True, text=True, errors="replace", timeout=30)
    assert "Verify return code: 0 (ok)" in r.stdout, r.stdout + r.stderr
    return r.stdout[r.stdout.index("-----BEGIN CERTIFICATE-----"):r.stdout.index("-----END CERTIFICATE-----") + 25]


def test_calls_speak_mtls_and_the_app_sees_the_caller_its_certificate_names(recorded):
    order, cart, seen = recorded
    for _ in range(50):
        r = requests.post(invoke_url(order, "cart", "hello"), data=b"hi", timeout=10)
        assert r.status_code == 200, r.text
    assert "mTLS on: this sidecar is spiffe://public/ns/default/cart" in cart.output()
    headers = {n.lower(): v for n, v in seen()[0]["headers"]}
    assert headers["dapr-caller-app-id"] == "order"
    # One pooled connection, verified once on each side: no handshake per call.
    for sidecar in (order, cart):
        handshakes = requests.get(f"{sidecar.url}/v1.0/metadata", timeout=5).json()["identity"]["tlsHandshakes"]
        assert 1 <= handshakes <= 2, handshakes


def test_a_plaintext_grpc_client_is_refused_before_the_app(recorded):
    _, cart, seen = recorded
    with grpc.insecure_channel(f"127.0.0.1:{cart.internal_port}") as channel:
        call = channel.stream_stream("/skiff.internal.v1.Invocation/Call")
        with pytest.raises(grpc.RpcError) as failed:
            list(call(iter([b"\x0a\x00"]), timeout=10))
    assert failed.value.code() == grpc.StatusCode.UNAVAILABLE
    assert seen() == []


def test_the_caller_is_who_its_certificate_says_not_what_it_claims(cluster, recorded, sdk_dir, tmp_path):
    _, cart, seen = recorded
    ca = tls_peer.local_ca(cluster)
    cert = tls_peer.issue(tmp_path, "x", [tls_peer.spiffe("x")], ca)
    answer = grpc_js_call(sdk_dir, cart.internal_port, cert, ca[0], caller="y")
    assert answer.get("frames") and answer["frames"][0]["response_head"]["http_status"] == 200, answer
    headers = {n.lower(): v for n, v in seen()[0]["headers"]}
    assert headers["dapr-caller-app-id"] == "x"
    assert headers["dapr-caller-namespace"] == "default"


@pytest.mark.parametrize("case", ["another CA", "expired", "two URI SANs", "no URI SAN", "leaf is a CA",
                                  "another trust domain"])
def test_a_bad_client_certificate_is_refused_before_the_app(cluster, recorded, sdk_dir, tmp_path, case):
    _, cart, seen = recorded
    ca = tls_peer.local_ca(cluster)
    uri = tls_peer.spiffe("order")
    cert = {
        "another CA": lambda: tls_peer.issue(tmp_path, "c", [uri], tls_peer.other_ca(tmp_path)),
        "expired": lambda: tls_peer.issue(tmp_path, "c", [uri], ca, days=-1),
        "two URI SANs": lambda: tls_peer.issue(tmp_path, "c", [uri, tls_peer.spiffe("admin")], ca),
        "no URI SAN": lambda: tls_peer.issue(tmp_path, "c", [], ca),
        "leaf is a CA": lambda: tls_peer.issue(tmp_path, "c", [uri], ca, is_ca=True),
        "another trust domain": lambda: tls_peer.issue(tmp_path, "c", [tls_peer.spiffe("order", td="evil")], ca),
    }[case]()
    answer = grpc_js_call(sdk_dir, cart.internal_port, cert, ca[0])
    assert "error" in answer, answer
    assert answer["error"]["code"] == grpc.StatusCode.UNAVAILABLE.value[0], answer
    assert seen() == []
    if case not in ("another CA", "expired"):  # those fail in OpenSSL's chain check, before the host's
        wait_until(lambda: "refused a caller" in cart.output(), what="the refusal logged")


def test_tls_12_is_refused_and_openssl_sees_a_tls13_svid(cluster, recorded, tmp_path):
    _, cart, _ = recorded
    ca = tls_peer.local_ca(cluster)
    cert = tls_peer.issue(tmp_path, "probe", [tls_peer.spiffe("probe")], ca)
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{cart.internal_port}", "-tls1_2",
                        "-CAfile", ca[0], "-cert", cert[0], "-key", cert[1]],
                       input="", capture_output=True, text=True, errors="replace", timeout=30)
    assert "Cipher is (NONE)" in r.stdout or r.returncode != 0, r.stdout
    assert "TLSv1.2, Cipher is ECDHE" not in r.stdout
    (tmp_path / "leaf.pem").write_text(served_certificate(cart.internal_port, cert, ca[0]) + "\n")
    text = tls_peer.openssl("x509", "-in", tmp_path / "leaf.pem", "-noout", "-ext", "subjectAltName,basicConstraints")
    assert "URI:spiffe://public/ns/default/cart" in text and "CA:FALSE" in text
    with tls_peer.connect(cart.internal_port, cert, ca[0]) as s:
        assert s.version() == "TLSv1.3"
        assert s.getpeercert()["subjectAltName"] == (("URI", tls_peer.spiffe("cart")),)


def test_a_caller_refuses_a_callee_that_is_another_app(cluster):
    """A stale address now served by pay: pay's certificate says so, and the call never reaches it."""
    pay_app = cluster.recording_app("pay")
    pay = cluster.sidecar("pay", app_port=pay_app.port, config=GRPC)
    order = cluster.sidecar("order", config=GRPC)
    with sqlite3.connect(cluster.db_path, timeout=5) as conn:
        conn.execute("UPDATE hosts SET app_id = 'cart' WHERE address = ?", (f"127.0.0.1:{pay.internal_port}",))
    r = requests.post(invoke_url(order, "cart", "echo"), data=b"for cart", timeout=30)
    assert r.status_code == 500, r.text
    assert pay_app.requests() == []
    assert ("refused the callee: the sidecar at this address is spiffe://public/ns/default/pay, "
            "not spiffe://public/ns/default/cart") in order.output()


def test_certificates_rotate_under_load_without_a_failed_call(cluster, tmp_path):
    """Certificates of 3 s on both sidecars and calls from 4 clients for 10 s. gRPC keeps its one
    connection, so the calls show that a rotation drops nothing; the certificate the port presents
    to a new handshake shows that the rotated set is in use, and a sidecar that starts late (new
    handshakes on both sides with rotated certificates) calls through at once."""
    short = GRPC + '[security]\ncert_ttl = "3s"\n'
    cart_app = cluster.app("cart")
    cart = cluster.sidecar("cart", app_port=cart_app.port, config=short)
    order = cluster.sidecar("order", config=short)
    ca = tls_peer.local_ca(cluster)
    probe = tls_peer.issue(tmp_path, "probe", [tls_peer.spiffe("probe")], ca)
    first = served_certificate(cart.internal_port, probe, ca[0])
    counts = tls_peer.echo_calls_for(order, 10)
    rotations = {p: p.output().count("workload certificate of") for p in (cart, order)}
    print(f"\n[grpc rotation] {counts['ok']} calls, {len(counts['failed'])} failed; renewals: "
          f"cart {rotations[cart]}, order {rotations[order]}")
    assert counts["failed"] == []
    assert counts["ok"] > 200
    assert all(n >= 4 for n in rotations.values()), rotations
    assert served_certificate(cart.internal_port, probe, ca[0]) != first
    late = cluster.sidecar("late", config=short)
    r = requests.post(invoke_url(late, "cart", "echo"), data=b"late", timeout=10)
    assert r.status_code == 200 and r.text == "late", r.text
