#!/usr/bin/env python3
"""The skiff benchmark: one run, same machine, same echo apps, five topologies on loopback.

  direct       loadgen -> app
  skiff        loadgen -> skiffd A (HTTP API) -> skiffd B (internal transport, mTLS) -> app
  skiff-nometrics  the same with --enable-metrics=false (what counting the calls costs)
  skiff-tracing    metrics and tracing at 100 % sampling, spans exported over OTLP to a local sink
  skiff-unsampled  the OTLP exporter loaded, no trace sampled (OTEL_TRACES_SAMPLER=always_off)
  skiff-plain  the same with security.mtls = false
  nginx        loadgen -> nginx A -> nginx B -> app   (keep-alive upstreams: the plain-proxy
                                                     baseline with the same number of hops)
  nginx-tls    the same with TLS 1.3 between the two nginx, client certificates both ways
               (the anchor for skiff's mTLS)
  grpc-direct  gRPC loadgen -> gRPC echo app
  skiff-grpc   gRPC loadgen -> skiffd A (gRPC API, proxy mode) -> skiffd B -> gRPC echo app

Scenarios: (a) open loop at 1000 requests/s, 1 KiB POST bodies, 16 connections (the setup of
Dapr's published sidecar numbers); (b) closed loop, maximum throughput; (c) 64 KiB and 1 MiB
bodies, closed loop (HTTP only); (d) idle. Per topology and scenario: throughput, latency percentiles,
latency added over direct, CPU time per request of each proxy process (user+sys from /proc) and
its peak and steady RSS; for skiff with mTLS, the TLS handshakes of both sidecars per call. Printed as a table and written as JSON.

Usage: bench/run.py [--quick] [--build DIR] [--out FILE]   (scripts/bench.sh builds and calls it)
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
TICK = os.sysconf("SC_CLK_TCK")


_handed_out = set()


def free_port():
    """A port nothing listens on now and not handed out before in this run (the kernel may offer
    a just-closed port again)."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def wait_port(port, timeout=10.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.02)  # polling a port that is not open yet
    raise RuntimeError(f"nothing listens on {port} after {timeout}s")


def children(pid):
    """pid and all its descendants (nginx: master and workers)."""
    out, pending = [], [pid]
    procs = {}
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                ppid = int((p / "stat").read_text().rsplit(")", 1)[1].split()[1])
                procs.setdefault(ppid, []).append(int(p.name))
            except (OSError, IndexError, ValueError):
                pass
    while pending:
        q = pending.pop()
        out.append(q)
        pending.extend(procs.get(q, []))
    return out


def cpu_seconds(pids):
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except OSError:
            pass
    return total / TICK


def rss_bytes(pids):
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            pass
    return total


class Proxy:
    """A proxy process (or process group) whose CPU and memory are measured."""

    def __init__(self, name, proc):
        self.name, self.proc = name, proc

    def pids(self):
        return children(self.proc.pid)


class Sampler:
    """Samples the proxies' RSS every 50 ms while a scenario runs."""

    def __init__(self, proxies):
        self.proxies, self.peak = proxies, {p.name: 0 for p in proxies}
        self.stop = threading.Event()

    def __enter__(self):
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def run(self):
        while not self.stop.wait(0.05):
            for p in self.proxies:
                self.peak[p.name] = max(self.peak[p.name], rss_bytes(p.pids()))

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


class Topology:
    def __init__(self, name, tmp, build, app_port):
        self.name, self.tmp, self.build, self.app_port = name, tmp, build, app_port
        self.procs, self.proxies = [], []
        self.port, self.path, self.headers = None, "/echo", []
        self.grpc = False  # driven by skiff-grpc-loadgen; only the 1 KiB scenarios
        self.metadata_ports = []  # skiffd HTTP ports whose metadata counts TLS handshakes

    def handshakes(self):
        """Verified TLS handshakes of the sidecars so far (None without mTLS)."""
        total = None
        for port in self.metadata_ports:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET /v1.0/metadata HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                answer = b""
                while chunk := s.recv(65536):
                    answer += chunk
            identity = json.loads(answer.partition(b"\r\n\r\n")[2]).get("identity")
            if identity:
                total = (total or 0) + identity["tlsHandshakes"]
        return total

    def start(self, args, log, env=None):
        p = subprocess.Popen([str(a) for a in args], stdout=open(self.tmp / log, "w"),
                             stderr=subprocess.STDOUT, env=env)
        self.procs.append(p)
        return p

    def stop(self):
        for p in reversed(self.procs):
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
        for p in reversed(self.procs):
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def start_direct(tmp, build, app_port):
    t = Topology("direct", tmp, build, app_port)
    t.port = app_port
    return t


