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
#   * scan() (esp_wifi_scan_start(block=true), GIL released): blocks the caller for the whole
#     scan; raises OSError("STA must be active") when the STA is off; returns [] while a join
#     is in flight (the IDF refuses with ESP_ERR_WIFI_STATE and the port drops that status).
#     Tuples (ssid, bssid, channel, rssi, security, hidden) like the port's.
#   * WLAN(AP_IF): a second singleton; config(ssid/essid, key/password, security/authmode,
#     max_clients, channel, hidden) like network_wlan.c (a STA-only key on the AP raises
#     OSError("STA required"), an AP-only key on the STA "AP required"; a key shorter than 8
#     with a secure mode "Wifi Invalid Password", as esp_wifi_set_config refuses it);
#     ifconfig((ip, mask, gw, dns)) sets the address; isconnected() means a station is there.
# The radio environment is `AIR`: AIR.aps maps SSID -> [password, rssi]; attempts take
# AIR.join_ms of real time, retries AIR.retry_ms. AIR.scan_extra adds (ssid bytes, rssi,
# security) rows to a scan; AIR.scan_gate, when set, is polled until True before a scan ends
# (a test holds the scan open while it checks that the loop keeps turning).

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

AUTH_OPEN = 0
AUTH_WEP = 1
AUTH_WPA_PSK = 2
AUTH_WPA2_PSK = 3
AUTH_WPA_WPA2_PSK = 4

_REASON_ASSOC_LEAVE = 8  # what disconnect() leaves behind
_SCAN_GATE_MAX_S = 5  # a gated scan gives up after this long (a test bug, not a hang)


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
        self.scan_extra = []
        self.scan_ms = 0
        self.scan_gate = None
        self.scans = 0
        self.ap_stations = 0  # phones joined to our access point


AIR = Air()


class WLAN:
    PM_NONE = 0
    PM_PERFORMANCE = 1
    PM_POWERSAVE = 2
    SEC_OPEN = AUTH_OPEN
    SEC_WEP = AUTH_WEP
    SEC_WPA = AUTH_WPA_PSK
    SEC_WPA2 = AUTH_WPA2_PSK
    SEC_WPA_WPA2 = AUTH_WPA_WPA2_PSK

    _sta = None
    _ap = None

    def __new__(cls, interface=STA_IF):
        if interface == AP_IF:
            if WLAN._ap is None:
                WLAN._ap = AccessPoint()
            return WLAN._ap
        if interface != STA_IF:
            raise ValueError("invalid WLAN interface identifier")
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
        cls._ap = None
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
            elif k in _AP_KEYS:
                raise OSError("AP required")
            elif k not in ("reconnects", "txpower", "hostname", "dhcp_hostname"):
                raise ValueError("unknown config param")
        return None

    def scan(self):
        if not self._active:
            raise OSError("STA must be active")
        self._update()
        AIR.scans += 1
        _block_for_scan()
        if self._requested and not self._connected and self._due is not None:
            return []  # ESP_ERR_WIFI_STATE: still connecting (the port returns an empty list)
        rows = []
        for ssid, (key, rssi) in AIR.aps.items():
            sec = AUTH_OPEN if key == "" else AUTH_WPA2_PSK
            rows.append((ssid.encode(), _bssid(len(rows)), 6, rssi, sec, False))
        for ssid, rssi, sec in AIR.scan_extra:
            rows.append((ssid, _bssid(len(rows)), 11, rssi, sec, False))
        return rows

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


_AP_KEYS = ("ssid", "essid", "key", "password", "security", "authmode", "max_clients", "hidden")


def _bssid(n):
    return bytes((0x24, 0x0A, 0xC4, 0x10, 0x00, n & 255))


def _block_for_scan():
    # The real scan blocks its caller for seconds; the GIL is released meanwhile.
    if AIR.scan_ms:
        time.sleep(AIR.scan_ms / 1000)
    if AIR.scan_gate is not None:
        t0 = _now()
        while not AIR.scan_gate():
            if _now() - t0 > _SCAN_GATE_MAX_S * 1000:
                raise OSError("fake scan gate never opened")
            time.sleep(0.002)


class AccessPoint:
    """WLAN(AP_IF): the soft access point (the fields are what tests look at)."""

    def __init__(self):
        self._active = False
        self.ssid = "ESP_000001"  # the IDF default: open, named after the MAC
        self.key = ""
        self.security = AUTH_OPEN
        self.max_clients = 4
        self.channel = 1
        self.hidden = False
        self.ip = ("192.168.4.1", "255.255.255.0", "192.168.4.1", "0.0.0.0")
        self.history = []  # ("active", on) / ("config", {...}) / ("ifconfig", tuple)

    def active(self, on=None):
        if on is None:
            return self._active
        self._active = bool(on)
        self.history.append(("active", self._active))
        if not on:
            AIR.ap_stations = 0
        return None

    def config(self, *args, **kw):
        if args:
            name = args[0]
            if name in ("ssid", "essid"):
                return self.ssid
            if name in ("security", "authmode"):
                return self.security
            if name in ("channel", "max_clients", "hidden"):
                return getattr(self, name)
            if name == "mac":
                return b"\x24\x0a\xc4\x00\x00\x02"
            raise ValueError("unknown config param")  # the key cannot be read back
        new = {"ssid": self.ssid, "key": self.key, "security": self.security}
        for k, v in kw.items():
            if k in ("ssid", "essid"):
                new["ssid"] = v[:32]
            elif k in ("key", "password"):
                new["key"] = v[:63]
            elif k in ("security", "authmode"):
                new["security"] = v
            elif k in ("max_clients", "channel", "hidden"):
                setattr(self, k, v)
            elif k == "reconnects":
                raise OSError("STA required")
            elif k not in ("pm", "txpower", "hostname", "dhcp_hostname"):
                raise ValueError("unknown config param")
        if new["security"] != AUTH_OPEN and len(new["key"]) < 8:
            raise OSError("Wifi Invalid Password")  # esp_wifi_set_config: ESP_ERR_WIFI_PASSWORD
        self.ssid, self.key, self.security = new["ssid"], new["key"], new["security"]
        self.history.append(("config", dict(kw)))
        return None

    def ifconfig(self, conf=None):
        if conf is None:
            return self.ip
        self.ip = tuple(conf)
        self.history.append(("ifconfig", self.ip))
        return None

    def isconnected(self):
        return self._active and AIR.ap_stations > 0

    def status(self, param=None):
        if param == "stations":
            return [(bytes((2, 0, 0, 0, 0, n)),) for n in range(AIR.ap_stations)]
        raise ValueError("unknown status param")
