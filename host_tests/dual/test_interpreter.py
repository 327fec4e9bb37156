"""The command interpreter (firmware/interpreter.py), driven through the line assembler like the
engine does, against a fake modem: every command of issue 2 §4, answered byte-exact.

Dual-runtime: runs under pytest on CPython and unchanged on the MicroPython VM.
"""

import ident
import settings as cfg
from fakes import ERROR, OK, Bench, Driver, TempDir, cme, info, new_settings, plus_cme

# --- helpers ---------------------------------------------------------------------------------


def hook_calls(modem, name):
    """The calls of `name` on the fake modem, each checked to come after the line's output."""
    found = []
    for k in range(len(modem.calls)):
        c = modem.calls[k]
        if c[0] == name:
            assert k > 0 and modem.calls[k - 1][0] == "out", repr(modem.calls)
            found.append(c)
    return found


# --- AT, ATE, ATV, ATQ -----------------------------------------------------------------------


def test_at_with_echo():
    with Bench(echo=True) as b:
        assert b.cmd("AT") == b"AT\r" + OK
        assert b.cmd("at") == b"at\r" + OK


def test_ate0_is_echoed_then_echo_stops():
    with Bench(echo=True) as b:
        assert b.cmd("ATE0") == b"ATE0\r" + OK
        assert b.cmd("AT") == OK
        assert b.cmd("ATE1") == OK
        assert b.cmd("AT") == b"AT\r" + OK
        assert b.drv.interp.echo is True


def test_ate_without_number_means_zero():
    with Bench(echo=True) as b:
        assert b.cmd("ATE") == b"ATE\r" + OK
        assert b.cmd("AT") == OK


def test_ate_out_of_range():
    with Bench() as b:
        assert b.cmd("ATE2") == ERROR
        assert b.cmd("ATV2") == ERROR
        assert b.cmd("ATQ2") == ERROR
        assert b.cmd("ATE1000") == ERROR


def test_atv0_numeric_results_and_info():
    with Bench() as b:
        assert b.cmd("ATV0") == b"0\r"
        assert b.cmd("AT") == b"0\r"
        assert b.cmd("ATE2") == b"4\r"
        assert b.cmd("AT+GMM") == b"MULTIBAND  G850  1900\r\n0\r"
        assert b.cmd("AT#FOO") == b"#CME ERROR: 34817\r\n"
        assert b.cmd("ATV1") == OK


def test_atq1_suppresses_results_not_info():
    with Bench() as b:
        assert b.cmd("ATQ1") == b""
        assert b.cmd("AT") == b""
        assert b.cmd("ATE2") == b""
        assert b.cmd("AT#FOO") == b""
        assert b.cmd("AT+GMM") == b"\r\nMULTIBAND  G850  1900\r\n"
        assert b.cmd("ATQ0") == OK


def test_chained_basic_line():
    with Bench(echo=True) as b:
        assert b.cmd("ATE0V1Q0") == b"ATE0V1Q0\r" + OK
        assert b.settings.profile["E"] == 0
        assert b.cmd("ATV0E1") == b"0\r"
        assert b.cmd("AT") == b"AT\r0\r"


def test_error_stops_the_rest_of_the_line():
    with Bench() as b:
        assert b.cmd("ATE1X9V0") == ERROR
        assert b.settings.profile["E"] == 1  # the commands before the error ran
        assert b.settings.profile["V"] == 1  # the ones after it did not
        assert b.cmd("AT#FOO;E0") == b"AT#FOO;E0\r" + cme(34817)
        assert b.settings.profile["E"] == 1


def test_parse_errors():
    with Bench() as b:
        assert b.cmd("ATE0*") == ERROR
        assert b.cmd("AT\xff".encode()) == ERROR
        assert b.cmd(b"AT\xff") == ERROR
        assert b.cmd('AT#TCPSERV="open') == cme(34819)
        assert b.cmd('AT#TCPSERV="a"b') == cme(34819)
        assert b.cmd(b'AT#TCPSERV="\xff"') == cme(34819)
        assert b.cmd("AT#") == cme(34819)


def test_unknown_commands():
    with Bench() as b:
        assert b.cmd("AT#FOO") == cme(34817)
        assert b.cmd("AT#FOO?") == cme(34817)
        assert b.cmd("AT+FOO") == ERROR
        assert b.cmd("ATY") == ERROR
        assert b.cmd("AT&Y") == ERROR
        assert b.cmd("ATS99?") == ERROR
        assert b.cmd("AT+CMEE=1") == OK
        assert b.cmd("AT+FOO") == plus_cme(4)
        assert b.cmd("ATY") == plus_cme(4)
        assert b.cmd("ATS99?") == plus_cme(3)
        assert b.cmd("AT#FOO") == cme(34817)


def test_too_long_line():
    with Bench() as b:
        line = b"AT#TCPSERV=" + b"x" * 400 + b"\r"
        assert b.drv.send(line) == cme(34881)
        assert b.cmd("AT") == OK


def test_too_long_line_with_echo_answers_at_overflow():
    with Bench(echo=True) as b:
        body = b"S" * 256
        out = b.drv.send(b"AT" + body + b"TAIL")
        assert out == b"AT" + body + cme(34881)
        assert b.drv.send(b"MORE\r") == b""
        assert b.cmd("AT") == b"AT\r" + OK


def test_empty_line_is_ok():
    with Bench() as b:
        assert b.drv.send(b"AT\r") == OK
        assert b.drv.send(b"AT   \r") == OK


# --- ATZ, AT&F, AT&W -------------------------------------------------------------------------


