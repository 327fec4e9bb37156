"""The web console's logic that needs no browser and no network: the stored password
(pwhash.py), AT#CONSOLE / AT#CONSOLEPW, the login pause, sessions and tokens
(console_auth.py), and the settings forms (console_settings.py) going through AT's own path.

Dual-runtime: runs under pytest on CPython and unchanged on the MicroPython VM.
"""

import asyncio

import console_auth
import console_settings
import pwhash
import settings as cfg
from fakes import OK, Bench, cme, new_settings

SECRET = "Ops-Console-9"


def with_console_path(b):
    """The Bench's fake modem as the console sees a modem: its interpreter and settings."""
    b.modem.interp = b.drv.interp
    b.modem.settings = b.settings
    b.modem.log = lambda text: None
    return b.modem


# --- the stored password ------------------------------------------------------------------------


def test_the_password_is_stored_as_a_salted_hash():
    with Bench() as b:
        assert b.cmd('AT#CONSOLEPW="%s"' % SECRET) == OK
        stored = b.settings.get("CONSOLEPW")
        assert stored != SECRET and SECRET not in stored
        assert pwhash.is_stored(stored) and len(stored) == 84
        with open(b.settings.store.path) as f:
            text = f.read()
        assert SECRET not in text and stored in text
        salt, want = pwhash.salt_and_hash(stored)
        assert pwhash.digest(SECRET, salt) == want
        assert pwhash.digest(SECRET + "x", salt) != want
        # the same password again: another salt, another hash
        assert b.cmd('AT#CONSOLEPW="%s"' % SECRET) == OK
        assert b.settings.get("CONSOLEPW") != stored
        # it survives a reload as it is (checked as a hash, not hashed again)
        again = new_settings(b.dir.path)
        assert again.problems == [] and again.get("CONSOLEPW") == b.settings.get("CONSOLEPW")


def test_consolepw_reads_back_masked_and_is_never_listed():
    with Bench() as b:
        assert b.cmd("AT#CONSOLEPW?") == b'\r\n#CONSOLEPW: ""\r\n' + OK
        assert b.cmd('AT#CONSOLEPW="%s"' % SECRET) == OK
        assert b.cmd("AT#CONSOLEPW?") == b'\r\n#CONSOLEPW: "********"\r\n' + OK
        vall = b.cmd("AT#VALL")
        assert b'\r\n#CONSOLE: 1\r\n#CONSOLEPW: "********"\r\n' in vall
        assert SECRET.encode() not in vall
        assert b.settings.get("CONSOLEPW")[20:].encode() not in vall
        assert b.cmd("AT#CONSOLEPW=?") == b"\r\n#CONSOLEPW: <text>\r\n" + OK


def test_consolepw_too_short_or_not_printable_is_refused():
    with Bench() as b:
        for bad in ("short", "1234567", "x" * 65):
            assert b.cmd('AT#CONSOLEPW="%s"' % bad) == cme(34882), bad
        for bad in ("tab\there1", "caf\u00e9-p4ss", "x" * 65, "1234567"):  # as the console sets it
            try:
                b.settings.set("CONSOLEPW", bad)
                raise AssertionError(bad)
            except ValueError:
                pass
        assert b.settings.get("CONSOLEPW") == ""
        assert b.cmd('AT#CONSOLEPW="%s"' % ("x" * 64)) == OK
        assert b.cmd('AT#CONSOLEPW=""') == OK  # cleared: the console asks for one again
        assert b.settings.get("CONSOLEPW") == ""


def test_a_stored_password_that_is_no_hash_is_dropped_at_boot():
    with Bench() as b:
        b.settings.params["CONSOLEPW"] = SECRET  # as if someone wrote the file by hand
        b.settings.save()
        again = new_settings(b.dir.path)
        assert again.get("CONSOLEPW") == ""
        assert "bad stored CONSOLEPW, default used" in again.problems
    for bad in ("s1$" + "0" * 81, "s1$" + "g" * 16 + "$" + "0" * 64, 5, None):
        assert not pwhash.is_stored(bad), bad


