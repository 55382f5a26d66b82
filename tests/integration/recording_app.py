#!/usr/bin/python3
"""An HTTP/1.1 app that records every request it parses, to prove what reached it and what did not.

Each request it parsed is appended to --log as one JSON line:
    {"method": ..., "path": ..., "headers": [[name, value], ...], "body": latin-1 text,
     "complete": false when the connection ended before the body did}
and answered 200 with body "ok" (keep-alive). Bodies are read by Content-Length or chunked.
A request line or header block it cannot parse is recorded as {"malformed": raw line}.

Run: recording_app.py --port PORT --log FILE
"""
import argparse
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    log_path = None
    lock = threading.Lock()

    def log_message(self, *args):
        pass

    def record(self, entry):
        with self.lock, open(self.log_path, "a") as f:
            f.write(json.dumps(entry) + "\n")

    def send_error(self, code, message=None, explain=None):
        self.record({"malformed": getattr(self, "raw_requestline", b"").decode("latin-1"), "code": code})
        super().send_error(code, message, explain)

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            body = b""
            while True:
                size_line = self.rfile.readline()
                if not size_line:
                    return body, False
                size = int(size_line.split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return body, True
                piece = self.rfile.read(size + 2)
                body += piece[:size]
                if len(piece) < size + 2:
                    return body, False
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        return body, len(body) == length

    def handle_any(self):
        body, complete = self.read_body()
        self.record({"method": self.command, "path": self.path, "headers": [[k, v] for k, v in self.headers.items()],
                     "body": body.decode("latin-1"), "complete": complete})
        if not complete:
            self.close_connection = True
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = handle_any

    def do_HEAD(self):
        self.record({"method": "HEAD", "path": self.path, "headers": [[k, v] for k, v in self.headers.items()],
                     "body": "", "complete": True})
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--log", required=True)
    args = parser.parse_args()
    Handler.log_path = args.log
    open(args.log, "a").close()
    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main()
