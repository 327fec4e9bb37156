"""Golden transcripts: whole byte streams in, whole byte streams out, up to the point where a
socket is needed. Sources: the manual's example sessions (spec §2.1 read formats, §5, §6,
Appendix B "Setting a TCP Port to a Listening Mode" of S000333D p77) and the start-up of the
OpenDMTP GPRS client (spec §12; uincore/opendmtp src/custom/transport/gprs.c writes
"AT" + command + CR and matches whole reply lines).

Each transcript is checked three ways: step by step, as one burst, and one byte at a time.
Dual-runtime: runs under pytest on CPython and unchanged on the MicroPython VM.
"""

from fakes import Driver, TempDir

ETX3 = b"\x03\x03\x03"
OK = b"\r\nOK\r\n"


def echo(line):
    return line.encode() + b"\r"


def run_steps(steps, setup=None):
    """Feed each step's input, check its output exactly; return the driver's fake modem."""
    with TempDir() as d:
        drv = Driver(d.path)
        if setup is not None:
            setup(drv)
        for k in range(len(steps)):
            inp, want = steps[k]
            got = drv.send(inp)
            assert got == want, "step %d %r:\n got %r\nwant %r" % (k, inp, got, want)
        return drv


def run_whole(steps, setup=None, bytewise=False):
    data = b"".join(s[0] for s in steps)
    want = b"".join(s[1] for s in steps)
    with TempDir() as d:
        drv = Driver(d.path)
        if setup is not None:
            setup(drv)
        got = drv.send_bytewise(data) if bytewise else drv.send(data)
        assert got == want, "\n got %r\nwant %r" % (got, want)
        return drv


def check_all_ways(steps, setup=None):
    a = run_steps(steps, setup)
    b = run_whole(steps, setup)
    c = run_whole(steps, setup, bytewise=True)
    for drv in (b, c):
        assert drv.modem.names() == a.modem.names()
    return a


def client_lines(out):
    """What a line-matching client sees (spec §12): CR ends a line, LF ignored, blanks skipped."""
    lines = []
    for part in out.replace(b"\n", b"").split(b"\r"):
        part = part.strip()
        if part:
            lines.append(part)
    return lines


# --- the manual: Appendix B, listening mode (S000333D p77) -----------------------------------

LISTEN_SETUP = [
    # TCP client address: dotted decimal, 255.255.255.255 = anyone
    (echo('AT#TCPSERV=1,"255.255.255.255"'), echo('AT#TCPSERV=1,"255.255.255.255"') + OK),
    # TCP server port, quoted as in the manual's examples
    (echo('AT#TCPPORT=1,"23"'), echo('AT#TCPPORT=1,"23"') + OK),
    (echo("AT#DLEMODE=1,1"), echo("AT#DLEMODE=1,1") + OK),
    (
        echo("AT#VTCP=1"),
        echo("AT#VTCP=1")
        + b'\r\n#TCPSERV: 1,"255.255.255.255"\r\n#TCPPORT: 1,23\r\n#DLEMODE: 1,1\r\n'
        + b"#TCPTXDELAY: 1,100\r\n#TCPINACTIVITYTIMER: 1,0\r\n"
        + OK,
    ),
    (
        echo("AT#CONNECTIONSTART"),
        echo("AT#CONNECTIONSTART") + b"\r\n10.0.0.7\r\n\r\nOk_Info_GprsActivation\r\n",
    ),
    # Launching the listening TCP session: OK at once (spec §6)
    (echo("AT#LTCPSTART=1"), echo("AT#LTCPSTART=1") + OK),
    # while listening the AT parser stays active; parameters cannot be changed
    (echo("AT#TCPPORT=1,24"), echo("AT#TCPPORT=1,24") + b"\r\n#CME ERROR: 37123\r\n"),
    (echo("AT#TCPPORT=1"), echo("AT#TCPPORT=1") + b"\r\n#TCPPORT: 1,23\r\n" + OK),
    # Closing from the local host: AT#LTCPSTOP, then OK
    (echo("AT#LTCPSTOP=1"), echo("AT#LTCPSTOP=1") + OK),
    (echo("AT#TCPPORT=1,24"), echo("AT#TCPPORT=1,24") + OK),
]


