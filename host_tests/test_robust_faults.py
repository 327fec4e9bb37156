"""Robustness: faults injected in the board's network object (boards/unix/faults.py wraps the
host board's HostNet) while the firmware runs on the MicroPython VM (issue 5, section 2).

Each fault ends with the documented message (docs/compatibility.md, "Sessions") and a working
modem afterwards: a fresh AT#OTCP carries data both ways.

* link lost during a session: `ETX` + `#CME ERROR: 35841` (DLEMODE 1), the bare error in DLEMODE 0,
  within the engine's link check (1 s); the peer sees the connection closed.
* link lost while listening (decided here, the dialect says nothing): the listener survives the
  outage without a word on the serial line, as the ESP32's WiFi driver re-joins by itself
  (AT#VSTATE shows DIALING meanwhile); once the link is back the allowed peer gets
  `Ok_Info_WaitingForData`.
* connect timeouts: a peer that never answers the SYN (a loopback listener whose accept queue is
  full) gives `#CME ERROR: 38016` after the 8 s connect timeout; a board whose connect() hangs
  and ignores its timeout must give the same answer in the same time (the engine's own bound).
* send / receive errors on the session socket: `ETX` + `#CME ERROR: 37966`.
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
    server_fixture,  # noqa: F401 - the `server` fixture
)
from test_robust_common import report

ETX = b"\x03"
CHECK_S = 1.0  # the engine checks the link once a second (modem._CHECK_MS)
CONNECT_TIMEOUT_S = 8.0  # modem._CONNECT_TIMEOUT_MS


def open_session(m, server, dlemode=1):
    m.configure(server.port, serv="127.0.0.1", dlemode=dlemode, txdelay=0)
    m.check("AT#OTCP=1", WAITING)
    peer, _ = server.accept()
    peer.sendall(b"hello")
    m.expect_exact(b"hello")
    m.send(b"world")
    assert recv_exact(peer, 5, watch=m) == b"world"
    return peer


def fresh_otcp_works(m, server):
    """After a fault: a new session carries data both ways and closes normally."""
    peer = open_session(m, server, dlemode=1)
    m.send(ETX)
    m.expect_exact(CLOSED + OK)
    assert recv_until_eof(peer) == b""
    peer.close()
    m.check("AT", OK)
    m.check_alive()


def wait_result(m, expected, timeout):
    """Seconds until `expected` (exactly, nothing before it) arrives on the serial line."""
    t0 = time.monotonic()
    m.expect_exact(expected, timeout=timeout)
    return time.monotonic() - t0


@pytest.mark.parametrize("dlemode", [1, 0])
@pytest.mark.timeout(60)
def test_link_lost_during_session(rmodem, server, dlemode):
    m = rmodem
    peer = open_session(m, server, dlemode)
    heap_before, fds_before = m.heap_used(), m.open_fds()
    m.ctl("link down")
    expected = (ETX if dlemode else b"") + cme(35841)
    seconds = wait_result(m, expected, timeout=CHECK_S + 3)
    assert recv_until_eof(peer) == b""  # the modem closed the connection
    peer.close()
    m.expect_silence(0.3)  # no OK after it
    m.check("AT#VSTATE", b'\r\n#STATE: "DIALING"\r\n' + OK)
    m.check("AT#OTCP=1", cme(35867))  # no bearer while the link is down
    m.ctl("link up")
    m.check("AT#VSTATE", b'\r\n#STATE: "CONNECTED"\r\n' + OK)
    fresh_otcp_works(m, server)
    heap_after, fds_after = m.heap_used(), m.open_fds()
    figures = report(
        "link lost in a session",
        dlemode=dlemode,
        seconds_to_message=round(seconds, 2),
        heap_before=heap_before,
        heap_after=heap_after,
        fds_before=fds_before,
        fds_after=fds_after,
    )
    assert seconds <= CHECK_S + 1.5, figures
    assert fds_after == fds_before - 1, figures  # the session socket then, none now


@pytest.mark.timeout(60)
def test_link_lost_while_listening(rmodem, server):
    m = rmodem
    p = free_port()
    m.listen(p, serv="127.0.0.1", txdelay=0)
    m.ctl("link down")
    m.expect_silence(2.5 * CHECK_S)  # the listener's own checks ran: no message
    m.check("AT#VSTATE", b'\r\n#STATE: "DIALING"\r\n' + OK)
    m.check("AT#TCPPORT=1,%d" % p, cme(37123))  # still listening: settings are locked
    m.ctl("link up")
    m.expect_silence(1.5 * CHECK_S)  # the listener notices the link is back (re-arms)
    assert p in listening_ports()
    peer = connect(p)
    m.expect_exact(WAITING, timeout=3)
    peer.sendall(b"back")
    m.expect_exact(b"back")
    m.send(b"again")
    assert recv_exact(peer, 5, watch=m) == b"again"
    m.send(ETX)
    m.expect_exact(CLOSED + OK)
    assert recv_until_eof(peer) == b""
    peer.close()
    log = [line for line in m.vlog() if "listen" in line]
    report("link lost while listening", outcome="kept listening, peer accepted", log=log)
    fresh_otcp_works(m, server)


@pytest.mark.timeout(60)
def test_connect_timeout_unanswered_syn(rmodem, server):
    """A loopback listener with listen(0) whose one queue slot is taken drops further SYNs:
    the board's real non-blocking connect waits, and gives up at the engine's 8 s."""
    m = rmodem
    hole = socket.socket()
    hole.bind(("127.0.0.1", 0))
    hole.listen(0)
    filler = socket.create_connection(hole.getsockname(), timeout=2)
    try:
        m.configure(hole.getsockname()[1], serv="127.0.0.1", dlemode=1, txdelay=0)
        m.send(b"AT#OTCP=1\r")
        seconds = wait_result(m, cme(38016), timeout=CONNECT_TIMEOUT_S + 4)
    finally:
        filler.close()
        hole.close()
    figures = report("connect timeout (unanswered SYN)", seconds=round(seconds, 2))
    assert CONNECT_TIMEOUT_S - 0.5 <= seconds <= CONNECT_TIMEOUT_S + 1.5, figures
    fresh_otcp_works(m, server)


@pytest.mark.timeout(60)
def test_connect_hang_in_board(rmodem, server):
    """The board's connect() never returns by itself: the engine must still answer 38016
    within its 8 s connect timeout, and stay usable."""
    m = rmodem
    m.configure(server.port, serv="127.0.0.1", dlemode=1, txdelay=0)
    m.ctl("connect hang")
    m.send(b"AT#OTCP=1\r")
    t0 = time.monotonic()
    got = m.read_for(CONNECT_TIMEOUT_S + 1.5, until=cme(38016))
    seconds = time.monotonic() - t0
    answered = cme(38016) in got
    m.ctl("connect ok")  # release a hung connect (it then fails with ETIMEDOUT)
    late = b"" if answered else m.read_for(2, until=cme(38016))
    figures = report(
        "connect hang in the board",
        answered_in_time=answered,
        seconds=round(seconds, 2),
        output=got,
        after_release=late,
        hung=m.ctl("stats"),
    )
    assert answered and got == cme(38016), "no answer within the connect timeout: " + figures
    assert seconds <= CONNECT_TIMEOUT_S + 1.5, figures
    fresh_otcp_works(m, server)


@pytest.mark.parametrize("origin", ["otcp", "listen"])
@pytest.mark.parametrize("fault", ["send", "recv"])
@pytest.mark.timeout(60)
def test_socket_error_during_session(rmodem, server, fault, origin):
    m = rmodem
    if origin == "otcp":
        peer = open_session(m, server, dlemode=1)
    else:
        p = free_port()
        m.listen(p, serv="127.0.0.1", txdelay=0)
        peer = connect(p)
        m.expect_exact(WAITING)
    m.ctl("%s fail" % fault)
    try:
        if fault == "send":
            m.send(b"doomed")  # device -> peer: the socket's send raises
        else:
            peer.sendall(b"doomed")  # peer -> device: the socket's receive raises
        seconds = wait_result(m, ETX + cme(37966), timeout=3)
    finally:
        m.ctl("%s ok" % fault)
    # Closed by the modem without data: a FIN, or a reset when the peer's bytes were unread.
    how = expect_closed_by_modem(peer)
    peer.close()
    m.expect_silence(0.3)
    stats = m.ctl("stats")
    report(
        "%s error" % fault,
        origin=origin,
        seconds_to_message=round(seconds, 2),
        peer_saw=how,
        stats=stats,
    )
    assert "injected=0" not in stats
    fresh_otcp_works(m, server)


def test_fault_inside_a_command_is_answered_and_survived(rmodem):
    """A bug-like fault inside a command (the board's state() raising) must not stop the modem:
    that line gets ERROR, the fault is logged, and the next commands work."""
    m = rmodem
    m.ctl("state fail")
    m.check("AT#VSTATE", b"\r\nERROR\r\n")
    m.ctl("state ok")
    m.check("AT#VSTATE", b'\r\n#STATE: "CONNECTED"\r\n\r\nOK\r\n')
    assert b"command fault: RuntimeError" in m.cmd("AT#VLOG")
    m.check_alive()
