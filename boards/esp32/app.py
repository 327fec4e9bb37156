# app.py: builds the ESP32 board from board_config (UART, WiFi, modem-control lines, watchdog,
# logs) and runs the modem engine. main.py calls main(); tests call build() and supervise().
#
# Logs go to the REPL console (print) and to the engine's RAM ring (AT#VLOG), never to the
# modem UART. A snapshot of the ring is kept in RTC memory, so the lines written before a
# crash or a watchdog reset are shown again after the reboot.
#
# The web console (firmware/console.py) is started by run_board() unless AT#CONSOLE=0, and then
# the set-up access point (setup_ap.py) too; neither module is imported when the console is off.

import gc
import sys
import time

import asyncio
import machine
import network
from compat import ticks_diff, ticks_ms

_LOG_MAGIC = b"MTLOG1\n"
_LOG_KEEP = 1500  # bytes of log kept in RTC memory (2 KB on the ESP32)
_HEALTH_MS = 1000
_SNAPSHOT_EVERY = 10  # health ticks between RTC log snapshots

_CAUSES = (
    ("PWRON_RESET", "power on"),
    ("HARD_RESET", "hard reset"),
    ("WDT_RESET", "watchdog"),
    ("DEEPSLEEP_RESET", "deep sleep"),
    ("SOFT_RESET", "soft reset"),
)


def reset_cause():
    """machine.reset_cause() as text, e.g. 'WDT_RESET (watchdog)'."""
    cause = machine.reset_cause()
    for name, text in _CAUSES:
        if getattr(machine, name, None) == cause:
            return "%s (%s)" % (name, text)
    return "reset cause %d" % cause


def make_uart(cfg):
    """The modem UART: explicit pins, timeout 0, ring buffers and flow control per cfg."""
    flow = 0
    if cfg.RTS_PIN is not None and cfg.FLOW_RTS:
        flow |= machine.UART.RTS
    if cfg.CTS_PIN is not None and cfg.FLOW_CTS:
        flow |= machine.UART.CTS
    pins = {}
    if cfg.RTS_PIN is not None:
        pins["rts"] = cfg.RTS_PIN
    if cfg.CTS_PIN is not None:
        pins["cts"] = cfg.CTS_PIN
    return machine.UART(
        cfg.UART_ID,
        baudrate=cfg.BAUD,
        tx=cfg.TX_PIN,
        rx=cfg.RX_PIN,
        txbuf=cfg.TXBUF,
        rxbuf=cfg.RXBUF,
        timeout=0,
        timeout_char=0,
        flow=flow,
        **pins,
    )


def _pin(num, out):
    if num is None:
        return None
    if out:
        return machine.Pin(num, machine.Pin.OUT)
    return machine.Pin(num, machine.Pin.IN, machine.Pin.PULL_UP)


def _sleep_ms(ms):
    time.sleep_ms(ms)


class Parts:
    """What build() made: the raw UART, the stream, the network, the hooks, the engine; and,
    once run_board() started them, the console and the set-up access point."""

    def __init__(self, raw_uart, uart, net, hooks, modem):
        self.raw_uart = raw_uart
        self.uart = uart
        self.net = net
        self.hooks = hooks
        self.modem = modem
        self.console = False
        self.setup = None


def build(cfg, console=print):
    import databuf

    # The data path's buffers first, while the heap is still in one piece (see databuf.py).
    buffers = databuf.Buffers()
    import preload

    preload.preload(("hooks", "uart", "wifi"))
    import hooks
    import modem
    import uart
    import wifi

    raw = make_uart(cfg)
    stream = uart.EspUart(
        raw,
        cfg.TXBUF,
        cfg.BAUD,
        rts=cfg.RTS_PIN is not None,
        cts=cfg.CTS_PIN is not None,
        rts_on=cfg.FLOW_RTS,
        cts_on=cfg.FLOW_CTS,
        sleep_ms=_sleep_ms,
    )
    engine: list = []  # filled below: the WiFi credentials live in the engine's settings

    def creds():
        if not engine:
            return "", ""
        st = engine[0].settings
        return st.get("WIFISSID"), st.get("WIFIPW")

    net = wifi.WifiNet(
        network.WLAN(network.STA_IF),
        creds,
        cfg.WIFI_JOIN_TIMEOUT_MS,
        cfg.WIFI_FAIL_CONFIRM_MS,
        log=console,
    )
    board = hooks.Hooks(
        stream,
        dcd=_pin(cfg.DCD_PIN, True),
        dsr=_pin(cfg.DSR_PIN, True),
        ri=_pin(cfg.RI_PIN, True),
        dtr=_pin(cfg.DTR_PIN, False),
        active_low=cfg.CONTROL_ACTIVE_LOW,
        log=console,
    )
    _mkdir(cfg.STATE_DIR)
    m = modem.Modem(stream, net, cfg.STATE_DIR, board, buffers, console=console)
    engine.append(m)
    net.modem = m  # type: ignore[assignment]  # join() stores through m.settings, as AT does
    net.log = m.log
    board.log = m.log
    return Parts(raw, stream, net, board, m)