def test_appendix_b_listening_mode():
    drv = check_all_ways(LISTEN_SETUP)
    calls = drv.modem.calls
    assert ("listen", 1) in calls
    assert ("stop_listening", 1) in calls
    assert calls.index(("listen", 1)) < calls.index(("stop_listening", 1))
    assert drv.settings.get("TCPSERV", 1) == "255.255.255.255"
    assert drv.settings.get("TCPPORT", 1) == 24


LISTEN_FILTERED = [
    (b"ATE0\r", b"ATE0\r" + OK),
    (b'AT#TCPSERV=2,"192.168.1.10"\r', OK),
    (b"AT#TCPPORT=2,5000\r", OK),
    (b"AT#CONNECTIONSTART\r", b"\r\n10.0.0.7\r\n\r\nOk_Info_GprsActivation\r\n"),
    (b"AT#LTCPSTART=2\r", OK),
    (b"AT#LTCPSTOP=2\r", OK),  # the manual's own example: AT#LTCPSTOP=2 -> OK
]


def test_listening_with_a_client_filter_on_profile_2():
    drv = check_all_ways(LISTEN_FILTERED)
    assert ("listen", 2) in drv.modem.calls
    assert ("stop_listening", 2) in drv.modem.calls


# --- the manual: a TCP client session up to AT#OTCP (spec §2.1, §5, §6) -----------------------

CLIENT_INDEXED = [
    (b'AT#TCPSERV=1,"192.168.1.10"\r', b'AT#TCPSERV=1,"192.168.1.10"\r' + OK),
    (b'AT#TCPPORT=1,"23"\r', b'AT#TCPPORT=1,"23"\r' + OK),
    (b"ATE0\r", b"ATE0\r" + OK),
    # spec §2.1 read formats, byte-exact
    (b"AT#TCPPORT=1\r", b"\r\n#TCPPORT: 1,23\r\n\r\nOK\r\n"),
    (b"AT#TCPSERV=1\r", b'\r\n#TCPSERV: 1,"192.168.1.10"\r\n\r\nOK\r\n'),
    (
        b"AT#TCPSERV?\r",
        b'\r\n#TCPSERV: 1,"192.168.1.10"\r\n#TCPSERV: 2,""\r\n\r\nOK\r\n',
    ),
    # no IP link yet: AT#OTCP and AT#DISPLAYIP fail with 35867
    (b"AT#OTCP=1\r", b"\r\n#CME ERROR: 35867\r\n"),
    (b"AT#DISPLAYIP\r", b"\r\n#CME ERROR: 35867\r\n"),
    (b"AT#VSTATE\r", b'\r\n#STATE: "IDLE"\r\n\r\nOK\r\n'),
    (b"AT#CONNECTIONSTART\r", b"\r\n10.0.0.7\r\n\r\nOk_Info_GprsActivation\r\n"),
    (b"AT#CONNECTIONSTART\r", b"\r\n#CME ERROR: 35840\r\n"),
    (
        b"AT#DISPLAYIP\r",
        b'\r\n#MY IP: "10.0.0.7"\r\n#PEER IP: "0.0.0.0"\r\n#GATEWAY IP: "10.0.0.1"\r\n\r\nOK\r\n',
    ),
    (b"AT#VSTATE\r", b'\r\n#STATE: "CONNECTED"\r\n\r\nOK\r\n'),
    # success is only Ok_Info_WaitingForData, no OK before it; then data mode
    (b"AT#OTCP=1\r", b"\r\nOk_Info_WaitingForData\r\n"),
]


def test_client_session_indexed():
    drv = check_all_ways(CLIENT_INDEXED)
    assert drv.modem.session == 1
    assert drv.modem.names().count("open_tcp") == 2


