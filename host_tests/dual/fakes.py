"""Shared helpers for the dual-runtime command-side tests (atline, atparse, results, settings,
interpreter, transcripts).

Runs on CPython and on the MicroPython VM: no tempfile/shutil, no pytest, no dict ordering.

* `FakeModem`: the object the interpreter talks to (see firmware/modem.py, "what the interpreter
  asks of the modem"); every call is recorded in `calls` as a tuple.
* `TempDir`: a fresh directory under /tmp, removed again by `cleanup()` (also a context manager).
* `Driver`: LineAssembler + Interpreter wired the way modem.Modem.command_input does it
  (feed, echo when ATE1, execute_line, then the after-hook), collecting every output byte.
"""

import asyncio
import os

import settings as cfg
from atline import LineAssembler
from errors import CmdError
from interpreter import Interpreter

CR = b"\r"
CRLF = b"\r\n"
OK = b"\r\nOK\r\n"
ERROR = b"\r\nERROR\r\n"
ETX = b"\x03"


def ok_info(text):
    return b"\r\n" + text.encode() + b"\r\n"


def info(*lines):
    """Verbose information text: `\\r\\n` + lines joined by CRLF + `\\r\\n`."""
    return CRLF + CRLF.join(x.encode() for x in lines) + CRLF


def cme(code):
    return ("\r\n#CME ERROR: %d\r\n" % code).encode()


def plus_cme(code):
    return ("\r\n+CME ERROR: %d\r\n" % code).encode()


# --- temporary directories -------------------------------------------------------------------

_counter = [0]


def _hex(data):
    return "".join("%02x" % b for b in data)


def _exists(path):
    try:
        os.stat(path)
        return True
    except OSError:
        return False


def _is_dir(path):
    try:
        return (os.stat(path)[0] & 0o170000) == 0o040000
    except OSError:
        return False


def rmtree(path):
    """Remove a directory tree (no shutil on MicroPython)."""
    if not _exists(path):
        return
    if not _is_dir(path):
        os.remove(path)
        return
    for name in os.listdir(path):
        rmtree(path + "/" + name)
    os.rmdir(path)


class TempDir:
    """A new empty directory under /tmp; `path` is its name. Use `with TempDir() as d:`."""

    def __init__(self):
        while True:
            _counter[0] += 1
            path = "/tmp/mtip-test-%s-%d" % (_hex(os.urandom(6)), _counter[0])
            if not _exists(path):
                break
        os.mkdir(path)
        self.path = path

    def listdir(self):
        return sorted(os.listdir(self.path))

    def file(self, name=cfg.FILE_NAME):
        return self.path + "/" + name

    def write(self, text, name=cfg.FILE_NAME):
        f = open(self.file(name), "w")
        f.write(text)
        f.close()

    def read(self, name=cfg.FILE_NAME):
        f = open(self.file(name))
        try:
            return f.read()
        finally:
            f.close()

    def cleanup(self):
        rmtree(self.path)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()
        return False


def new_settings(path):
    return cfg.Settings(cfg.Store(path))


# --- the fake modem --------------------------------------------------------------------------