def test_atz_restores_saved_profile():
    with Bench(echo=True) as b:
        assert b.cmd("ATE0") == b"ATE0\r" + OK
        assert b.cmd("ATZ") == OK  # not saved: back to echo on
        assert b.cmd("AT") == b"AT\r" + OK
        assert b.cmd("ATZ1") == b"ATZ1\r" + ERROR


def test_atze0_chain():
    with Bench(echo=True) as b:
        assert b.cmd("ATZE0") == b"ATZE0\r" + OK
        assert b.cmd("AT") == OK
        assert b.settings.profile["E"] == 0


def test_at_and_w_saves_profile_for_atz_and_power_cycle():
    with Bench() as b:
        assert b.cmd("ATV0") == b"0\r"
        assert b.cmd("AT&W") == b"0\r"
        assert b.cmd("ATV1E1") == OK
        assert b.cmd("ATZ") == b"ATZ\r0\r"  # echoed (E1 when the line came), then V0, E0
        s = new_settings(b.dir.path)
        assert s.profile["V"] == 0
        assert s.profile["E"] == 0


def test_at_and_f_factory_defaults():
    with Bench() as b:
        assert b.cmd('AT#TCPSERV=1,"h"') == OK
        assert b.cmd("AT#OUTPORT=1234") == OK
        assert b.cmd("AT+CMEE=1") == OK
        assert b.cmd("AT&F") == OK
        assert b.settings.params == cfg.factory_params()
        assert b.settings.profile == cfg.factory_profile()
        assert new_settings(b.dir.path).params == cfg.factory_params()  # stored
        assert b.cmd("AT") == b"AT\r" + OK  # echo is on again


def test_at_and_f_refused_while_busy():
    with Bench() as b:
        assert b.cmd("AT#OUTPORT=1234") == OK
        b.modem.is_busy = True
        assert b.cmd("AT&F") == ERROR
        assert b.cmd("AT+CMEE=1") == OK
        assert b.cmd("AT&F") == plus_cme(3)
        assert b.settings.get("OUTPORT") == 1234


def test_storage_failure():
    with TempDir() as d:
        s = cfg.Settings(cfg.Store(d.path + "/gone"))
        drv = Driver(d.path, settings=s)
        drv.cmd("ATE0")
        assert drv.cmd("AT#TCPPORT=1,23") == cme(34824)
        assert s.get("TCPPORT", 1) == 0
        assert drv.cmd("AT&W") == ERROR
        assert drv.cmd("AT&F") == ERROR


# --- identification --------------------------------------------------------------------------


def test_ati():
    with Bench() as b:
        ident_lines = info(ident.IDENT)
        assert b.cmd("ATI") == ident_lines + OK
        assert b.cmd("ATI0") == ident_lines + OK
        assert b.cmd("ATI3") == info(ident.VERSION) + OK
        assert b.cmd("ATI1") == ERROR
        assert b.cmd("ATI10") == ERROR


def test_gmm_gmr():
    with Bench() as b:
        assert b.cmd("AT+GMM") == b"\r\nMULTIBAND  G850  1900\r\n" + OK
        assert b.cmd("AT+CGMM") == b"\r\nMULTIBAND  G850  1900\r\n" + OK
        assert b.cmd("AT+GMM=?") == OK
        assert b.cmd("AT+GMM?") == ERROR
        assert b.cmd("AT+GMR") == info(ident.VERSION) + OK
        assert b.cmd("AT+CGMR") == info(ident.VERSION) + OK


def test_vversion():
    with Bench() as b:
        out = b.cmd("AT#VVERSION")
        assert out == info(ident.VERSION_LINE) + OK
        assert out.startswith(b'\r\n#VERSION: "') and out.endswith(b'"\r\n' + OK)
        assert b.cmd("at#vversion") == out


# --- serial settings -------------------------------------------------------------------------


def test_ipr_read_test():
    with Bench() as b:
        assert b.cmd("AT+IPR?") == b"\r\n+IPR: 115200\r\n" + OK
        assert b.cmd("AT+IPR=?") == (
            b"\r\n+IPR: (0,2400,4800,9600,19200,38400,57600,115200),(300,600,1200)\r\n" + OK
        )
        assert hook_calls(b.modem, "apply_serial") == []


def test_ipr_set_applies_after_output():
    with Bench() as b:
        out = b.cmd("AT+IPR=9600")
        assert out == OK
        calls = hook_calls(b.modem, "apply_serial")
        assert calls == [("apply_serial", 9600, True, True)]
        k = b.modem.calls.index(("apply_serial", 9600, True, True))
        assert b.modem.calls[k - 1] == ("out", len(b.drv.output))  # the OK was already out
        assert b.cmd("AT+IPR?") == b"\r\n+IPR: 9600\r\n" + OK
        assert b.cmd("AT+IPR=0") == OK  # autobaud
        assert hook_calls(b.modem, "apply_serial")[-1] == ("apply_serial", 0, True, True)


def test_ipr_bad_values_change_nothing():
    with Bench() as b:
        for line in ("AT+IPR=1234", "AT+IPR=", "AT+IPR=abc", "AT+IPR=9600,1", "AT+IPR"):
            assert b.cmd(line) == ERROR, line
        assert hook_calls(b.modem, "apply_serial") == []
        assert b.settings.profile["IPR"] == 115200


