"""End to end: AT#FTPGET and AT#FTPPUT from the serial line of the emulated modem to a real FTP
server (pyftpdlib, host_tests/srv_ftp.py), byte for byte on both sides: the DLE escaping and
lone ETX of multitech-mail-ftp.md §4.2-4.4, TYPE A's bit 7, paths, anonymous login, 8 MiB each
way in a small heap, FTPS explicit and implicit (§8.4), the early bytes of §1.5, and every
failure of §5, each followed by a modem that still answers."""

import os
import shutil

import pytest
from harness import (
    OK,
    WAITING,
    EmulatedModem,
    chunks,
    cme,
    dle_escape,
    first_difference,
    free_port,
    modem,  # noqa: F401 - fixture
    payload,
)
from srv_tls import UNKNOWN_HOST, silent_port, wait_until
from test_robust_common import exchange

pytest_plugins = ["mailservers"]

DATA_BEGIN = b"\r\nOk_Info_DataBegin\r\n"
ETX = b"\x03"
KiB = 1 << 10
MiB = 1 << 20
ALL_BYTES = bytes(range(256))


def install_ca(m, pem_path):
    shutil.copy(pem_path, os.path.join(m.state, "ca.pem"))


def setup_ftp(m, server, get="", put="", user="bob", pw="secret", host="127.0.0.1", port=None):
    install_ca(m, server.ca_path)
    for line in (
        'AT#FTPSERV="%s"' % host,
        "AT#FTPPORT=%d" % (port or server.port),
        'AT#FTPUN="%s"' % user,
        'AT#FTPPW="%s"' % pw,
        'AT#FTPGETFILENAME="%s"' % get,
        'AT#FTPPUTFILENAME="%s"' % put,
    ):
        m.check(line, OK)


def unescape_to_etx(wire):
    """The payload of a DLE-escaped stream up to its lone ETX, and the bytes after it (a
    reference decoder, independent of firmware/dle.py)."""
    out = bytearray()
    i = 0
    while i < len(wire):
        c = wire[i]
        if c == 0x10 and i + 1 < len(wire):
            out.append(wire[i + 1])
            i += 2
        elif c == 0x03:
            return bytes(out), wire[i + 1 :]
        else:
            out.append(c)
            i += 1
    raise AssertionError("no lone ETX in %d bytes" % len(wire))


def ftpget(m, data, timeout=20):
    """AT#FTPGET of a file holding `data`: DataBegin, the escaped bytes, a lone ETX, OK."""
    m.send(b"AT#FTPGET\r")
    m.expect_exact(DATA_BEGIN, timeout=timeout)
    want = dle_escape(data) + ETX + OK
    got = m.read_exact(len(want), timeout=timeout)
    assert got == want, first_difference(got, want)


def ftpput(m, data, seed=1, timeout=20):
    """AT#FTPPUT of `data`: WaitingForData, the host's escaped bytes in random writes, its
    lone ETX echoed, then OK."""
    m.check("AT#FTPPUT", WAITING, timeout=timeout)
    for part in chunks(dle_escape(data) + ETX, seed):
        m.send(part)
    m.expect_exact(ETX + OK, timeout=timeout)


def stored(server, name):
    assert wait_until(lambda: server.received), "no upload ended on the server"
    return (server.root / name).read_bytes()


# --- binary and ASCII (§4.1-4.4) ---------------------------------------------------------------


def test_every_byte_value_both_ways_in_binary(modem, ftp_server):  # noqa: F811
    m = modem
    server = ftp_server()
    data = payload(96 * KiB, seed=10)  # every value, and long DLE / ETX runs
    setup_ftp(m, server, get="log.bin", put="log.bin")
    ftpput(m, data)
    assert stored(server, "log.bin") == data
    ftpget(m, data)
    m.send(ETX + b"AT\r")  # an ETX the host echoes back is dropped (§4.2)
    m.expect_exact(OK)
    cmds = server.commands
    assert cmds[:4] == ["USER bob", "PASS secret", "TYPE I", "EPSV"]
    assert "STOR log.bin" in cmds and "RETR log.bin" in cmds and "CWD" not in " ".join(cmds)
    assert cmds.count("QUIT") == 2  # one login per command