def test_bytes_after_otcp_are_not_commands():
    steps = CLIENT_INDEXED[:-1] + [
        (b"AT#OTCP=1\rATH\r\x10\x03", b"\r\nOk_Info_WaitingForData\r\n")
    ]
    drv = run_whole(steps)
    assert drv.rest == b"ATH\r\x10\x03"


CONNECTION_STOP = [
    (b"ATE0\r", b"ATE0\r" + OK),
    (b"AT#CONNECTIONSTOP\r", b"\r\n#CME ERROR: 35866\r\n"),
    (b"AT#CONNECTIONSTART\r", b"\r\n10.0.0.7\r\n\r\nOk_Info_GprsActivation\r\n"),
    (b"AT#CONNECTIONSTOP\r", OK),
    (b"AT#VSTATE\r", b'\r\n#STATE: "IDLE"\r\n\r\nOK\r\n'),
]


def test_connection_start_stop():
    check_all_ways(CONNECTION_STOP)


NUMERIC = [
    (b"ATE0V0\r", b"ATE0V0\r0\r"),
    (b"AT\r", b"0\r"),
    (b"ATX9\r", b"4\r"),
    (b"AT+GMM\r", b"MULTIBAND  G850  1900\r\n0\r"),
    (b"AT#FOO\r", b"#CME ERROR: 34817\r\n"),
    (b"AT#CONNECTIONSTART\r", b"10.0.0.7\r\n3086\r"),
    (b"AT#OTCP\r", b"1028\r"),
]


def test_numeric_session():
    check_all_ways(NUMERIC)


# --- OpenDMTP start-up (spec §12) ------------------------------------------------------------


def opendmtp_startup(apn_user, apn_pass):
    return [
        # reset of a possibly open session: ETX x3, no reply in command mode
        (ETX3, b""),
        (b"AT#CONNECTIONSTOP\r", b"AT#CONNECTIONSTOP\r\r\n#CME ERROR: 35866\r\n"),
        (b"ATZE0\r", b"ATZE0\r" + OK),
        (b"AT+CMEE=1\r", OK),
        (b"AT+GMM\r", b"\r\nMULTIBAND  G850  1900\r\n" + OK),
        (b"AT+WOPEN=1\r", OK),
        (b"AT+CSQ\r", b"\r\n+CSQ: 25,99\r\n" + OK),
        (b"AT+CGREG?\r", b"\r\n+CGREG: 0,1\r\n" + OK),
        (b"AT+CCED=0,1\r", OK),
        (b'AT+CGDCONT=1,"IP","internet.com"\r', OK),
        (b"AT+CGATT=1\r", OK),
        (b"AT#GPRSMODE=1\r", OK),
        (b'AT#APNSERV=""\r', OK),
        (b'AT#APNUN="' + apn_user + b'"\r', OK),
        (b'AT#APNPW="' + apn_pass + b'"\r', OK),
        (b'AT#DNSSERV1="0.0.0.0"\r', OK),
        (b'AT#DNSSERV2="0.0.0.0"\r', OK),
        (b"AT#CONNECTIONSTART\r", b"\r\n10.0.0.7\r\n\r\nOk_Info_GprsActivation\r\n"),
        (
            b"AT#DISPLAYIP\r",
            b'\r\n#MY IP: "10.0.0.7"\r\n#PEER IP: "0.0.0.0"\r\n#GATEWAY IP: "10.0.0.1"\r\n' + OK,
        ),
        (b"AT#VDNS\r", b'\r\n#DNSSERV1: "0.0.0.0"\r\n#DNSSERV2: "0.0.0.0"\r\n' + OK),
        # legacy un-indexed TCP parameters, then AT#OTCP without an id
        (b'AT#TCPSERV="dmtp.example.com"\r', OK),
        (b"AT#TCPPORT=31000\r", OK),
        (b"AT#OTCP\r", b"\r\nOk_Info_WaitingForData\r\n"),
    ]


