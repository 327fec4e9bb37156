"""pytest fixtures: real SMTP, POP3 and FTP(S) servers on loopback, with trustme certificates.

Use them from a test module with

    pytest_plugins = ["mailservers"]

Every server listens on 127.0.0.1 (POP3 with require_tls on 127.0.0.2, see below) on a port
chosen for it, is really started (the fixture returns once it answers), and is stopped when
the test ends. Each server object has .host, .port, .ca_pem (bytes) and .ca_path (str; give
it to the firmware as its CA bundle). Details of each are in srv_smtp.py, srv_pop3.py,
srv_ftp.py and srv_tls.py; this is the summary.

tls (session scope) -> srv_tls.TlsMaterial
    .ca_pem, .ca_path                 the trusted test CA (PEM bytes, file)
    .ca_der, .ca_der_path             the same in DER (MicroPython's ssl loads only DER cadata)
    .untrusted_ca_pem, .untrusted_ca_path   an unrelated CA
    .server_cert(name) -> .cert_path, .key_path, .chain_pem, .key_pem
    .client_context(cafile=None)      CPython ssl context trusting the CA (hostname checked)
    .server_context(name)             server-side ssl context
    Certificate names (the `cert=` of every server): "good" (trusted CA; localhost, 127.0.0.1,
    127.0.0.2), "untrusted" (same names, unrelated CA: does not verify), "wrong_host" (trusted
    CA, for srv_tls.WRONG_HOSTNAME only: the host check fails).

smtp_server(mode="plain", users=None, auth_required=False, auth_require_tls=None,
            refuse_rcpt=(), refuse_mail_from=False, refuse_data=False, drop_in_data=None,
            cert="good") -> srv_smtp.SmtpServer          (aiosmtpd)
    mode: "plain" | "starttls" | "starttls_required" | "implicit_tls"
    users: {"user": "password"} for AUTH LOGIN / PLAIN.
    .messages: [ReceivedMessage(.mail_from, .rcpt_tos, .wire, .content, .session)]
        .wire = exact bytes after the DATA line through the final ".\\r\\n" (dot-stuffed);
        .content = envelope.original_content (un-stuffed, no terminator, bare LF kept).
    .sessions: [SmtpSession(.commands, .replies, .ehlo, .starttls, .tls, .auth_mechanism,
        .auth_login, .auth_failures, .dropped, .client_bytes)]
    Bare LF: accepted and kept as is (only CRLF ends a line; "\\n.\\n" ends nothing).

pop3_server(users={"alice": "secret"}, require_tls=False, cert="good") -> srv_pop3.DovecotPop3
    Debian's dovecot, private config in its own directory, pop3 only.
    .port (plain, STLS offered), .tls_port (implicit TLS)
    require_tls=True: USER/PASS refused before STLS; .host is then 127.0.0.2 (dovecot trusts a
        client on its own address, so 127.0.0.1 would let plaintext through).
    .deliver(user, [bytes, ...]) store messages byte-exact, numbered 1.. in that order
    .remaining(user) -> [bytes]   what is still in the mailbox (DELE + QUIT removes)
    .kill() SIGKILL dovecot (mid-transfer failure); .log() dovecot's log text

ftp_server(users={"bob": "secret"}, anonymous=None, tls=None, tls_control_required=False,
           tls_data_required=False, cert="good", passive_ports=None, refuse_stor=False,
           drop_after=None, drop_control=False) -> srv_ftp.FtpServer   (pyftpdlib)
    .root: pathlib.Path of the served directory (a fresh tmp dir); users read/write there.
    anonymous: None | "read" | "write";  tls: None | "explicit" (AUTH TLS) | "implicit".
    .passive_ports (range), .commands (["USER bob", ...]), .received ([(path, complete)]),
    .tls_logins
    refuse_stor: STOR -> 553.  drop_after=N: data connection closed after >= N bytes (426 on
    the control connection; drop_control=True closes that too, with no reply).
    Implicit FTPS is not a pyftpdlib feature; srv_ftp.py adds it (handshake before the 220).

refused_port -> int: a port on 127.0.0.1 where a connect is refused (bound, never listening,
    for the whole test).
Wrong password: use a password that is not in `users`.

Plain helpers, imported from their modules (not from this one: pytest loads this module as a
plugin, and importing it first costs a PytestAssertRewriteWarning):
    from srv_tls import UNKNOWN_HOST, WRONG_HOSTNAME, free_port, refused_port, silent_port,
        wait_until, first_bytes
    from srv_smtp import dot_stuffed
    UNKNOWN_HOST is a name that never resolves ("no-such-host.invalid"); free_port() a port
    nothing listens on right now; refused_port() the fixture as a context manager;
    silent_port() one that accepts and never speaks;
    wait_until(predicate, timeout=5.0) polls (for what a server records after replying);
    first_bytes(sock) what a server sends first, b"" on close/reset; dot_stuffed(body) the
    wire form of a body (RFC 5321 transparency).

Each factory may be called several times in one test (several servers at once).
"""

import pytest
from srv_ftp import FtpServer
from srv_pop3 import DovecotPop3
from srv_smtp import SmtpServer
from srv_tls import TlsMaterial, refused_port


@pytest.fixture(scope="session")
def tls(tmp_path_factory):
    return TlsMaterial(str(tmp_path_factory.mktemp("tls")))


def _factory(make):
    """Run `make(**options)` per call, start the server, stop them all at the end."""
    started = []

    def create(**options):
        server = make(**options)
        started.append(server)  # before start(): a failed start still gets cleaned up
        return server.start()

    return create, started


@pytest.fixture
def smtp_server(tls):
    create, started = _factory(lambda **kw: SmtpServer(tls, **kw))
    yield create
    for server in reversed(started):
        server.stop()


@pytest.fixture
def pop3_server(tls):
    def make(users=None, **kw):
        return DovecotPop3(tls, users={"alice": "secret"} if users is None else users, **kw)

    create, started = _factory(make)
    yield create
    for server in reversed(started):
        server.stop()


@pytest.fixture
def ftp_server(tls, tmp_path):
    count = [0]

    def make(users=None, **kw):
        count[0] += 1
        root = tmp_path / ("ftp-root-%d" % count[0])
        return FtpServer(tls, root, users={"bob": "secret"} if users is None else users, **kw)

    create, started = _factory(make)
    yield create
    for server in reversed(started):
        server.stop()


@pytest.fixture(name="refused_port")
def refused_port_fixture():
    with refused_port() as port:
        yield port