def start_skiff(tmp, build, app_port, name="skiff", extra=(), env_extra=None):
    """skiffd as installed: mTLS between the two sidecars and metrics on (the defaults), each
    sidecar serving its metrics on a port of its own."""
    t = Topology(name, tmp, build, app_port)
    env = dict(os.environ, XDG_STATE_HOME=str(tmp / f"{name}-state"),
               SKIFF_PLUGIN_PATH=f"{build}/plugins/resolver-sqlite:{build}/plugins/transport-grpc:{build}/plugins/transport-tcp:"
                                 f"{build}/plugins/observer-prometheus:{build}/plugins/observer-otlp")
    env.update(env_extra or {})
    skiffd = build / "core/skiffd/skiffd"
    ports = [free_port() for _ in range(8)]
    def metrics(port):
        return [] if "--enable-metrics=false" in extra else ["--metrics-port", port]

    b = t.start([skiffd, "--app-id", "echo", "--app-port", app_port, "--dapr-http-port", ports[0],
                 "--dapr-internal-grpc-port", ports[1], "--dapr-grpc-port", ports[2], "--log-level", "warn",
                 *metrics(ports[6]), *extra], f"{name}-b.log", env)
    a = t.start([skiffd, "--app-id", "loadgen", "--dapr-http-port", ports[3], "--dapr-internal-grpc-port",
                 ports[4], "--dapr-grpc-port", ports[5], "--log-level", "warn", *metrics(ports[7]), *extra],
                f"{name}-a.log", env)
    wait_port(ports[0])
    wait_port(ports[3])
    t.proxies = [Proxy("skiffd A", a), Proxy("skiffd B", b)]
    t.port, t.path = ports[3], "/v1.0/invoke/echo/method/echo"
    t.metadata_ports = [ports[0], ports[3]]
    return t


def start_skiff_nometrics(tmp, build, app_port):
    """The same chain with --enable-metrics=false: what metrics cost."""
    return start_skiff(tmp, build, app_port, "skiff-nometrics", ["--enable-metrics=false"])


class OtlpSink:
    """An OTLP/HTTP endpoint that takes every export (200) without decoding it: the collector side
    of the tracing topologies, cheap enough not to be what is measured."""

    def __init__(self):
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        sink = self
        self.exports = 0

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", 0)))
                sink.exports += 1
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}"


def start_skiff_tracing(tmp, build, app_port, name="skiff-tracing", sampler="always_on"):
    """Metrics and tracing on: every new trace sampled (always_on), both sidecars' spans exported
    over OTLP to a local sink; with sampler always_off, the exporter is loaded but nothing is
    sampled."""
    sink = OtlpSink()
    t = start_skiff(tmp, build, app_port, name, env_extra={
        "OTEL_EXPORTER_OTLP_ENDPOINT": sink.url, "OTEL_TRACES_SAMPLER": sampler})
    t.sink = sink
    return t


def start_skiff_unsampled(tmp, build, app_port):
    return start_skiff_tracing(tmp, build, app_port, "skiff-unsampled", "always_off")


def start_skiff_plain(tmp, build, app_port):
    """The same chain with security.mtls = false: what mTLS costs."""
    cfg = tmp / "plaintext.toml"
    cfg.write_text("[security]\nmtls = false\n")
    return start_skiff(tmp, build, app_port, "skiff-plain", ["--config", cfg])


def start_grpc_app(t):
    port = free_port()
    t.start([t.build / "bench/skiff-grpc-echo", "--port", port], "grpc-echo.log")
    wait_port(port)
    return port


def start_grpc_direct(tmp, build, app_port):
    """gRPC: loadgen (unary calls of /bench.Echo/Echo) -> the gRPC echo app."""
    t = Topology("grpc-direct", tmp, build, app_port)
    t.grpc = True
    t.port = start_grpc_app(t)
    return t


