# The ESP32 application layer: hooks.py, safemode.py, boot.py, app.py.
#
# test_* run under pytest and the MicroPython VM. upy_test_* run the real engine
# (firmware/modem.py) over EspUart + the fake UART + the fake WLAN, so they need MicroPython's
# asyncio (the engine uses its I/O queue); host_tests/test_esp32_vm.py runs this file with
# `micropython` for pytest.

import esp32_env

isolate = getattr(esp32_env, "isolate", None)  # pytest fixture: sys.path / sys.modules hygiene
ROOT = esp32_env.setup()

import os  # noqa: E402
import sys  # noqa: E402

SSID, PW = "plant", "pw-1234"


class Cfg:
    """board_config with test values (the real file's names, so a typo shows up)."""

    def __init__(self, **kw):
        import board_config

        for name in dir(board_config):
            if name.isupper():
                setattr(self, name, getattr(board_config, name))
        self.SAFE_MODE_FLAG = "/nonexistent/mtip-safemode"
        self.STATE_DIR = tmpdir("state")
        for k, v in kw.items():
            setattr(self, k, v)


_tmp_n = [0]


def tmpdir(tag):
    _tmp_n[0] += 1
    path = "/tmp/mtip-esp32-%s-%d-%d" % (
        tag,
        os.getpid() if hasattr(os, "getpid") else 0,
        _tmp_n[0],
    )
    try:
        os.mkdir(path)
    except OSError:
        pass
    for name in ("settings.json", "settings.json.tmp", "setup_ap.key"):  # (MicroPython: pid 0)
        try:
            os.remove(path + "/" + name)
        except OSError:
            pass
    return path


def pins():
    import machine

    machine.Pin.levels = {}
    return machine


# --- hooks -------------------------------------------------------------------------------------


class StreamSpy:
    def __init__(self):
        self.calls = []

    def apply_serial(self, baud, rts, cts):
        self.calls.append((baud, rts, cts))

    def settings(self):
        return self.calls[-1]


def test_hooks_drive_lines_active_low():
    import hooks

    machine = pins()
    dcd, dsr, ri = machine.Pin(21, machine.Pin.OUT), machine.Pin(22, machine.Pin.OUT), None
    h = hooks.Hooks(StreamSpy(), dcd=dcd, dsr=dsr, ri=ri)
    assert dcd.value() == 1 and dsr.value() == 1  # deasserted = high TTL = negative RS-232
    h.set_dcd(True)
    assert dcd.value() == 0
    h.set_dcd(False)
    assert dcd.value() == 1
    h.set_dsr(True)
    assert dsr.value() == 0
    h.set_ri(True)  # not wired: nothing happens


def test_hooks_active_high():
    import hooks

    machine = pins()
    dcd = machine.Pin(21, machine.Pin.OUT)
    h = hooks.Hooks(StreamSpy(), dcd=dcd, active_low=False)
    h.set_dcd(True)
    assert dcd.value() == 1


def test_hooks_dtr_level_and_drops():
    import hooks

    machine = pins()
    dtr = machine.Pin(23, machine.Pin.IN, machine.Pin.PULL_UP)
    dtr.drive(0)  # asserted (low TTL)
    h = hooks.Hooks(StreamSpy(), dtr=dtr)
    assert h.dtr() and h.dtr_drops() == 0
    dtr.drive(1)  # dropped
    assert not h.dtr() and h.dtr_drops() == 1
    dtr.drive(0)
    dtr.drive(1)
    dtr.drive(0)  # a short pulse between two polls still counts
    assert h.dtr() and h.dtr_drops() == 2
    assert hooks.Hooks(StreamSpy()).dtr()  # not wired: always asserted


def test_hooks_apply_serial_and_reset():
    import hooks

    spy = StreamSpy()
    log = []
    resets = []
    h = hooks.Hooks(spy, log=log.append, reset=lambda: resets.append(1))
    h.apply_serial(9600, True, False)
    assert spy.calls == [(9600, True, False)]
    assert "9600" in log[-1]
    h.reset()
    assert resets == [1]
    hooks.Hooks(spy).reset()  # default: the engine's application reset is all there is


# --- safe mode and boot.py ----------------------------------------------------------------------


