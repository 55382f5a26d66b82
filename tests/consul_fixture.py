"""ConsulDouble: runs tests/doubles/consul_double.py as a real process on a free loopback port, for tests of
code that talks to Consul's HTTP API. Started and stopped by the test (or fixture) that owns it."""
import sys
from pathlib import Path

from harness import Process, free_port, requests, wait_until

SCRIPT = Path(__file__).resolve().parent / "doubles" / "consul_double.py"


class ConsulDouble:
    def __init__(self, tmp_path, acl_token=None, check_interval_floor=0.2):
        self.tmp = Path(tmp_path)
        self.acl_token = acl_token
        self.check_interval_floor = check_interval_floor
        self.port = None
        self.process = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout=10.0):
        """Starts the double; a restart keeps the port (but, like a fresh agent, no registrations)."""
        self.port = self.port or free_port()
        args = [sys.executable, SCRIPT, "--port", self.port, "--check-interval-floor", self.check_interval_floor]
        if self.acl_token:
            args += ["--acl-token", self.acl_token]
        self.process = Process(args, self.tmp / f"consul-double-{self.port}.log")
        line = f"consul-double listening on 127.0.0.1:{self.port}"
        wait_until(lambda: line in self.process.output() or not self.process.running(), timeout,
                   what=f"consul-double on port {self.port}")
        assert self.process.running(), self.process.output()
        return self

    def stop(self):
        """Sends SIGTERM and returns the exit status (0 for a clean stop)."""
        if self.process is None:
            return None
        code, self.process = self.process.stop(), None
        return code

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def headers(self, token=None):
        token = token or self.acl_token
        return {"X-Consul-Token": token} if token else {}

    def get(self, path, params=None, timeout=10.0, **kwargs):
        kwargs.setdefault("headers", self.headers())
        return requests.get(self.url + path, params=params, timeout=timeout, **kwargs)

    def put(self, path, json=None, timeout=10.0, **kwargs):
        kwargs.setdefault("headers", self.headers())
        return requests.put(self.url + path, json=json, timeout=timeout, **kwargs)

    def register(self, **service):
        """PUT /v1/agent/service/register with the keyword arguments as the body (Name=..., Check=...)."""
        r = self.put("/v1/agent/service/register", json=service)
        assert r.status_code == 200, r.text
        return r

    def deregister(self, service_id):
        return self.put(f"/v1/agent/service/deregister/{service_id}")

    def services(self, name, passing=True, **params):
        """The parsed /v1/health/service/<name> list (only all-checks-passing entries unless passing=False)."""
        if passing:
            params["passing"] = "1"
        r = self.get(f"/v1/health/service/{name}", params=params)
        assert r.status_code == 200, r.text
        return r.json()

    def checks(self):
        return self.get("/v1/agent/checks").json()
