"""What systemd's units rely on (packaging/systemd): readiness and stopping told over the sd_notify
protocol (a datagram on $NOTIFY_SOCKET, as Type=notify expects), and skiffd@<app>.service's
--app-config, read after the shared configuration so that its keys win."""
import socket

from harness import invoke_url, requests


def notify_socket(tmp_path):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(str(tmp_path / "notify"))
    s.settimeout(15)
    return s


def test_readiness_and_stopping_reach_the_notify_socket(cluster, tmp_path):
    with notify_socket(tmp_path) as s:
        sidecar = cluster.sidecar("cart", env=dict(cluster.env, NOTIFY_SOCKET=str(tmp_path / "notify")))
        # Sent once serving: the HTTP API answers by the time the datagram is read.
        ready = s.recv(4096).decode().split("\n")
        assert "READY=1" in ready and any(l.startswith("STATUS=serving app-id=cart") for l in ready), ready
        assert requests.get(f"{sidecar.url}/v1.0/healthz", timeout=5).status_code == 204
        assert sidecar.stop() == 0
        assert s.recv(4096).decode() == "STOPPING=1"


def test_an_abstract_notify_socket_is_reached_too(cluster, tmp_path):
    name = f"skiff-test-{tmp_path.name}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind("\0" + name)
        s.settimeout(15)
        cluster.sidecar("cart", env=dict(cluster.env, NOTIFY_SOCKET="@" + name))
        assert "READY=1" in s.recv(4096).decode()


def test_a_bad_notify_socket_costs_a_warning_not_the_start(cluster, tmp_path):
    sidecar = cluster.sidecar("cart", env=dict(cluster.env, NOTIFY_SOCKET=str(tmp_path / "nobody")))
    assert "cannot tell the service manager" in sidecar.output()
    assert requests.get(f"{sidecar.url}/v1.0/healthz", timeout=5).status_code == 204


def test_the_app_config_is_read_after_the_shared_one_and_wins(cluster, tmp_path):
    app = cluster.app("cart")
    shared = tmp_path / "skiff.toml"
    shared.write_text("[app]\nport = 1\n[log]\njson = true\n")
    own = tmp_path / "cart.toml"
    own.write_text(f"[app]\nport = {app.port}\n")
    cart = cluster.sidecar("cart", extra=["--config", shared, "--app-config", own])
    # The shared file's keys hold where the app's file is silent: JSON log lines.
    assert any(l.startswith("{") and "skiffd ready" in l for l in cart.output().splitlines())
    order = cluster.sidecar("order")
    # The call reaches the app on the port the app's own file names, not the shared file's.
    r = requests.post(invoke_url(order, "cart", "echo"), data=b"hi", timeout=10)
    assert r.status_code == 200 and r.text == "hi"
    checked = cluster.check_config(extra=["--app-id", "cart", "--config", shared, "--app-config", own])
    assert checked.returncode == 0, checked.stderr
    assert f"({shared}, {own})" in checked.stdout


def test_a_missing_app_config_is_refused_with_its_path(cluster, tmp_path):
    missing = tmp_path / "apps" / "nosuch.toml"
    out, checked = cluster.refused("nosuch", extra=["--app-config", missing], exit_code=2)
    for text in (out, checked):
        assert f"{missing}: cannot open configuration file" in text, text