def test_safemode_flag_file():
    import safemode

    pins()
    flag = tmpdir("flag") + "/safemode"
    open(flag, "w").close()
    cfg = Cfg(SAFE_MODE_FLAG=flag)
    assert "flag file" in safemode.decide(cfg)
    os.remove(flag)
    assert safemode.decide(cfg) is None


def test_safemode_pin_held_low_during_window():
    import safemode

    machine = pins()
    cfg = Cfg(SAFE_MODE_PIN=0)
    safemode.reason = None
    slept = []

    def sleep_ms(ms):
        slept.append(ms)
        if len(slept) == 3:  # the user presses BOOT a little after reset
            machine.Pin.levels[0] = 0

    assert "pin 0 held low" in safemode.watch(cfg, sleep_ms, 1000)
    assert len(slept) == 3
    machine.Pin.levels[0] = 1
    safemode.reason = None
    assert safemode.watch(cfg, lambda ms: None, 200) is None


def test_boot_py_never_raises():
    import safemode

    pins()
    src = open(ROOT + "/boards/esp32/boot.py").read()
    exec(src, {"__name__": "boot"})
    assert safemode.reason is None


def test_main_py_is_a_two_line_launcher():
    lines = [ln for ln in open(ROOT + "/boards/esp32/main.py").read().split("\n") if ln.strip()]
    assert lines == ["import app", "app.main()"]


def test_main_in_safe_mode_starts_nothing():
    import app
    import board_config
    import safemode

    machine = pins()
    flag = tmpdir("flag2") + "/safemode"
    open(flag, "w").close()
    saved = board_config.SAFE_MODE_FLAG
    board_config.SAFE_MODE_FLAG = flag
    safemode.reason = None
    try:
        machine.WDT.last = None
        app.main()  # returns at once; no UART, no WDT
        assert machine.WDT.last is None
    finally:
        board_config.SAFE_MODE_FLAG = saved
        safemode.reason = None
        os.remove(flag)


def test_make_uart_follows_config():
    import app

    machine = pins()
    u = app.make_uart(Cfg())
    assert u.id == 2 and u.baudrate == 115200
    assert u.pins == {"tx": 17, "rx": 16, "rts": 18, "cts": 19}
    assert u.flow == machine.UART.RTS | machine.UART.CTS
    assert u.timeout == 0 and u.timeout_char == 0 and u.rxbuf == 4096 and u.txbuf == 2048
    u = app.make_uart(Cfg(RTS_PIN=None, CTS_PIN=None))
    assert u.flow == 0 and u.pins["rts"] is None


def test_reset_cause_names():
    import app

    machine = pins()
    machine.set_reset_cause(machine.WDT_RESET)
    assert app.reset_cause().startswith("WDT_RESET")
    machine.set_reset_cause(machine.PWRON_RESET)


def test_log_snapshot_survives_in_rtc_memory():
    import app

    class RTC:
        mem = b""

        def memory(self, data=None):
            if data is None:
                return self.mem
            self.mem = bytes(data)

    rtc = RTC()
    app.save_log(rtc, ["123 bearer up 10.0.0.2", "456 engine failed"])
    got = []
    app.restore_log(rtc, got.append)
    assert got == ["before reset: 123 bearer up 10.0.0.2", "before reset: 456 engine failed"]
    assert rtc.mem == b""
    app.save_log(rtc, ["x" * 100] * 40)
    assert len(rtc.mem) <= 1600


# --- the engine on the ESP32 board code (MicroPython VM only) -----------------------------------


def _harness(cfg=None):
    import app
    import network

    pins()
    network.WLAN.power_cycle()
    network.AIR.aps = {SSID: [PW, -58]}
    log = []
    parts = app.build(cfg or Cfg(), console=log.append)
    parts.modem.settings.set("WIFISSID", SSID)
    parts.modem.settings.set("WIFIPW", PW)
    return parts, log


