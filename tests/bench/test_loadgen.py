"""bench/loadgen: the load generator reports what it measured, in open and closed loop."""
import json
import subprocess

from harness import BUILD, free_port, invoke_url, port_open, wait_until  # noqa: F401

LOADGEN = BUILD / "bench" / "skiff-loadgen"


def run(*args):
    r = subprocess.run([str(LOADGEN), *map(str, args)], capture_output=True, text=True, timeout=60)
    return r.returncode, json.loads(r.stdout)


def test_open_loop_keeps_the_rate_and_reports_ordered_percentiles(cluster):
    app = cluster.app("echo")
    code, out = run("--port", app.port, "--path", "/echo", "-r", 400, "-d", 1, "--warmup", 0.2, "-c", 4)
    assert code == 0
    assert out["mode"] == "open" and out["errors"] == 0 and out["non_2xx"] == 0
    # open loop: the scheduled number of requests in the measured second, no more, no fewer
    assert 390 <= out["requests"] <= 410
    lat = out["latency_us"]
    assert 0 < lat["p50"] <= lat["p90"] <= lat["p99"] <= lat["p999"] <= lat["max"]
    assert out["bytes_in"] == out["requests"] * 1024  # the echo app returns each 1 KiB body


def test_closed_loop_through_two_sidecars_counts_errors_and_throughput(order_cart):
    order, _ = order_cart
    code, out = run("--port", order.http_port, "--path", "/v1.0/invoke/cart/method/echo", "-d", 1,
                    "--warmup", 0.2, "-c", 8, "--body-size", 64 * 1024)
    assert code == 0 and out["mode"] == "closed" and out["errors"] == 0
    assert out["requests"] > 10 and out["throughput_rps"] == out["requests"] / 1.0
    assert out["bytes_in"] == out["requests"] * 64 * 1024
    code, out = run("--port", order.http_port, "--path", "/v1.0/invoke/nosuchapp/method/echo", "-d", 0.3,
                    "--warmup", 0, "-c", 1)
    assert code == 1 and out["non_2xx"] == out["requests"] > 0  # errors are counted, not hidden


GRPC_LOADGEN = BUILD / "bench" / "skiff-grpc-loadgen"
GRPC_ECHO = BUILD / "bench" / "skiff-grpc-echo"


def run_grpc(*args):
    r = subprocess.run([str(GRPC_LOADGEN), *map(str, args)], capture_output=True, text=True, timeout=60)
    return r.returncode, json.loads(r.stdout)


def test_grpc_loadgen_through_two_sidecars_in_proxy_mode(cluster):
    echo_port = free_port()
    echo = cluster.start([GRPC_ECHO, "--port", echo_port], "grpc-echo")
    wait_until(lambda: port_open(echo_port), what="the gRPC echo app")
    target = cluster.sidecar("echo", app_port=echo_port, app_protocol="grpc")
    caller = cluster.sidecar("caller")
    wait_until(lambda: target.running(), what="the target sidecar")
    code, out = run_grpc("--target", f"127.0.0.1:{caller.grpc_port}", "-H", "dapr-app-id: echo",
                         "-r", 200, "-d", 1, "--warmup", 0.3, "-c", 4, "--body-size", 512)
    assert code == 0, out
    assert out["mode"] == "open" and out["errors"] == 0 and out["non_2xx"] == 0
    assert 195 <= out["requests"] <= 205
    assert out["bytes_in"] == out["requests"] * 512  # each message echoed whole
    lat = out["latency_us"]
    assert 0 < lat["p50"] <= lat["p99"] <= lat["max"]
    # A call the sidecar cannot place is counted as failed, not hidden.
    code, out = run_grpc("--target", f"127.0.0.1:{caller.grpc_port}", "-H", "dapr-app-id: nosuchapp",
                         "-d", 0.3, "--warmup", 0, "-c", 1)
    assert code == 1 and out["non_2xx"] == out["requests"] > 0
    echo.stop()
