"""resolver-consul against the Consul HTTP API test double (tests/doubles/consul_double.py): Consul
is not packaged for Debian, so the double implements the endpoints the plugin uses with Consul's
documented semantics (X-Consul-Index, blocking queries, ?passing, HTTP health checks)."""
import collections
import time
import signal

import pytest

from consul_fixture import ConsulDouble
from harness import invoke_url, requests, wait_until

TOKEN = "s3cr3t-token"


def consul_config(consul, token=TOKEN, extra=""):
    return ("[resolver]\ntype = \"consul\"\n[resolver.config]\n"
            f'address = "127.0.0.1:{consul.port}"\n'
            + (f'token = "{token}"\n' if token else "")
            + 'check_interval = "200ms"\ncheck_timeout = "500ms"\nretry_interval = "200ms"\n'
              'registration_check_interval = "300ms"\nwatch_wait = "10s"\n' + extra)


@pytest.fixture
def consul(tmp_path):
    double = ConsulDouble(tmp_path, acl_token=TOKEN).start()
    yield double
    double.stop()


def start_cart(cluster, consul, name):
    app = cluster.app(name)
    return cluster.sidecar("cart", app_port=app.port, config=consul_config(consul))


def passing(consul, name="cart"):
    return consul.services(name, passing=True)


def calls(caller, n, target="cart"):
    seen = collections.Counter()
    for _ in range(n):
        r = requests.get(invoke_url(caller, target, "echo"), timeout=10)
        assert r.status_code == 200, r.text
        seen[r.headers["X-App-Name"]] += 1
    return seen


def test_registers_with_a_health_check_and_resolves_passing_instances(cluster, consul):
    carts = [start_cart(cluster, consul, f"cart-{i}") for i in range(2)]
    wait_until(lambda: len(passing(consul)) == 2, what="both instances passing")
    entry = passing(consul)[0]
    assert entry["Service"]["Meta"]["SKIFF_NAMESPACE"] == "default"
    ports = sorted(int(e["Service"]["Meta"]["SKIFF_PORT"]) for e in passing(consul))
    assert ports == sorted(c.internal_port for c in carts)
    checks = consul.get("/v1/agent/checks").json()
    assert all(c["Status"] == "passing" for c in checks.values())
    caller = cluster.sidecar("order", config=consul_config(consul))
    seen = calls(caller, 10)
    assert seen == {"cart-0": 5, "cart-1": 5}


def test_critical_health_removes_the_instance_through_the_blocking_query(cluster, consul):
    carts = [start_cart(cluster, consul, f"cart-{i}") for i in range(2)]
    wait_until(lambda: len(passing(consul)) == 2, what="both passing")
    caller = cluster.sidecar("order", config=consul_config(consul))
    assert len(calls(caller, 4)) == 2
    # A frozen sidecar stops answering its health check: Consul marks it critical and the
    # caller's blocking query hears of it; no call goes to the frozen instance after that.
    carts[1].proc.send_signal(signal.SIGSTOP)
    try:
        wait_until(lambda: len(passing(consul)) == 1, timeout=10, what="instance critical")
        wait_until(lambda: calls(caller, 4) == {"cart-0": 4}, timeout=5, what="only the passing instance called")
    finally:
        carts[1].proc.send_signal(signal.SIGCONT)
    wait_until(lambda: len(passing(consul)) == 2, timeout=10, what="passing again")
    wait_until(lambda: len(calls(caller, 4)) == 2, timeout=5, what="both called again")


def test_blocking_query_adds_a_new_instance(cluster, consul):
    start_cart(cluster, consul, "cart-0")
    wait_until(lambda: len(passing(consul)) == 1, what="first passing")
    caller = cluster.sidecar("order", config=consul_config(consul))
    assert calls(caller, 2) == {"cart-0": 2}
    start_cart(cluster, consul, "cart-1")
    wait_until(lambda: "cart-1" in calls(caller, 2), timeout=10, what="new instance called")


def test_graceful_stop_deregisters(cluster, consul):
    cart = start_cart(cluster, consul, "cart-0")
    wait_until(lambda: len(consul.services("cart", passing=False)) == 1, what="registered")
    assert cart.stop() == 0
    assert consul.services("cart", passing=False) == []


def test_wrong_acl_token_fails_start_up_clearly(cluster, consul):
    app = cluster.app("cart-0")
    p = cluster.sidecar("cart", app_port=app.port, config=consul_config(consul, token="wrong"), wait_ready=False)
    assert p.proc.wait(timeout=10) != 0
    assert "Consul registration refused: HTTP 403: ACL not found" in p.output()


def test_consul_down_at_start_then_back_and_restarted(cluster, tmp_path):
    consul = ConsulDouble(tmp_path, acl_token=TOKEN)
    consul.port = __import__("harness").free_port()  # not started yet
    cart = start_cart(cluster, consul, "cart-0")
    assert "not registered yet" in cart.output()
    caller = cluster.sidecar("order", config=consul_config(consul))
    r = requests.get(invoke_url(caller, "cart", "echo"), timeout=10)
    assert r.status_code == 500 and "cart" in r.json()["message"]
    consul.start()
    try:
        wait_until(lambda: len(passing(consul)) == 1, timeout=10, what="registered once Consul is up")
        wait_until(lambda: requests.get(invoke_url(caller, "cart", "echo"), timeout=10).status_code == 200,
                   timeout=10, what="calls once Consul is up")
        # An agent restart loses registrations: the sidecar notices and registers again, and
        # calls keep working from the cache meanwhile.
        consul.stop()
        wait_until(lambda: "Consul health query for cart failed" in caller.output(), what="outage noticed")
        # Keep calling for several retry intervals: the cache must outlive repeated failed queries.
        until = time.monotonic() + 1.0
        while time.monotonic() < until:
            assert calls(caller, 1) == {"cart-0": 1}
        consul.start()
        wait_until(lambda: len(passing(consul)) == 1, timeout=10, what="registered again after restart")
        assert calls(caller, 2) == {"cart-0": 2}
    finally:
        consul.stop()


@pytest.mark.parametrize("line,key", [('address = "nohostport"', "address"), ('check_interval = "1ms"', "check_interval"),
                                      ('watch_wait = "20m"', "watch_wait"), ("tags = 3", "tags"),
                                      ("self_register = \"yes\"", "self_register"), ("nope = 1", "nope")])
def test_bad_configuration_is_refused_naming_the_key(cluster, line, key):
    config = f'[resolver]\ntype = "consul"\n[resolver.config]\n{line}\n'
    # Start-up and check mode refuse it alike, naming file, line and key.
    output, checked = cluster.refused("cart", config=config)
    for text in (output, checked):
        assert f"resolver.config.{key}" in text and ".toml:4:" in text, text