def test_put_dle_before_other_bytes_and_empty_files(modem, ftp_server):  # noqa: F811
    """DLE + any other byte is that byte (§4.3); the bytes after the lone ETX are commands;
    an empty file each way."""
    m = modem
    server = ftp_server()
    setup_ftp(m, server, put="odd.bin")
    m.check("AT#FTPPUT", WAITING, timeout=20)
    m.send(b"a\x10bc\x10\x10\x10\x03d" + ETX + b"AT\r")
    m.expect_exact(ETX + OK + OK, timeout=20)
    assert stored(server, "odd.bin") == b"abc\x10\x03d"
    server.received.clear()
    m.check('AT#FTPGETFILENAME="odd.bin"', OK)
    ftpput(m, b"")  # an empty file: the lone ETX at once
    assert stored(server, "odd.bin") == b""
    ftpget(m, b"")  # DataBegin, the lone ETX, OK


def test_ascii_type_clears_bit_7_on_upload_and_passes_downloads(modem, ftp_server):  # noqa: F811
    m = modem
    server = ftp_server()
    setup_ftp(m, server, get="in.txt", put="out.txt")
    m.check("AT#FTPTYPE=A", OK)
    sent = ALL_BYTES + b"one\r\ntwo\r\n" + ALL_BYTES[::-1] + b"end"
    ftpput(m, sent)
    seven_bit = bytes(b & 0x7F for b in sent)  # 0x83 and 0x90 become ETX and DLE: data
    # pyftpdlib stores a TYPE A upload as a Unix text file: its CR LF become LF
    assert stored(server, "out.txt") == seven_bit.replace(b"\r\n", b"\n")
    # a download: the server sends LF as CR LF; the modem passes every byte on, bit 7 too
    (server.root / "in.txt").write_bytes(b"a\nb\r\n" + ALL_BYTES)
    ftpget(m, b"a\r\nb\r\n" + ALL_BYTES.replace(b"\n", b"\r\n"))
    assert server.commands.count("TYPE A") == 2


def test_paths_change_directory(modem, ftp_server):  # noqa: F811
    m = modem
    server = ftp_server()
    (server.root / "logs" / "2026").mkdir(parents=True)
    (server.root / "conf").mkdir()
    (server.root / "conf" / "site.cfg").write_bytes(b"interval=60\r\n")
    setup_ftp(m, server, get="site.cfg", put="day1.log")
    m.check('AT#FTPGETPATH="/conf"', OK)
    m.check('AT#FTPPUTPATH="logs/2026"', OK)
    ftpget(m, b"interval=60\r\n")
    ftpput(m, b"reading 1\r\n")
    assert stored(server, "logs/2026/day1.log") == b"reading 1\r\n"
    assert "CWD /conf" in server.commands and "CWD logs/2026" in server.commands
    assert not (server.root / "day1.log").exists()


def test_anonymous_login(modem, ftp_server):  # noqa: F811
    m = modem
    server = ftp_server(users={}, anonymous="read")
    (server.root / "pub.txt").write_bytes(b"public\r\n")
    setup_ftp(m, server, get="pub.txt", put="x.txt", user="", pw="")
    ftpget(m, b"public\r\n")
    assert server.commands[0] == "USER anonymous" and server.commands[1].startswith("PASS ")
    m.check("AT#FTPPUT", cme(38016), timeout=20)  # read-only: STOR gets 550
    m.check("AT", OK)


# --- 8 MiB each way in a small heap ------------------------------------------------------------

# The firmware as .mpy with 1 KiB reads, as on the ESP32, on a heap that holds it and its FTP
# service with about 35 KB to spare: a buffered file, or any growth per chunk, dies with a
# MemoryError. The test passed down to 144k (136k: sometimes a MemoryError at a connect).
SMALL_HEAP = "160k"


