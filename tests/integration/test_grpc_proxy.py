"""gRPC proxy mode: an app calls its own gRPC service on its sidecar's gRPC port with `dapr-app-id`
metadata and the call reaches the target app's gRPC server through both sidecars, byte for byte,
streaming, metadata, status details, deadlines and cancellation included."""
import queue
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import grpc
import pytest

import grpc_protos
from harness import port_open, wait_until

P = grpc_protos.load()
Msg = P.echo.Msg
OK = grpc.StatusCode.OK


@pytest.fixture
def echo(cluster):
    """The echo app (gRPC) behind its sidecar "echo" and a caller sidecar without an app. .echo are
    stubs on a channel to the caller sidecar's gRPC port, .md the metadata that routes to "echo"."""
    app = cluster.grpc_app("echo")
    cluster.sidecar("echo", app_port=app.port, app_protocol="grpc")
    caller = cluster.sidecar("caller")
    wait_until(lambda: port_open(caller.grpc_port), what="the caller's gRPC API")
    ch = grpc_protos.channel(caller.grpc_port)
    yield SimpleNamespace(app=app, caller=caller, channel=ch, echo=grpc_protos.echo_stubs(ch),
                          md=(("dapr-app-id", "echo"),))
    ch.close()


def test_unary_call_reaches_the_target_app(echo):
    res, call = echo.echo.Unary.with_call(Msg(text="hi", count=3, payload=b"\x00\x01\xff"), metadata=echo.md,
                                          timeout=10)
    assert (res.text, res.count, res.payload) == ("hi", 3, b"\x00\x01\xff")
    assert grpc_protos.metadata(call.initial_metadata())["x-app-name"] == "echo"
    assert call.code() == OK


def test_client_streaming_call(echo):
    requests = iter([Msg(text="a", count=1, payload=b"1"), Msg(text="b", count=2, payload=b"2"),
                     Msg(text="c", count=3, payload=b"3")])
    res, call = echo.echo.ClientStream.with_call(requests, metadata=echo.md, timeout=10)
    assert (res.text, res.count, res.payload) == ("a,b,c", 6, b"123")
    assert grpc_protos.metadata(call.trailing_metadata())["x-echo-trailer"] == "trailer-a,b,c"


def test_server_streaming_call(echo):
    stream = echo.echo.ServerStream(Msg(text="s", count=5), metadata=echo.md, timeout=10)
    assert [(m.text, m.count) for m in stream] == [(f"s-{i}", i) for i in range(5)]
    assert stream.code() == OK
    assert grpc_protos.metadata(stream.trailing_metadata())["x-echo-trailer"] == "trailer-s"


def test_bidi_streaming_answers_each_message_before_the_next_is_sent(echo):
    """Ping-pong: each message goes out only after the echo of the previous one came back, which a
    proxy that buffers a whole stream could never deliver."""
    outbox = queue.Queue()
    replies = echo.echo.Bidi(iter(outbox.get, None), metadata=echo.md, timeout=10)
    for i in range(5):
        outbox.put(Msg(text=f"ping-{i}", count=i, payload=bytes([i]) * (i * 1000)))
        reply = next(replies)
        assert (reply.text, reply.count, reply.payload) == (f"ping-{i}", i, bytes([i]) * (i * 1000))
    outbox.put(None)  # half-close
    assert list(replies) == []
    assert replies.code() == OK
    assert grpc_protos.metadata(replies.trailing_metadata())["x-echo-trailer"] == "trailer-bidi"


def test_errors_keep_their_code_message_details_and_trailers(echo):
    with pytest.raises(grpc.RpcError) as failed:
        echo.echo.Unary(Msg(text="boom", fail_code=grpc.StatusCode.FAILED_PRECONDITION.value[0]),
                        metadata=echo.md, timeout=10)
    e = failed.value
    assert (e.code(), e.details()) == (grpc.StatusCode.FAILED_PRECONDITION, "failed: boom")
    trailers = grpc_protos.metadata(e.trailing_metadata())
    assert trailers["x-echo-trailer"] == "trailer-boom"
    assert trailers["x-echo-trailer-bin"] == b"\xff\x00trailer"
    status = grpc_protos.status_details(e)
    assert (status.code, status.message) == (9, "failed: boom")
    detail = Msg()
    assert status.details[0].type_url == "type.googleapis.com/skiff.test.v1.Msg"
    assert status.details[0].Unpack(detail) and (detail.text, detail.count) == ("detail-boom", 9)


def test_an_error_after_streamed_messages_arrives_after_them(echo):
    stream = echo.echo.ServerStream(Msg(text="late", count=2, fail_code=grpc.StatusCode.NOT_FOUND.value[0]),
                                    metadata=echo.md, timeout=10)
    assert [next(stream).text for _ in range(2)] == ["late-0", "late-1"]
    with pytest.raises(grpc.RpcError):
        next(stream)
    assert (stream.code(), stream.details()) == (grpc.StatusCode.NOT_FOUND, "failed: late")
    assert grpc_protos.status_details(stream).message == "failed: late"