def test_console_switch():
    with Bench() as b:
        assert b.cmd("AT#CONSOLE?") == b"\r\n#CONSOLE: 1\r\n" + OK
        assert b.cmd("AT#CONSOLE=?") == b"\r\n#CONSOLE: (0-1)\r\n" + OK
        assert b.cmd("AT#CONSOLE=2") == cme(34882)
        assert b.cmd("AT#CONSOLE=0") == OK
        assert new_settings(b.dir.path).get("CONSOLE") == 0
        b.modem.is_busy = True  # a session runs: locked like every parameter
        assert b.cmd("AT#CONSOLE=1") == cme(37123)
        assert b.cmd('AT#CONSOLEPW="%s"' % SECRET) == cme(37123)


# --- login pause, sessions, tokens ------------------------------------------------------------


class Clock:
    def __init__(self):
        self.now = 1000

    def __call__(self):
        return self.now


def test_the_pause_grows_after_each_failure_and_is_bounded():
    assert console_auth.pause_for(0) == 0
    assert [console_auth.pause_for(n) for n in (1, 2, 3, 4, 5)] == [1000, 2000, 4000, 8000, 16000]
    assert console_auth.pause_for(6) == console_auth.PAUSE_MAX_MS == 30000
    assert console_auth.pause_for(10**6) == 30000
    with Bench() as b:
        clock = Clock()
        auth = console_auth.Auth(b.settings, clock)
        assert auth.pause_left() == 0
        assert auth.failed() == 1000 and auth.pause_left() == 1000
        clock.now += 400
        assert auth.pause_left() == 600
        clock.now += 600
        assert auth.pause_left() == 0
        assert auth.failed() == 2000 and auth.pause_left() == 2000
        auth.succeeded()
        assert auth.pause_left() == 0 and auth.failures == 0


def test_check_password():
    with Bench() as b:
        auth = console_auth.Auth(b.settings)
        assert not asyncio.run(auth.check(SECRET))  # none set: nothing matches
        assert not asyncio.run(auth.check(""))
        assert b.cmd('AT#CONSOLEPW="%s"' % SECRET) == OK
        assert auth.password_set()
        assert asyncio.run(auth.check(SECRET))
        for wrong in ("", SECRET[:-1], SECRET + " ", SECRET.lower(), None):
            assert not asyncio.run(auth.check(wrong)), wrong


def test_sessions_expire_are_bounded_and_tokens_compare_whole():
    with Bench() as b:
        clock = Clock()
        auth = console_auth.Auth(b.settings, clock)
        s = auth.open_session()
        assert len(s.token) == 32 and len(s.csrf) == 32 and s.token != s.csrf
        assert auth.session_of({console_auth.COOKIE: s.token}) is s
        assert auth.session_of({console_auth.COOKIE: s.token[:-1]}) is None
        assert auth.session_of({console_auth.COOKIE: s.csrf}) is None
        assert auth.session_of({}) is None
        clock.now += console_auth.IDLE_MS - 1  # in use: stays
        assert auth.session_of({console_auth.COOKIE: s.token}) is s
        clock.now += console_auth.IDLE_MS  # idle too long: gone
        assert auth.session_of({console_auth.COOKIE: s.token}) is None
        many = [auth.open_session() for _ in range(console_auth.MAX_SESSIONS + 3)]
        assert len(auth.sessions) == console_auth.MAX_SESSIONS
        assert auth.sessions == many[-console_auth.MAX_SESSIONS :]
        auth.close_others(many[-1])
        assert auth.sessions == [many[-1]]
    assert console_auth.same("abc", "abc")
    for a, b in (("abc", "abd"), ("abc", "ab"), ("", ""), (None, "x"), ("x", None)):
        assert not console_auth.same(a, b), (a, b)
    cookie = console_auth.cookie("mtip_session", "t0k")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/" in cookie


# --- settings forms: AT's own path ------------------------------------------------------------


