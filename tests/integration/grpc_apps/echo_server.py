#!/usr/bin/env python3
"""echo_server: the gRPC app the gRPC tests put behind a sidecar. It serves
  skiff.test.v1.Echo (tests/integration/protos/echo.proto), for proxy mode:
    Unary         echoes the message with custom initial and trailing metadata
    ClientStream  answers once the client is done: texts joined with ",", counts summed, payloads joined
    ServerStream  sends `count` messages "<text>-<i>" (count < 0: until the call ends)
    Bidi          echoes each message as soon as it arrives
    delay_ms waits (checking for cancellation every 10 ms) before answering or between messages;
    fail_code != 0 fails with that code, the message "failed: <text>", the custom trailers and a
    google.rpc.Status in grpc-status-details-bin whose detail is a packed Msg "detail-<text>".
  dapr.proto.runtime.v1.AppCallback/OnInvoke, for InvokeService and HTTP callers: answers the data
    and content type it got; the method "fail" fails with NOT_FOUND.
What it sees is appended to <state-dir>/events.jsonl, one JSON object a line, so tests can assert on
it: "start" (rpc, text, metadata, time_remaining: the deadline it saw, or null), "done" when a
handler finished, "cancelled" (deadline_passed) when a call ended before its handler finished, and
"invoke" for each OnInvoke request (method, content_type, type_url, data_hex, has_http_extension,
verb, querystring, metadata). Binary metadata values are written as hex."""
import argparse
import json
import signal
import sys
import threading
import time
from concurrent import futures
from pathlib import Path

import grpc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import grpc_protos  # noqa: E402

P = grpc_protos.load()
Msg = P.echo.Msg
CODES = {c.value[0]: c for c in grpc.StatusCode}
TRAILER_BIN = b"\xff\x00trailer"
INITIAL_BIN = b"\x00\x01\xfe\xffinitial"


