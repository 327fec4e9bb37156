"""End to end: AT#PUTMAIL and AT#SENDMAILi from the serial line of the emulated modem to a real
SMTP server (aiosmtpd, host_tests/srv_smtp.py), byte for byte on both sides: the personas of
multitech-mail-ftp.md §7 (C9, C11, C12), the body transformations of §2.3 / §8.2, TLS and
AUTH, and every failure of §5, each followed by a modem that still answers."""

import os
import re
import shutil
import time

import pytest
from harness import OK, WAITING, EmulatedModem, cme, free_port, modem  # noqa: F401 - fixture
from srv_tls import UNKNOWN_HOST, silent_port

pytest_plugins = ["mailservers"]

MiB = 1 << 20


def install_ca(m, pem_path):
    shutil.copy(pem_path, os.path.join(m.state, "ca.pem"))


def setup_smtp(m, server, host="127.0.0.1", extra=()):
    lines = [
        'AT#SMTPSERV="%s"' % host,
        'AT#SMTPPORT="%d"' % server.port,  # quoted, as C9 sends it
        'AT#REC1="bob@example.com"',
        'AT#SENDERADDR="m245@example.com"',
        'AT#SENDERNAME="machine 245"',
        'AT#SUBJ1="Readings"',
        'AT#DOMAIN="example.com"',
    ] + list(extra)
    for line in lines:
        m.check(line, OK)


def headers_and_body(wire):
    head, sep, body = wire.partition(b"\r\n\r\n")
    assert sep, "no blank line closes the headers: %r" % wire[:300]
    return head.split(b"\r\n"), body


def check_generated_headers(
    head, name=b"machine 245", subject=b"Readings", sender=b"m245@example.com"
):
    fields = {h.split(b":", 1)[0].lower(): h for h in head if b":" in h}
    assert fields[b"from"] == b"From: " + name + b" <" + sender + b">"
    assert fields[b"to"] == b"To: bob@example.com"
    assert fields[b"subject"] == b"Subject: " + subject
    assert re.fullmatch(rb"Message-ID: <[0-9a-f]{24}@example\.com>", fields[b"message-id"])
    assert re.fullmatch(
        rb"Date: (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d\d (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct"
        rb"|Nov|Dec) 20\d\d \d\d:\d\d:\d\d \+0000",
        fields[b"date"],
    )
    return fields


def putmail(m, body, timeout=20):
    m.check("AT#PUTMAIL", WAITING, timeout=timeout)
    m.send(body)
    m.expect_exact(OK, timeout=timeout)


# --- the real clients of §7 --------------------------------------------------------------------


