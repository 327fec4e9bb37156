"""End to end, listening mode (S000333D Appendix B): the firmware on the MicroPython VM behind a
pty, driven with pyserial, its peers real sockets on 127.0.0.0/8.  Byte-exact, verbose, echo off.
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
    free_port,
    fresh_modem,  # noqa: F401 - fixture
    listening_ports,
    modem,  # noqa: F401 - fixture
    recv_exact,
    recv_until_eof,
    refused_or_closed,
    reset,
    wait_listening,
    wait_not_listening,
)


def test_socket_commands_need_the_ip_link(fresh_modem):  # noqa: F811
    m = fresh_modem
    m.configure(free_port())
    m.check("AT#LTCPSTART=1", cme(35867))
    m.check("AT#LTCPSTART", cme(35867))
    m.check("AT#OTCP=1", cme(35867))
    m.check("AT#OTCP", cme(35867))
    m.check("AT#CONNECTIONSTART", b"\r\n127.0.0.1\r\n\r\nOk_Info_GprsActivation\r\n")
    m.check("AT#CONNECTIONSTART", cme(35840))


def test_connectionstart_reports_the_configured_host_address(tmp_path):
    from harness import EmulatedModem

    m = EmulatedModem(tmp_path, ip="127.0.0.5")
    try:
        m.check("AT#CONNECTIONSTART", b"\r\n127.0.0.5\r\n\r\nOk_Info_GprsActivation\r\n")
    finally:
        m.close()


def test_settings_both_syntaxes_and_reads(fresh_modem):  # noqa: F811
    m = fresh_modem
    m.check("AT#TCPPORT=1,5000", OK)
    m.check("AT#TCPPORT=1", b"\r\n#TCPPORT: 1,5000\r\n" + OK)
    m.check("AT#TCPPORT=5001", OK)  # legacy: profile 1
    m.check("AT#TCPPORT=1", b"\r\n#TCPPORT: 1,5001\r\n" + OK)
    m.check('AT#TCPSERV=1,"127.0.0.1"', OK)
    m.check("AT#TCPSERV=1", b'\r\n#TCPSERV: 1,"127.0.0.1"\r\n' + OK)
    m.check('AT#TCPSERV="127.0.0.2"', OK)  # legacy
    m.check("AT#TCPSERV=1", b'\r\n#TCPSERV: 1,"127.0.0.2"\r\n' + OK)
    m.check("AT#DLEMODE=1,0", OK)
    m.check("AT#DLEMODE=1", b"\r\n#DLEMODE: 1,0\r\n" + OK)
    m.check("AT#TCPPORT=2,23", OK)  # profile 2 is separate
    m.check("AT#TCPPORT=1", b"\r\n#TCPPORT: 1,5001\r\n" + OK)
    m.check("AT#TCPPORT=2", b"\r\n#TCPPORT: 2,23\r\n" + OK)


@pytest.mark.parametrize("syntax", ["indexed", "legacy"])
def test_seed_page_scenario(modem, syntax):  # noqa: F811
    """Appendix B: TCPPORT/TCPSERV, LTCPSTART -> OK, a peer connects -> Ok_Info_WaitingForData,
    data both ways, remote close -> ETX + Ok_Info_SocketClosed; device ETX -> Ok_Info_SocketClosed
    + OK; each time a new LTCPSTART works."""
    m = modem
    p = free_port()
    if syntax == "indexed":
        m.check("AT#TCPPORT=1,%d" % p, OK)
        m.check('AT#TCPSERV=1,"127.0.0.1"', OK)
        m.check("AT#DLEMODE=1,1", OK)
        start = "AT#LTCPSTART=1"
    else:
        m.check("AT#TCPPORT=%d" % p, OK)
        m.check('AT#TCPSERV="127.0.0.1"', OK)
        start = "AT#LTCPSTART"

    # 1. the remote closes
    m.check(start, OK)
    wait_listening(p)
    peer = connect(p)
    m.expect_exact(WAITING)
    wait_not_listening(p)  # the port no longer listens once the session is open
    m.send(b"hello peer\r\n")
    assert recv_exact(peer, 12) == b"hello peer\r\n"
    peer.sendall(b"hello device")
    m.expect_exact(b"hello device")  # not echoed anywhere, delivered as is
    peer.shutdown(socket.SHUT_WR)
    m.expect_exact(b"\x03" + CLOSED)
    assert recv_until_eof(peer) == b""  # the modem closed its side too
    peer.close()
    m.expect_silence(0.2)  # no OK after a remote close
    m.check("AT", OK)

    # 2. the device closes with ETX
    m.check(start, OK)
    wait_listening(p)
    peer = connect(p)
    m.expect_exact(WAITING)
    peer.sendall(b"ping")
    m.expect_exact(b"ping")
    m.send(b"pong")
    assert recv_exact(peer, 4) == b"pong"
    m.send(b"\x03")
    m.expect_exact(CLOSED + OK)
    assert recv_until_eof(peer) == b""
    peer.close()
    m.expect_silence(0.2)
    m.check("AT", OK)
    wait_not_listening(p)


@pytest.mark.parametrize("stop", ["AT#LTCPSTOP=1", "AT#LTCPSTOP"])
def test_ltcpstop_closes_the_port(modem, stop):  # noqa: F811
    m = modem
    p = free_port()
    m.listen(p)
    m.check("AT", OK)  # the interpreter stays live while listening
    m.check(stop, OK)
    wait_not_listening(p)
    with pytest.raises(ConnectionRefusedError):
        connect(p)
    m.expect_silence(0.2)
    m.listen(p)  # and listening can start again
    peer = connect(p)
    m.expect_exact(WAITING)
    m.close_session_from_device()
    assert recv_until_eof(peer) == b""


@pytest.mark.parametrize("listening, other", [(1, 2), (2, 1)])
def test_ltcpstop_of_the_other_profile_leaves_this_listener(modem, listening, other):  # noqa: F811
    """AT#LTCPSTOP=<id> stops only the listener of the profile it names (issue 12, item 4)."""
    m = modem
    p = free_port()
    m.configure(p, profile=listening)
    m.configure(free_port(), profile=other)
    m.check("AT#LTCPSTART=%d" % listening, OK)
    wait_listening(p)
    m.check("AT#LTCPSTOP=%d" % other, OK)  # nothing of that profile listens: OK, nothing stops
    if listening == 2:
        m.check("AT#LTCPSTOP", OK)  # no id is profile 1
    time.sleep(0.2)
    assert p in listening_ports()
    m.check("AT#TCPPORT=%d,%d" % (listening, p + 1), cme(37123))  # still locked by the listener
    peer = connect(p)
    m.expect_exact(WAITING)
    peer.sendall(b"still here")
    m.expect_exact(b"still here")
    m.close_session_from_device()
    assert recv_until_eof(peer) == b""


