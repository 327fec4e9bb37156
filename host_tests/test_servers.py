"""The loopback test servers of mailservers.py, driven by CPython's own clients: TLS material
and SMTP here, POP3 in test_servers_pop3.py, FTP in test_servers_ftp.py.

Each fixture and mode is checked for what the firmware tests rely on: what the server records
is exactly what went over the wire, TLS is really negotiated and really verified, and every
failure switch fails the way its docstring says.
"""

import smtplib
import socket
import ssl
import threading

import pytest
from srv_smtp import dot_stuffed
from srv_tls import UNKNOWN_HOST, first_bytes, free_port

pytest_plugins = ["mailservers"]

# Lines starting with "." (stuffed on the wire), 8-bit text, an empty line.
MESSAGE = (
    b"From: <sensor@test.example>\r\nTo: <ops@test.example>\r\nSubject: readings\r\n\r\n"
    b".starts with a dot\r\n..two dots\r\n.\r\n\r\n" + bytes(range(0x20, 0x100)) + b"\r\nend\r\n"
)


# --- TLS material ------------------------------------------------------------------------


def tls_handshake(tls, cert, server_hostname, client_ctx=None):
    """A TLS handshake over a socketpair: server presents `cert`, client verifies."""
    a, b = socket.socketpair()
    with a, b:
        a.settimeout(5)
        b.settimeout(5)
        server = tls.server_context(cert).wrap_socket(
            a, server_side=True, do_handshake_on_connect=False
        )
        client = (client_ctx or tls.client_context()).wrap_socket(
            b, server_hostname=server_hostname, do_handshake_on_connect=False
        )
        # Each side blocks on the other: the server's half runs in a thread.
        thread = threading.Thread(target=_handshake_ignoring_errors, args=(server,))
        thread.start()
        try:
            client.do_handshake()
        finally:
            client.close()
            thread.join(5)


def _handshake_ignoring_errors(sock):
    try:
        sock.do_handshake()
    except (ssl.SSLError, OSError):
        pass  # the client's side of a failed handshake is what the tests look at


def test_ca_file_is_the_pem_and_verifies_only_the_good_certificate(tls):
    with open(tls.ca_path, "rb") as f:
        assert f.read() == tls.ca_pem
    assert tls.ca_pem.startswith(b"-----BEGIN CERTIFICATE-----")
    assert tls.ca_pem != tls.untrusted_ca_pem
    with open(tls.ca_der_path, "rb") as f:
        assert f.read() == tls.ca_der
    assert ssl.DER_cert_to_PEM_cert(tls.ca_der).encode() == tls.ca_pem
    for name in ("localhost", "127.0.0.1", "127.0.0.2"):
        tls_handshake(tls, "good", name)
    with pytest.raises(ssl.SSLCertVerificationError, match="unable to get local issuer"):
        tls_handshake(tls, "untrusted", "localhost")
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        tls_handshake(tls, "wrong_host", "localhost")
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        tls_handshake(tls, "good", "127.0.0.3")
    # The unrelated CA does verify its own certificate: the failure above is the trust check.
    tls_handshake(tls, "untrusted", "localhost", tls.client_context(tls.untrusted_ca_path))


# --- SMTP --------------------------------------------------------------------------------


def test_smtp_plain_records_envelope_wire_bytes_and_commands(smtp_server):
    server = smtp_server(mode="plain")
    with smtplib.SMTP(server.host, server.port, local_hostname="modem.example", timeout=5) as c:
        refused = c.sendmail("sensor@test.example", ["ops@test.example"], MESSAGE)
    assert refused == {}
    [message] = server.messages
    assert message.mail_from == "sensor@test.example"
    assert message.rcpt_tos == ["ops@test.example"]
    assert message.content == MESSAGE
    assert message.wire == dot_stuffed(MESSAGE) + b".\r\n"
    assert b"\r\n..starts with a dot\r\n...two dots\r\n..\r\n" in message.wire
    session = message.session
    assert session is server.sessions[0] and len(server.sessions) == 1
    assert session.ehlo == "modem.example"
    assert [verb for verb, _ in session.commands] == ["EHLO", "MAIL", "RCPT", "DATA", "QUIT"]
    assert session.commands[1] == ("MAIL", "FROM:<sensor@test.example> size=%d" % len(MESSAGE))
    assert not session.tls and not session.starttls and session.auth_mechanism is None
    assert session.replies[0].startswith("220 ")
    assert bytes(session.client_bytes).endswith(message.wire + b"QUIT\r\n")


