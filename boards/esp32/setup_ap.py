# SetupAP: the set-up access point. When the board has no WiFi to join, it opens its own network
# ("MTIP-SETUP-xxxx") with the web console on it and a captive DNS (firmware/captive_dns.py)
# that answers every name with the AP's address, so a phone that joins opens the console by
# itself; once WiFi works again the AP and the DNS go away. docs/esp32.md tells the user's side.
#
# Opened (poll(), once a second from app.supervise) for the first of:
#   * no WiFi network is configured (AT#WIFISSID empty);
#   * the configured one has not been joined for SETUP_AP_AFTER_MS (0: never for this reason);
#   * SETUP_PIN was held low at boot (app.setup_pin_held).
# Never while AT#CONSOLE=0: app.py does not even load it then; switched off later, it closes
# until the next boot, as the console does.
# Closed once the station has been joined for SETUP_AP_LINGER_MS (time for the console to show
# the join's result and the new address), and, when the pin opened it, not before
# SETUP_PIN_HOLD_MS: the technician who pressed the button gets time to use it.
#
# While it is open a failing join is paused (WifiNet.hold): the ESP32 driver re-joins by scanning
# every channel, and the AP shares the one radio, so its phones would lose it again and again.
# The join is retried every SETUP_RETRY_MS (five times as rarely while a phone is on the AP),
# each try lasting WIFI_JOIN_TIMEOUT_MS; the console's join() and AT#CONNECTIONSTART try at once.
#
# Security: WPA2 with SETUP_AP_PASSWORD, or, when that is None, a random password made once and
# kept in the state directory. It is printed on the REPL console (USB: whoever reads it could
# reflash the board anyway) at boot and when the AP opens, and never written to the AT#VLOG
# ring, the UART or the browser. SETUP_AP_PASSWORD = "" makes an open network.

import os

import asyncio
import machine
import network
from compat import ticks_diff

_MAX_CLIENTS = 2  # a phone and a laptop; each costs IDF heap
_MASK = "255.255.255.0"
_KEY_FILE = "setup_ap.key"
_KEY_CHARS = "abcdefghjkmnpqrstuvwxyz23456789"  # nothing that reads as another (0/o, 1/l/i)
_RETRY_BUSY_FACTOR = 5  # retries wait this much longer while a phone uses the AP
_MARGIN_MS = 2000  # a join gets this much longer than the bearer's own timeout before a pause


def ap_ssid(uid):
    """MTIP-SETUP- and the last two bytes of the chip's id (its MAC) in hex."""
    return "MTIP-SETUP-%02X%02X" % (uid[-2], uid[-1])


def good_key(key):
    if not isinstance(key, str) or not 8 <= len(key) <= 63:
        return False
    for c in key.encode():
        if c < 32 or c > 126:
            return False
    return True


def new_key():
    """12 random characters from _KEY_CHARS in three groups: abcd-efgh-jkmn (about 59 bits)."""
    out = ""
    n = len(_KEY_CHARS)
    limit = 256 - 256 % n  # no modulo bias
    while len(out) < 14:
        for b in os.urandom(16):
            if b < limit and len(out) < 14:
                out += _KEY_CHARS[b % n]
                if len(out) in (4, 9):
                    out += "-"
    return out


def announcement(ssid, key):
    """The boot line on the REPL: the AP's name and password, for the label on the box."""
    return "set-up access point %s, %s (opens when WiFi is missing; board_config SETUP_*)" % (
        ssid,
        "password " + key if key else "open, no password",
    )


def ap_key(cfg, state_dir, log):
    """The AP's password: board_config's, else the stored one, else a new one stored."""
    want = cfg.SETUP_AP_PASSWORD
    if want == "":
        return ""
    if want is not None:
        if good_key(want):
            return want
        log("board_config SETUP_AP_PASSWORD is not 8..63 printable characters: ignored")
    path = state_dir.rstrip("/") + "/" + _KEY_FILE
    try:
        with open(path) as f:
            key = f.read().strip()
        if good_key(key):
            return key
    except OSError:
        pass
    key = new_key()
    try:
        with open(path + ".tmp", "w") as f:
            f.write(key + "\n")
        os.rename(path + ".tmp", path)
    except OSError as e:
        log("set-up AP: password not stored (%s): a new one comes at the next boot" % e)
    return key


