"""End to end: AT#OUDP (UDP session) and AT#PING through the host board's network."""

import re
import socket

from harness import CLOSED, OK, WAITING, modem  # noqa: F401 - fixture


def udp_socket():
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    s.settimeout(5)
    return s


def free_udp_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def test_oudp_datagrams_both_ways(modem):  # noqa: F811
    m = modem
    server = udp_socket()
    local = free_udp_port()
    try:
        m.check('AT#UDPSERV="127.0.0.1"', OK)
        m.check("AT#UDPPORT=%d" % server.getsockname()[1], OK)
        m.check("AT#UDPDLEMODE=1", OK)
        m.check("AT#UDPTXDELAY=0", OK)
        m.check("AT#OUTPORT=%d" % local, OK)
        m.check("AT#OUDP", WAITING)
        m.send(b"hello \x10\x03udp")
        data, addr = server.recvfrom(2048)
        assert data == b"hello \x03udp"
        assert addr == ("127.0.0.1", local)  # sent from OUTPORT
        server.sendto(b"a\x03b\x10", addr)
        m.expect_exact(b"a\x10\x03b\x10\x10")
        # OpenDMTP's burst (spec 12): the datagram, then ETX ETX ETX; the datagram goes first
        m.send(b"last\x03\x03\x03")
        data, _ = server.recvfrom(2048)
        assert data == b"last"
        m.expect_exact(CLOSED + OK)
        m.expect_silence(0.2)
        m.check("AT", OK)
    finally:
        server.close()


def test_ping_loopback(modem):  # noqa: F811
    m = modem
    m.check('AT#PINGREMOTE="127.0.0.1"', OK)
    m.check("AT#PINGNUM=1", OK)
    got = m.cmd("AT#PING", timeout=10)
    assert re.fullmatch(rb"\r\n#PING: 127\.0\.0\.1 is alive, time=\d+ ms\r\n\r\nOK\r\n", got), got
