"""Certificates written by other infrastructure (cert-manager, SPIRE's helper, Vault agent): made
here with the openssl command, watched by skiffd and reloaded as a complete set; a partial write is
never loaded, and a root can be rotated through a bundle holding old and new roots."""
import os

import pytest

import tls_peer
from harness import invoke_url, requests, wait_until


class Files:
    """A directory of cert.pem, key.pem and bundle.pem per app, as an agent would write them."""

    def __init__(self, tmp):
        self.tmp = tmp
        self.root = tls_peer.other_ca(tmp)
        self.serial = 0

    def write(self, path, text):
        tmp = path.with_suffix(".tmp")
        tmp.write_text(text)
        os.replace(tmp, path)

    def issue(self, app, root=None, days=1):
        """A fresh leaf for app from root (default: the first root); returns (chain, key) texts."""
        self.serial += 1
        crt, key = tls_peer.issue(self.tmp, f"{app}-{self.serial}", [tls_peer.spiffe(app)], root or self.root,
                                  days=days)
        return crt.read_text(), key.read_text()

    def paths(self, app):
        d = self.tmp / f"certs-{app}"
        d.mkdir(exist_ok=True)
        return d / "cert.pem", d / "key.pem", d / "bundle.pem"

    def install(self, app, chain, key, bundle):
        cert_path, key_path, bundle_path = self.paths(app)
        self.write(bundle_path, bundle)
        self.write(key_path, key)
        self.write(cert_path, chain)

    def config(self, app):
        cert_path, key_path, bundle_path = self.paths(app)
        return (f'[security]\ncert_file = "{cert_path}"\nkey_file = "{key_path}"\n'
                f'bundle_file = "{bundle_path}"\n')


@pytest.fixture
def files(cluster):
    return Files(cluster.tmp)


def presented_serial(sidecar):
    with tls_peer.connect(sidecar.internal_port, None, sidecar.bundle) as s:
        return s.getpeercert()["serialNumber"]


def start(cluster, files, app, app_port=None):
    root_pem = files.root[0].read_text()
    files.install(app, *files.issue(app), root_pem)
    p = cluster.sidecar(app, app_port=app_port, config=files.config(app))
    p.bundle = files.paths(app)[2]
    return p


def test_sidecars_use_and_reload_watched_certificate_files(cluster, files):
    app = cluster.recording_app("cart")
    cart = start(cluster, files, "cart", app.port)
    order = start(cluster, files, "order")
    url = invoke_url(order, "cart", "hello")
    assert requests.post(url, data=b"1", timeout=10).status_code == 200
    identity = requests.get(cart.url + "/v1.0/metadata", timeout=5).json()["identity"]
    assert identity["spiffeId"] == "spiffe://public/ns/default/cart" and "renewal" not in identity
    before = presented_serial(cart)
    files.install("cart", *files.issue("cart", days=2), files.root[0].read_text())
    wait_until(lambda: "workload certificate of spiffe://public/ns/default/cart reloaded" in cart.output(),
               what="the reload")
    # New connections get the new certificate; calls keep working.
    assert presented_serial(cart) != before
    assert requests.post(url, data=b"2", timeout=10).status_code == 200


def test_a_partial_write_is_never_loaded(cluster, files):
    app = cluster.recording_app("cart")
    cart = start(cluster, files, "cart", app.port)
    order = start(cluster, files, "order")
    url = invoke_url(order, "cart", "hello")
    before = presented_serial(cart)
    chain, key = files.issue("cart")
    cert_path, key_path, _ = files.paths("cart")
    files.write(cert_path, chain)  # the key not yet: the set does not belong together
    wait_until(lambda: "not loaded, the installed certificate stays in use" in cart.output(), what="the refusal")
    assert presented_serial(cart) == before
    assert requests.post(url, data=b"1", timeout=10).status_code == 200
    files.write(key_path, key)
    wait_until(lambda: "reloaded" in cart.output(), what="the reload of the complete set")
    assert presented_serial(cart) != before
    assert requests.post(url, data=b"2", timeout=10).status_code == 200
    # A certificate for another app, or one no root of the bundle signed, is refused as well.
    other_chain, other_key = files.issue("order")
    files.install("cart", other_chain, other_key, files.root[0].read_text())
    wait_until(lambda: "not for this sidecar" in cart.output(), what="the refusal of another app's certificate")
    assert requests.post(url, data=b"3", timeout=10).status_code == 200


def test_a_root_is_rotated_with_a_bundle_of_old_and_new_roots(cluster, files):
    app = cluster.recording_app("cart")
    cart = start(cluster, files, "cart", app.port)
    order = start(cluster, files, "order")
    url = invoke_url(order, "cart", "hello")
    old_root = files.root[0].read_text()
    new_dir = cluster.tmp / "new-root"
    new_dir.mkdir()
    new_root = tls_peer.other_ca(new_dir)
    both = old_root + new_root[0].read_text()
    # 1. Both sidecars trust both roots; 2. their certificates come from the new root; 3. the old
    # root goes. Calls work at every step.
    for step, (root, bundle) in enumerate([(files.root, both), (new_root, both), (new_root, new_root[0].read_text())]):
        for name, sidecar in (("cart", cart), ("order", order)):
            files.install(name, *files.issue(name, root=root), bundle)
        for sidecar in (cart, order):
            wait_until(lambda: sidecar.output().count("reloaded") >= step + 1, what=f"step {step + 1} loaded")
        r = requests.post(url, data=str(step).encode(), timeout=10)
        assert r.status_code == 200, (step, r.text)


def test_unusable_files_stop_start_up_and_check_mode(cluster, files):
    root_pem = files.root[0].read_text()
    files.install("cart", *files.issue("order"), root_pem)
    out, err = cluster.refused("cart", config=files.config("cart"))
    assert "not for this sidecar" in out and "not for this sidecar" in err
    files.install("cart", *files.issue("cart", days=-1), root_pem)
    out, err = cluster.refused("cart", config=files.config("cart"))
    assert "expired" in out, out
    r = cluster.check_config('[security]\ncert_file = "a.pem"\n')
    assert r.returncode == 2 and "security.key_file" in r.stderr
