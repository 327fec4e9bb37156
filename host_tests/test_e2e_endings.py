"""Every way a session ends delivers each device byte to the peer at most once, in order
(issue 12, item 1: after a peer's half-close the pending buffer went out a second time).

The peer's view is checked: what it received must be a prefix of what the device sent (a byte
twice, or out of order, breaks the prefix), and where the dialect promises delivery (a lone
ETX, bytes held by TCPTXDELAY when the peer half-closes or the idle timer fires), all of it.
The device's payload has no "A" or "a" in it, so bytes that reach command mode after the end
can never form a command line.
"""

import random
import socket
import time

import pytest

from harness import (
    CLOSED,
    OK,
    WAITING,
    PeerServer,
    Thread,
    chunks,
    cme,
    connect,
    dle_escape,
    first_difference,
    free_port,
    modem,  # noqa: F401 - fixture
    recv_until_eof,
    wait_listening,
)

MiB = 1 << 20
ETX = b"\x03"


def device_payload(size, seed):
    """Random bytes with DLE and ETX runs, and never 0x41 / 0x61 ("A", "a")."""
    rnd = random.Random(seed)
    allowed = bytes(b for b in range(256) if b not in (0x41, 0x61))
    out = bytearray()
    while len(out) < size:
        if rnd.random() < 0.05:
            out += rnd.choice((b"\x10" * 40, b"\x03" * 33, b"\x10\x03" * 20))
        else:
            out += bytes(rnd.choice(allowed) for _ in range(rnd.randint(1, 2000)))
    return bytes(out[:size])


def assert_prefix(got, sent, what):
    assert sent.startswith(got), (
        what
        + ": not a prefix of what the device sent: "
        + (first_difference(got, sent[: len(got)]))
    )


def open_session(m, how, txdelay=0, rcvbuf=4096, idle=None):
    """A DLEMODE 1 session, listening or client mode; returns (peer socket, cleanup)."""
    if how == "listen":
        p = free_port()
        m.configure(p, txdelay=txdelay)
        if idle is not None:
            m.check("AT#TCPINACTIVITYTIMER=1,%d" % idle, OK)
        m.check("AT#LTCPSTART=1", OK)
        wait_listening(p)
        peer = connect(p, rcvbuf=rcvbuf)
        m.expect_exact(WAITING)
        return peer, lambda: None
    server = PeerServer(backlog=1, rcvbuf=rcvbuf)
    m.configure(server.port, txdelay=txdelay)
    if idle is not None:
        m.check("AT#TCPINACTIVITYTIMER=1,%d" % idle, OK)
    m.check("AT#OTCP=1", WAITING)
    peer, _ = server.accept(timeout=10)
    return peer, server.close


def writer(m, data, seed, stop):
    for c in chunks(data, seed, 1, 8192):
        if stop:
            return
        m.send(c)


@pytest.mark.parametrize("how", ["listen", "otcp"])
@pytest.mark.timeout(120)
def test_half_close_while_the_device_streams(modem, how):  # noqa: F811
    """The peer reads slowly, so the modem is in the middle of a flush, waiting for room;
    then it half-closes (SHUT_WR) and reads as fast as it can: no block may come twice.
    (Before the fix the pending buffer was written again from its start after the FIN.)"""
    m = modem
    for round_ in range(4):
        peer, cleanup = open_session(m, how)
        data = device_payload(MiB, seed=10 * round_ + (1 if how == "listen" else 2))
        stop = []
        t = Thread(writer, m, dle_escape(data), 3 + round_, stop)
        t.start()
        got = bytearray()
        peer.settimeout(10)
        while len(got) < 60_000 + 20_000 * round_:
            got += peer.recv(4096)
            time.sleep(0.002)
        time.sleep(0.05)  # the modem's flush now waits for room, part of its buffer sent
        peer.shutdown(socket.SHUT_WR)
        got += recv_until_eof(peer, timeout=20, watch=m)
        stop.append(True)
        t.join(30)
        assert_prefix(bytes(got), data, "round %d: peer received after its half-close" % round_)
        m.read_until(ETX + CLOSED, timeout=20)  # the device is told, once the peer side is done
        m.expect_silence(0.3)
        m.check("AT", OK)
        peer.close()
        cleanup()


@pytest.mark.parametrize("how", ["listen", "otcp"])
def test_half_close_sends_what_txdelay_held_once(modem, how):  # noqa: F811
    """Bytes held by TCPTXDELAY when the peer half-closes reach it, once, before the EOF."""
    m = modem
    peer, cleanup = open_session(m, how, txdelay=5000, rcvbuf=65536)
    data = device_payload(700, seed=5)
    m.send(dle_escape(data))
    time.sleep(0.3)  # the modem holds them (TCPTXDELAY 5 s, less than a segment)
    peer.shutdown(socket.SHUT_WR)
    got = recv_until_eof(peer, timeout=10, watch=m)
    assert got == data, first_difference(got, data)
    m.expect_exact(ETX + CLOSED, timeout=10)
    m.check("AT", OK)
    peer.close()
    cleanup()


def test_idle_timeout_sends_what_txdelay_held_once(modem):  # noqa: F811
    m = modem
    peer, cleanup = open_session(m, "listen", txdelay=10000, rcvbuf=65536, idle=1)
    data = device_payload(500, seed=6)
    m.send(dle_escape(data))
    m.expect_exact(ETX + cme(37966), timeout=10)  # the idle timer ends it
    got = recv_until_eof(peer, timeout=10, watch=m)
    assert got == data, first_difference(got, data)
    m.check("AT#TCPINACTIVITYTIMER=1,0", OK)
    peer.close()
    cleanup()


@pytest.mark.timeout(90)
def test_lone_etx_with_a_slow_peer_delivers_everything_once(modem):  # noqa: F811
    m = modem
    peer, cleanup = open_session(m, "otcp")
    data = device_payload(512 * 1024, seed=7)
    t = Thread(writer, m, dle_escape(data) + b"\x03", 8, [])
    t.start()
    got = bytearray()
    peer.settimeout(20)
    while True:
        part = peer.recv(4096)
        if not part:
            break
        got += part
        if len(got) < 200_000:
            time.sleep(0.001)
    t.join(30)
    assert bytes(got) == data, first_difference(bytes(got), data)
    m.expect_exact(CLOSED + OK, timeout=10)
    m.check("AT", OK)
    peer.close()
    cleanup()


@pytest.mark.timeout(90)
def test_link_lost_while_the_device_streams(rmodem):
    """The bearer goes: the peer has a prefix (nothing twice) and an EOF; the device gets ETX
    and #CME ERROR: 35841."""
    m = rmodem
    peer, cleanup = open_session(m, "otcp")
    data = device_payload(MiB, seed=9)
    stop = []
    t = Thread(writer, m, dle_escape(data), 10, stop)
    t.start()
    got = bytearray()
    peer.settimeout(10)
    while len(got) < 50_000:
        got += peer.recv(4096)
        time.sleep(0.002)
    m.ctl("link down")
    got += recv_until_eof(peer, timeout=20)
    stop.append(True)
    t.join(30)
    assert_prefix(bytes(got), data, "peer received when the link went")
    m.read_until(ETX + cme(35841), timeout=20)
    m.ctl("link up")
    m.check("AT", OK)
    peer.close()
    cleanup()