def test_c9_email_camera(modem, smtp_server, tls):  # noqa: F811
    """The Arduino e-mail camera: CR-only commands, every value quoted, AUTH, a MIME body
    with bare LF lines written 77 bytes at a time, its own Content-type header, then
    CRLF . CRLF after a 300 ms pause, and a line with OK."""
    m = modem
    server = smtp_server(mode="starttls", users={"cam@example.com": "pw"})
    install_ca(m, tls.ca_path)
    for line in (
        'AT#SMTPSERV="localhost"',
        'AT#SMTPPORT="%d"' % server.port,
        'AT#SENDERADDR="cam@example.com"',
        'AT#DOMAIN="example.com"',
        'AT#SMTPUN="cam@example.com"',
        'AT#SMTPPW="pw"',
        'AT#REC1="bob@example.com"',
        'AT#SENDERNAME="Email Camera"',
        'AT#SUBJ1="Surveillance Update"',
        "AT#SMTPAUTH=1",
    ):
        m.check(line, OK)
    m.check("AT#PUTMAIL", WAITING, timeout=20)
    time.sleep(1)
    boundary = b"Email-Cam-1-qwerty"
    picture = bytes(range(256)) * 12
    import base64

    b64 = base64.b64encode(picture)
    lines = [b64[i : i + 75] for i in range(0, len(b64), 75)]
    body = (
        b"Content-type: multipart/mixed; boundary=" + boundary + b"\n\n\n--" + boundary + b"\n"
        b'Content-Disposition: attachment; filename="cam.jpg"\n'
        b"Content-Type: image/jpeg;\n name=cam.jpg\nContent-Transfer-Encoding: base64\n\n"
        + b"\n".join(lines)
        + b"\n\n--"
        + boundary
        + b"--"
    )
    for i in range(0, len(body), 77):
        m.send(body[i : i + 77])
    time.sleep(0.3)
    m.send(b"\r\n.\r\n")
    m.expect_exact(OK, timeout=20)
    msg = server.messages[0]
    assert msg.rcpt_tos == ["bob@example.com"] and msg.mail_from == "cam@example.com"
    assert msg.session.starttls and msg.session.auth_mechanism == "LOGIN"
    head, rest = headers_and_body(msg.content)
    fields = check_generated_headers(
        head, b"Email Camera", b"Surveillance Update", b"cam@example.com"
    )
    assert fields[b"content-type"] == b"Content-type: multipart/mixed; boundary=" + boundary
    assert b"MIME-Version: 1.0" in head  # added: the host's Content-type came without it
    assert rest == body.split(b"\n\n", 1)[1].replace(b"\n", b"\r\n") + b"\r\n"
    assert b"\n" not in msg.wire.replace(b"\r\n", b"")  # no bare LF on the wire
    assert base64.b64decode(b"".join(lines)) == picture
    m.check("AT", OK)


@pytest.mark.parametrize("persona", ["C11", "C12"])
def test_tinyos_gateways(modem, smtp_server, persona):  # noqa: F811
    """The sensor-net gateways: LF-only commands, raw data lines (no headers of their own);
    C12 does not wait for Ok_Info_WaitingForData: its body is already on the line while the
    SMTP dialogue runs (§1.5)."""
    m = modem
    server = smtp_server(mode="plain")
    setup_smtp(m, server)
    records = b"@3312,15000,9000,21,22\n" if persona == "C11" else b""
    records += b"".join(b"0A,1F,%02X,33,\n" % k for k in range(40))
    if persona == "C11":
        m.send(b"AT#PUTMAIL\n")
        m.read_until(b"Ok_Info", timeout=20)  # all it waits for
        m.expect_exact(b"_WaitingForData\r\n")
        m.send(records + b"\r\n.\r\n")
        m.expect_exact(OK, timeout=20)
    else:
        m.send(b"AT#PUTMAIL\n" + records + b"\r\n.\r\n")  # no wait at all
        m.expect_exact(WAITING + OK, timeout=20)
    head, body = headers_and_body(server.messages[0].content)
    check_generated_headers(head)
    assert body == records.replace(b"\n", b"\r\n") + b"\r\n"
    m.check("AT", OK)


def test_c12_early_body_after_a_failure_is_command_input(modem, smtp_server):  # noqa: F811
    """C12 sends its body whatever came back: after an error, those bytes go to the AT parser,
    as on the original modem; it then sees no OK, which is right."""
    m = modem
    server = smtp_server(mode="plain")
    setup_smtp(m, server)
    m.check("AT#SMTPPORT=%d" % free_port(), OK)  # nothing listens there
    m.send(b"AT#PUTMAIL\n0A,1F,22,33,\n0B,1F,22,33,\n\r\n.\r\n")
    m.expect_exact(cme(38016), timeout=20)
    m.expect_silence(0.5)  # the body was no command: no answer to it, and no OK
    m.check("AT", OK)


# --- what the body becomes on the wire -------------------------------------------------------


