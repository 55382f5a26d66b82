"""Real backing servers for the resolver tests, each started on loopback with ephemeral ports and
stopped by the test that started it: etcd-server and dnsmasq from Debian."""
import shutil
import subprocess
from pathlib import Path

import requests

from harness import Process, free_port, wait_until


class Etcd:
    """A single-member etcd-server with its own data directory; stop() and start() keep the data,
    so a restart is the same cluster coming back."""

    def __init__(self, tmp_path, name="etcd"):
        self.dir = Path(tmp_path) / name
        self.client_port, self.peer_port = free_port(), free_port()
        self.endpoint = f"127.0.0.1:{self.client_port}"
        self.name = name
        self.process = None

    def start(self):
        client, peer = f"http://127.0.0.1:{self.client_port}", f"http://127.0.0.1:{self.peer_port}"
        self.process = Process(["etcd", "--name", self.name, "--data-dir", self.dir / "data",
                                "--listen-client-urls", client, "--advertise-client-urls", client,
                                "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                                "--initial-cluster", f"{self.name}={peer}", "--log-level", "warn"],
                               self.dir.with_suffix(".log"))
        wait_until(lambda: requests.get(f"{client}/health", timeout=1).json()["health"] == "true",
                   timeout=20, what="etcd healthy")
        return self

    def stop(self):
        if self.process:
            self.process.stop()
            self.process = None

    def etcdctl(self, *args):
        out = subprocess.run(["etcdctl", "--endpoints", self.endpoint, *args], capture_output=True,
                             text=True, timeout=10, env={"ETCDCTL_API": "3", "PATH": "/usr/bin:/bin"})
        assert out.returncode == 0, out.stderr
        return out.stdout

    def keys(self, prefix="/skiff/instances/"):
        return [k for k in self.etcdctl("get", "--prefix", "--keys-only", prefix).split("\n") if k]


class Dnsmasq:
    """dnsmasq answering only from the records it is given, on a loopback port."""

    def __init__(self, tmp_path):
        self.tmp = Path(tmp_path)
        self.port = free_port()
        self.conf = self.tmp / "dnsmasq.conf"
        self.process = None

    def start(self, records):
        """records: dnsmasq option lines (host-record=..., srv-host=..., txt-record=...)."""
        lines = ["no-resolv", "no-hosts", "no-poll", "bind-interfaces", "listen-address=127.0.0.1",
                 f"port={self.port}", "log-queries", "local-ttl=1", "user=root"] + list(records)
        self.conf.write_text("\n".join(lines) + "\n")
        self.process = Process([shutil.which("dnsmasq") or "/usr/sbin/dnsmasq", "--keep-in-foreground",
                                "--log-facility=-", f"--conf-file={self.conf}"], self.tmp / "dnsmasq.log")
        wait_until(lambda: "started" in self.process.output() or not self.process.running(),
                   what="dnsmasq started")
        assert self.process.running(), self.process.output()
        return self

    def stop(self):
        if self.process:
            self.process.stop()
            self.process = None