def test_etx_aborts_listening(modem):  # noqa: F811
    m = modem
    p = free_port()
    m.listen(p)
    m.send(b"\x03")
    m.expect_exact(OK)
    wait_not_listening(p)
    with pytest.raises(ConnectionRefusedError):
        connect(p)
    m.check("AT", OK)


def test_busy_while_listening(modem):  # noqa: F811
    m = modem
    p = free_port()
    m.listen(p)
    m.check("AT#TCPPORT=1,%d" % free_port(), cme(37123))
    m.check('AT#TCPSERV=1,"127.0.0.9"', cme(37123))
    m.check("AT#DLEMODE=1,0", cme(37123))
    m.check("AT#OTCP=1", cme(37123))
    m.check("AT#OTCP", cme(37123))
    m.check("AT#LTCPSTART=1", cme(37123))
    m.check("AT#TCPPORT=1", b"\r\n#TCPPORT: 1,%d\r\n" % p + OK)  # reading is fine
    m.check("AT#LTCPSTOP=1", OK)
    m.check("AT#DLEMODE=1,0", OK)  # settable again


def test_filter_refuses_a_foreign_peer(modem):  # noqa: F811
    m = modem
    p = free_port()
    m.listen(p, serv="127.0.0.1")
    for _ in range(2):
        assert refused_or_closed(p, source="127.0.0.2") in ("eof", "reset")
    m.expect_silence(0.3)  # nothing reported for a refused peer
    wait_listening(p)  # still listening
    peer = connect(p, source="127.0.0.1")
    m.expect_exact(WAITING)
    peer.sendall(b"allowed")
    m.expect_exact(b"allowed")
    m.close_session_from_device()
    assert recv_until_eof(peer) == b""


def test_filter_by_the_configured_address(modem):  # noqa: F811
    m = modem
    p = free_port()
    m.listen(p, serv="127.0.0.2")
    assert refused_or_closed(p, source="127.0.0.1") in ("eof", "reset")
    peer = connect(p, source="127.0.0.2")
    m.expect_exact(WAITING)
    m.send(b"x")
    assert recv_exact(peer, 1) == b"x"
    m.close_session_from_device()