def start_skiff_grpc(tmp, build, app_port):
    """gRPC: loadgen -> skiffd A's gRPC API (proxy mode, dapr-app-id) -> skiffd B -> the gRPC app."""
    t = Topology("skiff-grpc", tmp, build, app_port)
    t.grpc = True
    grpc_app = start_grpc_app(t)
    env = dict(os.environ, XDG_STATE_HOME=str(tmp / "skiff-grpc-state"),
               SKIFF_PLUGIN_PATH=f"{build}/plugins/resolver-sqlite:{build}/plugins/transport-tcp")
    skiffd = build / "core/skiffd/skiffd"
    ports = [free_port() for _ in range(6)]
    b = t.start([skiffd, "--app-id", "echo", "--app-port", grpc_app, "--app-protocol", "grpc",
                 "--dapr-http-port", ports[0], "--dapr-internal-grpc-port", ports[1],
                 "--dapr-grpc-port", ports[2], "--log-level", "warn"], "skiffd-grpc-b.log", env)
    a = t.start([skiffd, "--app-id", "loadgen", "--dapr-http-port", ports[3], "--dapr-internal-grpc-port",
                 ports[4], "--dapr-grpc-port", ports[5], "--log-level", "warn"], "skiffd-grpc-a.log", env)
    wait_port(ports[0])
    wait_port(ports[5])
    t.proxies = [Proxy("skiffd A", a), Proxy("skiffd B", b)]
    t.port, t.headers = ports[5], ["dapr-app-id: echo"]
    t.metadata_ports = [ports[0], ports[3]]
    return t


NGINX_CONF = """
worker_processes 1;
daemon off;
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 4096; }}
http {{
  access_log off;
  client_body_temp_path {dir}/body;
  proxy_temp_path {dir}/proxy;
  fastcgi_temp_path {dir}/fastcgi;
  uwsgi_temp_path {dir}/uwsgi;
  scgi_temp_path {dir}/scgi;
  client_max_body_size 0;
  client_body_buffer_size 2m;
  proxy_buffers 64 32k;
  proxy_max_temp_file_size 0;
  upstream next {{ server 127.0.0.1:{upstream}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass http://next;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
"""


def start_nginx(tmp, build, app_port):
    t = Topology("nginx", tmp, build, app_port)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    b_port, a_port = free_port(), free_port()
    for name, port, upstream in (("b", b_port, app_port), ("a", a_port, b_port)):
        d = tmp / f"nginx-{name}"
        d.mkdir()
        (d / "nginx.conf").write_text(NGINX_CONF.format(dir=d, port=port, upstream=upstream))
        p = t.start([nginx, "-p", d, "-c", d / "nginx.conf", "-e", d / "error.log"], f"nginx-{name}.log")
        wait_port(port)
        t.proxies.insert(0, Proxy(f"nginx {name.upper()}", p))
    t.port = a_port
    return t


NGINX_TLS_CLIENT = """
  upstream next {{ server 127.0.0.1:{upstream}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port};
    location / {{
      proxy_pass https://next;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_ssl_protocols TLSv1.3;
      proxy_ssl_certificate {certs}/a.crt;
      proxy_ssl_certificate_key {certs}/a.key;
      proxy_ssl_trusted_certificate {certs}/ca.crt;
      proxy_ssl_verify on;
      proxy_ssl_name b.bench;
      proxy_ssl_session_reuse on;
    }}
  }}
}}
"""

NGINX_TLS_SERVER = """
  upstream next {{ server 127.0.0.1:{upstream}; keepalive 64; }}
  server {{
    listen 127.0.0.1:{port} ssl;
    ssl_protocols TLSv1.3;
    ssl_certificate {certs}/b.crt;
    ssl_certificate_key {certs}/b.key;
    ssl_client_certificate {certs}/ca.crt;
    ssl_verify_client on;
    location / {{
      proxy_pass http://next;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }}
  }}
}}
"""


def tls_certificates(d):
    """A CA and P-256 certificates for nginx A (client) and B (server), as skiff's are made."""
    d.mkdir()

    def openssl(*args):
        subprocess.run(["openssl", *map(str, args)], check=True, capture_output=True, cwd=d)
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
            "ca.key", "-subj", "/CN=bench CA", "-days", "2", "-out", "ca.crt",
            "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign")
    for name in ("a", "b"):
        (d / f"{name}.ext").write_text(f"subjectAltName=DNS:{name}.bench\n"
                                       "extendedKeyUsage=serverAuth,clientAuth\n")
        openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout",
                f"{name}.key", "-subj", f"/CN={name}.bench", "-out", f"{name}.csr")
        openssl("x509", "-req", "-in", f"{name}.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-days", "2", "-extfile", f"{name}.ext", "-out", f"{name}.crt")
    return d


