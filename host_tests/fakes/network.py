# Fake `network` module for host tests of boards/esp32/wifi.py (CPython and MicroPython VM).
#
# It follows ports/esp32/network_wlan.c (MicroPython 1.29):
#   * WLAN(STA_IF) is a singleton that survives "soft resets" (tests can re-create WifiNet).
#   * connect() starts an attempt; the driver retries by itself after every failure or drop,
#     for ever (reconnects=-1). connect() while an attempt is in flight raises
#     OSError("Wifi Internal Error").
#   * status(): STAT_GOT_IP when connected; else the last failure reason when it is a "no AP"
#     one or AUTH_FAIL (reported as STAT_WRONG_PASSWORD) even while the driver keeps retrying;
#     STAT_IDLE after disconnect(); STAT_CONNECTING while requested; else the raw reason.
#   * status("rssi") raises OSError when not connected; ifconfig() reports 0.0.0.0 then.
# The radio environment is `AIR`: AIR.aps maps SSID -> [password, rssi]; attempts take
# AIR.join_ms of real time, retries AIR.retry_ms.

import time

STA_IF = 0
AP_IF = 1

STAT_IDLE = 1000
STAT_CONNECTING = 1001
STAT_GOT_IP = 1010
STAT_BEACON_TIMEOUT = 200
STAT_NO_AP_FOUND = 201
STAT_WRONG_PASSWORD = 202
STAT_ASSOC_FAIL = 203
STAT_CONNECT_FAIL = 203
STAT_HANDSHAKE_TIMEOUT = 204
STAT_NO_AP_FOUND_W_COMPATIBLE_SECURITY = 210
STAT_NO_AP_FOUND_IN_AUTHMODE_THRESHOLD = 211
STAT_NO_AP_FOUND_IN_RSSI_THRESHOLD = 212

_REASON_ASSOC_LEAVE = 8  # what disconnect() leaves behind


def _now():
    try:
        return time.ticks_ms()
    except AttributeError:  # CPython
        return int(time.monotonic() * 1000)


class Air:
    def __init__(self):
        self.reset()

    def reset(self):
        self.aps = {}
        self.join_ms = 20
        self.retry_ms = 20
        self.ip = "192.168.4.23"


AIR = Air()


class WLAN:
    PM_NONE = 0
    PM_PERFORMANCE = 1
    PM_POWERSAVE = 2

    _sta = None

    def __new__(cls, interface=STA_IF):
        if interface != STA_IF:
            raise ValueError("only STA_IF is faked")
        if WLAN._sta is None:
            WLAN._sta = object.__new__(cls)
            WLAN._sta._fresh()
        return WLAN._sta

    def __init__(self, interface=STA_IF):
        pass

    def _fresh(self):
        self._active = False
        self._requested = False
        self._connected = False
        self._reason = 0
        self._ssid = ""
        self._key = ""
        self._due = None  # time of the next connection attempt's outcome
        self.pm = self.PM_PERFORMANCE  # the ESP32 default is modem sleep
        self.connect_calls = 0
        self.disconnect_calls = 0

    @classmethod
    def power_cycle(cls):
        """Hard reset: the radio forgets everything (tests start from here)."""
        cls._sta = None
        AIR.reset()

    # --- driver model ----------------------------------------------------------------------

    def _update(self):
        if self._due is None or _now() < self._due:
            return
        self._due = None
        if not self._requested or self._connected:
            return
        ap = AIR.aps.get(self._ssid)
        if ap is None:
            self._reason = STAT_NO_AP_FOUND
        elif ap[0] != self._key:
            self._reason = STAT_WRONG_PASSWORD  # WIFI_REASON_AUTH_FAIL
        else:
            self._connected = True
            self._reason = 0
            return
        self._due = _now() + AIR.retry_ms  # the driver's own reconnect

    # --- MicroPython API -------------------------------------------------------------------

    def active(self, on=None):
        if on is None:
            return self._active
        self._active = bool(on)
        if not on:
            self._connected = False
            self._requested = False
        return None

    def connect(self, ssid=None, key=None, *, bssid=None):
        if not self._active:
            raise OSError("Wifi Not Started")
        self._update()
        if self._requested and not self._connected and self._due is not None:
            raise OSError("Wifi Internal Error")
        if ssid is not None:
            self._ssid = ssid
            self._key = key or ""
        self.connect_calls += 1
        self._requested = True
        self._connected = False
        self._due = _now() + AIR.join_ms

    def disconnect(self):
        self.disconnect_calls += 1
        self._requested = False
        self._connected = False
        self._due = None
        self._reason = _REASON_ASSOC_LEAVE

    def isconnected(self):
        self._update()
        return self._connected

    def status(self, param=None):
        self._update()
        if param == "rssi":
            if not self._connected:
                raise OSError("Wifi Not Connected")
            return AIR.aps[self._ssid][1]
        if param is not None:
            raise ValueError("unknown status param")
        if self._connected:
            return STAT_GOT_IP
        r = self._reason
        if r in (
            STAT_NO_AP_FOUND,
            STAT_NO_AP_FOUND_W_COMPATIBLE_SECURITY,
            STAT_NO_AP_FOUND_IN_AUTHMODE_THRESHOLD,
            STAT_NO_AP_FOUND_IN_RSSI_THRESHOLD,
            STAT_WRONG_PASSWORD,
        ):
            return r
        if r == _REASON_ASSOC_LEAVE:
            return STAT_IDLE
        if self._requested:
            return STAT_CONNECTING
        return STAT_IDLE if r == 0 else r

    def config(self, *args, **kw):
        if args:
            if args[0] in ("ssid", "essid"):
                return self._ssid
            if args[0] == "pm":
                return self.pm
            if args[0] == "mac":
                return b"\x24\x0a\xc4\x00\x00\x01"
            raise ValueError("unknown config param")
        for k, v in kw.items():
            if k == "pm":
                self.pm = v
            elif k not in ("reconnects", "txpower", "hostname", "dhcp_hostname"):
                raise ValueError("unknown config param")
        return None

    def ifconfig(self):
        self._update()
        if self._connected:
            return (AIR.ip, "255.255.255.0", "192.168.4.1", "192.168.4.1")
        return ("0.0.0.0", "0.0.0.0", "0.0.0.0", "0.0.0.0")

    # --- test helpers ----------------------------------------------------------------------

    def drop(self, ap_gone=False):
        """The link drops (beacon timeout); the driver starts reconnecting on its own."""
        if ap_gone:
            AIR.aps.pop(self._ssid, None)
        self._connected = False
        self._reason = STAT_BEACON_TIMEOUT
        if self._requested:
            self._due = _now() + AIR.retry_ms