def test_ifc():
    with Bench() as b:
        assert b.cmd("AT+IFC?") == b"\r\n+IFC: 2,2\r\n" + OK
        assert b.cmd("AT+IFC=?") == b"\r\n+IFC: (0,2),(0,2)\r\n" + OK
        assert b.cmd("AT+IFC=0,0") == OK
        assert hook_calls(b.modem, "apply_serial") == [("apply_serial", 115200, False, False)]
        assert b.cmd("AT+IFC?") == b"\r\n+IFC: 0,0\r\n" + OK
        assert b.cmd("AT+IFC=2") == OK
        assert b.cmd("AT+IFC?") == b"\r\n+IFC: 2,0\r\n" + OK
        assert hook_calls(b.modem, "apply_serial")[-1] == ("apply_serial", 115200, True, False)
        n = len(hook_calls(b.modem, "apply_serial"))
        for line in ("AT+IFC=1", "AT+IFC=2,3", "AT+IFC=2,2,2", "AT+IFC"):
            assert b.cmd(line) == ERROR, line
        assert len(hook_calls(b.modem, "apply_serial")) == n


def test_and_k():
    with Bench() as b:
        assert b.cmd("AT&K0") == OK
        assert b.cmd("AT+IFC?") == b"\r\n+IFC: 0,0\r\n" + OK
        assert b.cmd("AT&K3") == OK
        assert b.cmd("AT+IFC?") == b"\r\n+IFC: 2,2\r\n" + OK
        assert hook_calls(b.modem, "apply_serial") == [
            ("apply_serial", 115200, False, False),
            ("apply_serial", 115200, True, True),
        ]
        assert b.cmd("AT&K4") == ERROR  # XON/XOFF is not offered
        assert b.cmd("AT&K1") == ERROR
        assert len(hook_calls(b.modem, "apply_serial")) == 2


def test_serial_settings_saved_by_and_w():
    with Bench() as b:
        assert b.cmd("AT+IPR=57600;&K0;&W") == OK
        s = new_settings(b.dir.path)
        assert s.profile["IPR"] == 57600
        assert s.profile["IFC"] == [0, 0]
        assert hook_calls(b.modem, "apply_serial") == [("apply_serial", 57600, False, False)]


# --- +CMEE -----------------------------------------------------------------------------------


def test_cmee():
    with Bench() as b:
        assert b.cmd("AT+CMEE?") == b"\r\n+CMEE: 0\r\n" + OK
        assert b.cmd("AT+CMEE=?") == b"\r\n+CMEE: (0-2)\r\n" + OK
        assert b.cmd("ATE5") == ERROR
        assert b.cmd("AT+CMEE=1") == OK
        assert b.cmd("AT+CMEE?") == b"\r\n+CMEE: 1\r\n" + OK
        assert b.cmd("ATE5") == plus_cme(3)
        assert b.cmd("AT+CMEE=3") == plus_cme(3)
        assert b.cmd("AT+CMEE=2") == OK
        assert b.cmd("AT+CMEE=0") == OK
        assert b.cmd("ATE5") == ERROR


def test_hash_errors_ignore_cmee():
    with Bench() as b:
        for n in ("0", "1", "2"):
            assert b.cmd("AT+CMEE=" + n) == OK
            assert b.cmd("AT#FOO") == cme(34817)
            assert b.cmd("AT#TCPPORT=0") == cme(34882)


def test_cmee_non_ascii_digit_is_an_error_not_a_crash():
    with Bench() as b:
        assert b.cmd("AT+CMEE=\u00b2".encode()) == ERROR  # superscript two
        assert b.cmd("AT+CMEE=\u0661".encode()) == ERROR  # Arabic-Indic one
        assert b.cmd("AT#TCPPORT=\u0661\u0662".encode()) == cme(34882)


# --- +WOPEN, +CFUN and the registration probes -----------------------------------------------


def test_wopen():
    with Bench() as b:
        assert b.cmd("AT+WOPEN=1") == OK
        assert b.cmd("AT+WOPEN=1") == OK  # also when already running (spec §12)
        assert b.cmd("AT+WOPEN?") == b"\r\n+WOPEN: 1\r\n" + OK
        assert b.cmd("AT+WOPEN=?") == b"\r\n+WOPEN: (0-1)\r\n" + OK
        assert b.cmd("AT+WOPEN=0") == OK
        assert b.cmd("AT+WOPEN?") == b"\r\n+WOPEN: 0\r\n" + OK
        assert b.cmd("AT+WOPEN=2") == ERROR


def test_cfun():
    with Bench() as b:
        assert b.cmd("AT+CFUN?") == b"\r\n+CFUN: 1\r\n" + OK
        assert b.cmd("AT+CFUN=?") == b"\r\n+CFUN: (0,1)\r\n" + OK
        assert b.cmd("AT+CFUN=0") == OK
        assert hook_calls(b.modem, "soft_reset") == []
        assert b.cmd("AT+CFUN=1") == OK
        assert hook_calls(b.modem, "soft_reset") == [("soft_reset",)]
        assert b.modem.calls[-2] == ("out", len(b.drv.output))  # reset after the OK went out
        assert b.cmd("AT+CFUN=2") == ERROR
        assert b.cmd("AT+CFUN") == ERROR


def test_hash_reset():
    with Bench() as b:
        assert b.cmd("AT#RESET") == OK
        assert b.cmd("AT#RESET=0") == OK
        assert len(hook_calls(b.modem, "soft_reset")) == 2
        assert b.cmd("AT#RESET=2") == cme(34882)
        assert len(hook_calls(b.modem, "soft_reset")) == 2


def test_csq():
    with Bench() as b:
        assert b.cmd("AT+CSQ") == b"\r\n+CSQ: 25,99\r\n" + OK
        b.modem.csq = 2
        assert b.cmd("AT+CSQ") == b"\r\n+CSQ: 2,99\r\n" + OK
        assert b.cmd("AT+CSQ=?") == b"\r\n+CSQ: (0-31,99),(99)\r\n" + OK
        assert b.cmd("AT+CSQ?") == ERROR


