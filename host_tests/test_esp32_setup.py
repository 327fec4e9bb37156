# The set-up access point (boards/esp32/setup_ap.py) against the fake network.WLAN (STA and AP),
# with its captive DNS on a real loopback socket, and the console/set-up wiring of app.py.
# SetupAP.poll() is driven with explicit times (no waiting on its timers); joins take the fake
# driver's real milliseconds. Dual runtime: pytest, and
# `micropython host_tests/test_esp32_setup.py` (host_tests/test_esp32_vm.py runs it).

import esp32_env

isolate = getattr(esp32_env, "isolate", None)  # pytest fixture: sys.path / sys.modules hygiene
ROOT = esp32_env.setup()

import asyncio  # noqa: E402
import os  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

SSID, PW = "plant", "pw-1234"
AFTER, LINGER, HOLD, RETRY, TIMEOUT = 180000, 30000, 600000, 60000, 15000
MARGIN = 2000  # setup_ap._MARGIN_MS


class Cfg:
    def __init__(self, **kw):
        import board_config

        for name in dir(board_config):
            if name.isupper():
                setattr(self, name, getattr(board_config, name))
        self.SETUP_AP_IP = "127.0.0.1"
        self.WIFI_JOIN_TIMEOUT_MS = TIMEOUT
        for k, v in kw.items():
            setattr(self, k, v)


class Creds:
    def __init__(self, ssid=SSID, pw=PW):
        self.ssid, self.pw = ssid, pw

    def __call__(self):
        return self.ssid, self.pw


_n = [0]


def tmpdir(tag):
    _n[0] += 1
    pid = os.getpid() if hasattr(os, "getpid") else 0
    path = "/tmp/mtip-setup-%s-%d-%d" % (tag, pid, _n[0])
    try:
        os.mkdir(path)
    except OSError:
        pass
    for name in ("setup_ap.key", "setup_ap.key.tmp", "settings.json"):
        try:
            os.remove(path + "/" + name)
        except OSError:
            pass
    return path


def sleep_ms(ms):
    if hasattr(time, "sleep_ms"):
        time.sleep_ms(ms)
    else:
        time.sleep(ms / 1000)


