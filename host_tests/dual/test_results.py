"""Result codes and framing (firmware/results.py): ATV1/ATV0, ATQ1, #CME/+CME ERROR.

Dual-runtime: runs under pytest on CPython and unchanged on the MicroPython VM.
"""

import results
from results import Formatter


def fmt(verbose=True, quiet=False):
    f = Formatter()
    f.verbose = verbose
    f.quiet = quiet
    return f


def test_defaults_are_verbose_not_quiet():
    f = Formatter()
    assert f.verbose is True
    assert f.quiet is False


def test_verbose_result_framing():
    f = fmt()
    assert f.result("OK") == b"\r\nOK\r\n"
    assert f.result("ERROR") == b"\r\nERROR\r\n"
    assert f.result("NO CARRIER") == b"\r\nNO CARRIER\r\n"
    assert f.result("Ok_Info_WaitingForData") == b"\r\nOk_Info_WaitingForData\r\n"
    assert f.result("Ok_Info_SocketClosed") == b"\r\nOk_Info_SocketClosed\r\n"
    assert f.result("Ok_Info_GprsActivation") == b"\r\nOk_Info_GprsActivation\r\n"


def test_exact_case_of_constants():
    # clients compare case-sensitively (spec §3); the manual's OK_Info_ spelling is wrong
    assert results.OK == "OK"
    assert results.ERROR == "ERROR"
    assert results.NO_CARRIER == "NO CARRIER"
    assert results.WAITING_FOR_DATA == "Ok_Info_WaitingForData"
    assert results.SOCKET_CLOSED == "Ok_Info_SocketClosed"
    assert results.GPRS_ACTIVATION == "Ok_Info_GprsActivation"


def test_numeric_codes():
    f = fmt(verbose=False)
    want = {
        "OK": b"0\r",
        "CONNECT": b"1\r",
        "RING": b"2\r",
        "NO CARRIER": b"3\r",
        "ERROR": b"4\r",
        "NO DIALTONE": b"6\r",
        "BUSY": b"7\r",
        "NO ANSWER": b"8\r",
        "Ok_Info_DataBegin": b"1025\r",
        "Ok_Info_WaitingForData": b"1028\r",
        "Ok_Info_NoMail": b"3072\r",
        "Ok_Info_Mail": b"3073\r",
        "Ok_Info_SocketClosed": b"3074\r",
        "Ok_Info_PPP": b"3077\r",
        "Ok_Info_GprsActivation": b"3086\r",
    }
    for name, code in want.items():
        assert f.result(name) == code, name
    assert len(results.CODES) == len(want)


def test_verbose_info_framing():
    f = fmt()
    assert f.info("+CSQ: 25,99") == b"\r\n+CSQ: 25,99\r\n"
    assert f.info(['#MY IP: "1.2.3.4"', '#PEER IP: "0.0.0.0"']) == (
        b'\r\n#MY IP: "1.2.3.4"\r\n#PEER IP: "0.0.0.0"\r\n'
    )
    assert f.info(["a", "", "b"]) == b"\r\na\r\n\r\nb\r\n"  # AT#VALL block separators


def test_numeric_info_framing():
    f = fmt(verbose=False)
    assert f.info("+CSQ: 25,99") == b"+CSQ: 25,99\r\n"
    assert f.info(["a", "b"]) == b"a\r\nb\r\n"


def test_empty_info_writes_nothing():
    assert fmt().info([]) == b""
    assert fmt(verbose=False).info([]) == b""


def test_quiet_suppresses_results_not_info():
    for verbose in (True, False):
        f = fmt(verbose=verbose, quiet=True)
        assert f.result("OK") == b""
        assert f.result("ERROR") == b""
        assert f.result("Ok_Info_WaitingForData") == b""
        assert f.error(34817) == b""
        assert f.error(3, "+CME ERROR: ") == b""
    assert fmt(quiet=True).info("MULTIBAND") == b"\r\nMULTIBAND\r\n"
    assert fmt(verbose=False, quiet=True).info("MULTIBAND") == b"MULTIBAND\r\n"


def test_hash_cme_error_framing():
    assert fmt().error(34817) == b"\r\n#CME ERROR: 34817\r\n"
    assert fmt().error(37123) == b"\r\n#CME ERROR: 37123\r\n"
    assert fmt(verbose=False).error(34819) == b"#CME ERROR: 34819\r\n"


def test_plus_cme_error_framing():
    assert fmt().error(3, "+CME ERROR: ") == b"\r\n+CME ERROR: 3\r\n"
    assert fmt(verbose=False).error(4, "+CME ERROR: ") == b"+CME ERROR: 4\r\n"


def test_result_outputs_are_bytes():
    f = fmt()
    for out in (f.result("OK"), f.info("x"), f.error(1)):
        assert isinstance(out, bytes)