def test_dots_bare_line_ends_and_every_byte_value(modem, smtp_server):  # noqa: F811
    m = modem
    server = smtp_server(mode="plain")
    setup_smtp(m, server)
    printable = bytes(range(0x20, 0x100))
    body = (
        b"\r\n"  # the host closes the headers itself
        b".starts with a dot\n"
        b"..two dots\r\n"
        b".\n"  # a lone dot that is no end (bare LF)
        b"cr only\rnext\n" + printable + b"\n\n" + b"x" * 1200 + b"\n"
        b"last line"
    )
    putmail(m, body + b"\r\n.\r\n")
    msg = server.messages[0]
    want = (
        b".starts with a dot\r\n..two dots\r\n.\r\ncr only\r\nnext\r\n"
        + printable
        + b"\r\n\r\n"
        + b"x" * 998
        + b"\r\n"
        + b"x" * 202
        + b"\r\nlast line\r\n"
    )
    assert headers_and_body(msg.content)[1] == want
    # on the wire: every line starting with "." got one more (RFC 5321 4.5.2)
    assert b"\r\n..starts with a dot\r\n...two dots\r\n..\r\ncr only" in msg.wire
    for line in msg.wire.split(b"\r\n"):
        assert len(line) <= 998
    assert msg.wire.endswith(b"\r\nlast line\r\n.\r\n")


def test_terminator_split_across_writes_and_dle_etx_are_data(modem, smtp_server):  # noqa: F811
    m = modem
    server = smtp_server(mode="plain")
    setup_smtp(m, server)
    m.check("AT#PUTMAIL", WAITING, timeout=20)
    body = b"\r\netx \x03 dle \x10 end\r\n.\r"  # no end yet: the last LF is missing
    for k in range(len(body)):
        m.send(body[k : k + 1])
        time.sleep(0.005)
    m.expect_silence(0.3)
    m.send(b"\n")
    m.expect_exact(OK, timeout=20)
    assert headers_and_body(server.messages[0].content)[1] == b"etx \x03 dle \x10 end\r\n"


def test_one_mib_body(modem, smtp_server):  # noqa: F811
    m = modem
    server = smtp_server(mode="plain")
    setup_smtp(m, server)
    line = bytes(range(0x21, 0x7F)) + b"\n"
    body = line * (MiB // len(line) + 1)
    m.check("AT#PUTMAIL", WAITING, timeout=20)
    for i in range(0, len(body), 4096):
        m.send(body[i : i + 4096])
    m.send(b"\r\n.\r\n")
    m.expect_exact(OK, timeout=60)
    # the first line is no header field: a blank line closes the modem's headers before it;
    # the terminator's CR LF ends an empty last line
    want = body.replace(b"\n", b"\r\n") + b"\r\n"
    assert headers_and_body(server.messages[0].content)[1] == want


def test_sendmail_combinations(modem, smtp_server):  # noqa: F811
    m = modem
    server = smtp_server(mode="plain")
    setup_smtp(m, server)
    m.check('AT#REC2="ann@example.com","joe@example.com"', OK)
    m.check('AT#CCREC2="boss@example.com"', OK)
    m.check('AT#SUBJ2="Alarm"', OK)
    m.check('AT#BODY2="tank 3 is full"', OK)
    m.check("AT#SENDMAIL2", OK, timeout=20)
    m.check("AT#SENDMAIL=2", OK, timeout=20)
    m.check("AT#SENDMAIL", OK, timeout=20)  # combination 1 (no body)
    first, second, third = server.messages
    assert first.rcpt_tos == ["ann@example.com", "joe@example.com", "boss@example.com"]
    head, body = headers_and_body(first.content)
    assert b"To: ann@example.com, joe@example.com" in head
    assert b"Cc: boss@example.com" in head and b"Subject: Alarm" in head
    assert body == b"tank 3 is full\r\n"
    assert headers_and_body(second.content)[1] == b"tank 3 is full\r\n"
    assert third.rcpt_tos == ["bob@example.com"]
    m.check("AT#SENDMAIL3", cme(34882))  # REC3 empty: answered without connecting
    assert len(server.sessions) == 3


# --- TLS and AUTH ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "mode, extra, host",
    [
        ("implicit_tls", ["AT#SMTPTLS=3"], "localhost"),
        ("implicit_tls", ["AT#SMTPTLS=3"], "127.0.0.1"),  # checked against the IP address
        ("starttls_required", ["AT#SMTPTLS=2"], "localhost"),
        ("starttls", [], "localhost"),  # offered: taken, by default
    ],
)
def test_tls_verified(modem, smtp_server, tls, mode, extra, host):  # noqa: F811
    m = modem
    server = smtp_server(mode=mode, users={"u": "p"}, auth_required=True)
    install_ca(m, tls.ca_path)
    setup_smtp(m, server, host, extra + ['AT#SMTPUN="u"', 'AT#SMTPPW="p"'])
    putmail(m, b"\r\nover TLS\r\n.\r\n")
    msg = server.messages[0]
    assert msg.session.tls and msg.session.auth_login == "u"
    assert headers_and_body(msg.content)[1] == b"over TLS\r\n"


