# WifiNet: the `net` of the board contract over network.WLAN (the bearer) and lwIP sockets.
#
# Model: joining WiFi is the GSM "registration" (done at start-up when an SSID is configured, so
# AT+CREG? / AT+CGREG? answer "registered" like a healthy modem); AT#CONNECTIONSTART is the
# "activation": it waits for the join within a timeout and answers the IP address. The ESP32
# driver reconnects by itself after a drop (notes 2.4): we never call connect() in a loop, we
# only watch isconnected() and report the truth (DIALING while the driver is re-joining).
# Power save is turned off (modem sleep adds 100+ ms to every inbound packet).
# For the console (docs/architecture.md, the board contract): scan() and join() (their code is in
# wifi_setup.py, loaded on first use) and setup_ap() (the SetupAP of setup_ap.py, if any). While
# the set-up access point is open, hold() stops the driver's endless re-joining, which would
# keep the radio off the AP's channel, and start() resumes it.
#
# Sockets (notes 2.3): non-blocking, TCP_NODELAY, errno names only. There is no getsockopt on the
# ESP32, so a non-blocking connect is finished by waiting for POLLOUT and probing with a second
# connect(): EISCONN means connected, EALREADY/EINPROGRESS still connecting, anything else failed.
# Urgent data (a peer's send(MSG_OOB)) needs no option: lwIP has no out-of-band queue and delivers
# urgent bytes inline, in order. (No SO_OOBINLINE either: this port's setsockopt knows only a few
# options and prints a warning for the others.)

import errno
import select
import socket
import sys

import asyncio
import network
import neterr
from compat import const, ticks_diff, ticks_ms

NOT_ATTACHED = const(35865)  # #CME ERROR: no network (no AP, no SSID, timeout)
REJECTED = const(35868)  # #CME ERROR: activation refused (wrong password)
_POLL_S = 0.05
_CONNECT_POLL_S = 0.02
_BACKLOG = const(2)
# MicroPython's errno module has no EISCONN: newlib's value on the ESP32, Linux's elsewhere.
_EISCONN = getattr(errno, "EISCONN", 127 if sys.platform == "esp32" else 106)
_WAITING = (errno.EALREADY, errno.EINPROGRESS, errno.EAGAIN)

# Indirection so tests can simulate a name that does not resolve.
getaddrinfo = socket.getaddrinfo

_NO_AP = tuple(
    getattr(network, n)
    for n in (
        "STAT_NO_AP_FOUND",
        "STAT_NO_AP_FOUND_W_COMPATIBLE_SECURITY",
        "STAT_NO_AP_FOUND_IN_AUTHMODE_THRESHOLD",
        "STAT_NO_AP_FOUND_IN_RSSI_THRESHOLD",
    )
    if hasattr(network, n)
)
_REFUSED = tuple(
    getattr(network, n)
    for n in ("STAT_WRONG_PASSWORD", "STAT_ASSOC_FAIL", "STAT_HANDSHAKE_TIMEOUT")
    if hasattr(network, n)
)


def _errno(exc):
    # OSError.errno, or None for errors that carry only a message (getaddrinfo, WLAN).
    if exc.args and isinstance(exc.args[0], int):
        return exc.args[0]
    return None


def is_ipv4(host):
    parts = host.split(".")
    if len(parts) != 4:
        return False
    for p in parts:
        if not p.isdigit() or int(p) > 255:
            return False
    return True


def _peer_ip(addr):
    if isinstance(addr, tuple):  # ESP32, CPython: (ip, port)
        return addr[0]
    ip = socket.sockaddr(addr)[1]  # type: ignore[attr-defined]  # unix port: raw sockaddr
    return "%d.%d.%d.%d" % (ip[0], ip[1], ip[2], ip[3])


def _nodelay(sock):
    opt = getattr(socket, "TCP_NODELAY", None)
    if opt is None:
        return
    try:
        sock.setsockopt(getattr(socket, "IPPROTO_TCP", 6), opt, 1)
    except OSError:
        pass


