"""End to end: AT#GETMAIL from the serial line of the emulated modem to a real POP3 server
(Debian's dovecot, host_tests/srv_pop3.py), byte for byte: the C9 persona of
multitech-mail-ftp.md §7.1, the relay of §3.2 (dot-stuffing kept, HEADERMODE 0 and 1, the
message deleted), STLS and implicit TLS (§8.3), and every failure of §5, each followed by a
modem that still answers."""

import os
import re
import shutil
import socket
import threading

import pytest
from harness import OK, EmulatedModem, cme, free_port, fresh_modem, modem  # noqa: F401
from srv_smtp import dot_stuffed
from srv_tls import UNKNOWN_HOST, silent_port

pytest_plugins = ["mailservers"]

MAIL = b"\r\nOk_Info_Mail\r\n"
NO_MAIL = b"\r\nOk_Info_NoMail\r\n"
MiB = 1 << 20


def install_ca(m, pem_path):
    shutil.copy(pem_path, os.path.join(m.state, "ca.pem"))


def setup_pop3(m, server, host=None, port=None, headermode=1, user="alice", pw="secret"):
    """The C9 way: every value quoted, the port too, each line answered OK. The board has the
    CA certificate installed: dovecot offers STLS, and the modem takes it when offered."""
    install_ca(m, server.ca_path)
    for line in (
        'AT#POP3SERV="%s"' % (host or server.host),
        'AT#POP3PORT="%d"' % (port or server.port),
        'AT#POP3UN="%s"' % user,
        'AT#POP3PW="%s"' % pw,
        "AT#POP3HEADERMODE=%d" % headermode,
    ):
        m.check(line, OK)


def on_the_wire(message):
    """The RETR data dovecot sends for a stored CRLF message: dot-stuffed, ".CRLF" closing."""
    if not message.endswith(b"\r\n"):
        message += b"\r\n"  # the terminator's CR LF is a line end of its own
    return dot_stuffed(message) + b".\r\n"


def body_only(message):
    """HEADERMODE 0: what follows the first empty line (the whole message's end if none)."""
    wire = on_the_wire(message)
    k = (b"\r\n" + wire).find(b"\r\n\r\n")
    return wire[k + 2 :] if k >= 0 else b".\r\n"


def getmail(m, expected, timeout=20):
    """AT#GETMAIL with a message: Ok_Info_Mail, the relayed bytes exactly, then OK."""
    m.send(b"AT#GETMAIL\r")
    m.expect_exact(MAIL, timeout=timeout)
    m.expect_exact(expected + OK, timeout=timeout)


def no_mail(m):
    m.check("AT#GETMAIL", NO_MAIL + OK, timeout=20)


# --- the real client of §7.1 -------------------------------------------------------------------


def test_c9_email_camera_checks_mail(modem, pop3_server):  # noqa: F811
    """C9: CR-only commands, quoted values, HEADERMODE 0. On Ok_Info_NoMail it reads one more
    line and wants OK; on Ok_Info_Mail it scans for CR LF OK CR LF. One mail is one photo, so
    the mail must be gone afterwards."""
    m = modem
    server = pop3_server()
    setup_pop3(m, server, headermode=0)
    m.send(b"AT#GETMAIL\r")
    assert m.read_until(b"\r\n", timeout=20) == b"\r\n"  # C9 drops up to the first CRLF
    assert m.read_until(b"\r\n") == b"Ok_Info_NoMail\r\n"
    assert m.read_until(b"\r\n") == b"\r\n"
    assert m.read_until(b"\r\n") == b"OK\r\n"
    m.expect_silence(0.2)
    mail = b"From: boss@example.com\r\nSubject: take a picture\r\n\r\nplease\r\n"
    server.deliver("alice", [mail])
    m.send(b"AT#GETMAIL\r")
    got = m.read_until(OK, timeout=20)
    assert got == MAIL + b"please\r\n.\r\n" + OK
    m.expect_silence(0.2)
    assert server.remaining("alice") == []  # no second photo for the same mail
    no_mail(m)


