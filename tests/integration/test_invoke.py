"""Service invocation through two real sidecars, as an app (or curl) would use it."""
import http.client
import json
import os

import pytest

from harness import invoke_url, raw_http, requests

MAX = 4 * 1024 * 1024
VERBS = ["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@pytest.mark.parametrize("size", [0, 1, 70_000, 1024 * 1024, MAX])
def test_every_verb_carries_bodies_up_to_the_max_size(order_cart, size):
    order, _ = order_cart
    body = bytes((i * 31 + 7) % 256 for i in range(size))
    with requests.Session() as s:
        for verb in VERBS:
            r = s.request(verb, invoke_url(order, "cart", "echo/it"), data=body,
                          headers={"Content-Type": "application/octet-stream"}, timeout=30)
            assert r.status_code == 200, (verb, r.text[:200])
            assert r.headers["X-Echo-Verb"] == verb
            assert r.headers["X-App-Name"] == "cart"
            assert r.content == body, verb


def test_head_returns_headers_without_body(order_cart):
    order, _ = order_cart
    r = requests.head(invoke_url(order, "cart", "echo"), timeout=10)
    assert r.status_code == 200
    assert r.headers["X-Echo-Verb"] == "HEAD"
    assert r.content == b""


def test_query_and_headers_are_forwarded_and_hop_by_hop_headers_dropped(order_cart):
    order, _ = order_cart
    r = requests.get(invoke_url(order, "cart", "inspect/items") + "?a=1&b=%20x&a=2",
                     headers={"X-Custom": "yes", "Connection": "keep-alive, X-Conn-Only", "X-Conn-Only": "1",
                              "Keep-Alive": "timeout=5", "traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01"},
                     timeout=10)
    assert r.status_code == 200, r.text
    seen = json.loads(r.text)
    assert seen["target"] == "/inspect/items?a=1&b=%20x&a=2"
    headers = {k.lower(): v for k, v in seen["headers"]}
    assert headers["x-custom"] == "yes"
    assert headers["traceparent"].startswith("00-aaaa")
    assert "keep-alive" not in headers
    assert "x-conn-only" not in headers
    assert headers["dapr-caller-app-id"] == "order"
    assert headers["dapr-callee-app-id"] == "cart"
    assert headers["x-forwarded-for"] == "127.0.0.1"


def test_upstream_status_headers_and_body_come_back_as_they_are(order_cart):
    order, _ = order_cart
    r = requests.post(invoke_url(order, "cart", "status/418"), data=b"x", timeout=10)
    assert r.status_code == 418
    assert r.text == "status 418"
    assert r.headers["X-App-Name"] == "cart"
    r = requests.get(invoke_url(order, "cart", "status/204"), timeout=10)
    assert r.status_code == 204


def test_body_over_the_buffer_limit_streams_through(order_cart):
    """Bodies over api.max_body_size are not refused: they stream (and are not retried)."""
    order, _ = order_cart
    body = bytes(range(256)) * ((MAX + 4096) // 256)
    r = requests.post(invoke_url(order, "cart", "echo"), data=body, timeout=30)
    assert r.status_code == 200
    assert r.content == body


def test_body_over_the_limit_gets_413_when_streaming_is_off(cluster):
    cart_app = cluster.app("cart")
    cluster.sidecar("cart", app_port=cart_app.port)
    order = cluster.sidecar("order", config="[api]\nstreaming = false\n")
    r = requests.post(invoke_url(order, "cart", "echo"), data=b"x" * (MAX + 1), timeout=30)
    assert r.status_code == 413
    assert r.json()["errorCode"] == "ERR_BODY_TOO_LARGE"
    # a chunked body over the limit is refused as well
    r = requests.post(invoke_url(order, "cart", "echo"), data=iter([b"x" * MAX, b"y"]), timeout=30)
    assert r.status_code == 413
    # the sidecar keeps serving
    assert requests.post(invoke_url(order, "cart", "echo"), data=b"ok", timeout=10).text == "ok"


def test_max_body_size_is_configurable(cluster):
    cart_app = cluster.app("cart")
    cluster.sidecar("cart", app_port=cart_app.port)
    order = cluster.sidecar("order", extra=["--max-body-size", "1Ki"], config="[api]\nstreaming = false\n")
    assert requests.post(invoke_url(order, "cart", "echo"), data=b"x" * 1024, timeout=10).status_code == 200
    assert requests.post(invoke_url(order, "cart", "echo"), data=b"x" * 1025, timeout=10).status_code == 413


def test_dapr_app_id_header_routes_the_whole_path(order_cart):
    order, _ = order_cart
    r = requests.post(f"{order.url}/api/orders/7?x=1", data=b"hi", headers={"dapr-app-id": "cart"}, timeout=10)
    assert r.status_code == 200
    assert r.headers["X-Echo-Target"] == "/api/orders/7?x=1"
    assert r.text == "hi"


def test_basic_auth_app_id_routes_like_the_header(order_cart):
    order, _ = order_cart
    r = requests.get(f"{order.url}/inspect/x", auth=("dapr-app-id", "cart"), timeout=10)
    assert r.status_code == 200
    headers = {k.lower() for k, _ in r.json()["headers"]}
    assert "authorization" not in headers


def test_app_id_with_namespace(order_cart):
    order, _ = order_cart
    assert requests.get(invoke_url(order, "cart.default", "echo"), timeout=10).status_code == 200
    r = requests.get(invoke_url(order, "cart.other", "echo"), timeout=10)
    assert r.status_code == 500
    assert r.json()["errorCode"] == "ERR_DIRECT_INVOKE"
    assert requests.get(invoke_url(order, "a.b.c", "echo"), timeout=10).status_code == 400


@pytest.mark.parametrize("method", ["a%2Fb", "x%1Fy", "100%25", "a%2Fb%1F%25/c%20d"])
def test_percent_encoded_methods_arrive_exactly_as_sent(order_cart, method):
    order, _ = order_cart
    r = requests.get(invoke_url(order, "cart", method), timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["X-Echo-Target"] == "/" + method


@pytest.mark.parametrize("method", ["a%zz", "a%2", "bad%"])
def test_malformed_percent_encoding_gets_400(order_cart, method):
    order, _ = order_cart
    # http.client sends the target as written (requests would re-quote the stray '%')
    conn = http.client.HTTPConnection("127.0.0.1", order.http_port, timeout=10)
    conn.request("GET", f"/v1.0/invoke/cart/method/{method}")
    r = conn.getresponse()
    assert r.status == 400
    assert json.loads(r.read())["errorCode"] == "ERR_DIRECT_INVOKE"


def test_unknown_app_id_gets_a_dapr_error(order_cart):
    order, _ = order_cart
    r = requests.post(invoke_url(order, "nosuchapp", "x"), timeout=10)
    assert r.status_code == 500
    assert r.json() == {"errorCode": "ERR_DIRECT_INVOKE",
                        "message": "fail to invoke, id: nosuchapp, err: couldn't find service: nosuchapp"}


def test_empty_method_gets_400(order_cart):
    order, _ = order_cart
    r = requests.get(f"{order.url}/v1.0/invoke/cart/method/", timeout=10)
    assert r.status_code == 400
    assert r.json()["errorCode"] == "ERR_DIRECT_INVOKE"


def test_request_without_a_target_gets_404(order_cart):
    order, _ = order_cart
    r = requests.get(f"{order.url}/some/path", timeout=10)
    assert r.status_code == 404
    assert r.json()["errorCode"] == "ERR_DIRECT_INVOKE"


@pytest.mark.parametrize("garbage", [
    b"NOT HTTP AT ALL\r\n\r\n",
    b"GET /v1.0/healthz HTTP/9.9\r\n\r\n",
    b"GET /v1.0/invoke/cart/method/x HTTP/1.1\r\nHost: a\r\nContent-Length: abc\r\n\r\n",
    b"GET /v1.0/invoke/cart/method/x HTTP/1.1\r\nBad Header\r\n\r\n",
    b"POST /v1.0/invoke/cart/method/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
])
def test_malformed_http_gets_400_and_the_sidecar_keeps_serving(order_cart, garbage):
    order, _ = order_cart
    answer = raw_http(order.http_port, garbage)
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    assert requests.get(f"{order.url}/v1.0/healthz", timeout=5).status_code == 204


def test_oversized_headers_get_431(order_cart):
    order, _ = order_cart
    r = requests.get(invoke_url(order, "cart", "echo"), headers={"X-Big": "x" * 20000}, timeout=10)
    assert r.status_code == 431


def test_expect_100_continue_is_answered_and_not_forwarded(order_cart):
    order, _ = order_cart
    import socket
    with socket.create_connection(("127.0.0.1", order.http_port), timeout=5) as s:
        s.sendall(b"POST /v1.0/invoke/cart/method/inspect HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n"
                  b"Expect: 100-continue\r\n\r\n")
        assert s.recv(1024).startswith(b"HTTP/1.1 100 Continue")
        s.sendall(b"hello")
        answer = b""
        while b"\r\n\r\n" not in answer or not answer.rstrip().endswith(b"}"):
            chunk = s.recv(65536)
            assert chunk, answer
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200")
    seen = json.loads(answer.split(b"\r\n\r\n", 1)[1])
    assert seen["body_size"] == 5
    assert "expect" not in {k.lower() for k, _ in seen["headers"]}


def test_health_and_metadata(order_cart):
    order, cart = order_cart
    assert requests.get(f"{order.url}/v1.0/healthz", timeout=5).status_code == 204
    assert requests.get(f"{order.url}/v1.0/healthz/outbound", timeout=5).status_code == 204
    meta = requests.get(f"{cart.url}/v1.0/metadata", timeout=5).json()
    assert meta["id"] == "cart"
    assert meta["appConnectionProperties"]["port"] > 0


def test_many_calls_reuse_one_keep_alive_connection(order_cart):
    order, _ = order_cart
    with requests.Session() as s:
        for i in range(200):
            r = s.post(invoke_url(order, "cart", "echo"), data=str(i), timeout=10)
            assert r.text == str(i)


def test_concurrent_calls_of_mixed_sizes_all_arrive_intact(order_cart):
    from concurrent.futures import ThreadPoolExecutor
    order, _ = order_cart
    sizes = [0, 10, 1000, 70_000, 300_000]

    def worker(n):
        failures = []
        with requests.Session() as s:
            for i in range(25):
                size = sizes[(n + i) % len(sizes)]
                body = bytes([(n * 7 + i) % 256]) * size
                r = s.post(invoke_url(order, "cart", f"echo/{n}/{i}"), data=body, timeout=30)
                if r.status_code != 200 or r.content != body or r.headers["X-Echo-Target"] != f"/echo/{n}/{i}":
                    failures.append((n, i, r.status_code))
        return failures

    with ThreadPoolExecutor(max_workers=16) as pool:
        results = list(pool.map(worker, range(16)))
    assert [f for r in results for f in r] == []


def test_an_app_calls_another_app_through_its_own_sidecar(cluster):
    from harness import free_port
    cart_app = cluster.app("cart")
    cluster.sidecar("cart", app_port=cart_app.port)
    order_http = free_port()
    order_app = cluster.app("order", sidecar_port=order_http)
    cluster.sidecar("order", app_port=order_app.port, http_port=order_http)
    r = requests.post(f"http://127.0.0.1:{order_app.port}/call/cart/cart/checkout", data=b'{"order":17}',
                      headers={"Content-Type": "application/json"}, timeout=10)
    assert r.status_code == 200, r.text
    seen = r.json()
    assert seen == {"caller": "order", "callee": "cart", "status": 200, "answered_by": "cart",
                    "body": '{"order":17}'}


@pytest.mark.skipif(os.environ.get("SKIFF_SANITIZED") == "1",
                    reason="the sanitizers' runtime needs descriptors of its own: with none left, "
                           "UBSan's memory probe fails and reports a bad vptr that is not there")
def test_running_out_of_descriptors_neither_spins_nor_kills_the_sidecar(cluster):
    import datetime
    import resource
    import socket
    from harness import SKIFFD, free_port, wait_until

    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    import subprocess
    port = free_port()
    log = cluster.tmp / "fd-limit.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen([str(SKIFFD), "--dapr-http-port", str(port), "--dapr-internal-grpc-port",
                                 str(free_port())], stdout=out, stderr=subprocess.STDOUT, env=cluster.env,
                                preexec_fn=low_limit)
    try:
        wait_until(lambda: "skiffd ready" in log.read_text(), what="skiffd ready")
        socks = [socket.create_connection(("127.0.0.1", port), timeout=2) for _ in range(100)]
        # A spinning accept loop would log thousands of failures within milliseconds; a pausing
        # one logs them about 100 ms apart. Read the spacing off the log's own timestamps.
        def accept_failures():
            lines = [line for line in log.read_text().splitlines() if "accept failed" in line]
            return lines[:3] if len(lines) >= 3 else None

        failures = wait_until(accept_failures, what="three accept failures")
        stamps = [datetime.datetime.strptime(line.split()[0], "%Y-%m-%dT%H:%M:%S.%f") for line in failures]
        gaps = [(b - a).total_seconds() for a, b in zip(stamps, stamps[1:])]
        for s in socks:
            s.close()
        assert all(gap >= 0.08 for gap in gaps), gaps
        wait_until(lambda: requests.get(f"http://127.0.0.1:{port}/v1.0/healthz", timeout=2).status_code == 204,
                   what="the sidecar to serve again")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_no_content_answers_carry_no_content_length(order_cart):
    order, _ = order_cart
    for path in ("/v1.0/healthz", "/v1.0/invoke/cart/method/status/204"):
        answer = raw_http(order.http_port, f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
        head = answer.split(b"\r\n\r\n")[0].lower()
        assert head.startswith(b"http/1.1 204"), answer
        assert b"content-length" not in head, answer


def test_pipelined_requests_are_answered_in_order(order_cart):
    order, _ = order_cart
    import socket
    with socket.create_connection(("127.0.0.1", order.http_port), timeout=10) as s:
        s.sendall(b"POST /v1.0/invoke/cart/method/a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
                  b"POST /v1.0/invoke/cart/method/b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\ntwo"
                  b"GET /v1.0/healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := s.recv(65536):  # the last request closes the connection
            answer += chunk
    text = answer.decode()
    assert text.index("X-Echo-Target: /a") < text.index("X-Echo-Target: /b") < text.index("204 No Content")
    assert "\r\n\r\none" in text and "\r\n\r\ntwo" in text


def test_idle_and_slow_connections_are_closed_after_the_idle_timeout(cluster):
    import socket
    import time
    order = cluster.sidecar("order", config='[api]\nidle_timeout = "300ms"\n')
    with socket.create_connection(("127.0.0.1", order.http_port), timeout=5) as idle, \
            socket.create_connection(("127.0.0.1", order.http_port), timeout=5) as slow:
        # a request that never finishes its body
        slow.sendall(b"POST /v1.0/invoke/x/method/y HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        started = time.monotonic()
        assert idle.recv(1024) == b""
        assert slow.recv(1024) == b""
        assert time.monotonic() - started < 3
    assert requests.get(f"{order.url}/v1.0/healthz", timeout=5).status_code == 204
