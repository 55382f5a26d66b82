"""The Debian packages as a user gets them: installed on this machine with apt, a third-party
plugin built from the installed SDK alone (the example, copied out of the -dev package's docs) and
installed into the plugin directory the SDK names, and two installed sidecars started as
skiffd@.service starts them (its command line, as the skiff user, with the unit's state
directory, telling readiness on a notify socket) carrying a call through that plugin, and
reloaded as `systemctl reload` does (the unit's ExecReload).
Runs only when SKIFF_DEB_DIR names the built packages (scripts/package.sh --test): it installs
them system-wide, and purges them when it is done."""
import glob
import gzip
import http.server
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading

import pytest

from harness import free_port, wait_until
import requests

DEB_DIR = os.environ.get("SKIFF_DEB_DIR")
pytestmark = pytest.mark.skipif(not DEB_DIR, reason="SKIFF_DEB_DIR is not set (scripts/package.sh --test)")

UNITS = pathlib.Path("/lib/systemd/system")
APPS = pathlib.Path("/etc/skiff/apps")
EXAMPLES = pathlib.Path("/usr/share/doc/libskiff-plugin-sdk-dev/examples")


def run(*cmd, **kw):
    r = subprocess.run(list(cmd), capture_output=True, text=True, timeout=kw.pop("timeout", 300), **kw)
    assert r.returncode == 0, f"{' '.join(cmd)}: {r.stdout}{r.stderr}"
    return r.stdout


def package_names():
    return [run("dpkg-deb", "-f", deb, "Package").strip() for deb in sorted(glob.glob(f"{DEB_DIR}/*.deb"))]


@pytest.fixture(scope="module")
def installed():
    debs = sorted(glob.glob(f"{DEB_DIR}/*.deb"))
    assert len(debs) >= 12, debs
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    run("apt-get", "install", "-y", "-q", *[os.path.abspath(d) for d in debs], env=env, timeout=600)
    plugindir = run("pkg-config", "--variable=plugindir", "skiff-plugin-sdk").strip()
    yield plugindir
    for f in APPS.glob("test-*.toml"):
        f.unlink()
    for f in pathlib.Path(plugindir).glob("skiff-middleware-apikey.so"):
        f.unlink()
    run("apt-get", "purge", "-y", "-q", *package_names(), env=env, timeout=600)


def test_apt_installs_the_daemon_its_user_configuration_units_and_plugins(installed):
    assert run("getent", "passwd", "skiff").split(":")[5] == "/var/lib/skiff"
    assert oct(os.stat("/var/lib/skiff").st_mode & 0o777) == "0o700"
    assert "/etc/skiff/skiff.toml" in run("dpkg-query", "-W", "-f=${Conffiles}", "skiffd")
    assert pathlib.Path("/etc/skiff/skiff.d").is_dir() and APPS.is_dir()
    for unit in ("skiffd.service", "skiffd@.service"):
        assert (UNITS / unit).exists()
    assert os.path.realpath(installed) == "/usr/lib/x86_64-linux-gnu/skiff/plugins"
    for plugin in ("resolver-sqlite", "resolver-mdns", "resolver-consul", "resolver-kubernetes",
                   "resolver-etcd", "transport-tcp", "transport-grpc", "observer-prometheus",
                   "observer-otlp"):
        assert (pathlib.Path(installed) / f"skiff-{plugin}.so").exists(), plugin
    # The ABI pairing apt enforces: the daemon provides its major, every plugin depends on it.
    major = re.search(r"plugin ABI (\d+)\.", run("/usr/bin/skiffd", "--version")).group(1)
    assert f"skiff-plugin-abi-{major}" in run("dpkg-query", "-W", "-f=${Provides}", "skiffd")
    for name in package_names():
        if name.startswith("skiff-plugin-") and not name.endswith("-dbgsym"):
            assert f"skiff-plugin-abi-{major}" in run("dpkg-query", "-W", "-f=${Depends}", name), name
    assert run("/usr/bin/skiff", "--help")


def test_the_units_verify_and_expose_at_most_2(installed, tmp_path):
    # A template verifies as an instance of it.
    shutil.copy(UNITS / "skiffd@.service", tmp_path / "skiffd@cart.service")
    for unit in (UNITS / "skiffd.service", tmp_path / "skiffd@cart.service"):
        r = subprocess.run(["systemd-analyze", "verify", str(unit)], capture_output=True, text=True)
        problems = [l for l in (r.stdout + r.stderr).splitlines()
                    if "skiffd" in l and "Failed to" not in l and "system bus" not in l]
        assert not problems, problems
        out = run("systemd-analyze", "security", "--offline=true", str(unit))
        exposure = float(re.search(r"Overall exposure level for \S+: (\d+\.\d+)", out).group(1))
        print(f"[{unit.name}] systemd-analyze security: exposure {exposure}")
        assert exposure <= 2.0, out


class App(http.server.BaseHTTPRequestHandler):
    seen = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        App.seen.append(dict(self.headers))
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def example_source(name, dest):
    """The example as the -dev package ships it (dh_compress may have gzipped large files)."""
    shutil.copytree(EXAMPLES / name, dest)
    for gz in dest.rglob("*.gz"):
        gz.with_suffix("").write_bytes(gzip.decompress(gz.read_bytes()))
        gz.unlink()
    return dest


