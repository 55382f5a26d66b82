"""`skiff invoke`, `skiff plugins list`, `skiff config check` and `skiffd --check-config`."""
import os
import subprocess

from harness import BROKEN_PLUGINS, PLUGIN_PATH, SKIFF, SKIFFD, requests

# Check mode loads the configured plugins: the build tree's, as for a sidecar of the tests.
PLUGIN_ENV = dict(os.environ, SKIFF_PLUGIN_PATH=PLUGIN_PATH)


def run(args, env=None, timeout=30):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, env=env or PLUGIN_ENV,
                          timeout=timeout)


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
        output, checked = cluster.refused("order", config=f'[resolver]\ntype = "{kind}"\n', env=env)
        assert message in output, output
        # Check mode creates a plugin that has no check_config of its own, so it fails alike.
        assert message in checked, checked
        # No skiff-resolver-<kind>.so exists: skiffd loaded every plugin to find the type, and
        # says which ones it refused.
        assert "refused" in output, output


def test_plugin_config_errors_name_the_key(cluster):
    for config, message in [('[resolver.config]\nttl = "soon"\n', ":2:7: resolver.config.ttl"),
                            ('[transport.config]\nspeed = 1\n', ":2:9: transport.config.speed: unknown key"),
                            ('[transport]\ntype = "grpc"\n[transport.config]\nkeepalive_time = "10ms"\n',
                             ":4:18: transport.config.keepalive_time: must be at least 1s"),
                            ('[app]\nid = "a"\n[resolver]\ntype = "bogus"\n',
                             ":4:8: resolver.type: no resolver plugin provides type 'bogus'"),
                            ('[transport]\ntype = "carrier-pigeon"\n',
                             ":2:8: transport.type: no transport plugin provides type 'carrier-pigeon'")]:
        output, checked = cluster.refused("order", config=config)
        assert message in output, output
        assert message in checked, checked


def test_check_mode_starts_nothing(cluster, tmp_path):
    db = tmp_path / "never-created" / "names.db"
    config = f'[resolver.config]\npath = "{db}"\n'
    r = cluster.check_config(config, ["--app-id", "cart", "--dapr-http-port", "1"])
    assert r.returncode == 0, r.stderr
    assert "configuration OK" in r.stdout
    assert not db.parent.exists()  # the resolver was checked, not opened


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
    assert "ignoring daprd flag --enable-metrics" not in out  # a real flag now, as --metrics-port
    assert "serving metrics at" in out
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


def test_an_app_that_dials_localhost_over_ipv6_reaches_its_sidecar(order_cart):
    """The default listen list is daprd's, both loopbacks: apps whose `localhost` is ::1 first."""
    order, _ = order_cart
    r = requests.post(f"http://[::1]:{order.http_port}/v1.0/invoke/cart/method/echo", data=b"over ::1", timeout=10)
    assert r.status_code == 200 and r.text == "over ::1"
    assert requests.get(f"http://127.0.0.1:{order.http_port}/v1.0/healthz", timeout=5).status_code == 204


def test_bad_listen_addresses_are_refused_naming_the_key(cluster):
    for config, message in [('[api]\nlisten_addresses = "127.0.0.1,nowhere"\n',
                             ':2:20: api.listen_addresses: "nowhere" is not an IP address'),
                            ('[api]\ngrpc_address = ""\nhttp_address = ","\n',
                             ":3:16: api.http_address: no address given")]:
        output, checked = cluster.refused("order", config=config, exit_code=2)
        assert message in output, output
        assert message in checked, checked
    output, checked = cluster.refused("order", extra=["--dapr-listen-addresses", "[::1"], exit_code=2)
    assert '--dapr-listen-addresses: api.listen_addresses: "[::1" is not an IP address' in checked, checked


def test_without_an_ipv6_loopback_the_default_list_still_starts(cluster, tmp_path):
    """In a network namespace whose loopback has IPv6 turned off, [::1] cannot be bound: the default
    list goes on with 127.0.0.1 and says so; an explicit [::1] is an error."""
    import shutil
    import subprocess
    from harness import free_port, wait_until
    if shutil.which("unshare") is None:
        import pytest
        pytest.skip("unshare is not installed")
    script = ("ip link set lo up && sysctl -qw net.ipv6.conf.lo.disable_ipv6=1 && "
              f'exec "$@"')
    base = ["unshare", "-n", "sh", "-c", script, "sh", str(SKIFFD), "--dapr-http-port", str(free_port()),
            "--dapr-grpc-port", str(free_port()), "--dapr-internal-grpc-port", str(free_port()),
            "--config", str(tmp_path / "none.toml")]
    (tmp_path / "none.toml").write_text("")
    p = cluster.start(base, "no-ipv6")
    wait_until(lambda: "skiffd ready" in p.output() or not p.running(), what="skiffd ready without IPv6")
    assert p.running(), p.output()
    assert "HTTP API: not listening on [::1]" in p.output(), p.output()
    assert "gRPC API: not listening on [::1]" in p.output(), p.output()
    strict = subprocess.run(base + ["--dapr-listen-addresses", "[::1],127.0.0.1"], capture_output=True, text=True,
                            timeout=30, env=cluster.env)
    assert strict.returncode == 1, strict.stdout + strict.stderr
    assert "cannot listen on [::1]" in strict.stdout + strict.stderr
