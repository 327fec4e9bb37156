"""End to end: persistence across restarts, two modems at once, session life cycles, a real
legacy client (Debian's `chat`), and the launcher tools/modem.py itself."""

import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from harness import (
    BOOT,
    CLOSED,
    IS_CI,
    LAUNCHER,
    OK,
    WAITING,
    EmulatedModem,
    Thread,
    cme,
    connect,
    free_port,
    modem,  # noqa: F401 - fixture
    recv_exact,
    recv_until_eof,
    reset,
    wait_listening,
)


def test_settings_survive_a_restart(tmp_path):
    m = EmulatedModem(tmp_path)
    try:
        p = free_port()
        m.check("AT#TCPPORT=1,%d" % p, OK)
        m.check('AT#TCPSERV=1,"127.0.0.2"', OK)
        m.check("AT#DLEMODE=1,0", OK)
        m.check("AT#TCPTXDELAY=1,0", OK)
        m.restart()
        m.check("AT#TCPPORT=1", b"\r\n#TCPPORT: 1,%d\r\n" % p + OK)
        m.check("AT#TCPSERV=1", b'\r\n#TCPSERV: 1,"127.0.0.2"\r\n' + OK)
        m.check("AT#DLEMODE=1", b"\r\n#DLEMODE: 1,0\r\n" + OK)
        m.check("AT#TCPTXDELAY=1", b"\r\n#TCPTXDELAY: 1,0\r\n" + OK)
        # and they are the ones in force: listen on p, only 127.0.0.2, transparent
        m.connection_start()
        m.check("AT#LTCPSTART=1", OK)
        wait_listening(p)
        peer = connect(p, source="127.0.0.2")
        m.expect_exact(WAITING)
        peer.sendall(b"\x03\x10")
        m.expect_exact(b"\x03\x10")
        peer.close()
        m.expect_exact(CLOSED)
    finally:
        m.close()


def test_soft_reset_at_cfun(tmp_path):
    """AT+CFUN=1: OK, then the boot URC; echo is back on (ATE0 was not saved), settings kept."""
    m = EmulatedModem(tmp_path)
    try:
        m.check("AT#TCPPORT=1,4321", OK)
        m.send(b"AT+CFUN=1\r")
        m.expect_exact(OK + BOOT, timeout=10)
        m.send(b"AT#TCPPORT=1\r")
        m.expect_exact(b"AT#TCPPORT=1\r\r\n#TCPPORT: 1,4321\r\n" + OK)
    finally:
        m.close()


def test_two_modems_work_independently(tmp_path):
    a = EmulatedModem(tmp_path, name="a")
    b = EmulatedModem(tmp_path, name="b", ip="127.0.0.7")
    try:
        assert a.path != b.path
        a.connection_start()
        b.connection_start()
        pa, pb = free_port(), free_port()
        a.listen(pa, txdelay=0)
        b.listen(pb, txdelay=0)
        peer_a = connect(pa)
        a.expect_exact(WAITING)
        b.expect_silence(0.2)  # b is still just listening
        peer_b = connect(pb)
        b.expect_exact(WAITING)
        peer_a.sendall(b"to a")
        peer_b.sendall(b"to b")
        a.expect_exact(b"to a")
        b.expect_exact(b"to b")
        a.send(b"from a")
        b.send(b"from b")
        assert recv_exact(peer_a, 6) == b"from a"
        assert recv_exact(peer_b, 6) == b"from b"
        a.close_session_from_device()
        assert recv_until_eof(peer_a) == b""
        b.expect_silence(0.2)
        peer_b.sendall(b"b goes on")  # b's session is untouched by a's end
        b.expect_exact(b"b goes on")
        peer_b.shutdown(socket.SHUT_WR)
        b.expect_exact(b"\x03" + CLOSED)
        # their settings are separate too
        a.check("AT#TCPPORT=1", b"\r\n#TCPPORT: 1,%d\r\n" % pa + OK)
        b.check("AT#TCPPORT=1", b"\r\n#TCPPORT: 1,%d\r\n" % pb + OK)
    finally:
        a.close()
        b.close()


def test_a_new_session_after_every_kind_of_end(modem):  # noqa: F811
    m = modem
    lsock = socket.socket()
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(4)
    lsock.settimeout(5)
    sport = lsock.getsockname()[1]
    lport = free_port()
    try:
        for mode in ("listen", "client"):
            for end in ("peer_fin", "device_etx", "peer_rst", "peer_fin"):
                if mode == "listen":
                    m.listen(lport, txdelay=0)
                    peer = connect(lport)
                    m.expect_exact(WAITING)
                else:
                    m.configure(sport, txdelay=0)
                    m.check("AT#OTCP=1", WAITING)
                    peer, _ = lsock.accept()
                peer.sendall(end.encode())
                m.expect_exact(end.encode())
                m.send(mode.encode())
                assert recv_exact(peer, len(mode)) == mode.encode()
                if end == "peer_fin":
                    peer.shutdown(socket.SHUT_WR)
                    m.expect_exact(b"\x03" + CLOSED)
                    peer.close()
                elif end == "device_etx":
                    m.close_session_from_device()
                    assert recv_until_eof(peer) == b""
                    peer.close()
                else:
                    reset(peer)
                    m.expect_exact(b"\x03" + cme(37966))
                m.check("AT", OK)
    finally:
        lsock.close()


def chat_binary():
    path = shutil.which("chat") or (
        "/usr/sbin/chat" if os.access("/usr/sbin/chat", os.X_OK) else None
    )
    if path is None:
        if IS_CI:
            pytest.fail("Debian's `chat` (package ppp) is missing in CI")
        pytest.skip("`chat` (Debian package ppp) is not installed")
    return path


