"""Dotted-decimal addresses are numbers, read in decimal (issue 12, item 2): every spelling of
the allowed address passes a listener's filter, a zero-led part is never read as octal by the
resolver, and what can only be meant as an address and is not one is refused with 34882."""

import os
import re
import socket

import pytest

from harness import (
    OK,
    WAITING,
    cme,
    connect,
    free_port,
    modem,  # noqa: F401 - fixture
    refused_or_closed,
    wait_listening,
)


@pytest.mark.parametrize("spelling", ["127.000.000.001", "127.0.0.01", "127.00.0.1", "127.0.0.1"])
def test_every_spelling_of_the_allowed_address_gets_in(modem, spelling):  # noqa: F811
    m = modem
    p = free_port()
    m.configure(p, serv=spelling)
    m.check("AT#LTCPSTART=1", OK)
    wait_listening(p)
    assert refused_or_closed(p, source="127.0.0.2") in ("eof", "reset")  # others stay out
    peer = connect(p, source="127.0.0.1")
    m.expect_exact(WAITING)
    peer.sendall(b"in")
    m.expect_exact(b"in")
    peer.close()
    m.read_until(b"Ok_Info_SocketClosed\r\n")
    m.check("AT#TCPSERV=1", b'\r\n#TCPSERV: 1,"%s"\r\n' % spelling.encode() + OK)  # as written


def listening(host):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((host, 0))
    s.listen(1)
    s.settimeout(0.5)
    return s


def test_a_zero_led_part_is_decimal_when_connecting(modem):  # noqa: F811
    """127.0.0.010 is 127.0.0.10; the C library would have taken it as 127.0.0.8."""
    m = modem
    right = listening("127.0.0.10")
    port = right.getsockname()[1]
    wrong = socket.socket()
    wrong.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    wrong.bind(("127.0.0.8", port))  # the octal reading, same port
    wrong.listen(1)
    wrong.settimeout(0.5)
    try:
        m.configure(port, serv="127.0.0.010")
        m.check("AT#OTCP=1", WAITING)
        conn, _ = right.accept()
        with pytest.raises(socket.timeout):
            wrong.accept()
        conn.sendall(b"ten")
        m.expect_exact(b"ten")
        conn.close()
        m.read_until(b"Ok_Info_SocketClosed\r\n")
    finally:
        right.close()
        wrong.close()


def test_udp_and_ping_read_addresses_in_decimal(modem):  # noqa: F811
    m = modem
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.10", 0))
    server.settimeout(5)
    try:
        m.check('AT#UDPSERV="127.0.0.010"', OK)
        m.check("AT#UDPPORT=%d" % server.getsockname()[1], OK)
        m.check("AT#UDPTXDELAY=0", OK)
        m.check("AT#OUDP", WAITING)
        m.send(b"dgram")
        data, addr = server.recvfrom(100)
        assert data == b"dgram"
        server.sendto(b"back", addr)
        m.expect_exact(b"back")
        m.send(b"\x03")
        m.read_until(OK)
    finally:
        server.close()
    m.check('AT#PINGREMOTE="127.000.0.010"', OK)
    got = m.cmd("AT#PING", timeout=10)
    if os.geteuid() == 0 or os.environ.get("CI"):
        assert re.fullmatch(rb"\r\n#PING: 127\.0\.0\.10 is alive, time=\d+ ms\r\n\r\nOK\r\n", got)
    else:
        assert got.startswith(b"\r\n#PING: 127.0.0.10 ") or got == cme(38016), got


@pytest.mark.parametrize(
    "command",
    [
        'AT#TCPSERV=1,"127.0.0.256"',
        'AT#TCPSERV=1,"1.2.3"',  # inet_aton would take it as 1.2.0.3
        'AT#TCPSERV=1,"0x7f000001"',
        'AT#TCPSERV=1,"127.0.0.1.5"',
        'AT#TCPSERV="10.1"',
        'AT#UDPSERV="300.1.1.1"',
        'AT#PINGREMOTE="1.2.3.4."',
        'AT#DNSSERV1="1.2.3"',
        'AT#DNSSERV2="dns.example"',  # a DNS server must be an address
    ],
)
def test_what_is_meant_as_an_address_and_is_not_one_is_refused(modem, command):  # noqa: F811
    m = modem
    m.check(command, cme(34882))


def test_host_names_and_filters(modem):  # noqa: F811
    m = modem
    for host in ("mail.example.com", "1e100.net", "a-1.b2", "localhost"):
        m.check('AT#TCPSERV=1,"%s"' % host, OK)
    m.check("AT#TCPPORT=1,%d" % free_port(), OK)
    m.check("AT#LTCPSTART=1", cme(34882))  # a listener's filter must be an address
    m.check('AT#DNSSERV1="008.008.008.008"', OK)  # dotted decimal, zero-led parts and all
    m.check("AT#DNSSERV1?", b'\r\n#DNSSERV1: "008.008.008.008"\r\n' + OK)
