"""Bodies of any size stream through caller sidecar -> transport -> callee sidecar -> app and back:
memory per call stays bounded, a slow reader slows the app down instead of filling the sidecars, and
server-sent events arrive one by one. Bodies with a Content-Length up to api.max_body_size are
buffered; larger and chunked ones stream; `[api] streaming = false` brings back 413 for bodies over
the limit.

The app is tests/integration/streaming_app.py (run with this interpreter). Every sidecar's VmRSS is
sampled from /proc/<pid>/status on a background thread while data flows; peaks and throughputs are
printed to the terminal (and recorded as junit properties) so the run log shows them."""
import functools
import hashlib
import http.client
import json
import mmap
import select
import socket
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

import streaming_app
from harness import SKIFFD, free_port, invoke_url, port_open, requests, wait_until

APP = Path(__file__).with_name("streaming_app.py")
MiB = 1 << 20
GiB = 1 << 30
MAX_BODY = 4 * MiB               # api.max_body_size default
MAX_SIDECAR_RSS = 64 * MiB       # peak VmRSS of each sidecar while a large body flows
MAX_RSS_GROWTH = 64 * MiB        # growth of each sidecar's VmRSS while a reader stalls
KERNEL_SLACK = 64 * MiB          # what socket buffers on the three hops may hold on top of the sidecars
TIMEOUT = (10, 300)              # requests: connect, and each read
SSE_MAX_LAG = 0.2                # seconds from an event's send to its arrival through two sidecars
# The callee's app.timeout bounds a whole call; a GiB on a loaded 2-core machine may take over the
# default minute, which is not what these tests are about.
CALLEE_CONFIG = '[app]\ntimeout = "10m"\n'


@functools.lru_cache(maxsize=None)
def sanitized_build():
    """ASan keeps freed memory in quarantine, so RSS bounds mean nothing for such a build."""
    with open(SKIFFD, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
        return m.find(b"__asan_init") != -1


def rss_bytes(pid):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no VmRSS for {pid}")


class RssSampler:
    """Samples the VmRSS of some processes every few milliseconds on a background thread."""

    def __init__(self, processes, interval=0.02):
        self.processes = processes  # name -> harness Process
        self.interval = interval
        self.baseline = {name: rss_bytes(p.proc.pid) for name, p in processes.items()}
        self.peak = dict(self.baseline)
        self.samples = 0
        self.times = []
        self.errors = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            for name, p in self.processes.items():
                try:
                    value = rss_bytes(p.proc.pid)
                except (OSError, AssertionError) as e:  # the process is gone; the test will notice
                    self.errors.append(f"{name}: {e}")
                    continue
                with self._lock:
                    self.peak[name] = max(self.peak[name], value)
            with self._lock:
                self.samples += 1
                self.times.append(time.monotonic())
            self._stop.wait(self.interval)  # the sampling period, not a synchronisation

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=10)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def covered(self, since, seconds):
        """True once samples were taken from `since` for at least `seconds` (and at least 10 of them)."""
        with self._lock:
            after = [t for t in self.times if t >= since]
        return len(after) >= 10 and after[-1] - since >= seconds

    def mib(self, values):
        return ", ".join(f"{name} {v / MiB:.1f} MiB" for name, v in values.items())

    def summary(self):
        return f"peak RSS: {self.mib(self.peak)} (before: {self.mib(self.baseline)}; {self.samples} samples)"

    def assert_peak_below(self, bound):
        if sanitized_build():
            return
        for name, peak in self.peak.items():
            assert peak < bound, \
                f"{name} peaked at {peak / MiB:.1f} MiB (bound {bound / MiB:.0f} MiB); {self.summary()}"

    def assert_growth_below(self, bound):
        if sanitized_build():
            return
        for name, peak in self.peak.items():
            growth = peak - self.baseline[name]
            assert growth < bound, \
                f"{name} grew by {growth / MiB:.1f} MiB (bound {bound / MiB:.0f} MiB); {self.summary()}"