class WifiNet:
    """wlan: network.WLAN(network.STA_IF); creds: callable -> (ssid, password) from settings."""

    def __init__(
        self, wlan: network.WLAN, creds, join_timeout_ms=15000, fail_confirm_ms=3000, log=None
    ):
        self._w = wlan
        self._creds = creds
        self._timeout = join_timeout_ms
        self._confirm = fail_confirm_ms
        self.log = log or (lambda msg: None)
        self._active = False  # between CONNECTIONSTART and CONNECTIONSTOP
        self._joined: tuple | None = None  # the (ssid, password) last given to wlan.connect()
        self._err = ""
        self._linked = False  # isconnected() at the last poll()
        self._epoch = 0
        self._held = False  # hold(): the driver was told to stop re-joining
        self._attempts = 0  # joins asked for (the set-up AP times each one)
        # Set later (no import of their modules here: each loads only when needed):
        self.modem = None  # the engine (its settings, busy()), by app.build()
        self.setup = None  # the set-up access point (setup_ap.SetupAP), by app.start_setup()
        self.scanner = None  # wifi_setup.Scanner, by the first scan()

    # --- registration (the WiFi join) --------------------------------------------------------

    def start(self):
        """Join the configured network in the background; False (see last_error()) if not."""
        ssid, password = self._creds()
        if not ssid:
            self._err = "no WiFi network configured (AT#WIFISSID)"
            return False
        creds = (ssid, password or "")
        if creds == self._joined and not self._held:
            return True  # asked already: the driver keeps (re)trying on its own
        w = self._w
        if not w.active():
            w.active(True)
        try:
            w.config(pm=w.PM_NONE)
        except (AttributeError, OSError, ValueError):
            pass
        if self._joined is None and self._left_over(ssid):
            self._joined = creds  # WiFi survives a soft reset: adopt the running join
            self._attempts += 1
            return True
        if self._joined is not None or w.isconnected():
            w.disconnect()  # new credentials (or resuming after hold())
        try:
            w.connect(ssid, creds[1])
        except OSError as e:
            self._err = "WiFi connect failed: %s" % e
            self.log(self._err)
            return False
        self._joined = creds
        self._held = False
        self._attempts += 1
        self.log("WiFi: joining %r" % ssid)
        return True

    def hold(self):
        """Stop the driver's re-joining (it scans every channel); start() resumes it."""
        if self._held or self._joined is None:
            return
        self._held = True
        try:
            self._w.disconnect()
        except OSError:
            pass
        self.log("WiFi: joining %r paused" % self._joined[0])

    def held(self):
        return self._held

    def joining(self):
        """A join was asked for and has not succeeded (yet): the driver is (re)trying."""
        return self._joined is not None and not self._held and not self._w.isconnected()

    def attempts(self):
        """How many joins were asked for (start() or an adoption): a change is a new try."""
        return self._attempts

    def _left_over(self, ssid):
        w = self._w
        try:
            same = w.config("ssid") == ssid
        except (OSError, ValueError):
            return False
        return same and (w.isconnected() or w.status() == network.STAT_CONNECTING)

    def ssid(self):
        """The configured network's name ("" when none is)."""
        return self._creds()[0] or ""

    def attached(self):
        """Joined to the access point (AT+CREG? / AT+CGREG? / AT+CGATT? report this)."""
        return self._w.isconnected()

    def rssi(self):
        """Signal strength in dBm, None when not joined (AT+CSQ)."""
        try:
            return self._w.status("rssi")
        except (OSError, ValueError, TypeError):
            return None

    def last_error(self):
        return self._err

    def epoch(self):
        """Counts link (re)gains seen by poll(); a change means listeners may need re-arming."""
        return self._epoch

    def poll(self):
        """Called about once a second: re-join after a settings change, log drops and returns."""
        ssid, password = self._creds()
        if ssid and (ssid, password or "") != self._joined:
            self.start()
        linked = self._w.isconnected()
        if linked != self._linked:
            self._linked = linked
            if linked:
                self._epoch += 1
                self.log("WiFi: up, %s" % self._w.ifconfig()[0])
            else:
                self.log("WiFi: link lost (status %s); driver reconnecting" % self._w.status())
        return linked

    # --- the bearer (board contract) -----------------------------------------------------------

    async def up(self):
        if not self.start():
            raise neterr.BearerError(NOT_ATTACHED, self._err)
        failed = await self.await_link()
        if failed:
            code, why = failed
            self.log("CONNECTIONSTART: " + why)
            raise neterr.BearerError(code, why)
        self._active = True
        return self.ip()

    async def await_link(self):
        """Wait for the join start() asked for: None once linked, else (code, reason)."""
        w = self._w
        ssid = self._joined[0] if self._joined else ""
        t0 = ticks_ms()
        fail = None  # (code, text) of a failure status, and since when it has persisted
        since = t0
        while not w.isconnected():
            now = ticks_ms()
            seen = self._failure(w.status(), ssid)
            if seen is None:
                fail = None
            elif fail is None or fail[0] != seen[0]:
                fail, since = seen, now
            elif ticks_diff(now, since) >= self._confirm:
                break
            if ticks_diff(now, t0) >= self._timeout:
                break
            await asyncio.sleep(_POLL_S)
        if w.isconnected():
            self._err = ""
            return None
        code, why = fail or (
            NOT_ATTACHED,
            "no WiFi link to %r after %d ms (status %s)" % (ssid, self._timeout, w.status()),
        )
        self._err = why
        return code, why

    @staticmethod
    def _failure(status, ssid):
        if status in _REFUSED:
            return REJECTED, "WiFi %r rejected us: wrong password? (status %d)" % (ssid, status)
        if status in _NO_AP:
            return NOT_ATTACHED, "no access point %r found (status %d)" % (ssid, status)
        return None

    def down(self):
        # The PDP-context analogue ends; WiFi stays joined (registered) for a quick restart.
        self._active = False

    def is_up(self):
        return self._active and self._w.isconnected()

    def ip(self):
        if self.is_up():
            return self._w.ifconfig()[0]
        return "0.0.0.0"

    def link_ip(self):
        """The station's address while joined, activated or not (the console shows it)."""
        return self._w.ifconfig()[0] if self._w.isconnected() else "0.0.0.0"

    def gateway(self):
        if self.is_up():
            return self._w.ifconfig()[2]
        return "0.0.0.0"

    def state(self):
        if not self._active:
            return "IDLE"
        if self._w.isconnected():
            return "CONNECTED"
        return "DIALING"  # the driver is re-joining after a drop

    # --- for the console (board contract, optional part) -----------------------------------

    async def scan(self):
        """[{"ssid", "rssi", "secure"}] of the networks in range (wifi_setup.Scanner)."""
        scanner = self.scanner
        if scanner is None:
            import wifi_setup

            scanner = self.scanner = wifi_setup.Scanner(self, self._w)  # type: ignore[assignment]
        return await scanner.scan()

    async def join(self, ssid, password):
        """Store WIFISSID / WIFIPW as AT would, join, report: (ok, detail)."""
        import wifi_setup

        return await wifi_setup.join(self, ssid, password)

    def setup_ap(self):
        """None, or {"ssid", "ip", "why"} while the set-up access point is open."""
        return self.setup.status() if self.setup is not None else None

    # --- sockets -----------------------------------------------------------------------------

    def listen(self, port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ok = False
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(getaddrinfo("0.0.0.0", port)[0][-1])
            s.listen(_BACKLOG)
            s.setblocking(False)
            ok = True
        finally:
            if not ok:
                s.close()
        return s

    def accept(self, lsock):
        sock, addr = lsock.accept()  # OSError(EAGAIN) when nothing is pending
        ok = False
        try:
            sock.setblocking(False)
            _nodelay(sock)
            peer = _peer_ip(addr)
            ok = True
        finally:
            if not ok:
                sock.close()
        return sock, peer

    async def connect(self, host, port, timeout_ms):
        addr = self._resolve(host, port)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        ok = False
        try:
            s.setblocking(False)
            try:
                s.connect(addr)
                ok = True  # connected at once (loopback)
            except OSError as e:
                if _errno(e) not in _WAITING:
                    raise
            if not ok:
                await self._finish_connect(s, addr, timeout_ms)
            _nodelay(s)
            ok = True
        finally:
            if not ok:
                s.close()
        return s

    async def udp(self, host, port, local_port):
        """AT#OUDP: a non-blocking UDP socket bound to local_port, and the peer's address."""
        addr = self._resolve(host, port, socket.SOCK_DGRAM)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        ok = False
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(getaddrinfo("0.0.0.0", local_port)[0][-1])
            s.setblocking(False)
            ok = True
        finally:
            if not ok:
                s.close()
        return s, addr

    async def icmp(self, host):
        """AT#PING: a non-blocking raw ICMP socket, the peer's address and its dotted IP."""
        addr = self._resolve(host, 0)
        s = socket.socket(socket.AF_INET, socket.SOCK_RAW, 1)  # 1: IPPROTO_ICMP
        s.setblocking(False)
        return s, addr, _peer_ip(addr)

    @staticmethod
    def _resolve(host, port, kind=socket.SOCK_STREAM):
        # Numeric addresses never touch DNS. Names go through getaddrinfo, which blocks the loop
        # on the ESP32 (notes 2.3 #9) for at most lwIP's DNS timeout; the engine only resolves
        # in command mode, never while data flows.
        try:
            return getaddrinfo(host, port, 0, kind)[0][-1]
        except OSError as e:
            if is_ipv4(host):
                raise
            raise neterr.ResolveError("%s: %s" % (host, e))

    @staticmethod
    async def _finish_connect(s, addr, timeout_ms):
        p = select.poll()
        p.register(s, select.POLLOUT)
        t0 = ticks_ms()
        while True:
            if p.poll(0):
                try:
                    s.connect(addr)  # the probe: no getsockopt(SO_ERROR) on the ESP32
                    return
                except OSError as e:
                    code = _errno(e)
                    if code == _EISCONN:
                        return
                    if code not in _WAITING:
                        raise
            if ticks_diff(ticks_ms(), t0) >= timeout_ms:
                raise OSError(errno.ETIMEDOUT, "connect timed out")
            await asyncio.sleep(_CONNECT_POLL_S)
