"""End to end, client mode (AT#OTCP) and TCPTXDELAY, on the MicroPython VM behind a pty."""

import socket
import time

import pytest

from harness import (
    CLOSED,
    OK,
    WAITING,
    cme,
    free_port,
    modem,  # noqa: F401 - fixture
    recv_exact,
    recv_until_eof,
    reset,
    server_fixture,  # noqa: F401 - the `server` fixture
)


def test_otcp_indexed_data_and_server_close(modem, server):  # noqa: F811
    m = modem
    m.configure(server.port, serv="127.0.0.1", dlemode=1, txdelay=0)
    m.check("AT#OTCP=1", WAITING)  # exactly this: no OK before it
    conn, addr = server.accept()
    assert addr[0] == "127.0.0.1"
    m.send(b"GET /\x10\x03\r\n")
    assert recv_exact(conn, 8) == b"GET /\x03\r\n"
    conn.sendall(b"reply\x03\x10")
    m.expect_exact(b"reply\x10\x03\x10\x10")
    conn.close()
    m.expect_exact(b"\x03" + CLOSED)
    m.expect_silence(0.2)
    # a new session after the end, this time closed by the device
    m.check("AT#OTCP=1", WAITING)
    conn, _ = server.accept()
    m.send(b"bye\x03")
    m.expect_exact(CLOSED + OK)
    assert recv_until_eof(conn) == b"bye"
    conn.close()
    m.check("AT", OK)


def test_otcp_legacy_syntax(modem, server):  # noqa: F811
    m = modem
    m.check('AT#TCPSERV="127.0.0.1"', OK)
    m.check("AT#TCPPORT=%d" % server.port, OK)
    m.check("AT#OTCP", WAITING)
    conn, _ = server.accept()
    conn.sendall(b"hi")
    m.expect_exact(b"hi")
    reset(conn)
    m.expect_exact(b"\x03" + cme(37966))
    m.check("AT", OK)


def test_otcp_by_host_name(modem, server):  # noqa: F811
    m = modem
    m.configure(server.port, serv="localhost")
    m.check("AT#OTCP=1", WAITING)
    conn, _ = server.accept()
    m.send(b"x\x03")
    m.expect_exact(CLOSED + OK)
    assert recv_until_eof(conn) == b"x"


def test_otcp_profile_2(modem, server):  # noqa: F811
    m = modem
    m.configure(free_port(), profile=1)  # profile 1 points nowhere
    m.configure(server.port, profile=2, dlemode=0)
    m.check("AT#OTCP=2", WAITING)
    conn, _ = server.accept()
    conn.sendall(b"\x03\x10")  # DLEMODE 0 of profile 2: transparent
    m.expect_exact(b"\x03\x10")
    conn.close()
    m.expect_exact(CLOSED)


def test_otcp_refused(modem):  # noqa: F811
    m = modem
    m.configure(free_port())
    m.check("AT#OTCP=1", cme(38016))
    m.check("AT", OK)


def test_otcp_unresolvable(modem):  # noqa: F811
    m = modem
    m.configure(free_port(), serv="no-such-host.invalid")
    m.check("AT#OTCP=1", cme(38027))
    m.check("AT", OK)


def test_otcp_while_in_session_is_data(modem, server):  # noqa: F811
    """In a session, AT text is payload: it reaches the peer, it is not a command."""
    m = modem
    m.configure(server.port, txdelay=0)
    m.check("AT#OTCP=1", WAITING)
    conn, _ = server.accept()
    m.send(b"AT#OTCP=1\r")
    assert recv_exact(conn, 10) == b"AT#OTCP=1\r"
    m.expect_silence(0.2)
    m.close_session_from_device()
    assert recv_until_eof(conn) == b""


def test_txdelay_holds_then_sends(modem, server):  # noqa: F811
    m = modem
    m.configure(server.port, dlemode=1, txdelay=2000)
    m.check("AT#OTCP=1", WAITING)
    conn, _ = server.accept()
    m.send(b"abc")
    conn.settimeout(1.0)
    with pytest.raises(socket.timeout):
        conn.recv(10)  # held back for TCPTXDELAY (2 s)
    assert recv_exact(conn, 3, timeout=3.0) == b"abc"
    # a full segment does not wait for the delay
    t0 = time.monotonic()
    m.send(bytes(4000).replace(b"\x00", b"z"))
    first = recv_exact(conn, 1460, timeout=3.0)
    assert first == b"z" * 1460
    assert time.monotonic() - t0 < 1.5, "a full segment waited for TCPTXDELAY"
    assert recv_exact(conn, 4000 - 1460, timeout=4.0) == b"z" * (4000 - 1460)
    m.close_session_from_device()


def test_txdelay_0_sends_at_once(modem, server):  # noqa: F811
    m = modem
    m.configure(server.port, dlemode=1, txdelay=0)
    m.check("AT#OTCP=1", WAITING)
    conn, _ = server.accept()
    for ch in b"abcde":
        t0 = time.monotonic()
        m.send(bytes([ch]))
        assert recv_exact(conn, 1, timeout=2.0) == bytes([ch])
        assert time.monotonic() - t0 < 0.5
    m.close_session_from_device()