def all_fields(modem):
    """A form as the settings page sends it unchanged: every field with its shown value."""
    form = {}
    st = modem.settings
    for key, _title, names in console_settings.groups():
        if key == "tcp":
            for name in console_settings.profile_names():
                for p in cfg.PROFILES:
                    spec = cfg.PROFILE_PARAMS[name]
                    form["%s.%d" % (name, p)] = console_settings.shown(spec, st.get(name, p))
        for name in names:
            spec = cfg.spec_of(name)
            text = console_settings.shown(spec, st.get(name))
            form[name] = "" if console_settings.is_secret(name) else text
    return form


def test_the_groups_name_every_parameter_once():
    seen = []
    for _key, _title, names in console_settings.groups():
        seen += list(names)
    assert len(seen) == len(set(seen))
    want = set(cfg.global_names()) - set(cfg.HASHED_PARAMS)
    assert set(seen) == want, sorted(want ^ set(seen))
    assert set(console_settings.profile_names()) == set(cfg.PROFILE_PARAMS)
    for secret in ("WIFIPW", "SMTPPW", "POP3PW", "FTPPW", "APNPW"):
        assert console_settings.is_secret(secret), secret


def test_an_unchanged_form_changes_nothing_even_while_busy():
    with Bench() as b:
        m = with_console_path(b)
        assert console_settings.changes(m, all_fields(m)) == []
        m.is_busy = True
        assert console_settings.apply(m, all_fields(m)) == [("msg", "nothing changed")]


def test_a_change_goes_through_at_with_the_same_reasons():
    with Bench() as b:
        m = with_console_path(b)
        form = all_fields(m)
        form["TCPPORT.2"] = "5123"
        form["TCPTXDELAY.1"] = "30"  # not a multiple of 20: AT says 34882
        form["REC1"] = "a@example.com, b@example.com"
        form["WIFIPW"] = "wifi-secret"
        form["v250.IPR"] = "9600"
        got = console_settings.apply(m, form)
        assert ("ok", "#TCPPORT (profile 2): stored") in got, got
        assert (
            "err",
            "#TCPTXDELAY (profile 1): refused: invalid value (#CME ERROR: 34882)",
        ) in got, got
        assert b.cmd("AT#TCPTXDELAY=1,30") == cme(34882)  # the same answer from AT
        assert ("ok", "#WIFIPW: stored (not shown)") in got, got
        assert b.cmd("AT#TCPPORT=2") == b"\r\n#TCPPORT: 2,5123\r\n" + OK
        assert b.cmd("AT#REC1?") == b'\r\n#REC1: "a@example.com","b@example.com"\r\n' + OK
        assert b.settings.get("WIFIPW") == "wifi-secret"
        assert b.settings.saved_profile["IPR"] == 9600 and b.settings.profile["IPR"] == 115200
        stored = new_settings(b.dir.path)  # the file AT reads
        assert stored.get("TCPPORT", 2) == 5123 and stored.saved_profile["IPR"] == 9600
        form = all_fields(m)
        form["WIFIPW"] = ""
        form["clear.WIFIPW"] = "1"
        assert console_settings.apply(m, form) == [("ok", "#WIFIPW: stored (not shown)")]
        assert b.settings.get("WIFIPW") == ""


def test_a_change_while_busy_is_refused_like_37123():
    with Bench() as b:
        m = with_console_path(b)
        m.is_busy = True
        form = all_fields(m)
        form["TCPPORT.1"] = "6000"
        form["v250.E"] = "0"
        got = console_settings.apply(m, form)
        reason = "refused: a session, listener or service is running (#CME ERROR: 37123)"
        assert got == [
            ("err", "#TCPPORT (profile 1): " + reason),
            ("err", "E (saved profile): " + reason),
        ]
        assert b.cmd("AT#TCPPORT=1,6000") == cme(37123)
        assert b.settings.get("TCPPORT", 1) == 0 and b.settings.saved_profile["E"] == 1
