"""The out-of-tree example plugins, built only against the installed SDK, loaded into skiffd."""
import json
import os
import subprocess

import pytest

from harness import BUILD, REPO, invoke_url, requests, wait_until


@pytest.fixture(scope="module")
def installed_sdk(tmp_path_factory):
    """The environment that finds the SDK as `meson install` puts it."""
    dest = tmp_path_factory.mktemp("root")
    subprocess.run(["meson", "install", "-C", str(BUILD), "--destdir", str(dest), "--no-rebuild", "--quiet"],
                   check=True, capture_output=True, timeout=300)
    pcs = list(dest.rglob("skiff-plugin-sdk.pc"))
    assert len(pcs) == 1
    return dict(os.environ, PKG_CONFIG_PATH=str(pcs[0].parent))


def build_example(env, name, build):
    for cmd in (["meson", "setup", str(build), str(REPO / "sdk" / "examples" / name)],
                ["meson", "compile", "-C", str(build)]):
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
    assert (build / f"skiff-{name}.so").exists()
    return build


def test_example_plugin_builds_against_the_installed_sdk_and_serves_calls(cluster, tmp_path, installed_sdk):
    build = build_example(installed_sdk, "resolver-static", tmp_path / "example-build")

    cart_app = cluster.app("cart")
    cart = cluster.sidecar("cart", app_port=cart_app.port)
    config = (f'[plugins]\npaths = ["{build}"]\n[resolver]\ntype = "static"\n'
              f'[resolver.config.apps]\ncart = ["127.0.0.1:{cart.internal_port}"]\n')
    order = cluster.sidecar("order", config=config)
    assert "static table" in order.output()
    r = requests.post(invoke_url(order, "cart", "echo"), data=b"via static", timeout=10)
    assert r.status_code == 200
    assert r.text == "via static"
    r = requests.get(invoke_url(order, "unknown", "x"), timeout=10)
    assert r.status_code == 500

    output, checked = cluster.refused("bad", config=f'[plugins]\npaths = ["{build}"]\n[resolver]\ntype = "static"\n'
                                      '[resolver.config.apps]\ncart = ["no-port"]\n')
    for text in (output, checked):
        assert "resolver.config.apps.cart[0]: expected a \"host:port\" string" in text, text


def jsonl(path):
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.split("\n")[:-1] if line]


