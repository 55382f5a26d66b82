"""Calls to HTTP endpoints that have no sidecar: named `[[http_endpoints]]` (base URL, headers added
to every request, CA / client certificate), and a full URL given as the app id.

The endpoint is tests/integration/https_app.py, which answers every request with a JSON description
of it; certificates come from tls_ca.py (openssl CLI)."""
import json
import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from harness import PLUGIN_PATH, SKIFFD, free_port, invoke_url, port_open, requests, wait_until
from tls_ca import make_tls

HTTPS_APP = Path(__file__).with_name("https_app.py")


@pytest.fixture(scope="module")
def tls(tmp_path_factory):
    return make_tls(tmp_path_factory.mktemp("tls"))


def start_https_app(cluster, cert=None, key=None, client_ca=None):
    port = free_port()
    args = [sys.executable, HTTPS_APP, "--port", port]
    if cert:
        args += ["--cert", cert, "--key", key]
    if client_ca:
        args += ["--client-ca", client_ca]
    app = cluster.start(args, f"https-app-{port}")
    wait_until(lambda: port_open(port) or not app.running(), what=f"https app on {port}")
    assert app.running(), app.output()
    app.port = port
    return app


def toml_str(value):
    return json.dumps(str(value))  # a TOML basic string, for the ASCII paths and URLs used here


def endpoint(name, base_url, headers=None, ca_file=None, cert_file=None, key_file=None):
    """One [[http_endpoints]] table."""
    lines = ["[[http_endpoints]]", f"name = {toml_str(name)}", f"base_url = {toml_str(base_url)}"]
    if headers:
        lines.append("headers = { " + ", ".join(f"{toml_str(k)} = {toml_str(v)}" for k, v in headers.items()) + " }")
    for key, value in (("ca_file", ca_file), ("cert_file", cert_file), ("key_file", key_file)):
        if value:
            lines.append(f"{key} = {toml_str(value)}")
    return "\n".join(lines) + "\n"


def header_values(seen, name):
    return [v for k, v in seen["headers"] if k.lower() == name.lower()]


def assert_refused(r, *words):
    """A Dapr-style JSON error (500 or 502) whose message contains every one of words (any case)."""
    assert r.status_code in (500, 502), (r.status_code, r.text[:500])
    body = r.json()
    assert set(body) >= {"errorCode", "message"}, body
    message = body["message"].lower()
    for word in words:
        assert word in message, (word, body)
    return body


# ---------------------------------------------------------------------------------------------------
# named endpoints over HTTPS

def test_named_https_endpoint_gets_verb_path_query_body_and_its_headers(cluster, tls):
    app = start_https_app(cluster, tls.server_cert, tls.server_key)
    caller = cluster.sidecar(config=endpoint("payments", f"https://127.0.0.1:{app.port}/api",
                                             headers={"X-Api-Key": "secret"}, ca_file=tls.ca))
    body = json.dumps({"amount": 5, "note": "x" * 70_000}).encode()
    with requests.Session() as s:
        # the caller's own X-Api-Key (another spelling) is replaced by the endpoint's
        r = s.post(invoke_url(caller, "payments", "charge") + "?x=1", data=body, timeout=30,
                   headers={"Content-Type": "application/json", "x-api-key": "from-the-caller", "X-Custom": "yes"})
        assert r.status_code == 200, r.text[:500]
        assert r.headers["X-Echo-App"] == "https-app"  # the endpoint's headers come back
        seen = r.json()
        assert seen["method"] == "POST"
        assert seen["path"] == "/api/charge"
        assert seen["query"] == "x=1"
        assert seen["body_size"] == len(body)
        assert seen["body"] == body.decode()
        assert seen["tls"]["version"].startswith("TLS")
        assert seen["tls"]["client_cert"] is None
        assert header_values(seen, "X-Api-Key") == ["secret"], seen["headers"]
        assert header_values(seen, "X-Custom") == ["yes"]
        assert header_values(seen, "Content-Type") == ["application/json"]
        assert header_values(seen, "Host") == [f"127.0.0.1:{app.port}"], seen["headers"]

        # without a header of its own the caller gets the endpoint's too; deeper methods and queries
        r = s.get(invoke_url(caller, "payments", "charge/7") + "?x=1&y=%20z", timeout=30)
        assert r.status_code == 200, r.text[:500]
        seen = r.json()
        assert (seen["method"], seen["path"], seen["query"]) == ("GET", "/api/charge/7", "x=1&y=%20z")
        assert header_values(seen, "X-Api-Key") == ["secret"]

        for verb in ("PUT", "PATCH", "DELETE"):
            r = s.request(verb, invoke_url(caller, "payments", "refund"), data=b"r", timeout=30)
            assert r.status_code == 200, (verb, r.text[:500])
            assert (r.json()["method"], r.json()["path"], r.json()["body"]) == (verb, "/api/refund", "r")


def test_named_endpoint_by_host_name_is_verified_against_the_dns_name(cluster, tls):
    app = start_https_app(cluster, tls.server_cert, tls.server_key)
    caller = cluster.sidecar(config=endpoint("payments", f"https://localhost:{app.port}/api", ca_file=tls.ca))
    r = requests.get(invoke_url(caller, "payments", "charge"), timeout=30)
    assert r.status_code == 200, r.text[:500]
    assert r.json()["path"] == "/api/charge"