def test_opendmtp_startup():
    drv = check_all_ways(opendmtp_startup(b"wapuser1", b"wap"))
    assert drv.modem.session == 1
    s = drv.settings
    assert s.get("TCPSERV", 1) == "dmtp.example.com"
    assert s.get("TCPPORT", 1) == 31000
    assert s.get("APNUN") == "wapuser1"


def test_opendmtp_startup_lines_as_the_client_reads_them():
    steps = opendmtp_startup(b"", b"")
    with TempDir() as d:
        drv = Driver(d.path)
        for inp, _want in steps:
            out = drv.send(inp)
            lines = client_lines(out)
            if inp == ETX3:
                assert lines == []
                continue
            if inp.startswith(b"ATZE0"):
                lines = lines[1:]  # the echo of the line that turns echo off
            cmd = inp[:-1]
            if cmd == b"AT+CSQ":
                assert lines[0].startswith(b"+CSQ: ")
                n = int(lines[0][6:].split(b",")[0])
                assert 2 <= n <= 31  # OpenDMTP rejects 0, 1 and 99
            elif cmd == b"AT+CGREG?":
                assert lines[0] == b"+CGREG: 0,1"  # two fields; "+CGREG: 1" counts as unregistered
            elif cmd == b"AT+GMM":
                assert lines[0] == b"MULTIBAND  G850  1900"
            elif cmd == b"AT#CONNECTIONSTART":
                assert lines == [b"10.0.0.7", b"Ok_Info_GprsActivation"]
            elif cmd == b"AT#OTCP":
                assert lines == [b"Ok_Info_WaitingForData"]  # the exact line
            elif cmd == b"AT#CONNECTIONSTOP":
                assert lines[-1] == b"#CME ERROR: 35866"
            else:
                assert lines[-1] == b"OK", (cmd, lines)


def test_etx_never_prefixed_to_the_next_line():
    steps = [(ETX3 + b"ATZE0\r", b"ATZE0\r" + OK), (ETX3, b""), (ETX3 + b"AT\r", OK)]
    check_all_ways(steps)


def test_opendmtp_reset_after_otcp_error():
    # OTCP fails -> ETX x3, CONNECTIONSTOP, ZE0, ..., +WOPEN=1 again (already running: OK)
    def failing(drv):
        drv.modem.open_error = 38016

    steps = [
        (b"ATZE0\r", b"ATZE0\r" + OK),
        (b"AT#CONNECTIONSTART\r", b"\r\n10.0.0.7\r\n\r\nOk_Info_GprsActivation\r\n"),
        (b'AT#TCPSERV="dmtp.example.com"\r', OK),
        (b"AT#TCPPORT=31000\r", OK),
        (b"AT#OTCP\r", b"\r\n#CME ERROR: 38016\r\n"),
        (ETX3, b""),
        (b"AT#CONNECTIONSTOP\r", OK),
        (b"ATZE0\r", OK),
        (b"AT+CMEE=1\r", OK),
        (b"AT+WOPEN=1\r", OK),
        (b"AT+WOPEN=1\r", OK),
        (b"AT#GPRSMODE=1\r", OK),
        (b"AT#CONNECTIONSTART\r", b"\r\n10.0.0.7\r\n\r\nOk_Info_GprsActivation\r\n"),
    ]
    drv = check_all_ways(steps, failing)
    assert drv.modem.session is None


def test_opendmtp_power_on_reset_after_35865():
    def not_attached(drv):
        drv.modem.up_error = 35865

    steps = [
        (b"ATZE0\r", b"ATZE0\r" + OK),
        (b"AT#CONNECTIONSTART\r", b"\r\n#CME ERROR: 35865\r\n"),
        (b"AT+CFUN=1\r", OK),
        (b"ATZE0\r", OK),
    ]
    drv = check_all_ways(steps, not_attached)
    names = drv.modem.names()
    assert names.count("soft_reset") == 1
    assert names[names.index("soft_reset") - 1] == "out"  # after the OK went out


# --- other real clients (spec §9) ------------------------------------------------------------