class SizedBody:
    """`size` bytes of the app's pattern, produced 1 MiB at a time. It has a length, so requests sends
    a Content-Length and streams the pieces; the sha256 is computed while they are produced."""

    def __init__(self, size):
        self.size = size
        self.hash = hashlib.sha256()

    def __len__(self):
        return self.size

    def __iter__(self):
        for piece in streaming_app.pattern(self.size):
            self.hash.update(piece)
            yield piece


def unsized_body(size):
    """A generator: requests sends it chunked (no length known)."""
    yield from streaming_app.pattern(size)


def download(url, chunk=MiB):
    """GETs url as a stream (status 200 expected), hashing as it reads.
    Returns (bytes, sha256, seconds, response)."""
    started = time.monotonic()
    h = hashlib.sha256()
    count = 0
    with requests.get(url, stream=True, timeout=TIMEOUT) as r:
        assert r.status_code == 200, r.text[:300]
        for piece in r.iter_content(chunk):
            h.update(piece)
            count += len(piece)
    return count, h.hexdigest(), time.monotonic() - started, r


def mb_per_s(size, seconds):
    return size / MiB / max(seconds, 1e-9)


@pytest.fixture
def report(request, capsys, record_property):
    """Prints past pytest's capture (the run log shows it) and records a junit property."""
    def emit(text, **properties):
        for k, v in properties.items():
            record_property(k, v)
        with capsys.disabled():
            print(f"\n[{request.node.name}] {text}", flush=True)
    return emit


def start_streaming_app(cluster):
    port = free_port()
    app = cluster.start([sys.executable, APP, "--port", port], f"streaming-app-{port}")
    wait_until(lambda: port_open(port) or not app.running(), what=f"streaming app on {port}")
    assert app.running(), app.output()
    app.port = port
    app.url = f"http://127.0.0.1:{port}"
    return app


@pytest.fixture
def streaming(cluster):
    """client (caller sidecar, no app) -> stream (callee sidecar) -> streaming_app.py."""
    app = start_streaming_app(cluster)
    callee = cluster.sidecar("stream", app_port=app.port, config=CALLEE_CONFIG)
    caller = cluster.sidecar("client")
    # one call through before anything is measured: both sidecars have resolved and connected
    r = requests.get(invoke_url(caller, "stream", "download") + "?size=1000", timeout=30)
    assert r.status_code == 200, r.text[:300]
    assert r.content == b"".join(streaming_app.pattern(1000))
    return SimpleNamespace(caller=caller, callee=callee, app=app,
                           sidecars={"caller": caller, "callee": callee})


def assert_sidecars_serve(s):
    for name, p in s.sidecars.items():
        assert p.running(), f"{name} sidecar died:\n{p.output()[-3000:]}"
    r = requests.post(invoke_url(s.caller, "stream", "upload"), data=b"still here", timeout=30)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["bytes"] == 10


# ---------------------------------------------------------------------------------------------------
# uploads

@pytest.mark.large
def test_1gib_upload_with_content_length_streams_in_bounded_memory(streaming, report):
    body = SizedBody(GiB)
    with RssSampler(streaming.sidecars) as rss:
        started = time.monotonic()
        r = requests.post(invoke_url(streaming.caller, "stream", "upload"), data=body, timeout=TIMEOUT,
                          headers={"Content-Type": "application/octet-stream"})
        seconds = time.monotonic() - started
    assert r.status_code == 200, r.text[:300]
    seen = r.json()
    report(f"1 GiB upload (Content-Length) through two sidecars: {mb_per_s(GiB, seconds):.0f} MB/s "
           f"({seconds:.1f} s, app saw {seen['framing']}); {rss.summary()}",
           upload_mb_per_s=round(mb_per_s(GiB, seconds)), **{f"upload_peak_rss_{k}": v for k, v in rss.peak.items()})
    assert seen["bytes"] == GiB
    assert seen["sha256"] == body.hash.hexdigest()
    rss.assert_peak_below(MAX_SIDECAR_RSS)
    # The same upload straight to the app, in the same run, as the baseline.
    direct_body = SizedBody(GiB)
    started = time.monotonic()
    direct = requests.post(f"{streaming.app.url}/upload", data=direct_body, timeout=TIMEOUT,
                           headers={"Content-Type": "application/octet-stream"})
    direct_seconds = time.monotonic() - started
    assert direct.json()["sha256"] == seen["sha256"]
    report(f"1 GiB upload straight to the app: {mb_per_s(GiB, direct_seconds):.0f} MB/s",
           direct_upload_mb_per_s=round(mb_per_s(GiB, direct_seconds)))
    assert_sidecars_serve(streaming)


