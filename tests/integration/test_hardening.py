"""Hostile input through real processes: request smuggling on the app-facing port, header and request
injection through the gRPC API and the internal port, framing a body contradicts, answers that would
forge headers towards the caller, and an app that is down behind one of two instances. An app that
records every request it parses proves that nothing extra reached it."""
import json
import socket
import ssl
import sqlite3
import sys
import threading
import time
from pathlib import Path

import grpc
import pytest

import internal_wire as wire
import tls_peer
from harness import invoke_url, port_open, raw_http, read_events, requests, wait_until

RECORDING_APP = Path(__file__).with_name("recording_app.py")
INVALID_ARGUMENT = 3


class Recorder:
    def __init__(self, cluster, name):
        from harness import free_port
        self.port = free_port()
        self.log = cluster.tmp / f"recorded-{name}.jsonl"
        self.proc = cluster.start([sys.executable, RECORDING_APP, "--port", self.port, "--log", self.log],
                                  f"recording-app-{name}")
        wait_until(lambda: port_open(self.port), what="recording app")

    def requests(self):
        return read_events(self.log)

    def paths(self):
        return [r.get("path") for r in self.requests()]

    def all_headers(self):
        return [name.lower() for r in self.requests() for name, _ in r.get("headers", [])]


@pytest.fixture
def recorded(cluster):
    """order (caller, no app) and cart, whose app records every request."""
    app = Recorder(cluster, "cart")
    cart = cluster.sidecar("cart", app_port=app.port)
    order = cluster.sidecar("order")
    return order, cart, app


