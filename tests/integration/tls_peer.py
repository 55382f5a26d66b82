"""A peer of a sidecar's internal port over mTLS: certificates made with the openssl command, from
the zero-configuration CA of a test cluster or from a CA of the test's own, and TLS 1.3 sockets."""
import secrets
import socket
import ssl
import subprocess


def local_ca(cluster):
    """(ca.crt, ca.key) of the cluster's zero-configuration CA (made by its first sidecar)."""
    d = cluster.state / "skiff" / "ca"
    return d / "ca.crt", d / "ca.key"


def openssl(*args):
    r = subprocess.run(["openssl", *[str(a) for a in args]], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    return r.stdout


def other_ca(tmp):
    """A root CA no sidecar trusts."""
    crt, key = tmp / "other-ca.crt", tmp / "other-ca.key"
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key,
            "-subj", "/O=elsewhere/CN=other CA", "-days", "2", "-out", crt,
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    return crt, key


def issue(tmp, name, uris, ca, days=1, is_ca=False):
    """A certificate for `uris` (URI SANs) signed by ca = (crt, key); days < 0 makes it expired."""
    key, csr, crt, ext = (tmp / f"{name}.{s}" for s in ("key", "csr", "crt", "ext"))
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", key)
    openssl("req", "-new", "-key", key, "-subj", f"/O=test/CN={name}", "-out", csr)
    lines = [f"basicConstraints=critical,CA:{'TRUE' if is_ca else 'FALSE'}",
             "keyUsage=critical,digitalSignature", "extendedKeyUsage=serverAuth,clientAuth"]
    if uris:
        lines.append("subjectAltName=" + ",".join(f"URI:{u}" for u in uris))
    ext.write_text("\n".join(lines) + "\n")
    openssl("x509", "-req", "-in", csr, "-CA", ca[0], "-CAkey", ca[1], "-set_serial",
            str(secrets.randbits(63)), "-days", str(days), "-extfile", ext, "-out", crt)
    return crt, key


def connect(port, cert, trust, timeout=10):
    """A TLS 1.3 client socket to 127.0.0.1:port presenting cert = (crt, key), trusting `trust`."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.check_hostname = False
    ctx.load_verify_locations(str(trust))
    if cert:
        ctx.load_cert_chain(str(cert[0]), str(cert[1]))
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    return ctx.wrap_socket(raw)


def spiffe(app, ns="default", td="public"):
    return f"spiffe://{td}/ns/{ns}/{app}"


def identity(ca_dir, tmp, app):
    """(crt, key) of a certificate for app from the CA in ca_dir, made once per test directory."""
    crt = tmp / f"identity-{app}.crt"
    if crt.exists():
        return crt, tmp / f"identity-{app}.key"
    return issue(tmp, f"identity-{app}", [spiffe(app)], (ca_dir / "ca.crt", ca_dir / "ca.key"))


def dial(cluster, port, app="order", timeout=10):
    """A TLS socket to a sidecar's internal port of the cluster, as the sidecar of `app` would open."""
    ca_dir = local_ca(cluster)[0].parent
    return connect(port, identity(ca_dir, cluster.tmp, app), ca_dir / "ca.crt", timeout)


def server_context(ca_dir, tmp, app):
    """A TLS 1.3 server context presenting app's identity and requiring a client certificate."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_verify_locations(str(ca_dir / "ca.crt"))
    crt, key = identity(ca_dir, tmp, app)
    ctx.load_cert_chain(str(crt), str(key))
    return ctx


def echo_calls_for(sidecar, seconds, clients=4, body=b"rotating"):
    """Calls app cart's /echo through `sidecar` from `clients` threads for `seconds`, as the
    rotation tests do: {"ok": answers that echoed body, "failed": the texts of the others}."""
    import threading
    import time
    from harness import invoke_url, requests
    counts = {"ok": 0, "failed": []}
    lock = threading.Lock()
    until = time.monotonic() + seconds

    def client():
        with requests.Session() as s:
            while time.monotonic() < until:
                r = s.post(invoke_url(sidecar, "cart", "echo"), data=body, timeout=10)
                with lock:
                    if r.status_code == 200 and r.content == body:
                        counts["ok"] += 1
                    else:
                        counts["failed"].append(r.text)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return counts
