"""Mutual TLS between sidecars, on with no configuration: what the internal port refuses (and the app
never sees), whom a callee believes, and what TLS stacks no one here wrote see on the port."""
import os
import socket
import ssl
import stat
import subprocess

import pytest

import internal_wire as wire
import tls_peer
from harness import invoke_url, requests, wait_until



@pytest.fixture
def recorded(cluster):
    """order (caller) and cart, whose app records every request it gets; cart's internal port."""
    app = cluster.recording_app("cart")
    cart = cluster.sidecar("cart", app_port=app.port)
    order = cluster.sidecar("order")
    return order, cart, app.requests


def call(sock, caller="order", headers=()):
    sock.sendall(wire.PREFACE + wire.call_head("cart", "hello", caller=caller, headers=headers) +
                 wire.frame(wire.DATA_END, b"hi"))


def refused(sock):
    """True when the sidecar ends the connection without answering anything."""
    try:
        return sock.recv(5) == b""
    except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
        return True


def test_calls_work_with_no_security_configuration_and_speak_tls(recorded):
    order, cart, seen = recorded
    r = requests.post(invoke_url(order, "cart", "hello"), data=b"hi", timeout=10)
    assert r.status_code == 200, r.text
    assert "mTLS on: this sidecar is spiffe://public/ns/default/cart" in cart.output()
    assert seen()[0]["path"] == "/hello"
    headers = {n.lower(): v for n, v in seen()[0]["headers"]}
    assert headers["dapr-caller-app-id"] == "order"


def test_the_local_ca_is_owner_only(cluster, recorded):
    ca_crt, ca_key = tls_peer.local_ca(cluster)
    assert stat.S_IMODE(os.stat(ca_key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(ca_key.parent).st_mode) == 0o700


def test_a_plaintext_client_is_refused_before_the_app(recorded):
    _, cart, seen = recorded
    with socket.create_connection(("127.0.0.1", cart.internal_port), timeout=10) as s:
        call(s)
        assert refused(s)
    assert seen() == []


@pytest.mark.parametrize("case", ["another CA", "expired", "two URI SANs", "no URI SAN", "leaf is a CA",
                                  "another trust domain"])
def test_a_bad_client_certificate_is_refused_before_the_app(cluster, recorded, tmp_path, case):
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
    with tls_peer.connect(cart.internal_port, cert, ca[0]) as s:
        try:
            call(s)
        except (ssl.SSLError, OSError):
            pass
        assert refused(s)
    assert seen() == []
    wait_until(lambda: "refused a connection" in cart.output(), what="the refusal logged")


def test_the_caller_is_who_its_certificate_says_not_what_it_claims(cluster, recorded, tmp_path):
    _, cart, seen = recorded
    ca = tls_peer.local_ca(cluster)
    cert = tls_peer.issue(tmp_path, "x", [tls_peer.spiffe("x")], ca)
    with tls_peer.connect(cart.internal_port, cert, ca[0]) as s:
        call(s, caller="y", headers=[("dapr-caller-app-id", "y"), ("dapr-caller-namespace", "other")])
        kind, _ = wire.read_frame(s)
        assert kind == wire.RESPONSE_HEAD
    headers = {n.lower(): v for n, v in seen()[0]["headers"]}
    assert headers["dapr-caller-app-id"] == "x"
    assert headers["dapr-caller-namespace"] == "default"


def test_openssl_and_python_see_a_tls13_svid_on_the_internal_port(cluster, recorded, tmp_path):
    _, cart, _ = recorded
    ca = tls_peer.local_ca(cluster)
    cert = tls_peer.issue(tmp_path, "probe", [tls_peer.spiffe("probe")], ca)
    with tls_peer.connect(cart.internal_port, cert, ca[0]) as s:
        assert s.version() == "TLSv1.3"
        assert s.getpeercert()["subjectAltName"] == (("URI", tls_peer.spiffe("cart")),)
    r = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{cart.internal_port}", "-tls1_3",
                        "-CAfile", ca[0], "-cert", cert[0], "-key", cert[1], "-verify_return_error",
                        "-showcerts"], input="", capture_output=True, text=True, timeout=30)
    assert "TLSv1.3" in r.stdout and "Verify return code: 0 (ok)" in r.stdout, r.stdout + r.stderr
    leaf = r.stdout[r.stdout.index("-----BEGIN CERTIFICATE-----"):r.stdout.index("-----END CERTIFICATE-----") + 25]
    (tmp_path / "leaf.pem").write_text(leaf + "\n")
    assert "OK" in tls_peer.openssl("verify", "-CAfile", ca[0], tmp_path / "leaf.pem")
    text = tls_peer.openssl("x509", "-in", tmp_path / "leaf.pem", "-noout", "-ext",
                            "subjectAltName,basicConstraints,keyUsage,extendedKeyUsage")
    assert "URI:spiffe://public/ns/default/cart" in text and "CA:FALSE" in text
    assert "Digital Signature" in text and "TLS Web Server Authentication" in text
    assert "TLS Web Client Authentication" in text