def test_filter_255_lets_anyone_in(modem):  # noqa: F811
    m = modem
    p = free_port()
    for source in ("127.0.0.2", "127.0.0.1", "127.0.0.3"):
        m.listen(p, serv="255.255.255.255")
        peer = connect(p, source=source)
        m.expect_exact(WAITING)
        peer.sendall(source.encode())
        m.expect_exact(source.encode())
        m.close_session_from_device()
        assert recv_until_eof(peer) == b""
        peer.close()


def test_second_caller_is_refused_and_the_session_goes_on(modem):  # noqa: F811
    m = modem
    p = free_port()
    m.listen(p, serv="255.255.255.255", txdelay=0)
    first = connect(p)
    m.expect_exact(WAITING)
    for source in ("127.0.0.1", "127.0.0.2"):
        assert refused_or_closed(p, source=source) in ("refused", "eof", "reset")
    m.expect_silence(0.2)
    first.sendall(b"still here")
    m.expect_exact(b"still here")
    m.send(b"me too")
    assert recv_exact(first, 6) == b"me too"
    first.shutdown(socket.SHUT_WR)
    m.expect_exact(b"\x03" + CLOSED)


@pytest.mark.parametrize("dlemode", [1, 0])
def test_peer_reset(modem, dlemode):  # noqa: F811
    m = modem
    p = free_port()
    m.listen(p, dlemode=dlemode)
    peer = connect(p)
    m.expect_exact(WAITING)
    peer.sendall(b"before reset")
    m.expect_exact(b"before reset")
    reset(peer)
    m.expect_exact((b"\x03" if dlemode else b"") + cme(37966))
    m.expect_silence(0.2)
    m.check("AT", OK)


def test_dlemode_1_escaping_both_ways(modem):  # noqa: F811
    m = modem
    p = free_port()
    m.listen(p, dlemode=1, txdelay=0)
    peer = connect(p)
    m.expect_exact(WAITING)
    # device -> peer: DLE DLE -> DLE, DLE ETX -> ETX, DLE + other -> other (DLE dropped)
    m.send(b"a\x10\x10b\x10\x03c\x10xd")
    assert recv_exact(peer, 7) == b"a\x10b\x03cxd"
    # peer -> device: every DLE and ETX gets a DLE in front
    peer.sendall(b"\x10\x03z\x03\x03\x10\x10")
    m.expect_exact(b"\x10\x10\x10\x03z\x10\x03\x10\x03\x10\x10\x10\x10")
    # an escape split across two writes
    m.send(b"\x10")
    time.sleep(0.05)
    m.send(b"\x03\x10")
    time.sleep(0.05)
    m.send(b"\x10")
    assert recv_exact(peer, 2) == b"\x03\x10"
    m.close_session_from_device()
    assert recv_until_eof(peer) == b""


def test_dlemode_0_is_transparent(modem):  # noqa: F811
    m = modem
    p = free_port()
    m.listen(p, dlemode=0, txdelay=0)
    peer = connect(p)
    m.expect_exact(WAITING)
    data = bytes(range(256)) + b"\x03\x03\x10\x03"
    m.send(data)  # ETX does not close in DLEMODE 0
    assert recv_exact(peer, len(data)) == data
    peer.sendall(data)
    m.expect_exact(data)
    peer.shutdown(socket.SHUT_WR)
    m.expect_exact(CLOSED)  # no ETX in front in DLEMODE 0
    assert recv_until_eof(peer) == b""
    m.expect_silence(0.2)
    m.check("AT", OK)


@pytest.mark.parametrize("tail,extra", [(b"\x03AT\r", OK), (b"\x03\x03\x03AT\r", OK)])
def test_bytes_after_the_closing_etx_are_at_input(modem, tail, extra):  # noqa: F811
    m = modem
    p = free_port()
    m.listen(p, dlemode=1)
    peer = connect(p)
    m.expect_exact(WAITING)
    m.send(b"last words" + tail)  # one write: payload, close, (ignored ETX,) a command
    assert recv_until_eof(peer) == b"last words"  # everything before the ETX, then FIN
    m.expect_exact(CLOSED + OK + extra)
    m.expect_silence(0.2)


def test_stray_etx_in_command_mode_is_ignored(modem):  # noqa: F811
    m = modem
    m.send(b"\x03\x03\x03")
    m.expect_silence(0.3)
    m.check("AT", OK)
    m.send(b"\x03\x03\x03AT\r")  # never prefixed to the next line
    m.expect_exact(OK)