def test_client_certificate_is_presented_when_configured(cluster, tls):
    app = start_https_app(cluster, tls.server_cert, tls.server_key, client_ca=tls.ca)
    base = f"https://127.0.0.1:{app.port}/api"
    caller = cluster.sidecar(config=endpoint("payments", base, ca_file=tls.ca, cert_file=tls.client_cert,
                                             key_file=tls.client_key) +
                             endpoint("payments-anonymous", base, ca_file=tls.ca))
    r = requests.post(invoke_url(caller, "payments", "charge"), data=b"with cert", timeout=30)
    assert r.status_code == 200, r.text[:500]
    assert r.json()["tls"]["client_cert"] == tls.client_cn
    assert r.json()["body"] == "with cert"

    # the server requires a certificate; without cert_file the call fails and says why
    r = requests.post(invoke_url(caller, "payments-anonymous", "charge"), data=b"no cert", timeout=30)
    assert_refused(r, "certificate")
    assert app.output().count('"POST /api/charge') == 1  # only the call with a certificate got through
    # the sidecar keeps serving the good endpoint
    assert requests.get(invoke_url(caller, "payments", "charge"), timeout=30).status_code == 200


@pytest.mark.parametrize("case", ["unrelated CA", "system trust store", "certificate for another name"])
def test_a_server_certificate_that_does_not_verify_is_refused(cluster, tls, case):
    if case == "certificate for another name":
        app = start_https_app(cluster, tls.wrong_name_cert, tls.wrong_name_key)
        ca_file = tls.ca
    else:
        app = start_https_app(cluster, tls.server_cert, tls.server_key)
        ca_file = tls.other_ca if case == "unrelated CA" else None  # the test CA is in no system store
    caller = cluster.sidecar(config=endpoint("payments", f"https://127.0.0.1:{app.port}/api",
                                             headers={"X-Api-Key": "secret"}, ca_file=ca_file))
    r = requests.post(invoke_url(caller, "payments", "charge"), data=b"must not arrive", timeout=30)
    assert_refused(r, "certificate", "verif")
    assert '"POST /api/charge' not in app.output()  # nothing went through (the app logs each request it answers)
    assert "secret" not in r.text


# ---------------------------------------------------------------------------------------------------
# a full URL as the app id

def test_full_http_url_as_app_id_reaches_a_plain_http_app(cluster):
    app = cluster.app("plain")
    caller = cluster.sidecar("order")
    app_id = quote(f"http://127.0.0.1:{app.port}", safe="")
    assert app_id == f"http%3A%2F%2F127.0.0.1%3A{app.port}"
    with requests.Session() as s:
        r = s.get(invoke_url(caller, app_id, "inspect/x") + "?y=2&z=%20", headers={"X-Custom": "yes"}, timeout=30)
        assert r.status_code == 200, r.text[:500]
        seen = r.json()
        assert seen["app"] == "plain"
        assert (seen["verb"], seen["target"]) == ("GET", "/inspect/x?y=2&z=%20")
        assert dict((k.lower(), v) for k, v in seen["headers"])["x-custom"] == "yes"

        r = s.post(invoke_url(caller, app_id, "orders/7"), data=b"full url body", timeout=30)
        assert r.status_code == 200, r.text[:500]
        assert r.text == "full url body"
        assert (r.headers["X-App-Name"], r.headers["X-Echo-Verb"], r.headers["X-Echo-Target"]) == \
            ("plain", "POST", "/orders/7")

        # A chunked upload (the final empty chunk on its own) and a multi-megabyte answer both
        # stream through, and the connection stays usable.
        pieces = [bytes([i]) * 300_000 for i in range(20)]
        r = s.post(invoke_url(caller, app_id, "echo/big"), data=iter(pieces), timeout=60)
        assert r.status_code == 200, r.text[:500]
        assert r.content == b"".join(pieces)
        assert s.get(invoke_url(caller, app_id, "inspect/again"), timeout=30).status_code == 200


def test_full_https_url_as_app_id_verifies_against_the_system_trust_store(cluster, tls):
    app = start_https_app(cluster, tls.server_cert, tls.server_key)
    caller = cluster.sidecar("order")
    app_id = quote(f"https://127.0.0.1:{app.port}", safe="")
    r = requests.get(invoke_url(caller, app_id, "charge"), timeout=30)
    assert_refused(r, "certificate", "verif")
    assert '"GET /charge' not in app.output()


# ---------------------------------------------------------------------------------------------------
# configuration errors

def check_config(path):
    env = dict(os.environ, SKIFF_PLUGIN_PATH=PLUGIN_PATH)  # check mode loads the configured plugins
    return subprocess.run([str(SKIFFD), "--config", str(path), "--check-config"], capture_output=True, text=True,
                          timeout=30, env=env)


def test_check_config_accepts_complete_http_endpoints(tmp_path, tls):
    cfg = tmp_path / "ok.toml"
    cfg.write_text(endpoint("payments", "https://127.0.0.1:8443/api", headers={"X-Api-Key": "secret"},
                            ca_file=tls.ca, cert_file=tls.client_cert, key_file=tls.client_key) +
                   endpoint("plain", "http://127.0.0.1:8080"))
    r = check_config(cfg)
    assert r.returncode == 0, r.stderr
    assert "configuration OK" in r.stdout


@pytest.mark.parametrize("case", ["no base_url", "cert_file without key_file"])
def test_check_config_names_the_missing_http_endpoint_key(tmp_path, tls, case):
    cfg = tmp_path / "bad.toml"
    if case == "no base_url":
        cfg.write_text('[[http_endpoints]]\nname = "payments"\nheaders = { "X-Api-Key" = "secret" }\n')
        key = "base_url"
    else:
        cfg.write_text(endpoint("payments", "https://127.0.0.1:8443/api", ca_file=tls.ca, cert_file=tls.client_cert))
        key = "key_file"
    r = check_config(cfg)
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert str(cfg) in r.stderr, r.stderr
    assert "http_endpoints" in r.stderr, r.stderr
    assert key in r.stderr, r.stderr
