"""Load spreading, failures of the callee's app and of the callee's sidecar."""
import time

from harness import free_port, invoke_url, requests, wait_until


def test_calls_spread_round_robin_over_two_instances(cluster):
    apps = [cluster.app("cart-1"), cluster.app("cart-2")]
    for a in apps:
        cluster.sidecar("cart", app_port=a.port)
    order = cluster.sidecar("order")
    # both instances must be visible to order's resolver first
    seen = {}
    with requests.Session() as s:
        for _ in range(40):
            r = s.get(invoke_url(order, "cart", "echo"), timeout=10)
            assert r.status_code == 200
            seen[r.headers["X-App-Name"]] = seen.get(r.headers["X-App-Name"], 0) + 1
    assert set(seen) == {"cart-1", "cart-2"}, seen
    assert abs(seen["cart-1"] - seen["cart-2"]) <= 4, seen


def test_app_down_gives_an_error_quickly(cluster):
    dead_port = free_port()  # nothing listens here
    cluster.sidecar("cart", app_port=dead_port)
    order = cluster.sidecar("order")
    started = time.monotonic()
    r = requests.post(invoke_url(order, "cart", "x"), data=b"hi", timeout=30)
    assert time.monotonic() - started < 5
    assert r.status_code == 500
    body = r.json()
    assert body["errorCode"] == "ERR_DIRECT_INVOKE"
    assert "error invoking app channel" in body["message"]


def test_stuck_app_times_out_within_the_configured_time(cluster):
    cart_app = cluster.app("cart")
    cluster.sidecar("cart", app_port=cart_app.port, config='[app]\ntimeout = "1s"\n')
    order = cluster.sidecar("order")
    started = time.monotonic()
    r = requests.get(invoke_url(order, "cart", "sleep/10000"), timeout=30)
    elapsed = time.monotonic() - started
    assert r.status_code == 504, r.text
    assert 0.9 < elapsed < 5, elapsed
    assert "did not answer within 1000ms" in r.json()["message"]
    # a quick call afterwards still works
    assert requests.get(invoke_url(order, "cart", "sleep/10"), timeout=10).text == "slept"


def test_restarted_callee_sidecar_is_reached_again_without_restarting_the_caller(cluster):
    cart_app = cluster.app("cart")
    cart = cluster.sidecar("cart", app_port=cart_app.port)
    order = cluster.sidecar("order")
    assert requests.get(invoke_url(order, "cart", "echo"), timeout=10).status_code == 200

    cart.kill()
    r = requests.get(invoke_url(order, "cart", "echo"), timeout=30)
    assert r.status_code == 500
    assert r.json()["errorCode"] == "ERR_DIRECT_INVOKE"

    cluster.sidecar("cart", app_port=cart_app.port, http_port=cart.http_port, internal_port=cart.internal_port)
    wait_until(lambda: requests.get(invoke_url(order, "cart", "echo"), timeout=10).status_code == 200,
               timeout=15, what="calls to the restarted cart sidecar")
    for _ in range(20):
        assert requests.get(invoke_url(order, "cart", "echo"), timeout=10).status_code == 200


def test_one_dead_instance_of_two_does_not_fail_calls(cluster):
    apps = [cluster.app("cart-1"), cluster.app("cart-2")]
    sidecars = [cluster.sidecar("cart", app_port=a.port) for a in apps]
    order = cluster.sidecar("order")
    sidecars[0].kill()
    for _ in range(20):
        r = requests.get(invoke_url(order, "cart", "echo"), timeout=30)
        assert r.status_code == 200, r.text
        assert r.headers["X-App-Name"] == "cart-2"


def test_a_stale_address_serving_another_app_is_never_called(cluster):
    """Without mTLS the callee's head check says so (with mTLS its certificate does: test_mtls.py)."""
    import sqlite3
    off = "[security]\nmtls = false\n"
    pay_app = cluster.app("pay")
    pay = cluster.sidecar("pay", app_port=pay_app.port, config=off)
    order = cluster.sidecar("order", config=off)
    # pay's row now claims to be cart: a resolver's view gone stale
    with sqlite3.connect(cluster.db_path, timeout=5) as conn:
        conn.execute("UPDATE hosts SET app_id = 'cart' WHERE address = ?", (f"127.0.0.1:{pay.internal_port}",))
    r = requests.post(invoke_url(order, "cart", "echo"), data=b"for cart", timeout=30)
    assert r.status_code == 500
    assert "serves pay.default, not cart.default" in r.json()["message"]


