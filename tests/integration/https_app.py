#!/usr/bin/python3
"""An HTTPS (or, without --cert, plain HTTP) server that answers every request with a JSON
description of it, for the HTTP endpoint tests:

    {"method", "target", "path", "query", "headers": [[name, value], ...] (as received, in order),
     "body" (text, undecodable bytes replaced), "body_size", "tls": null or {"version", "client_cert"}}

client_cert is the client certificate's subject CN, or null when the client sent none.

Run: https_app.py --port PORT [--cert server.pem --key server.key [--client-ca ca.pem]]
With --client-ca, a client certificate signed by that CA is required (the handshake fails without).
"""
import argparse
import json
import ssl
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


def read_body(handler):
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        body = b""
        while True:
            size = int(handler.rfile.readline(65537).split(b";", 1)[0].strip(), 16)
            if size == 0:
                while handler.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass
                return body
            body += handler.rfile.read(size)
            handler.rfile.read(2)
    return handler.rfile.read(int(handler.headers.get("Content-Length") or 0))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        sys.stderr.write("https-app: " + (fmt % args) + "\n")

    def describe(self):
        body = read_body(self)
        url = urlsplit(self.path)
        tls = None
        if isinstance(self.connection, ssl.SSLSocket):
            peer = self.connection.getpeercert()
            cn = None
            if peer:
                cn = next((v for rdn in peer.get("subject", ()) for k, v in rdn if k == "commonName"), None)
            tls = {"version": self.connection.version(), "client_cert": cn}
        return {"method": self.command, "target": self.path, "path": url.path, "query": url.query,
                "headers": [[k, v] for k, v in self.headers.items()],
                "body": body.decode("utf-8", errors="replace"), "body_size": len(body), "tls": tls}

    def answer(self):
        data = json.dumps(self.describe()).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("X-Echo-App", "https-app")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = answer


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        # a failed TLS handshake lands here: one line, not a traceback
        sys.stderr.write(f"https-app: connection from {client_address[0]}:{client_address[1]} failed: "
                         f"{sys.exc_info()[1]!r}\n")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--client-ca")
    args = parser.parse_args()
    server = Server((args.host, args.port), Handler)
    if args.cert:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(args.cert, args.key)
        if args.client_ca:
            ctx.verify_mode = ssl.CERT_REQUIRED
            ctx.load_verify_locations(args.client_ca)
        # the handshake happens in the connection's thread, on its first read, so a client that
        # never completes one holds up nobody else
        server.socket = ctx.wrap_socket(server.socket, server_side=True, do_handshake_on_connect=False)
    print(f"https-app listening on {args.host}:{args.port} ({'TLS' if args.cert else 'plain HTTP'})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