def test_registration():
    with Bench() as b:
        assert b.cmd("AT+CGREG?") == b"\r\n+CGREG: 0,1\r\n" + OK
        assert b.cmd("AT+CREG?") == b"\r\n+CREG: 0,1\r\n" + OK
        b.modem.is_attached = False
        assert b.cmd("AT+CGREG?") == b"\r\n+CGREG: 0,2\r\n" + OK
        assert b.cmd("AT+CGREG=1") == OK
        b.modem.is_attached = True
        assert b.cmd("AT+CGREG?") == b"\r\n+CGREG: 1,1\r\n" + OK
        assert b.cmd("AT+CREG?") == b"\r\n+CREG: 0,1\r\n" + OK
        assert b.cmd("AT+CGREG=?") == b"\r\n+CGREG: (0-2)\r\n" + OK
        assert b.cmd("AT+CGREG=3") == ERROR


def test_legacy_gsm_commands_answer_ok():
    with Bench() as b:
        for line in (
            "AT+CGATT=1",
            "AT+CCED=0,1",
            'AT+CGDCONT=1,"IP","internet"',
            "AT+CSAS",
            "AT+CPIN?",
            "AT&C1",
            "AT&D2",
            "ATH",
            "ATH0",
            "ATL1",
            "ATM0",
            "ATX4",
        ):
            out = b.cmd(line)
            assert out.endswith(OK), line
        assert b.cmd("AT+CPIN?") == b"\r\n+CPIN: READY\r\n" + OK
        assert b.cmd("AT+CGATT?") == b"\r\n+CGATT: 1\r\n" + OK
        assert b.cmd("AT+COPS?") == b'\r\n+COPS: 0,0,"WIFI"\r\n' + OK


def test_dial_and_online_give_no_carrier():
    with Bench() as b:
        assert b.cmd("ATD*99***1#") == b"\r\nNO CARRIER\r\n"
        assert b.cmd("ATO") == b"\r\nNO CARRIER\r\n"
        assert b.cmd("ATV0") == b"0\r"
        assert b.cmd("ATD123") == b"3\r"
        assert b.cmd("ATA") == b"4\r"


def test_s_registers():
    with Bench() as b:
        assert b.cmd("ATS0?") == b"\r\n000\r\n" + OK
        assert b.cmd("ATS3?") == b"\r\n013\r\n" + OK
        assert b.cmd("ATS0=2") == OK
        assert b.cmd("ATS0?") == b"\r\n002\r\n" + OK
        assert b.cmd("ATS0=256") == ERROR
        assert b.cmd("ATS0=") == ERROR


def test_and_v_shows_profile():
    with Bench() as b:
        assert b.cmd("AT&V") == (b"\r\nE0 Q0 V1 &C1 &D2 +CMEE: 0 +IPR: 115200 +IFC: 2,2\r\n" + OK)


# --- TCP parameters: both syntaxes (spec §2.1) -----------------------------------------------


def test_tcpserv_indexed_and_legacy():
    with Bench() as b:
        assert b.cmd('AT#TCPSERV=1,"Host.Example"') == OK
        assert b.cmd('AT#TCPSERV=2,"10.0.0.2"') == OK
        assert b.cmd("AT#TCPSERV=1") == b'\r\n#TCPSERV: 1,"Host.Example"\r\n' + OK
        assert b.cmd("AT#TCPSERV=2") == b'\r\n#TCPSERV: 2,"10.0.0.2"\r\n' + OK
        assert b.cmd('AT#TCPSERV="legacy.host"') == OK  # legacy set: profile 1
        assert b.cmd("AT#TCPSERV=bare.host") == OK  # unquoted host
        assert b.cmd("AT#TCPSERV?") == (
            b'\r\n#TCPSERV: 1,"bare.host"\r\n#TCPSERV: 2,"10.0.0.2"\r\n' + OK
        )
        # quoted: a legacy set, not a read; "1" can only mean an address, and is not one
        assert b.cmd('AT#TCPSERV="1"') == cme(34882)
        assert b.settings.get("TCPSERV", 1) == "bare.host"
        assert b.cmd('at#tcpserv=1,"MiXeD"') == OK
        assert b.settings.get("TCPSERV", 1) == "MiXeD"


def test_tcpserv_values():
    with Bench() as b:
        assert b.cmd("AT#TCPSERV=1," + "a" * 120) == OK
        assert b.cmd("AT#TCPSERV=1," + "a" * 121) == cme(34882)
        assert b.cmd('AT#TCPSERV=1,"a b"') == cme(34882)
        assert b.cmd('AT#TCPSERV=1,"255.255.255.255"') == OK
        assert b.cmd('AT#TCPSERV=3,"h"') == cme(34882)
        assert b.cmd('AT#TCPSERV=0,"h"') == cme(34882)
        assert b.cmd('AT#TCPSERV=1,"h",3') == cme(34819)
        assert b.cmd("AT#TCPSERV=1,") == OK  # empty: unset
        assert b.settings.get("TCPSERV", 1) == ""


def test_tcpserv_test_form():
    with Bench() as b:
        out = b.cmd("AT#TCPSERV=?")
        assert out.startswith(b"\r\n#TCPSERV: (1-2),") and out.endswith(b"\r\n" + OK)


def test_tcpport_forms():
    with Bench() as b:
        assert b.cmd("AT#TCPPORT=1") == b"\r\n#TCPPORT: 1,0\r\n" + OK  # read
        assert b.cmd("AT#TCPPORT=5002") == OK  # legacy set
        assert b.cmd("AT#TCPPORT=1") == b"\r\n#TCPPORT: 1,5002\r\n" + OK
        assert b.cmd('AT#TCPPORT=1,"23"') == OK  # quoted number (the manual's own example)
        assert b.cmd("AT#TCPPORT=2,24") == OK
        assert b.cmd("AT#TCPPORT=2") == b"\r\n#TCPPORT: 2,24\r\n" + OK
        assert b.cmd("AT#TCPPORT?") == b"\r\n#TCPPORT: 1,23\r\n#TCPPORT: 2,24\r\n" + OK
        assert b.cmd('AT#TCPPORT="6000"') == OK
        assert b.settings.get("TCPPORT", 1) == 6000
        assert b.cmd("AT#TCPPORT=?") == b"\r\n#TCPPORT: (1-2),(1-65535)\r\n" + OK


