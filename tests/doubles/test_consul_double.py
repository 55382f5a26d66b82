"""The Consul test double honours the parts of Consul's HTTP API the resolver relies on: registration, HTTP
health checks run by the agent, ?passing filtering, blocking queries on X-Consul-Index, deregistration, ACLs."""
import http.client
import json
import select
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from consul_fixture import ConsulDouble
from harness import free_port, requests, wait_until


class HealthEndpoint:
    """A local HTTP server whose /health answers with a status code the test can change."""

    def __init__(self):
        endpoint = self
        self.status = 200
        self.hits = 0

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                endpoint.hits += 1
                body = b"ok" if endpoint.status < 300 else b"not ok"
                self.send_response(endpoint.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/health"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def consul(tmp_path):
    c = ConsulDouble(tmp_path).start()
    yield c
    assert c.stop() == 0, "SIGTERM must stop the double cleanly"


@pytest.fixture
def endpoint():
    e = HealthEndpoint()
    yield e
    e.close()


def health(consul, name, **params):
    r = consul.get(f"/v1/health/service/{name}", params=params)
    assert r.status_code == 200, r.text
    return r.json(), int(r.headers["X-Consul-Index"])


def register_web(consul, endpoint, **extra):
    consul.register(ID="web-1", Name="web", Address="127.0.0.1", Port=8080, Tags=["v1", "primary"],
                    Meta={"zone": "a"}, Check={"HTTP": endpoint.url, "Interval": "100ms", "Timeout": "1s", **extra})


def test_registered_service_turns_passing_then_critical_and_wakes_a_blocking_query(consul, endpoint):
    register_web(consul, endpoint)
    # A new check starts critical; the first run (immediately on registration) makes it passing.
    entries = wait_until(lambda: consul.services("web"), what="web passing")
    assert len(entries) == 1
    entry = entries[0]
    assert entry["Node"]["Node"] == "consul-double" and entry["Node"]["Datacenter"] == "dc1"
    assert entry["Node"]["Address"] == "127.0.0.1"
    service = entry["Service"]
    assert (service["ID"], service["Service"], service["Address"], service["Port"]) == ("web-1", "web", "127.0.0.1",
                                                                                         8080)
    assert service["Tags"] == ["v1", "primary"] and service["Meta"] == {"zone": "a"}
    check = next(c for c in entry["Checks"] if c["ServiceID"] == "web-1")
    assert check["CheckID"] == "service:web-1" and check["ServiceName"] == "web"
    assert check["Status"] == "passing" and "200" in check["Output"]
    assert all(c["Status"] == "passing" for c in entry["Checks"])

    r = consul.get("/v1/health/service/web", params={"passing": ""})
    assert r.headers["X-Consul-KnownLeader"] == "true" and r.headers["X-Consul-LastContact"] == "0"
    index = int(r.headers["X-Consul-Index"])
    assert index > 0
    assert consul.services("web", tag="v1") and not consul.services("web", tag="v2")

    # Send a blocking query for the current index, flip the endpoint to 500 while it is outstanding, and collect
    # the answer only afterwards: it must carry a higher index and no passing entry, well before ?wait elapses.
    conn = http.client.HTTPConnection("127.0.0.1", consul.port, timeout=15)
    started = time.monotonic()
    conn.request("GET", f"/v1/health/service/web?passing&index={index}&wait=10s")
    assert select.select([conn.sock], [], [], 0)[0] == [], "the blocking query answered before any change"
    endpoint.status = 500
    response = conn.getresponse()
    elapsed = time.monotonic() - started
    body = json.loads(response.read())
    conn.close()
    assert response.status == 200
    assert int(response.getheader("X-Consul-Index")) > index
    assert body == []
    assert elapsed < 5, f"blocking query took {elapsed:.1f}s to see the change"

    assert consul.services("web") == []
    entry, = consul.services("web", passing=False)
    check = next(c for c in entry["Checks"] if c["ServiceID"] == "web-1")
    assert check["Status"] == "critical" and "500" in check["Output"]

    # Recovery is seen too; a 429 is "warning", which ?passing also filters out.
    endpoint.status = 204
    wait_until(lambda: consul.services("web"), what="web passing again")
    endpoint.status = 429
    wait_until(lambda: consul.checks()["service:web-1"]["Status"] == "warning", what="warning status")
    assert consul.services("web") == [] and len(consul.services("web", passing=False)) == 1


def test_blocking_query_without_change_returns_after_wait_with_the_same_index(consul, endpoint):
    register_web(consul, endpoint)
    wait_until(lambda: consul.services("web"), what="web passing")
    hits = endpoint.hits
    _, index = health(consul, "web", passing="true")
    started = time.monotonic()
    entries, again = health(consul, "web", passing="true", index=index, wait="1s")
    elapsed = time.monotonic() - started
    assert again == index
    assert len(entries) == 1
    assert 1.0 <= elapsed < 1.0 + 1.0 / 16 + 1.0
    assert endpoint.hits > hits, "checks kept running while the index stayed put"

    # Without ?index, or with a stale one, the answer is immediate.
    started = time.monotonic()
    health(consul, "web", wait="5s")
    health(consul, "web", index=index - 1, wait="5s")
    assert time.monotonic() - started < 2


def test_deregister_removes_the_service_and_its_check(consul, endpoint):
    register_web(consul, endpoint)
    wait_until(lambda: consul.services("web"), what="web passing")
    _, index = health(consul, "web")
    assert consul.deregister("web-1").status_code == 200
    entries, after = health(consul, "web")
    assert entries == [] and after > index
    assert "service:web-1" not in consul.checks()
    r = consul.deregister("web-1")
    assert r.status_code == 404 and r.text.startswith("Unknown service ID")


def test_critical_service_is_deregistered_after_deregister_critical_service_after(consul):
    dead = f"http://127.0.0.1:{free_port()}/health"
    consul.register(Name="gone", Check={"HTTP": dead, "Interval": "100ms", "DeregisterCriticalServiceAfter": "300ms"})
    entry, = consul.services("gone", passing=False)
    assert entry["Service"]["ID"] == "gone", "ID defaults to Name"
    wait_until(lambda: consul.services("gone", passing=False) == [], what="critical service reaped")


def test_reregistration_replaces_the_service_and_keeps_the_check_state(consul, endpoint):
    register_web(consul, endpoint)
    wait_until(lambda: consul.services("web"), what="web passing")
    _, index = health(consul, "web")
    consul.register(ID="web-1", Name="web", Port=9090, Check={"HTTP": endpoint.url, "Interval": "100ms"})
    entry, = consul.services("web")  # still passing: the agent carries the check's state over
    assert entry["Service"]["Port"] == 9090 and entry["Service"]["Address"] == "" and entry["Service"]["Tags"] == []
    assert health(consul, "web")[1] > index


def test_requests_are_validated(consul):
    assert consul.put("/v1/agent/service/register", json={"Port": 1}).status_code == 400
    r = consul.put("/v1/agent/service/register", data=b"{not json")
    assert r.status_code == 400 and "decode" in r.text
    assert consul.get("/v1/health/service/web", params={"passing": "maybe"}).status_code == 400
    assert consul.get("/v1/health/service/web", params={"index": "x"}).status_code == 400
    assert consul.get("/v1/health/service/web", params={"index": "1", "wait": "soon"}).status_code == 400
    r = consul.get("/v1/no/such/endpoint")
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("text/plain")
    assert consul.get("/v1/agent/service/register").status_code == 405
    entries, index = health(consul, "never-registered")
    assert entries == [] and index >= 1


def test_status_leader(consul):
    r = consul.get("/v1/status/leader")
    assert r.status_code == 200 and r.text == '"127.0.0.1:8300"'


def test_acl_token_is_required(tmp_path):
    with ConsulDouble(tmp_path, acl_token="s3cret") as consul:
        url = consul.url + "/v1/health/service/web"
        r = requests.get(url, timeout=5)
        assert r.status_code == 403 and r.text == "Permission denied"
        r = requests.get(url, headers={"X-Consul-Token": "wrong"}, timeout=5)
        assert r.status_code == 403 and r.text == "ACL not found"
        assert requests.put(consul.url + "/v1/agent/service/register", json={"Name": "x"}, timeout=5).status_code == 403
        assert requests.get(url, headers={"X-Consul-Token": "s3cret"}, timeout=5).status_code == 200
        assert requests.get(url, headers={"Authorization": "Bearer s3cret"}, timeout=5).status_code == 200
        assert requests.get(url, params={"token": "s3cret"}, timeout=5).status_code == 200
        assert requests.get(consul.url + "/v1/status/leader", timeout=5).status_code == 200
        consul.register(Name="x")  # the fixture sends its token
        assert len(consul.services("x", passing=False)) == 1