def start_nginx_tls(tmp, build, app_port):
    """nginx A -> (TLS 1.3, client certificates, keep-alive) -> nginx B -> app."""
    t = Topology("nginx-tls", tmp, build, app_port)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    certs = tls_certificates(tmp / "nginx-tls-certs")
    b_port, a_port = free_port(), free_port()
    head = NGINX_CONF[:NGINX_CONF.index("  upstream next")]
    for name, port, upstream, tail in (("b", b_port, app_port, NGINX_TLS_SERVER),
                                       ("a", a_port, b_port, NGINX_TLS_CLIENT)):
        d = tmp / f"nginx-tls-{name}"
        d.mkdir()
        (d / "nginx.conf").write_text((head + tail).format(dir=d, port=port, upstream=upstream, certs=certs))
        p = t.start([nginx, "-p", d, "-c", d / "nginx.conf", "-e", d / "error.log"], f"nginx-tls-{name}.log")
        wait_port(port)
        t.proxies.insert(0, Proxy(f"nginx {name.upper()}", p))
    t.port = a_port
    return t


def loadgen(build, topo, seconds, warmup, connections, body, rate=0):
    if topo.grpc:
        args = [build / "bench/skiff-grpc-loadgen", "--target", f"127.0.0.1:{topo.port}"]
        for h in topo.headers:
            args += ["-H", h]
    else:
        args = [build / "bench/skiff-loadgen", "--port", topo.port, "--path", topo.path]
    args += ["-c", connections, "-d", seconds, "--warmup", warmup, "--body-size", body]
    if rate:
        args += ["-r", rate]
    r = subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=seconds + warmup + 120)
    if not r.stdout.strip():
        raise RuntimeError(f"loadgen failed: {r.stderr}")
    return json.loads(r.stdout)


def measure(build, topo, scenario):
    handshakes_before = topo.handshakes()
    cpu_before = {p.name: cpu_seconds(p.pids()) for p in topo.proxies}
    with Sampler(topo.proxies) as rss:
        result = loadgen(build, topo, **scenario["load"])
    if handshakes_before is not None:
        # Over warm-up and measurement alike: a handshake per call would show as about 2 (one per
        # sidecar) here; pooled connections make it a handful in all.
        result["tls_handshakes"] = topo.handshakes() - handshakes_before
    steady = {p.name: rss_bytes(p.pids()) for p in topo.proxies}
    cpu = {p.name: cpu_seconds(p.pids()) - cpu_before[p.name] for p in topo.proxies}
    # CPU over warm-up and measurement, divided by the requests of both (rate x time, or measured).
    load = scenario["load"]
    total = result["requests"] * (load["seconds"] + load["warmup"]) / load["seconds"]
    result["proxies"] = {
        name: {"cpu_us_per_request": round(cpu[name] / total * 1e6, 1) if total else None,
               "peak_rss_mib": round(rss.peak[name] / 2**20, 1), "steady_rss_mib": round(steady[name] / 2**20, 1)}
        for name in cpu}
    return result


def scenarios(quick):
    s = 5 if quick else 30
    m = 5 if quick else 15
    b = 3 if quick else 10
    return [
        {"name": "1000 rps, 1 KiB, 16 conns", "key": "rate1000",
         "load": dict(seconds=s, warmup=1, connections=16, body=1024, rate=1000)},
        {"name": "max throughput, 1 KiB, 16 conns", "key": "max",
         "load": dict(seconds=m, warmup=1, connections=16, body=1024)},
        {"name": "64 KiB bodies, 8 conns", "key": "64k",
         "load": dict(seconds=b, warmup=1, connections=8, body=64 * 1024)},
        {"name": "1 MiB bodies, 4 conns", "key": "1m",
         "load": dict(seconds=b, warmup=1, connections=4, body=1024 * 1024)},
    ]


# The gRPC topologies run the 1 KiB scenarios: gRPC bodies are messages, not streams.
GRPC_SCENARIOS = ("rate1000", "max")