def test_256mib_chunked_upload_streams_in_bounded_memory(streaming, report):
    size = 256 * MiB
    with RssSampler(streaming.sidecars) as rss:
        started = time.monotonic()
        r = requests.post(invoke_url(streaming.caller, "stream", "upload"), data=unsized_body(size),
                          timeout=TIMEOUT)
        seconds = time.monotonic() - started
    assert r.status_code == 200, r.text[:300]
    seen = r.json()
    report(f"256 MiB chunked upload through two sidecars: {mb_per_s(size, seconds):.0f} MB/s; {rss.summary()}",
           chunked_upload_mb_per_s=round(mb_per_s(size, seconds)))
    assert seen["bytes"] == size
    assert seen["sha256"] == streaming_app.expected_sha256(size)
    rss.assert_peak_below(MAX_SIDECAR_RSS)
    assert_sidecars_serve(streaming)


@pytest.mark.parametrize("size,chunked", [(0, True), (1, True), (70_000, True), (MAX_BODY, True),
                                          (MAX_BODY - 1, False), (MAX_BODY, False), (MAX_BODY + 1, False),
                                          (5 * MiB, False), (5 * MiB + 7, True)])
def test_bodies_on_both_sides_of_the_max_size_arrive_whole(streaming, size, chunked):
    """Buffered (Content-Length up to max_body_size) and streamed (larger, or chunked) bodies, both
    ways: the app sees every byte of the upload and the caller every byte of the download."""
    url = invoke_url(streaming.caller, "stream", "upload")
    r = requests.post(url, data=unsized_body(size) if chunked else SizedBody(size), timeout=TIMEOUT)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["bytes"] == size
    assert r.json()["sha256"] == streaming_app.expected_sha256(size)

    count, digest, _, resp = download(invoke_url(streaming.caller, "stream", "download") +
                                      f"?size={size}&chunked={int(chunked)}")
    assert (count, digest) == (size, streaming_app.expected_sha256(size))
    assert resp.headers["X-Pattern-Size"] == str(size)  # the app's own headers come back too
    if "Content-Length" in resp.headers:
        assert int(resp.headers["Content-Length"]) == size


# ---------------------------------------------------------------------------------------------------
# downloads

@pytest.mark.large
def test_1gib_download_with_content_length_streams_in_bounded_memory(streaming, report):
    url = invoke_url(streaming.caller, "stream", "download") + f"?size={GiB}&chunked=0"
    with RssSampler(streaming.sidecars) as rss:
        count, digest, seconds, resp = download(url)
    assert count == GiB
    assert digest == streaming_app.expected_sha256(GiB)
    if "Content-Length" in resp.headers:
        assert int(resp.headers["Content-Length"]) == GiB
    direct_count, direct_digest, direct_seconds, _ = download(f"{streaming.app.url}/download?size={GiB}&chunked=0")
    assert (direct_count, direct_digest) == (count, digest)
    report(f"1 GiB download (Content-Length): {mb_per_s(GiB, seconds):.0f} MB/s through two sidecars "
           f"({seconds:.1f} s), {mb_per_s(GiB, direct_seconds):.0f} MB/s straight from the app "
           f"({direct_seconds:.1f} s); {rss.summary()}",
           download_mb_per_s=round(mb_per_s(GiB, seconds)),
           direct_download_mb_per_s=round(mb_per_s(GiB, direct_seconds)),
           **{f"download_peak_rss_{k}": v for k, v in rss.peak.items()})
    rss.assert_peak_below(MAX_SIDECAR_RSS)
    assert_sidecars_serve(streaming)


