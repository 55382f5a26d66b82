"""The Python gRPC app of the gRPC tests, called directly (no sidecar): when a proxy or InvokeService
test fails, these tell whether the app or skiffd is at fault. Cheap; needs no skiffd."""
import queue

import grpc
import pytest

import grpc_protos
from harness import wait_until

P = grpc_protos.load()
Msg = P.echo.Msg


@pytest.fixture
def app(cluster):
    app = cluster.grpc_app("echo")
    app.channel = grpc_protos.channel(app.port)
    app.echo = grpc_protos.echo_stubs(app.channel)
    yield app
    app.channel.close()


def test_unary_echoes_with_metadata_and_records_what_it_saw(app):
    res, call = app.echo.Unary.with_call(Msg(text="hi", count=2, payload=b"\x00\x01"),
                                         metadata=[("x-client", "abc"), ("x-client-bin", b"\x00\xff")], timeout=5)
    assert (res.text, res.count, res.payload) == ("hi", 2, b"\x00\x01")
    initial = grpc_protos.metadata(call.initial_metadata())
    assert initial["x-app-name"] == "echo"
    assert initial["x-echo-client"] == "abc"
    assert initial["x-echo-initial-bin"] == b"\x00\x01\xfe\xffinitial"
    assert grpc_protos.metadata(call.trailing_metadata())["x-echo-trailer"] == "trailer-hi"
    [start] = app.seen("start", rpc="Unary", text="hi")
    assert start["metadata"]["x-client"] == "abc" and start["metadata"]["x-client-bin"] == "00ff"
    assert 0 < start["time_remaining"] <= 5.1  # the client's 5 s deadline (grpc-timeout rounds up)
    assert app.seen("done", rpc="Unary", text="hi")


def test_failure_carries_code_message_trailers_and_status_details(app):
    with pytest.raises(grpc.RpcError) as failed:
        app.echo.Unary(Msg(text="boom", fail_code=grpc.StatusCode.FAILED_PRECONDITION.value[0]), timeout=5)
    e = failed.value
    assert e.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert e.details() == "failed: boom"
    assert grpc_protos.metadata(e.trailing_metadata())["x-echo-trailer"] == "trailer-boom"
    status = grpc_protos.status_details(e)
    assert (status.code, status.message) == (9, "failed: boom")
    detail = Msg()
    assert status.details[0].Unpack(detail) and detail.text == "detail-boom"


def test_bidi_answers_each_message_before_the_next_is_sent(app):
    outbox = queue.Queue()
    replies = app.echo.Bidi(iter(outbox.get, None), timeout=5)
    for i in range(3):
        outbox.put(Msg(text=f"ping-{i}", count=i))
        assert next(replies).text == f"ping-{i}"
    outbox.put(None)
    assert list(replies) == []
    assert replies.code() == grpc.StatusCode.OK


def test_cancelled_stream_and_expired_deadline_are_recorded(app):
    stream = app.echo.ServerStream(Msg(text="endless", count=-1, delay_ms=10), timeout=10)
    assert [next(stream).text for _ in range(3)] == ["endless-0", "endless-1", "endless-2"]
    stream.cancel()
    wait_until(lambda: app.seen("cancelled", rpc="ServerStream", text="endless"), timeout=5,
               what="the app to record the cancellation")
    with pytest.raises(grpc.RpcError) as failed:
        app.echo.Unary(Msg(text="slow", delay_ms=5000), timeout=0.3)
    assert failed.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    [cancelled] = wait_until(lambda: app.seen("cancelled", rpc="Unary", text="slow"), timeout=5,
                             what="the app to record the deadline")
    assert cancelled["deadline_passed"]
    assert not app.seen("done", text="slow")


def test_on_invoke_answers_the_data_and_records_the_request(app):
    invoke = app.channel.unary_unary(f"/{grpc_protos.APP_CALLBACK_SERVICE}/OnInvoke",
                                     request_serializer=P.common.InvokeRequest.SerializeToString,
                                     response_deserializer=P.common.InvokeResponse.FromString)
    req = P.common.InvokeRequest(method="reserve", content_type="text/plain")
    req.data.value = b"hello"
    req.http_extension.verb = P.common.HTTPExtension.PUT
    req.http_extension.querystring = "a=1"
    res = invoke(req, timeout=5)
    assert (res.data.value, res.content_type) == (b"hello", "text/plain")
    [seen] = app.seen("invoke", method="reserve")
    assert (seen["data_hex"], seen["verb"], seen["querystring"]) == (b"hello".hex(), "PUT", "a=1")
    with pytest.raises(grpc.RpcError) as failed:
        invoke(P.common.InvokeRequest(method="fail"), timeout=5)
    assert failed.value.code() == grpc.StatusCode.NOT_FOUND