def exchange_until_closed(port, request):
    """Sends raw bytes and returns everything the server answers until it closes the connection."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(request)
        answer = b""
        while piece := s.recv(65536):
            answer += piece
        return answer


def status_of(answer):
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else None


# --- request framing on the app-facing port (RFC 9112 6.1) -----------------------------------------

SMUGGLED = b"GET /v1.0/invoke/cart/method/smuggled HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize("framing", [
    b"Transfer-Encoding: gzip\r\n",
    b"Transfer-Encoding: chunked, gzip\r\n",
    b"Transfer-Encoding: gzip\r\nContent-Length: 5\r\n",
    b"Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
    b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n",
    b"Content-Length: 5\r\nContent-Length: 6\r\n",
])
def test_untrustworthy_framing_gets_400_and_nothing_after_it_is_served(recorded, framing):
    order, _, app = recorded
    req = b"POST /v1.0/invoke/cart/method/first HTTP/1.1\r\nHost: x\r\n" + framing + b"\r\n" + SMUGGLED
    answer = raw_http(order.http_port, req)
    assert status_of(answer) == 400, answer
    assert b"connection: close" in answer.lower()
    # The sidecar keeps serving, and neither request reached the app.
    assert requests.post(invoke_url(order, "cart", "after"), data=b"x", timeout=10).status_code == 200
    assert app.paths() == ["/after"]


@pytest.mark.parametrize("target", [b"/v1.0/invoke/%FF/method/x", b"/v1.0/invoke/\xff\xfe/method/x",
                                    b"/v1.0/invoke/a\xff.b/method/x", b"/v1.0/invoke/cart.%C0%AF/method/x"])
def test_bytes_that_are_not_utf8_in_an_app_id_get_a_json_400(recorded, target):
    # The error body quotes the app id: its JSON must be written, not the connection dropped.
    order, _, app = recorded
    answer = raw_http(order.http_port, b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert status_of(answer) == 400, answer
    body = json.loads(answer.partition(b"\r\n\r\n")[2])
    assert body["errorCode"] == "ERR_DIRECT_INVOKE" and body["message"]
    assert app.paths() == []


def test_a_coding_other_than_chunked_gets_501(recorded):
    order, _, app = recorded
    req = (b"POST /v1.0/invoke/cart/method/first HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
           b"0\r\n\r\n")
    answer = raw_http(order.http_port, req)
    assert status_of(answer) == 501, answer
    assert app.paths() == []


def test_transfer_encoding_in_http_1_0_is_faulty_framing(recorded):
    order, _, app = recorded
    req = (b"POST /v1.0/invoke/cart/method/first HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
           b"3\r\nabc\r\n0\r\n\r\n" + SMUGGLED)
    answer = raw_http(order.http_port, req)
    assert answer.startswith(b"HTTP/1.") and b" 400 " in answer.split(b"\r\n")[0], answer
    assert app.paths() == []


def test_a_chunked_request_still_streams_through(recorded):
    order, _, app = recorded
    req = (b"POST /v1.0/invoke/cart/method/chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
           b"Connection: close\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
    answer = raw_http(order.http_port, req)
    assert status_of(answer) == 200, answer
    assert [(r["path"], r["body"]) for r in app.requests()] == [("/chunked", "abcde")]


# --- injection through the gRPC API -----------------------------------------------------------------

@pytest.fixture
def grpc_recorded(recorded):
    import grpc_protos
    order, cart, app = recorded
    wait_until(lambda: port_open(order.grpc_port), what="gRPC API")
    ch = grpc_protos.channel(order.grpc_port)
    yield order, app, grpc_protos, ch
    ch.close()


def grpc_invoke(grpc_protos, ch, method="m", content_type="text/plain", querystring="", metadata=()):
    P = grpc_protos.load()
    req = P.runtime.InvokeServiceRequest(id="cart")
    req.message.method = method
    req.message.content_type = content_type
    req.message.data.value = b"hello"
    req.message.http_extension.verb = P.common.HTTPExtension.POST
    req.message.http_extension.querystring = querystring
    return grpc_protos.dapr_stubs(ch).InvokeService.with_call(req, timeout=10, metadata=list(metadata))


@pytest.mark.parametrize("field, value", [
    ("querystring", "a=1 HTTP/1.1\r\ndapr-caller-app-id: admin\r\n\r\nGET /smuggled?x=1"),
    ("querystring", "a=1\nb"),
    ("content_type", "text/plain\r\ndapr-caller-app-id: admin"),
    ("content_type", "text/plain\r\nContent-Length: 0\r\n\r\nGET /smuggled HTTP/1.1"),
])
def test_grpc_fields_that_would_inject_are_refused_with_invalid_argument(grpc_recorded, field, value):
    _, app, grpc_protos, ch = grpc_recorded
    with pytest.raises(grpc.RpcError) as err:
        grpc_invoke(grpc_protos, ch, **{field: value})
    assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT, err.value.details()
    assert "invalid request" in err.value.details()
    res, _ = grpc_invoke(grpc_protos, ch, method="after")
    assert res.data.value == b"ok"
    assert app.paths() == ["/after"]
    assert "dapr-caller-app-id" not in [n for n in app.all_headers()] or all(
        v == "order" for r in app.requests() for n, v in r["headers"] if n.lower() == "dapr-caller-app-id")


def test_binary_metadata_reaches_an_http_app_base64_encoded_never_raw(grpc_recorded):
    _, app, grpc_protos, ch = grpc_recorded
    raw = b"\r\ndapr-caller-app-id: admin\r\n\x00\xff"
    grpc_invoke(grpc_protos, ch, method="bin", metadata=[("x-data-bin", raw)])
    (rec,) = app.requests()
    headers = {n.lower(): v for n, v in rec["headers"]}
    import base64
    assert base64.b64decode(headers["x-data-bin"]) == raw
    assert headers["dapr-caller-app-id"] == "order"


# --- the internal port ------------------------------------------------------------------------------

def internal_call(cart, **head):
    """A call to cart's internal port over mTLS, as order's sidecar would make it."""
    body = head.pop("body", [wire.frame(wire.DATA_END, b"")])
    return wire.call(cart.internal_port, wire.call_head("cart", **head), body,
                     dial=lambda port, timeout: tls_peer.dial(cart.cluster, port, timeout=timeout))


@pytest.mark.parametrize("head", [
    {"method": "x HTTP/1.1\r\nHost: evil\r\n\r\nGET /smuggled"},
    {"method": "m", "verb": "GET /smuggled HTTP/1.1\r\nHost: evil\r\n\r\nPOST"},
    {"method": "m", "verb": ""},
    {"method": "m", "query": "a=1 HTTP/1.1\r\n\r\nGET /smuggled?"},
    {"method": "m", "headers": [("X-Note", "hi\r\ndapr-caller-app-id: admin")]},
    {"method": "m", "headers": [("X-Note\r\ndapr-caller-app-id", "admin")]},
    {"method": "m", "headers": [("Content-Length", "2"), ("Content-Length", "3")]},
    {"method": "m", "headers": [("Content-Length", "-1")]},
])
def test_internal_call_heads_that_would_inject_get_a_fail_and_reach_nothing(recorded, head):
    _, cart, app = recorded
    frames = internal_call(cart, **head)
    assert frames and frames[0][0] == wire.FAIL, frames
    status, message = wire.parse_fail(frames[0][1])
    assert status == INVALID_ARGUMENT, message
    assert "invalid request" in message
    frames = internal_call(cart, method="after")
    assert frames[0][0] == wire.RESPONSE_HEAD
    assert app.paths() == ["/after"]
    assert cart.running()


@pytest.mark.parametrize("declared, pieces", [
    ("10", [b"abcde"]),                  # shorter than declared, one piece
    ("3", [b"abcde"]),                   # longer than declared, one piece
    ("10", [b"abc", b"de"]),             # shorter, streamed
    ("3", [b"ab", b"cde" + SMUGGLED]),   # longer, streamed: the excess must never reach the app
])
def test_a_body_that_contradicts_its_declared_length_fails_at_once(recorded, declared, pieces):
    _, cart, app = recorded
    body = [wire.frame(wire.DATA, p) for p in pieces[:-1]] + [wire.frame(wire.DATA_END, pieces[-1])]
    started = time.monotonic()
    frames = internal_call(cart, method="framed", headers=[("Content-Length", declared)], body=body)
    assert time.monotonic() - started < 5, "the callee waited instead of failing"
    assert frames and frames[-1][0] == wire.FAIL, frames
    status, message = wire.parse_fail(frames[-1][1])
    assert status == INVALID_ARGUMENT and "Content-Length" in message, message
    # The app's connection is not desynchronised: the next call is one clean request.
    frames = internal_call(cart, method="after", headers=[("Content-Length", "2")],
                           body=[wire.frame(wire.DATA_END, b"ok")])
    assert frames[0][0] == wire.RESPONSE_HEAD
    assert "/v1.0/invoke/cart/method/smuggled" not in app.paths() and "/smuggled" not in app.paths()
    after = [r for r in app.requests() if r["path"] == "/after"]
    assert len(after) == 1 and after[0]["body"] == "ok" and after[0]["complete"]
    assert all(not r["complete"] for r in app.requests() if r["path"] == "/framed")


# --- answers towards the caller ---------------------------------------------------------------------

class LoopbackServer:
    """A server on a real loopback socket that serves each connection with answer(conn), one at a time."""

    def __init__(self):
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(16)
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return  # stopped
            with conn:
                conn.settimeout(10)
                try:
                    self.answer(conn)
                except (EOFError, OSError):
                    pass

    def stop(self):
        self.listener.close()


class FakeCalleeSidecar(LoopbackServer):
    """Speaks the tcp transport as a callee sidecar whose answers are whatever the test says."""

    def __init__(self, answer_frames):
        self.answer_frames = answer_frames
        super().__init__()

    tls = None  # set by register: the fake speaks mTLS as the app it registers as

    def answer(self, conn):
        if self.tls:
            conn = self.tls.wrap_socket(conn, server_side=True)
        wire.recv_exact(conn, len(wire.PREFACE))
        kind, _ = wire.read_frame(conn)
        while kind != wire.DATA_END:
            kind, _ = wire.read_frame(conn)
        conn.sendall(b"".join(self.answer_frames))

    def register(self, db_path, app_id):
        self.tls = tls_peer.server_context(db_path.parent / "ca", db_path.parent, app_id)
        with sqlite3.connect(db_path, timeout=10) as db:
            db.execute("INSERT OR REPLACE INTO hosts (registration_id, address, app_id, namespace, last_update)"
                       " VALUES (?, ?, ?, 'default', ?)",
                       (f"fake-{self.port}", f"127.0.0.1:{self.port}", app_id, int(time.time() * 1000) + 3600_000))

@pytest.fixture
def fake_callee(cluster):
    fakes = []

    def make(app_id, frames):
        fake = FakeCalleeSidecar(frames)
        fakes.append(fake)
        wait_until(lambda: cluster.db_path.exists(), what="the resolver's database")
        fake.register(cluster.db_path, app_id)
        return fake

    yield make
    for f in fakes:
        f.stop()


@pytest.mark.parametrize("header", [("X-Note", b"hi\r\nSet-Cookie: session=forged"),
                                    ("X-Note\r\nSet-Cookie", b"forged")])
def test_an_answer_with_an_injected_header_is_refused_not_relayed(cluster, fake_callee, header):
    order = cluster.sidecar("order")
    fake_callee("evil", [wire.response_head(200, [header]), wire.frame(wire.DATA_END, b"hi")])
    res = requests.get(invoke_url(order, "evil", "x"), timeout=10)
    assert res.status_code == 502, res.text
    assert "set-cookie" not in {k.lower() for k in res.headers}
    assert res.json()["errorCode"] == "ERR_DIRECT_INVOKE"
    assert requests.get(f"{order.url}/v1.0/healthz", timeout=5).status_code == 204


def test_a_streamed_answer_longer_than_its_content_length_is_cut_not_relayed(cluster, fake_callee):
    order = cluster.sidecar("order")
    fake_callee("evil", [wire.response_head(200, [("Content-Length", "4")]), wire.frame(wire.DATA, b"abcd"),
                         wire.frame(wire.DATA_END, b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged")])
    req = (b"GET /v1.0/invoke/evil/method/x HTTP/1.1\r\nHost: x\r\n\r\n"
           b"GET /v1.0/healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = exchange_until_closed(order.http_port, req)
    assert answer.startswith(b"HTTP/1.1 200 OK"), answer
    assert b"forged" not in answer
    head, _, body = answer.partition(b"\r\n\r\n")
    assert body == b"abcd"  # then the connection closed: nothing past the declared length


# --- an app that is down behind one instance --------------------------------------------------------

def test_a_callee_whose_app_refuses_connections_is_retried_on_another_instance(cluster):
    from harness import free_port
    app = cluster.app("cart")
    down = cluster.sidecar("cart", app_port=free_port())  # nothing listens there
    up = cluster.sidecar("cart", app_port=app.port)
    order = cluster.sidecar("order")
    for i in range(12):
        res = requests.post(invoke_url(order, "cart", f"echo/{i}"), data=b"x", timeout=10)
        assert res.status_code == 200, res.text
    assert "cannot connect to app" in down.output()


# --- the internal port is as bounded as the HTTP API ------------------------------------------------

def closed_by_peer(sock, deadline_s):
    """Waits (bounded) until the peer closes: recv returns b"" or the connection is reset."""
    sock.settimeout(deadline_s)
    try:
        while True:
            if not sock.recv(4096):
                return True
    except (ConnectionResetError, ssl.SSLError):
        return True
    except socket.timeout:
        return False


def test_internal_connections_that_send_no_head_or_drip_it_are_closed(cluster):
    app = Recorder(cluster, "cart")
    cart = cluster.sidecar("cart", app_port=app.port, config='[transport.config]\nhead_timeout = "300ms"\n')
    with tls_peer.dial(cluster, cart.internal_port) as silent:
        started = time.monotonic()
        assert closed_by_peer(silent, 10)
        assert time.monotonic() - started < 5
    head = wire.PREFACE + wire.call_head("cart", "dripped")
    with tls_peer.dial(cluster, cart.internal_port) as drip:
        started = time.monotonic()
        closed = False
        for byte in head:
            try:
                drip.sendall(bytes([byte]))
            except (BrokenPipeError, ConnectionResetError, ssl.SSLError):
                closed = True
                break
            if closed_by_peer(drip, 0.1):  # also paces the drip: one byte per 100 ms at most
                closed = True
                break
        assert closed and time.monotonic() - started < 5
    assert app.paths() == []
    frames = internal_call(cart, method="after")  # a prompt caller is still served
    assert frames[0][0] == wire.RESPONSE_HEAD


# --- answers from apps and endpoints are framed by the same rules -----------------------------------

class RawAnswerApp(LoopbackServer):
    """An app that answers every request with the bytes it was given."""

    def __init__(self, answer):
        self.raw_answer = answer
        super().__init__()

    def answer(self, conn):
        data = b""
        while b"\r\n\r\n" not in data:
            piece = conn.recv(65536)
            if not piece:
                return
            data += piece
        conn.sendall(self.raw_answer)


@pytest.fixture
def raw_app():
    apps = []

    def make(answer):
        apps.append(RawAnswerApp(answer))
        return apps[-1]

    yield make
    for a in apps:
        a.stop()


BAD_ANSWERS = [
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nContent-Length: 5\r\n\r\nhello",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
]


@pytest.mark.parametrize("answer", BAD_ANSWERS)
def test_an_app_answer_with_untrustworthy_framing_is_not_relayed(cluster, raw_app, answer):
    app = raw_app(answer)
    cluster.sidecar("cart", app_port=app.port)
    order = cluster.sidecar("order")
    res = requests.get(invoke_url(order, "cart", "x"), timeout=10)
    assert res.status_code == 500, res.text
    assert "cannot be relayed" in res.json()["message"]


@pytest.mark.parametrize("answer", BAD_ANSWERS)
def test_an_endpoint_answer_with_untrustworthy_framing_is_not_relayed(cluster, raw_app, answer):
    app = raw_app(answer)
    order = cluster.sidecar("order")
    from urllib.parse import quote
    res = requests.get(invoke_url(order, quote(f"http://127.0.0.1:{app.port}", safe=""), "x"), timeout=10)
    assert res.status_code >= 500, res.text
    assert "cannot be relayed" in res.json()["message"]


# --- more ways in: endpoint URLs, configured headers, identity headers, bodiless answers -------------

def test_an_endpoint_url_that_would_split_the_request_line_is_refused(recorded):
    from urllib.parse import quote
    order, _, app = recorded
    url = f"http://127.0.0.1:{app.port}/a HTTP/1.1\r\nX-Forged: 1\r\n\r\nGET /smuggled"
    res = requests.get(invoke_url(order, quote(url, safe=""), "m"), timeout=10)
    assert res.status_code == 400, res.text
    assert "invalid endpoint URL" in res.json()["message"]
    ok = requests.get(invoke_url(order, quote(f"http://127.0.0.1:{app.port}/a", safe=""), "m"), timeout=10)
    assert ok.status_code == 200
    assert app.paths() == ["/a/m"]


def test_an_endpoint_header_with_a_line_break_is_a_config_error(cluster):
    import subprocess
    from harness import SKIFFD
    cfg = cluster.tmp / "endpoint.toml"
    cfg.write_text('[[http_endpoints]]\nname = "ext"\nbase_url = "http://127.0.0.1:1"\n'
                   'headers = { X-Token = "a\\r\\nX-Forged: 1" }\n')
    r = subprocess.run([str(SKIFFD), "--config", str(cfg), "--check-config"], capture_output=True, text=True,
                       timeout=30, env=cluster.env)
    assert r.returncode != 0
    out = r.stdout + r.stderr
    assert "X-Token" in out and "control character" in out and "endpoint.toml" in out, out


@pytest.mark.parametrize("name", ["dapr-caller-app-id", "Dapr-Caller-App-Id", "dapr-caller-namespace",
                                  "dapr_caller_app_id", "Dapr_Caller-Namespace"])
def test_a_client_cannot_forge_the_caller_identity(recorded, name):
    order, _, app = recorded
    assert requests.post(invoke_url(order, "cart", "who"), data=b"x", headers={name: "admin"},
                         timeout=10).status_code == 200
    (rec,) = app.requests()
    seen = [(n.lower(), v) for n, v in rec["headers"] if n.lower().replace("_", "-").startswith("dapr-caller-")]
    assert sorted(seen) == [("dapr-caller-app-id", "order"), ("dapr-caller-namespace", "default")], seen


@pytest.mark.parametrize("verb, status", [("HEAD", 200), ("GET", 204), ("GET", 304)])
def test_a_bodiless_answer_carries_no_body_even_when_the_far_side_sends_one(cluster, fake_callee, verb, status):
    order = cluster.sidecar("order")
    fake_callee("evil", [wire.response_head(status, []),
                         wire.frame(wire.DATA_END, b"HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged")])
    req = (f"{verb} /v1.0/invoke/evil/method/x HTTP/1.1\r\nHost: x\r\n\r\n"
           "GET /v1.0/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").encode()
    answer = exchange_until_closed(order.http_port, req)
    assert b"forged" not in answer, answer
    answers = answer.split(b"HTTP/1.1 ")[1:]  # the bodiless answer, then the health check's
    assert len(answers) == 2, answer
    assert answers[0].startswith(str(status).encode()) and answers[1].startswith(b"204"), answer


def test_binary_metadata_in_an_answer_reaches_an_http_caller_base64_encoded(cluster, fake_callee):
    import base64
    order = cluster.sidecar("order")
    raw = b"\r\nSet-Cookie: forged\r\n\x00"
    fake_callee("evil", [wire.response_head(200, [("x-data-bin", raw)]), wire.frame(wire.DATA_END, b"hi")])
    res = requests.get(invoke_url(order, "evil", "x"), timeout=10)
    assert res.status_code == 200 and res.content == b"hi"
    assert base64.b64decode(res.headers["x-data-bin"]) == raw
    assert "set-cookie" not in {k.lower() for k in res.headers}


class AnswersOnceThenDies(LoopbackServer):
    """An app that answers its first request (keep-alive), takes the second on the same connection,
    then dies without answering: the listener closes, so reconnecting is refused."""

    def __init__(self):
        self.taken = []
        super().__init__()

    def read_request(self, conn, data):
        while b"\r\n\r\n" not in data:
            piece = conn.recv(65536)
            if not piece:
                raise EOFError
            data += piece
        head, _, rest = data.partition(b"\r\n\r\n")
        return head.split(b" ")[1].decode(), rest

    def answer(self, conn):
        path, rest = self.read_request(conn, b"")
        self.taken.append(path)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        path, _ = self.read_request(conn, rest)
        self.taken.append(path)
        self.listener.close()


def test_a_request_the_app_took_is_not_sent_to_another_instance_when_it_dies(cluster):
    dying = AnswersOnceThenDies()
    try:
        cluster.sidecar("cart", app_port=dying.port)
        other = Recorder(cluster, "cart-b")
        cluster.sidecar("cart", app_port=other.port)
        order = cluster.sidecar("order")
        answers = {}
        for i in range(40):  # round robin: until the dying app has taken its second request
            answers[i] = requests.get(invoke_url(order, "cart", f"call-{i}"), timeout=10).status_code
            if len(dying.taken) == 2:
                break
        assert len(dying.taken) == 2 and other.paths(), (answers, dying.taken, other.paths())
        taken = dying.taken[1].rsplit("/", 1)[-1]
        assert answers[int(taken.split("-")[1])] == 500, answers
        assert f"/{taken}" not in other.paths()  # delivered once, never twice
    finally:
        dying.stop()