def test_several_messages_in_order_each_deleted(modem, pop3_server):  # noqa: F811
    m = modem
    server = pop3_server(users={"alice": "secret", "bob": "other"})
    mails = [b"Subject: %d\r\n\r\nmessage number %d\r\n" % (k, k) for k in range(1, 4)]
    server.deliver("alice", mails)
    server.deliver("bob", [b"Subject: not yours\r\n\r\nx\r\n"])
    setup_pop3(m, server)
    for k, mail in enumerate(mails):
        getmail(m, on_the_wire(mail))
        assert server.remaining("alice") == mails[k + 1 :]
    no_mail(m)
    m.send(b"AT#GETMAIL\rAT\r")  # a line right behind it is command input, after the OK
    m.expect_exact(NO_MAIL + OK + OK, timeout=20)
    assert len(server.remaining("bob")) == 1


# --- the relay of §3.2 -------------------------------------------------------------------------

DOTS = (
    b"Subject: dots\r\n\r\n"
    b".starts with a dot\r\n"
    b"..two dots\r\n"
    b".\r\n"  # a lone dot inside the message: stuffed, so no end
    b"\x03 \x10 \x1a bytes \xff\xfe that mean nothing here\r\n"
    b"last\r\n"
)


def test_dot_stuffing_is_kept_headermode_1(modem, pop3_server):  # noqa: F811
    m = modem
    server = pop3_server()
    server.deliver("alice", [DOTS])
    setup_pop3(m, server, headermode=1)
    want = (
        b"Subject: dots\r\n\r\n..starts with a dot\r\n...two dots\r\n..\r\n"
        b"\x03 \x10 \x1a bytes \xff\xfe that mean nothing here\r\nlast\r\n.\r\n"
    )
    assert on_the_wire(DOTS) == want  # the helper agrees with a hand-written form
    getmail(m, want)


def test_dot_stuffing_is_kept_headermode_0(modem, pop3_server):  # noqa: F811
    m = modem
    server = pop3_server()
    server.deliver("alice", [DOTS])
    setup_pop3(m, server, headermode=0)
    want = (
        b"..starts with a dot\r\n...two dots\r\n..\r\n"
        b"\x03 \x10 \x1a bytes \xff\xfe that mean nothing here\r\nlast\r\n.\r\n"
    )
    assert body_only(DOTS) == want
    getmail(m, want)


@pytest.mark.parametrize(
    "mail, whole, body",
    [
        # headers only, no blank line: the body is empty, only the end mark follows
        (b"Subject: no body\r\n", b"Subject: no body\r\n.\r\n", b".\r\n"),
        # a blank line and nothing after it
        (b"Subject: empty\r\n\r\n", b"Subject: empty\r\n\r\n.\r\n", b".\r\n"),
        # no header at all: the first line is the blank one
        (b"\r\nbody only\r\n", b"\r\nbody only\r\n.\r\n", b"body only\r\n.\r\n"),
        # a body starting with a dot right after the blank line
        (b"S: x\r\n\r\n.x\r\n", b"S: x\r\n\r\n..x\r\n.\r\n", b"..x\r\n.\r\n"),
        # stored with bare LF and no last line end: the server sends CR LF lines
        (b"S: x\n\nbare\nlast", b"S: x\r\n\r\nbare\r\nlast\r\n.\r\n", b"bare\r\nlast\r\n.\r\n"),
    ],
)
def test_edge_messages_both_header_modes(modem, pop3_server, mail, whole, body):  # noqa: F811
    m = modem
    server = pop3_server()
    server.deliver("alice", [mail, mail])
    setup_pop3(m, server, headermode=1)
    getmail(m, whole)
    m.check("AT#POP3HEADERMODE=0", OK)
    getmail(m, body)
    assert server.remaining("alice") == []


def test_ends_split_across_reads_at_every_offset(tmp_path, pop3_server):
    """The modem reads the server 5 bytes at a time here: with pads of 0-4 bytes, the blank
    line of the headers and the closing CR LF . CR LF each fall across two reads at every
    possible offset, in both header modes (the server is faster than the serial line, so
    every read is full)."""
    server = pop3_server()
    head = b"".join(b"X-Trace-%02d: %s\r\n" % (k, b"h" * k) for k in range(40))
    mails = [head + b"X-Pad: %s\r\n\r\n.body\r\nline %d\r\n" % (b"p" * k, k) for k in range(5)]
    server.deliver("alice", mails + mails)
    m = EmulatedModem(tmp_path, chunk=5)
    try:
        m.connection_start()
        for mode in (0, 1):
            setup_pop3(m, server, headermode=mode)
            for mail in mails:
                getmail(m, body_only(mail) if mode == 0 else on_the_wire(mail))
    finally:
        m.close()