def test_a_caller_refuses_a_callee_that_is_another_app(cluster):
    """A stale address now served by pay: the certificate says so, and the call never reaches pay."""
    import sqlite3
    pay_app = cluster.app("pay")
    pay = cluster.sidecar("pay", app_port=pay_app.port)
    order = cluster.sidecar("order")
    with sqlite3.connect(cluster.db_path, timeout=5) as conn:
        conn.execute("UPDATE hosts SET app_id = 'cart' WHERE address = ?", (f"127.0.0.1:{pay.internal_port}",))
    r = requests.post(invoke_url(order, "cart", "echo"), data=b"for cart", timeout=30)
    assert r.status_code == 500
    assert "is spiffe://public/ns/default/pay, not spiffe://public/ns/default/cart" in r.json()["message"]


def test_mtls_off_is_plaintext_with_a_warning(cluster):
    off = "[security]\nmtls = false\n"
    cart_app = cluster.app("cart")
    cart = cluster.sidecar("cart", app_port=cart_app.port, config=off)
    order = cluster.sidecar("order", config=off)
    assert "security.mtls = false" in cart.output() and "plaintext" in cart.output()
    assert requests.post(invoke_url(order, "cart", "echo"), data=b"plain", timeout=10).text == "plain"
    with socket.create_connection(("127.0.0.1", cart.internal_port), timeout=10) as s:
        s.sendall(wire.PREFACE + wire.call_head("cart", "echo") + wire.frame(wire.DATA_END, b"x"))
        assert wire.read_frame(s)[0] == wire.RESPONSE_HEAD


def test_an_mtls_sidecar_and_a_plaintext_one_do_not_talk(cluster):
    cart_app = cluster.app("cart")
    cluster.sidecar("cart", app_port=cart_app.port, config="[security]\nmtls = false\n")
    order = cluster.sidecar("order")
    r = requests.post(invoke_url(order, "cart", "echo"), data=b"x", timeout=30)
    assert r.status_code == 500


def test_certificates_rotate_under_load_without_a_failed_call(cluster):
    """Certificates of 3 s, renewed every 1.2-1.8 s, for 10 s of calls from 4 clients. The caller
    keeps no idle connections, so every call makes a new connection and handshake with whatever
    certificates both sidecars have at that moment."""
    short = '[security]\ncert_ttl = "3s"\n'
    cart_app = cluster.app("cart")
    cart = cluster.sidecar("cart", app_port=cart_app.port, config=short)
    order = cluster.sidecar("order", config=short + "[transport.config]\nmax_idle_connections = 0\n")
    counts = tls_peer.echo_calls_for(order, 10)
    rotations = {p: p.output().count("workload certificate of") for p in (cart, order)}
    print(f"\n[rotation] {counts['ok']} calls, {len(counts['failed'])} failed; renewals: "
          f"cart {rotations[cart]}, order {rotations[order]}")
    assert counts["failed"] == []
    assert counts["ok"] > 500
    assert all(n >= 4 for n in rotations.values()), rotations


def test_skiff_identity_and_metadata_show_the_spiffe_id_expiry_and_renewal(cluster):
    import datetime
    from harness import SKIFF
    order = cluster.sidecar("order", env=dict(cluster.env, DAPR_API_TOKEN="t0ken"))
    meta = requests.get(f"{order.url}/v1.0/metadata", headers={"dapr-api-token": "t0ken"}, timeout=5).json()
    identity = meta["identity"]
    assert identity["spiffeId"] == "spiffe://public/ns/default/order"
    expiry = datetime.datetime.strptime(identity["expiry"], "%Y-%m-%dT%H:%M:%SZ")
    renewal = datetime.datetime.strptime(identity["renewal"], "%Y-%m-%dT%H:%M:%SZ")
    now = datetime.datetime.utcnow()
    assert datetime.timedelta(hours=23) < expiry - now <= datetime.timedelta(hours=24)
    assert datetime.timedelta(hours=9) < renewal - now < datetime.timedelta(hours=15)
    # The CLI sends DAPR_API_TOKEN from its environment, as Dapr's SDKs do.
    r = subprocess.run([str(SKIFF), "identity", "--sidecar-port", str(order.http_port)], capture_output=True,
                       text=True, timeout=30, env=dict(os.environ, DAPR_API_TOKEN="t0ken"))
    assert r.returncode == 0, r.stderr
    assert "spiffe id:  spiffe://public/ns/default/order" in r.stdout
    assert identity["expiry"] in r.stdout and identity["renewal"] in r.stdout
    r = subprocess.run([str(SKIFF), "identity", "--sidecar-port", str(order.http_port)], capture_output=True,
                       text=True, timeout=30, env={k: v for k, v in os.environ.items() if k != "DAPR_API_TOKEN"})
    assert r.returncode == 1 and "HTTP 401" in r.stderr
