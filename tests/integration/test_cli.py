"""`skiff invoke`, `skiff plugins list`, `skiff config check` and `skiffd --check-config`."""
import subprocess

from harness import BROKEN_PLUGINS, SKIFF, SKIFFD, requests


def run(args, env=None, timeout=30):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env, timeout=timeout)


def test_skiff_invoke_prints_the_body(order_cart):
    order, _ = order_cart
    r = run([SKIFF, "invoke", "--app-id", "cart", "--method", "echo/x", "--data", '{"n":1}',
             "--sidecar-port", order.http_port])
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == '{"n":1}'


def test_skiff_invoke_verb_headers_and_data_file(order_cart, tmp_path):
    order, _ = order_cart
    payload = tmp_path / "body.bin"
    payload.write_bytes(b"from a file")
    r = run([SKIFF, "invoke", "-a", "cart", "-m", "/inspect/y", "--verb", "PUT", "--data-file", payload,
             "--header", "X-One: 1", "-H", "X-Two:2", "-p", order.http_port])
    assert r.returncode == 0, r.stderr
    import json
    seen = json.loads(r.stdout)
    assert seen["verb"] == "PUT"
    assert seen["body_size"] == len(b"from a file")
    headers = dict(seen["headers"])
    assert headers["X-One"] == "1" and headers["X-Two"] == "2"


def test_skiff_invoke_fails_on_error_status(order_cart):
    order, _ = order_cart
    r = run([SKIFF, "invoke", "--app-id", "cart", "--method", "status/404", "--sidecar-port", order.http_port])
    assert r.returncode != 0
    assert "HTTP 404" in r.stderr
    r = run([SKIFF, "invoke", "--app-id", "ghost", "--method", "x", "--sidecar-port", order.http_port])
    assert r.returncode != 0
    assert "couldn't find service: ghost" in r.stderr


def test_skiff_invoke_reports_an_unreachable_sidecar(tmp_path):
    from harness import free_port
    r = run([SKIFF, "invoke", "--app-id", "cart", "--method", "x", "--sidecar-port", free_port()])
    assert r.returncode != 0
    assert "cannot reach the sidecar" in r.stderr


def test_check_config_accepts_a_valid_file(tmp_path):
    cfg = tmp_path / "ok.toml"
    cfg.write_text('[app]\nid = "cart"\nport = 8080\n[api]\nmax_body_size = "8Mi"\n')
    r = run([SKIFFD, "--config", cfg, "--check-config"])
    assert r.returncode == 0, r.stderr
    assert "configuration OK" in r.stdout
    assert run([SKIFF, "config", "check", "--config", cfg]).returncode == 0


def test_check_config_names_file_line_and_key(tmp_path):
    cases = {
        "unknown.toml": ('[app]\nid = "a"\nprot = 1\n', ":3:", "app.prot: unknown key"),
        "type.toml": ('[api]\nhttp_port = "x"\n', ":2:", "api.http_port: expected an integer"),
        "range.toml": ('[internal]\nport = 99999\n', ":2:", "internal.port"),
        "syntax.toml": ('[app\nid = 1\n', ":1:", "invalid TOML"),
        "size.toml": ('[api]\nmax_body_size = "huge"\n', ":2:", "expected a size"),
    }
    for name, (text, line, message) in cases.items():
        cfg = tmp_path / name
        cfg.write_text(text)
        r = run([SKIFFD, "--config", cfg, "--check-config"])
        assert r.returncode == 2, name
        assert f"{cfg}{line}" in r.stderr, (name, r.stderr)
        assert message in r.stderr, (name, r.stderr)


def test_bad_flag_values_are_rejected():
    r = run([SKIFFD, "--dapr-http-port", "http", "--check-config"])
    assert r.returncode != 0
    r = run([SKIFFD, "--max-body-size", "lots", "--check-config"])
    assert r.returncode == 2 and "--max-body-size" in r.stderr


def test_daprd_style_single_dash_flags_work(cluster):
    from harness import free_port
    port = free_port()
    p = cluster.start([SKIFFD, "-app-id", "solo", "-dapr-http-port", port, "-dapr-internal-grpc-port", free_port()],
                      "solo")
    from harness import wait_until
    wait_until(lambda: "skiffd ready" in p.output(), what="skiffd ready")
    assert requests.get(f"http://127.0.0.1:{port}/v1.0/metadata", timeout=5).json()["id"] == "solo"


def test_plugins_list_shows_components_and_refusals(cluster):
    r = run([SKIFF, "plugins", "list"], env=cluster.env)
    assert r.returncode == 0, r.stderr
    assert "resolver" in r.stdout and "sqlite" in r.stdout
    assert "transport" in r.stdout and "grpc" in r.stdout
    r = run([SKIFF, "plugins", "list", "--plugin-dir", BROKEN_PLUGINS], env=cluster.env)
    assert r.returncode == 1
    assert "newer-minor" in r.stdout
    for why in ["missing symbol skiff_plugin_entry", "ABI major mismatch", "has a NULL vtable", "bad struct size",
                "license file missing", "not a skiff plugin"]:
        assert why in r.stderr, why


