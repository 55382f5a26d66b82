"""Certificate rotation under load: workload certificates that live seconds, renewed many times by
both sidecars while 1000 calls/s go through them, and a root rotated with overlap under the same
load; no call may fail. The counts are printed (pytest -s) for the closing report."""
import json
import os
import subprocess

import pytest

import tls_peer
from harness import BUILD, invoke_url, requests, wait_until

LOADGEN = BUILD / "bench" / "skiff-loadgen"
# Under the sanitizers every process runs several times slower: the same test at a lower rate.
SANITIZED = bool(os.environ.get("SKIFF_SANITIZED"))
RATE, SECONDS = (200, 20) if SANITIZED else (1000, 60)
SHORT_LIVED = '[security]\ncert_ttl = "3s"\n'


@pytest.fixture
def rotating(cluster):
    """order (caller) and cart (with the echo app), both with 3 s certificates."""
    app = cluster.app("cart")
    cart = cluster.sidecar("cart", app_port=app.port, config=SHORT_LIVED)
    order = cluster.sidecar("order", config=SHORT_LIVED)
    return order, cart


def load(order, rate=RATE, seconds=SECONDS):
    """The load generator in the background: 1 KiB bodies to cart's /echo through order."""
    return subprocess.Popen([str(LOADGEN), "--port", str(order.http_port), "--path",
                             "/v1.0/invoke/cart/method/echo", "-r", str(rate), "-d", str(seconds),
                             "--warmup", "0", "-c", "16"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def finished(p, sidecars, seconds=SECONDS):
    out, err = p.communicate(timeout=seconds + 60)
    result = json.loads(out)
    # On failure, what the sidecars said besides their renewals tells why.
    said = [line for s in sidecars for line in s.output().splitlines() if " renewed" not in line]
    assert result["errors"] == 0 and result["non_2xx"] == 0, (result, err, said[-40:])
    assert result["requests"] >= 0.95 * RATE * seconds, result
    return result


def renewals(sidecar):
    return sidecar.output().count(" renewed\n")


def test_many_rotations_of_both_sidecars_under_load_fail_no_call(rotating):
    order, cart = rotating
    before = {s: renewals(s) for s in rotating}
    result = finished(load(order), rotating)
    rotated = {s: renewals(s) - before[s] for s in rotating}
    print(f"\nrotation under load: {result['requests']} calls at {RATE}/s, 0 failed; "
          f"renewals: order {rotated[order]}, cart {rotated[cart]}; p99 {result['latency_us']['p99']} us")
    # A 3 s certificate is renewed every 1.2-1.8 s: dozens of times in a minute.
    assert min(rotated.values()) >= SECONDS // 4, rotated


def new_root(tmp):
    crt, key = tmp / "new-root.crt", tmp / "new-root.key"
    tls_peer.openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                     "-keyout", key, "-subj", "/O=skiff/CN=new root", "-days", "30", "-out", crt,
                     "-addext", "basicConstraints=critical,CA:TRUE",
                     "-addext", "keyUsage=critical,keyCertSign,cRLSign",
                     "-addext", "subjectKeyIdentifier=hash", "-addext", "subjectAltName=URI:spiffe://public")
    return crt.read_text(), key.read_text()


def replace(path, text):
    tmp = path.with_suffix(".swap")
    tmp.write_text(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def test_a_root_rotated_with_overlap_under_load_fails_no_call(cluster, rotating):
    order, cart = rotating
    ca_crt, ca_key = tls_peer.local_ca(cluster)
    old_crt = ca_crt.read_text()
    new_crt, new_key = new_root(cluster.tmp)

    def renewed_twice():
        # Two renewals after a change: the second one surely read the changed files.
        marks = {s: renewals(s) for s in rotating}
        for s in rotating:
            wait_until(lambda: renewals(s) >= marks[s] + 2, timeout=15, what="two renewals")

    p = load(order)
    # 1. Every sidecar learns the new root (the old one still signs). 2. The new root signs, the
    # old one is still trusted. 3. The old root goes.
    replace(ca_crt, old_crt + new_crt)
    renewed_twice()
    replace(ca_key, new_key)  # for a moment the key does not match ca.crt: renewals wait for it
    replace(ca_crt, new_crt + old_crt)
    renewed_twice()
    replace(ca_crt, new_crt)
    renewed_twice()
    result = finished(p, (order, cart))
    print(f"\nroot rotation under load: {result['requests']} calls at {RATE}/s, 0 failed")
    # cart now presents a certificate of the new root alone, and a sidecar started now joins.
    trust = cluster.tmp / "only-new-root.crt"
    trust.write_text(new_crt)
    with tls_peer.connect(cart.internal_port, None, trust) as s:
        assert s.getpeercert()["subjectAltName"] == (("URI", "spiffe://public/ns/default/cart"),)
    late = cluster.sidecar("late")
    assert requests.post(invoke_url(late, "cart", "echo"), data=b"x", timeout=10).status_code == 200
