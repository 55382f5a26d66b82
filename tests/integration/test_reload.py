"""Configuration reload (SIGHUP, what `systemctl reload` sends): access-control policies, HTTP
endpoints, the API token and API logging change for the calls that start afterwards, under load
and without a failed call; what a reload cannot change is named and kept; a broken configuration
is refused with its error and the one in force stays."""
import json
import os
import signal
import subprocess
import threading

from harness import BUILD, invoke_url, requests, wait_until

LOADGEN = BUILD / "bench" / "skiff-loadgen"

POLICY = """
[access_control]
default_action = "deny"
[[access_control.policies]]
app_id = "order"
default_action = "deny"
[[access_control.policies.operations]]
name = "/echo"
http_verbs = ["*"]
action = "allow"
[[access_control.policies.operations]]
name = "/sleep/*"
http_verbs = ["*"]
action = "allow"
[[access_control.policies.operations]]
name = "/orders/*"
http_verbs = ["GET"]
action = "{orders}"
"""


def write(path, text):
    """Replaces the file whole, as an editor's save or a configuration manager does."""
    tmp = path.with_suffix(".new")
    tmp.write_text(text)
    os.replace(tmp, path)


def config_path(sidecar):
    return sidecar.cluster.tmp / f"skiff-{sidecar.http_port}.toml"


def reload(sidecar, text, outcome="configuration reloaded"):
    """Writes the sidecar's file, sends SIGHUP and waits for the reload's verdict in its log."""
    write(config_path(sidecar), text)
    seen = sidecar.output().count(outcome)
    sidecar.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: sidecar.output().count(outcome) > seen or not sidecar.running(),
               what=f"'{outcome}' after SIGHUP")
    assert sidecar.running(), sidecar.output()
    return sidecar.output()


def orders_status(order):
    return requests.get(invoke_url(order, "cart", "orders/1"), timeout=10).status_code


def test_reloads_under_load_change_policies_and_endpoints_without_a_failed_call(cluster):
    app = cluster.app("cart")
    cart = cluster.sidecar("cart", app_port=app.port, config=POLICY.format(orders="allow"))
    order = cluster.sidecar("order", config="[log]\nlevel = \"info\"\n")
    assert orders_status(order) == 200

    # A call in flight across every reload below: it finishes on what it started with.
    slow = {}
    slow_call = threading.Thread(target=lambda: slow.update(
        r=requests.get(invoke_url(order, "cart", "sleep/3000"), timeout=30)))
    slow_call.start()
    load = subprocess.Popen([str(LOADGEN), "--port", str(order.http_port), "--path",
                             "/v1.0/invoke/cart/method/echo", "--method", "POST", "--body-size", "256",
                             "-r", "1000", "-d", "6", "--warmup", "0.5", "-c", "16"],
                            stdout=subprocess.PIPE, text=True)
    try:
        # The callee's policy, both ways, then back.
        reload(cart, POLICY.format(orders="deny"))
        assert orders_status(order) == 403
        reload(cart, POLICY.format(orders="allow"))
        assert orders_status(order) == 200
        # Broken files are refused and change nothing, on either side.
        out = reload(cart, "[access_control\n", "configuration reload refused")
        assert "configuration reload refused, the configuration in force stays" in out
        assert orders_status(order) == 200
        out = reload(cart, POLICY.format(orders="maybe"), "configuration reload refused")
        assert "action: expected" in out.split("configuration reload refused")[-1]
        assert orders_status(order) == 200
        # The caller's named HTTP endpoints: one added, then its URL changed.
        reload(order, f'[[http_endpoints]]\nname = "shop"\nbase_url = "http://127.0.0.1:{app.port}"\n')
        r = requests.post(invoke_url(order, "shop", "echo"), data=b"via endpoint", timeout=10)
        assert r.status_code == 200 and r.text == "via endpoint"
        out = reload(order, '[[http_endpoints]]\nname = "shop"\nbase_url = "http://127.0.0.1:1"\n')
        assert "applied http_endpoints" in out
        assert requests.post(invoke_url(order, "shop", "echo"), data=b"x", timeout=10).status_code == 500
        # What a reload cannot change is named in the log and kept as it was.
        out = reload(order, '[runtime]\nthreads = 2\n[app]\ntimeout = "5s"\n')
        kept = out.splitlines()[-1]
        assert "runtime.threads" in kept and "app.timeout" in kept and "until a restart" in kept
        assert load.poll() is None, "every reload above ran while the load did"
    finally:
        measured, _ = load.communicate(timeout=60)
        slow_call.join(timeout=30)
    result = json.loads(measured)
    assert result["errors"] == 0 and result["non_2xx"] == 0, result
    assert result["requests"] >= 5900, result  # 1000/s for 6 s: none refused or lost
    assert slow["r"].status_code == 200, slow["r"].text


