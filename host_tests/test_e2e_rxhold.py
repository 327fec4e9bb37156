"""A server that speaks first must not lose its first bytes to a client that flushes its serial
input after Ok_Info_WaitingForData (issue 12, item 5; OpenDMTP reads and drops input until the
line has been quiet for 100 ms after every command). The modem holds the peer's first bytes for
TCPRXDELAY (UDPRXDELAY) milliseconds after the entry message: 250 by default.

The flushing client is played by the test: after the entry message it drops what arrives in the
next 100 ms, as OpenDMTP does, then reads. Where the test asserts that nothing was lost it
leaves the modem room beyond any plausible lag of the test process.
"""

import socket

import pytest

from harness import (
    CLOSED,
    OK,
    WAITING,
    connect,
    free_port,
    modem,  # noqa: F401 - fixture
    wait_listening,
)

GREETING = b"220 server speaks first\r\n"


def flushing_client_reads(m, n):
    """OpenDMTP after a command: drop what comes within 100 ms, then read n bytes."""
    dropped = m.read_for(0.1)
    assert dropped == b"", (
        "the peer's first bytes came within 100 ms: a flushing client loses %r" % (dropped)
    )
    return m.read_exact(n, timeout=5)


def test_default_hold_and_its_setting(modem):  # noqa: F811
    m = modem
    m.check("AT#TCPRXDELAY=1", b"\r\n#TCPRXDELAY: 1,250\r\n" + OK)
    m.check("AT#UDPRXDELAY?", b"\r\n#UDPRXDELAY: 250\r\n" + OK)
    m.check("AT#TCPRXDELAY=2,0", OK)
    m.check("AT#TCPRXDELAY=2,10000", OK)
    m.check("AT#TCPRXDELAY=2,10001", b"\r\n#CME ERROR: 34882\r\n")
    m.check("AT#TCPRXDELAY?", b"\r\n#TCPRXDELAY: 1,250\r\n#TCPRXDELAY: 2,10000\r\n" + OK)


@pytest.mark.parametrize("rxdelay", [None, 1000])  # None: the default, 250 ms
def test_listening_server_speaks_first(modem, rxdelay):  # noqa: F811
    m = modem
    p = free_port()
    m.configure(p, rxdelay=rxdelay)
    m.check("AT#LTCPSTART=1", OK)
    wait_listening(p)
    peer = connect(p)
    peer.sendall(GREETING)  # at once, before the modem has even said WaitingForData
    m.expect_exact(WAITING)
    assert flushing_client_reads(m, len(GREETING)) == GREETING
    peer.sendall(b"and more")  # later bytes are not held
    m.expect_exact(b"and more", timeout=1)
    m.close_session_from_device()
    peer.close()


def test_client_mode_server_speaks_first(modem):  # noqa: F811
    m = modem
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(5)
    try:
        m.configure(server.getsockname()[1], rxdelay=1000)
        m.send(b"AT#OTCP=1\r")
        conn, _ = server.accept()
        conn.sendall(GREETING)
        m.expect_exact(WAITING)
        assert flushing_client_reads(m, len(GREETING)) == GREETING
        conn.close()
        m.expect_exact(b"\x03" + CLOSED)
    finally:
        server.close()


def test_no_hold_delivers_at_once(modem):  # noqa: F811
    m = modem
    p = free_port()
    m.configure(p, rxdelay=0)
    m.check("AT#LTCPSTART=1", OK)
    wait_listening(p)
    peer = connect(p)
    peer.sendall(GREETING)
    m.expect_exact(WAITING + GREETING)
    m.close_session_from_device()
    peer.close()


def test_udp_server_speaks_first(modem):  # noqa: F811
    m = modem
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("0.0.0.0", 0))
        local = s.getsockname()[1]
    try:
        m.check('AT#UDPSERV="127.0.0.1"', OK)
        m.check("AT#UDPPORT=%d" % server.getsockname()[1], OK)
        m.check("AT#OUTPORT=%d" % local, OK)
        m.check("AT#UDPRXDELAY=1000", OK)
        m.check("AT#OUDP", WAITING)
        server.sendto(GREETING, ("127.0.0.1", local))  # right behind the entry message
        assert flushing_client_reads(m, len(GREETING)) == GREETING
        m.send(b"\x03")
        m.expect_exact(CLOSED + OK)
    finally:
        server.close()
