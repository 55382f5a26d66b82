"""resolver-etcd against a real etcd-server (Debian's etcd-server) started by the test."""
import collections
import time

import pytest

from backends import Etcd
from harness import invoke_url, requests, wait_until

LEASE_TTL_S = 3


def etcd_config(etcd, **extra):
    lines = ["[resolver]", 'type = "etcd"', "[resolver.config]", f'endpoints = ["{etcd.endpoint}"]',
             f'lease_ttl = "{LEASE_TTL_S}s"', 'retry_interval = "200ms"']
    lines += [f"{k} = {v}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


@pytest.fixture
def etcd(tmp_path):
    server = Etcd(tmp_path).start()
    yield server
    server.stop()


def start_cart(cluster, etcd, name, **kwargs):
    app = cluster.app(name)
    return cluster.sidecar("cart", app_port=app.port, config=etcd_config(etcd), **kwargs)


def served_by(caller, n):
    """Makes n calls to cart and counts which app answered each; every call must succeed."""
    seen = collections.Counter()
    for _ in range(n):
        r = requests.get(invoke_url(caller, "cart", "echo"), timeout=10)
        assert r.status_code == 200, r.text
        seen[r.headers["X-App-Name"]] += 1
    return seen


def test_calls_spread_evenly_over_all_instances(cluster, etcd):
    for i in range(3):
        start_cart(cluster, etcd, f"cart-{i}")
    caller = cluster.sidecar("order", config=etcd_config(etcd))
    assert len(etcd.keys()) == 4
    seen = served_by(caller, 30)
    assert sorted(seen) == ["cart-0", "cart-1", "cart-2"]
    assert max(seen.values()) - min(seen.values()) <= 1, seen


def test_killed_sidecar_disappears_after_the_lease_and_calls_keep_succeeding(cluster, etcd):
    carts = [start_cart(cluster, etcd, f"cart-{i}") for i in range(3)]
    caller = cluster.sidecar("order", config=etcd_config(etcd))
    served_by(caller, 3)
    victim = carts[1]
    victim.kill()
    killed_at = time.monotonic()
    # No caller sees an error: the dead instance fails with a connection error, is evicted, and the
    # call is retried on another instance.
    seen = served_by(caller, 20)
    assert "cart-1" not in seen and len(seen) == 2
    key = f"/skiff/instances/default/cart/127.0.0.1:{victim.internal_port}"
    assert key in etcd.keys()
    wait_until(lambda: key not in etcd.keys(), timeout=LEASE_TTL_S + 5, what="lease expiry")
    assert time.monotonic() - killed_at >= LEASE_TTL_S - 1


def test_a_dead_instance_found_by_streamed_calls_fails_at_most_one(cluster, etcd):
    carts = [start_cart(cluster, etcd, f"cart-{i}") for i in range(2)]
    caller = cluster.sidecar("order", config=etcd_config(etcd))
    assert set(served_by(caller, 4)) == {"cart-0", "cart-1"}
    carts[0].kill()

    def chunked():
        yield b"sent "
        yield b"once"
    # Well inside the lease: only the caller's own report keeps the dead address out.
    answers = [requests.post(invoke_url(caller, "cart", "echo"), data=chunked(), timeout=10) for _ in range(10)]
    failed = [r.text for r in answers if r.status_code != 200]
    assert len(failed) <= 1, failed
    assert {r.headers["X-App-Name"] for r in answers if r.status_code == 200} == {"cart-1"}


def test_watch_adds_a_new_instance_without_a_lookup_miss(cluster, etcd):
    start_cart(cluster, etcd, "cart-0")
    caller = cluster.sidecar("order", config=etcd_config(etcd))
    assert set(served_by(caller, 4)) == {"cart-0"}
    start_cart(cluster, etcd, "cart-new")
    # The watch delivers the new key; the very next calls reach it, and none fails meanwhile.
    wait_until(lambda: "cart-new" in served_by(caller, 2), timeout=5, what="new instance called")


def test_graceful_stop_removes_the_key_at_once(cluster, etcd):
    cart = start_cart(cluster, etcd, "cart-0")
    assert any(k.endswith(f":{cart.internal_port}") for k in etcd.keys())
    assert cart.stop() == 0
    assert not any(k.endswith(f":{cart.internal_port}") for k in etcd.keys())


@pytest.mark.parametrize("line,key", [('lease_ttl = "1s"', "lease_ttl"), ("endpoints = []", "endpoints"),
                                      ('endpoints = ["nohostport"]', "endpoints"), ('prefix = "/x"', "prefix"),
                                      ("bogus = 1", "bogus")])
def test_bad_configuration_is_refused_naming_the_key(cluster, etcd, line, key):
    config = f'[resolver]\ntype = "etcd"\n[resolver.config]\n{line}\n'
    # Start-up and check mode refuse it alike, naming file, line and key.
    output, checked = cluster.refused("cart", config=config)
    for text in (output, checked):
        assert f"resolver.config.{key}" in text and ".toml:4:" in text, text


def test_etcd_down_at_start_then_back(cluster, tmp_path):
    etcd = Etcd(tmp_path)  # not started yet
    app = cluster.app("cart-0")
    cart = cluster.sidecar("cart", app_port=app.port, config=etcd_config(etcd))
    caller = cluster.sidecar("order", config=etcd_config(etcd))
    assert "not registered yet" in cart.output()
    r = requests.get(invoke_url(caller, "cart", "echo"), timeout=10)
    assert r.status_code == 500 and "cart" in r.json()["message"]
    etcd.start()
    try:
        wait_until(lambda: len(etcd.keys()) == 2, timeout=10, what="both sidecars registered")
        wait_until(lambda: requests.get(invoke_url(caller, "cart", "echo"), timeout=10).status_code == 200,
                   timeout=10, what="calls once etcd is back")
    finally:
        etcd.stop()


def test_etcd_down_during_operation_keeps_the_cache_and_recovers(cluster, etcd):
    cart = start_cart(cluster, etcd, "cart-0")
    caller = cluster.sidecar("order", config=etcd_config(etcd))
    served_by(caller, 2)
    etcd.stop()
    # Lookups answer from the cache while etcd is away.
    assert set(served_by(caller, 3)) == {"cart-0"}
    wait_until(lambda: "keep-alive stream broke" in cart.output() or "lease" in cart.output(), timeout=10,
               what="the sidecar notices etcd is gone")
    etcd.start()
    wait_until(lambda: any(k.endswith(f":{cart.internal_port}") for k in etcd.keys()), timeout=15,
               what="registration after etcd is back")
    served_by(caller, 2)
