"""Robustness, network side: refused callers and a thousand sessions each way, on the MicroPython
VM with real loopback sockets (issue 5, section 2). Heap (gc.mem_alloc() after gc.collect(), read
through boards/unix/faults.py's control port) and open file descriptors (/proc/<VM pid>/fd) must
come back to where they were.
"""

import socket
import time

import pytest

from harness import (
    CLOSED,
    OK,
    WAITING,
    cme,
    connect,
    expect_closed_by_modem,
    free_port,
    listening_ports,
    recv_exact,
    recv_until_eof,
    refused_or_closed,
)
from test_robust_common import report

CYCLES = 1000
WARMUP = 20  # cycles before the "before" figures: first-use allocations are not leaks
HEAP_MARGIN = 2048  # bytes
LOG_RING = 32  # lines of the firmware's RAM log (firmware/log.py)


def _end_session(m, peer, i):
    """Alternate the two endings: the device's ETX, the peer's close."""
    if i % 2 == 0:
        m.send(b"\x03")
        m.expect_exact(CLOSED + OK)
        assert recv_until_eof(peer) == b""
    else:
        peer.shutdown(socket.SHUT_WR)
        m.expect_exact(b"\x03" + CLOSED)
        assert recv_until_eof(peer) == b""
    peer.close()


def _talk(m, peer, i):
    """A few bytes each way (DLE and ETX among them); returns the payload bytes moved."""
    down = b"peer %d \x10\x03" % i
    peer.sendall(down)
    m.expect_exact(down.replace(b"\x10", b"\x10\x10").replace(b"\x03", b"\x10\x03"))
    up = b"dev %d" % i
    m.send(up)
    assert recv_exact(peer, len(up), watch=m) == up
    return len(down) + len(up)


@pytest.mark.timeout(120)
def check_flat(m, name, before, moved, elapsed):
    """After CYCLES sessions: the modem answers, and its heap and open fds are where they were
    (`before` = (heap, fds)); returns the reported figures."""
    m.check("AT", OK)
    after = (m.heap_used(), m.open_fds())
    figures = report(
        name,
        cycles=CYCLES,
        payload_bytes=moved,
        seconds=round(elapsed, 1),
        heap_before=before[0],
        heap_after=after[0],
        fds_before=before[1],
        fds_after=after[1],
    )
    assert after[1] == before[1], "file descriptors leaked: " + figures
    assert after[0] - before[0] <= HEAP_MARGIN, "heap grew: " + figures
    return figures


def test_refused_address_while_listening(rmodem):
    """100 callers from 127.0.0.2 while TCPSERV is 127.0.0.1 (after 32 more that fill the RAM
    log, whose growth is not a leak): each is closed without data and without a word on the
    serial line; the modem keeps listening, then the allowed peer gets in."""
    m = rmodem
    p = free_port()
    m.listen(p, serv="127.0.0.1", txdelay=0)
    outcomes = {}

    def attempts(n):
        for _ in range(n):
            how = refused_or_closed(p, source="127.0.0.2")
            outcomes[how] = outcomes.get(how, 0) + 1

    attempts(LOG_RING)  # warm-up: the firmware's RAM log (32 lines) fills with "refused ..."
    m.vlog()  # and the commands used below have loaded their groups (interpreter.py)
    m.check("AT#LTCPSTART=1", cme(37123))
    fds_before = m.open_fds()
    heap_before = m.heap_used()
    t0 = time.monotonic()
    attempts(100)
    elapsed = time.monotonic() - t0
    m.expect_silence(0.3)  # no Ok_Info_WaitingForData, nothing
    # Still waiting: the port listens, commands run, a second LTCPSTART is refused as busy.
    assert p in listening_ports()
    m.check("AT", OK)
    m.check("AT#LTCPSTART=1", cme(37123))
    log = m.vlog()
    refused = [line for line in log if "refused 127.0.0.2" in line]
    heap_after = m.heap_used()
    fds_after = m.open_fds()
    figures = report(
        "refused callers",
        attempts=100,
        warmup_attempts=LOG_RING,
        outcomes=outcomes,
        seconds=round(elapsed, 2),
        last_log=refused[-1:] or None,
        heap_before=heap_before,
        heap_after=heap_after,
        fds_before=fds_before,
        fds_after=fds_after,
    )
    assert set(outcomes) <= {"eof", "reset"}, "a refused caller was not closed: " + figures
    assert refused and refused[-1].endswith("(%d so far)" % (100 + LOG_RING)), figures
    assert fds_after == fds_before, figures
    assert heap_after - heap_before <= HEAP_MARGIN, figures
    # The allowed peer still gets in.
    peer = connect(p)
    m.expect_exact(WAITING)
    _talk(m, peer, 0)
    _end_session(m, peer, 0)
    m.check("AT", OK)
    m.check_alive()


