"""The CA service across machines: `skiff ca init` / `token` / `serve`, sidecars that get their
certificates from it with a join token (the key never leaves the sidecar), what a token does not
cover, revocation, and a CA that is down when a sidecar renews."""
import json
import socket
import ssl
import stat
import subprocess

import pytest

import tls_peer
from harness import SKIFF, free_port, invoke_url, port_open, requests, wait_until

TD = "example.org"


def skiff(*args, check=True):
    r = subprocess.run([str(SKIFF), *[str(a) for a in args]], capture_output=True, text=True, timeout=30)
    if check:
        assert r.returncode == 0, r.stderr
    return r


class CaService:
    def __init__(self, cluster):
        self.cluster = cluster
        self.dir = cluster.tmp / "ca-service"
        self.port = free_port()
        self.process = None
        skiff("ca", "init", "--dir", self.dir, "--trust-domain", TD)

    def serve(self, max_cert_ttl="24h"):
        self.process = self.cluster.start([SKIFF, "ca", "serve", "--dir", self.dir, "--listen",
                                           f"127.0.0.1:{self.port}", "--max-cert-ttl", max_cert_ttl],
                                          f"ca-serve-{self.port}")
        wait_until(lambda: "skiff CA serving" in self.process.output() or not self.process.running(),
                   what="skiff ca serve")
        assert self.process.running(), self.process.output()
        return self.process

    def token(self, namespace, app_id=None):
        args = ["ca", "token", "create", "--dir", self.dir, "--namespace", namespace]
        if app_id:
            args += ["--app-id", app_id]
        return skiff(*args).stdout.strip()

    def config(self, token, namespace="prod", ttl="24h", bundle=None):
        return f"""
[app]
namespace = "{namespace}"
[security]
trust_domain = "{TD}"
ca_address = "127.0.0.1:{self.port}"
ca_bundle = "{bundle or self.dir / 'bundle.crt'}"
join_token = "{token}"
cert_ttl = "{ttl}"
"""

    def sidecar(self, app_id, namespace="prod", token=None, ttl="24h", app_port=None, **kw):
        token = token or self.token(namespace)
        return self.cluster.sidecar(app_id, app_port=app_port,
                                    config=self.config(token, namespace, ttl), **kw)

    def post(self, body, path="/v1/sign", content_length=None):
        """A raw request with Python's ssl module, which must see the CA's SPIFFE ID. With
        content_length, only a head announcing that much is sent."""
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        ctx.check_hostname = False
        ctx.load_verify_locations(str(self.dir / "bundle.crt"))
        with ctx.wrap_socket(socket.create_connection(("127.0.0.1", self.port), timeout=10)) as s:
            sans = s.getpeercert()["subjectAltName"]
            assert sans == (("URI", f"spiffe://{TD}/skiff-ca"),), sans
            data = body if isinstance(body, bytes) else json.dumps(body).encode()
            length = len(data) if content_length is None else content_length
            s.sendall(f"POST {path} HTTP/1.1\r\nHost: ca\r\nContent-Type: application/json\r\n"
                      f"Content-Length: {length}\r\n\r\n".encode() + (data if content_length is None else b""))
            answer = b""
            while chunk := s.recv(65536):
                answer += chunk
        head, _, payload = answer.partition(b"\r\n\r\n")
        return int(head.split()[1]), json.loads(payload)


def refused_at_start(cluster, app_id, config):
    """The output of a sidecar that must exit with 1 at start-up: what the CA refused is known only
    by asking it, so check mode (which contacts no CA) cannot see it."""
    p = cluster.sidecar(app_id, config=config, wait_ready=False)
    assert p.proc.wait(timeout=20) == 1, p.output()
    return p.output()


@pytest.fixture
def ca(cluster):
    service = CaService(cluster)
    service.serve()
    return service


def csr(tmp, name, uris, curve="prime256v1"):
    key, req = tmp / f"{name}.key", tmp / f"{name}.csr"
    tls_peer.openssl("ecparam", "-name", curve, "-genkey", "-noout", "-out", key)
    tls_peer.openssl("req", "-new", "-key", key, "-subj", f"/CN={name}", "-out", req,
                     "-addext", "subjectAltName=" + ",".join(f"URI:{u}" for u in uris))
    return req.read_text()