def test_example_observer_gets_spans_logs_and_metrics_of_both_sidecars(cluster, tmp_path, installed_sdk):
    build = build_example(installed_sdk, "observer-jsonl", tmp_path / "observer-build")
    files = {app: tmp_path / f"{app}.jsonl" for app in ("cart", "order")}

    def config(app):
        return (f'[plugins]\npaths = ["{build}"]\n'
                f'[[observers]]\ntype = "jsonl"\nmetrics_interval = "200ms"\n'
                f'config = {{ path = "{files[app]}" }}\n')

    cart_app = cluster.app("cart")
    cart = cluster.sidecar("cart", app_port=cart_app.port, config=config("cart"))
    order = cluster.sidecar("order", config=config("order"))
    trace_id = "4bf92f3577b34da6a3ce929d0e0e4736"
    r = requests.post(invoke_url(order, "cart", "orders/1"), data=b"x", timeout=10,
                      headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
    assert r.status_code == 200, r.text

    def spans(app):
        return [e for e in jsonl(files[app]) if e["type"] == "span" and e["trace_id"] == trace_id]

    # The same four spans an OTLP collector gets, two from each sidecar, linked across them.
    wait_until(lambda: len(spans("order")) == 2 and len(spans("cart")) == 2, what="spans in both files")
    by = {(app, e["kind"]): e for app in files for e in spans(app)}
    assert by[("order", "server")]["parent_span_id"] == "00f067aa0ba902b7"
    assert by[("order", "client")]["parent_span_id"] == by[("order", "server")]["span_id"]
    assert by[("cart", "server")]["parent_span_id"] == by[("order", "client")]["span_id"]
    assert by[("cart", "client")]["parent_span_id"] == by[("cart", "server")]["span_id"]
    assert by[("order", "client")]["attributes"]["skiff.target.app_id"] == "cart"

    # Log records: the sidecar's own lines reach the observer too.
    def logs(app):
        return [e for e in jsonl(files[app]) if e["type"] == "log"]
    wait_until(lambda: any("skiffd ready" in e["message"] for e in logs("cart")), what="the ready line")
    assert all(e["level"] in ("trace", "debug", "info", "warn", "error") for e in logs("cart"))

    # Metric snapshots every 200 ms, with Dapr's counts of the call.
    def sent(app):
        for e in reversed(jsonl(files[app])):
            if e["type"] == "metrics":
                return sum(s["value"] for s in e["series"]
                           if s["name"] == "dapr_runtime_service_invocation_req_sent_total")
        return None
    wait_until(lambda: sent("order") == 1, what="a snapshot counting the call")

    # At shutdown the plugin writes what it queued and the count of lines it had to drop.
    order.stop()
    lines = jsonl(files["order"])
    assert lines[-1] == {"type": "dropped", "lines": 0}


def test_observer_configuration_errors_name_the_table(cluster, tmp_path, installed_sdk):
    build = build_example(installed_sdk, "observer-jsonl", tmp_path / "observer-build")
    paths = f'[plugins]\npaths = ["{build}"]\n'
    output, checked = cluster.refused("bad", config=paths + '[[observers]]\ntype = "jsonl"\nconfig = {}\n')
    for text in (output, checked):
        assert "observers[0].config.path: expected the path of the file to append to" in text, text
    output, checked = cluster.refused("bad", config=paths + '[[observers]]\ntype = "nosuch"\n')
    for text in (output, checked):
        assert "observers[0].type" in text and "nosuch" in text, text
    output, checked = cluster.refused("bad", config='[[observers]]\nconfig = { path = "x" }\n', exit_code=2)
    for text in (output, checked):
        assert "observers[0].type: missing: every observer needs a type" in text, text


def test_example_middleware_signs_checks_and_times_every_call(cluster, tmp_path, installed_sdk):
    import grpc
    import grpc_protos
    from harness import port_open
    build = build_example(installed_sdk, "middleware-apikey", tmp_path / "middleware-build")

    def config(key, targets=None):
        extra = f", targets = {json.dumps(targets)}" if targets else ""
        return (f'[plugins]\npaths = ["{build}"]\n'
                f'[[middleware]]\ntype = "apikey"\nconfig = {{ key = "{key}"{extra} }}\n')

    cart_app = cluster.recording_app("cart")
    cluster.sidecar("cart", app_port=cart_app.port, config=config("k-1"))
    order = cluster.sidecar("order", config=config("k-1", ["cart"]))
    r = requests.post(invoke_url(order, "cart", "orders/1"), data=b"x", timeout=10)
    assert r.status_code == 200, r.text
    # on_response found what on_outbound kept for this call (ABI 1.5 per-call state).
    assert int(r.headers["x-apikey-elapsed-us"]) >= 0
    # The key went between the sidecars only: the app never sees it.
    assert not [n for n, _ in cart_app.requests()[-1]["headers"] if n.lower() == "x-api-key"]
    components = requests.get(f"{order.url}/v1.0/metadata", timeout=10).json()["components"]
    assert {"name": "middleware-apikey", "type": "middleware.apikey", "version": "1.0.0"} in components

    # An app this one may not call: refused by the caller's sidecar before anything is sent.
    r = requests.post(invoke_url(order, "stock", "x"), timeout=10)
    assert r.status_code == 403
    assert r.json()["errorCode"] == "ERR_TARGET_NOT_ALLOWED"

    # A caller with another key, or none: refused by the callee's sidecar, the app sees nothing.
    seen = len(cart_app.requests())
    stranger = cluster.sidecar("stranger", config=config("k-2"))
    plain = cluster.sidecar("plain")
    for caller in (stranger, plain):
        r = requests.post(invoke_url(caller, "cart", "orders/2"), data=b"y" * 300000, timeout=10)
        assert r.status_code == 401, r.text
        assert r.json() == {"errorCode": "ERR_API_KEY", "message": "missing or wrong API key"}
        assert r.headers["WWW-Authenticate"] == "ApiKey"
    assert len(cart_app.requests()) == seen

    # A gRPC caller gets the refusal as Dapr maps the status, from InvokeService and proxy mode.
    P = grpc_protos.load()
    wait_until(lambda: port_open(plain.grpc_port), what="gRPC API")
    with grpc_protos.channel(plain.grpc_port) as ch:
        req = P.runtime.InvokeServiceRequest(id="cart")
        req.message.method = "orders/3"
        req.message.http_extension.verb = P.common.HTTPExtension.POST
        try:
            grpc_protos.dapr_stubs(ch).InvokeService(req, timeout=10)
            raise AssertionError("InvokeService was not refused")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.UNAUTHENTICATED, e
    wait_until(lambda: port_open(order.grpc_port), what="gRPC API")
    with grpc_protos.channel(order.grpc_port) as ch:
        echo = ch.unary_unary("/skiff.test.v1.Echo/Say")
        try:
            echo(b"", metadata=(("dapr-app-id", "stock"),), timeout=10)
            raise AssertionError("the proxied call was not refused")
        except grpc.RpcError as e:
            assert e.code() == grpc.StatusCode.PERMISSION_DENIED, e


def test_middleware_configuration_errors_name_the_table(cluster, tmp_path, installed_sdk):
    build = build_example(installed_sdk, "middleware-apikey", tmp_path / "middleware-build")
    paths = f'[plugins]\npaths = ["{build}"]\n'
    output, checked = cluster.refused("bad", config=paths + '[[middleware]]\ntype = "apikey"\nconfig = {}\n')
    for text in (output, checked):
        assert "middleware[0].config.key: expected the shared key" in text, text
    output, checked = cluster.refused("bad", config=paths + '[[middleware]]\ntype = "nosuch"\n')
    for text in (output, checked):
        assert "middleware[0].type" in text and "nosuch" in text, text


def test_a_reload_adds_moves_and_removes_an_observer_without_a_failed_call(cluster, tmp_path, installed_sdk):
    from test_reload import LOADGEN, reload
    build = build_example(installed_sdk, "observer-jsonl", tmp_path / "observer-build")
    first, second = tmp_path / "first.jsonl", tmp_path / "second.jsonl"
    base = f'[plugins]\npaths = ["{build}"]\n[log]\nlevel = "info"\n'
    observer = lambda path: (f'[[observers]]\ntype = "jsonl"\nmetrics_interval = "200ms"\n'
                             f'config = {{ path = "{path}" }}\n')
    cart_app = cluster.app("cart")
    cluster.sidecar("cart", app_port=cart_app.port)
    order = cluster.sidecar("order", config=base)

    def traced():
        trace_id = os.urandom(16).hex()
        r = requests.post(invoke_url(order, "cart", "echo"), data=b"x", timeout=10,
                          headers={"traceparent": f"00-{trace_id}-00f067aa0ba902b7-01"})
        assert r.status_code == 200, r.text
        return trace_id

    def spans(path, trace_id):
        return [e for e in jsonl(path) if e["type"] == "span" and e["trace_id"] == trace_id]

    load = subprocess.Popen([str(LOADGEN), "--port", str(order.http_port), "--path",
                             "/v1.0/invoke/cart/method/echo", "--method", "POST", "--body-size", "64",
                             "-r", "500", "-d", "4", "--warmup", "0.2", "-c", "8"],
                            stdout=subprocess.PIPE, text=True)
    try:
        # Added: spans (none were recorded before), log records and snapshots start.
        out = reload(order, base + observer(first))
        assert "applied observers" in out.splitlines()[-1], out.splitlines()[-1]
        one = traced()
        wait_until(lambda: len(spans(first, one)) == 2, what="the call's spans in the first file")
        wait_until(lambda: any("configuration reloaded" in e.get("message", "") for e in jsonl(first)),
                   what="the reload's log line in the first file")
        wait_until(lambda: any(e["type"] == "metrics" for e in jsonl(first)), what="a snapshot")
        # Moved: a new instance takes over, the old one gets nothing more.
        reload(order, base + observer(second))
        two = traced()
        wait_until(lambda: len(spans(second, two)) == 2, what="the call's spans in the second file")
        # Removed.
        reload(order, base)
        three = traced()
        assert load.poll() is None, "the reloads ran while the load did"
    finally:
        measured, _ = load.communicate(timeout=60)
    result = json.loads(measured)
    assert result["errors"] == 0 and result["non_2xx"] == 0, result
    # Stopping flushes every instance still alive; each replaced one was destroyed cleanly.
    order.stop()
    assert spans(first, two) == [] and spans(first, three) == [] and spans(second, three) == []
    for path in (first, second):
        assert jsonl(path)[-1] == {"type": "dropped", "lines": 0}, path
