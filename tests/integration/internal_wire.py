"""The tcp transport's wire format (plugins/transport-tcp/wire.hpp), for tests that speak to a
sidecar's internal port as a hostile or broken peer would, and for a fake callee sidecar."""
import socket
import struct

PREFACE = b"SKIFF-TCP/1\n"
CALL_HEAD, DATA, DATA_END, RESPONSE_HEAD, FAIL = 1, 2, 3, 4, 5


def frame(kind, payload):
    return struct.pack(">BI", kind, len(payload)) + payload


def _str(s):
    s = s.encode("latin-1") if isinstance(s, str) else s
    return struct.pack(">I", len(s)) + s


def _headers(headers):
    return struct.pack(">I", len(headers)) + b"".join(_str(n) + _str(v) for n, v in headers)


def call_head(target, method, verb="POST", query="", headers=(), namespace="default", caller="order",
              timeout_ms=10000):
    payload = struct.pack(">Q", timeout_ms) + b"".join(
        _str(s) for s in (target, namespace, caller, namespace, method, verb, query)) + _headers(list(headers))
    return frame(CALL_HEAD, payload)


def response_head(status, headers=()):
    return frame(RESPONSE_HEAD, struct.pack(">I", status) + _headers(list(headers)))


def recv_exact(sock, n):
    data = b""
    while len(data) < n:
        piece = sock.recv(n - len(data))
        if not piece:
            raise EOFError(f"connection closed after {len(data)} of {n} bytes")
        data += piece
    return data


def read_frame(sock):
    """(type, payload) of the next frame."""
    kind, length = struct.unpack(">BI", recv_exact(sock, 5))
    return kind, recv_exact(sock, length)


def parse_fail(payload):
    status, n = struct.unpack(">II", payload[:8])
    return status, payload[8:8 + n].decode("utf-8", "replace")


def parse_call_head(payload):
    """The call head's fields as a dict (timeout_ms, target, namespace, ..., headers)."""
    pos = 8
    fields = {"timeout_ms": struct.unpack(">Q", payload[:8])[0]}

    def take():
        nonlocal pos
        n = struct.unpack(">I", payload[pos:pos + 4])[0]
        pos += 4
        s = payload[pos:pos + n]
        pos += n
        return s

    for name in ("target", "namespace", "caller", "caller_namespace", "method", "verb", "query"):
        fields[name] = take().decode("latin-1")
    count = struct.unpack(">I", payload[pos:pos + 4])[0]
    pos += 4
    fields["headers"] = [(take().decode("latin-1"), take()) for _ in range(count)]
    return fields


def call(port, head, body_frames, timeout=10.0, dial=None):
    """Sends the preface, a call head and body frames; returns the frames of the answer up to its end
    (a FAIL, or RESPONSE_HEAD ... DATA_END), or what arrived before the connection closed. `dial(port,
    timeout)` opens the connection (a TLS one, see tls_peer.dial); plaintext without it."""
    frames = []
    dial = dial or (lambda p, t: socket.create_connection(("127.0.0.1", p), timeout=t))
    with dial(port, timeout) as s:
        s.sendall(PREFACE + head + b"".join(body_frames))
        try:
            while True:
                kind, payload = read_frame(s)
                frames.append((kind, payload))
                if kind in (FAIL, DATA_END):
                    break
        except (EOFError, ConnectionResetError):
            pass
    return frames
