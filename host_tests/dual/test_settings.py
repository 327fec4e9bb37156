"""Settings (firmware/settings.py): every parameter's range and default, validation,
immediate atomic storage, recovery from missing or corrupt files, the V.250 profile.

Dual-runtime: runs under pytest on CPython and unchanged on the MicroPython VM.
"""

import json

import settings as cfg
from fakes import TempDir, new_settings


def accepts(name, value):
    spec = cfg.PROFILE_PARAMS[name] if name in cfg.PROFILE_PARAMS else cfg.GLOBAL_PARAMS[name]
    try:
        cfg.validate(spec, value)
        return True
    except ValueError:
        return False


def validated(name, value):
    spec = cfg.PROFILE_PARAMS[name] if name in cfg.PROFILE_PARAMS else cfg.GLOBAL_PARAMS[name]
    return cfg.validate(spec, value)


# --- parameter table: defaults ---------------------------------------------------------------

DEFAULTS = {
    "TCPSERV": "",
    "TCPPORT": 0,
    "DLEMODE": 1,
    "TCPTXDELAY": 100,
    "TCPINACTIVITYTIMER": 0,
    "OUTPORT": 37500,
    "GPRSMODE": 1,
    "GPRSCID": 1,
    "APNSERV": "",
    "APNUN": "",
    "APNPW": "",
    "DNSSERV1": "0.0.0.0",
    "DNSSERV2": "0.0.0.0",
}


def test_defaults_of_the_spec_parameters():
    params = cfg.factory_params()
    for name, want in DEFAULTS.items():
        if name in cfg.PROFILE_PARAMS:
            assert params[name] == [want, want], name
        else:
            assert params[name] == want, name


def test_profile_parameters_are_indexed_twice():
    assert cfg.PROFILES == (1, 2)
    for name in ("TCPSERV", "TCPPORT", "DLEMODE", "TCPTXDELAY"):
        assert name in cfg.PROFILE_PARAMS, name
    for name in ("OUTPORT", "GPRSMODE", "APNSERV", "APNUN", "APNPW", "DNSSERV1", "DNSSERV2"):
        assert name in cfg.GLOBAL_PARAMS, name


def test_every_default_passes_its_own_validation():
    # also covers parameters added later (UDP, PING, WIFI ...)
    for table in (cfg.PROFILE_PARAMS, cfg.GLOBAL_PARAMS):
        for name in table:
            spec = table[name]
            if spec[0] == "int" and spec[1] == 0 and spec[2] == 1:
                continue  # an unset port: 0 means "not configured", outside 1..65535
            assert cfg.validate(spec, spec[1]) == spec[1], name
    assert not accepts("TCPPORT", 0)


def test_defaults_survive_a_save_and_reload():
    # regression: an unset TCPPORT (0) in profile 2 used to throw away profile 1's port too
    with TempDir() as d:
        s = new_settings(d.path)
        s.save()
        t = new_settings(d.path)
        assert t.problems == []
        assert t.params == cfg.factory_params()
        s.set("TCPPORT", "23", 1)
        t = new_settings(d.path)
        assert t.problems == []
        assert t.params["TCPPORT"] == [23, 0]


def test_factory_values_are_fresh_copies():
    a = cfg.factory_params()
    a["TCPPORT"][0] = 99
    assert cfg.factory_params()["TCPPORT"] == [0, 0]
    p = cfg.factory_profile()
    p["IFC"][0] = 0
    assert cfg.factory_profile()["IFC"] == [2, 2]


# --- parameter table: ranges -----------------------------------------------------------------


def test_tcpserv_host_names_and_addresses():
    assert accepts("TCPSERV", "192.168.1.10")
    assert accepts("TCPSERV", "255.255.255.255")
    assert accepts("TCPSERV", "Host-1.example_net.COM")
    assert accepts("TCPSERV", "a" * 120)
    assert not accepts("TCPSERV", "a" * 121)
    assert accepts("TCPSERV", "")
    for bad in ("a b", "host:80", 'x"y', "h\x00", "caf\u00e9", "a/b"):
        assert not accepts("TCPSERV", bad), bad


def test_is_ipv4():
    for good in ("0.0.0.0", "1.2.3.4", "255.255.255.255", "10.0.0.1", "192.168.001.010"):
        assert cfg.is_ipv4(good), good
    for bad in (
        "",
        "1.2.3",
        "1.2.3.4.5",
        "256.0.0.1",
        "1.2.3.256",
        "a.b.c.d",
        " 1.2.3.4",
        "1.2.3.4 ",
        "1..2.3",
        "1.2.3.-4",
        "+1.2.3.4",
        "1234.1.1.1",
        "host.example",
    ):
        assert not cfg.is_ipv4(bad), bad


