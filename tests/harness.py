"""Process harness for the integration tests: real skiffd processes, real sample apps and a real
SQLite file, all on loopback with ephemeral ports. Every process a test starts is stopped by the
fixture that started it; waits poll a condition with a deadline, never a fixed sleep."""
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import requests

REPO = Path(__file__).resolve().parents[1]
BUILD = Path(os.environ.get("SKIFF_BUILD_DIR", REPO / "build"))
SKIFFD = BUILD / "core" / "skiffd" / "skiffd"
SKIFF = BUILD / "core" / "cli" / "skiff"
SAMPLE_APP = BUILD / "examples" / "apps" / "sample-app" / "skiff-sample-app"
# Every plugin folder of the build tree (one folder per plugin, e.g. plugins/resolver-etcd).
PLUGIN_PATH = ":".join(str(BUILD / "plugins" / d) for d in
                       ("resolver-sqlite", "resolver-mdns", "resolver-kubernetes", "resolver-consul",
                        "resolver-etcd", "transport-grpc", "transport-tcp", "observer-prometheus", "observer-otlp"))
BROKEN_PLUGINS = BUILD / "tests" / "abi"
# The Python gRPC app (Echo for proxy mode, AppCallback/OnInvoke) of the gRPC tests.
ECHO_SERVER = REPO / "tests" / "integration" / "grpc_apps" / "echo_server.py"


_handed_out = set()

# Sanitizer findings in the output of processes the tests started (scripts/test.sh --sanitize builds
# with ASan and UBSan); conftest.py fails the test during which one appeared.
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error: ",
                     "SUMMARY: UndefinedBehaviorSanitizer")
sanitizer_reports = []


def sanitizer_report(text):
    """The first lines of a sanitizer report in text, or None."""
    for marker in SANITIZER_MARKERS:
        at = text.find(marker)
        if at >= 0:
            start = text.rfind("\n", 0, at) + 1
            return "\n".join(text[start:].splitlines()[:30])
    return None