class Recorder:
    def __init__(self, path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.lock = threading.Lock()

    def __call__(self, event, **fields):
        line = json.dumps({"event": event, "time": time.time(), **fields}) + "\n"
        with self.lock, open(self.path, "a") as f:
            f.write(line)


def plain(md):
    return {k: (v.hex() if isinstance(v, bytes) else v) for k, v in (md or ())}


class Call:
    """Bookkeeping of one RPC: records its start and, when it ends before its handler finished
    (client cancellation, deadline, the connection going away), its cancellation."""

    def __init__(self, record, rpc, context, text=""):
        self.record, self.rpc, self.context, self.text = record, rpc, context, text
        self.finished = False
        self.ended = threading.Event()  # set when the RPC is over, whatever ended it
        record("start", rpc=rpc, text=text, metadata=plain(context.invocation_metadata()),
               time_remaining=context.time_remaining())
        if not context.add_callback(self._ended):
            self._ended()  # already over

    def _ended(self):
        self.ended.set()
        if not self.finished:
            remaining = self.context.time_remaining()
            # The client's own timer may fire (and cancel) a few ms before the server's copy of
            # the deadline, which was computed from the grpc-timeout header on arrival.
            self.record("cancelled", rpc=self.rpc, text=self.text,
                        deadline_passed=remaining is not None and remaining <= 0.05)

    def done(self):
        self.finished = True
        self.record("done", rpc=self.rpc, text=self.text)

    def wait(self, ms):
        """The app's work of `ms`; False when the call ended (cancel, deadline) meanwhile."""
        return not self.ended.wait(ms / 1000) and self.context.is_active()

    def fail(self, code, text):
        """Ends the call with `code`, the custom trailers and a google.rpc.Status detail."""
        status = P.status.Status(code=code, message=f"failed: {text}")
        status.details.add().Pack(Msg(text=f"detail-{text}", count=code))
        self.context.set_trailing_metadata(trailers(text) + (("grpc-status-details-bin", status.SerializeToString()),))
        self.finished = True
        self.record("failed", rpc=self.rpc, text=text, code=code)
        self.context.abort(CODES[code], f"failed: {text}")


def initial(name, text, context):
    md = [("x-app-name", name), ("x-echo-initial", f"initial-{text}"), ("x-echo-initial-bin", INITIAL_BIN)]
    client = plain(context.invocation_metadata()).get("x-client")
    if client is not None:
        md.append(("x-echo-client", client))
    return tuple(md)


def trailers(text):
    return (("x-echo-trailer", f"trailer-{text}"), ("x-echo-trailer-bin", TRAILER_BIN))


class Echo:
    def __init__(self, name, record):
        self.name, self.record = name, record

    def Unary(self, req, context):
        call = Call(self.record, "Unary", context, req.text)
        if req.fail_code:
            call.fail(req.fail_code, req.text)
        context.send_initial_metadata(initial(self.name, req.text, context))
        if req.delay_ms and not call.wait(req.delay_ms):
            return Msg()
        context.set_trailing_metadata(trailers(req.text))
        call.done()
        return Msg(text=req.text, count=req.count, payload=req.payload)

    def ClientStream(self, requests, context):
        call = Call(self.record, "ClientStream", context)
        texts, total, payload = [], 0, b""
        try:
            for m in requests:
                if m.fail_code:
                    call.fail(m.fail_code, m.text)
                if m.delay_ms and not call.wait(m.delay_ms):
                    return Msg()
                texts.append(m.text)
                total += m.count
                payload += m.payload
        except grpc.RpcError:  # the call ended while reading
            return Msg()
        text = ",".join(texts)
        context.send_initial_metadata(initial(self.name, text, context))
        context.set_trailing_metadata(trailers(text))
        call.done()
        return Msg(text=text, count=total, payload=payload)

    def ServerStream(self, req, context):
        call = Call(self.record, "ServerStream", context, req.text)
        context.send_initial_metadata(initial(self.name, req.text, context))
        i = 0
        while req.count < 0 or i < req.count:
            if req.delay_ms and not call.wait(req.delay_ms):
                return
            if not context.is_active():
                return
            yield Msg(text=f"{req.text}-{i}", count=i, payload=req.payload)
            i += 1
        if req.fail_code:
            call.fail(req.fail_code, req.text)
        context.set_trailing_metadata(trailers(req.text))
        call.done()

    def Bidi(self, requests, context):
        call = Call(self.record, "Bidi", context)
        context.send_initial_metadata(initial(self.name, "bidi", context))
        try:
            for m in requests:
                if m.fail_code:
                    call.fail(m.fail_code, m.text)
                if m.delay_ms and not call.wait(m.delay_ms):
                    return
                yield Msg(text=m.text, count=m.count, payload=m.payload)
        except grpc.RpcError:
            return
        context.set_trailing_metadata(trailers("bidi"))
        call.done()


class AppCallback:
    def __init__(self, name, record):
        self.name, self.record = name, record

    def OnInvoke(self, req, context):
        ext = req.http_extension
        self.record("invoke", method=req.method, content_type=req.content_type, type_url=req.data.type_url,
                    data_hex=req.data.value.hex(), has_http_extension=req.HasField("http_extension"),
                    verb=P.common.HTTPExtension.Verb.Name(ext.verb), querystring=ext.querystring,
                    metadata=plain(context.invocation_metadata()), time_remaining=context.time_remaining())
        if req.method == "fail":
            context.abort(grpc.StatusCode.NOT_FOUND, "no such method: fail")
        context.send_initial_metadata((("x-app-name", self.name),))
        res = P.common.InvokeResponse(content_type=req.content_type)
        res.data.type_url = req.data.type_url
        res.data.value = req.data.value
        return res


def handlers(name, record):
    echo, callback = Echo(name, record), AppCallback(name, record)
    msg = dict(request_deserializer=Msg.FromString, response_serializer=Msg.SerializeToString)
    return (
        grpc.method_handlers_generic_handler(grpc_protos.ECHO_SERVICE, {
            "Unary": grpc.unary_unary_rpc_method_handler(echo.Unary, **msg),
            "ClientStream": grpc.stream_unary_rpc_method_handler(echo.ClientStream, **msg),
            "ServerStream": grpc.unary_stream_rpc_method_handler(echo.ServerStream, **msg),
            "Bidi": grpc.stream_stream_rpc_method_handler(echo.Bidi, **msg),
        }),
        grpc.method_handlers_generic_handler(grpc_protos.APP_CALLBACK_SERVICE, {
            "OnInvoke": grpc.unary_unary_rpc_method_handler(
                callback.OnInvoke, request_deserializer=P.common.InvokeRequest.FromString,
                response_serializer=P.common.InvokeResponse.SerializeToString),
        }),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=0, help="port to listen on (0: any free port)")
    parser.add_argument("--address", default="127.0.0.1")
    parser.add_argument("--name", default="echo", help="sent back as x-app-name")
    parser.add_argument("--state-dir", required=True, help="directory of events.jsonl")
    args = parser.parse_args()

    record = Recorder(Path(args.state_dir) / "events.jsonl")
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=64), options=grpc_protos.CHANNEL_OPTIONS)
    server.add_generic_rpc_handlers(handlers(args.name, record))
    port = server.add_insecure_port(f"{args.address}:{args.port}")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    server.start()
    print(f"echo server '{args.name}' listening on {args.address}:{port}", flush=True)
    stop.wait()
    server.stop(grace=0.5).wait()


if __name__ == "__main__":
    main()