def test_smtp_keeps_bare_lf_and_ends_data_only_at_crlf_dot_crlf(smtp_server):
    server = smtp_server(mode="plain")
    raw = b"bare\nlf\n.\nstill data\r\n.stuffed\r\n"
    with smtplib.SMTP(server.host, server.port, timeout=5) as c:
        c.ehlo("modem.example")
        c.mail("a@test.example")
        c.rcpt("b@test.example")
        assert c.docmd("DATA")[0] == 354
        c.send(raw + b".\r\n")  # our own bytes: smtplib.data() would stuff bare-LF dots
        assert c.getreply()[0] == 250
        # Bare LFs do not end a line: 1,002 bytes of them make one line too long (RFC 5321).
        c.rset()
        c.mail("a@test.example")
        c.rcpt("b@test.example")
        assert c.docmd("DATA")[0] == 354
        c.send(b"x\n" * 500 + b"yy\r\n.\r\n")
        assert c.getreply()[0] == 500
    [message] = server.messages
    assert message.wire == raw + b".\r\n"
    assert message.content == b"bare\nlf\n.\nstill data\r\nstuffed\r\n"


@pytest.mark.parametrize("mechanism", ["LOGIN", "PLAIN"])
def test_smtp_starttls_then_auth(smtp_server, tls, mechanism):
    server = smtp_server(mode="starttls", users={"alice": "s3cret"}, auth_required=True)
    with smtplib.SMTP(server.host, server.port, local_hostname="cam.example", timeout=5) as c:
        c.ehlo()
        assert c.has_extn("starttls") and not c.has_extn("auth")  # AUTH only after TLS
        c.starttls(context=tls.client_context())
        c.ehlo()
        assert c.has_extn("auth") and not c.has_extn("starttls")
        assert set(c.esmtp_features["auth"].split()) == {"LOGIN", "PLAIN"}
        c.user, c.password = "alice", "s3cret"
        auth = c.auth_login if mechanism == "LOGIN" else c.auth_plain
        assert c.auth(mechanism, auth, initial_response_ok=False)[0] == 235
        assert isinstance(c.sock, ssl.SSLSocket) and c.sock.version().startswith("TLS")
        c.sendmail("cam@test.example", ["ops@test.example"], MESSAGE)
    [session] = server.sessions
    assert session.starttls and session.tls
    assert (session.auth_mechanism, session.auth_login) == (mechanism, "alice")
    assert [v for v, _ in session.commands][:4] == ["EHLO", "STARTTLS", "EHLO", "AUTH"]
    assert session.commands[3] == ("AUTH", mechanism)
    assert server.messages[0].content == MESSAGE


def test_smtp_wrong_password_and_missing_auth_are_refused(smtp_server, tls):
    server = smtp_server(mode="plain", users={"alice": "s3cret"}, auth_required=True)
    with smtplib.SMTP(server.host, server.port, timeout=5) as c:
        c.ehlo("modem.example")
        assert "LOGIN" in c.esmtp_features["auth"]  # plain mode offers AUTH in clear text
        with pytest.raises(smtplib.SMTPAuthenticationError) as err:
            c.login("alice", "wrong")
        assert err.value.smtp_code == 535
        with pytest.raises(smtplib.SMTPSenderRefused) as err:
            c.sendmail("a@test.example", ["b@test.example"], MESSAGE)
        assert err.value.smtp_code == 530
    # smtplib's login() tries PLAIN, then LOGIN: both refused.
    assert server.sessions[0].auth_failures == [("PLAIN", "alice"), ("LOGIN", "alice")]
    assert server.messages == []


def test_smtp_starttls_required_refuses_mail_before_tls(smtp_server, tls):
    server = smtp_server(mode="starttls_required")
    with smtplib.SMTP(server.host, server.port, timeout=5) as c:
        c.ehlo("modem.example")
        assert c.mail("a@test.example")[0] == 530
        c.starttls(context=tls.client_context())
        c.ehlo("modem.example")
        assert c.sendmail("a@test.example", ["b@test.example"], MESSAGE) == {}
    assert server.messages[0].session.starttls