class FakeModem:
    """Stands in for modem.Modem towards the interpreter. Knobs are plain attributes:

    * `is_busy`: a socket or listener is active (AT# sets then fail with 37123)
    * `is_attached`, `csq`, `ip`, `up` (bearer state), `state` (AT#VSTATE text)
    * `up_error` / `open_error` / `listen_error`: a dialect code to raise as CmdError
    * `log`: the lines AT#VLOG shows
    `calls` records every call as a tuple ("name", args...).
    """

    def __init__(self):
        self.calls = []
        self.is_busy = False
        self.is_attached = True
        self.csq = 25
        self.ip = "10.0.0.7"
        self.up = False
        self.state = "IDLE"
        self.up_error = None
        self.open_error = None
        self.listen_error = None
        self.log = ["boot", "ready"]
        self.session = None  # profile number once open_tcp succeeded
        self.listening = None  # profile number while listening

    def names(self):
        return [c[0] for c in self.calls]

    def busy(self):
        self.calls.append(("busy",))
        return self.is_busy

    def attached(self):
        self.calls.append(("attached",))
        return self.is_attached

    def signal_quality(self):
        self.calls.append(("signal_quality",))
        return self.csq

    async def bearer_up(self):
        self.calls.append(("bearer_up",))
        if self.up_error is not None:
            raise CmdError(self.up_error)
        if self.up:
            raise CmdError(35840)
        self.up = True
        self.state = "CONNECTED"
        return self.ip

    def bearer_is_up(self):
        self.calls.append(("bearer_is_up",))
        return self.up

    async def bearer_down(self):
        self.calls.append(("bearer_down",))
        self.up = False
        self.state = "IDLE"
        self.listening = None

    def addresses(self):
        self.calls.append(("addresses",))
        return (self.ip if self.up else "0.0.0.0"), "0.0.0.0", "10.0.0.1"

    def bearer_state(self):
        self.calls.append(("bearer_state",))
        return self.state

    async def open_tcp(self, profile):
        self.calls.append(("open_tcp", profile))
        if self.open_error is not None:
            raise CmdError(self.open_error)
        if not self.up:
            raise CmdError(35867)
        if self.is_busy:
            raise CmdError(37123)
        self.session = profile
        self.is_busy = True

    async def listen(self, profile):
        self.calls.append(("listen", profile))
        if self.listen_error is not None:
            raise CmdError(self.listen_error)
        if not self.up:
            raise CmdError(35867)
        if self.is_busy:
            raise CmdError(37123)
        self.listening = profile
        self.is_busy = True

    async def stop_listening(self, profile):
        self.calls.append(("stop_listening", profile))
        if self.listening is not None:
            self.listening = None
            self.is_busy = self.session is not None

    async def start_service(self, module, action, *args):
        self.calls.append(("start_service", module, action) + args)
        if self.open_error is not None:
            raise CmdError(self.open_error)
        if not self.up:
            raise CmdError(35867)
        if self.is_busy:
            raise CmdError(37123)
        return None

    def apply_serial(self, baud, rts, cts):
        self.calls.append(("apply_serial", baud, rts, cts))

    async def soft_reset(self):
        self.calls.append(("soft_reset",))

    def log_lines(self):
        self.calls.append(("log_lines",))
        return list(self.log)


# --- the command-mode driver -----------------------------------------------------------------


class Driver:
    """LineAssembler + Interpreter, driven like modem.Modem.command_input.

    `send(data)` feeds bytes and returns everything written back (echo, answers). When a hook
    runs (AT+IPR, AT+CFUN=1 ...), ("out", n) is recorded in the fake modem's `calls` first, n
    being the number of output bytes written before the hook, so tests can check ordering.
    When the fake modem enters a session (AT#OTCP), the bytes after that line are kept in
    `rest` and not fed further (they would be data-mode bytes).
    """

    def __init__(self, directory, modem=None, settings=None):
        self.modem = modem if modem is not None else FakeModem()
        self.settings = settings if settings is not None else new_settings(directory)
        self.output = bytearray()
        self.lines = LineAssembler()
        self.interp = Interpreter(self.settings, self.modem, self._out)
        self.rest = b""

    def _out(self, data):
        assert isinstance(data, (bytes, bytearray)), repr(data)
        self.output += data

    async def _input(self, data):
        i = 0
        end = len(data)
        while i < end:
            if self.interp.entry is not None:  # AT#RECiADD / AT#BODYi text, as the engine does
                i = self.interp.entry.feed(data, i)
                continue
            echo, line, i = self.lines.feed(data, i)
            if echo and self.interp.echo:
                self.output += echo
            if line is not None:
                after = await self.interp.execute_line(line)
                if after is not None:
                    self.modem.calls.append(("out", len(self.output)))
                    r = after()
                    if r is not None:
                        await r
                if self.modem.session is not None:
                    return data[i:]
        return b""

    def send(self, data):
        """Feed `data` (whole) and return the bytes written back for it. Once a session has
        started, bytes only collect in `rest` (data mode is not this driver's business)."""
        if self.modem.session is not None:
            self.rest += data
            return b""
        start = len(self.output)
        self.rest = asyncio.run(self._input(data))
        return bytes(self.output[start:])

    def send_bytewise(self, data):
        start = len(self.output)
        for k in range(len(data)):
            self.send(data[k : k + 1])
        return bytes(self.output[start:])

    def cmd(self, line):
        """Send one command line (str or bytes, without CR) plus CR; return the answer."""
        if isinstance(line, str):
            line = line.encode()
        return self.send(line + CR)


class Bench:
    """A temp dir + a Driver with echo off (ATE0 sent), for `with Bench() as b:`."""

    def __init__(self, echo=False):
        self.dir = TempDir()
        self.drv = Driver(self.dir.path)
        self.modem = self.drv.modem
        self.settings = self.drv.settings
        if not echo:
            assert self.drv.cmd("ATE0") == b"ATE0\r" + OK

    def cmd(self, line):
        return self.drv.cmd(line)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.dir.cleanup()
        return False