def test_one_mib_message_relayed_intact(modem, pop3_server):  # noqa: F811
    m = modem
    server = pop3_server()
    line = bytes(range(0x21, 0x7F)) + b"\r\n"
    big = b"Subject: big\r\n\r\n" + b"." + line * (MiB // len(line) + 1)
    server.deliver("alice", [big])
    setup_pop3(m, server, headermode=1)
    getmail(m, on_the_wire(big), timeout=60)
    assert server.remaining("alice") == []


# --- TLS (§8.3) --------------------------------------------------------------------------------


def test_stls_when_offered_verified(modem, pop3_server):  # noqa: F811
    m = modem
    server = pop3_server()
    server.deliver("alice", [b"Subject: s\r\n\r\nover STLS\r\n"])
    setup_pop3(m, server, host="localhost", headermode=0)
    getmail(m, b"over STLS\r\n.\r\n")
    assert re.search(r"Login: user=<alice>, method=PLAIN, .*, TLS,", server.log())


def test_pop3tls_1_stays_in_clear_text(modem, pop3_server):  # noqa: F811
    m = modem
    server = pop3_server()
    server.deliver("alice", [b"Subject: c\r\n\r\nclear\r\n"])
    setup_pop3(m, server, headermode=0)
    m.check("AT#POP3TLS=1", OK)  # a private server: no STLS, though it is offered
    getmail(m, b"clear\r\n.\r\n")
    assert re.search(r"Login: user=<alice>, method=PLAIN, .*, secured,", server.log())


def test_implicit_tls_on_the_tls_port(modem, pop3_server):  # noqa: F811
    m = modem
    server = pop3_server()
    server.deliver("alice", [b"Subject: i\r\n\r\nimplicit\r\n"])
    setup_pop3(m, server, host="localhost", port=server.tls_port, headermode=0)
    m.check("AT#POP3TLS=3", OK)
    getmail(m, b"implicit\r\n.\r\n")


def test_stls_required_by_the_server(modem, pop3_server):  # noqa: F811
    m = modem
    server = pop3_server(require_tls=True)
    server.deliver("alice", [b"Subject: r\r\n\r\nrequired\r\n"])
    setup_pop3(m, server, headermode=0)  # 127.0.0.2, in the certificate
    m.check("AT#POP3TLS=2", OK)
    getmail(m, b"required\r\n.\r\n")


def test_stls_required_but_not_offered(modem, tls):  # noqa: F811
    """A POP3 server without STLS (a few lines here: dovecot always offers it)."""
    m = modem
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    seen = []

    def serve():
        conn, _ = sock.accept()
        with conn:
            f = conn.makefile("rb")
            conn.sendall(b"+OK ready\r\n")
            for line in iter(f.readline, b""):
                seen.append(line)
                if line.startswith(b"CAPA"):
                    conn.sendall(b"+OK\r\nUSER\r\n.\r\n")
                else:
                    conn.sendall(b"+OK\r\n")

    t = threading.Thread(target=serve, daemon=True)
    t.start()
    install_ca(m, tls.ca_path)
    m.check('AT#POP3SERV="127.0.0.1"', OK)
    m.check("AT#POP3PORT=%d" % sock.getsockname()[1], OK)
    m.check('AT#POP3UN="alice"', OK)
    m.check('AT#POP3PW="secret"', OK)
    m.check("AT#POP3TLS=2", OK)
    m.check("AT#GETMAIL", cme(38016), timeout=20)
    assert b"STLS required" in m.cmd("AT#VLOG")
    t.join(5)
    sock.close()
    assert seen[0] == b"CAPA\r\n"
    assert not [c for c in seen if c.startswith((b"USER", b"PASS"))]  # nothing in clear text
    m.check("AT", OK)


# --- failures of §5 ----------------------------------------------------------------------------


def test_failures_before_any_data(modem, pop3_server, refused_port):  # noqa: F811
    m = modem
    server = pop3_server()
    server.deliver("alice", [b"Subject: f\r\n\r\nstill here\r\n"])
    setup_pop3(m, server, pw="wrong-pw-42", headermode=0)
    m.check("AT#GETMAIL", cme(38016), timeout=20)  # wrong password
    log = m.cmd("AT#VLOG")
    assert b"PASS" in log and b"wrong-pw-42" not in log, log  # never the password,
    assert "wrong-pw-42" not in m.stderr()  # nor on the console
    m.check('AT#POP3SERV="%s"' % UNKNOWN_HOST, OK)
    m.check("AT#GETMAIL", cme(38027), timeout=20)
    m.check('AT#POP3SERV="127.0.0.1"', OK)
    m.check("AT#POP3PORT=%d" % refused_port, OK)
    m.check("AT#GETMAIL", cme(38016), timeout=20)
    m.check("AT#GETMAIL=1", cme(34819))
    assert server.remaining("alice") == [b"Subject: f\r\n\r\nstill here\r\n"]
    setup_pop3(m, server, headermode=0)  # and the next command works
    getmail(m, b"still here\r\n.\r\n")


@pytest.mark.parametrize(
    "cert, how, host",
    [
        ("untrusted", "implicit", "localhost"),
        ("untrusted", "stls", "localhost"),
        ("wrong_host", "implicit", "localhost"),  # the CA's, for another name
        ("wrong_host", "stls", "127.0.0.1"),  # and not for this address either
    ],
)
def test_a_certificate_that_does_not_verify(modem, pop3_server, cert, how, host):  # noqa: F811
    m = modem
    server = pop3_server(cert=cert)
    server.deliver("alice", [b"Subject: u\r\n\r\nunverified\r\n"])
    port = server.tls_port if how == "implicit" else server.port
    setup_pop3(m, server, host=host, port=port, headermode=0)
    m.check("AT#POP3TLS=%d" % (3 if how == "implicit" else 2), OK)
    m.check("AT#GETMAIL", cme(38016), timeout=20)
    assert b"TLS handshake failed" in m.cmd("AT#VLOG")
    assert len(server.remaining("alice")) == 1
    m.check("AT#TLSVERIFY=0", OK)  # a private server: the check can be turned off
    getmail(m, b"unverified\r\n.\r\n")


def test_server_killed_mid_transfer(modem, pop3_server):  # noqa: F811
    """dovecot dies while a big message flows: the device still gets CR LF . CR LF, then the
    error (§3.2); the message stays on the server; the next command works."""
    m = modem
    server = pop3_server()
    line = b"z" * 78 + b"\r\n"
    big = b"Subject: big\r\n\r\n" + line * (12 * MiB // len(line))  # more than socket buffers
    server.deliver("alice", [big])
    setup_pop3(m, server, headermode=1)
    m.send(b"AT#GETMAIL\r")
    m.expect_exact(MAIL, timeout=20)
    got = m.read_exact(4096, timeout=20)
    server.kill()
    end = b"\r\n.\r\n" + cme(37966)
    got += m.read_until(end, timeout=60)
    relayed = got[: -len(end)]
    assert 4096 <= len(relayed) < len(big) and big.startswith(relayed)
    m.expect_silence(0.2)
    m.check("AT", OK)
    m.check("AT#GETMAIL", cme(38016), timeout=20)  # the server is gone: refused, at once
    assert server.remaining("alice") == [big]  # no QUIT: not deleted


def test_bearer_down_and_busy(fresh_modem, pop3_server):  # noqa: F811
    m = fresh_modem
    server = pop3_server()
    server.deliver("alice", [b"Subject: b\r\n\r\nbusy\r\n"])
    setup_pop3(m, server, headermode=0)
    m.check("AT#GETMAIL", cme(35867))  # no AT#CONNECTIONSTART yet
    m.connection_start()
    m.listen(free_port())
    m.check("AT#GETMAIL", cme(37123))  # one TCP process at a time
    m.check('AT#POP3SERV="x"', cme(37123))
    m.check("AT#LTCPSTOP=1", OK)
    getmail(m, b"busy\r\n.\r\n")


def test_a_silent_server(tmp_path):
    """A server that accepts and never greets (1 s here instead of 3 min): 37964."""
    with silent_port() as port:
        m = EmulatedModem(tmp_path, env={"MTIP_SERVER_SILENCE_MS": "1000"})
        try:
            m.connection_start()
            m.check('AT#POP3SERV="127.0.0.1"', OK)
            m.check("AT#POP3PORT=%d" % port, OK)
            m.check("AT#GETMAIL", cme(37964), timeout=20)
            m.check("AT", OK)
        finally:
            m.close()
