"""End to end: AT#OUDP (UDP session) and AT#PING through the host board's network."""

import os
import re
import socket

import pytest
from harness import CLOSED, OK, WAITING, modem  # noqa: F401 - fixture

EVERY_BYTE = bytes(range(256))
DLE, ETX = 0x10, 0x03


def escaped(data):
    return data.replace(b"\x10", b"\x10\x10").replace(b"\x03", b"\x10\x03")


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


def open_udp(m, server, dlemode, txdelay=0):
    m.check('AT#UDPSERV="127.0.0.1"', OK)
    m.check("AT#UDPPORT=%d" % server.getsockname()[1], OK)
    m.check("AT#UDPDLEMODE=%d" % dlemode, OK)
    m.check("AT#UDPTXDELAY=%d" % txdelay, OK)
    local = free_udp_port()
    m.check("AT#OUTPORT=%d" % local, OK)
    m.check("AT#OUDP", WAITING)
    return ("127.0.0.1", local)


@pytest.mark.parametrize("dlemode", [0, 1])
def test_udp_every_byte_value_both_ways(modem, dlemode):  # noqa: F811
    m = modem
    server = udp_socket()
    try:
        modem_addr = open_udp(m, server, dlemode)
        m.send(escaped(EVERY_BYTE) if dlemode else EVERY_BYTE)
        data, addr = server.recvfrom(4096)
        assert data == EVERY_BYTE and addr == modem_addr
        server.sendto(EVERY_BYTE, modem_addr)
        m.expect_exact(escaped(EVERY_BYTE) if dlemode else EVERY_BYTE)
        if dlemode:
            m.send(b"\x03")
            m.expect_exact(CLOSED + OK)
            m.check("AT", OK)
    finally:
        server.close()


def test_udp_datagram_boundaries_and_size_limit(modem):  # noqa: F811
    """Device bytes become datagrams of at most 1472 bytes (one MTU): 4000 bytes written at
    once arrive as 1472 + 1472 + 1056, in order; the UDPTXDELAY timer ends a short datagram."""
    m = modem
    server = udp_socket()
    try:
        open_udp(m, server, 0, txdelay=200)
        payload = os.urandom(4000)
        m.send(payload)
        sizes, got = [], b""
        while len(got) < len(payload):
            data, _ = server.recvfrom(65536)
            sizes.append(len(data))
            got += data
        assert got == payload
        assert max(sizes) <= 1472 and sizes[:2] == [1472, 1472], sizes
        m.send(b"short")  # held for the 200 ms delay, then one datagram
        data, _ = server.recvfrom(65536)
        assert data == b"short"
    finally:
        server.close()


def test_udp_datagram_from_another_address_is_dropped(modem):  # noqa: F811
    m = modem
    server = udp_socket()
    foreign = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    foreign.bind(("127.0.0.2", 0))
    try:
        modem_addr = open_udp(m, server, 1)
        foreign.sendto(b"intruder", modem_addr)
        server.sendto(b"expected", modem_addr)
        m.expect_exact(b"expected")
        m.expect_silence(0.3)
        m.send(b"\x03")
        m.expect_exact(CLOSED + OK)
        log = m.cmd("AT#VLOG")
        assert b"dropped a datagram from another address (1 so far)" in log, log
    finally:
        foreign.close()
        server.close()


def test_udp_errors(modem):  # noqa: F811
    m = modem
    m.check('AT#UDPSERV="no-such-host.invalid"', OK)
    m.check("AT#UDPPORT=9", OK)
    m.check("AT#OUDP", b"\r\n#CME ERROR: 38027\r\n")
    m.check("AT#OUDP=1", b"\r\n#CME ERROR: 34819\r\n")


def test_ping_loopback(modem):  # noqa: F811
    """ICMP needs a raw socket (root, as in CI) or Linux's ping socket (ping_group_range)."""
    m = modem
    m.check('AT#PINGREMOTE="127.0.0.1"', OK)
    m.check("AT#PINGNUM=2", OK)
    got = m.cmd("AT#PING", timeout=10)
    alive = rb"\r\n#PING: 127\.0\.0\.1 is alive, time=\d+ ms\r\n"
    if os.geteuid() == 0 or os.environ.get("CI"):
        assert re.fullmatch(alive + alive + rb"\r\nOK\r\n", got), got
    else:  # an unprivileged developer: a clear error, never a fake "alive"
        assert re.fullmatch(alive + alive + rb"\r\nOK\r\n", got) or got == (
            b"\r\n#CME ERROR: 38016\r\n"
        ), got


def test_ping_unresolvable_host(modem):  # noqa: F811
    m = modem
    m.check('AT#PINGREMOTE="no-such-host.invalid"', OK)
    m.check("AT#PING", b"\r\n#CME ERROR: 38027\r\n")


def test_ping_unroutable_address(rmodem):
    """No route to the host (injected: sendto fails with EHOSTUNREACH, so no packet leaves
    this machine): one "no reply" line per request, then #CME ERROR: 38016; then the link down
    gives 35867."""
    m = rmodem
    m.ctl("route none")
    m.check('AT#PINGREMOTE="127.0.0.9"', OK)
    m.check("AT#PINGNUM=2", OK)
    got = m.cmd("AT#PING", timeout=10)
    assert got == (b"\r\n#PING: 127.0.0.9 no reply\r\n" * 2 + b"\r\n#CME ERROR: 38016\r\n"), got
    m.ctl("route ok")
    m.ctl("link down")
    m.check("AT#PING", b"\r\n#CME ERROR: 35867\r\n")