def wait_for(pred, ms=2000):
    for _ in range(ms // 5):
        if pred():
            return True
        sleep_ms(5)
    return pred()


class Board:
    """A WifiNet and a SetupAP over the fakes; logs (AT#VLOG) and shown (REPL) kept apart."""

    def __init__(self, aps=None, creds=None, pin=False, state=None, **cfg):
        import network
        import setup_ap
        import wifi

        network.WLAN.power_cycle()
        network.AIR.aps = {SSID: [PW, -58]} if aps is None else aps
        self.network = network
        self.state = state or tmpdir("state")
        self.cfg = Cfg(STATE_DIR=self.state, **cfg)
        self.creds = creds or Creds()
        self.logs = []
        self.shown = []
        self.sta = network.WLAN(network.STA_IF)
        self.ap = network.WLAN(network.AP_IF)
        self.net = wifi.WifiNet(self.sta, self.creds, TIMEOUT, 150, log=self.logs.append)
        self.dns_port = esp32_env.free_udp_port(48001, 48200)
        self.setup = setup_ap.SetupAP(
            self.cfg,
            self.net,
            self.ap,
            self.state,
            pin,
            self.logs.append,
            self.shown.append,
            self.dns_port,
        )
        self.net.setup = self.setup

    def poll(self, now):
        self.net.poll()
        self.setup.poll(now)
        return self.setup.status()


def dns_ask(name="connectivitycheck.gstatic.com", qid=0x1234):
    q = bytes((qid >> 8, qid & 255, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0))
    for label in name.split("."):
        q += bytes((len(label),)) + label.encode()
    return q + b"\x00\x00\x01\x00\x01"


async def dns_query(port, ms=1000):
    return await esp32_env.dns_query(port, dns_ask(), ms)


def go(board, body):
    async def main():
        try:
            await body(board)
        finally:
            if board.setup.status() is not None:
                board.setup.close("test over")
            await asyncio.sleep(0.01)

    asyncio.run(main())


def no_secret_logged(board):
    key = board.setup.key
    assert key and not any(key in line for line in board.logs), board.logs


# --- opening: the three reasons ------------------------------------------------------------------


def test_no_wifi_configured_opens_the_ap_with_its_dns():
    b = Board(creds=Creds("", ""))

    async def body(b):
        st = b.poll(0)
        assert st == {
            "ssid": "MTIP-SETUP-ABCD",
            "ip": "127.0.0.1",
            "why": "no WiFi network configured",
        }
        ap = b.ap
        assert ap.active() and ap.ssid == "MTIP-SETUP-ABCD"
        assert ap.security == b.network.WLAN.SEC_WPA2 and ap.key == b.setup.key
        assert ap.max_clients == 2
        assert ap.ip == ("127.0.0.1", "255.255.255.0", "127.0.0.1", "127.0.0.1")
        # configured before it went on air, then again once up
        kinds = [h[0] for h in ap.history]
        assert kinds[:2] == ["config", "active"] and "ifconfig" in kinds
        assert b.net.setup_ap() == st  # what the console reads
        r = await dns_query(b.dns_port)
        assert r is not None and r[-4:] == bytes((127, 0, 0, 1)) and r[3] & 15 == 0
        assert any(b.setup.key in line for line in b.shown)  # the REPL shows the password
        no_secret_logged(b)

    go(b, body)


def test_join_failing_for_a_while_opens_it_and_pauses_the_join():
    b = Board(aps={})  # the configured network is nowhere

    async def body(b):
        b.net.start()
        assert b.poll(0) is None
        assert b.poll(AFTER - 1000) is None
        st = b.poll(AFTER)
        assert st["why"] == "WiFi 'plant' not joined for 180 s"
        assert b.net.joining()
        b.poll(AFTER + 1000)  # failing since 0, far beyond the join timeout: paused at once
        assert b.net.held() and not b.net.joining()
        assert b.sta.disconnect_calls == 1

    go(b, body)


def test_join_failing_never_opens_it_when_switched_off():
    b = Board(aps={}, SETUP_AP_AFTER_MS=0)

    async def body(b):
        b.net.start()
        for t in (0, AFTER, 10 * AFTER):
            assert b.poll(t) is None
        assert not b.ap.active()

    go(b, body)


def test_setup_pin_opens_it_with_wifi_working_and_holds_it_open():
    b = Board(pin=True)

    async def body(b):
        b.net.start()
        assert wait_for(b.net.attached)
        assert b.poll(0)["why"] == "set-up pin held at boot"
        assert b.poll(LINGER + 1000) is not None  # WiFi works, but the button asked for time
        assert b.poll(HOLD - 1) is not None
        assert b.poll(HOLD) is None and not b.ap.active()
        assert b.poll(HOLD + AFTER) is None  # the press is used up: it stays closed

    go(b, body)


def test_wifi_working_opens_nothing():
    b = Board()

    async def body(b):
        b.net.start()
        assert wait_for(b.net.attached)
        for t in (0, AFTER, 2 * AFTER):
            assert b.poll(t) is None
        assert b.ap.history == []

    go(b, body)


# --- closing: back to station mode ---------------------------------------------------------------


def test_back_to_station_mode_once_wifi_works():
    creds = Creds("", "")
    b = Board(creds=creds)

    async def body(b):
        assert b.poll(0) is not None
        assert await dns_query(b.dns_port) is not None
        creds.ssid, creds.pw = SSID, PW  # AT#WIFISSID / AT#WIFIPW
        b.poll(1000)  # WifiNet.poll starts the join
        assert wait_for(b.net.attached)
        assert b.poll(2000) is not None  # joined: the linger starts
        assert b.poll(2000 + LINGER - 1) is not None
        assert b.poll(2000 + LINGER) is None
        assert not b.ap.active() and b.net.setup_ap() is None
        assert b.setup.dns is None
        assert await dns_query(b.dns_port, 300) is None  # the DNS is gone...
        again = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        again.bind(socket.getaddrinfo("127.0.0.1", b.dns_port, 0, socket.SOCK_DGRAM)[0][-1])
        again.close()  # ... and its port free
        assert any("closed" in line and "works" in line for line in b.logs)

    go(b, body)


def test_a_drop_during_the_linger_keeps_it_open():
    creds = Creds("", "")
    b = Board(creds=creds)

    async def body(b):
        b.poll(0)
        creds.ssid, creds.pw = SSID, PW
        b.net.poll()
        assert wait_for(b.net.attached)
        b.poll(1000)
        b.sta.drop()  # beacon timeout; the driver reconnects by itself
        assert b.poll(1000 + LINGER) is not None
        assert wait_for(b.net.attached)
        b.poll(2000 + LINGER)
        assert b.poll(2000 + 2 * LINGER) is None  # a full linger after the link came back

    go(b, body)


def upy_test_timers_survive_the_ticks_wrap():
    # ticks_ms() wraps (after 2**30 ms on the ESP32): every timer is a ticks_diff, never a sum.
    b = Board(aps={}, pin=True)
    start = time.ticks_add(0, -(HOLD // 2))  # the wrap comes half-way through the pin's hold

    def at(ms):
        return time.ticks_add(start, ms)

    async def body(b):
        b.net.start()
        assert b.poll(at(0))["why"] == "set-up pin held at boot"
        b.poll(at(TIMEOUT + MARGIN))  # failing since boot: paused
        assert b.net.held()
        b.poll(at(TIMEOUT + MARGIN + RETRY - 1))
        assert b.net.held()
        b.network.AIR.aps[SSID] = [PW, -60]
        b.poll(at(TIMEOUT + MARGIN + RETRY))  # the retry, across no wrap yet
        assert wait_for(b.net.attached)
        b.poll(at(TIMEOUT + MARGIN + RETRY + 1))
        assert b.poll(at(HOLD - 1)) is not None  # past the wrap, the hold still counts
        assert b.poll(at(HOLD)) is None

    go(b, body)


# --- the station's join while the AP is open ---------------------------------------------------


def test_the_join_is_retried_rarely_and_less_while_a_phone_is_on():
    b = Board(aps={})

    async def body(b):
        b.net.start()
        b.poll(0)
        b.poll(AFTER)  # open
        b.poll(AFTER + 1)  # paused (failing since 0)
        assert b.net.held() and b.sta.connect_calls == 1
        t = AFTER + 1
        assert b.poll(t + RETRY - 1) and b.net.held()
        b.poll(t + RETRY)  # the retry
        assert b.net.joining() and b.sta.connect_calls == 2
        t2 = t + RETRY
        b.poll(t2 + TIMEOUT + MARGIN - 1)
        assert b.net.joining()  # each try gets the full timeout
        b.network.AIR.ap_stations = 1  # a phone is using the console now
        b.poll(t2 + TIMEOUT + MARGIN)
        assert b.net.held()
        t3 = t2 + TIMEOUT + MARGIN
        b.poll(t3 + RETRY)
        assert b.net.held() and b.sta.connect_calls == 2  # the phone keeps the radio
        b.network.AIR.aps[SSID] = [PW, -60]  # the plant's AP is back
        b.poll(t3 + 5 * RETRY)
        assert b.sta.connect_calls == 3
        assert wait_for(b.net.attached)
        b.poll(t3 + 5 * RETRY + 100)
        assert b.poll(t3 + 5 * RETRY + 100 + LINGER) is None  # back to station mode

    go(b, body)


def test_the_consoles_join_works_while_the_ap_is_open():
    b = Board(aps={"office": ["office-pw", -50]}, creds=None)
    import settings

    class Modem:
        def __init__(self):
            self.settings = settings.Settings(settings.Store(b.state))
            self.session = self.service = self.listener = None

        def busy(self):
            return False

    b.net.modem = Modem()
    st = b.net.modem.settings
    b.creds.ssid, b.creds.pw = "", ""
    b.net._creds = lambda: (st.get("WIFISSID"), st.get("WIFIPW"))

    async def body(b):
        assert b.poll(0)["why"] == "no WiFi network configured"
        rows = await b.net.scan()  # the station comes on for it: AP and station together
        assert rows == [{"ssid": "office", "rssi": -50, "secure": True}] and b.ap.active()
        ok, detail = await b.net.join("office", "wrong-pw")
        assert not ok and "wrong password" in detail
        assert b.poll(1000) is not None
        ok, detail = await b.net.join("office", "office-pw")
        assert ok, detail
        assert b.poll(2000) is not None  # still open: the page shows the result
        assert b.poll(2000 + LINGER) is None
        assert not any("office-pw" in line or "wrong-pw" in line for line in b.logs)

    go(b, body)


def test_console_switched_off_closes_it():
    import settings

    b = Board(creds=Creds("", ""))

    class Modem:
        def __init__(self):
            self.settings = settings.Settings(settings.Store(b.state))

    b.net.modem = Modem()

    async def body(b):
        assert b.poll(0) is not None
        b.net.modem.settings.set("CONSOLE", 0)  # AT#CONSOLE=0
        assert b.poll(1000) is None and not b.ap.active() and b.setup.dns is None
        assert b.poll(2000) is None  # and it stays closed
        b.net.modem.settings.set("CONSOLE", 1)  # the console comes back at the next boot only
        assert b.poll(3000) is None

    go(b, body)


# --- how it opens ------------------------------------------------------------------------------


def test_password_is_made_once_and_kept():
    state = tmpdir("key")
    b = Board(creds=Creds("", ""), state=state)
    key = b.setup.key
    assert len(key) == 14 and key[4] == "-" and key[9] == "-"
    chars = key.replace("-", "")
    assert all(c in "abcdefghjkmnpqrstuvwxyz23456789" for c in chars)
    assert open(state + "/setup_ap.key").read().strip() == key
    again = Board(creds=Creds("", ""), state=state)
    assert again.setup.key == key  # the label on the box stays right
    b.setup.announce()  # app.start_setup() does this at boot
    assert "MTIP-SETUP-ABCD" in b.shown[-1] and key in b.shown[-1]


def test_password_from_board_config_and_a_bad_one_ignored():
    b = Board(creds=Creds("", ""), SETUP_AP_PASSWORD="board-secret")
    assert b.setup.key == "board-secret"
    b = Board(creds=Creds("", ""), SETUP_AP_PASSWORD="short")
    assert b.setup.key != "short" and len(b.setup.key) == 14
    assert any("SETUP_AP_PASSWORD" in line for line in b.logs)
    assert not any("short" in line for line in b.logs)


def test_open_network_when_configured():
    b = Board(creds=Creds("", ""), SETUP_AP_PASSWORD="")

    async def body(b):
        b.poll(0)
        assert b.ap.active() and b.ap.security == b.network.WLAN.SEC_OPEN and b.ap.key == ""
        assert "no password" in b.shown[-1]

    go(b, body)


def test_a_failure_to_open_is_retried_later():
    b = Board(creds=Creds("", ""))
    real = b.ap.active
    fails = [1]

    def flaky(on=None):
        if on and fails[0]:
            fails[0] -= 1
            raise OSError("Wifi Internal Error")
        return real(on)

    b.ap.active = flaky

    async def body(b):
        assert b.poll(0) is None and not real()
        assert any("could not open" in line for line in b.logs)
        assert b.poll(RETRY - 1) is None
        assert b.poll(RETRY) is not None and real()

    go(b, body)


def test_dns_port_taken_still_opens_the_ap():
    b = Board(creds=Creds("", ""))
    hog = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    hog.bind(socket.getaddrinfo("127.0.0.1", b.dns_port, 0, socket.SOCK_DGRAM)[0][-1])

    async def body(b):
        assert b.poll(0) is not None and b.setup.dns is None
        assert any("no captive DNS" in line for line in b.logs)

    try:
        go(b, body)
    finally:
        hog.close()


def test_ap_name_and_new_keys():
    import setup_ap

    assert setup_ap.ap_ssid(b"\x24\x0a\xc4\x12\x0b\xcd") == "MTIP-SETUP-0BCD"
    keys = set(setup_ap.new_key() for _ in range(20))
    assert len(keys) == 20 and all(setup_ap.good_key(k) for k in keys)
    assert not setup_ap.good_key("1234567") and not setup_ap.good_key("x" * 64)
    assert not setup_ap.good_key("tab\there1") and setup_ap.good_key("x" * 63)


# --- app.py's SetupWatch: setup_ap.py stays out of the heap until the AP must open ------------


class WatchParts:
    def __init__(self, board):
        import settings

        class M:
            pass

        self.net = board.net
        self.modem = M()
        self.modem.settings = settings.Settings(settings.Store(board.state))
        self.modem.lines = []
        self.modem.log = self.modem.lines.append
        self.setup = None


def watch_for(board, pin=False):
    import sys

    import app

    sys.modules.pop("setup_ap", None)
    parts = WatchParts(board)
    shown = []
    w = app.start_setup(board.cfg, parts, pin, shown.append, board.dns_port)
    assert parts.setup is w and board.net.setup is w
    assert "setup_ap" not in sys.modules, "loaded for the announcement only, then dropped"
    return w, shown, parts


def test_watch_never_loads_setup_ap_while_wifi_works():
    import sys

    b = Board()
    w, shown, parts = watch_for(b)
    key = open(b.state + "/setup_ap.key").read().strip()
    assert shown == ["set-up access point MTIP-SETUP-ABCD, password %s (opens when WiFi is "
                     "missing; board_config SETUP_*)" % key]  # fmt: skip
    assert not any(key in line for line in parts.modem.lines)
    b.net.start()
    assert wait_for(b.net.attached)
    for t in (0, AFTER, 3 * AFTER):
        w.poll(t)
        assert w.status() is None and b.net.setup_ap() is None
    assert "setup_ap" not in sys.modules and w.ap is None


def test_watch_opens_for_each_reason():
    async def body(b, w, expect, times):
        for t in times[:-1]:
            w.poll(t)
            assert w.status() is None, t
        w.poll(times[-1])
        st = w.status()
        assert st is not None and st["why"] == expect, st
        assert b.net.setup_ap() == st and b.ap.active()
        w.ap.close("test over")

    b = Board(creds=Creds("", ""))
    w, _, _ = watch_for(b)
    asyncio.run(body(b, w, "no WiFi network configured", [0]))

    b = Board(aps={})
    b.net.start()
    w, _, _ = watch_for(b)
    # failing since the watch's first look at 0: opens at AFTER, not AFTER after loading
    asyncio.run(body(b, w, "WiFi 'plant' not joined for 180 s", [0, AFTER - 1, AFTER]))

    b = Board()
    b.net.start()
    assert wait_for(b.net.attached)
    w, _, _ = watch_for(b, pin=True)
    asyncio.run(body(b, w, "set-up pin held at boot", [0]))


def test_watch_with_the_console_off_loads_nothing():
    import sys

    b = Board(creds=Creds("", ""))
    w, _, parts = watch_for(b)
    parts.modem.settings.set("CONSOLE", 0)
    w.poll(0)
    assert w.status() is None and "setup_ap" not in sys.modules


# --- app.py: the pin, the console, the wiring --------------------------------------------------


def test_setup_pin_held_at_boot():
    import app
    import machine

    machine.Pin.levels = {}
    assert not app.setup_pin_held(Cfg(SETUP_PIN=None))
    assert not app.setup_pin_held(Cfg(SETUP_PIN=4))
    machine.Pin.levels[4] = 0
    assert app.setup_pin_held(Cfg(SETUP_PIN=4))
    machine.Pin.levels[0] = 0
    assert not app.setup_pin_held(Cfg(SETUP_PIN=0, SAFE_MODE_PIN=0))  # safe mode's pin
    machine.Pin.levels = {}


class ConsoleStub:
    """Stands in for firmware/console.py (engineer A's) in these tests only."""

    def __init__(self, fail=None, coroutine=False, fail_later=None):
        self.calls = []
        self.fail = fail
        self.fail_later = fail_later
        self.coroutine = coroutine
        self.served = []

    def start(self, modem, host, port):
        self.calls.append((modem, host, port))
        if self.fail:
            raise self.fail
        if self.coroutine:
            return self.serve()
        return None

    async def serve(self):  # like console.start(): binds (may raise), then returns
        if self.fail_later:
            raise self.fail_later
        self.served.append(1)


class Parts:
    def __init__(self, console_on=1):
        import settings

        class M:
            pass

        self.modem = M()
        self.modem.settings = settings.Settings(settings.Store(tmpdir("console")))
        if "CONSOLE" in settings.GLOBAL_PARAMS:
            self.modem.settings.set("CONSOLE", console_on)
        self.modem.lines = []
        self.modem.log = self.modem.lines.append
        self.net = None
        self.console = False
        self.setup = None


def test_console_started_on_all_addresses():
    import app

    stub = ConsoleStub()
    parts = Parts()
    assert asyncio.run(app.start_console(Cfg(), parts, lambda: stub)) and parts.console
    assert stub.calls == [(parts.modem, "0.0.0.0", 80)]


def test_console_off_starts_nothing():
    import app
    import settings

    if "CONSOLE" not in settings.GLOBAL_PARAMS:
        raise AssertionError("AT#CONSOLE is missing from settings.GLOBAL_PARAMS")
    stub = ConsoleStub()
    parts = Parts(console_on=0)
    assert not asyncio.run(app.start_console(Cfg(), parts, lambda: stub))
    assert stub.calls == [] and "off" in parts.modem.lines[-1]


def test_console_missing_or_failing_leaves_the_modem_running():
    import app

    def missing():
        raise ImportError("no module named 'console'")

    parts = Parts()
    assert not asyncio.run(app.start_console(Cfg(), parts, missing))
    assert "not installed" in parts.modem.lines[-1]
    stub = ConsoleStub(fail=OSError(98, "EADDRINUSE"))
    assert not asyncio.run(app.start_console(Cfg(), parts, lambda: stub))
    assert "failed to start" in parts.modem.lines[-1] and not parts.console
    stub = ConsoleStub(coroutine=True, fail_later=OSError(98, "EADDRINUSE"))
    assert not asyncio.run(app.start_console(Cfg(), parts, lambda: stub))
    assert "EADDRINUSE" in parts.modem.lines[-1] and not parts.console


def test_console_never_starves_the_modem_of_heap():
    """Too little free heap, or a MemoryError while the console loads: no console, the modem
    runs on (and what was loaded is dropped again)."""
    import gc

    import app

    stub = ConsoleStub()
    parts = Parts()
    cfg = Cfg()
    if hasattr(gc, "mem_free"):  # (the MicroPython VM: the check reads the free heap)
        cfg.CONSOLE_MIN_FREE = gc.mem_free() + (1 << 30)
        assert not asyncio.run(app.start_console(cfg, parts, lambda: stub))
        assert "KiB free" in parts.modem.lines[-1] and stub.calls == [] and not parts.console

    def too_big():
        sys.modules["console_stub_half_loaded"] = object()
        raise MemoryError("memory allocation failed")

    assert not asyncio.run(app.start_console(Cfg(), parts, too_big))
    assert "out of heap" in parts.modem.lines[-1] and not parts.console
    assert "console_stub_half_loaded" not in sys.modules


def test_console_start_may_be_a_coroutine():
    import app

    stub = ConsoleStub(coroutine=True)
    parts = Parts()
    assert asyncio.run(app.start_console(Cfg(), parts, lambda: stub))
    assert stub.served == [1] and parts.console


if __name__ == "__main__":
    if sys.implementation.name == "micropython":
        for _name in list(globals()):
            if _name.startswith("upy_test_"):
                globals()["test_" + _name[4:]] = globals()[_name]
    esp32_env.run_tests(globals())