LEGACY_LOWER_CASE = [
    # C7/C10: lower case, un-indexed, bare host
    (b'at#tcpserv="10.1.2.3"\r', b'at#tcpserv="10.1.2.3"\r' + OK),
    (b"at#tcpport=5002\r", b"at#tcpport=5002\r" + OK),
    (
        b"at#vtcp=1\r",
        b"at#vtcp=1\r"
        + b'\r\n#TCPSERV: 1,"10.1.2.3"\r\n#TCPPORT: 1,5002\r\n'
        + b"#DLEMODE: 1,1\r\n#TCPTXDELAY: 1,100\r\n#TCPINACTIVITYTIMER: 1,0\r\n"
        + OK,
    ),
    (b"at#otcp\r", b"at#otcp\r\r\n#CME ERROR: 35867\r\n"),
]


def test_legacy_lower_case_client():
    check_all_ways(LEGACY_LOWER_CASE)


CRLF_CLIENT = [
    # C6: CRLF terminators, un-indexed TCPPORT/TCPTXDELAY/DLEMODE
    (b"ATE0\r\n", b"ATE0\r" + OK),
    (b"AT#TCPPORT=5002\r\n", OK),
    (b"AT#TCPTXDELAY=40\r\n", OK),
    (b"AT#DLEMODE=0\r\n", OK),
    (b"AT#DLEMODE=1\r\n", b"\r\n#DLEMODE: 1,0\r\n" + OK),
    (b"AT#TCPTXDELAY=1\r\n", b"\r\n#TCPTXDELAY: 1,40\r\n" + OK),
]


def test_crlf_client():
    check_all_ways(CRLF_CLIENT)


INDEXED_QUOTED = [
    # C8: quoted port, indexed TXDELAY, and C2 (Multi-Tech's mbed driver) DLEMODE=1,1
    (b"ATE0\r", b"ATE0\r" + OK),
    (b'at#tcpport=1,"5002"\r', OK),
    (b"at#tcptxdelay=1,500\r", OK),
    (b"AT#DLEMODE=1,1\r", OK),
    (b'AT#TCPSERV=1,"srv.example.net"\r', OK),
    (b"AT#OUTPORT?\r", b"\r\n#OUTPORT: 37500\r\n" + OK),
    (b'AT#APNSERV="apn.example"\r', OK),
    (b"AT#RESET=0\r", OK),
]


def test_indexed_quoted_clients():
    drv = check_all_ways(INDEXED_QUOTED)
    assert drv.settings.get("TCPPORT", 1) == 5002
    assert drv.settings.get("TCPTXDELAY", 1) == 500
    assert drv.modem.names().count("soft_reset") == 1


STRICT_FRAMING = [
    # C9: ATV1/ATE0, +WOPEN, GPRSMODE, quoted APN; it matches exactly "\r\nOK\r\n"
    (b"ATV1\r", b"ATV1\r" + OK),
    (b"ATE0\r", b"ATE0\r" + OK),
    (b"AT+WOPEN=1\r", OK),
    (b"AT#GPRSMODE=1\r", OK),
    (b'AT#APNSERV="internet"\r', OK),
    (b"AT#CONNECTIONSTART\r", b"\r\n10.0.0.7\r\n\r\nOk_Info_GprsActivation\r\n"),
    (b"AT#CONNECTIONSTOP\r", OK),
]


def test_strict_framing_client():
    check_all_ways(STRICT_FRAMING)


EDITING_AND_REPEAT = [
    # a person at a terminal: typo corrected with backspace, A/ to repeat
    (b"AT+CSX\x08Q\r", b"AT+CSX\x08 \x08Q\r\r\n+CSQ: 25,99\r\n" + OK),
    (b"A/", b"A/\r\n+CSQ: 25,99\r\n" + OK),
    (b"AT" + b"X" * 300 + b"\r", b"AT" + b"X" * 256 + b"\r\n#CME ERROR: 34881\r\n"),
    (b"A/", b"A/\r\n+CSQ: 25,99\r\n" + OK),
]


def test_terminal_editing_and_repeat():
    check_all_ways(EDITING_AND_REPEAT)