def test_custom_metadata_goes_both_ways(echo):
    res, call = echo.echo.Unary.with_call(
        Msg(text="meta"), timeout=10,
        metadata=echo.md + (("x-client", "abc"), ("x-client-bin", b"\x00\xff\x10")))
    initial = grpc_protos.metadata(call.initial_metadata())
    assert initial["x-echo-initial"] == "initial-meta"
    assert initial["x-echo-initial-bin"] == b"\x00\x01\xfe\xffinitial"
    assert initial["x-echo-client"] == "abc"
    trailers = grpc_protos.metadata(call.trailing_metadata())
    assert trailers["x-echo-trailer"] == "trailer-meta"
    assert trailers["x-echo-trailer-bin"] == b"\xff\x00trailer"
    [start] = echo.app.seen("start", rpc="Unary", text="meta")
    assert start["metadata"]["x-client"] == "abc"
    assert start["metadata"]["x-client-bin"] == "00ff10"


def test_a_deadline_reaches_the_callee_and_cancels_it_when_it_passes(echo):
    echo.echo.Unary(Msg(text="warm-up"), metadata=echo.md, timeout=10)  # connections are set up now
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as failed:
        echo.echo.Unary(Msg(text="slow", delay_ms=10_000), metadata=echo.md, timeout=0.5)
    assert failed.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    assert time.monotonic() - started < 3
    [start] = echo.app.seen("start", rpc="Unary", text="slow")
    # the app saw the client's deadline (grpc-timeout is rounded up, hence the slack)
    assert start["time_remaining"] is not None and 0 < start["time_remaining"] <= 0.6, start
    wait_until(lambda: echo.app.seen("cancelled", rpc="Unary", text="slow"), timeout=2,
               what="the app to see its call end")
    assert not echo.app.seen("done", text="slow")


def test_a_client_cancelling_an_endless_stream_cancels_the_callee(echo):
    stream = echo.echo.ServerStream(Msg(text="endless", count=-1, delay_ms=20), metadata=echo.md, timeout=30)
    assert [next(stream).text for _ in range(3)] == ["endless-0", "endless-1", "endless-2"]
    stream.cancel()
    assert stream.code() == grpc.StatusCode.CANCELLED
    wait_until(lambda: echo.app.seen("cancelled", rpc="ServerStream", text="endless"), timeout=3,
               what="the app to see the cancellation")


def test_a_call_without_dapr_app_id_fails_promptly(echo):
    """The caller's sidecar does not serve Echo itself; without dapr-app-id it cannot route the call."""
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as failed:
        echo.echo.Unary(Msg(text="lost"), timeout=5)
    assert failed.value.code() not in (OK, grpc.StatusCode.DEADLINE_EXCEEDED), failed.value
    assert time.monotonic() - started < 5
    assert not echo.app.seen("start", text="lost")


def test_a_call_to_an_unknown_app_id_fails_promptly(echo):
    started = time.monotonic()
    with pytest.raises(grpc.RpcError) as failed:
        echo.echo.Unary(Msg(text="lost"), metadata=(("dapr-app-id", "nosuchapp"),), timeout=5)
    assert failed.value.code() not in (OK, grpc.StatusCode.DEADLINE_EXCEEDED), failed.value
    assert time.monotonic() - started < 5


def test_a_proxied_call_to_an_http_app_says_why_it_cannot_work(echo, cluster):
    """Proxy mode needs a gRPC app; a target whose sidecar fronts an HTTP app refuses clearly."""
    cart_app = cluster.app("cart")
    cluster.sidecar("cart", app_port=cart_app.port)
    with pytest.raises(grpc.RpcError) as failed:
        echo.echo.Unary(Msg(text="wrong"), metadata=(("dapr-app-id", "cart"),), timeout=5)
    assert failed.value.code() == grpc.StatusCode.UNIMPLEMENTED
    assert "app.protocol" in failed.value.details()


def test_a_proxied_call_reaches_a_target_in_another_namespace_form(echo):
    """dapr-app-id takes app.namespace as the HTTP form does."""
    res = echo.echo.Unary(Msg(text="ns"), metadata=(("dapr-app-id", "echo.default"),), timeout=10)
    assert res.text == "ns"


def test_an_8_mib_message_goes_through_both_ways(echo):
    payload = bytes((i * 131 + 17) % 256 for i in range(256)) * (8 * 4096)
    assert len(payload) == 8 * 1024 * 1024
    res = echo.echo.Unary(Msg(text="big", payload=payload), metadata=echo.md, timeout=30)
    assert res.text == "big"
    assert res.payload == payload


def test_concurrent_calls_share_one_connection(echo):
    def call(i):
        return echo.echo.Unary(Msg(text=f"c{i}", count=i), metadata=echo.md, timeout=20)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(call, range(64)))
    assert [(r.text, r.count) for r in results] == [(f"c{i}", i) for i in range(64)]


def test_a_dead_instance_is_skipped_and_reported_by_proxied_calls(cluster):
    apps = [cluster.grpc_app(f"echo-{i}") for i in range(2)]
    sidecars = [cluster.sidecar("echo", app_port=a.port, app_protocol="grpc") for a in apps]
    caller = cluster.sidecar("caller")
    wait_until(lambda: port_open(caller.grpc_port), what="the caller's gRPC API")
    md = (("dapr-app-id", "echo"),)
    with grpc_protos.channel(caller.grpc_port) as ch:
        stubs = grpc_protos.echo_stubs(ch)

        def served_by():
            _, call = stubs.Unary.with_call(Msg(text="hi"), metadata=md, timeout=10)
            return grpc_protos.metadata(call.initial_metadata())["x-app-name"]
        wait_until(lambda: {served_by() for _ in range(4)} == {"echo-0", "echo-1"}, what="both instances called")
        sidecars[0].kill()
        # The head reaches no one at the dead address, so each call goes on to the live instance.
        assert {served_by() for _ in range(10)} == {"echo-1"}
