"""resolver-mdns with real avahi-daemons: two private hosts (network namespaces joined by a veth
pair, each with its own dbus and avahi-daemon; see tests/netns.py), so multicast never reaches the
machine's interfaces. Host A runs the caller and two cart instances, host B the third."""
import json
import os
import re
import signal
import time

import pytest

from harness import BUILD, PLUGIN_PATH, SAMPLE_APP, SKIFFD, wait_until
from netns import netns_lan  # noqa: F401

CALLS = r"""
import json, sys, urllib.request, urllib.error
port, n = int(sys.argv[1]), int(sys.argv[2])
out = []
for _ in range(n):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1.0/invoke/cart/method/echo", timeout=10) as r:
            out.append(r.headers["X-App-Name"])
    except urllib.error.HTTPError as e:
        out.append(f"error {e.code}: {e.read().decode(errors='replace')}")
    except Exception as e:
        out.append(f"error {e!r}")
print(json.dumps(out))
"""

MDNS_CONFIG = """[internal]
address = "0.0.0.0"
[resolver]
type = "mdns"
[resolver.config]
address_family = "ipv4"
"""


class Node:
    """Starts sample apps and sidecars inside one netns host, on fixed ports (each host has its own
    loopback, so ports only need to be unique per host)."""

    def __init__(self, host, tmp_path):
        self.host, self.tmp = host, tmp_path
        self.env = dict(os.environ, SKIFF_PLUGIN_PATH=PLUGIN_PATH, XDG_STATE_HOME=str(tmp_path / host.name))
        self.env.pop("DAPR_HTTP_PORT", None)

    def app(self, name, port):
        p = self.host.spawn([SAMPLE_APP, "--port", port, "--name", name], self.tmp / f"{self.host.name}-{name}.log")
        wait_until(lambda: self.host.run(["/usr/bin/python3", "-c", f"import socket; socket.create_connection(('127.0.0.1', {port}), 1)"]).returncode == 0,
                   what=f"app {name}")
        return p

    def sidecar(self, app_id, http_port, internal_port, app_port=None, extra=(), wait_ready=True):
        cfg = self.tmp / f"{self.host.name}-{http_port}.toml"
        # The hosts are separate machines to the sidecars, so they share one CA (as across real
        # machines a CA service or distributed CA files would provide) rather than each its own.
        cfg.write_text(MDNS_CONFIG + f'[security]\nca_dir = "{self.tmp / "shared-ca"}"\n')
        args = [SKIFFD, "--app-id", app_id, "--dapr-http-port", http_port, "--dapr-internal-grpc-port", internal_port,
                "--config", cfg, *extra]
        if app_port:
            args += ["--app-port", app_port]
        p = self.host.spawn(args, self.tmp / f"{self.host.name}-skiffd-{http_port}.log", env=self.env)
        p.http_port, p.internal_port = http_port, internal_port
        if wait_ready:
            wait_until(lambda: "skiffd ready" in p.output() or not p.running(), what=f"skiffd {app_id}")
            assert p.running(), p.output()
        return p

    def calls(self, caller, n):
        return json.loads(self.host.python(CALLS.replace("sys.argv[1]", str(caller.http_port))
                                           .replace("sys.argv[2]", str(n)), timeout=120))


def published(sidecar):
    return "published \"cart@default" in sidecar.output()


@pytest.fixture
def lan(netns_lan, tmp_path):
    a, b = netns_lan.hosts
    return Node(a, tmp_path), Node(b, tmp_path)


def three_carts(lan):
    a, b = lan
    carts = []
    for i, node in enumerate((a, a, b)):
        node.app(f"cart-{i}", 7000 + i)
        carts.append(node.sidecar("cart", 3500 + i, 50100 + i, app_port=7000 + i))
    caller = a.sidecar("order", 3600, 50200, extra=["--log-level", "debug"])
    for c in carts:
        wait_until(lambda: published(c), what="cart published")
    return carts, caller