def test_tcpport_range():
    assert validated("TCPPORT", "1") == 1
    assert validated("TCPPORT", "65535") == 65535
    assert validated("TCPPORT", 23) == 23
    assert validated("TCPPORT", "0023") == 23
    for bad in ("0", "65536", "", "abc", "-1", "+5", " 5", "5 ", "1.5", "1234567890", 0, 70000):
        assert not accepts("TCPPORT", bad), bad


def test_dlemode_range():
    assert validated("DLEMODE", "0") == 0
    assert validated("DLEMODE", "1") == 1
    for bad in ("2", "-1", "", "on"):
        assert not accepts("DLEMODE", bad), bad


def test_tcptxdelay_multiple_of_20():
    for good in ("0", "20", "40", "100", "32740", "32760"):
        assert validated("TCPTXDELAY", good) == int(good), good
    for bad in ("1", "10", "30", "99", "32761", "32780", "", "-20"):
        assert not accepts("TCPTXDELAY", bad), bad


def test_tcpinactivitytimer_range():
    assert validated("TCPINACTIVITYTIMER", "0") == 0
    assert validated("TCPINACTIVITYTIMER", "65535") == 65535
    assert not accepts("TCPINACTIVITYTIMER", "65536")


def test_outport_range():
    assert validated("OUTPORT", "1") == 1
    assert validated("OUTPORT", "65535") == 65535
    assert not accepts("OUTPORT", "0")
    assert not accepts("OUTPORT", "65536")


def test_gprs_parameters():
    assert validated("GPRSMODE", "0") == 0
    assert validated("GPRSMODE", "1") == 1
    assert not accepts("GPRSMODE", "2")
    assert validated("GPRSCID", "4") == 4
    assert not accepts("GPRSCID", "0")
    assert not accepts("GPRSCID", "5")
    assert accepts("APNSERV", "internet.provider.com")
    assert accepts("APNSERV", "a" * 100)
    assert not accepts("APNSERV", "a" * 101)
    assert accepts("APNUN", "user name")  # printable ASCII, spaces allowed
    assert accepts("APNPW", "p@ss,w;rd")
    assert accepts("APNPW", "x" * 64)
    assert not accepts("APNPW", "x" * 65)
    assert not accepts("APNUN", "a\x01")
    assert not accepts("APNUN", "a\x7f")


def test_dnsserv_must_be_ipv4():
    for name in ("DNSSERV1", "DNSSERV2"):
        assert validated(name, "8.8.8.8") == "8.8.8.8"
        assert accepts(name, "0.0.0.0")
        assert not accepts(name, "dns.example")
        assert not accepts(name, "1.2.3")
        assert not accepts(name, "")


def test_text_parameters_reject_non_strings():
    assert not accepts("APNSERV", 5)
    assert not accepts("TCPSERV", None)
    assert not accepts("DNSSERV1", 1)


def test_numbers_reject_booleans():
    # JSON true/false must not count as 1/0 (CPython's bool is an int)
    assert not accepts("TCPPORT", True)
    assert not accepts("DLEMODE", False)


def test_parse_int():
    assert cfg.parse_int("0") == 0
    assert cfg.parse_int("123456789") == 123456789
    for bad in ("", "1234567890", "-1", "+1", " 1", "1 ", "0x10", "1e3", "\u0661"):
        try:
            cfg.parse_int(bad)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % (bad,))


def test_profile_value_validation():
    for rate in (0, 300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200):
        assert cfg.validate_profile_value("IPR", rate) == rate
    for bad in (110, 230400, -1, "9600"):
        try:
            cfg.validate_profile_value("IPR", bad)
        except ValueError:
            continue
        raise AssertionError("IPR accepted %r" % (bad,))
    assert cfg.validate_profile_value("IFC", [0, 2]) == [0, 2]
    for bad in ([1, 2], [2], [2, 2, 2], "2,2", [2, 3]):
        try:
            cfg.validate_profile_value("IFC", bad)
        except ValueError:
            continue
        raise AssertionError("IFC accepted %r" % (bad,))
    assert cfg.validate_profile_value("CMEE", 2) == 2
    for name, hi in (("E", 1), ("V", 1), ("Q", 1), ("CMEE", 2), ("C", 1), ("D", 2)):
        assert cfg.validate_profile_value(name, hi) == hi
        for bad in (hi + 1, -1, True, "1"):
            try:
                cfg.validate_profile_value(name, bad)
            except ValueError:
                continue
            raise AssertionError("%s accepted %r" % (name, bad))