def test_a_refused_reload_keeps_every_key_in_force(cluster, tmp_path):
    app = cluster.app("cart")
    cart = cluster.sidecar("cart", app_port=app.port, config='[api]\ntoken = "old-token"\n')
    token = {"dapr-api-token": "old-token"}
    assert requests.get(f"{cart.url}/v1.0/metadata", headers=token, timeout=5).status_code == 200
    for broken, error in [
        ('[api]\ntoken = "new-token"\nbogus = 1\n', "bogus"),                      # unknown key
        ('[api]\ntoken = "new-token"\n[resolver]\ntype = "nosuch"\n', "nosuch"),   # no such plugin
        ('[api]\ntoken = "new-token"\n[[http_endpoints]]\nname = "x"\nbase_url = "https://h"\n'
         f'ca_file = "{tmp_path}/missing.pem"\n', "missing.pem"),                  # TLS file missing
        ('[api]\ntoken = "new-token"\n[security]\nmtls = false\n' + POLICY.format(orders="allow"),
         "access_control"),                                                     # policy without mTLS
    ]:
        out = reload(cart, broken, "configuration reload refused")
        assert error in out.splitlines()[-1], out.splitlines()[-1]
        assert requests.get(f"{cart.url}/v1.0/metadata", headers=token, timeout=5).status_code == 200
    # A good file after the broken ones is applied.
    out = reload(cart, '[api]\ntoken = "new-token"\n')
    assert "applied api.token" in out
    assert requests.get(f"{cart.url}/v1.0/metadata", headers=token, timeout=5).status_code == 401
    new = {"dapr-api-token": "new-token"}
    assert requests.get(f"{cart.url}/v1.0/metadata", headers=new, timeout=5).status_code == 200


def test_api_logging_and_the_log_level_follow_a_reload(cluster):
    app = cluster.app("cart")
    cart = cluster.sidecar("cart", app_port=app.port, config="[log]\napi_calls = false\n")
    order = cluster.sidecar("order", config="[log]\napi_calls = false\n")
    assert requests.post(invoke_url(order, "cart", "echo"), data=b"1", timeout=10).status_code == 200
    assert "/v1.0/invoke/cart/method/echo" not in order.output()
    reload(order, "[log]\napi_calls = true\n")
    assert requests.post(invoke_url(order, "cart", "echo"), data=b"2", timeout=10).status_code == 200
    wait_until(lambda: "POST /v1.0/invoke/cart/method/echo" in order.output(), what="the API log line")
    # At "error", a reload's own info line is no longer written; the error of a refused one is.
    reload(order, '[log]\nlevel = "error"\napi_calls = true\n')
    seen = len(order.output())
    reload(order, "[log\n", "configuration reload refused")
    assert "reloading the configuration" not in order.output()[seen:]


def test_metadata_lists_the_reloaded_http_endpoints(cluster):
    order = cluster.sidecar("order", config='[[http_endpoints]]\nname = "a"\nbase_url = "http://127.0.0.1:1"\n')
    names = lambda: [e["name"] for e in requests.get(f"{order.url}/v1.0/metadata", timeout=5).json()["httpEndpoints"]]
    assert names() == ["a"]
    reload(order, '[[http_endpoints]]\nname = "b"\nbase_url = "http://127.0.0.1:1"\n')
    assert names() == ["b"]