def test_smtp_implicit_tls_from_the_first_byte_with_auth(smtp_server, tls):
    server = smtp_server(mode="implicit_tls", users={"alice": "s3cret"}, auth_required=True)
    with smtplib.SMTP_SSL("localhost", server.port, context=tls.client_context(), timeout=5) as c:
        c.ehlo("modem.example")
        assert not c.has_extn("starttls")
        c.login("alice", "s3cret")
        c.sendmail("a@test.example", ["b@test.example"], MESSAGE)
    [session] = server.sessions
    assert session.tls and not session.starttls and session.auth_login == "alice"
    assert server.messages[0].wire == dot_stuffed(MESSAGE) + b".\r\n"
    # A plaintext client gets no greeting: the server wanted a ClientHello and hangs up.
    with socket.create_connection((server.host, server.port), timeout=5) as s:
        s.sendall(b"EHLO modem.example\r\n")
        assert not first_bytes(s).startswith(b"220")


@pytest.mark.parametrize("mode", ["implicit_tls", "starttls"])
@pytest.mark.parametrize("cert", ["untrusted", "wrong_host"])
def test_smtp_certificate_that_does_not_verify(smtp_server, tls, mode, cert):
    server = smtp_server(mode=mode, cert=cert)
    with pytest.raises(ssl.SSLCertVerificationError):
        if mode == "implicit_tls":
            smtplib.SMTP_SSL("localhost", server.port, context=tls.client_context(), timeout=5)
        else:
            with smtplib.SMTP("localhost", server.port, timeout=5) as c:
                c.starttls(context=tls.client_context())
    # Trusting the CA that did sign it makes the same server verify (it is the check that
    # failed, not the server).
    if cert == "untrusted" and mode == "implicit_tls":
        ctx = tls.client_context(cafile=tls.untrusted_ca_path)
        with smtplib.SMTP_SSL("localhost", server.port, context=ctx, timeout=5) as c:
            assert c.noop()[0] == 250


def test_smtp_refused_recipient_and_sender(smtp_server):
    server = smtp_server(refuse_rcpt={"gone@test.example"})
    with smtplib.SMTP(server.host, server.port, timeout=5) as c:
        refused = c.sendmail("a@test.example", ["ok@test.example", "gone@test.example"], MESSAGE)
        assert refused == {"gone@test.example": (550, b"5.1.1 Mailbox unavailable")}
        with pytest.raises(smtplib.SMTPRecipientsRefused):
            c.sendmail("a@test.example", ["gone@test.example"], MESSAGE)
    assert [m.rcpt_tos for m in server.messages] == [["ok@test.example"]]

    server = smtp_server(refuse_mail_from={"spam@test.example"})
    with smtplib.SMTP(server.host, server.port, timeout=5) as c:
        with pytest.raises(smtplib.SMTPSenderRefused) as err:
            c.sendmail("spam@test.example", ["b@test.example"], MESSAGE)
        assert err.value.smtp_code == 550
        assert c.sendmail("fine@test.example", ["b@test.example"], MESSAGE) == {}
    assert [m.mail_from for m in server.messages] == ["fine@test.example"]


def test_smtp_refused_data_and_dropped_connection(smtp_server):
    server = smtp_server(refuse_data=True)
    with smtplib.SMTP(server.host, server.port, timeout=5) as c:
        with pytest.raises(smtplib.SMTPDataError) as err:
            c.sendmail("a@test.example", ["b@test.example"], MESSAGE)
        assert err.value.smtp_code == 554
    assert server.messages == []

    server = smtp_server(drop_in_data=10)
    with smtplib.SMTP(server.host, server.port, timeout=5) as c:
        c.ehlo("modem.example")
        c.mail("a@test.example")
        c.rcpt("b@test.example")
        assert c.docmd("DATA")[0] == 354
        c.send(b"0123456789")
        with pytest.raises(smtplib.SMTPServerDisconnected):
            c.getreply()
    assert server.sessions[0].dropped and server.messages == []


def test_smtp_refused_port_and_unknown_host(refused_port):
    with pytest.raises(ConnectionRefusedError):
        smtplib.SMTP("127.0.0.1", refused_port, timeout=5)
    with pytest.raises(socket.gaierror):
        smtplib.SMTP(UNKNOWN_HOST, 25, timeout=5)
    port = free_port()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", port), timeout=5)