def test_init_keeps_keys_owner_only_and_refuses_to_replace_a_ca(cluster):
    service = CaService(cluster)
    assert stat.S_IMODE(service.dir.stat().st_mode) == 0o700
    for name in ("root.key", "issuer.key", "tokens.db"):
        path = service.dir / name
        if path.exists():
            assert stat.S_IMODE(path.stat().st_mode) == 0o600, name
    # A token lifetime under a second would round to "never expires": refused.
    short = skiff("ca", "token", "create", "--dir", service.dir, "--namespace", "prod", "--ttl", "500ms",
                  check=False)
    assert short.returncode != 0 and "at least 1s" in short.stderr
    again = skiff("ca", "init", "--dir", service.dir, "--trust-domain", TD, check=False)
    assert again.returncode != 0 and "already holds a CA" in again.stderr
    # The issuing CA chains to the root, as `openssl verify` sees it.
    out = tls_peer.openssl("verify", "-CAfile", service.dir / "bundle.crt", service.dir / "issuer.crt")
    assert "OK" in out


def test_sidecars_on_a_ca_service_call_each_other_over_mtls(cluster, ca):
    app = cluster.recording_app("cart")
    cart = ca.sidecar("cart", app_port=app.port)
    order = ca.sidecar("order")
    r = requests.post(invoke_url(order, "cart.prod", "hello"), data=b"hi", timeout=10)
    assert r.status_code == 200, r.text
    seen = {n.lower(): v for n, v in app.requests()[-1]["headers"]}
    assert seen["dapr-caller-app-id"] == "order" and seen["dapr-caller-namespace"] == "prod"
    identity = requests.get(cart.url + "/v1.0/metadata", timeout=5).json()["identity"]
    assert identity["spiffeId"] == f"spiffe://{TD}/ns/prod/cart"
    # The CA logged what it issued, and never saw a key: the sidecar sent a request.
    assert f"issued spiffe://{TD}/ns/prod/cart" in ca.process.output()
    # What the internal port presents chains, through the issuing CA, to the CA directory's bundle.
    with tls_peer.connect(cart.internal_port, None, ca.dir / "bundle.crt") as s:
        assert s.getpeercert()["subjectAltName"] == (("URI", f"spiffe://{TD}/ns/prod/cart"),)
    listing = skiff("ca", "token", "list", "--dir", ca.dir).stdout
    assert "prod" in listing and "skiff-jt." not in listing  # never the secrets


def test_a_token_for_prod_cannot_get_a_dev_identity(cluster, ca):
    out = refused_at_start(cluster, "cart", ca.config(ca.token("prod"), namespace="dev"))
    assert "does not cover" in out and "spiffe://example.org/ns/dev/cart" in out, out
    # A token bound to an app id covers that app only.
    out = refused_at_start(cluster, "orders", ca.config(ca.token("prod", "cart")))
    assert "does not cover" in out, out
    bound = ca.sidecar("cart", token=ca.token("prod", "cart"))
    assert bound.running()


def test_a_revoked_token_is_refused_at_once(cluster, ca):
    token = ca.token("prod")
    first = ca.sidecar("cart", token=token, ttl="4s")
    token_id = token.split(".")[1]
    skiff("ca", "token", "revoke", "--dir", ca.dir, token_id)
    assert "revoked" in skiff("ca", "token", "list", "--dir", ca.dir).stdout
    # A new sidecar cannot join with it, and the running one cannot renew: its certificate ends.
    out = refused_at_start(cluster, "order", ca.config(token))
    assert "unknown, revoked or expired join token" in out, out
    wait_until(lambda: "renewing the workload certificate" in first.output(), timeout=15,
               what="a refused renewal")
    assert "HTTP 401" in first.output()