def test_sidecars_on_one_machine_need_no_internal_port(cluster):
    from harness import SKIFFD, free_port, port_open
    import socket
    # Hold the default internal port, as another sidecar on this machine would.
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        holder.bind(("127.0.0.1", 50002))
        holder.listen()
    except OSError:
        pass  # something else already holds it, which serves the test as well
    try:
        cart_app = cluster.app("cart")
        started = []
        for app_id, extra in (("cart", ["--app-port", cart_app.port]), ("order", [])):
            port = free_port()
            p = cluster.start([SKIFFD, "--app-id", app_id, "--dapr-http-port", port, *extra], f"auto-{app_id}")
            wait_until(lambda: "skiffd ready" in p.output() or not p.running(), what=f"{app_id} ready")
            assert p.running(), p.output()
            assert "using a free port" in p.output()
            started.append(port)
        r = requests.post(f"http://127.0.0.1:{started[1]}/v1.0/invoke/cart/method/echo", data=b"hi", timeout=10)
        assert r.status_code == 200 and r.text == "hi"
    finally:
        holder.close()


def test_an_explicit_internal_port_that_is_taken_is_an_error(cluster):
    import socket
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        p = cluster.sidecar("order", internal_port=port, wait_ready=False)
        assert p.proc.wait(timeout=10) == 1
        assert "cannot listen" in p.output()


def test_a_call_lost_after_delivery_is_not_retried_on_another_instance(cluster):
    import signal
    import threading
    apps = [cluster.app("cart-1"), cluster.app("cart-2")]
    sidecars = [cluster.sidecar("cart", app_port=a.port) for a in apps]
    order = cluster.sidecar("order")

    def sleeps(app):
        return requests.get(f"http://127.0.0.1:{app.port}/stats", timeout=5).json()["sleeps"]

    answer = {}
    caller = threading.Thread(target=lambda: answer.setdefault(
        "r", requests.post(invoke_url(order, "cart", "sleep/3000"), data=b"charge card", timeout=30)))
    caller.start()
    wait_until(lambda: any(sleeps(a) == 1 for a in apps), what="the call to reach an app")
    busy = next(i for i, a in enumerate(apps) if sleeps(a) == 1)
    sidecars[busy].stop(signal.SIGKILL)
    caller.join(timeout=30)
    r = answer["r"]
    assert r.status_code == 500, r.text
    assert "not retried" in r.json()["message"]
    assert sleeps(apps[1 - busy]) == 0  # the other instance never ran it


def streamed(payload):
    """A request body requests sends chunked: the caller's sidecar streams it and sends it once."""
    def chunks():
        yield payload[:3]
        yield payload[3:]
    return chunks()


def test_a_dead_instance_found_by_a_streamed_call_is_not_called_again(cluster):
    apps = [cluster.app("cart-1"), cluster.app("cart-2")]
    sidecars = [cluster.sidecar("cart", app_port=a.port) for a in apps]
    order = cluster.sidecar("order")
    with requests.Session() as s:
        wait_until(lambda: len({s.get(invoke_url(order, "cart", "echo"), timeout=10).headers["X-App-Name"]
                                for _ in range(4)}) == 2, what="both instances called")
        sidecars[0].kill()
        # A streamed body cannot be sent twice, so the call that finds the dead instance fails;
        # it reports the instance, and the calls after it go to the live one.
        answers = [s.post(invoke_url(order, "cart", "echo"), data=streamed(b"streamed body"), timeout=30)
                   for _ in range(12)]
    failed = [r for r in answers if r.status_code != 200]
    assert len(failed) <= 1, [r.text for r in failed]
    assert all(r.text == "streamed body" and r.headers["X-App-Name"] == "cart-2"
               for r in answers if r.status_code == 200)


def test_a_dead_instance_is_reported_with_retries_turned_off(cluster):
    apps = [cluster.app("cart-1"), cluster.app("cart-2")]
    sidecars = [cluster.sidecar("cart", app_port=a.port) for a in apps]
    order = cluster.sidecar("order", config="[invoke]\nunavailable_retries = 0\n")
    with requests.Session() as s:
        wait_until(lambda: len({s.get(invoke_url(order, "cart", "echo"), timeout=10).headers["X-App-Name"]
                                for _ in range(4)}) == 2, what="both instances called")
        sidecars[1].kill()
        answers = [s.post(invoke_url(order, "cart", "echo"), data=b"whole body", timeout=30) for _ in range(12)]
    failed = [r for r in answers if r.status_code != 200]
    assert len(failed) <= 1, [r.text for r in failed]
    assert {r.headers["X-App-Name"] for r in answers if r.status_code == 200} == {"cart-1"}
