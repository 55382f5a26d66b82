import shutil
import subprocess
from pathlib import Path

import pytest

import harness
from harness import BUILD, Cluster

SDK_JS = Path(__file__).parent / "integration" / "sdk_js"


@pytest.fixture(autouse=True)
def no_sanitizer_reports():
    """Fails the test during which a process it started printed a sanitizer report."""
    before = len(harness.sanitizer_reports)
    yield
    new = harness.sanitizer_reports[before:]
    if new:
        pytest.fail("sanitizer report:\n" + "\n\n".join(new), pytrace=False)


@pytest.fixture
def cluster(tmp_path):
    c = Cluster(tmp_path)
    yield c
    c.stop_all()


@pytest.fixture
def order_cart(cluster):
    """The demo topology: order (caller) and cart (callee, with its app) sharing one SQLite file."""
    cart_app = cluster.app("cart")
    cart = cluster.sidecar("cart", app_port=cart_app.port)
    order = cluster.sidecar("order")
    return order, cart


@pytest.fixture(scope="session")
def sdk_dir():
    """Dapr's JavaScript SDK (and with it grpc-js) installed with `npm ci` into the build tree, once
    per lockfile, beside the test scripts in integration/sdk_js."""
    if not shutil.which("node") or not shutil.which("npm"):
        pytest.fail("node and npm are needed (scripts/install-deps.sh installs them)")
    d = BUILD / "sdk-js"
    d.mkdir(exist_ok=True)
    lock = (SDK_JS / "package-lock.json").read_text()
    stamp = d / ".installed-lock"
    if not stamp.exists() or stamp.read_text() != lock or not (d / "node_modules" / "@dapr" / "dapr").exists():
        for name in ("package.json", "package-lock.json"):
            shutil.copy(SDK_JS / name, d / name)
        r = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts"], cwd=d,
                           capture_output=True, text=True, timeout=600)
        assert r.returncode == 0, r.stderr[-2000:]
        stamp.write_text(lock)
    for script in SDK_JS.glob("*.mjs"):
        shutil.copy(script, d / script.name)
    return d
