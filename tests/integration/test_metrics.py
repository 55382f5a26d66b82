"""Metrics under Dapr's names, served by the observer-prometheus plugin: a real Prometheus server (from
Debian) scrapes two sidecars while calls run, and the counts its query API returns match the calls
made; promtool parses the exposition; a taken or bad port, a missing plugin and metrics switched off
behave as documented."""
import json
import shutil
import subprocess
import urllib.parse

import pytest

from harness import free_port, invoke_url, port_open, requests, wait_until

PROMETHEUS = shutil.which("prometheus")
PROMTOOL = shutil.which("promtool")


def scrape(sidecar):
    r = requests.get(f"http://127.0.0.1:{sidecar.metrics_port}/metrics", timeout=5)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return r.text


def samples(text, name):
    """{labels-dict-as-tuple: value} of one metric name in an exposition."""
    out = {}
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        series, value = line.rsplit(" ", 1)
        labels = ()
        if "{" in series:
            body = series[series.index("{") + 1:-1]
            labels = tuple(sorted(tuple(kv.split("=", 1)) for kv in body.split('",') if kv))
            labels = tuple((k, v.strip('"')) for k, v in labels)
        out[labels] = float(value)
    return out


@pytest.fixture
def pair(cluster):
    """order calls cart; both sidecars serve metrics on ports of their own."""
    app = cluster.app("cart")
    cart = cluster.sidecar("cart", app_port=app.port)
    order = cluster.sidecar("order")
    return order, cart


def call(order, app, method, status=200):
    r = requests.post(invoke_url(order, app, method), data=b"hi", timeout=10)
    assert r.status_code == status, r.text
    return r


