import pytest

import harness
from harness import Cluster


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