def test_tcpport_values():
    with Bench() as b:
        assert b.cmd("AT#TCPPORT=1,65535") == OK
        assert b.cmd("AT#TCPPORT=1,65536") == cme(34882)
        assert b.cmd("AT#TCPPORT=1,0") == cme(34882)
        assert b.cmd("AT#TCPPORT=0") == cme(34882)
        assert b.cmd("AT#TCPPORT=-5") == cme(34882)
        assert b.cmd("AT#TCPPORT=1,abc") == cme(34882)
        assert b.cmd("AT#TCPPORT=1,") == cme(34882)
        assert b.cmd("AT#TCPPORT=1,2,3") == cme(34819)
        assert b.settings.get("TCPPORT", 1) == 65535


def test_dlemode_forms():
    with Bench() as b:
        assert b.cmd("AT#DLEMODE=1") == b"\r\n#DLEMODE: 1,1\r\n" + OK  # read, default 1
        assert b.cmd("AT#DLEMODE=2") == b"\r\n#DLEMODE: 2,1\r\n" + OK
        assert b.cmd("AT#DLEMODE=0") == OK  # legacy set 0
        assert b.cmd("AT#DLEMODE=1") == b"\r\n#DLEMODE: 1,0\r\n" + OK
        assert b.cmd("AT#DLEMODE=1,1") == OK  # indexed (Multi-Tech's mbed driver)
        assert b.cmd("AT#DLEMODE=2,0") == OK
        assert b.cmd("AT#DLEMODE?") == b"\r\n#DLEMODE: 1,1\r\n#DLEMODE: 2,0\r\n" + OK
        assert b.cmd("AT#DLEMODE=1,2") == cme(34882)
        assert b.cmd("AT#DLEMODE=3") == cme(34882)
        assert b.cmd("AT#DLEMODE=?") == b"\r\n#DLEMODE: (1-2),(0-1)\r\n" + OK


def test_tcptxdelay_forms():
    with Bench() as b:
        assert b.cmd("AT#TCPTXDELAY=1") == b"\r\n#TCPTXDELAY: 1,100\r\n" + OK  # read
        assert b.cmd("AT#TCPTXDELAY=2") == b"\r\n#TCPTXDELAY: 2,100\r\n" + OK
        assert b.cmd("AT#TCPTXDELAY=40") == OK  # legacy set
        assert b.cmd("AT#TCPTXDELAY=1,500") == OK  # C8's indexed set
        assert b.cmd("AT#TCPTXDELAY=2,0") == OK
        assert b.cmd("AT#TCPTXDELAY?") == (b"\r\n#TCPTXDELAY: 1,500\r\n#TCPTXDELAY: 2,0\r\n" + OK)
        assert b.cmd("AT#TCPTXDELAY=30") == cme(34882)
        assert b.cmd("AT#TCPTXDELAY=1,32780") == cme(34882)
        assert b.cmd("AT#TCPTXDELAY=1,32760") == OK
        out = b.cmd("AT#TCPTXDELAY=?")
        assert out.startswith(b"\r\n#TCPTXDELAY: (1-2),(0-32760") and out.endswith(OK)


def test_tcp_parameters_are_stored_at_once():
    with Bench() as b:
        assert b.cmd('AT#TCPSERV="srv";#TCPPORT=5002;#DLEMODE=0;#TCPTXDELAY=40') == OK
        s = new_settings(b.dir.path)
        assert s.problems == []
        assert s.get("TCPSERV", 1) == "srv"
        assert s.get("TCPPORT", 1) == 5002
        assert s.get("DLEMODE", 1) == 0
        assert s.get("TCPTXDELAY", 1) == 40
        assert b.dir.listdir() == [cfg.FILE_NAME]


def test_vtcp():
    with Bench() as b:
        assert b.cmd('AT#TCPSERV=1,"h1";#TCPPORT=1,23') == OK
        p1 = (
            '#TCPSERV: 1,"h1"',
            "#TCPPORT: 1,23",
            "#DLEMODE: 1,1",
            "#TCPTXDELAY: 1,100",
            "#TCPINACTIVITYTIMER: 1,0",
        )
        p2 = (
            '#TCPSERV: 2,""',
            "#TCPPORT: 2,0",
            "#DLEMODE: 2,1",
            "#TCPTXDELAY: 2,100",
            "#TCPINACTIVITYTIMER: 2,0",
        )
        assert b.cmd("AT#VTCP=1") == info(*p1) + OK
        assert b.cmd("AT#VTCP=2") == info(*p2) + OK
        assert b.cmd("AT#VTCP") == info(*(p1 + p2)) + OK
        assert b.cmd("AT#VTCP=3") == cme(34882)


def test_tcpinactivitytimer():
    with Bench() as b:
        assert b.cmd("AT#TCPINACTIVITYTIMER=1,100") == OK
        assert b.cmd("AT#TCPINACTIVITYTIMER=1") == b"\r\n#TCPINACTIVITYTIMER: 1,100\r\n" + OK
        assert b.cmd("AT#TCPINACTIVITYTIMER=1,65536") == cme(34882)


# --- global parameters -----------------------------------------------------------------------