def test_8_mib_put_and_get_no_byte_lost_heap_flat(tmp_path, ftp_server):
    server = ftp_server()
    data = payload(8 * MiB, seed=88)
    m = EmulatedModem(tmp_path, heap=SMALL_HEAP, mpy=True, chunk=1024)
    try:
        m.connection_start()
        setup_ftp(m, server, get="big.bin", put="big.bin")
        m.check("AT#FTPPUT", WAITING, timeout=20)
        assert exchange(m, dle_escape(data) + ETX, ETX + OK, timeout=120) == ETX + OK
        on_server = stored(server, "big.bin")
        assert on_server == data, first_difference(on_server, data)
        ftpget(m, data, timeout=120)
        m.check("AT", OK)
        m.check_alive()
    finally:
        m.close()


# --- FTPS (§8.4) -------------------------------------------------------------------------------


@pytest.mark.parametrize("mode, ftptls", [("explicit", 2), ("implicit", 3)])
def test_ftps_verified_data_channel_protected(modem, ftp_server, mode, ftptls):  # noqa: F811
    m = modem
    server = ftp_server(tls=mode, tls_control_required=True, tls_data_required=True)
    data = payload(64 * KiB, seed=ftptls)
    setup_ftp(m, server, get="s.bin", put="s.bin", host="localhost")
    m.check("AT#FTPTLS=%d" % ftptls, OK)
    ftpput(m, data)
    assert stored(server, "s.bin") == data
    ftpget(m, data)
    assert server.tls_logins == 2
    assert server.commands.count("PROT P") == 2
    assert ("AUTH TLS" in server.commands) == (mode == "explicit")


@pytest.mark.parametrize("cert", ["untrusted", "wrong_host"])
def test_a_certificate_that_does_not_verify(modem, ftp_server, cert):  # noqa: F811
    m = modem
    server = ftp_server(tls="explicit", cert=cert)
    (server.root / "f.txt").write_bytes(b"unverified\r\n")
    setup_ftp(m, server, get="f.txt", host="localhost")
    m.check("AT#FTPTLS=2", OK)
    m.check("AT#FTPGET", cme(38016), timeout=20)
    assert b"TLS handshake failed" in m.cmd("AT#VLOG")
    assert "USER bob" not in server.commands  # nothing in clear
    m.check("AT#TLSVERIFY=0", OK)  # a private server: the check can be turned off
    ftpget(m, b"unverified\r\n")


# --- the early bytes of §1.5 -------------------------------------------------------------------


def test_bytes_right_behind_the_ftpput_line_start_the_file(modem, ftp_server):  # noqa: F811
    m = modem
    server = ftp_server()
    setup_ftp(m, server, put="early.bin")
    head, tail = ALL_BYTES * 8, payload(32 * KiB, seed=15)
    m.send(b"AT#FTPPUT\r" + dle_escape(head))  # before Ok_Info_WaitingForData
    m.expect_exact(WAITING, timeout=20)
    m.send(dle_escape(tail) + ETX)
    m.expect_exact(ETX + OK, timeout=20)
    assert stored(server, "early.bin") == head + tail


def test_early_bytes_after_a_failure_are_command_input(modem, ftp_server):  # noqa: F811
    m = modem
    server = ftp_server(refuse_stor=True)
    setup_ftp(m, server, put="no.bin")
    m.send(b"AT#FTPPUT\rAT\r")
    m.expect_exact(cme(38016) + OK, timeout=20)


# --- failures of §5 ----------------------------------------------------------------------------


def test_failures_before_data_mode(modem, ftp_server, refused_port):  # noqa: F811
    m = modem
    server = ftp_server(refuse_stor=True)
    (server.root / "here.txt").write_bytes(b"here\r\n")
    setup_ftp(m, server, get="missing.txt", put="x.txt")
    m.check("AT#FTPGET", cme(38016), timeout=20)  # 550: no Ok_Info_DataBegin
    m.check("AT#FTPPUT", cme(38016), timeout=20)  # STOR refused (553)
    m.check('AT#FTPPW="wrong-pw-42"', OK)
    m.check("AT#FTPGET", cme(38016), timeout=20)  # 530
    log = m.cmd("AT#VLOG")
    assert b"PASS" in log and b"wrong-pw-42" not in log, log  # never the password,
    assert "wrong-pw-42" not in m.stderr()  # nor on the console
    m.check('AT#FTPPW="secret"', OK)
    m.check('AT#FTPSERV="%s"' % UNKNOWN_HOST, OK)
    m.check("AT#FTPGET", cme(38027), timeout=20)
    m.check('AT#FTPSERV="127.0.0.1"', OK)
    m.check("AT#FTPPORT=%d" % refused_port, OK)
    m.check("AT#FTPPUT", cme(38016), timeout=20)
    m.check("AT#FTPGET=1", cme(34819))
    m.check('AT#FTPGETFILENAME=""', OK)
    m.check("AT#FTPGET", cme(34882))  # nothing to fetch: answered without connecting
    assert server.received == []
    m.check("AT#FTPPORT=%d" % server.port, OK)
    m.check('AT#FTPGETFILENAME="here.txt"', OK)
    ftpget(m, b"here\r\n")  # and the next command works