def test_256mib_chunked_download_streams_in_bounded_memory(streaming, report):
    size = 256 * MiB
    url = invoke_url(streaming.caller, "stream", "download") + f"?size={size}&chunked=1"
    with RssSampler(streaming.sidecars) as rss:
        count, digest, seconds, _ = download(url)
    report(f"256 MiB chunked download through two sidecars: {mb_per_s(size, seconds):.0f} MB/s; {rss.summary()}",
           chunked_download_mb_per_s=round(mb_per_s(size, seconds)))
    assert count == size
    assert digest == streaming_app.expected_sha256(size)
    rss.assert_peak_below(MAX_SIDECAR_RSS)
    assert_sidecars_serve(streaming)


def test_a_stalled_reader_holds_the_app_back_instead_of_filling_the_sidecars(streaming, report):
    size = 512 * MiB
    progress_url = f"{streaming.app.url}/progress?id=slow"

    def app_progress():
        return requests.get(progress_url, timeout=10).json()

    url = invoke_url(streaming.caller, "stream", "download") + f"?size={size}&chunked=0&id=slow"
    read = 0
    with RssSampler(streaming.sidecars) as rss:
        r = requests.get(url, stream=True, timeout=TIMEOUT)
        assert r.status_code == 200, r.text[:300]
        pieces = r.iter_content(MiB)
        h = hashlib.sha256()

        def take(n):
            nonlocal read
            while n > 0:
                piece = next(pieces)
                h.update(piece)
                read += len(piece)
                n -= len(piece)

        take(MiB)
        # stall: read nothing while the sampler watches for two seconds
        stalled = time.monotonic()
        wait_until(lambda: rss.covered(stalled, 2.0), timeout=60, what="two seconds of RSS samples")
        # then a slow trickle up to 8 MiB, a short stall after each MiB, and a last long stall
        for _ in range(7):
            take(MiB)
            since = time.monotonic()
            wait_until(lambda: rss.covered(since, 0.2), timeout=60, what="RSS samples")
        stalled = time.monotonic()
        wait_until(lambda: rss.covered(stalled, 2.0), timeout=60, what="two seconds of RSS samples")
        state = app_progress()
    report(f"stalled reader: read {read / MiB:.0f} MiB, the app had sent {state['sent'] / MiB:.0f} MiB; "
           f"{rss.summary()}", stalled_app_sent=state["sent"])
    assert 8 * MiB <= read < 9 * MiB
    assert not state["done"], f"the app sent all {size} bytes to a reader that took 8 MiB: nothing held it back"
    # what the app got rid of sits in the sidecars (bounded below) and in socket buffers
    assert state["sent"] - read < 2 * MAX_RSS_GROWTH + KERNEL_SLACK, state
    rss.assert_growth_below(MAX_RSS_GROWTH)

    # the reader goes away: the call ends at the app too (it fails writing, or is drained to the end)
    r.close()
    wait_until(lambda: app_progress()["done"], timeout=120, what="the abandoned download to end at the app")
    assert_sidecars_serve(streaming)
    # and a whole download afterwards is intact
    count, digest, _, _ = download(invoke_url(streaming.caller, "stream", "download") + f"?size={9 * MiB}")
    assert (count, digest) == (9 * MiB, streaming_app.expected_sha256(9 * MiB))


# ---------------------------------------------------------------------------------------------------
# server-sent events

