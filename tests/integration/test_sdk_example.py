"""The out-of-tree example plugin, built only against the installed SDK, loaded into skiffd."""
import os
import subprocess

from harness import BUILD, REPO, invoke_url, requests


def test_example_plugin_builds_against_the_installed_sdk_and_serves_calls(cluster, tmp_path):
    dest = tmp_path / "root"
    subprocess.run(["meson", "install", "-C", str(BUILD), "--destdir", str(dest), "--no-rebuild", "--quiet"],
                   check=True, capture_output=True, timeout=300)
    pcs = list(dest.rglob("skiff-plugin-sdk.pc"))
    assert len(pcs) == 1
    env = dict(os.environ, PKG_CONFIG_PATH=str(pcs[0].parent))
    build = tmp_path / "example-build"
    for cmd in (["meson", "setup", str(build), str(REPO / "sdk" / "examples" / "resolver-static")],
                ["meson", "compile", "-C", str(build)]):
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stdout + r.stderr
    assert (build / "skiff-resolver-static.so").exists()

    cart_app = cluster.app("cart")
    cart = cluster.sidecar("cart", app_port=cart_app.port)
    config = (f'[plugins]\npaths = ["{build}"]\n[resolver]\ntype = "static"\n'
              f'[resolver.config.apps]\ncart = ["127.0.0.1:{cart.internal_port}"]\n')
    order = cluster.sidecar("order", config=config)
    assert "static table" in order.output()
    r = requests.post(invoke_url(order, "cart", "echo"), data=b"via static", timeout=10)
    assert r.status_code == 200
    assert r.text == "via static"
    r = requests.get(invoke_url(order, "unknown", "x"), timeout=10)
    assert r.status_code == 500

    output, checked = cluster.refused("bad", config=f'[plugins]\npaths = ["{build}"]\n[resolver]\ntype = "static"\n'
                                      '[resolver.config.apps]\ncart = ["no-port"]\n')
    for text in (output, checked):
        assert "resolver.config.apps.cart[0]: expected a \"host:port\" string" in text, text