def _mkdir(path):
    import os

    try:
        os.mkdir(path)
    except OSError:
        pass  # exists


# --- log snapshot in RTC memory ----------------------------------------------------------------


def restore_log(rtc, log):
    try:
        data = rtc.memory()
    except (AttributeError, OSError):
        return
    if not data.startswith(_LOG_MAGIC):
        return
    for line in data[len(_LOG_MAGIC) :].decode().split("\n"):
        if line:
            log("before reset: " + line)
    rtc.memory(b"")


def save_log(rtc, lines):
    data = "\n".join(lines).encode()[-_LOG_KEEP:]
    try:
        rtc.memory(_LOG_MAGIC + data)
    except (AttributeError, OSError):
        pass


# --- the console and the set-up access point -----------------------------------------------------


def setup_pin_held(cfg):
    """SETUP_PIN is held low now (main() asks once, after the safe-mode window)."""
    num = cfg.SETUP_PIN
    if num is None or num == cfg.SAFE_MODE_PIN:  # that pin means safe mode, never set-up
        return False
    return machine.Pin(num, machine.Pin.IN, machine.Pin.PULL_UP).value() == 0


# Free heap the console needs to start: its code and a request in flight (docs/benchmarks.md)
# plus the 24 KiB a session needs, so that loading it never starves the legacy device.
_CONSOLE_MIN_FREE = 100 * 1024


def console_wanted(m):
    import settings

    if "CONSOLE" not in settings.GLOBAL_PARAMS:  # a firmware without the console's settings
        return True
    return bool(m.settings.get("CONSOLE"))


