"""The web console (issue 11): status, settings, log, WiFi and restart from a browser.

A microdot app served inside the modem's own asyncio loop. Loaded only when a board starts it
(`await console.start(modem, host, port)`, with AT#CONSOLE=1), so a modem with the console off
loads none of it. It never writes to the UART and never blocks the loop: every socket is
non-blocking, every wait is bounded.

Bad requests cost bounded memory and time: at most MAX_CONNECTIONS connections are served at a
time (the others are answered 503 and closed at once), a request must arrive within REQUEST_MS
(else 408), its request line and each header within LINE_MAX bytes, all of them within HEAD_MAX
(else 431), its body within BODY_MAX (else 413, microdot's Request limits). microdot answers one
request per connection (HTTP/1.0, then close).

The routes are in console_pages.py; the pages other than Status, Log and Restart are in
modules loaded when asked for and forgotten again when the heap runs low (`Console.load`); the
password, sessions and CSRF tokens are in console_auth.py.
"""

import gc
import sys

import asyncio
from microdot import Microdot, Request  # type: ignore[import-not-found]

import console_auth
import console_pages
from compat import const
from interpreter import RELEASE_BELOW, import_or_make_room

MAX_CONNECTIONS = 4  # an ESP32 has about ten sockets; the modem's sessions need theirs
REQUEST_MS = 5000  # a whole request, from connect to the end of the answer
_LINGER_MS = const(1000)  # an error answer: the client's unread bytes are read for this long
_LINGER_BYTES = const(65536)  # (so it gets the answer before the close, not a reset)
LINE_MAX = 1024
HEAD_MAX = 4096
BODY_MAX = 4096
_READ = const(512)
_WATCH_MS = const(1000)  # how often the console looks at AT#CONSOLE

Request.max_readline = LINE_MAX
Request.max_content_length = BODY_MAX
Request.max_body_length = BODY_MAX


def _quiet(exc):
    """microdot prints a traceback for each request it cannot parse or serve; the console
    counts them instead, and logs one line when the kind changes (a flood of bad requests
    must not flood the log ring)."""
    con = _current
    if con is not None:
        con.faults += 1
        kind = type(exc).__name__
        if kind != con.last_fault:
            con.last_fault = kind
            con.modem.log("console: a request failed: %s (%d so far)" % (kind, con.faults))


sys.modules["microdot.microdot"].print_exception = _quiet  # type: ignore[attr-defined]
_current = None  # the running Console (one per modem)
_mem_free = getattr(gc, "mem_free", None)

_STATUS_TEXT = {
    408: b"408 Request Timeout",
    431: b"431 Request Header Fields Too Large",
    503: b"503 Service Unavailable",
}


def error_answer(status, why):
    return b"HTTP/1.0 %s\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n\r\n%s\n" % (
        _STATUS_TEXT[status],
        len(why) + 1,
        why,
    )


class TooLarge(OSError):
    """A request line, a header or all of them together over the limits (-> 431)."""


class Guarded:
    """A connection's stream as microdot reads and writes it: lines and heads bounded (the
    VM's own readline is not), the answer's head sent in one piece (microdot writes it line by
    line), its status seen, the close left to Console."""

    def __init__(self, stream):
        self.stream = stream
        self.buf = b""
        self.head = 0  # bytes of request line and headers so far
        self.status = None  # of the answer, once its first bytes are written
        self.out = []  # the answer's head until its blank line
        self.head_sent = False

    async def readline(self):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = self.buf[: i + 1]
                self.buf = self.buf[i + 1 :]
                self.head += len(line)
                if len(line) > LINE_MAX or self.head > HEAD_MAX:
                    raise TooLarge()
                return line
            if len(self.buf) > LINE_MAX:
                raise TooLarge()
            data = await self.stream.read(_READ)
            if not data:  # the client closed: what came is the last line
                line = self.buf
                self.buf = b""
                return line
            self.buf += data

    async def readexactly(self, n):
        """The body (microdot asks only for n <= BODY_MAX)."""
        if n < 0:  # a negative Content-Length
            raise ValueError(n)
        parts = [self.buf[:n]]
        got = len(parts[0])
        self.buf = self.buf[n:]
        while got < n:
            data = await self.stream.read(min(_READ, n - got))
            if not data:
                raise EOFError()
            parts.append(data)
            got += len(data)
        return b"".join(parts)

    async def read(self, n=-1):
        if self.buf:
            data = self.buf[:n] if n >= 0 else self.buf
            self.buf = self.buf[len(data) :]
            return data
        return await self.stream.read(_READ if n < 0 else min(n, _READ))

    async def awrite(self, data):
        if self.status is None:
            self.status = int(data[9:12]) if data[:5] == b"HTTP/" else 0
        if not self.head_sent:
            self.out.append(data)
            if data != b"\r\n":
                return
            data = b"".join(self.out)
            self.out = []
            self.head_sent = True
        await self.stream.awrite(data)

    async def aclose(self):
        pass  # Console.connection closes it, after lingering on an error answer

    def get_extra_info(self, name):
        return self.stream.get_extra_info(name)

    async def discard(self):
        got = 0
        while got < _LINGER_BYTES:
            data = await self.stream.read(_READ)
            if not data:
                return
            got += len(data)

    async def linger(self):
        try:
            await asyncio.wait_for_ms(self.discard(), _LINGER_MS)
        except Exception:  # timed out or reset: close now
            pass

    def try_write(self, data):
        """One non-blocking write of a short answer; what does not fit now is dropped."""
        try:
            self.stream.s.write(data)
        except OSError:
            pass


