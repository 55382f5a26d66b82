"""An OTLP/HTTP trace receiver for the tests, speaking the documented protocol: POST /v1/traces with
an application/x-protobuf ExportTraceServiceRequest, answered 200 with an empty
ExportTraceServiceResponse. Bodies are decoded twice: with messages compiled by protoc from
plugins/observer-otlp/otlp_trace.proto, and by a hand-written walk of the protobuf wire format over
the field numbers of opentelemetry-proto, so that a field number wrong in that file would fail too.

mode "ok" answers; "stall" reads the request and never answers (until close())."""
import importlib
import shutil
import subprocess
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PROTO_DIR = REPO / "plugins" / "observer-otlp"
_module = None


def messages():
    global _module
    if _module is None:
        out = tempfile.mkdtemp(prefix="otlp-proto-")
        protoc = shutil.which("protoc") or "/usr/bin/protoc"
        subprocess.run([protoc, f"--proto_path={PROTO_DIR}", f"--python_out={out}", "otlp_trace.proto"],
                       check=True, capture_output=True)
        sys.path.insert(0, out)
        _module = importlib.import_module("otlp_trace_pb2")
    return _module


def _varint(data, i):
    shift = value = 0
    while True:
        b = data[i]
        i += 1
        value |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return value, i


def wire_fields(data):
    """[(field number, wire type, value)] of one message: bytes for length-delimited fields."""
    out, i = [], 0
    while i < len(data):
        key, i = _varint(data, i)
        number, kind = key >> 3, key & 7
        if kind == 0:
            value, i = _varint(data, i)
        elif kind == 1:
            value, i = data[i:i + 8], i + 8
        elif kind == 2:
            n, i = _varint(data, i)
            value, i = data[i:i + n], i + n
        elif kind == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {kind}")
        out.append((number, kind, value))
    return out


def raw_span_ids(body):
    """(trace id, span id, parent span id, name) of every span, read by the documented field numbers:
    ExportTraceServiceRequest.resource_spans = 1, ResourceSpans.scope_spans = 2, ScopeSpans.spans = 2,
    Span.trace_id = 1, span_id = 2, parent_span_id = 4, name = 5."""
    spans = []
    for n1, _, resource_spans in wire_fields(body):
        assert n1 == 1
        for n2, _, scope_spans in wire_fields(resource_spans):
            if n2 != 2:
                continue
            for n3, _, span in wire_fields(scope_spans):
                if n3 != 2:
                    continue
                f = {n: v for n, _, v in wire_fields(span)}
                spans.append((f[1].hex(), f[2].hex(), f.get(4, b"").hex(), f[5].decode()))
    return spans


class Receiver:
    def __init__(self, port, mode="ok"):
        self.mode = mode
        self.requests = []  # (headers, ExportTraceServiceRequest, raw span ids)
        self.lock = threading.Lock()
        self.release = threading.Event()
        receiver = self
        pb = messages()

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if receiver.mode == "stall":
                    receiver.release.wait()
                    return
                if self.path != "/v1/traces" or self.headers.get("Content-Type") != "application/x-protobuf":
                    self.send_response(404)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                request = pb.ExportTraceServiceRequest()
                request.ParseFromString(body)
                with receiver.lock:
                    receiver.requests.append((dict(self.headers), request, raw_span_ids(body)))
                reply = pb.ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def spans(self):
        """[(service name, Span)] of everything received."""
        out = []
        with self.lock:
            for _, request, _ in self.requests:
                for rs in request.resource_spans:
                    service = next(a.value.string_value for a in rs.resource.attributes
                                   if a.key == "service.name")
                    for ss in rs.scope_spans:
                        out.extend((service, s) for s in ss.spans)
        return out

    def raw_spans(self):
        with self.lock:
            return [s for _, _, raw in self.requests for s in raw]

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