class Sidecar:
    """skiffd as skiffd@<app>.service runs it: its ExecStart, as User=skiff, with the
    StateDirectory and a NOTIFY_SOCKET that it must answer READY=1 on."""

    def __init__(self, app_id, tmp):
        unit = (UNITS / "skiffd@.service").read_text()
        exec_start = re.search(r"^ExecStart=(.*)$", unit, re.M).group(1).replace("%i", app_id)
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        path = tmp / f"notify-{app_id}"
        self.notify.bind(str(path))
        os.chmod(tmp, 0o755)
        os.chmod(path, 0o777)
        env = {"PATH": "/usr/bin:/bin", "STATE_DIRECTORY": "/var/lib/skiff", "NOTIFY_SOCKET": str(path)}
        self.proc = subprocess.Popen(["setpriv", "--reuid=skiff", "--regid=skiff", "--init-groups",
                                      *exec_start.split()], env=env, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)

    def wait_ready(self):
        self.notify.settimeout(20)
        try:
            message = self.notify.recv(4096).decode()
        except socket.timeout:
            self.proc.kill()
            raise AssertionError(f"no READY=1 within 20 s: {self.proc.communicate()[0]}")
        assert "READY=1" in message.split("\n"), message
        return message

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        out = self.proc.communicate(timeout=15)[0]
        self.notify.settimeout(5)
        stopping = self.notify.recv(4096).decode()
        self.notify.close()
        return self.proc.returncode, out, stopping


def test_a_plugin_built_from_the_installed_sdk_runs_in_the_installed_daemon(installed):
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = pathlib.Path(tmp_dir)
        # The third-party workflow: no source tree, only the -dev package and meson.
        src = example_source("middleware-apikey", tmp / "src")
        clean_env = {"PATH": "/usr/bin:/bin", "HOME": tmp_dir}
        run("meson", "setup", str(tmp / "build"), str(src), env=clean_env)
        run("meson", "compile", "-C", str(tmp / "build"), env=clean_env)
        run("meson", "install", "-C", str(tmp / "build"), env=clean_env)
        assert (pathlib.Path(installed) / "skiff-middleware-apikey.so").exists()

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), App)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        ports = {app: (free_port(), free_port(), free_port(), free_port()) for app in ("test-cart", "test-order")}
        for app, (http_port, grpc_port, internal_port, metrics_port) in ports.items():
            app_port = server.server_address[1] if app == "test-cart" else 0
            (APPS / f"{app}.toml").write_text(
                f"[app]\nport = {app_port}\n"
                f"[api]\nhttp_port = {http_port}\ngrpc_port = {grpc_port}\n"
                f"[internal]\nport = {internal_port}\n[metrics]\nport = {metrics_port}\n"
                '[[middleware]]\ntype = "apikey"\nconfig = { key = "s3cret", targets = ["test-cart"] }\n')
        sidecars = [Sidecar(app, tmp) for app in ports]
        try:
            for s in sidecars:
                assert "STATUS=serving" in s.wait_ready()
            order_http = ports["test-order"][0]
            r = requests.post(f"http://127.0.0.1:{order_http}/v1.0/invoke/test-cart/method/orders",
                              data=b"packaged", timeout=10)
            assert r.status_code == 200, r.text
            assert r.text == "packaged"
            assert "x-apikey-elapsed-us" in {k.lower() for k in r.headers}  # the plugin's answer hook
            assert not any(k.lower() == "x-api-key" for k in App.seen[-1])  # the callee removed it
            r = requests.post(f"http://127.0.0.1:{order_http}/v1.0/invoke/test-stock/method/x",
                              data=b"x", timeout=10)
            assert r.status_code == 403, r.text  # not in the plugin's targets
            # `systemctl reload skiffd@test-cart` after an edit of the app's file: the unit's
            # ExecReload, then the new policy decides the next call.
            cart = sidecars[0]
            cart_file = APPS / "test-cart.toml"
            cart_file.write_text(cart_file.read_text() + '[access_control]\ndefault_action = "deny"\n')
            unit = (UNITS / "skiffd@.service").read_text()
            reload_command = re.search(r"^ExecReload=(.*)$", unit, re.M).group(1)
            run(*reload_command.replace("$MAINPID", str(cart.proc.pid)).split())
            assert "RELOADING=1" in cart.notify.recv(4096).decode().split("\n")
            ready = cart.notify.recv(4096).decode()
            assert "READY=1" in ready.split("\n") and "refused" not in ready, ready
            r = requests.post(f"http://127.0.0.1:{order_http}/v1.0/invoke/test-cart/method/orders",
                              data=b"packaged", timeout=10)
            assert r.status_code == 403 and "access control policy has denied" in r.text, r.text
            # The state directory the unit gives: the sidecars' shared registry and the local CA,
            # owned by the service user.
            state = pathlib.Path("/var/lib/skiff")
            assert (state / "nameresolution.db").exists()
            assert all(p.owner() == "skiff" for p in state.rglob("*"))
        finally:
            results = [s.stop() for s in sidecars]
            server.shutdown()
        for code, out, stopping in results:
            assert code == 0, out
            assert "STOPPING=1" in stopping
