"""Test certificates made with the openssl CLI: a CA, a server certificate for 127.0.0.1/localhost, a
server certificate for another name, a client certificate, and a second CA that signed none of them.
All keys are EC P-256 (quick to make), unencrypted PEM.

    from tls_ca import make_tls
    tls = make_tls(tmp_path / "tls")
    tls.ca, tls.server_cert, tls.server_key, tls.client_cert, tls.client_key, tls.other_ca, ...

Run as a script to make them in a folder: tls_ca.py DIR
"""
import secrets
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

OPENSSL_CNF = """\
[req]
distinguished_name = dn
prompt = no

[dn]
CN = unused

[ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always

[server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = IP:127.0.0.1, DNS:localhost
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer

[wrong_name]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = DNS:not-this-host.example
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer

[client]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
extendedKeyUsage = clientAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid, issuer
"""


def _openssl(*args, cwd):
    r = subprocess.run(["openssl", *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(map(str, args))} failed:\n{r.stdout}{r.stderr}")


def _new_key_args(key):
    return ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", key]


def _make_ca(d, name, cn):
    _openssl("req", "-config", "openssl.cnf", "-x509", "-new", *_new_key_args(f"{name}.key"),
             "-subj", f"/CN={cn}", "-days", "3650", "-extensions", "ca", "-out", f"{name}.pem", cwd=d)


def _make_leaf(d, name, cn, ca, extensions):
    _openssl("req", "-config", "openssl.cnf", "-new", *_new_key_args(f"{name}.key"), "-subj", f"/CN={cn}",
             "-out", f"{name}.csr", cwd=d)
    _openssl("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.pem", "-CAkey", f"{ca}.key",
             "-set_serial", f"0x{secrets.token_hex(8)}", "-days", "365", "-extfile", "openssl.cnf",
             "-extensions", extensions, "-out", f"{name}.pem", cwd=d)


def make_tls(directory):
    d = Path(directory)
    d.mkdir(parents=True, exist_ok=True)
    (d / "openssl.cnf").write_text(OPENSSL_CNF)
    _make_ca(d, "ca", "skiff test CA")
    _make_ca(d, "other-ca", "unrelated test CA")
    _make_leaf(d, "server", "127.0.0.1", "ca", "server")
    _make_leaf(d, "wrong-name", "not-this-host.example", "ca", "wrong_name")
    _make_leaf(d, "client", "skiff test client", "ca", "client")
    return SimpleNamespace(
        dir=d,
        ca=d / "ca.pem", ca_key=d / "ca.key",
        other_ca=d / "other-ca.pem",
        server_cert=d / "server.pem", server_key=d / "server.key",
        wrong_name_cert=d / "wrong-name.pem", wrong_name_key=d / "wrong-name.key",
        client_cert=d / "client.pem", client_key=d / "client.key",
        client_cn="skiff test client",
    )


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: tls_ca.py DIR")
    tls = make_tls(sys.argv[1])
    for k, v in vars(tls).items():
        print(f"{k} = {v}")