def test_outport():
    with Bench() as b:
        assert b.cmd("AT#OUTPORT?") == b"\r\n#OUTPORT: 37500\r\n" + OK
        assert b.cmd("AT#OUTPORT") == b"\r\n#OUTPORT: 37500\r\n" + OK
        assert b.cmd("AT#OUTPORT=4000") == OK
        assert b.cmd('AT#OUTPORT="4001"') == OK
        assert b.cmd("AT#OUTPORT?") == b"\r\n#OUTPORT: 4001\r\n" + OK
        assert b.cmd("AT#OUTPORT=0") == cme(34882)
        assert b.cmd("AT#OUTPORT=65536") == cme(34882)
        assert b.cmd("AT#OUTPORT=1,2") == cme(34819)
        assert b.cmd("AT#OUTPORT=?") == b"\r\n#OUTPORT: (1-65535)\r\n" + OK
        assert new_settings(b.dir.path).get("OUTPORT") == 4001


def test_gprs_parameters():
    with Bench() as b:
        assert b.cmd("AT#GPRSMODE=1") == OK
        assert b.cmd("AT#GPRSMODE?") == b"\r\n#GPRSMODE: 1\r\n" + OK
        assert b.cmd("AT#GPRSMODE=2") == cme(34882)
        assert b.cmd('AT#APNSERV="internet.Provider"') == OK
        assert b.cmd("AT#APNSERV?") == b'\r\n#APNSERV: "internet.Provider"\r\n' + OK
        assert b.cmd('AT#APNUN="user"') == OK
        assert b.cmd('AT#APNPW="pw"') == OK
        assert b.cmd('AT#APNUN=""') == OK
        assert b.cmd("AT#APNUN?") == b'\r\n#APNUN: ""\r\n' + OK
        assert b.cmd('AT#DNSSERV1="0.0.0.0"') == OK
        assert b.cmd('AT#DNSSERV2="8.8.4.4"') == OK
        assert b.cmd('AT#DNSSERV2="dns.example"') == cme(34882)
        assert b.cmd("AT#DNSSERV1=1.2.3") == cme(34882)
        assert b.cmd("AT#VDNS") == b'\r\n#DNSSERV1: "0.0.0.0"\r\n#DNSSERV2: "8.8.4.4"\r\n' + OK
        assert b.cmd("AT#GPRSCID=2") == OK
        assert b.cmd("AT#GPRSCID=5") == cme(34882)
        assert (
            b.cmd("AT#VPHY")
            == info(
                "#GPRSMODE: 1",
                '#APNSERV: "internet.Provider"',
                '#APNUN: ""',
                '#APNPW: "pw"',
                "#GPRSCID: 2",
            )
            + OK
        )
        assert b.cmd("AT+CGDCONT?") == b'\r\n+CGDCONT: 1,"IP","internet.Provider"\r\n' + OK
        s = new_settings(b.dir.path)
        assert s.get("APNSERV") == "internet.Provider"
        assert s.get("DNSSERV2") == "8.8.4.4"


def test_wifi_password_never_read_back():
    with Bench() as b:
        assert b.cmd("AT#WIFIPW?") == b'\r\n#WIFIPW: ""\r\n' + OK
        assert b.cmd('AT#WIFIPW="s3cret"') == OK
        assert b.cmd("AT#WIFIPW?") == b'\r\n#WIFIPW: "********"\r\n' + OK
        assert b"s3cret" not in b.cmd("AT#VALL")
        assert b"s3cret" not in b.cmd("AT#VWIFI")


def test_vall():
    with Bench() as b:
        assert b.cmd('AT#TCPSERV=1,"h1";#TCPPORT=2,99;#APNSERV="apn"') == OK
        out = b.cmd("AT#VALL")
        assert out.startswith(b"\r\n" + ident.STACK_ID.encode() + b"\r\n")
        assert out.endswith(b"\r\n" + OK)
        lines = out[2 : -len(b"\r\n" + OK)].split(b"\r\n")
        assert lines[0] == ident.STACK_ID.encode()
        for want in (
            b"#GPRSMODE: 1",
            b'#APNSERV: "apn"',
            b'#APNUN: ""',
            b'#APNPW: ""',
            b'#DNSSERV1: "0.0.0.0"',
            b'#DNSSERV2: "0.0.0.0"',
            b'#TCPSERV: 1,"h1"',
            b'#TCPSERV: 2,""',
            b"#TCPPORT: 1,0",
            b"#TCPPORT: 2,99",
            b"#DLEMODE: 1,1",
            b"#DLEMODE: 2,1",
            b"#TCPTXDELAY: 1,100",
            b"#TCPTXDELAY: 2,100",
            b"#OUTPORT: 37500",
        ):
            assert want in lines, want
        assert b"" in lines  # blocks separated by an empty line
        for line in lines[1:]:
            assert line == b"" or line.startswith(b"#"), line
        # DNS block comes after the GPRS block, TCP after DNS (the manual's grouping)
        assert lines.index(b"#GPRSMODE: 1") < lines.index(b'#DNSSERV1: "0.0.0.0"')
        assert lines.index(b'#DNSSERV1: "0.0.0.0"') < lines.index(b'#TCPSERV: 1,"h1"')


# --- sets while a socket or listener is active -----------------------------------------------