@pytest.mark.parametrize("drop_control", [False, True])
def test_server_drops_the_download(modem, ftp_server, drop_control):  # noqa: F811
    """The data connection closes after 64 KiB of 1 MiB (426, or the control connection
    gone too): the lone ETX ends data mode, then #CME ERROR: 37966 (§4.2)."""
    m = modem
    server = ftp_server(drop_after=64 * KiB, drop_control=drop_control)
    data = payload(MiB, seed=4)
    (server.root / "big.bin").write_bytes(data)
    setup_ftp(m, server, get="big.bin")
    m.send(b"AT#FTPGET\r")
    m.expect_exact(DATA_BEGIN, timeout=20)
    wire = m.read_until(ETX + cme(37966), timeout=20)
    got, rest = unescape_to_etx(wire)
    assert rest == cme(37966)
    assert 64 * KiB <= len(got) < len(data) and data.startswith(got)
    m.expect_silence(0.2)
    m.check("AT", OK)


@pytest.mark.parametrize("drop_control", [False, True])
def test_server_drops_the_upload(modem, ftp_server, drop_control):  # noqa: F811
    """The server closes after 64 KiB: #CME ERROR: 37966 with no ETX before it (§4.3); the
    host's remaining bytes are dropped up to its lone ETX; what follows it is a command."""
    m = modem
    server = ftp_server(drop_after=64 * KiB, drop_control=drop_control)
    data = payload(MiB, seed=5)
    setup_ftp(m, server, put="cut.bin")
    m.check("AT#FTPPUT", WAITING, timeout=20)
    wire = dle_escape(data)
    half = len(wire) // 4
    m.send(wire[:half])  # no ETX yet (the modem reads on, dropping, after the failure)
    m.expect_exact(cme(37966), timeout=20)
    m.send(wire[half:] + ETX + b"AT\r")  # dropped up to the lone ETX; then AT
    m.expect_exact(OK, timeout=20)
    m.expect_silence(0.3)
    assert wait_until(lambda: server.received) and server.received[0][1] is False


def test_bearer_down_and_busy(tmp_path, ftp_server):
    server = ftp_server()
    m = EmulatedModem(tmp_path)
    try:
        setup_ftp(m, server, get="a", put="b")
        m.check("AT#FTPGET", cme(35867))
        m.check("AT#FTPPUT", cme(35867))
        m.connection_start()
        m.listen(free_port())
        m.check("AT#FTPPUT", cme(37123))
        m.check('AT#FTPSERV="x"', cme(37123))
        m.check("AT#LTCPSTOP=1", OK)
        ftpput(m, b"after\r\n")
    finally:
        m.close()


def test_a_silent_server(tmp_path):
    """A server that accepts and never greets (1 s here instead of 3 min): 37964."""
    with silent_port() as port:
        m = EmulatedModem(tmp_path, env={"MTIP_SERVER_SILENCE_MS": "1000"})
        try:
            m.connection_start()
            m.check('AT#FTPSERV="127.0.0.1"', OK)
            m.check("AT#FTPPORT=%d" % port, OK)
            m.check('AT#FTPPUTFILENAME="x"', OK)
            m.check("AT#FTPPUT", cme(37964), timeout=20)
            m.check("AT", OK)
        finally:
            m.close()