def test_chat_as_a_legacy_client(tmp_path):
    """Debian's chat(8) runs the Appendix B scenario on the pty, like a 2005-era script would."""
    chat = chat_binary()
    m = EmulatedModem(tmp_path, open_serial=False)  # chat gets the port to itself (echo on)
    p = free_port()
    # fmt: off
    script = [
        "ABORT", "ERROR",
        "", "AT",
        "OK", "AT#DLEMODE=1,1",
        "OK", "AT#TCPPORT=1,%d" % p,
        "OK", 'AT#TCPSERV=1,"127.0.0.1"',
        "OK", "AT#CONNECTIONSTART",
        "Ok_Info_GprsActivation", "AT#LTCPSTART=1",
        "OK", "\\c",
        "Ok_Info_WaitingForData", "hello from chat\\c",
        "hello from peer", "^C\\c",
        "Ok_Info_SocketClosed", "\\c",
        "OK",
    ]
    # fmt: on

    def peer():
        wait_listening(p, timeout=15)
        s = connect(p)
        got = recv_exact(s, len(b"hello from chat"), timeout=10)
        s.sendall(b"hello from peer")
        rest = recv_until_eof(s, timeout=10)
        s.close()
        return got, rest

    t = Thread(peer)
    t.start()
    fd = os.open(m.path, os.O_RDWR | os.O_NOCTTY)
    try:
        proc = subprocess.run(
            [chat, "-s", "-v", "-t", "5"] + script,
            stdin=fd,
            stdout=fd,
            stderr=subprocess.PIPE,
            timeout=60,
        )
    finally:
        os.close(fd)
    try:
        log = proc.stderr.decode("utf-8", "replace")
        assert proc.returncode == 0, "chat exited %d\n%s\n%s" % (proc.returncode, log, m.info())
        got, rest = t.join(20)
        assert got == b"hello from chat"
        assert rest == b""
    finally:
        m.close()


def test_launcher_link_and_stop(tmp_path):
    link = str(tmp_path / "ttyMODEM")
    os.symlink("/nonexistent/stale", link)  # a stale link is replaced
    m = EmulatedModem(tmp_path, link=link)
    try:
        assert os.readlink(link) == m.path
        assert os.path.realpath(link) == os.path.realpath(m.path)
        m.check("AT", OK)
        assert os.path.isdir(m.state)  # the state directory was created
    finally:
        m.close()
    assert m.proc.returncode is not None
    assert not os.path.lexists(link), "the link outlived the launcher"


def test_launcher_without_micropython(tmp_path):
    proc = subprocess.run(
        [
            sys.executable,
            LAUNCHER,
            "--state",
            str(tmp_path / "s"),
            "--micropython",
            "/nonexistent/mpy",
        ],
        capture_output=True,
        timeout=30,
    )
    assert proc.returncode != 0
    assert b"MicroPython unix port not found" in proc.stderr
    assert b"serial:" not in proc.stdout


def test_launcher_serial_line_comes_when_ready(tmp_path):
    """`serial: <path>` is the first line, and the port answers at once when it appears."""
    proc = subprocess.Popen(
        [sys.executable, LAUNCHER, "--state", str(tmp_path / "s")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        line = proc.stdout.readline()
        assert line.startswith(b"serial: /dev/pts/"), line
        path = line.split(b" ", 1)[1].strip().decode()
        fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            os.write(fd, b"AT\r")
            deadline = time.monotonic() + 5
            buf = b""
            while not buf.endswith(OK) and time.monotonic() < deadline:
                try:
                    buf += os.read(fd, 100)
                except BlockingIOError:
                    time.sleep(0.01)
            assert buf == BOOT + b"AT\r" + OK, buf  # the boot URC, then echo (on at boot)
        finally:
            os.close(fd)
    finally:
        proc.terminate()
        proc.wait(10)


def test_every_command_group_in_a_small_heap(tmp_path):
    """In a heap where interpreter.py must forget its command groups after each line (free
    heap below 24 KiB), every kind of command still loads its group and answers right, line
    after line, with sessions in between; the VM never reports a MemoryError."""
    from databuf import CHUNK

    # 112k: what the firmware's code, the VM and the buffers leave free there drops below 24 KiB
    # as soon as a group is loaded (about 11 KiB are free then: checked with a probe)
    m = EmulatedModem(tmp_path, heap="112k", mpy=True, chunk=CHUNK)
    try:
        m.connection_start()
        p = free_port()
        m.check('AT#TCPSERV=1,"127.0.0.1"', OK)  # the caller allowed to connect
        version = m.cmd("AT#VVERSION")
        assert version.startswith(b'\r\n#VERSION: "mtip-esp32_V') and version.endswith(OK)
        for i in range(20):
            m.check("ATS0=%d" % i, OK)  # cmd_basic
            m.check("ATS0?", b"\r\n%03d\r\n" % i + OK)
            m.check("AT+CPIN?", b"\r\n+CPIN: READY\r\n" + OK)  # cmd_plus
            m.check("AT#TCPPORT=1,%d" % p, OK)  # cmd_params
            m.check("AT#TCPPORT=1", b"\r\n#TCPPORT: 1,%d\r\n" % p + OK)
            m.check("AT#VVERSION", version)  # cmd_info
            m.check("AT#LTCPSTART=1", OK)  # cmd_session, then a session and back
            peer = connect(p)
            m.expect_exact(WAITING)
            peer.sendall(b"ping %d" % i)
            assert m.read_exact(len(b"ping %d" % i)) == b"ping %d" % i
            peer.close()
            m.expect_exact(b"\x03" + CLOSED)  # DLEMODE 1: an ETX ends the data first
        err = m.stderr()
        assert "MemoryError" not in err and "fault:" not in err, err[-2000:]
        m.check("AT", OK)
    finally:
        m.close()