class Prometheus:
    def __init__(self, cluster, targets):
        self.port = free_port()
        config = cluster.tmp / "prometheus.yml"
        config.write_text(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
            "scrape_configs:\n  - job_name: skiffd\n    static_configs:\n"
            f"      - targets: {json.dumps([f'127.0.0.1:{p}' for p in targets])}\n")
        self.proc = cluster.start(
            [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={cluster.tmp / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--log.level=warn"], "prometheus")
        wait_until(lambda: self.ready() or not self.proc.running(), timeout=30, what="prometheus ready")
        assert self.proc.running(), self.proc.output()

    def ready(self):
        try:
            return requests.get(f"http://127.0.0.1:{self.port}/-/ready", timeout=1).status_code == 200
        except requests.RequestException:
            return False

    def query(self, promql):
        r = requests.get(f"http://127.0.0.1:{self.port}/api/v1/query",
                         params={"query": promql}, timeout=5)
        assert r.status_code == 200, r.text
        result = r.json()["data"]["result"]
        return float(result[0]["value"][1]) if result else None

    def wait_for(self, promql, expected, timeout=30):
        seen = []
        wait_until(lambda: seen.append(self.query(promql)) or seen[-1] == expected, timeout=timeout,
                   what=f"{promql} == {expected} (last: {seen[-1:] or None})")


@pytest.mark.skipif(PROMETHEUS is None, reason="prometheus is installed by scripts/install-deps.sh")
def test_a_real_prometheus_scrapes_both_sidecars_and_counts_every_call(cluster, pair):
    order, cart = pair
    prom = Prometheus(cluster, [order.metrics_port, cart.metrics_port])
    prom.wait_for('count(up{job="skiffd"} == 1)', 2)
    calls = 25
    for i in range(calls):
        call(order, "cart", f"echo/{i}")
    for _ in range(3):
        call(order, "nobody", "x", status=500)  # no such app: a failure, no answer from an app

    # The caller's sidecar: requests sent, responses received with the app's status, latency.
    prom.wait_for('sum(dapr_runtime_service_invocation_req_sent_total{app_id="order",dst_app_id="cart",'
                  'type="unary"})', calls)
    prom.wait_for('sum(dapr_runtime_service_invocation_res_recv_total{app_id="order",src_app_id="cart",'
                  'status="200"})', calls)
    prom.wait_for('sum(dapr_runtime_service_invocation_res_recv_latency_ms_count{app_id="order",'
                  'src_app_id="cart"})', calls)
    prom.wait_for('sum(dapr_runtime_service_invocation_req_sent_total{dst_app_id="nobody"})', 3)
    prom.wait_for('sum(skiff_invoke_failed_total{app_id="order",dst_app_id="nobody"})', 3)
    # The callee's sidecar: requests received from the caller (from its certificate), answered.
    prom.wait_for('sum(dapr_runtime_service_invocation_req_recv_total{app_id="cart",src_app_id="order"})',
                  calls)
    prom.wait_for('sum(dapr_runtime_service_invocation_res_sent_total{app_id="cart",dst_app_id="order",'
                  'status="200"})', calls)
    # The HTTP API: one route label for every invoked method, and the status the app got.
    route = "/v1.0/invoke/{id}/method/{method}"
    prom.wait_for(f'sum(dapr_http_server_response_count{{app_id="order",method="POST",path="{route}",'
                  'status="200"})', calls)
    prom.wait_for(f'sum(dapr_http_server_response_count{{app_id="order",path="{route}",status="500"}})', 3)
    prom.wait_for(f'sum(dapr_http_server_latency_count{{app_id="order",path="{route}"}})', calls + 3)
    # A latency histogram Prometheus can compute quantiles from: a p99 below the largest bucket.
    p99 = prom.query('histogram_quantile(0.99, sum by (le) ('
                     'dapr_runtime_service_invocation_res_recv_latency_ms_bucket{app_id="order"}))')
    assert p99 is not None and 0 < p99 < 100000, p99
    # Nothing the callers chose became a label value.
    assert prom.query('count(dapr_http_server_response_count{path=~".*echo.*"})') is None


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is installed by scripts/install-deps.sh")
def test_promtool_parses_the_exposition_and_lints_only_daprs_own_names(pair):
    order, cart = pair
    for i in range(3):
        call(order, "cart", f"m{i}")
    call(order, "nobody", "x", status=500)
    for sidecar in (order, cart):
        text = scrape(sidecar)
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True,
                           timeout=30)
        # Exit 1 is a parse error; 3 lint findings only.
        assert r.returncode in (0, 3), (r.returncode, r.stdout, r.stderr, text)
        findings = [line for line in (r.stdout + r.stderr).splitlines() if line.strip()]
        # Dapr's names break two of promtool's style rules (a counter without _total, "_ms"); they
        # are kept so that Dapr's dashboards work. skiff's own names follow the rules.
        for finding in findings:
            assert finding.startswith("dapr_"), (finding, findings)
    # The check discriminates: promtool refuses a broken exposition with exit code 1.
    broken = subprocess.run([PROMTOOL, "check", "metrics"], input='x{a="1 1\n', capture_output=True,
                            text=True, timeout=30)
    assert broken.returncode == 1


def test_hostile_label_values_cannot_break_the_exposition(cluster, pair):
    """App ids arrive from the caller's app; whatever they hold, the exposition stays parseable."""
    order, _ = pair
    for target in ["we%22ird", "line%0Abreak", "back%5Cslash", "%C3%A9t%C3%A9"]:
        requests.post(f"http://127.0.0.1:{order.http_port}/v1.0/invoke/{target}/method/x", timeout=10)
    text = scrape(order)
    if PROMTOOL:
        r = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True, text=True,
                           timeout=30)
        assert r.returncode in (0, 3), (r.stdout, r.stderr, text)
    for line in text.splitlines():
        assert line.startswith(("#", "dapr_", "skiff_")), line


def test_the_exposition_answers_only_get_metrics(pair):
    order, _ = pair
    base = f"http://127.0.0.1:{order.metrics_port}"
    assert requests.get(base + "/", timeout=5).status_code == 404
    assert requests.post(base + "/metrics", data=b"x", timeout=5).status_code in (405, 400)
    head = requests.head(base + "/metrics", timeout=5)
    assert head.status_code == 200 and head.text == ""
    # A request too large for the exposition's parser is refused, and the server goes on serving.
    import socket
    with socket.create_connection(("127.0.0.1", order.metrics_port), timeout=5) as s:
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 400 "), answer[:200]
    assert scrape(order).startswith("# HELP")


def test_a_client_that_connects_and_stalls_does_not_block_the_scrape(pair):
    import socket
    order, _ = pair
    stalled = [socket.create_connection(("127.0.0.1", order.metrics_port)) for _ in range(8)]
    try:
        stalled[0].sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")  # never finished
        assert scrape(order).startswith("# HELP")
    finally:
        for s in stalled:
            s.close()


def test_metrics_can_be_switched_off_as_with_daprd(cluster):
    port = free_port()
    off = cluster.sidecar("quiet", extra=["--enable-metrics=false", "--metrics-port", str(port)])
    assert not port_open(port)
    assert "serving metrics" not in off.output()


def test_an_explicit_port_that_is_taken_stops_start_up(cluster, pair):
    order, _ = pair
    # (Check mode binds nothing, so it cannot know: only start-up refuses.)
    p = cluster.sidecar("second", metrics_port=order.metrics_port, wait_ready=False)
    assert p.proc.wait(timeout=10) == 1, p.output()
    assert f"cannot listen on 127.0.0.1:{order.metrics_port}" in p.output(), p.output()
    assert "metrics.port" in p.output(), p.output()


def test_the_default_port_taken_keeps_the_sidecar_running_without_the_exposition(cluster, tmp_path):
    import socket
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        holder.bind(("127.0.0.1", 9090))
    except OSError:
        pytest.skip("port 9090 is in use on this machine already")  # the case itself, but not ours
    holder.listen()
    try:
        p = cluster.sidecar("dflt", metrics_port=False)
        assert "metrics are kept but not served" in p.output(), p.output()
        r = requests.get(f"http://127.0.0.1:{p.http_port}/v1.0/healthz", timeout=5)
        assert r.status_code == 204
    finally:
        holder.close()


@pytest.mark.parametrize("config,why", [
    ("[metrics]\nport = 0\n", "metrics.port"),
    ("[metrics]\nport = 70000\n", "metrics.port"),
    ('[metrics]\naddress = "not-an-ip"\n', "not an IP address"),
    ("[metrics]\nenabled = \"yes\"\n", "metrics.enabled"),
])
def test_bad_metrics_settings_are_refused_with_the_key(cluster, config, why):
    # The configuration's own port, not the harness's flag.
    out, checked = cluster.refused("bad", config=config, metrics_port=False,
                                   exit_code=1 if "address" in config else 2)
    assert why in out, out
    assert why in checked, checked