def test_calls_reach_all_three_instances_evenly(lan):
    carts, caller = three_carts(lan)
    a, _ = lan
    wait_until(lambda: len(set(a.calls(caller, 3))) == 3, timeout=10, what="all instances seen")
    seen = a.calls(caller, 30)
    assert sorted(set(seen)) == ["cart-0", "cart-1", "cart-2"], seen
    assert all(seen.count(n) == 10 for n in ("cart-0", "cart-1", "cart-2")), seen


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL])
def test_a_stopped_instance_costs_the_caller_no_error(lan, sig):
    carts, caller = three_carts(lan)
    a, _ = lan
    wait_until(lambda: len(set(a.calls(caller, 3))) == 3, timeout=10, what="all instances seen")
    carts[2].stop(sig)  # on host B
    seen = a.calls(caller, 30)
    assert not [s for s in seen if s.startswith("error")], seen
    assert set(seen) == {"cart-0", "cart-1"}
    retries = re.findall(r"unreachable, retrying \((\d+)/", caller.output())
    assert all(r == "1" for r in retries), retries  # at most one retry per call


def test_a_restarted_instance_on_a_new_port_is_used_at_once_and_the_old_one_never_again(lan):
    carts, caller = three_carts(lan)
    a, b = lan
    wait_until(lambda: len(set(a.calls(caller, 3))) == 3, timeout=10, what="all instances seen")
    carts[2].stop()
    started = time.monotonic()
    restarted = b.sidecar("cart", 3502, 50150, app_port=7002)
    wait_until(lambda: "cart-2" in a.calls(caller, 3), timeout=10, what="restarted instance called")
    first_call_s = time.monotonic() - started
    mark = len(caller.output())
    seen = a.calls(caller, 30)
    assert seen.count("cart-2") == 10 and not [s for s in seen if s.startswith("error")], seen
    assert f":{carts[2].internal_port}" not in caller.output()[mark:]
    assert restarted.running()
    print(f"mDNS: restarted instance first called {first_call_s:.2f}s after its start")


def test_avahi_down_at_start_then_back(lan):
    a, b = lan
    b.host.stop_avahi()
    b.app("cart-2", 7002)
    cart = b.sidecar("cart", 3502, 50102, app_port=7002)
    assert "avahi-daemon is not running" in cart.output()
    caller = b.sidecar("order", 3600, 50200)
    assert b.calls(caller, 1)[0].startswith("error 500")
    b.host.start_avahi()
    wait_until(lambda: published(cart), timeout=15, what="published once avahi is back")
    wait_until(lambda: b.calls(caller, 1) == ["cart-2"], timeout=10, what="calls once avahi is back")
    # And from the other host, over multicast:
    remote = a.sidecar("order", 3600, 50200)
    wait_until(lambda: a.calls(remote, 1) == ["cart-2"], timeout=10, what="call from host A")


def test_avahi_lost_during_operation_keeps_the_cache_and_recovers(lan):
    carts, caller = three_carts(lan)
    a, _ = lan
    wait_until(lambda: len(set(a.calls(caller, 3))) == 3, timeout=10, what="all instances seen")
    a.host.stop_avahi()
    wait_until(lambda: "lost avahi-daemon" in caller.output(), what="loss noticed")
    assert len(set(a.calls(caller, 6))) == 3  # the last known instances keep serving
    a.host.start_avahi()
    wait_until(lambda: caller.output().count("connected to avahi-daemon") >= 2, timeout=15, what="reconnected")
    wait_until(lambda: len(set(a.calls(caller, 6))) == 3, timeout=15, what="all instances after recovery")


@pytest.mark.parametrize("line,key", [('service_type = "skiff"', "service_type"), ('address_family = "v5"', "address_family"),
                                      ('lookup_wait = "1h"', "lookup_wait"), ("other = 1", "other")])
def test_bad_configuration_is_refused_naming_the_key(cluster, line, key):
    config = f'[resolver]\ntype = "mdns"\n[resolver.config]\n{line}\n'
    # Start-up and check mode refuse it alike, naming file, line and key.
    output, checked = cluster.refused("cart", config=config)
    for text in (output, checked):
        assert f"resolver.config.{key}" in text and ".toml:4:" in text, text