class Line:
    """Moves bytes over the fake wire while asyncio runs (the UART's ISR, in effect)."""

    def __init__(self, raw):
        self.raw = raw
        self.seen = 0

    async def run(self):
        import asyncio

        while True:
            self.raw.run(5)
            await asyncio.sleep_ms(5)

    async def expect(self, text, ms=3000):
        import asyncio

        text = text.encode()
        for _ in range(ms // 10):
            i = self.raw.wire.find(text, self.seen)
            if i >= 0:
                self.seen = i + len(text)
                return
            await asyncio.sleep_ms(10)
        raise AssertionError("%r not in %r" % (text, bytes(self.raw.wire[self.seen :])))

    async def command(self, cmd, expect="OK", ms=3000):
        self.raw.feed(cmd.encode() + b"\r")
        await self.expect(expect, ms)


def _run(test):
    import asyncio

    import app

    parts, log = _harness()

    class WDT:
        feeds = 0

        def feed(self):
            WDT.feeds += 1

    wdt = WDT()
    line = Line(parts.raw_uart)

    async def main():
        parts.net.start()
        sup = asyncio.create_task(app.supervise(parts, wdt, None, period_ms=20))
        wire = asyncio.create_task(line.run())
        try:
            await line.expect("+WIND: 4")
            await test(parts, line, wdt)
        finally:
            sup.cancel()
            wire.cancel()

    asyncio.run(main())
    return parts, log, wdt


def upy_test_at_commands_over_esp_uart():
    async def test(parts, line, wdt):
        await line.command("AT")
        await line.command("ATE0")
        await line.command("AT+CREG?", "+CREG: 0,1")  # WiFi joined at start-up = registered
        await line.command("AT+CSQ", "+CSQ: 27,99")  # -58 dBm
        await line.command("AT#VSTATE", '#STATE: "IDLE"')
        await line.command("AT#CONNECTIONSTART", "Ok_Info_GprsActivation")
        await line.command("AT#VSTATE", '#STATE: "CONNECTED"')
        await line.command("AT#DISPLAYIP", '#MY IP: "192.168.4.23"')
        assert wdt.feeds > 0

    _run(test)


def upy_test_cts_held_never_stalls_the_vm():
    async def test(parts, line, wdt):
        import asyncio

        raw = parts.raw_uart
        await line.command("ATE0")
        raw.cts_held = True  # the DTE stops taking data
        before = wdt.feeds
        for _ in range(30):  # ~30 x 300 bytes of AT#VALL output, far beyond the TX ring
            raw.feed(b"AT#VALL\r")
            await asyncio.sleep_ms(10)
        await asyncio.sleep_ms(200)
        assert wdt.feeds > before + 5  # the loop kept turning: the health task ran
        assert raw.tx_ring <= raw.txbuf // 2
        raw.cts_held = False
        for _ in range(29):
            await line.expect("OK", 5000)

    _run(test)


def upy_test_baud_change_after_ok():
    async def test(parts, line, wdt):
        raw = parts.raw_uart
        await line.command("AT+IPR=9600")
        init = raw.inits[-1]
        assert init["baudrate"] == 9600 and "_tx_lost" not in init
        await line.command("AT+IFC=0,0")
        assert raw.inits[-1]["flow"] == 0
        await line.command("AT+IFC=2,2")
        assert raw.inits[-1]["flow"] == raw.RTS | raw.CTS
        await line.command("AT")

    _run(test)


def upy_test_wrong_password_error_code():
    async def test(parts, line, wdt):
        parts.modem.settings.set("WIFIPW", "nope")
        parts.net.poll()  # picks up the new credentials, re-joins
        await line.command("AT#CONNECTIONSTART", "#CME ERROR: 35868", 8000)
        await line.command("AT#VLOG", "wrong password")

    _run(test)


class ConsoleStub:
    """Stands in for firmware/console.py in these tests only: records console.start()."""

    def __init__(self):
        self.calls = []

    def start(self, modem, host, port):
        self.calls.append((host, port, modem.uptime_ms() >= 0))


async def _dns(port, ms=1000):
    q = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07captive\x05apple\x03com\x00"
    return await esp32_env.dns_query(port, q + b"\x00\x01\x00\x01", ms)


def upy_test_setup_ap_opens_serves_dns_and_at_keeps_answering():
    import asyncio

    import app
    import network

    pins()
    network.WLAN.power_cycle()
    network.AIR.aps = {SSID: [PW, -58]}
    cfg = Cfg(SETUP_AP_IP="127.0.0.1", SETUP_AP_LINGER_MS=300)
    log = []
    shown = []
    parts = app.build(cfg, console=log.append)  # nothing configured: a fresh board
    stub = ConsoleStub()
    port = esp32_env.free_udp_port(48201, 48300)
    line = Line(parts.raw_uart)

    async def main():
        board = app.run_board(
            parts, cfg, None, None, False, lambda: stub, shown.append, dns_port=port, period_ms=20
        )
        sup = asyncio.create_task(board)
        wire = asyncio.create_task(line.run())
        try:
            await line.expect("+WIND: 4")
            for _ in range(300):
                if parts.net.setup_ap() is not None:
                    break
                await asyncio.sleep_ms(10)
            st = parts.net.setup_ap()
            assert st == {"ssid": "MTIP-SETUP-ABCD", "ip": "127.0.0.1", "why": st["why"]}, st
            assert st["why"] == "no WiFi network configured"
            assert stub.calls == [("0.0.0.0", 80, True)]
            assert network.WLAN(network.AP_IF).active()
            # The legacy side talks AT while phones ask the DNS: both are answered.
            await line.command("ATE0")
            for _ in range(5):
                r = await _dns(port)
                assert r is not None and r[-4:] == bytes((127, 0, 0, 1))
                await line.command("AT+CREG?", "+CREG: 0,2")
                await line.command("AT#VSTATE", '#STATE: "IDLE"')
            await line.command('AT#WIFISSID="%s"' % SSID)
            await line.command('AT#WIFIPW="%s"' % PW)
            for _ in range(300):
                if parts.net.setup_ap() is None:
                    break
                await asyncio.sleep_ms(10)
            assert parts.net.setup_ap() is None, "still in set-up mode"
            assert not network.WLAN(network.AP_IF).active()
            assert await _dns(port, 200) is None  # the DNS went with the AP
            await line.command("AT+CREG?", "+CREG: 0,1")
            await line.command("AT#CONNECTIONSTART", "Ok_Info_GprsActivation")
            await line.command("AT#VLOG", "closed")
        finally:
            sup.cancel()
            wire.cancel()

    asyncio.run(main())
    key = parts.setup.ap.key  # (parts.setup: the SetupWatch; .ap: the SetupAP it loaded)
    assert any(key in text for text in shown)  # the REPL shows it...
    assert not any(key in text for text in parts.modem.log_lines())  # ... AT#VLOG never
    assert not any(key in text for text in log)


def upy_test_console_off_means_no_setup_ap():
    import asyncio

    import app
    import network

    pins()
    network.WLAN.power_cycle()
    sys.modules.pop("setup_ap", None)
    cfg = Cfg()
    parts = app.build(cfg, console=[].append)
    parts.modem.settings.set("CONSOLE", 0)
    stub = ConsoleStub()

    async def main():
        sup = asyncio.create_task(
            app.run_board(parts, cfg, None, None, True, lambda: stub, print, period_ms=20)
        )
        await asyncio.sleep_ms(200)
        sup.cancel()

    asyncio.run(main())
    assert stub.calls == [] and parts.setup is None and parts.net.setup_ap() is None
    assert not network.WLAN(network.AP_IF).active()
    assert "setup_ap" not in sys.modules  # not even loaded


def upy_test_engine_crash_is_reported():
    import asyncio

    import app

    class Boom:
        def __init__(self):
            self.lines = []

        async def run(self):
            await asyncio.sleep_ms(30)
            raise ValueError("boom")

        def log(self, msg):
            self.lines.append(msg)

        def log_lines(self):
            return self.lines

    class Net:
        def poll(self):
            return True

    class WDT:
        feeds = 0

        def feed(self):
            WDT.feeds += 1

    parts = app.Parts(None, None, Net(), None, Boom())
    err = asyncio.run(app.supervise(parts, WDT(), None, period_ms=5))
    assert isinstance(err, ValueError)
    fed = WDT.feeds
    assert 0 < fed < 30  # and no more feeding once the engine is gone


if __name__ == "__main__":
    if sys.implementation.name == "micropython":
        for _name in list(globals()):
            if _name.startswith("upy_test_"):
                globals()["test_" + _name[4:]] = globals()[_name]
    esp32_env.run_tests(globals())
