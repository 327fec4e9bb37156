"""The pyftpdlib FTP / FTPS fixture (mailservers.ftp_server), driven by CPython's ftplib."""

import ftplib
import io
import socket
import ssl

import pytest
from srv_tls import first_bytes, wait_until

pytest_plugins = ["mailservers"]

ALL_BYTES = bytes(range(256))
PAYLOAD = ALL_BYTES * 4096  # 1 MiB, every byte value


class ImplicitFTP_TLS(ftplib.FTP_TLS):
    """ftplib speaks explicit FTPS only; implicit = TLS before the greeting is read."""

    def connect(self, host, port, timeout):
        self.host, self.port, self.timeout = host, port, timeout
        self.sock = self.context.wrap_socket(
            socket.create_connection((host, port), timeout), server_hostname=host
        )
        self.af = self.sock.family
        self.file = self.sock.makefile("r", encoding=self.encoding)
        self.welcome = self.getresp()
        return self.welcome


def ftp_client(server, user="bob", password="secret"):
    c = ftplib.FTP()
    c.connect(server.host, server.port, timeout=5)
    c.login(user, password)
    return c


def upload_and_download(c, name, data):
    c.storbinary("STOR " + name, io.BytesIO(data))
    got = bytearray()
    c.retrbinary("RETR " + name, got.extend)
    return bytes(got)


def test_ftp_binary_stor_retr_every_byte_through_passive_ports(ftp_server):
    server = ftp_server()
    c = ftp_client(server)
    try:
        assert c.getwelcome().startswith("220")
        host, port = c.makepasv()
        assert host == "127.0.0.1" and port in server.passive_ports
        epsv = c.sendcmd("EPSV")  # 229 Entering extended passive mode (|||port|).
        assert epsv.startswith("229") and int(epsv.split("|")[3]) in server.passive_ports
        c.cwd("/")
        assert upload_and_download(c, "log.bin", PAYLOAD) == PAYLOAD
    finally:
        c.quit()
    assert (server.root / "log.bin").read_bytes() == PAYLOAD
    assert server.received == [(str(server.root / "log.bin"), True)]
    assert server.commands[:2] == ["USER bob", "PASS secret"]
    assert "TYPE I" in server.commands and "STOR log.bin" in server.commands
    assert server.commands[-1] == "QUIT"


def test_ftp_ascii_mode_stores_unix_line_ends(ftp_server):
    server = ftp_server()
    c = ftp_client(server)
    try:
        c.storlines("STOR notes.txt", io.BytesIO(b"one\r\ntwo\r\n"))
        got = []
        c.retrlines("RETR notes.txt", got.append)
    finally:
        c.quit()
    assert (server.root / "notes.txt").read_bytes() == b"one\ntwo\n"
    assert got == ["one", "two"]
    assert "TYPE A" in server.commands


def test_ftp_wrong_password_missing_file_refused_stor(ftp_server):
    server = ftp_server(refuse_stor=True)
    with pytest.raises(ftplib.error_perm, match="^530"):
        ftp_client(server, password="wrong")
    with pytest.raises(ftplib.error_perm, match="^530"):
        ftp_client(server, "anonymous", "guest@")  # no anonymous login by default
    c = ftp_client(server)
    try:
        with pytest.raises(ftplib.error_perm, match="^550"):
            c.retrbinary("RETR missing.bin", bytearray().extend)
        with pytest.raises(ftplib.error_perm, match="^553"):
            c.storbinary("STOR x.bin", io.BytesIO(b"data"))
    finally:
        c.quit()
    assert not (server.root / "x.bin").exists()


@pytest.mark.parametrize("access", ["read", "write"])
def test_ftp_anonymous_access(ftp_server, access):
    server = ftp_server(anonymous=access)
    (server.root / "pub.bin").write_bytes(ALL_BYTES)
    c = ftp_client(server, "anonymous", "guest@")
    try:
        got = bytearray()
        c.retrbinary("RETR pub.bin", got.extend)
        assert bytes(got) == ALL_BYTES
        if access == "read":
            with pytest.raises(ftplib.error_perm, match="^550"):
                c.storbinary("STOR up.bin", io.BytesIO(ALL_BYTES))
        else:
            c.storbinary("STOR up.bin", io.BytesIO(ALL_BYTES))
    finally:
        c.quit()
    assert (server.root / "up.bin").exists() == (access == "write")