def test_sets_refused_while_busy():
    with Bench() as b:
        assert b.cmd("AT#TCPPORT=1,23") == OK
        b.modem.is_busy = True
        for line in (
            'AT#TCPSERV=1,"h"',
            'AT#TCPSERV="h"',
            "AT#TCPPORT=1,24",
            "AT#TCPPORT=5000",
            "AT#DLEMODE=0",
            "AT#TCPTXDELAY=40",
            "AT#OUTPORT=5",
            'AT#APNSERV="x"',
            "AT#GPRSMODE=1",
            'AT#DNSSERV1="1.1.1.1"',
            "AT#TCPPORT=1,0",  # busy is reported before the value is even looked at
        ):
            assert b.cmd(line) == cme(37123), line
        assert b.settings.get("TCPPORT", 1) == 23
        # reads still work
        assert b.cmd("AT#TCPPORT=1") == b"\r\n#TCPPORT: 1,23\r\n" + OK
        assert b.cmd("AT#TCPPORT?") == b"\r\n#TCPPORT: 1,23\r\n#TCPPORT: 2,0\r\n" + OK
        assert b.cmd("AT#OUTPORT?") == b"\r\n#OUTPORT: 37500\r\n" + OK
        assert b.cmd("AT#VTCP=1").endswith(OK)
        b.modem.is_busy = False
        assert b.cmd("AT#TCPPORT=1,24") == OK


# --- session commands, dispatched to the modem -----------------------------------------------


def test_connectionstart():
    with Bench() as b:
        out = b.cmd("AT#CONNECTIONSTART")
        assert out == b"\r\n10.0.0.7\r\n\r\nOk_Info_GprsActivation\r\n"  # no OK (spec §5)
        assert ("bearer_up",) in b.modem.calls
        assert b.cmd("AT#CONNECTIONSTART") == cme(35840)
        assert b.cmd("AT#CONNECTIONSTART=?") == OK


def test_connectionstart_errors_from_modem():
    with Bench() as b:
        b.modem.up_error = 35865
        assert b.cmd("AT#CONNECTIONSTART") == cme(35865)
        b.modem.up_error = 35868
        assert b.cmd("AT#CONNECTIONSTART") == cme(35868)
        assert b.cmd("AT#CONNECTIONSTART=1") == cme(34819)


def test_connectionstart_numeric():
    with Bench() as b:
        assert b.cmd("ATV0") == b"0\r"
        assert b.cmd("AT#CONNECTIONSTART") == b"10.0.0.7\r\n3086\r"


def test_connectionstop():
    with Bench() as b:
        assert b.cmd("AT#CONNECTIONSTOP") == cme(35866)  # idle: what OpenDMTP expects
        assert ("bearer_down",) not in b.modem.calls
        b.cmd("AT#CONNECTIONSTART")
        assert b.cmd("AT#CONNECTIONSTOP") == OK
        assert ("bearer_down",) in b.modem.calls
        assert b.cmd("AT#CONNECTIONSTOP") == cme(35866)


def test_displayip():
    with Bench() as b:
        assert b.cmd("AT#DISPLAYIP") == cme(35867)
        b.cmd("AT#CONNECTIONSTART")
        assert b.cmd("AT#DISPLAYIP") == (
            b'\r\n#MY IP: "10.0.0.7"\r\n#PEER IP: "0.0.0.0"\r\n#GATEWAY IP: "10.0.0.1"\r\n' + OK
        )


def test_vstate():
    with Bench() as b:
        assert b.cmd("AT#VSTATE") == b'\r\n#STATE: "IDLE"\r\n' + OK
        b.cmd("AT#CONNECTIONSTART")
        assert b.cmd("AT#VSTATE") == b'\r\n#STATE: "CONNECTED"\r\n' + OK


def test_otcp():
    with Bench() as b:
        assert b.cmd("AT#OTCP") == cme(35867)  # no bearer
        assert b.modem.calls[-1] == ("open_tcp", 1)
        b.cmd("AT#CONNECTIONSTART")
        assert b.cmd("AT#OTCP=2") == b"\r\nOk_Info_WaitingForData\r\n"  # no OK before it
        assert b.modem.session == 2


def test_otcp_legacy_is_profile_1_and_stops_the_line():
    with Bench() as b:
        b.modem.up = True
        out = b.drv.send(b"AT#OTCP;+CSQ\rpayload")
        assert out == b"\r\nOk_Info_WaitingForData\r\n"
        assert b.modem.session == 1
        assert ("signal_quality",) not in b.modem.calls
        assert b.drv.rest == b"payload"  # data-mode bytes are not taken as commands


def test_otcp_numeric():
    with Bench() as b:
        b.modem.up = True
        assert b.cmd("ATV0") == b"0\r"
        assert b.cmd("AT#OTCP=1") == b"1028\r"


def test_otcp_errors():
    with Bench() as b:
        b.modem.up = True
        b.modem.open_error = 38016
        assert b.cmd("AT#OTCP=1") == cme(38016)
        b.modem.open_error = 38027
        assert b.cmd("AT#OTCP") == cme(38027)
        assert b.cmd("AT#OTCP=3") == cme(34882)
        assert b.cmd("AT#OTCP?") == cme(34819)
        assert b.modem.session is None


def test_listen_start_stop():
    with Bench() as b:
        assert b.cmd("AT#LTCPSTART=1") == cme(35867)
        b.modem.up = True
        assert b.cmd("AT#LTCPSTART=2") == OK  # OK first; Ok_Info_WaitingForData comes later
        assert b.modem.listening == 2
        assert b.cmd("AT#LTCPSTART=1") == cme(37123)
        assert b.cmd("AT#TCPPORT=2,23") == cme(37123)
        assert b.cmd("AT#LTCPSTOP=2") == OK
        assert b.modem.listening is None
        assert ("stop_listening", 2) in b.modem.calls
        assert b.cmd("AT#LTCPSTART") == OK  # no id: profile 1
        assert ("listen", 1) in b.modem.calls
        assert b.cmd("AT#LTCPSTOP") == OK
        assert ("stop_listening", 1) in b.modem.calls
        assert b.cmd("AT#LTCPSTART=0") == cme(34882)