def test_profile_defaults():
    p = cfg.factory_profile()
    assert p == {"E": 1, "V": 1, "Q": 0, "CMEE": 0, "IPR": 115200, "IFC": [2, 2], "C": 1, "D": 2}


# --- storage ---------------------------------------------------------------------------------


def test_missing_file_gives_defaults_and_a_problem():
    with TempDir() as d:
        s = new_settings(d.path)
        assert s.params == cfg.factory_params()
        assert s.profile == cfg.factory_profile()
        assert s.saved_profile == cfg.factory_profile()
        assert len(s.problems) == 1
        assert "no settings file" in s.problems[0]
        assert d.listdir() == []  # loading writes nothing


def test_set_is_stored_immediately_and_atomically():
    with TempDir() as d:
        s = new_settings(d.path)
        s.set("TCPSERV", "Server.Example", 1)
        s.set("TCPPORT", "5002", 2)
        s.set("OUTPORT", "4000")
        assert d.listdir() == [cfg.FILE_NAME]  # no .tmp left behind
        t = new_settings(d.path)
        assert t.problems == []
        assert t.get("TCPSERV", 1) == "Server.Example"
        assert t.get("TCPSERV", 2) == ""
        assert t.get("TCPPORT", 1) == 0
        assert t.get("TCPPORT", 2) == 5002
        assert t.get("OUTPORT") == 4000
        data = json.loads(d.read())
        assert data["version"] == 1
        assert data["params"]["TCPPORT"] == [0, 5002]


def test_set_returns_int_values():
    with TempDir() as d:
        s = new_settings(d.path)
        s.set("TCPTXDELAY", "40", 1)
        assert s.get("TCPTXDELAY", 1) == 40
        assert s.get("TCPTXDELAY") == 40  # profile 1 by default


def test_rejected_value_changes_nothing():
    with TempDir() as d:
        s = new_settings(d.path)
        s.set("TCPPORT", "23", 1)
        before = d.read()
        for name, value in (("TCPPORT", "0"), ("TCPTXDELAY", "30"), ("DNSSERV1", "x")):
            try:
                s.set(name, value, 1)
            except ValueError:
                pass
            else:
                raise AssertionError("accepted %s=%r" % (name, value))
        assert d.read() == before
        assert s.get("TCPPORT", 1) == 23
        assert s.get("TCPTXDELAY", 1) == 100
        assert s.get("DNSSERV1") == "0.0.0.0"


def test_write_failure_raises_oserror_and_keeps_old_value():
    with TempDir() as d:
        s = cfg.Settings(cfg.Store(d.path + "/missing-dir"))
        try:
            s.set("TCPPORT", "23", 1)
        except OSError:
            pass
        else:
            raise AssertionError("no OSError")
        assert s.get("TCPPORT", 1) == 0
        try:
            s.set("OUTPORT", "1234")
        except OSError:
            pass
        else:
            raise AssertionError("no OSError")
        assert s.get("OUTPORT") == 37500
        s.profile["E"] = 0
        try:
            s.save_profile()
        except OSError:
            pass
        else:
            raise AssertionError("no OSError")
        assert s.saved_profile["E"] == 1


def test_stale_tmp_file_is_harmless():
    with TempDir() as d:
        d.write("garbage{", cfg.FILE_NAME + ".tmp")
        s = new_settings(d.path)
        assert s.params == cfg.factory_params()
        s.set("TCPPORT", "80", 1)
        assert d.listdir() == [cfg.FILE_NAME]
        assert new_settings(d.path).get("TCPPORT", 1) == 80


def test_store_path_with_trailing_slash():
    with TempDir() as d:
        st = cfg.Store(d.path + "/")
        assert st.path == d.path + "/" + cfg.FILE_NAME
        st.save({"a": 1})
        assert st.load() == {"a": 1}


def load_file(text):
    """Settings loaded from a file holding `text` (str or bytes)."""
    with TempDir() as d:
        f = open(d.file(), "wb")
        f.write(text if isinstance(text, bytes) else text.encode())
        f.close()
        return new_settings(d.path)


def is_factory(s):
    return s.params == cfg.factory_params() and s.profile == cfg.factory_profile()