def test_the_ca_refuses_what_it_must_not_sign(cluster, ca):
    token = ca.token("prod")
    status, body = ca.post({"token": token, "csr": csr(cluster.tmp, "two", [
        f"spiffe://{TD}/ns/prod/a", f"spiffe://{TD}/ns/prod/b"])})
    assert status == 400 and "exactly one URI SAN" in body["message"]
    status, body = ca.post({"token": token, "csr": csr(cluster.tmp, "other-td", ["spiffe://elsewhere/ns/prod/a"])})
    assert status == 403 and "trust domain" in body["message"]
    status, body = ca.post({"token": token + "0", "csr": csr(cluster.tmp, "a", [f"spiffe://{TD}/ns/prod/a"])})
    assert status == 401
    status, body = ca.post({"token": token, "csr": "-----BEGIN CERTIFICATE REQUEST-----\nnope\n"})
    assert status == 400
    # Another 256-bit curve is not P-256.
    status, body = ca.post({"token": token, "csr": csr(cluster.tmp, "k1", [f"spiffe://{TD}/ns/prod/a"],
                                                     curve="secp256k1")})
    assert status == 400 and "P-256" in body["message"]
    status, body = ca.post(b"{not json")
    assert status == 400 and body["errorCode"] == "ERR_MALFORMED_REQUEST"
    status, _ = ca.post({"token": token}, path="/v1/other")
    assert status == 404
    status, body = ca.post(b"", content_length=40000)
    assert status == 413
    # A good request made by openssl: the CA decides the extensions, and openssl verifies the chain.
    status, body = ca.post({"token": token, "csr": csr(cluster.tmp, "good", [f"spiffe://{TD}/ns/prod/a"]),
                            "ttl_seconds": 99999999})
    assert status == 200, body
    chain = cluster.tmp / "good-chain.pem"
    chain.write_text(body["chain"])
    leaf_text = tls_peer.openssl("x509", "-in", chain, "-noout", "-text", "-enddate")
    assert f"URI:spiffe://{TD}/ns/prod/a" in leaf_text and "CA:FALSE" in leaf_text
    issuer = cluster.tmp / "good-issuer.pem"
    issuer.write_text(body["chain"][body["chain"].index("-----END CERTIFICATE-----") + 26:])
    assert "OK" in tls_peer.openssl("verify", "-CAfile", ca.dir / "bundle.crt", "-untrusted", issuer, chain)
    assert ca.process.running()


def test_a_sidecar_refuses_a_server_that_is_not_its_ca(cluster, ca):
    other_crt, _ = tls_peer.other_ca(cluster.tmp)
    out = refused_at_start(cluster, "cart", ca.config(ca.token("prod"), bundle=other_crt))
    assert "TLS handshake failed" in out or "did not verify" in out, out


def test_a_ca_that_is_down_at_renewal_is_retried_and_the_old_certificate_kept(cluster, ca):
    app = cluster.recording_app("cart")
    cart = ca.sidecar("cart", app_port=app.port, ttl="8s")
    order = ca.sidecar("order", ttl="8s")
    url = invoke_url(order, "cart.prod", "hello")
    assert requests.post(url, data=b"1", timeout=10).status_code == 200
    def expiry(sidecar):
        return requests.get(sidecar.url + "/v1.0/metadata", timeout=5).json()["identity"]["expiry"]
    before = max(expiry(cart), expiry(order))
    ca.process.stop()
    wait_until(lambda: "renewing the workload certificate from the CA service" in cart.output(), timeout=15,
               what="a failed renewal")
    # The certificate still in use carries calls until it ends.
    assert requests.post(url, data=b"2", timeout=10).status_code == 200
    ca.serve()
    for sidecar in (cart, order):
        wait_until(lambda: expiry(sidecar) > before, timeout=20, what="a renewal once the CA is back")
    assert requests.post(url, data=b"3", timeout=10).status_code == 200


def test_ca_service_settings_are_checked(cluster, ca):
    token = ca.token("prod")
    for config, key in [
        (f'[security]\nca_address = "127.0.0.1:{ca.port}"\njoin_token = "{token}"\n', "security.ca_bundle"),
        (f'[security]\nca_address = "127.0.0.1:{ca.port}"\nca_bundle = "{ca.dir}/bundle.crt"\n',
         "security.join_token"),
        (f'[security]\nca_address = "nowhere"\nca_bundle = "x"\njoin_token = "t"\n', "security.ca_address"),
        (f'[security]\nca_address = "127.0.0.1:1"\nca_bundle = "x"\njoin_token = "t"\ncert_file = "c"\n',
         "security.cert_file"),
        (f'[security]\nmtls = false\nca_address = "127.0.0.1:1"\nca_bundle = "x"\njoin_token = "t"\n',
         "security.ca_address"),
    ]:
        r = cluster.check_config(config)
        assert r.returncode == 2 and key in r.stderr, (config, r.stderr)
    # The join token may come from the environment instead of a file.
    env = dict(cluster.env, SKIFF_JOIN_TOKEN=token)
    config = ca.config("").replace('join_token = ""\n', "")
    p = cluster.sidecar("cart", config=config, env=env)
    assert p.running()
