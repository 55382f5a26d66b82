#!/usr/bin/python3
"""An HTTP/1.1 app for the streaming tests: it takes and gives bodies of any size without holding them.

    POST /upload                  reads the body (Content-Length or chunked) in 1 MiB pieces, hashing
                                  it, and answers {"bytes": n, "sha256": hex, "framing": ...}
    GET  /download?size=N&chunked=0|1&id=X
                                  sends N bytes of pattern(N), with Content-Length (chunked=0) or
                                  chunked; with id, its progress can be read at /progress?id=X
    GET  /progress?id=X           {"sent": bytes the socket took so far, "done": bool, "error": str|null}
    GET  /sse?count=N&interval_ms=M
                                  text/event-stream, one event every M ms, each sent (and flushed) on
                                  its own; data is {"seq": i, "sent": time.time() when it was sent}
    anything else                 404

The byte pattern is deterministic: block i (1 MiB) is i as 8 big-endian bytes followed by the tail of
a fixed pseudo-random block, so lost, repeated, reordered or shifted bytes all change the hash. The
tests import pattern() and expected_sha256() from this file.

Run: streaming_app.py --port PORT [--host 127.0.0.1]
"""
import argparse
import functools
import hashlib
import json
import random
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

BLOCK = 1 << 20
_BASE = random.Random(0x5C1FF).randbytes(BLOCK)


def block(i):
    return i.to_bytes(8, "big") + _BASE[8:]


def pattern(size):
    """Yields the first `size` bytes of the pattern in pieces of at most 1 MiB."""
    i = 0
    while size > 0:
        b = block(i)
        if size < BLOCK:
            b = b[:size]
        yield b
        size -= len(b)
        i += 1


@functools.lru_cache(maxsize=None)
def expected_sha256(size):
    h = hashlib.sha256()
    for b in pattern(size):
        h.update(b)
    return h.hexdigest()


class BadRequest(Exception):
    pass


def read_chunked(rfile, on_data):
    """Reads a chunked body from rfile, handing on_data pieces of at most 1 MiB."""
    while True:
        line = rfile.readline(65537)
        if not line.endswith(b"\r\n"):
            raise BadRequest(f"bad chunk size line {line[:40]!r}")
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise BadRequest(f"bad chunk size line {line[:40]!r}") from None
        if size == 0:
            while rfile.readline(65537) not in (b"\r\n", b"\n", b""):  # trailers
                pass
            return
        while size:
            piece = rfile.read(min(size, BLOCK))
            if not piece:
                raise BadRequest("body ended inside a chunk")
            on_data(piece)
            size -= len(piece)
        if rfile.read(2) != b"\r\n":
            raise BadRequest("chunk not followed by CRLF")


def read_length(rfile, length, on_data):
    while length:
        piece = rfile.read(min(length, BLOCK))
        if not piece:
            raise BadRequest(f"body ended {length} bytes early")
        on_data(piece)
        length -= len(piece)


_progress_lock = threading.Lock()
_progress = {}  # download id -> {"sent": n, "done": bool, "error": str | None}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # every event and chunk goes out when it is written

    def log_message(self, fmt, *args):
        sys.stderr.write("streaming-app: " + (fmt % args) + "\n")

    def send_json(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def drain_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            read_chunked(self.rfile, lambda _: None)
        else:
            read_length(self.rfile, int(self.headers.get("Content-Length") or 0), lambda _: None)

    def do_POST(self):
        url = urlsplit(self.path)
        if url.path != "/upload":
            self.drain_body()
            return self.send_json(404, {"error": f"no route {url.path}"})
        h = hashlib.sha256()
        count = 0

        def on_data(piece):
            nonlocal count
            h.update(piece)
            count += len(piece)

        started = time.time()
        chunked = "chunked" in self.headers.get("Transfer-Encoding", "").lower()
        try:
            if chunked:
                read_chunked(self.rfile, on_data)
            elif self.headers.get("Content-Length") is not None:
                read_length(self.rfile, int(self.headers["Content-Length"]), on_data)
        except BadRequest as e:
            self.close_connection = True
            return self.send_json(400, {"error": str(e), "bytes": count})
        self.send_json(200, {"bytes": count, "sha256": h.hexdigest(),
                             "framing": "chunked" if chunked else "content-length",
                             "content_length": self.headers.get("Content-Length"),
                             "seconds": time.time() - started})

    def do_GET(self):
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query).items()}
        if url.path == "/download":
            return self.download(int(query.get("size", "0")), query.get("chunked", "0") == "1", query.get("id"))
        if url.path == "/progress":
            with _progress_lock:
                state = dict(_progress.get(query.get("id"), {"sent": 0, "done": False, "error": "unknown id"}))
            return self.send_json(200, state)
        if url.path == "/sse":
            return self.sse(int(query.get("count", "5")), int(query.get("interval_ms", "300")))
        self.send_json(404, {"error": f"no route {url.path}"})

    def download(self, size, chunked, download_id):
        state = {"sent": 0, "done": False, "error": None}
        if download_id:
            with _progress_lock:
                _progress[download_id] = state
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("X-Pattern-Size", str(size))
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(size))
        self.end_headers()
        try:
            for piece in pattern(size):
                if chunked:
                    self.wfile.write(b"%x\r\n" % len(piece) + piece + b"\r\n")
                else:
                    self.wfile.write(piece)
                with _progress_lock:
                    state["sent"] += len(piece)
            if chunked:
                self.wfile.write(b"0\r\n\r\n")
        except OSError as e:  # the reader went away
            self.close_connection = True
            with _progress_lock:
                state["error"] = f"{type(e).__name__}: {e}"
        with _progress_lock:
            state["done"] = True

    def sse(self, count, interval_ms):
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        try:
            for i in range(count):
                if i:
                    time.sleep(interval_ms / 1000)  # the pace of the stream, not a synchronisation
                event = f"id: {i}\nevent: tick\ndata: {json.dumps({'seq': i, 'sent': time.time()})}\n\n".encode()
                self.wfile.write(b"%x\r\n" % len(event) + event + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except OSError:
            self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    args = parser.parse_args()
    server = Server((args.host, args.port), Handler)
    print(f"streaming-app listening on {args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