def test_server_sent_events_arrive_one_by_one(streaming, report):
    count, interval_ms = 5, 300
    conn = http.client.HTTPConnection("127.0.0.1", streaming.caller.http_port, timeout=30)
    try:
        conn.request("GET", f"/v1.0/invoke/stream/method/sse?count={count}&interval_ms={interval_ms}",
                     headers={"Accept": "text/event-stream"})
        resp = conn.getresponse()
        assert resp.status == 200, resp.read()[:300]
        assert resp.getheader("Content-Type", "").startswith("text/event-stream")
        events, buffer = [], b""
        while True:
            data = resp.read1(65536)  # returns as soon as anything arrived
            if not data:
                break
            arrived = time.time()
            buffer += data
            while b"\n\n" in buffer:
                raw, buffer = buffer.split(b"\n\n", 1)
                fields = dict(line.split(": ", 1) for line in raw.decode().splitlines() if ": " in line)
                events.append((json.loads(fields["data"]), fields, arrived))
    finally:
        conn.close()
    assert buffer.strip() == b""
    assert [e["seq"] for e, _, _ in events] == list(range(count))
    assert [f["id"] for _, f, _ in events] == [str(i) for i in range(count)]
    assert all(f["event"] == "tick" for _, f, _ in events)
    lags = [arrived - e["sent"] for e, _, arrived in events]
    report("SSE lag per event through two sidecars: " + ", ".join(f"{lag * 1000:.1f} ms" for lag in lags))
    assert max(lags) < SSE_MAX_LAG, lags
    assert events[-1][2] - events[0][2] > (count - 1) * interval_ms / 1000 * 0.8


# ---------------------------------------------------------------------------------------------------
# streaming switched off

def parse_response(answer):
    """(status, head, body) of a complete HTTP/1.1 response in answer, or None while incomplete."""
    if b"\r\n\r\n" not in answer:
        return None
    head, _, rest = answer.partition(b"\r\n\r\n")
    lines = head.decode(errors="replace").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = b""
        while True:
            line, sep, after = rest.partition(b"\r\n")
            if not sep:
                return None
            size = int(line.split(b";")[0], 16)
            if size == 0:
                return status, headers, body
            if len(after) < size + 2:
                return None
            body += after[:size]
            rest = after[size + 2:]
    length = int(headers.get("content-length", "0"))
    if len(rest) < length:
        return None
    return status, headers, rest[:length]


def post_raw(port, path, body_pieces, headers):
    """POSTs over a plain socket, reading the answer while sending: a server may answer (413) and
    close before taking the whole body, and the answer must not be lost to a reset."""
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
    answer = b""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(head.encode())
        s.setblocking(False)
        pending = b""
        pieces = iter(body_pieces)
        sending = True
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not parse_response(answer):
            if sending and not pending:
                pending = next(pieces, None)
                if pending is None:
                    sending, pending = False, b""
            readable, writable, _ = select.select([s], [s] if sending else [], [], 1.0)
            if readable:
                try:
                    data = s.recv(65536)
                except ConnectionResetError:
                    break
                if not data:
                    break
                answer += data
            elif writable:
                try:
                    pending = pending[s.send(pending):]
                except (BrokenPipeError, ConnectionResetError):
                    sending = False
    parsed = parse_response(answer)
    assert parsed, f"no complete answer: {answer[:300]!r}"
    return parsed


def chunk_frames(size):
    for piece in streaming_app.pattern(size):
        yield b"%x\r\n" % len(piece) + piece + b"\r\n"
    yield b"0\r\n\r\n"


def test_with_streaming_off_bodies_over_the_max_size_get_413(cluster):
    app = start_streaming_app(cluster)
    cluster.sidecar("stream", app_port=app.port, config=CALLEE_CONFIG)
    caller = cluster.sidecar("client", config="[api]\nstreaming = false\n")
    path = "/v1.0/invoke/stream/method/upload"
    size = 5 * MiB
    for framing, pieces, headers in [
            ("content-length", streaming_app.pattern(size), {"Content-Length": size}),
            ("chunked", chunk_frames(size), {"Transfer-Encoding": "chunked"})]:
        status, head, body = post_raw(caller.http_port, path, pieces, headers)
        assert status == 413, (framing, head, body[:300])
        assert json.loads(body)["errorCode"] == "ERR_BODY_TOO_LARGE", (framing, body)
    # up to the limit still passes, and the sidecar keeps serving
    r = requests.post(invoke_url(caller, "stream", "upload"), data=SizedBody(MAX_BODY), timeout=TIMEOUT)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["sha256"] == streaming_app.expected_sha256(MAX_BODY)
