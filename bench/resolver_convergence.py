#!/usr/bin/env python3
"""How fast each resolver follows instances coming and going, measured with real sidecars on
loopback: a caller calls `cart` in a loop while an instance is started (time from the sidecar's
start to the first call it serves) and then killed with SIGKILL (time from the kill to the last
call that hit the dead instance, read from the caller's retry log lines).

Usage: bench/resolver_convergence.py [sqlite|etcd|consul] ...   (build tree: SKIFF_BUILD_DIR or build/)
mDNS is measured by tests/plugins/resolver-mdns (it needs network namespaces).
"""
import datetime
import signal
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from backends import Etcd  # noqa: E402
from consul_fixture import ConsulDouble  # noqa: E402
from harness import Cluster, invoke_url, requests, wait_until  # noqa: E402


def config_for(kind, backend):
    if kind == "sqlite":
        return None
    if kind == "etcd":
        return f'[resolver]\ntype = "etcd"\n[resolver.config]\nendpoints = ["{backend.endpoint}"]\nlease_ttl = "5s"\n'
    return (f'[resolver]\ntype = "consul"\n[resolver.config]\naddress = "127.0.0.1:{backend.port}"\n'
            'check_interval = "1s"\n')


def measure(kind, tmp):
    backend = None
    if kind == "etcd":
        backend = Etcd(tmp).start()
    elif kind == "consul":
        backend = ConsulDouble(tmp).start()
    cluster = Cluster(tmp)
    try:
        cfg = config_for(kind, backend)
        base_app = cluster.app("cart-0")
        cluster.sidecar("cart", app_port=base_app.port, config=cfg)
        caller = cluster.sidecar("order", config=cfg, extra=["--log-level", "debug"])
        url = invoke_url(caller, "cart", "echo")
        wait_until(lambda: requests.get(url, timeout=5).status_code == 200, timeout=15, what="first instance")
        session = requests.Session()
        new_app = cluster.app("cart-new")
        started = time.monotonic()
        new = cluster.sidecar("cart", app_port=new_app.port, config=cfg, wait_ready=False)
        first_call = None
        deadline = started + 30
        while time.monotonic() < deadline:
            r = session.get(url, timeout=5)
            if r.headers.get("X-App-Name") == "cart-new":
                first_call = time.monotonic() - started
                break
        killed_wall = datetime.datetime.now()
        new.proc.send_signal(signal.SIGKILL)
        new.proc.wait()
        errors, end = 0, time.monotonic() + 3
        while time.monotonic() < end:
            errors += session.get(url, timeout=5).status_code != 200
        last_failed = None
        dead = f"127.0.0.1:{new.internal_port}"
        for line in caller.output().splitlines():
            if f"sidecar {dead} of cart unreachable" in line:
                stamp = datetime.datetime.fromisoformat(line.split(" ")[0])
                last_failed = (stamp - killed_wall).total_seconds()
        return first_call, last_failed, errors
    finally:
        cluster.stop_all()
        if backend:
            backend.stop()


def main(kinds):
    print(f"{'resolver':10} {'start→first call':>18} {'kill→last failed attempt':>26} {'errors seen by caller':>22}")
    for kind in kinds:
        with tempfile.TemporaryDirectory() as tmp:
            first, last, errors = measure(kind, tmp)
            last_s = f"{last * 1000:.0f} ms" if last is not None else "no attempt hit it"
            print(f"{kind:10} {first * 1000:>15.0f} ms {last_s:>26} {errors:>22}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["sqlite", "etcd", "consul"])