class Console:
    """The running console of one modem: the app, the server, its counters."""

    def __init__(self, modem, host, port):
        self.modem = modem
        self.host = host
        self.port = port
        self.auth = console_auth.Auth(modem.settings)
        self.app = Microdot()
        console_pages.install(self)
        self.server = None
        self.watch_task = None
        self.open = 0  # connections being served now
        self.served = 0  # connections served (any answer)
        self.refused = 0  # connections closed at once: MAX_CONNECTIONS were being served
        self.errors = {}  # HTTP status -> count, for the errors the console answers itself
        self.faults = 0  # requests microdot could not parse or serve (400, 500)
        self.last_fault = ""
        self.loaded = {}  # page modules loaded on use: name -> module
        self.wifi = None  # what the WiFi page's scan and join found (console_wifi.Wifi)

    def load(self, name):
        """A page module, imported on first use (see release())."""
        mod = self.loaded.get(name)
        if mod is None:
            mod = self.loaded[name] = import_or_make_room(name, self.release)
        return mod

    def release(self):
        """Forget the page modules (a .mpy's code is in the heap), as the interpreter forgets
        its command groups when the heap runs low."""
        if self.loaded:
            for name in self.loaded:
                sys.modules.pop(name, None)
            self.loaded.clear()
            gc.collect()

    def count(self, status):
        self.errors[status] = self.errors.get(status, 0) + 1

    async def connection(self, stream, _same):
        if self.open >= MAX_CONNECTIONS or self.server is None:
            self.refused += 1
            guarded = Guarded(stream)
            guarded.try_write(error_answer(503, b"busy: too many connections, try again"))
            await stream.aclose()
            return
        self.open += 1
        guarded = Guarded(stream)
        try:
            try:
                await asyncio.wait_for_ms(self.app.handle_request(guarded, guarded), REQUEST_MS)
            except TooLarge:
                self.fail(guarded, 431, b"request line or headers too large")
            except asyncio.TimeoutError:
                self.fail(guarded, 408, b"request not complete in time")
            except OSError:  # reset by the client: the socket just closes
                pass
            except Exception as e:  # a fault of the console (a page cut short): logged, by
                self.faults += 1  # its kind only (its text might hold a value of a form)
                self.modem.log("console: fault: %s" % type(e).__name__)
            if guarded.status in (413, 431):  # the client may still be sending its body
                await guarded.linger()
        finally:
            self.open -= 1
            self.served += 1
            try:
                await stream.aclose()
            except OSError:
                pass
            if self.loaded and _mem_free is not None and _mem_free() < RELEASE_BELOW:
                self.release()

    def fail(self, guarded, status, why):
        self.count(status)
        if guarded.status is None:  # nothing was answered yet
            guarded.status = status
            guarded.try_write(error_answer(status, why))

    async def watch(self):
        """AT#CONSOLE=0 switches the console off within a second: the port closes."""
        while self.modem.settings.get("CONSOLE") == 1:
            await asyncio.sleep_ms(_WATCH_MS)
        self.modem.log("console: switched off (AT#CONSOLE=0; AT#CONSOLE=1 and a boot: on again)")
        self.stop()

    def stop(self):
        server = self.server
        self.server = None
        if server is not None:
            server.close()
        task = self.watch_task
        self.watch_task = None
        if task is not None and task is not asyncio.current_task():
            task.cancel()


async def start(modem, host, port):
    """Listen on host:port (raises OSError when that cannot be had) and serve the console in
    the running loop; return the Console. The board checks AT#CONSOLE=1 before importing this
    module (see docs/architecture.md, "The board contract")."""
    global _current
    con = Console(modem, host, port)
    con.server = await asyncio.start_server(con.connection, host, port, backlog=MAX_CONNECTIONS)
    con.watch_task = asyncio.create_task(con.watch())
    _current = con
    modem.log("console: http://%s:%d/" % (host, port))
    return con