async def start_console(cfg, parts, load=None):
    """await console.start(modem, host, port) unless AT#CONSOLE=0; True when it runs."""
    m = parts.modem
    if not console_wanted(m):
        m.log("console: off (AT#CONSOLE=0), no set-up access point either")
        return False
    mem_free = getattr(gc, "mem_free", None)  # (CPython, where the host tests also run: none)
    free = mem_free() if mem_free is not None else 1 << 30
    need = getattr(cfg, "CONSOLE_MIN_FREE", _CONSOLE_MIN_FREE)
    if free < need:  # the legacy device comes first: the modem keeps its room
        m.log(
            "console: not started, %d KiB free of the %d it needs (freeze the firmware: "
            "manifest.py)" % (free // 1024, need // 1024)
        )
        return False
    try:
        mod = load() if load is not None else __import__("console")
    except ImportError as e:
        m.log("console: not installed (%r)" % (e,))
        return False
    except MemoryError:  # what loaded is given back; the modem runs on without a console
        for name in [k for k in sys.modules if k.startswith("console") or k == "microdot"]:
            del sys.modules[name]
        gc.collect()
        m.log("console: not started, out of heap while loading it")
        return False
    try:
        started = mod.start(m, "0.0.0.0", cfg.CONSOLE_PORT)
        if hasattr(started, "send"):  # a coroutine (firmware/console.py's is): it listens
            await started
    except Exception as e:  # (the port cannot be had, ...): the modem runs on without it
        m.log("console: failed to start: %r" % (e,))
        return False
    parts.console = True
    return True


def start_setup(cfg, parts, pin_held=False, show=print, dns_port=53):
    """Announce the set-up access point on the REPL and return its SetupWatch (supervise()
    polls it; parts.net.setup_ap() reads it)."""
    if not cfg.SETUP_AP:
        return None
    import setup_ap

    key = setup_ap.ap_key(cfg, cfg.STATE_DIR, parts.modem.log)  # made on the first boot
    show(setup_ap.announcement(setup_ap.ap_ssid(machine.unique_id()), key))
    del setup_ap
    sys.modules.pop("setup_ap", None)  # back in the heap only when the AP must open
    watch = SetupWatch(cfg, parts, pin_held, show, dns_port)
    parts.net.setup = watch
    parts.setup = watch
    return watch


class SetupWatch:
    """Looks for setup_ap.SetupAP's reasons to open (no WiFi network configured, the configured
    one not joined for SETUP_AP_AFTER_MS, the set-up pin) without that module in the heap: on a
    board whose WiFi works it never loads. From the first reason on, the SetupAP does it all."""

    def __init__(self, cfg, parts, pin_held, show, dns_port):
        self.cfg = cfg
        self.parts = parts
        self.pin = pin_held
        self.show = show
        self.dns_port = dns_port
        self.down_since = None  # ticks since the station has not been joined
        self.ap = None  # the SetupAP, once loaded

    def status(self):
        return self.ap.status() if self.ap is not None else None

    def poll(self, now):
        if self.ap is None:
            if not self._reason(now):
                return
            import setup_ap

            p = self.parts
            self.ap = setup_ap.SetupAP(
                self.cfg,
                p.net,
                network.WLAN(network.AP_IF),
                self.cfg.STATE_DIR,
                self.pin,
                p.modem.log,
                self.show,
                self.dns_port,
                down_since=self.down_since,
            )
        self.ap.poll(now)

    def _reason(self, now):
        if not console_wanted(self.parts.modem):
            return False
        if self.pin:
            return True
        net = self.parts.net
        if net.attached():
            self.down_since = None
            return False
        if self.down_since is None:
            self.down_since = now
        if not net.ssid():
            return True
        after = self.cfg.SETUP_AP_AFTER_MS
        return bool(after) and ticks_diff(now, self.down_since) >= after


async def run_board(
    parts, cfg, wdt=None, rtc=None, pin_held=False, load_console=None, show=print, **kw
):
    """Start the console (and the set-up AP) inside the loop, then supervise().
    kw (tests): dns_port (53), period_ms (the health task's)."""
    if await start_console(cfg, parts, load_console):
        start_setup(cfg, parts, pin_held, show, kw.get("dns_port", 53))
    return await supervise(parts, wdt, rtc, kw.get("period_ms", _HEALTH_MS))


# --- running -------------------------------------------------------------------------------------


async def supervise(parts, wdt=None, rtc=None, period_ms=_HEALTH_MS):
    """Run the engine and a health task; return the engine's exception when it stops.

    The health task feeds the watchdog only while the engine task is alive and the loop turns
    (a stalled loop starves it), watches the WiFi link, and snapshots the log ring.
    """
    m = parts.modem
    failed: list = []

    async def engine():
        try:
            await m.run()
            failed.append(RuntimeError("modem.run() returned"))
        except Exception as e:  # reported by main(), which then resets the board
            failed.append(e)

    task = asyncio.create_task(engine())
    ticks = 0
    last = None
    setup = getattr(parts, "setup", None)
    while not failed:
        if wdt is not None:
            wdt.feed()
        try:
            parts.net.poll()
        except OSError as e:
            m.log("wifi poll: %r" % (e,))
        if setup is not None:
            try:
                setup.poll(ticks_ms())
            except OSError as e:
                m.log("set-up AP: %r" % (e,))
        ticks += 1
        if rtc is not None and ticks % _SNAPSHOT_EVERY == 0:
            lines = m.log_lines()
            if lines and lines[-1] != last:
                last = lines[-1]
                save_log(rtc, lines)
        if ticks % 30 == 0:
            gc.collect()
        await asyncio.sleep_ms(period_ms)
    task.cancel()
    return failed[0]


def relax_watchdog(cfg):
    # The WDT survives Ctrl-C and soft resets (notes 2.5). Re-creating it reconfigures the timeout
    # on the ESP32 (esp_task_wdt_reconfigure), which gives mpremote time to copy files.
    if cfg.WDT_TIMEOUT_MS:
        try:
            machine.WDT(timeout=cfg.WDT_MAINTENANCE_MS).feed()
        except (OSError, ValueError):
            pass


def main():
    import board_config as cfg
    import safemode

    if safemode.watch(cfg, _sleep_ms, cfg.SAFE_MODE_WINDOW_MS):
        print("safe mode (%s): modem not started, REPL free" % safemode.reason)
        return
    pin_held = setup_pin_held(cfg)
    cause = reset_cause()
    print("modem: starting on UART%d, %s" % (cfg.UART_ID, cause))
    parts = build(cfg)
    m = parts.modem
    rtc = machine.RTC()
    restore_log(rtc, m.log)
    m.log("boot: %s" % cause)
    parts.hooks.set_dsr(True)
    parts.net.start()
    wdt = machine.WDT(timeout=cfg.WDT_TIMEOUT_MS) if cfg.WDT_TIMEOUT_MS else None
    try:
        err = asyncio.run(run_board(parts, cfg, wdt, rtc, pin_held))
    except KeyboardInterrupt:
        relax_watchdog(cfg)
        parts.hooks.set_dsr(False)
        print("modem: stopped by Ctrl-C; watchdog relaxed for maintenance")
        return
    # The engine died: keep its last words, then start afresh rather than sit there deaf.
    m.log("engine failed: %r" % (err,))
    save_log(rtc, m.log_lines())
    sys.print_exception(err)
    _sleep_ms(500)
    machine.reset()