def test_auth_plain_when_login_is_not_offered(modem, smtp_server):  # noqa: F811
    m = modem
    server = smtp_server(mode="plain", users={"u": "p"}, auth_mechanisms=("PLAIN",))
    setup_smtp(m, server, extra=['AT#SMTPUN="u"', 'AT#SMTPPW="p"'])  # SMTPAUTH 0: offered, so
    putmail(m, b"\r\nplain\r\n.\r\n")
    assert server.messages[0].session.auth_mechanism == "PLAIN"


@pytest.mark.parametrize(
    "cert, host",
    [("untrusted", "localhost"), ("wrong_host", "localhost"), ("wrong_host", "127.0.0.1")],
)
def test_a_certificate_that_does_not_verify(modem, smtp_server, tls, cert, host):  # noqa: F811
    """Signed by a CA that is not installed, or for another name or address than the one the
    modem was told to reach (the good certificate names localhost and 127.0.0.1)."""
    m = modem
    server = smtp_server(mode="implicit_tls", cert=cert)
    install_ca(m, tls.ca_path)
    setup_smtp(m, server, host, ["AT#SMTPTLS=3"])
    m.check("AT#PUTMAIL", cme(38016), timeout=20)
    log = m.cmd("AT#VLOG")
    assert b"TLS handshake failed" in log, log
    assert server.messages == []
    m.check("AT#TLSVERIFY=0", OK)  # a private server: the check can be turned off
    putmail(m, b"\r\nunverified\r\n.\r\n")
    m.check("AT", OK)


def test_no_ca_installed_is_an_error_not_plaintext(modem, smtp_server):  # noqa: F811
    m = modem
    server = smtp_server(mode="starttls")
    setup_smtp(m, server, "localhost")
    m.check("AT#PUTMAIL", cme(38016), timeout=20)
    assert b"no CA certificates" in m.cmd("AT#VLOG")
    assert server.messages == []
    assert all(c[0] != "MAIL" for s in server.sessions for c in s.commands)  # nothing in clear


def test_starttls_required_but_not_offered(modem, smtp_server):  # noqa: F811
    m = modem
    server = smtp_server(mode="plain")
    setup_smtp(m, server, extra=["AT#SMTPTLS=2"])
    m.check("AT#PUTMAIL", cme(38016), timeout=20)
    assert b"STARTTLS required" in m.cmd("AT#VLOG")


# --- failures of §5 ---------------------------------------------------------------------------


def test_failures_before_data_mode(modem, smtp_server):  # noqa: F811
    m = modem
    server = smtp_server(mode="plain", users={"u": "right"}, refuse_rcpt={"nobody@example.com"})
    setup_smtp(m, server, extra=['AT#SMTPUN="u"', 'AT#SMTPPW="wrong"', "AT#SMTPAUTH=1"])
    m.check("AT#PUTMAIL", cme(38016), timeout=20)  # wrong password
    log = m.cmd("AT#VLOG")
    assert b"AUTH" in log and b"wrong" not in log and b"d3Jvbmc" not in log  # never the password
    m.check('AT#SMTPPW="right"', OK)
    m.check('AT#REC1="nobody@example.com"', OK)
    m.check("AT#PUTMAIL", cme(38016), timeout=20)  # refused recipient
    m.check('AT#SMTPSERV="%s"' % UNKNOWN_HOST, OK)
    m.check("AT#PUTMAIL", cme(38027), timeout=20)
    m.check('AT#SMTPSERV="127.0.0.1"', OK)
    m.check("AT#SMTPPORT=%d" % free_port(), OK)
    m.check("AT#PUTMAIL", cme(38016), timeout=20)  # refused port
    m.check('AT#REC1=""', OK)
    m.check("AT#PUTMAIL", cme(34882))  # no recipient
    m.check("AT#PUTMAIL=1", cme(34819))
    assert server.messages == []
    m.check("AT", OK)


