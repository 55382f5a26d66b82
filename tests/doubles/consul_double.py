#!/usr/bin/env python3
"""Test double of Consul's HTTP API: a single in-memory agent (node "consul-double", datacenter "dc1")
that runs HTTP health checks the way a Consul agent does. Standard library only.

Implemented endpoints:
  PUT /v1/agent/service/register        (?replace-existing-checks honoured)
  PUT /v1/agent/service/deregister/<id>
  GET /v1/health/service/<name>          (?passing, ?tag (repeatable), ?dc, ?ns, blocking ?index & ?wait)
  GET /v1/status/leader
  GET /v1/agent/checks
  GET /v1/agent/service/<id>            (404 for an unknown ID)

Blocking queries follow Consul: without ?index (or with index=0) the answer is immediate; otherwise the request
waits while the service's X-Consul-Index is <= the given index, for at most ?wait (default 5m, capped at 10m)
plus up to wait/16 of random jitter. X-Consul-Index is a per-service modify index taken from one global,
monotonic raft-like counter; it moves on (re/de)registration and on every check status change, never on output
changes alone. A name never registered reports index 1.

Usage: consul_double.py --port N [--address 127.0.0.1] [--acl-token SECRET] [--check-interval-floor 0.2]
"""
import argparse
import json
import random
import re
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

NODE_NAME = "consul-double"
NODE = {"ID": "00000000-0000-0000-0000-000000000001", "Node": NODE_NAME, "Address": "127.0.0.1",
        "Datacenter": "dc1", "TaggedAddresses": {"lan": "127.0.0.1", "wan": "127.0.0.1"}, "Meta": {}}
SERF_CHECK = {"Node": NODE_NAME, "CheckID": "serfHealth", "Name": "Serf Health Status", "Status": "passing",
              "Notes": "", "Output": "Agent alive and reachable", "ServiceID": "", "ServiceName": "",
              "ServiceTags": [], "Type": ""}
STATUSES = ("passing", "warning", "critical")
DEFAULT_WAIT, MAX_WAIT = 300.0, 600.0
_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_TERM = r"(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)"
# Health checks must not go through an http_proxy from the environment.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class BadRequest(Exception):
    pass


