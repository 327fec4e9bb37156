"""End to end, urgent TCP data: a byte the peer sends with MSG_OOB is part of the stream. The
device gets it inline, in order, framed like any other byte (DLEMODE 1: only DLE and ETX are
escaped), in listening mode and in client mode (AT#OTCP). The unix board sets SO_OOBINLINE;
without it Linux takes the urgent byte out of the stream and a bridge never sees it.
"""

import socket

import pytest

from harness import (
    CLOSED,
    WAITING,
    connect,
    free_port,
    modem,  # noqa: F401 - fixture
    recv_exact,
    server_fixture,  # noqa: F401 - the `server` fixture
)


def open_session(m, mode, server):
    """A data session in DLEMODE 1; returns the peer's socket (TCP_NODELAY: one send, one
    segment, so the urgent byte travels in a segment of its own)."""
    if mode == "listen":
        p = free_port()
        m.listen(p, dlemode=1)
        peer = connect(p)
        m.expect_exact(WAITING)
    else:
        m.configure(server.port, dlemode=1, txdelay=0)
        m.check("AT#OTCP=1", WAITING)
        peer, _ = server.accept()
    peer.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return peer


def send_parts(peer, parts):
    """parts: [(bytes, urgent?)], each sent on its own."""
    for data, urgent in parts:
        if urgent:
            assert peer.send(data, socket.MSG_OOB) == len(data)
        else:
            peer.sendall(data)


def end_session(m, peer):
    # The session goes on after urgent data, both ways, and ends as any other.
    m.send(b"ack")
    assert recv_exact(peer, 3) == b"ack"
    peer.close()
    m.expect_exact(b"\x03" + CLOSED)


MODES = ["listen", "client"]


@pytest.mark.parametrize("mode", MODES)
def test_an_urgent_byte_arrives_inline_in_order(modem, server, mode):  # noqa: F811
    peer = open_session(modem, mode, server)
    send_parts(peer, [(b"abc", False), (b"!", True), (b"def", False)])
    modem.expect_exact(b"abc!def")
    end_session(modem, peer)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("special", [b"\x03", b"\x10"], ids=["ETX", "DLE"])
def test_an_urgent_etx_or_dle_arrives_escaped_in_order(modem, server, mode, special):  # noqa: F811
    # An urgent ETX must not end the session nor vanish: escaped, like the ETX of the stream.
    peer = open_session(modem, mode, server)
    send_parts(peer, [(b"ab", False), (special, True), (b"cd" + special + b"ef", False)])
    esc = b"\x10" + special
    modem.expect_exact(b"ab" + esc + b"cd" + esc + b"ef")
    end_session(modem, peer)


@pytest.mark.parametrize("mode", MODES)
def test_several_urgent_bytes_in_a_row(modem, server, mode):  # noqa: F811
    # Each new urgent mark moves the pointer past the last one (Linux keeps only one byte
    # out of band): all of them, and a multi-byte urgent send, stay in the stream.
    peer = open_session(modem, mode, server)
    parts = [(b"abc", False), (b"!", True), (b"?", True), (b"\x03", True), (b"xyz", True)]
    send_parts(peer, parts + [(b"def", False)])
    modem.expect_exact(b"abc!?\x10\x03xyzdef")
    end_session(modem, peer)


@pytest.mark.parametrize("mode", MODES)
def test_urgent_data_as_the_first_and_the_last_bytes(modem, server, mode):  # noqa: F811
    peer = open_session(modem, mode, server)
    send_parts(peer, [(b"<", True), (b"body", False), (b">", True)])
    modem.expect_exact(b"<body>")
    end_session(modem, peer)