def test_reload_is_told_to_the_service_manager(cluster, tmp_path):
    import socket
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind(str(tmp_path / "notify"))
        s.settimeout(15)
        order = cluster.sidecar("order", config="# nothing set\n", env=dict(cluster.env, NOTIFY_SOCKET=str(tmp_path / "notify")))
        assert "READY=1" in s.recv(4096).decode()
        order.proc.send_signal(signal.SIGHUP)
        reloading = s.recv(4096).decode().split("\n")
        assert "RELOADING=1" in reloading and any(l.startswith("MONOTONIC_USEC=") for l in reloading)
        assert "READY=1" in s.recv(4096).decode().split("\n")
        # A refused reload is ended for the manager too: the unit stays active.
        write(config_path(order), "[broken\n")
        order.proc.send_signal(signal.SIGHUP)
        assert "RELOADING=1" in s.recv(4096).decode()
        ready = s.recv(4096).decode()
        assert "READY=1" in ready and "refused" in ready


def registered(db):
    """The app ids the SQLite resolver's file holds, sorted."""
    import contextlib
    import sqlite3
    if not db.exists():
        return []
    with contextlib.closing(sqlite3.connect(db)) as c:
        return sorted(r[0] for r in c.execute("SELECT app_id FROM hosts"))


def test_a_new_resolver_table_moves_the_sidecar_without_a_failed_call(cluster):
    one, two = cluster.tmp / "one.db", cluster.tmp / "two.db"
    at = lambda db: f'[resolver.config]\npath = "{db}"\n'
    # Two instances of cart, each known to one registry only; the apps say which one answered.
    app_one, app_two = cluster.app("cart-one"), cluster.app("cart-two")
    cluster.sidecar("cart", app_port=app_one.port, config=at(one))
    cluster.sidecar("cart", app_port=app_two.port, config=at(two))
    order = cluster.sidecar("order", config=at(one) + '[log]\nlevel = "info"\n')
    answered = lambda: requests.post(invoke_url(order, "cart", "echo"), data=b"x", timeout=10).headers["X-App-Name"]
    assert answered() == "cart-one"
    assert registered(one) == ["cart", "order"] and registered(two) == ["cart"]
    load = subprocess.Popen([str(LOADGEN), "--port", str(order.http_port), "--path",
                             "/v1.0/invoke/cart/method/echo", "--method", "POST", "--body-size", "64",
                             "-r", "1000", "-d", "3", "--warmup", "0.5", "-c", "16"],
                            stdout=subprocess.PIPE, text=True)
    try:
        out = reload(order, at(two) + '[log]\nlevel = "info"\n')
        assert "applied resolver.config" in out.splitlines()[-1], out.splitlines()[-1]
        # Left the old registry, joined the new one, and resolves from it.
        assert registered(one) == ["cart"] and registered(two) == ["cart", "order"]
        assert answered() == "cart-two"
        assert load.poll() is None, "the reload ran while the load did"
    finally:
        measured, _ = load.communicate(timeout=60)
    result = json.loads(measured)
    assert result["errors"] == 0 and result["non_2xx"] == 0, result
    assert result["requests"] >= 2900, result
    meta = requests.get(f"{order.url}/v1.0/metadata", timeout=5).json()
    assert [c["type"] for c in meta["components"]][0] == "resolver.sqlite"


def test_a_resolver_that_cannot_start_is_refused_and_the_old_one_stays(cluster, tmp_path):
    db = tmp_path / "in-force.db"
    at = lambda path: f'[resolver.config]\npath = "{path}"\n'
    app = cluster.app("cart")
    cluster.sidecar("cart", app_port=app.port, config=at(db))
    order = cluster.sidecar("order", config=at(db))
    for broken, error in [(at(db) + "bogus = 1\n", "bogus"),                     # the plugin's own check
                          (at("/proc/no-such-dir/r.db"), "/proc/no-such-dir")]:  # cannot open its file
        out = reload(order, broken, "configuration reload refused")
        assert error in out.split("configuration reload refused")[-1], out
        assert registered(db) == ["cart", "order"]
        assert requests.post(invoke_url(order, "cart", "echo"), data=b"x", timeout=10).status_code == 200