def parse_duration(value):
    """Go's time.ParseDuration ("1m30s", "500ms", "0") in seconds; JSON numbers are nanoseconds, as in Consul."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value / 1e9
    text = str(value).strip()
    sign = -1.0 if text.startswith("-") else 1.0
    text = text.lstrip("+-")
    if text == "0":
        return 0.0
    if not text or not re.fullmatch(f"(?:{_TERM})+", text):
        raise ValueError(f"invalid duration {value!r}")
    return sign * sum(float(n) * _UNITS[u] for n, u in re.findall(_TERM, text))


# Go's strconv.ParseBool, which Consul uses for ?passing=...
GO_BOOLS = {**dict.fromkeys(("1", "t", "T", "true", "TRUE", "True"), True),
            **dict.fromkeys(("0", "f", "F", "false", "FALSE", "False"), False)}


def field(obj, name, default=None):
    """Consul decodes request bodies case-insensitively and also accepts snake_case keys."""
    return {key.lower().replace("_", ""): value for key, value in obj.items()}.get(name.lower(), default)


class Check:
    def __init__(self, check_id, spec, service, floor):
        self.id, self.service_id, self.service_name = check_id, service["ID"], service["Service"]
        self.service_tags = service["Tags"]
        self.name = field(spec, "Name") or f"Service '{service['Service']}' check"
        self.notes, self.http = field(spec, "Notes") or "", field(spec, "HTTP")
        self.method = field(spec, "Method") or "GET"
        self.headers = {k: v if isinstance(v, str) else ", ".join(v) for k, v in (field(spec, "Header") or {}).items()}
        if not self.http:
            raise BadRequest("Invalid check: consul-double only runs HTTP checks")
        try:
            self.interval = parse_duration(field(spec, "Interval") or 0)
            self.timeout = parse_duration(field(spec, "Timeout") or 0) or 10.0
            self.deregister_after = parse_duration(field(spec, "DeregisterCriticalServiceAfter") or 0)
        except ValueError as e:
            raise BadRequest(f"Request decode failed: {e}")
        if self.interval <= 0:
            raise BadRequest("Invalid check: Interval must be > 0 for Script, HTTP, or TCP checks")
        self.interval = max(self.interval, floor)
        self.status = field(spec, "Status") or "critical"
        if self.status not in STATUSES:
            raise BadRequest(f"Invalid check: Status must be one of {', '.join(STATUSES)}")
        self.output, self.stop = "", threading.Event()
        self.critical_since = time.monotonic() if self.status == "critical" else None

    def view(self):
        return {"Node": NODE_NAME, "CheckID": self.id, "Name": self.name, "Status": self.status, "Notes": self.notes,
                "Output": self.output, "ServiceID": self.service_id, "ServiceName": self.service_name,
                "ServiceTags": self.service_tags, "Type": "http"}

    def probe(self):
        """One HTTP check run: 2xx passing, 429 warning, anything else (or no answer) critical."""
        request = urllib.request.Request(self.http, method=self.method, headers={
            "User-Agent": "Consul Health Check", "Accept": "text/plain, text/*, */*", **self.headers})
        try:
            with _OPENER.open(request, timeout=self.timeout) as response:
                code, reason, body = response.status, response.reason, response.read(4096)
        except urllib.error.HTTPError as e:
            code, reason, body = e.code, e.reason, e.read(4096)
            e.close()
        except Exception as e:  # refused, reset, timed out, bad URL ...
            return "critical", f"{self.method} {self.http}: {e}"
        status = "passing" if 200 <= code < 300 else "warning" if code == 429 else "critical"
        return status, f"HTTP {self.method} {self.http}: {code} {reason} Output: {body.decode(errors='replace')}"


class Agent:
    """The agent's state. One Condition guards everything and wakes blocking queries on every index bump."""

    def __init__(self, check_interval_floor):
        self.floor = check_interval_floor
        self.cond = threading.Condition()  # reentrant: a check may deregister its service while holding it
        self.raft_index = 1
        self.services = {}  # service ID -> service dict as shown in /v1/health/service
        self.checks = {}  # check ID -> Check
        self.service_index = {}  # lower-cased service name -> modify index

    def _bump(self, name):
        self.raft_index += 1
        self.service_index[name.lower()] = self.raft_index
        self.cond.notify_all()
        return self.raft_index

    def register(self, body, replace_existing_checks):
        if not isinstance(body, dict):
            raise BadRequest("Request decode failed: expected a JSON object")
        name = field(body, "Name")
        if not name or not isinstance(name, str):
            raise BadRequest("Missing service name")
        port, tags, meta = field(body, "Port", 0), field(body, "Tags") or [], field(body, "Meta") or {}
        if not isinstance(port, int) or not isinstance(tags, list) or not isinstance(meta, dict):
            raise BadRequest("Request decode failed: Port must be a number, Tags a list and Meta an object")
        service = {"ID": field(body, "ID") or name, "Service": name, "Tags": tags, "Address": field(body, "Address")
                   or "", "Port": port, "Meta": meta, "Weights": {"Passing": 1, "Warning": 1},
                   "EnableTagOverride": False}
        specs = field(body, "Checks") or []
        if field(body, "Check"):
            specs = [field(body, "Check")] + specs
        checks = []
        for i, spec in enumerate(specs):
            if not isinstance(spec, dict):
                raise BadRequest("Request decode failed: a check must be a JSON object")
            check_id = field(spec, "CheckID") or field(spec, "ID") or f"service:{service['ID']}"
            if len(specs) > 1 and not (field(spec, "CheckID") or field(spec, "ID")):
                check_id += f":{i + 1}"
            checks.append(Check(check_id, spec, service, self.floor))
        with self.cond:
            old = self.services.get(service["ID"])
            for check_id, existing in list(self.checks.items()):
                if existing.service_id != service["ID"]:
                    continue
                for check in (c for c in checks if c.id == check_id):  # the agent keeps the last known state
                    check.status, check.output, check.critical_since = (existing.status, existing.output,
                                                                        existing.critical_since)
                if replace_existing_checks or any(c.id == check_id for c in checks):
                    self._remove_check(check_id)
                else:  # Consul keeps checks left out of a re-registration unless asked to replace them
                    existing.service_name, existing.service_tags = name, tags
            if old and old["Service"].lower() != name.lower():
                self._bump(old["Service"])
            service["ModifyIndex"] = self._bump(name)
            service["CreateIndex"] = old["CreateIndex"] if old else service["ModifyIndex"]
            self.services[service["ID"]] = service
            for check in checks:
                if check.id in self.checks:  # an explicit CheckID taken over from another service
                    self._remove_check(check.id)
                self.checks[check.id] = check
                threading.Thread(target=self._run_check, args=(check,), daemon=True).start()

    def _remove_check(self, check_id):
        self.checks.pop(check_id).stop.set()

    def deregister(self, service_id):
        with self.cond:
            service = self.services.pop(service_id, None)
            if service is None:
                return False
            for check_id in [c.id for c in self.checks.values() if c.service_id == service_id]:
                self._remove_check(check_id)
            self._bump(service["Service"])
            return True

    def _run_check(self, check):
        while not check.stop.is_set():
            status, output = check.probe()
            with self.cond:
                if check.stop.is_set():
                    return
                check.output = output
                if status != check.status:
                    check.status = status
                    check.critical_since = time.monotonic() if status == "critical" else None
                    self._bump(check.service_name)
                if check.deregister_after > 0 and check.critical_since is not None and \
                        time.monotonic() - check.critical_since >= check.deregister_after:
                    self.deregister(check.service_id)
                    return
            check.stop.wait(check.interval)

    def health(self, name, min_index, wait):
        """Waits, as a Consul blocking query does, then returns (entries, index) for the service name."""
        deadline = time.monotonic() + wait
        with self.cond:
            while min_index > 0 and self.service_index.get(name.lower(), 1) <= min_index:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self.cond.wait(remaining)
            entries = []
            for service in sorted(self.services.values(), key=lambda s: s["ID"]):
                if service["Service"].lower() != name.lower():
                    continue
                checks = sorted((c for c in self.checks.values() if c.service_id == service["ID"]), key=lambda c: c.id)
                entries.append({"Node": NODE, "Service": service, "Checks": [SERF_CHECK] + [c.view() for c in checks]})
            return entries, self.service_index.get(name.lower(), 1)

    def check_views(self):
        with self.cond:
            return {c.id: c.view() for c in self.checks.values()}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "consul-double"
    # (method, path, True when the path is a prefix followed by a parameter, handler name, needs ACL)
    ROUTES = [("PUT", "/v1/agent/service/register", False, "register", True),
              ("PUT", "/v1/agent/service/deregister/", True, "deregister", True),
              ("GET", "/v1/health/service/", True, "health_service", True),
              ("GET", "/v1/status/leader", False, "leader", False),
              ("GET", "/v1/agent/checks", False, "agent_checks", True),
              ("GET", "/v1/agent/service/", True, "agent_service", True)]

    def send(self, code, body=b"", content_type="text/plain; charset=utf-8", headers=()):
        if not isinstance(body, bytes):
            body, content_type = json.dumps(body).encode(), "application/json"
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def dispatch(self):
        url = urlsplit(self.path)
        self.query = parse_qs(url.query, keep_blank_values=True)
        self.body = self.rfile.read(int(self.headers.get("Content-Length") or 0))  # no chunked bodies
        for allowed, path, is_prefix, handler, needs_acl in self.ROUTES:
            if url.path == path or (is_prefix and url.path.startswith(path)):
                break
        else:
            return self.send(404, b"404 page not found\n")
        if self.command != allowed:
            return self.send(405, f"method {self.command} not allowed".encode(), headers=[("Allow", allowed)])
        if needs_acl and self.server.acl_token and not self.acl_allows():
            return
        try:
            getattr(self, handler)(*([unquote(url.path[len(path):])] if is_prefix else []))
        except BadRequest as e:
            self.send(400, str(e).encode())
        except Exception as e:  # a bug in the double: answer rather than drop the connection
            self.send(500, f"consul-double: {e!r}".encode())

    do_GET = do_PUT = do_POST = do_DELETE = dispatch

    def acl_allows(self):
        """Token from ?token, X-Consul-Token or Authorization: Bearer, in Consul's order of precedence."""
        token = self.query.get("token", [""])[0] or self.headers.get("X-Consul-Token", "")
        auth = self.headers.get("Authorization", "")
        if not token and auth.lower().startswith("bearer "):
            token = auth[len("bearer "):].strip()
        if token == self.server.acl_token:
            return True
        self.send(403, b"ACL not found" if token else b"Permission denied")
        return False

    def register(self):
        try:
            body = json.loads(self.body or b"null")
        except ValueError as e:
            raise BadRequest(f"Request decode failed: {e}")
        replace = self.query.get("replace-existing-checks", ["false"])[0]
        self.server.agent.register(body, replace in ("", "1", "true", "True"))
        self.send(200)

    def deregister(self, service_id):
        if not service_id:
            raise BadRequest("Missing service ID")
        if not self.server.agent.deregister(service_id):
            return self.send(404, f'Unknown service ID "{service_id}". Ensure that the service ID is passed, '
                                  f'not the service name.'.encode())
        self.send(200)

    def health_service(self, name):
        q = {k: v[0] for k, v in self.query.items()}
        if not name:
            raise BadRequest("Missing service name")
        if q.get("dc") and q["dc"] != "dc1":
            return self.send(500, b"No path to datacenter")
        if q.get("ns") and q["ns"].lower() != "default":
            raise BadRequest('Invalid query parameter: "ns" - Namespaces are a Consul Enterprise feature')
        if q.get("passing", "") not in ("", *GO_BOOLS):
            raise BadRequest("Invalid value for ?passing")
        passing = "passing" in q and GO_BOOLS.get(q["passing"], True)
        if not re.fullmatch(r"\d*", q.get("index", "")):
            raise BadRequest("Invalid index")
        min_index = int(q.get("index") or 0)
        try:
            wait = parse_duration(q["wait"]) if q.get("wait") else DEFAULT_WAIT
        except ValueError:
            raise BadRequest("Invalid wait time")
        wait = DEFAULT_WAIT if wait <= 0 else min(wait, MAX_WAIT)
        wait += random.uniform(0, wait / 16)
        entries, index = self.server.agent.health(name, min_index, wait)
        tags = [t.lower() for t in self.query.get("tag", [])]
        entries = [e for e in entries if all(t in [x.lower() for x in e["Service"]["Tags"]] for t in tags)]
        if passing:
            entries = [e for e in entries if all(c["Status"] == "passing" for c in e["Checks"])]
        self.send(200, entries, headers=[("X-Consul-Index", str(index)), ("X-Consul-KnownLeader", "true"),
                                         ("X-Consul-LastContact", "0")])

    def leader(self):
        self.send(200, "127.0.0.1:8300")

    def agent_checks(self):
        self.send(200, self.server.agent.check_views())

    def agent_service(self, service_id):
        agent = self.server.agent
        with agent.cond:
            service = agent.services.get(service_id)
            service = dict(service) if service else None
        if service is None:
            return self.send(404, f"unknown service ID: {service_id}".encode())
        self.send(200, service)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--acl-token", default=None)
    parser.add_argument("--check-interval-floor", type=float, default=0.2,
                        help="shortest check interval in seconds (a real agent uses 1s)")
    args = parser.parse_args(argv)
    server = ThreadingHTTPServer((args.address, args.port), Handler)
    server.daemon_threads = True
    server.agent, server.acl_token = Agent(args.check_interval_floor), args.acl_token

    def stop(signum, frame):
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    host, port = server.server_address[:2]
    print(f"consul-double listening on {host}:{port}", flush=True)
    server.serve_forever(poll_interval=0.1)
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