def test_corrupt_files_give_defaults_and_a_problem():
    for text in (
        "",
        "not json",
        "{",
        '{"params": ',
        "[1, 2, 3]",
        '"a string"',
        "null",
        "42",
        b"\xff\xfe\x00{",
        "[" * 5000,
        '{"params": 5}',
        '{"params": [1, 2]}',
        '{"profile": "E0"}',
    ):
        s = load_file(text)
        assert is_factory(s), text
        assert len(s.problems) >= 1, text


def test_wrong_types_fall_back_per_parameter():
    s = load_file(
        json.dumps(
            {
                "version": 1,
                "params": {
                    "TCPPORT": [23, "x"],
                    "TCPSERV": ["good.host", ""],
                    "DLEMODE": 1,
                    "TCPTXDELAY": [true_json(), 40],
                    "OUTPORT": "4000",
                    "DNSSERV1": "not an ip",
                    "APNSERV": 7,
                    "NOSUCHPARAM": 5,
                },
                "profile": {"E": 0, "V": "1", "IFC": [2], "IPR": 9600, "Q": None, "XX": 1},
            }
        )
    )
    assert s.get("TCPSERV", 1) == "good.host"  # good values survive
    assert s.get("OUTPORT") == 4000  # a numeric string is still a valid number
    assert s.params["TCPPORT"] == [0, 0]
    assert s.params["DLEMODE"] == [1, 1]
    assert s.params["TCPTXDELAY"] == [100, 100]
    assert s.get("DNSSERV1") == "0.0.0.0"
    assert s.get("APNSERV") == ""
    assert s.profile["E"] == 0
    assert s.profile["IPR"] == 9600
    assert s.profile["V"] == 1
    assert s.profile["IFC"] == [2, 2]
    assert s.profile["Q"] == 0
    text = " ".join(s.problems)
    for name in ("TCPPORT", "DLEMODE", "TCPTXDELAY", "DNSSERV1", "APNSERV", "V", "IFC", "Q"):
        assert ("bad stored %s," % name) in text, name
    assert "TCPSERV" not in text
    assert "OUTPORT" not in text
    assert "NOSUCHPARAM" not in text  # unknown names are ignored (newer firmware's file)


def true_json():
    return True


def test_valid_file_reports_no_problem():
    with TempDir() as d:
        s = new_settings(d.path)
        s.set("TCPPORT", "23", 1)
        t = new_settings(d.path)
        assert t.problems == []


# --- V.250 profile: AT&W / ATZ / AT&F --------------------------------------------------------


def test_save_and_restore_profile():
    with TempDir() as d:
        s = new_settings(d.path)
        s.profile["E"] = 0
        s.profile["IPR"] = 9600
        s.profile["IFC"] = [0, 0]
        s.save_profile()  # AT&W
        s.profile["E"] = 1
        s.profile["IFC"][0] = 2
        assert s.saved_profile["IFC"] == [0, 0]  # the saved copy is not shared
        s.restore_profile()  # ATZ
        assert s.profile["E"] == 0
        assert s.profile["IFC"] == [0, 0]
        t = new_settings(d.path)  # after a power cycle
        assert t.profile["E"] == 0
        assert t.profile["IPR"] == 9600
        assert t.profile["IFC"] == [0, 0]


def test_profile_changes_are_not_stored_without_save():
    with TempDir() as d:
        s = new_settings(d.path)
        s.set("TCPPORT", "23", 1)
        s.profile["V"] = 0
        assert new_settings(d.path).profile["V"] == 1


def test_restore_profile_without_save_gives_factory():
    with TempDir() as d:
        s = new_settings(d.path)
        s.profile["Q"] = 1
        s.restore_profile()
        assert s.profile == cfg.factory_profile()


def test_factory_resets_params_stored_and_live_profile():
    with TempDir() as d:
        s = new_settings(d.path)
        s.set("TCPSERV", "h", 2)
        s.set("OUTPORT", "999")
        s.profile["E"] = 0
        s.save_profile()
        s.factory()  # AT&F
        assert s.params == cfg.factory_params()
        assert s.profile == cfg.factory_profile()
        t = new_settings(d.path)
        assert t.params == cfg.factory_params()
        assert d.listdir() == [cfg.FILE_NAME]


def test_factory_write_failure_keeps_params():
    with TempDir() as d:
        s = cfg.Settings(cfg.Store(d.path + "/nowhere"))
        s.params["OUTPORT"] = 1234
        try:
            s.factory()
        except OSError:
            pass
        else:
            raise AssertionError("no OSError")
        assert s.get("OUTPORT") == 1234