def test_listen_error_from_modem():
    with Bench() as b:
        b.modem.up = True
        b.modem.listen_error = 34882
        assert b.cmd("AT#LTCPSTART=1") == cme(34882)


def test_vlog():
    with Bench() as b:
        assert b.cmd("AT#VLOG") == info("boot", "ready") + OK
        assert ("log_lines",) in b.modem.calls


def test_session_commands_reach_the_modem_not_faked():
    # every session command is answered by what the modem object says, never a canned success
    with Bench() as b:
        b.modem.up = True
        b.modem.open_error = 35867
        b.modem.listen_error = 35867
        assert b.cmd("AT#OTCP=1") == cme(35867)
        assert b.cmd("AT#LTCPSTART=1") == cme(35867)
        names = b.modem.names()
        assert "open_tcp" in names and "listen" in names


def test_a_slash_repeats_through_interpreter():
    with Bench() as b:
        assert b.cmd("AT+CSQ") == b"\r\n+CSQ: 25,99\r\n" + OK
        assert b.drv.send(b"A/") == b"\r\n+CSQ: 25,99\r\n" + OK
        assert b.cmd("ATE1") == OK
        assert b.drv.send(b"A/") == b"A/" + OK


def test_execute_line_returns_hook_or_none():
    import asyncio

    with Bench() as b:
        interp = b.drv.interp
        assert asyncio.run(interp.execute_line(b"")) is None
        hook = asyncio.run(interp.execute_line(b"+IPR=9600"))
        assert callable(hook)
        assert "apply_serial" not in b.modem.names()  # not called by the interpreter itself
        hook()
        assert b.modem.calls[-1] == ("apply_serial", 9600, True, True)


def test_factory_and_restore_reapply_the_serial_port():
    with Bench() as b:
        assert b.cmd("AT+IPR=9600") == OK
        assert b.cmd("AT&F") == OK
        assert hook_calls(b.modem, "apply_serial")[-1] == ("apply_serial", 115200, True, True)
        assert b.cmd("ATE0") == b"ATE0\r" + OK  # AT&F turned echo back on
        n = len(hook_calls(b.modem, "apply_serial"))
        assert b.cmd("ATZ") == OK  # saved profile equals the live one: nothing to change
        assert len(hook_calls(b.modem, "apply_serial")) == n
        assert b.cmd("AT&K0") == b"AT&K0\r" + OK  # ATZ restored echo on
        assert hook_calls(b.modem, "apply_serial")[-1] == ("apply_serial", 115200, False, False)
        assert b.cmd("ATZ") == b"ATZ\r" + OK  # back to the saved RTS/CTS
        assert hook_calls(b.modem, "apply_serial")[-1] == ("apply_serial", 115200, True, True)


def test_quoted_single_argument_is_a_legacy_set():
    with Bench() as b:
        assert b.cmd('AT#TCPPORT="2"') == OK
        assert b.settings.get("TCPPORT", 1) == 2
        assert b.cmd('AT#DLEMODE="1"') == OK
        assert b.settings.get("DLEMODE", 1) == 1
        assert b.cmd("AT#TCPPORT=2") == b"\r\n#TCPPORT: 2,0\r\n" + OK


def test_plus_command_syntax_error_follows_cmee():
    with Bench() as b:
        assert b.cmd('AT+CGDCONT=1,"IP') == ERROR
        assert b.cmd("AT+CMEE=1") == OK
        assert b.cmd('AT+CGDCONT=1,"IP') == b"\r\n+CME ERROR: 3\r\n"
        assert b.cmd('AT#TCPSERV="h') == b"\r\n#CME ERROR: 34819\r\n"


# --- command groups: loaded on first use, released when the heap runs low ---------------------


def test_command_groups_load_on_first_use_and_stay_while_heap_is_plentiful():
    import sys

    with Bench() as b:
        interp = b.drv.interp
        interp.release()
        interp.free_heap = lambda: 1 << 20  # plenty: keep what is loaded
        assert interp.groups == {}
        assert b.cmd("AT#TCPPORT=1,5000") == OK
        assert sorted(interp.groups) == ["cmd_params"]
        assert (
            b.cmd("AT#VTCP=1;+CPIN?")
            == info(
                '#TCPSERV: 1,""',
                "#TCPPORT: 1,5000",
                "#DLEMODE: 1,1",
                "#TCPTXDELAY: 1,100",
                "#TCPINACTIVITYTIMER: 1,0",
            )
            + info("+CPIN: READY")
            + OK
        )
        assert sorted(interp.groups) == ["cmd_info", "cmd_params", "cmd_plus"]
        assert "cmd_plus" in sys.modules


def test_command_groups_are_released_when_heap_is_low_and_reload_on_next_use():
    import sys

    with Bench() as b:
        interp = b.drv.interp
        interp.free_heap = lambda: 0  # always low: forget the groups after every line
        for _ in range(3):  # each line loads its group again, answers the same
            assert b.cmd("AT#TCPPORT=2,6000") == OK
            assert interp.groups == {}
            assert "cmd_params" not in sys.modules
            assert b.cmd("AT#TCPPORT=2") == info("#TCPPORT: 2,6000") + OK
            assert b.cmd("ATS0?") == info("000") + OK
            assert b.cmd("AT+CMEE=1;+CMEE?") == info("+CMEE: 1") + OK
            assert b.cmd("AT+CMEE=0") == OK
            assert b.cmd("AT#NOSUCH") == cme(34817)
            assert "cmd_basic" not in sys.modules and "cmd_plus" not in sys.modules
        # State lives in the interpreter and the settings, not in a group module.
        assert b.cmd("ATS0=7") == OK
        assert b.cmd("ATS0?") == info("007") + OK
        assert b.settings.get("TCPPORT", 2) == 6000
