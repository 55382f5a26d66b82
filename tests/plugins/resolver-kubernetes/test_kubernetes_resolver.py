"""resolver-kubernetes against a real dnsmasq serving headless-service style records on a loopback
port: SRV records for namespace prod, plain A records (several addresses, one port) for dev."""
import collections

import pytest

from backends import Dnsmasq
from harness import free_port, invoke_url, requests, wait_until

SVC = "svc.cluster.local"


def k8s_config(dns, namespace="default", internal_address=None, port=None, extra=""):
    lines = ["[app]", f'namespace = "{namespace}"']
    if internal_address:
        lines += ["[internal]", f'address = "{internal_address}"']
    lines += ["[resolver]", 'type = "kubernetes"', "[resolver.config]", f'nameservers = ["127.0.0.1:{dns.port}"]',
              'min_ttl = "200ms"']
    if port:
        lines.append(f"port = {port}")
    return "\n".join(lines) + "\n" + extra


@pytest.fixture
def dns(tmp_path):
    server = Dnsmasq(tmp_path)
    yield server
    server.stop()


def calls(caller, target, n):
    seen = collections.Counter()
    for _ in range(n):
        r = requests.get(invoke_url(caller, target, "echo"), timeout=10)
        assert r.status_code == 200, r.text
        seen[r.headers["X-App-Name"]] += 1
    return seen


def test_cross_namespace_calls_reach_each_namespaces_instances(cluster, dns):
    prod_port, dev_port = free_port(), free_port()
    dns.start([f"srv-host=_skiff-internal._tcp.cart-skiff.prod.{SVC},cart-0.prod.test,{prod_port}",
               "host-record=cart-0.prod.test,127.0.0.1",
               f"host-record=cart-skiff.dev.{SVC},127.0.0.2",
               f"host-record=cart-skiff.dev.{SVC},127.0.0.3"])
    prod_app = cluster.app("cart-prod")
    cluster.sidecar("cart", app_port=prod_app.port, internal_port=prod_port, config=k8s_config(dns, "prod"))
    for i, address in enumerate(("127.0.0.2", "127.0.0.3")):
        app = cluster.app(f"cart-dev-{i}")
        cluster.sidecar("cart", app_port=app.port, internal_port=dev_port,
                        config=k8s_config(dns, "dev", internal_address=address))
    caller = cluster.sidecar("order", config=k8s_config(dns, "prod", port=dev_port))

    assert calls(caller, "cart", 4) == {"cart-prod": 4}  # own namespace: prod
    assert calls(caller, "cart.prod", 2) == {"cart-prod": 2}
    dev = calls(caller, "cart.dev", 10)  # both A records, round robin
    assert dev == {"cart-dev-0": 5, "cart-dev-1": 5}
    assert f"query[SRV] _skiff-internal._tcp.cart-skiff.prod.{SVC}" in dns.process.output()


def test_unknown_app_is_a_clear_404_like_error(cluster, dns):
    dns.start([])
    caller = cluster.sidecar("order", config=k8s_config(dns))
    r = requests.get(invoke_url(caller, "nosuch", "echo"), timeout=10)
    assert r.status_code == 500
    assert r.json()["errorCode"] == "ERR_DIRECT_INVOKE" and "nosuch" in r.json()["message"]


def test_records_changing_are_picked_up_after_their_ttl(cluster, dns, tmp_path):
    port = free_port()
    dns.start([f"host-record=cart-skiff.default.{SVC},127.0.0.2"])
    for i, address in enumerate(("127.0.0.2", "127.0.0.3")):
        app = cluster.app(f"cart-{i}")
        cluster.sidecar("cart", app_port=app.port, internal_port=port, config=k8s_config(dns, internal_address=address))
    caller = cluster.sidecar("order", config=k8s_config(dns, port=port))
    assert calls(caller, "cart", 3) == {"cart-0": 3}
    dns.stop()
    dns.start([f"host-record=cart-skiff.default.{SVC},127.0.0.3"])
    wait_until(lambda: calls(caller, "cart", 1) == {"cart-1": 1}, timeout=10, what="new DNS answer used")


def test_dns_server_down_then_back(cluster, dns):
    port = free_port()
    app = cluster.app("cart-0")
    cluster.sidecar("cart", app_port=app.port, internal_port=port, config=k8s_config(dns, internal_address="127.0.0.2"))
    caller = cluster.sidecar("order", config=k8s_config(dns, port=port, extra='query_timeout = "300ms"\n'))
    r = requests.get(invoke_url(caller, "cart", "echo"), timeout=10)  # nothing listens on the DNS port
    assert r.status_code == 500 and "name resolution failed" in r.json()["message"], r.text
    # The log line is written by the logger's own thread: wait for it rather than race it.
    wait_until(lambda: "DNS lookup of cart-skiff.default.svc.cluster.local. failed" in caller.output(),
               what="the failed lookup in the log")
    dns.start([f"host-record=cart-skiff.default.{SVC},127.0.0.2"])
    wait_until(lambda: calls(caller, "cart", 1) == {"cart-0": 1}, timeout=10, what="calls once DNS is back")
    dns.stop()
    assert calls(caller, "cart", 3) == {"cart-0": 3}  # cached answers outlive a DNS outage


@pytest.mark.parametrize("line,key", [("port = 0", "port"), ('name_template = "x.svc"', "name_template"),
                                      ('nameservers = ["not an address"]', "nameservers"),
                                      ('address_family = "ipx"', "address_family"), ("oops = 1", "oops")])
def test_bad_configuration_is_refused_naming_the_key(cluster, line, key):
    config = f'[resolver]\ntype = "kubernetes"\n[resolver.config]\n{line}\n'
    # Start-up and check mode refuse it alike, naming file, line and key.
    output, checked = cluster.refused("cart", config=config)
    for text in (output, checked):
        assert f"resolver.config.{key}" in text and ".toml:4:" in text, text