def test_ftp_server_drops_the_data_connection_mid_transfer(ftp_server):
    server = ftp_server(drop_after=64 * 1024)
    (server.root / "big.bin").write_bytes(PAYLOAD)
    c = ftp_client(server)
    try:
        got = bytearray()
        with pytest.raises(ftplib.error_temp, match="^426"):
            c.retrbinary("RETR big.bin", got.extend)
        assert 64 * 1024 <= len(got) < len(PAYLOAD)
        with pytest.raises((ftplib.error_temp, OSError)):
            c.storbinary("STOR up.bin", io.BytesIO(PAYLOAD * 8))  # the 426 or a reset
    finally:
        c.close()
    assert wait_until(lambda: server.received)
    assert server.received == [(str(server.root / "up.bin"), False)]
    assert (server.root / "up.bin").stat().st_size < len(PAYLOAD) * 8

    server = ftp_server(drop_after=64 * 1024, drop_control=True)
    (server.root / "big.bin").write_bytes(PAYLOAD)
    c = ftp_client(server)
    try:
        with pytest.raises((EOFError, ConnectionResetError)):
            c.retrbinary("RETR big.bin", bytearray().extend)
    finally:
        c.close()


def test_ftps_explicit_with_tls_required_on_both_channels(ftp_server, tls):
    server = ftp_server(tls="explicit", tls_control_required=True, tls_data_required=True)
    plain = ftplib.FTP()
    plain.connect(server.host, server.port, timeout=5)
    with pytest.raises(ftplib.error_perm, match="^550 SSL/TLS required on the control"):
        plain.login("bob", "secret")
    plain.close()

    c = ftplib.FTP_TLS(context=tls.client_context())
    c.connect("localhost", server.port, timeout=5)
    try:
        c.login("bob", "secret")  # AUTH TLS first
        assert isinstance(c.sock, ssl.SSLSocket)
        with pytest.raises(ftplib.error_perm, match="^550 SSL/TLS required on the data"):
            c.makepasv()
        c.prot_p()
        assert upload_and_download(c, "secure.bin", PAYLOAD) == PAYLOAD
    finally:
        c.quit()
    # The refused plaintext USER, then the TLS session.
    assert server.commands[:4] == ["USER bob", "AUTH TLS", "USER bob", "PASS secret"]
    assert server.commands.index("PBSZ 0") < server.commands.index("PROT P")
    assert server.tls_logins == 1
    assert (server.root / "secure.bin").read_bytes() == PAYLOAD


def test_ftps_implicit_tls_before_the_greeting(ftp_server, tls):
    server = ftp_server(tls="implicit")
    c = ImplicitFTP_TLS(context=tls.client_context())
    c.connect("localhost", server.port, timeout=5)
    try:
        assert c.welcome.startswith("220")
        c.login("bob", "secret")  # no AUTH TLS: ftplib sends it only on a plain socket
        c.prot_p()  # PBSZ 0, PROT P: the data channel is protected separately
        assert upload_and_download(c, "implicit.bin", PAYLOAD) == PAYLOAD
    finally:
        c.quit()
    assert server.commands[0] == "USER bob" and server.tls_logins == 1
    with socket.create_connection((server.host, server.port), timeout=5) as s:
        s.sendall(b"USER bob\r\n")  # plaintext: no 220, the TLS handshake just fails
        assert not first_bytes(s).startswith(b"220")


@pytest.mark.parametrize("cert", ["untrusted", "wrong_host"])
def test_ftps_certificate_that_does_not_verify(ftp_server, tls, cert):
    server = ftp_server(tls="explicit", cert=cert)
    c = ftplib.FTP_TLS(context=tls.client_context())
    c.connect("localhost", server.port, timeout=5)
    with pytest.raises(ssl.SSLCertVerificationError):
        c.auth()
    c.close()