@pytest.mark.timeout(180)
def test_listen_accept_close_cycles(rmodem):
    m = rmodem
    p = free_port()
    m.configure(p, serv="127.0.0.1", dlemode=1, txdelay=0, rxdelay=0)
    moved = 0
    before = None
    t0 = time.monotonic()
    for i in range(CYCLES + WARMUP):
        if i == WARMUP:
            before = (m.heap_used(), m.open_fds())
            t0 = time.monotonic()
        m.check("AT#LTCPSTART=1", OK)
        peer = connect(p)
        m.expect_exact(WAITING)
        moved += _talk(m, peer, i)
        _end_session(m, peer, i)
    figures = check_flat(m, "listen/accept/close", before, moved, time.monotonic() - t0)
    assert p not in listening_ports(), figures
    m.check_alive()


@pytest.mark.timeout(180)
def test_otcp_close_cycles(rmodem):
    m = rmodem
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(5)
    p = server.getsockname()[1]
    m.configure(p, serv="127.0.0.1", dlemode=1, txdelay=0, rxdelay=0)
    moved = 0
    before = None
    t0 = time.monotonic()
    try:
        for i in range(CYCLES + WARMUP):
            if i == WARMUP:
                before = (m.heap_used(), m.open_fds())
                t0 = time.monotonic()
            m.check("AT#OTCP=1", WAITING)
            peer, _ = server.accept()
            peer.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            moved += _talk(m, peer, i)
            _end_session(m, peer, i)
    finally:
        server.close()
    check_flat(m, "OTCP/close", before, moved, time.monotonic() - t0)
    m.check_alive()


@pytest.mark.timeout(60)
def test_peer_accepted_while_a_command_line_runs(rmodem):
    """The allowed peer arrives while command mode is still busy with a line (blocked writing
    a long answer the device does not read yet), and that input still holds an AT#OTCP for
    profile 2. Either outcome is sound: the OTCP is refused (37123) and the peer gets its
    session, or the OTCP opens and the peer is closed; never both sessions, never a crash."""
    m = rmodem
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(4)
    server.settimeout(5)
    p = free_port()
    try:
        m.configure(server.getsockname()[1], serv="127.0.0.1", dlemode=1, profile=2, txdelay=0)
        m.listen(p, serv="127.0.0.1", txdelay=0)
        fds_listening = m.open_fds()
        # AT#VALL and 118 repeats (A/) overflow the pty while the test does not read: command
        # mode blocks writing, mid-input, with AT#OTCP=2 still to come (one 254-byte read).
        m.send(b"AT#VALL\r" + b"A/" * 118 + b"AT#OTCP=2\r")
        time.sleep(0.5)
        peer = connect(p)
        time.sleep(0.3)
        out = m.read_for(3.0)
        tail = out.split(OK)[-1]
        figures = report(
            "peer accepted during a command line",
            vall_answers=out.count(b"mtip-esp32-V"),
            oks=out.count(OK),
            tail=tail,
        )
        m.check_alive()  # no traceback
        if tail == cme(37123) + WAITING:  # the listener's peer won
            peer.sendall(b"hi")
            m.expect_exact(b"hi")
            m.send(b"\x03")
            m.expect_exact(CLOSED + OK)
            assert recv_until_eof(peer) == b""
        elif tail == WAITING:  # the OTCP won: the listener's peer must have been let go
            other, _ = server.accept()
            assert expect_closed_by_modem(peer, timeout=3) in ("eof", "reset"), figures
            m.send(b"\x03")
            m.expect_exact(CLOSED + OK)
            other.close()
        else:
            pytest.fail("unexpected answers: " + figures)
        peer.close()
        m.check("AT", OK)
        assert m.open_fds() == fds_listening - 1, figures  # the listening socket is gone too
        m.check_alive()
    finally:
        server.close()
