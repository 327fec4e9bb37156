"""Certificates (trustme) and port helpers shared by the loopback test servers.

`TlsMaterial(directory)` makes, once per test session (fixture `tls` in mailservers.py):

* `ca_pem` (bytes) / `ca_path` (str): the trusted test CA. Give the path to the firmware as its
  CA bundle; `client_context()` is a CPython `ssl.SSLContext` that trusts it (hostname checked).
  `ca_der` / `ca_der_path`: the same certificate in DER. MicroPython's unix VM (mbedTLS 3.6)
  refuses the PEM form in `load_verify_locations(cadata=...)` ("invalid cert") and takes DER.
* three server certificates, chosen by name wherever a server takes `cert=`:
  - "good": issued by the trusted CA for localhost, 127.0.0.1 and 127.0.0.2;
  - "untrusted": same names, issued by an unrelated CA (`untrusted_ca_pem` / `untrusted_ca_path`),
    so verification against `ca_path` fails;
  - "wrong_host": issued by the trusted CA for `WRONG_HOSTNAME` only, so the chain verifies but
    the host name / IP check fails.
  `server_cert(name)` gives a `ServerCert` with `cert_path` (leaf + chain PEM), `key_path`,
  `chain_pem`, `key_pem`; `server_context(name)` a server-side `ssl.SSLContext`.
  Keys are ECDSA P-256 (trustme's default; mbedTLS on the board handles them).

Ports and names for failure tests:

* `free_port(host)`: a TCP port nobody listened on a moment ago (servers that must be told a
  port use it; there is a small window in which another process could take it).
* `refused_port()`: context manager yielding a port that is bound but never listens, so a
  connect to 127.0.0.1:port is refused (RST) for as long as the block lasts, and no other
  process can take the port meanwhile.
* `silent_port()`: context manager yielding a port that accepts connections and never says a
  word (a server that hangs before its greeting).
* `UNKNOWN_HOST`: a name that never resolves (RFC 6761 `.invalid`).
* `wait_for_greeting(host, port, prefix, timeout, alive)`: connect until the server's greeting
  starts with `prefix` (readiness without fixed sleeps).
* `wait_until(predicate, timeout)`: poll until predicate() is true; False on timeout. For
  what a server thread records just after its reply went out (see srv_ftp.py `received`).
* `first_bytes(sock)`: the first bytes a server sends, b"" if it closes or resets instead
  (e.g. a plaintext client on an implicit-TLS port).
"""

import contextlib
import os
import socket
import ssl
import time

import trustme

LOOPBACK = "127.0.0.1"
# Dovecot treats a client whose address equals the listener's as secure (plaintext allowed),
# so servers whose TLS policy must bite listen here: the kernel picks 127.0.0.1 as the source.
LOOPBACK_ALT = "127.0.0.2"
SERVER_NAMES = ("localhost", LOOPBACK, LOOPBACK_ALT)
WRONG_HOSTNAME = "wrong-host.example"
UNKNOWN_HOST = "no-such-host.invalid"
CERT_NAMES = ("good", "untrusted", "wrong_host")


class ServerCert:
    """One server certificate on disk: `cert_path` (leaf then chain) and `key_path`."""

    def __init__(self, leaf, directory, name):
        self.chain_pem = b"".join(blob.bytes() for blob in leaf.cert_chain_pems)
        self.key_pem = leaf.private_key_pem.bytes()
        self.cert_path = os.path.join(directory, name + "-cert.pem")
        self.key_path = os.path.join(directory, name + "-key.pem")
        with open(self.cert_path, "wb") as f:
            f.write(self.chain_pem)
        with open(self.key_path, "wb") as f:
            f.write(self.key_pem)
        os.chmod(self.key_path, 0o600)


class TlsMaterial:
    """The trusted CA, an unrelated CA, and the three server certificates (see module doc)."""

    def __init__(self, directory):
        os.makedirs(directory, exist_ok=True)
        self.directory = str(directory)
        self._ca = trustme.CA(organization_name="mtip test CA")
        self._other_ca = trustme.CA(organization_name="unrelated CA")
        self.ca_pem = self._ca.cert_pem.bytes()
        self.ca_path = self._write("ca.pem", self.ca_pem)
        self.ca_der = ssl.PEM_cert_to_DER_cert(self.ca_pem.decode("ascii"))
        self.ca_der_path = self._write("ca.der", self.ca_der)
        self.untrusted_ca_pem = self._other_ca.cert_pem.bytes()
        self.untrusted_ca_path = self._write("untrusted-ca.pem", self.untrusted_ca_pem)
        self._certs = {
            "good": ServerCert(self._ca.issue_cert(*SERVER_NAMES), self.directory, "good"),
            "untrusted": ServerCert(
                self._other_ca.issue_cert(*SERVER_NAMES), self.directory, "untrusted"
            ),
            "wrong_host": ServerCert(
                self._ca.issue_cert(WRONG_HOSTNAME), self.directory, "wrong_host"
            ),
        }

    def _write(self, name, data):
        path = os.path.join(self.directory, name)
        with open(path, "wb") as f:
            f.write(data)
        return path

    def server_cert(self, name="good"):
        if name not in self._certs:
            raise ValueError("cert must be one of %s, not %r" % (CERT_NAMES, name))
        return self._certs[name]

    def server_context(self, name="good"):
        """Server-side context presenting certificate `name`; asks no client certificate."""
        cert = self.server_cert(name)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert.cert_path, cert.key_path)
        return ctx

    def client_context(self, cafile=None):
        """CPython client context trusting the test CA (or `cafile`), hostname checked."""
        return ssl.create_default_context(cafile=cafile or self.ca_path)


def free_port(host=LOOPBACK):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def refused_port(host=LOOPBACK):
    # Bound without listen(): the kernel answers a SYN with RST, and the port stays ours.
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        yield s.getsockname()[1]
    finally:
        s.close()


@contextlib.contextmanager
def silent_port(host=LOOPBACK):
    # Listening, never accepted: the kernel completes the handshake, nothing is ever sent.
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        s.bind((host, 0))
        s.listen(1)
        yield s.getsockname()[1]
    finally:
        s.close()


def wait_for_greeting(host, port, prefix, timeout=10.0, alive=None):
    """Connect to host:port until a greeting starting with `prefix` arrives; False on timeout.

    `alive()` (optional) is polled too: when it returns False the wait stops at once, so a
    server that died on start-up is reported without waiting out the timeout.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if alive is not None and not alive():
            return False
        try:
            with socket.create_connection((host, port), timeout=1.0) as s:
                if s.recv(256).startswith(prefix):
                    return True
        except OSError:
            pass
        time.sleep(0.02)  # between connect attempts, not a wait for readiness
    return False


def wait_until(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)  # polling interval
    return True


def first_bytes(sock, size=100):
    """What a server sends first (b"" when it closes or resets the connection instead)."""
    try:
        return sock.recv(size)
    except ConnectionResetError:
        return b""
