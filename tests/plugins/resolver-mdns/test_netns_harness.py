"""The netns harness itself (tests/netns.py): two private hosts with their own dbus + avahi-daemon see each
other's mDNS services over a veth pair, nothing runs in the machine's network namespace, and teardown leaves
no namespace or process behind -- also when the test body fails."""
import os
from pathlib import Path

import pytest

from harness import free_port, port_open, wait_until
from netns import (NetnsLan, browse, in_root_netns, list_namespaces, missing_tools, netns_lan, pid_alive,  # noqa: F401
                   pids_named, unsupported_reason)

SERVICE = "_skifftest._tcp"

pytestmark = pytest.mark.skipif(bool(missing_tools(("avahi-publish", "avahi-browse", "avahi-resolve"))),
                                reason="needs avahi-utils (avahi-publish, avahi-browse, avahi-resolve)")


def cmdline(pid):
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def ours(tmp_path, comm):
    """Live processes named comm started for this test (their command line names a file under tmp_path)."""
    return [p for p in pids_named(comm) if str(tmp_path) in cmdline(p) and pid_alive(p)]


def our_namespaces():
    return [ns for ns in list_namespaces() if f"-{os.getpid()}-" in ns]


@pytest.fixture(autouse=True)
def nothing_left_behind(tmp_path):
    """Runs its teardown after netns_lan's: no namespace and no daemon of this test may survive it."""
    yield
    assert our_namespaces() == []
    assert ours(tmp_path, "avahi-daemon") == [] and ours(tmp_path, "dbus-daemon") == []


def probes(host):
    return [e for e in browse(host, SERVICE) if e["event"] == "=" and e["name"] == "probe"]


def test_a_service_published_on_a_is_seen_on_b_and_vanishes_with_its_publisher(netns_lan, tmp_path):
    a, b = netns_lan.hosts
    assert a.address == f"10.213.{netns_lan.subnet}.1" and b.address == f"10.213.{netns_lan.subnet}.2"

    # Both daemons are ours, each in its own host's network namespace, none in the machine's.
    daemons = ours(tmp_path, "avahi-daemon")
    assert sorted(daemons) == sorted([a.avahi.proc.pid, b.avahi.proc.pid])
    for h in (a, b):
        assert os.readlink(f"/proc/{h.avahi.proc.pid}/ns/net") == os.readlink(f"/proc/{h.holder.proc.pid}/ns/net")
    assert not [p for p in pids_named("avahi-daemon") if in_root_netns(p)]

    pub = a.spawn(["avahi-publish", "-s", "probe", SERVICE, "4242", "app-id=x"], tmp_path / "publish.log")
    seen = wait_until(lambda: [e for e in probes(b) if e["proto"] == "IPv4"], timeout=15, what="probe on host B")
    assert seen[0]["address"] == a.address
    assert seen[0]["port"] == 4242
    assert seen[0]["txt"] == ["app-id=x"]
    assert seen[0]["host"] == a.fqdn
    assert seen[0]["iface"] == "skiff0"
    assert "Established under name 'probe'" in pub.output()

    assert pub.stop() is not None
    wait_until(lambda: not probes(b), timeout=15, what="probe to vanish from host B")


def test_avahi_can_go_down_and_come_back(netns_lan):
    a, b = netns_lan.hosts
    assert b.run(["avahi-resolve", "-4", "-n", a.fqdn], timeout=10).stdout.split() == [a.fqdn, a.address]

    a.stop_avahi()
    assert not a.avahi_running()
    down = a.run(["avahi-browse", "-a", "-t", "-p"], timeout=10)  # the bus stays up, nothing re-activates avahi
    assert down.returncode != 0 and "Daemon not running" in down.stderr

    a.start_avahi()
    assert a.run(["avahi-browse", "-a", "-t", "-p"], timeout=10).returncode == 0
    wait_until(lambda: b.run(["avahi-resolve", "-4", "-n", a.fqdn], timeout=10).stdout.split() == [a.fqdn, a.address],
               timeout=15, what="host B to resolve host A again")


def test_sidecar_style_http_call_inside_a_host(netns_lan, tmp_path):
    a, b = netns_lan.hosts
    port = free_port()  # free in the machine's stack, so the check below means something
    server = a.spawn(["/usr/bin/python3", "-m", "http.server", "--bind", "0.0.0.0", str(port)], tmp_path / "http.log")
    fetch = ("import urllib.request as u; print(u.urlopen('http://{}:%d/', timeout=2).status)" % port)
    wait_until(lambda: a.python(fetch.format("127.0.0.1")).strip() == "200", timeout=10, what="http server in A")
    assert b.python(fetch.format(a.address)).strip() == "200"
    # The machine's loopback is a different stack: the server is not reachable from the test runner.
    assert not port_open(port)
    server.stop()


def test_close_removes_everything_even_when_the_body_fails(tmp_path):
    reason = unsupported_reason()
    if reason:
        pytest.skip(reason)
    stray_file = tmp_path / "stray.pid"
    with pytest.raises(RuntimeError, match="test body failed"):
        with NetnsLan(hosts=2, tmp_dir=tmp_path) as lan:
            names = list(lan.namespaces)
            a = lan.hosts[0]
            daemons = [h.avahi.proc.pid for h in lan] + [h.holder.proc.pid for h in lan]
            # A process that leaves a grandchild behind when it is stopped: found via `ip netns pids`.
            spawned = a.spawn(["sh", "-c", f"sleep 300 & echo $! > {stray_file}; exec sleep 301"], tmp_path / "s.log")
            stray = int(wait_until(lambda: stray_file.exists() and stray_file.read_text().strip(), timeout=5,
                                   what="stray pid"))
            raise RuntimeError("test body failed")
    assert lan.closed
    assert not [ns for ns in names if ns in list_namespaces()]
    assert not [p for p in daemons + [spawned.proc.pid, stray] if pid_alive(p)]