def test_broken_plugins_on_the_path_do_not_stop_skiffd(cluster):
    env = dict(cluster.env)
    env["SKIFF_PLUGIN_PATH"] = f"{BROKEN_PLUGINS}:{env['SKIFF_PLUGIN_PATH']}"
    p = cluster.sidecar("order", env=env)
    assert requests.get(f"{p.url}/v1.0/healthz", timeout=5).status_code == 204
    # Its components are found by file name (skiff-<kind>-<type>.so): nothing else is loaded.
    assert "plugin refused" not in p.output()


def test_a_failing_resolver_stops_skiffd_with_its_message(cluster):
    env = dict(cluster.env)
    env["SKIFF_PLUGIN_PATH"] = f"{BROKEN_PLUGINS}:{env['SKIFF_PLUGIN_PATH']}"
    for kind, message in [("create-fails", "create failed: cannot reach the registry"),
                          ("throwing", "threw a C++ exception"),
                          ("nope", "no resolver plugin provides type 'nope'")]:
        p = cluster.sidecar("order", config=f'[resolver]\ntype = "{kind}"\n', env=env, wait_ready=False)
        assert p.proc.wait(timeout=10) == 1
        assert message in p.output(), p.output()
        # No skiff-resolver-<kind>.so exists: skiffd loaded every plugin to find the type, and
        # says which ones it refused.
        assert "plugin refused" in p.output(), p.output()


def test_plugin_config_errors_name_the_key(cluster):
    p = cluster.sidecar("order", config='[resolver.config]\nttl = "soon"\n', wait_ready=False)
    assert p.proc.wait(timeout=10) == 1
    assert "resolver.config.ttl" in p.output()
    assert ":2:" in p.output()
    p = cluster.sidecar("order", config='[transport.config]\nspeed = 1\n', wait_ready=False)
    assert p.proc.wait(timeout=10) == 1
    assert "transport.config.speed: unknown key" in p.output()


def test_port_in_use_is_a_clear_error(order_cart, cluster):
    order, _ = order_cart
    p = cluster.sidecar("other", http_port=order.http_port, wait_ready=False)
    assert p.proc.wait(timeout=10) == 1
    assert "cannot listen" in p.output()
    p = cluster.sidecar("other", internal_port=order.internal_port, wait_ready=False)
    assert p.proc.wait(timeout=10) == 1
    assert "cannot listen" in p.output()
    p = cluster.sidecar("other", grpc_port=order.grpc_port, wait_ready=False)
    assert p.proc.wait(timeout=10) == 1
    assert "cannot listen" in p.output() and "gRPC API" in p.output()


def test_daprd_launch_flags_carry_over(cluster, tmp_path):
    cart_app = cluster.app("cart")
    cluster.sidecar("cart", app_port=cart_app.port)
    dapr_yaml = tmp_path / "config.yaml"
    dapr_yaml.write_text("apiVersion: dapr.io/v1alpha1\nkind: Configuration\n")
    order = cluster.sidecar("order", extra=["--resources-path", str(tmp_path), "--enable-metrics",
                                            "--app-max-concurrency", "10", "--dapr-http-max-request-size", "1",
                                            "--config", dapr_yaml, "--log-level", "info"])
    out = order.output()
    assert "ignoring daprd flag --resources-path" in out
    assert "ignoring daprd flag --enable-metrics" in out
    assert f"ignoring {dapr_yaml}" in out
    from harness import invoke_url
    assert requests.post(invoke_url(order, "cart", "echo"), data=b"x" * (1 << 20), timeout=10).status_code == 200
    # over the buffer limit the body streams instead of being refused (api.streaming is on)
    r = requests.post(invoke_url(order, "cart", "echo"), data=b"x" * ((1 << 20) + 1), timeout=10)
    assert r.status_code == 200 and len(r.content) == (1 << 20) + 1


def test_json_logs_are_one_object_per_line(cluster):
    import json
    from harness import wait_until
    p = cluster.sidecar("order", extra=["--log-as-json"])

    def complete_lines():  # the log is read while skiffd writes it: a last partial line waits
        return [json.loads(line) for line in p.output().split("\n")[:-1] if line.strip()]

    ready = wait_until(lambda: [e for e in complete_lines() if "skiffd ready" in e["msg"]],
                       what="the ready line, complete")
    assert ready[0]["level"] == "info" and ready[0]["app_id"] == "order"


def test_listen_addresses_take_a_list_like_daprd(cluster):
    import socket
    from harness import free_port, wait_until
    if not socket.has_ipv6:
        import pytest
        pytest.skip("no IPv6 on this machine")
    port = free_port()
    p = cluster.start([SKIFFD, "--dapr-listen-addresses", "127.0.0.1,[::1]", "--dapr-http-port", port,
                       "--dapr-internal-grpc-port", free_port()], "listen-list")
    wait_until(lambda: "skiffd ready" in p.output(), what="skiffd ready")
    assert requests.get(f"http://127.0.0.1:{port}/v1.0/healthz", timeout=5).status_code == 204
    assert requests.get(f"http://[::1]:{port}/v1.0/healthz", timeout=5).status_code == 204