def test_bearer_down_and_busy(fresh_modem_smtp):
    m = fresh_modem_smtp
    m.check("AT#PUTMAIL", cme(35867))
    m.check("AT#SENDMAIL1", cme(35867))
    m.connection_start()
    p = free_port()
    m.listen(p)
    m.check("AT#PUTMAIL", cme(37123))  # one TCP process at a time
    m.check('AT#SMTPSERV="x"', cme(37123))


@pytest.fixture
def fresh_modem_smtp(tmp_path):
    m = EmulatedModem(tmp_path)
    try:
        yield m
    finally:
        m.close()


def test_server_closes_during_the_body(modem, smtp_server):  # noqa: F811
    """The server drops the connection after 100 bytes of data (a crash, or its own data
    timeout while the device is silent): #CME ERROR: 37966, no CRLF.CRLF before it; then the
    host's remaining bytes are dropped up to its terminator and the modem answers again."""
    m = modem
    server = smtp_server(mode="plain", drop_in_data=100)
    setup_smtp(m, server)
    m.check("AT#PUTMAIL", WAITING, timeout=20)
    m.send(b"\r\n" + b"y" * 200 + b"\n")
    m.expect_exact(cme(37966), timeout=20)  # the device goes silent: the close is noticed
    m.send(b"more body that nobody takes\r\nAT\r\n.\r\nAT\r")
    m.expect_exact(OK, timeout=10)  # only the AT after the terminator is a command
    m.expect_silence(0.3)
    assert server.messages == []


def test_server_closes_while_the_host_keeps_sending(modem, smtp_server):  # noqa: F811
    """The same drop while the body keeps coming: the write fails; still 37966, the code of a
    session the server ended after data mode began (not 38016, the set-up's)."""
    m = modem
    server = smtp_server(mode="plain", drop_in_data=100)
    setup_smtp(m, server)
    m.check("AT#PUTMAIL", WAITING, timeout=20)
    line = b"z" * 99 + b"\n"
    for _ in range(2000):  # 200 KB: far more than the socket buffers hold
        m.send(line)
    m.send(b"\r\n.\r\n")
    m.read_until(cme(37966), timeout=20)
    m.expect_silence(2.5)  # the rest of the body was dropped, up to its terminator
    m.check("AT", OK)
    assert server.messages == []


def test_end_of_data_refused(modem, smtp_server):  # noqa: F811
    m = modem
    server = smtp_server(mode="plain", refuse_data=True)
    setup_smtp(m, server)
    m.check("AT#PUTMAIL", WAITING, timeout=20)
    m.send(b"\r\nrefused\r\n.\r\n")
    m.expect_exact(cme(37966), timeout=20)
    m.check("AT", OK)


def test_a_silent_server(tmp_path, smtp_server):
    """No answer from the server (here 2 s instead of 3 min): #CME ERROR: 37964."""
    with silent_port() as port:  # accepts, never says 220
        m = EmulatedModem(tmp_path, env={"MTIP_SERVER_SILENCE_MS": "2000"})
        try:
            m.connection_start()
            m.check('AT#SMTPSERV="127.0.0.1"', OK)
            m.check("AT#SMTPPORT=%d" % port, OK)
            m.check('AT#REC1="bob@example.com"', OK)
            m.check("AT#PUTMAIL", cme(37964), timeout=20)
            m.check("AT", OK)
        finally:
            m.close()
