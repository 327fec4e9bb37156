# The console's WiFi actions on the ESP32: scan() and join() of WifiNet (wifi.py), in their own
# module so a board whose console never asks pays no heap for them (imported on first use).
#
# Scanning. MicroPython 1.29's WLAN.scan() (ports/esp32/network_wlan.c) takes no arguments and
# calls esp_wifi_scan_start(config, block=true) with the GIL released: the calling thread waits
# for a full active scan of every channel, at the IDF's default dwell of up to 120 ms per channel
# (plus 30 ms back on the home channel between channels while joined or while the set-up AP
# runs): 13 channels, about 1.6 to 2 s. Called from the asyncio thread, that would freeze the
# UART and every session for as long. So the call runs on a _thread of its own (the ESP32 port
# has threads; the GIL is released during the scan, so the loop keeps turning) and the coroutine
# polls for its result. Where no thread can be had, the scan runs inline, which blocks the loop
# for the scan's length, and only in command mode (never while a session or service runs).
# The driver refuses a scan while a join is in flight (ESP_ERR_WIFI_STATE, which the port turns
# into an empty list), so a join still retrying is paused for the scan and resumed afterwards.
# Results are cached for _CACHE_MS and concurrent callers share one scan, so a browser cannot
# keep the radio off its channel.
#
# Joining applies the AT rules (cmd_params.store): refused while the modem is busy (37123), a
# value settings.validate refuses (34882), a store that fails (34824); both values are validated
# before either is stored. Then it waits like AT#CONNECTIONSTART (WifiNet.await_link).

import asyncio
import settings
from compat import ticks_diff, ticks_ms

try:
    import _thread
except ImportError:  # a port without threads: scans run inline
    _thread = None  # type: ignore[assignment]

_CACHE_MS = 8000
_MAX_RESULTS = 24
_POLL_S = 0.05
_SCAN_TIMEOUT_MS = 15000  # a scan thread that has not answered by then is given up on
_SECURE_MIN = 1  # WLAN security: 0 open, 1 WEP, 2.. WPA*


class Scanner:
    def __init__(self, net, wlan, use_thread=True):
        self._net = net
        self._w = wlan
        self.use_thread = use_thread and _thread is not None
        self._cache: list | None = None
        self._cache_ms = ticks_ms()
        self._running = False
        self.threads = 0  # scans that ran on a thread of their own (tests look)
        self.dropped = 0  # networks left out of the last scan: hidden, or a name AT cannot hold

    async def scan(self):
        modem = self._net.modem
        if modem is not None and (modem.session is not None or modem.service is not None):
            raise OSError("not while a session is running (it would stall)")
        while self._running:  # another caller's scan: share it
            await asyncio.sleep(_POLL_S)
        if self._cache is not None and ticks_diff(ticks_ms(), self._cache_ms) < _CACHE_MS:
            return self._cache
        self._running = True
        resume = self._net.joining()
        try:
            if resume:
                self._net.hold()
            w = self._w
            if not w.active():
                w.active(True)  # "STA must be active" otherwise (nothing configured yet)
            raw = await self._run()
        finally:
            self._running = False
            if resume:
                self._net.start()
        self._cache = self._shape(raw)
        self._cache_ms = ticks_ms()
        return self._cache

    async def _run(self):
        if self.use_thread:
            box: list = []

            def work():
                try:
                    box.append(self._w.scan())
                except Exception as e:  # handed to the coroutine, raised there
                    box.append(e)

            try:
                _thread.start_new_thread(work, ())
                started = True
            except (OSError, MemoryError, RuntimeError) as e:
                self._net.log("scan: no thread (%r); scanning inline" % (e,))
                started = False
            if started:
                self.threads += 1
                t0 = ticks_ms()
                while not box:
                    if ticks_diff(ticks_ms(), t0) > _SCAN_TIMEOUT_MS:
                        raise OSError("WiFi scan did not finish")
                    await asyncio.sleep(_POLL_S)
                if isinstance(box[0], Exception):
                    raise box[0]
                return box[0]
        return self._w.scan()  # blocks the loop for the whole scan (see the top)

    def _shape(self, raw):
        best: dict = {}
        dropped = 0
        text = settings.GLOBAL_PARAMS["WIFISSID"]
        for row in raw:
            ssid, rssi, security = row[0], row[3], row[4]
            try:
                name = settings.validate(text, ssid.decode())
            except (ValueError, UnicodeError):
                name = ""  # not printable ASCII: AT#WIFISSID could not hold it
            if not name:
                dropped += 1
                continue
            seen = best.get(name)
            if seen is None or rssi > seen["rssi"]:  # one row per name: its strongest AP
                best[name] = {"ssid": name, "rssi": rssi, "secure": security >= _SECURE_MIN}
        rows = sorted(best.values(), key=lambda r: (-r["rssi"], r["ssid"]))
        self.dropped = dropped + max(0, len(rows) - _MAX_RESULTS)
        return rows[:_MAX_RESULTS]


_joining = [False]


async def join(net, ssid, password):
    """WifiNet.join: (ok, detail); detail never holds the password."""
    modem = net.modem
    if modem is None:
        return False, "the modem is not running"
    if _joining[0]:
        return False, "another join is in progress"
    if modem.busy():
        return False, "not now: a session, service or listener is running (37123)"
    if not isinstance(ssid, str) or not ssid:
        return False, "choose a network (34882)"
    try:
        settings.validate(settings.GLOBAL_PARAMS["WIFISSID"], ssid)
    except ValueError:
        return False, "invalid network name: at most 32 printable ASCII characters (34882)"
    try:
        settings.validate(settings.GLOBAL_PARAMS["WIFIPW"], password)
    except ValueError:
        return False, "invalid password: at most 63 printable ASCII characters (34882)"
    st = modem.settings
    old = st.get("WIFISSID")
    try:
        st.set("WIFISSID", ssid)
        st.set("WIFIPW", password)
    except OSError:
        try:
            st.set("WIFISSID", old)  # keep the pair consistent if only the first was stored
        except OSError:
            pass
        return False, "the settings could not be stored (34824)"
    except ValueError:  # validated above; a table change would land here
        return False, "invalid value (34882)"
    _joining[0] = True
    try:
        net.log("WiFi: joining %r (console)" % ssid)
        if not net.start():
            return False, net.last_error()
        failed = await net.await_link()
    finally:
        _joining[0] = False
    if failed:
        net.log("WiFi: join failed: " + failed[1])
        return False, failed[1]
    ip = net.link_ip()
    net.log("WiFi: joined %r as %s (console)" % (ssid, ip))
    return True, "joined %r, address %s" % (ssid, ip)
