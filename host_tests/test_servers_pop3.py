"""The dovecot POP3 fixture (mailservers.pop3_server), driven by CPython's poplib."""

import contextlib
import poplib
import socket
import ssl

import pytest
from srv_smtp import dot_stuffed

pytest_plugins = ["mailservers"]

MAILS = [
    b"Subject: one\r\n\r\n.leading dot\r\n..two\r\n.\r\nlast\r\n",
    b"Subject: two\r\n\r\n" + bytes(range(0x20, 0x100)) + b"\r\n",
    b"Subject: three\r\n\r\nthird\r\n",
]


def pop3_lines(message):
    """What poplib's retr() returns for a stored CRLF message: its lines, un-stuffed."""
    return message[:-2].split(b"\r\n")


def test_pop3_plain_stat_retr_dele_quit(pop3_server):
    server = pop3_server(users={"alice": "secret", "bob": "other"})
    server.deliver("alice", MAILS)
    c = poplib.POP3(server.host, server.port, timeout=5)
    try:
        assert c.getwelcome().startswith(b"+OK")
        assert "STLS" in c.capa()  # offered on the plain port
        c.user("alice")
        c.pass_("secret")
        assert c.stat() == (3, sum(len(m) for m in MAILS))
        for number, message in enumerate(MAILS, 1):
            response, lines, octets = c.retr(number)
            assert lines == pop3_lines(message)
        assert c.dele(1).startswith(b"+OK")
        assert server.remaining("alice") == MAILS  # DELE takes effect at QUIT only
    finally:
        c.quit()
    assert server.remaining("alice") == MAILS[1:]
    assert server.remaining("bob") == []


def test_pop3_dele_without_quit_keeps_the_message(pop3_server):
    server = pop3_server()
    server.deliver("alice", MAILS[:1])
    c = poplib.POP3(server.host, server.port, timeout=5)
    c.user("alice")
    c.pass_("secret")
    c.dele(1)
    c.close()  # connection dropped: no UPDATE state
    assert server.remaining("alice") == MAILS[:1]
    # The wire form: dovecot stuffs the dot lines and ends with CRLF.CRLF.
    with socket.create_connection((server.host, server.port), timeout=5) as s:
        f = s.makefile("rb")
        f.readline()
        for command in (b"USER alice", b"PASS secret", b"RETR 1"):
            s.sendall(command + b"\r\n")
            assert f.readline().startswith(b"+OK")
        body = b"".join(iter(f.readline, b".\r\n"))
    assert body == dot_stuffed(MAILS[0][:-2]) + b"\r\n"


def test_pop3_wrong_password_and_empty_mailbox(pop3_server):
    server = pop3_server()
    c = poplib.POP3(server.host, server.port, timeout=5)
    try:
        c.user("alice")
        with pytest.raises(poplib.error_proto, match="ERR"):
            c.pass_("wrong")
    finally:
        c.close()
    c = poplib.POP3(server.host, server.port, timeout=5)
    try:
        c.user("alice")
        c.pass_("secret")
        assert c.stat() == (0, 0)
        with pytest.raises(poplib.error_proto):
            c.retr(1)
    finally:
        c.quit()


def test_pop3_require_tls_stls_and_implicit_tls(pop3_server, tls):
    server = pop3_server(require_tls=True)
    assert server.host == "127.0.0.2"
    server.deliver("alice", MAILS)
    c = poplib.POP3(server.host, server.port, timeout=5)
    try:
        with pytest.raises(poplib.error_proto, match="Plaintext authentication disallowed"):
            c.user("alice")
        c.stls(context=tls.client_context())
        assert isinstance(c.sock, ssl.SSLSocket)
        c.user("alice")
        c.pass_("secret")
        assert c.stat()[0] == 3
    finally:
        c.quit()
    c = poplib.POP3_SSL(server.host, server.tls_port, context=tls.client_context(), timeout=5)
    try:
        c.user("alice")
        c.pass_("secret")
        assert c.retr(2)[1] == pop3_lines(MAILS[1])
    finally:
        c.quit()


def test_pop3_certificate_that_does_not_verify(pop3_server, tls):
    server = pop3_server(cert="untrusted")
    with pytest.raises(ssl.SSLCertVerificationError):
        poplib.POP3_SSL("localhost", server.tls_port, context=tls.client_context(), timeout=5)
    c = poplib.POP3("localhost", server.port, timeout=5)
    with pytest.raises(ssl.SSLCertVerificationError):
        c.stls(context=tls.client_context())
    with contextlib.suppress(OSError):  # poplib's socket is already detached by the failure
        c.close()


def test_pop3_kill_mid_transfer_cuts_the_message(pop3_server):
    server = pop3_server()
    big = b"Subject: big\r\n\r\n" + b"x" * 78 + b"\r\n"
    big += (b"y" * 78 + b"\r\n") * (12 * 1024 * 1024 // 80)  # more than the socket buffers
    server.deliver("alice", [big])
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
    s.settimeout(5)
    with s:
        s.connect((server.host, server.port))
        f = s.makefile("rb")
        f.readline()
        for command in (b"USER alice", b"PASS secret", b"RETR 1"):
            s.sendall(command + b"\r\n")
            assert f.readline().startswith(b"+OK")
        received = f.read(4096)
        server.kill()
        while True:
            try:
                chunk = f.read1(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            received += chunk
    assert 4096 <= len(received) < len(big)
    assert not received.endswith(b"\r\n.\r\n")