def machine():
    model = next((l.split(":", 1)[1].strip() for l in Path("/proc/cpuinfo").read_text().splitlines()
                  if l.startswith("model name")), platform.processor())
    return {"cpus": os.cpu_count(), "cpu_model": model, "kernel": platform.release(),
            "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)}


def print_table(results):
    def row(cols, widths):
        return "  ".join(str(c).ljust(w) for c, w in zip(cols, widths))
    widths = [34, 12, 10, 8, 8, 8, 8, 8, 22, 60]
    print(row(["scenario", "topo", "req/s", "p50 ms", "p90 ms", "p99 ms", "p99.9", "max ms",
               "added p50/p90/p99 ms", "per proxy: CPU us/req, peak/steady RSS MiB"], widths))
    for sc in results["scenarios"]:
        for topo, r in sc["topologies"].items():
            lat = r["latency_us"]
            added = "-"
            base = "grpc-direct" if "grpc" in topo else "direct"
            direct = sc["topologies"].get(base)
            if direct and topo != base:
                d = direct["latency_us"]
                added = "/".join(f"{(lat[k] - d[k]) / 1000:.2f}" for k in ("p50", "p90", "p99"))
            proxies = "; ".join(f"{n}: {p['cpu_us_per_request']}, {p['peak_rss_mib']}/{p['steady_rss_mib']}"
                                for n, p in r.get("proxies", {}).items())
            if "tls_handshakes" in r:
                proxies += f"; {r['tls_handshakes']} TLS handshakes"
            print(row([sc["name"], topo, f"{r['throughput_rps']:.0f}", *(f"{lat[k] / 1000:.2f}" for k in
                       ("p50", "p90", "p99", "p999", "max")), added, proxies], widths))
    print()
    for topo, idle in results["idle_rss_mib"].items():
        print(f"idle RSS {topo}: " + ", ".join(f"{n} {v} MiB" for n, v in idle.items()))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="short runs: the whole suite in under 3 minutes")
    ap.add_argument("--build", default=os.environ.get("SKIFF_BUILD_DIR", REPO / "build"), type=Path)
    ap.add_argument("--out", type=Path, help="JSON file (default bench/results/<date>.json)")
    ap.add_argument("--topologies", default="direct,skiff,skiff-nometrics,skiff-tracing,skiff-unsampled,skiff-plain,nginx,nginx-tls,grpc-direct,skiff-grpc")
    ap.add_argument("--scenarios", help="comma-separated scenario keys to run (rate1000,max,64k,1m); default all")
    args = ap.parse_args()
    build = args.build.resolve()
    tmp = Path(tempfile.mkdtemp(prefix="skiff-bench-"))
    app = subprocess.Popen([str(build / "examples/apps/sample-app/skiff-sample-app"), "--port",
                            str(free_port_app := free_port()), "--name", "echo"],
                           stdout=open(tmp / "app.log", "w"), stderr=subprocess.STDOUT)
    starters = {"direct": start_direct, "skiff": start_skiff, "skiff-nometrics": start_skiff_nometrics,
                "skiff-tracing": start_skiff_tracing, "skiff-unsampled": start_skiff_unsampled,
                "skiff-plain": start_skiff_plain, "nginx": start_nginx,
                "nginx-tls": start_nginx_tls, "grpc-direct": start_grpc_direct, "skiff-grpc": start_skiff_grpc}
    results = {"date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
               "machine": machine(), "quick": args.quick, "scenarios": [], "idle_rss_mib": {}}
    try:
        wait_port(free_port_app)
        plan = scenarios(args.quick)
        if args.scenarios:
            plan = [sc for sc in plan if sc["key"] in args.scenarios.split(",")]
        for sc in plan:
            results["scenarios"].append({"name": sc["name"], "key": sc["key"], "load": sc["load"], "topologies": {}})
        for name in args.topologies.split(","):
            topo = starters[name](tmp, build, free_port_app)
            try:
                if topo.proxies:
                    # (d) idle: started, one call made, then left alone
                    loadgen(build, topo, 0.2, 0, 1, 16)
                    idle_wait = threading.Event()
                    idle_wait.wait(2)  # idle means: nothing happens for this long
                    results["idle_rss_mib"][name] = {p.name: round(rss_bytes(p.pids()) / 2**20, 1) for p in topo.proxies}
                for sc, out in zip(plan, results["scenarios"]):
                    if topo.grpc and sc["key"] not in GRPC_SCENARIOS:
                        continue
                    print(f"{name}: {sc['name']} ...", file=sys.stderr, flush=True)
                    out["topologies"][name] = measure(build, topo, sc)
            finally:
                topo.stop()
    finally:
        app.terminate()
        app.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
    cost = build / "bench/skiff-observability-cost"
    if cost.exists():
        # What observability adds per call per sidecar, in isolation (see bench/observability/cost.cc).
        results["observability_cost_ns"] = json.loads(subprocess.run([str(cost)], capture_output=True,
                                                                     text=True, timeout=300).stdout)
    print_table(results)
    if "observability_cost_ns" in results:
        print("observability per call per sidecar (ns):", results["observability_cost_ns"])
    out = args.out or REPO / "bench/results" / f"{results['date'][:19].replace(':', '')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=1))
    print(f"\nJSON: {out}")


if __name__ == "__main__":
    main()