class SetupAP:
    def __init__(
        self,
        cfg,
        net,
        ap,
        state_dir,
        pin_held=False,
        log=None,
        show=print,
        dns_port=53,
        uid=None,
        down_since=None,
    ):
        self.cfg = cfg
        self.net = net  # wifi.WifiNet (the station)
        self.ap = ap  # network.WLAN(network.AP_IF)
        self.log = log or (lambda msg: None)
        self.show = show  # the REPL console: the only place the password is ever written
        self.dns_port = dns_port
        self.ssid = ap_ssid(uid or machine.unique_id())
        self.key = ap_key(cfg, state_dir, self.log)
        self.ip = cfg.SETUP_AP_IP
        self._pin = pin_held
        self._off = False  # AT#CONSOLE=0 was seen
        self._why: str | None = None  # set while open: why it opened
        self._opened = 0  # ticks when it opened ...
        self._hold_ms = 0  # ... and how long it stays open at least
        self._down_since = down_since  # ticks since the station has not been joined
        self._up_since = None  # ticks since it has been
        self._wait = None  # (ticks, ms): no join try (or try to open the AP) before that
        self._attempt = None  # (net.attempts() seen, ticks when seen)
        self.dns = None
        self._dns_task = None

    def announce(self):
        self.show(announcement(self.ssid, self.key))

    def status(self):
        if self._why is None:
            return None
        return {"ssid": self.ssid, "ip": self.ip, "why": self._why}

    def poll(self, now):
        net = self.net
        if net.attached():
            self._down_since = None
            if self._up_since is None:
                self._up_since = now
        else:
            self._up_since = None
            if self._down_since is None:
                self._down_since = now
        if self._off or self._console_off():  # the AP is there for the console only
            if self._why is not None:
                self.close("the console was switched off (AT#CONSOLE=0)")
            self._off = True  # until the next boot, like the console itself
            return
        if self._why is None:
            why = self._reason(now)
            if why is not None and self._due(now):
                self.open(why, now)
            return
        cfg = self.cfg
        if self._up_since is not None:
            if ticks_diff(now, self._up_since) >= cfg.SETUP_AP_LINGER_MS:
                if ticks_diff(now, self._opened) >= self._hold_ms:
                    self.close("WiFi %r works" % net.ssid())
            return
        self._pace_join(now)

    # --- opening and closing -------------------------------------------------------------

    def _reason(self, now):
        if self._pin:
            return "set-up pin held at boot"
        ssid = self.net.ssid()
        if not ssid:
            return "no WiFi network configured"
        after = self.cfg.SETUP_AP_AFTER_MS
        down = self._down_since
        if after and down is not None and ticks_diff(now, down) >= after:
            return "WiFi %r not joined for %d s" % (ssid, after // 1000)
        return None

    def _console_off(self):
        m = self.net.modem
        try:
            return m is not None and m.settings.get("CONSOLE") == 0
        except KeyError:  # a firmware without AT#CONSOLE
            return False

    def _due(self, now):
        # (ticks wrap, after 12 days on the ESP32: always differences, never sums)
        return self._wait is None or ticks_diff(now, self._wait[0]) >= self._wait[1]

    def open(self, why, now):
        cfg = self.cfg
        ap = self.ap
        security = network.WLAN.SEC_WPA2 if self.key else network.WLAN.SEC_OPEN
        conf = {"ssid": self.ssid, "key": self.key, "security": security}
        try:
            try:  # before it goes on air, so the IDF's open default name is never broadcast
                ap.config(max_clients=_MAX_CLIENTS, **conf)
            except OSError:
                pass  # "Wifi Invalid Mode": this IDF wants the interface up first
            ap.active(True)
            ap.config(max_clients=_MAX_CLIENTS, **conf)
            # Our address as gateway and DNS: the DHCP server hands that DNS to the phones.
            ap.ifconfig((self.ip, _MASK, self.ip, self.ip))
        except OSError as e:
            self.log("set-up AP: could not open (%s); trying again later" % e)
            try:
                ap.active(False)
            except OSError:
                pass
            self._wait = (now, cfg.SETUP_RETRY_MS)
            return False
        self._why = why
        self._pin = False  # the press is used up
        self._opened = now
        self._hold_ms = cfg.SETUP_PIN_HOLD_MS if why.startswith("set-up pin") else 0
        self._wait = None
        self._start_dns()
        self.log("set-up AP %s open at %s: %s" % (self.ssid, self.ip, why))
        port = cfg.CONSOLE_PORT
        url = "http://%s%s/" % (self.ip, "" if port == 80 else ":%d" % port)
        self.show(
            "set-up access point %s open (%s): join it, the console opens at %s (%s)"
            % (self.ssid, why, url, "password " + self.key if self.key else "no password")
        )
        return True

    def close(self, why):
        self._stop_dns()
        try:
            self.ap.active(False)
        except OSError as e:
            self.log("set-up AP: turning it off failed: %s" % e)
        self._why = None
        self._wait = None
        self._attempt = None
        self.log("set-up AP %s closed: %s" % (self.ssid, why))
        self.show("set-up access point closed: %s" % why)

    def _start_dns(self):
        import captive_dns

        dns = captive_dns.CaptiveDNS(self.ip, self.dns_port)
        try:
            dns.open()
        except OSError as e:  # the console still answers on its address
            self.log("set-up AP: no captive DNS (%s)" % e)
            return
        self.dns = dns
        self._dns_task = asyncio.create_task(dns.run())

    def _stop_dns(self):
        task, self._dns_task = self._dns_task, None
        if task is not None:
            task.cancel()
        dns, self.dns = self.dns, None
        if dns is not None:
            dns.close()

    # --- the station's join while the AP is open -------------------------------------------

    def _pace_join(self, now):
        net = self.net
        cfg = self.cfg
        if net.joining():
            mark = net.attempts()
            if self._attempt is None:  # the first look since the AP opened: failing since when?
                self._attempt = (mark, self._down_since if self._down_since is not None else now)
            elif self._attempt[0] != mark:
                self._attempt = (mark, now)  # a new try (ours, the console's, AT's)
            if ticks_diff(now, self._attempt[1]) >= cfg.WIFI_JOIN_TIMEOUT_MS + _MARGIN_MS:
                net.hold()
                wait = cfg.SETUP_RETRY_MS
                if self.ap.isconnected():  # a phone is on the AP: keep the radio for it
                    wait *= _RETRY_BUSY_FACTOR
                self._wait = (now, wait)
        elif net.held() and self._due(now):
            net.start()
            self._attempt = (net.attempts(), now)