def free_port():
    """A port nothing listens on now, never one this run handed out before: the kernel may offer
    a just-closed port again, and two ports of one sidecar must differ."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in _handed_out:
            _handed_out.add(port)
            return port


def wait_until(condition, timeout=10.0, what="condition"):
    """Polls condition() until it returns something truthy; fails the test after timeout."""
    deadline = time.monotonic() + timeout
    last_error = None
    while time.monotonic() < deadline:
        try:
            value = condition()
            if value:
                return value
        except Exception as e:  # the condition may raise while a server is still starting
            last_error = e
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last error: {last_error})")


def port_open(port):
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


class Process:
    def __init__(self, args, log_path, env=None):
        self.args = [str(a) for a in args]
        self.log_path = Path(log_path)
        self.log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(self.args, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                     stdin=subprocess.DEVNULL)

    def output(self):
        if not self.log.closed:
            self.log.flush()
        return self.log_path.read_text(errors="replace")

    def running(self):
        return self.proc.poll() is None

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.log.closed:
            self.log.close()
            report = sanitizer_report(self.log_path.read_text(errors="replace"))
            if report:
                sanitizer_reports.append(f"{self.args[0]} ({self.log_path}):\n{report}")
        return self.proc.returncode

    def kill(self):
        return self.stop(signal.SIGKILL)


class Cluster:
    """Starts apps and sidecars for one test and stops them all afterwards."""

    def __init__(self, tmp_path):
        self.tmp = Path(tmp_path)
        self.state = self.tmp / "state"
        self.processes = []
        self.env = dict(os.environ)
        self.env["XDG_STATE_HOME"] = str(self.state)
        self.env["SKIFF_PLUGIN_PATH"] = PLUGIN_PATH
        self.env.pop("DAPR_HTTP_PORT", None)
        # The machine's own OpenTelemetry settings would send the tests' spans somewhere: tests that
        # export set their own.
        for name in [n for n in self.env if n.startswith("OTEL_")]:
            del self.env[name]

    @property
    def db_path(self):
        return self.state / "skiff" / "nameresolution.db"

    def start(self, args, name, env=None):
        p = Process(args, self.tmp / f"{name}.log", env or self.env)
        self.processes.append(p)
        return p

    def app(self, name, port=None, sidecar_port=None):
        port = port or free_port()
        args = [SAMPLE_APP, "--port", port, "--name", name]
        if sidecar_port:
            args += ["--sidecar-port", sidecar_port]
        p = self.start(args, f"app-{name}-{port}")
        wait_until(lambda: port_open(port), what=f"sample app {name} on {port}")
        p.port = port
        return p

    def recording_app(self, name="app"):
        """Starts tests/integration/recording_app.py: .port, and .requests(), what it parsed."""
        port = free_port()
        log = self.tmp / f"recorded-{name}.jsonl"
        p = self.start([sys.executable, REPO / "tests" / "integration" / "recording_app.py", "--port", port,
                        "--log", log], f"recording-app-{name}")
        wait_until(lambda: port_open(port), what="recording app")
        p.port = port
        p.requests = lambda: read_events(log)
        return p

    def grpc_app(self, name, port=None):
        """Starts the Python gRPC echo app; .port, .events() lists what it saw (see echo_server.py) and
        .seen(event, **fields) the events of that kind with those field values."""
        if str(ECHO_SERVER.parents[1]) not in sys.path:
            sys.path.insert(0, str(ECHO_SERVER.parents[1]))
        import grpc_protos  # tests/integration/grpc_protos.py; imported here so other tests need no grpc
        port = port or free_port()
        state_dir = self.tmp / f"grpc-app-{name}-{port}"
        env = dict(self.env)
        env[grpc_protos.GEN_ENV] = str(grpc_protos.load().gen_dir)  # reuse the protos compiled here
        p = self.start([sys.executable, ECHO_SERVER, "--port", port, "--name", name, "--state-dir", state_dir],
                       f"grpc-app-{name}-{port}", env)
        wait_until(lambda: port_open(port) or not p.running(), what=f"gRPC app {name} on {port}")
        assert p.running(), p.output()
        p.port = port
        p.events = lambda: read_events(state_dir / "events.jsonl")
        p.seen = lambda event, **fields: [e for e in p.events() if e["event"] == event
                                          and all(e.get(k) == v for k, v in fields.items())]
        return p

    def sidecar(self, app_id=None, app_port=None, http_port=None, internal_port=None, extra=(), config=None,
                wait_ready=True, env=None, grpc_port=None, app_protocol=None, metrics_port=None):
        http_port = http_port or free_port()
        internal_port = internal_port or free_port()
        grpc_port = grpc_port or free_port()
        args = [SKIFFD, "--dapr-http-port", http_port, "--dapr-internal-grpc-port", internal_port,
                "--dapr-grpc-port", grpc_port]
        # A port of its own for the metrics, never 9090: a Prometheus or another service of the
        # machine may hold that. metrics_port=False leaves the flag out (the default applies).
        if metrics_port is not False and not any(str(a).startswith(("--metrics-port", "--enable-metrics=false"))
                                                 for a in extra):
            metrics_port = metrics_port or free_port()
            args += ["--metrics-port", metrics_port]
        if app_id:
            args += ["--app-id", app_id]
        if app_port:
            args += ["--app-port", app_port]
        if app_protocol:
            args += ["--app-protocol", app_protocol]
        if config:
            cfg = self.tmp / f"skiff-{http_port}.toml"
            cfg.write_text(config)
            args += ["--config", cfg]
        args += list(extra)
        p = self.start(args, f"skiffd-{app_id or 'caller'}-{http_port}", env)
        p.http_port, p.internal_port, p.grpc_port = http_port, internal_port, grpc_port
        p.metrics_port = metrics_port or None
        p.cluster = self
        p.url = f"http://127.0.0.1:{http_port}"
        if wait_ready:
            wait_until(lambda: "skiffd ready" in p.output() or not p.running(), what=f"skiffd {app_id} ready")
            assert p.running(), p.output()
        return p

    def check_config(self, config=None, extra=(), env=None):
        """Runs `skiffd --check-config` on the arguments a sidecar would start with, and `skiff config
        check` on the same file; both must agree. Returns skiffd's CompletedProcess (stderr holds
        the error)."""
        args = [str(SKIFFD)]
        cfg = None
        if config is not None:
            cfg = self.tmp / f"check-{len(list(self.tmp.glob('check-*.toml')))}.toml"
            cfg.write_text(config)
            args += ["--config", str(cfg)]
        args += [str(a) for a in extra]
        r = subprocess.run(args + ["--check-config"], capture_output=True, text=True, timeout=30,
                           env=env or self.env)
        if cfg is not None and not extra:
            cli = subprocess.run([str(SKIFF), "config", "check", "--config", str(cfg)], capture_output=True,
                                 text=True, timeout=30, env=env or self.env)
            assert (cli.returncode == 0) == (r.returncode == 0), (r.stderr, cli.stderr)
        return r

    def refused(self, app_id=None, config=None, extra=(), env=None, exit_code=1, metrics_port=None):
        """A sidecar that must refuse to start: checks that it exits with `exit_code`, and that check
        mode refuses the same arguments. Returns (skiffd's output, check mode's stderr)."""
        p = self.sidecar(app_id, config=config, extra=extra, env=env, wait_ready=False,
                         metrics_port=metrics_port)
        assert p.proc.wait(timeout=10) == exit_code, p.output()
        args = list(extra) + (["--app-id", app_id] if app_id else [])
        checked = self.check_config(config, args, env)
        assert checked.returncode == 2, (checked.stdout, checked.stderr)
        assert "configuration OK" not in checked.stdout
        return p.output(), checked.stderr

    def stop_all(self):
        for p in reversed(self.processes):
            p.stop()


def read_events(path):
    """The JSON-lines events a test app appended to path (a line still being written is left out)."""
    try:
        text = Path(path).read_text()
    except FileNotFoundError:
        return []
    return [json.loads(line) for line in text.split("\n")[:-1] if line]


def invoke_url(sidecar, app, method):
    return f"{sidecar.url}/v1.0/invoke/{app}/method/{method}"


def raw_http(port, data, timeout=5.0):
    """Sends raw bytes and returns everything the server answers until it closes or times out."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                chunks.append(chunk)
                if b"\r\n\r\n" in b"".join(chunks) and b"Connection: close" not in b"".join(chunks):
                    break
        except socket.timeout:
            pass
        return b"".join(chunks)


__all__ = ["Cluster", "wait_until", "free_port", "invoke_url", "raw_http", "requests", "SKIFF", "SKIFFD",
           "BROKEN_PLUGINS", "BUILD", "REPO", "PLUGIN_PATH", "port_open", "read_events", "ECHO_SERVER"]
