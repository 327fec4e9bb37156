"""End-to-end harness: the whole firmware on the MicroPython unix VM behind a pseudo-terminal.

`EmulatedModem` starts `tools/modem.py` (the README's run command), opens the pty it prints with
pyserial, and offers byte-exact helpers.  Socket helpers talk to the modem over 127.0.0.0/8.
Test modules import the fixtures from here (`from harness import modem, ...`); no conftest needed.
"""

import os
import random
import re
import select
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

import pytest
import serial

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCHER = os.path.join(ROOT, "tools", "modem.py")

DLE = 0x10
ETX = 0x03

OK = b"\r\nOK\r\n"
WAITING = b"\r\nOk_Info_WaitingForData\r\n"
GPRS = b"\r\nOk_Info_GprsActivation\r\n"
CLOSED = b"\r\nOk_Info_SocketClosed\r\n"
BOOT = b"\r\n+WIND: 4\r\n"


def cme(code):
    return b"\r\n#CME ERROR: %d\r\n" % code


# A final result line ends a command's response (verbose mode).
FINAL = re.compile(
    rb"\r\n(OK|ERROR|[#+]CME ERROR: \d+|Ok_Info_WaitingForData|Ok_Info_GprsActivation)\r\n\Z"
)

START_TIMEOUT = 20.0
IS_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def describe(data, limit=300):
    """Short printable form of `data` for assertion messages."""
    data = bytes(data)
    if len(data) <= limit:
        return repr(data)
    return "%r ... (%d bytes) ... %r" % (data[: limit // 2], len(data), data[-limit // 2 :])


def first_difference(got, expected):
    """Message locating the first mismatch between two byte strings."""
    n = min(len(got), len(expected))
    for i in range(n):
        if got[i] != expected[i]:
            break
    else:
        i = n
    lo = max(0, i - 16)
    return "lengths got %d expected %d; first difference at %d: got %r expected %r" % (
        len(got),
        len(expected),
        i,
        bytes(got[lo : i + 16]),
        bytes(expected[lo : i + 16]),
    )


# --- DLE/ETX framing (reference implementation for the tests, independent of firmware/dle.py) --


def dle_escape(data):
    """Payload -> wire in DLEMODE 1: 0x10 -> 10 10, 0x03 -> 10 03."""
    return bytes(data).replace(b"\x10", b"\x10\x10").replace(b"\x03", b"\x10\x03")


def payload(size, seed):
    """Random bytes with every value 0x00-0xFF and long DLE/ETX runs in them."""
    rnd = random.Random(seed)
    parts = [bytes(range(256)), bytes(range(255, -1, -1))]
    specials = [
        b"\x10" * 97,
        b"\x03" * 89,
        b"\x10\x03" * 61,
        b"\x03\x10" * 53,
        b"\x10\x10\x03" * 17,
    ]
    size_left = size - sum(len(p) for p in parts)
    while size_left > 0:
        if rnd.random() < 0.05:
            chunk = rnd.choice(specials)
        else:
            chunk = rnd.randbytes(rnd.randint(1, 3000))
        chunk = chunk[:size_left]
        parts.append(chunk)
        size_left -= len(chunk)
    return b"".join(parts)


def chunked(data, cuts):
    """Split `data` at the (sorted, possibly repeated -> empty chunks) positions in `cuts`."""
    points = sorted(min(c, len(data)) for c in cuts)
    parts = []
    prev = 0
    for p in points:
        parts.append(data[prev:p])
        prev = p
    parts.append(data[prev:])
    return parts


def chunks(data, seed, lo=1, hi=4096):
    """Split `data` at random places (so DLE pairs and runs straddle writes)."""
    rnd = random.Random(seed)
    i = 0
    while i < len(data):
        n = rnd.randint(lo, hi)
        yield data[i : i + n]
        i += n


# --- the emulated modem ------------------------------------------------------------------------


def _die_with_parent():
    # Linux: the launcher gets SIGTERM if pytest dies without closing it (and stops its VM).
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class EmulatedModem:
    """tools/modem.py running the firmware on a pty, driven through pyserial.

    heap: the VM's heap ("128k"); mpy: run precompiled .mpy as on the ESP32 (needed for a
    heap that small: compiling the sources at import takes more).
    The modem boots with echo on; start() drains the boot output and sends ATE0, so tests start
    in verbose mode without echo.
    """

    def __init__(
        self,
        tmp_path,
        heap=None,
        ip=None,
        name="modem",
        open_serial=True,
        link=None,
        mpy=False,
        faults=None,
        chunk=None,
        env=None,
        args=(),
    ):
        self.dir = str(tmp_path)
        self.name = name
        self.state = os.path.join(self.dir, name + "-state")
        self.heap = heap
        self.ip = ip
        self.link = link
        self.mpy = mpy
        self.chunk = chunk  # the data path's read size (None: the board's default)
        self.faults = faults  # "127.0.0.1:PORT": boards/unix/faults.py's control (tests only)
        self.open_serial = open_serial
        self.env = env  # extra environment for the VM (e.g. MTIP_SERVER_SILENCE_MS)
        self.args = list(args)  # more tools/modem.py options (e.g. --console PORT)
        self.proc = None
        self.port = None
        self.path = None
        self.boot_output = b""
        self._buf = bytearray()
        self._next_check = 0.0
        self._runs = 0
        self.start()

    # --- process ----------------------------------------------------------------------------

    def start(self):
        self._runs += 1
        self.out_path = os.path.join(self.dir, "%s-%d.stdout" % (self.name, self._runs))
        self.err_path = os.path.join(self.dir, "%s-%d.stderr" % (self.name, self._runs))
        cmd = [sys.executable, LAUNCHER, "--state", self.state]
        if self.heap:
            cmd += ["--heap", str(self.heap)]
        if self.ip:
            cmd += ["--ip", self.ip]
        if self.link:
            cmd += ["--link", self.link]
        if self.mpy:
            cmd += ["--mpy"]
        if self.faults:
            cmd += ["--faults", self.faults]
        if self.chunk:
            cmd += ["--chunk", str(self.chunk)]
        cmd += self.args
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=self.dir,
                env=dict(os.environ, **self.env) if self.env else None,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            text = self._read_file(self.out_path)
            m = re.search(r"^serial: (\S+)\n", text, re.M)
            if m:
                self.path = m.group(1)
                break
            if self.proc.poll() is not None:
                self._fail_start("the launcher exited with status %s" % self.proc.returncode)
            if time.monotonic() > deadline:
                self._fail_start("no `serial:` line within %.0f s" % START_TIMEOUT)
            time.sleep(0.02)
        self._buf = bytearray()
        if self.open_serial:
            self.port = serial.Serial(self.path, baudrate=115200, timeout=0.05)
            self.boot()

    def boot(self):
        """Drain the boot URC (pyserial may have flushed it already), then ATE0."""
        self.boot_output = self.read_for(0.3, until=BOOT)
        assert self.boot_output in (b"", BOOT), "unexpected boot output " + describe(
            self.boot_output
        )
        self.send(b"ATE0\r")
        got = self.read_until(b"ATE0\r" + OK, timeout=5)
        # The boot URC may come late (after the port was opened): then it precedes the echo.
        assert got in (b"ATE0\r" + OK, BOOT + b"ATE0\r" + OK), "ATE0 answered " + describe(got)
        if got.startswith(BOOT):
            self.boot_output = BOOT

    def _read_file(self, path):
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def stderr(self):
        return self._read_file(self.err_path)

    def _fail_start(self, why):
        self.close()
        pytest.fail(
            "emulated modem did not start: %s\nstdout:\n%s\nstderr:\n%s"
            % (why, self._read_file(self.out_path), self.stderr())
        )

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def close(self):
        if self.port is not None:
            try:
                self.port.close()
            except Exception:
                pass
            self.port = None
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        return self.stderr()

    def restart(self):
        self.close()
        self.start()

    def check_alive(self):
        """Fail at once if the VM exited or printed a traceback (e.g. a MemoryError in a task)."""
        if not self.alive() or "Traceback" in self.stderr():
            pytest.fail("the firmware crashed " + self.info())

    def info(self):
        """Context for failure messages: process state and the VM's stderr."""
        status = (
            "running" if self.alive() else "exited with %s" % (self.proc and self.proc.returncode)
        )
        return "[modem %s %s; stderr: %s]" % (
            self.name,
            status,
            self.stderr()[-3000:] or "(empty)",
        )

    # --- serial side ------------------------------------------------------------------------

    def send(self, data):
        self.port.write(data)

    def _fill(self, timeout):
        """Read what is available (waiting at most `timeout`) into the buffer; count read."""
        fd = self.port.fileno()
        if not select.select([fd], [], [], max(0.0, timeout))[0]:
            now = time.monotonic()
            if now >= self._next_check:  # nothing comes: has the VM died?
                self._next_check = now + 0.5
                self.check_alive()
            return 0
        try:
            got = os.read(fd, 65536)  # pyserial opened the pty O_NONBLOCK
        except BlockingIOError:
            return 0
        self._buf += got
        return len(got)

    def _take(self, n):
        out = bytes(self._buf[:n])
        del self._buf[:n]
        return out

    def read_until(self, expected, timeout=5.0):
        """Everything up to and including `expected`; fails showing what was received."""
        deadline = time.monotonic() + timeout
        while True:
            i = self._buf.find(expected)
            if i >= 0:
                return self._take(i + len(expected))
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(
                    "waited %.1f s for %r, received %s %s"
                    % (timeout, expected, describe(self._buf), self.info())
                )
            self._fill(min(left, 0.05))

    def read_exact(self, n, timeout=5.0):
        deadline = time.monotonic() + timeout
        while len(self._buf) < n:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(
                    "waited %.1f s for %d bytes, received %d: %s %s"
                    % (timeout, n, len(self._buf), describe(self._buf), self.info())
                )
            self._fill(min(left, 0.05))
        return self._take(n)

    def expect_exact(self, expected, timeout=5.0):
        """Read exactly len(expected) bytes and assert they are `expected` (fails as soon as
        what arrived so far differs)."""
        n = len(expected)
        deadline = time.monotonic() + timeout
        while len(self._buf) < n:
            if not expected.startswith(self._buf):
                break
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._fill(min(left, 0.05))
        got = self._take(n)
        if got != expected:
            if len(got) < n and expected.startswith(got):
                why = "waited %.1f s: got %d of %d bytes" % (timeout, len(got), n)
            elif n <= 600:
                why = "differs"
            else:
                why = first_difference(got, expected)
            if n <= 600:
                why += "; expected %r got %r" % (expected, got)
            pytest.fail(why + " " + self.info())
        return got

    def read_for(self, duration, until=None):
        """Whatever arrives within `duration` seconds (stop early once `until` is in it)."""
        deadline = time.monotonic() + duration
        while True:
            if until is not None and until in self._buf:
                break
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._fill(min(left, 0.05))
        return self._take(len(self._buf))

    def expect_silence(self, duration=0.3):
        got = self.read_for(duration)
        assert got == b"", "expected no output, got %s %s" % (describe(got), self.info())

    def cmd(self, line, timeout=5.0):
        """Send `line` + CR; return the response up to and including its final result line."""
        if isinstance(line, str):
            line = line.encode()
        self.send(line + b"\r")
        deadline = time.monotonic() + timeout
        while True:
            m = FINAL.search(self._buf)
            if m:
                return self._take(m.end())
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail(
                    "%r: no final result within %.1f s, received %s %s"
                    % (line, timeout, describe(self._buf), self.info())
                )
            self._fill(min(left, 0.05))

    def check(self, line, expected, timeout=5.0):
        """cmd(line) and assert the whole response is exactly `expected`."""
        got = self.cmd(line, timeout)
        assert got == expected, "%r: expected %r got %r %s" % (line, expected, got, self.info())
        return got

    # --- common sequences -------------------------------------------------------------------

    def connection_start(self):
        ip = (self.ip or "127.0.0.1").encode()
        self.check("AT#CONNECTIONSTART", b"\r\n" + ip + b"\r\n" + GPRS)

    def configure(self, port, serv="127.0.0.1", dlemode=1, profile=1, txdelay=None, rxdelay=None):
        self.check("AT#TCPPORT=%d,%d" % (profile, port), OK)
        self.check('AT#TCPSERV=%d,"%s"' % (profile, serv), OK)
        self.check("AT#DLEMODE=%d,%d" % (profile, dlemode), OK)
        if txdelay is not None:
            self.check("AT#TCPTXDELAY=%d,%d" % (profile, txdelay), OK)
        if rxdelay is not None:  # TCPRXDELAY: how long the peer's first bytes are held
            self.check("AT#TCPRXDELAY=%d,%d" % (profile, rxdelay), OK)

    def listen(self, port, serv="127.0.0.1", dlemode=1, txdelay=None):
        """Bearer up (if needed) + settings + AT#LTCPSTART=1 -> OK; returns when listening."""
        self.configure(port, serv, dlemode, txdelay=txdelay)
        self.check("AT#LTCPSTART=1", OK)
        wait_listening(port)

    def close_session_from_device(self):
        """Lone ETX in DLEMODE 1: the session ends with Ok_Info_SocketClosed and OK."""
        self.send(b"\x03")
        self.expect_exact(CLOSED + OK)


def wait_listening(port, host="127.0.0.1", timeout=5.0):
    """Wait until something listens on host:port, without connecting to it (reads /proc)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port in listening_ports():
            return
        time.sleep(0.01)
    pytest.fail("nothing listens on port %d after %.1f s" % (port, timeout))


def listening_ports():
    """TCP ports in LISTEN state on this host (Linux /proc/net/tcp{,6})."""
    ports = set()
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(name) as f:
                next(f)
                for line in f:
                    fields = line.split()
                    if fields[3] == "0A":  # TCP_LISTEN
                        ports.add(int(fields[1].rsplit(":", 1)[1], 16))
        except OSError:
            pass
    return ports


def wait_not_listening(port, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port not in listening_ports():
            return
        time.sleep(0.01)
    pytest.fail("port %d still listening after %.1f s" % (port, timeout))


# --- sockets on 127.0.0.0/8 -------------------------------------------------------------------


def free_port():
    """A TCP port nobody uses right now (bound and released on all addresses)."""
    with socket.socket() as s:
        s.bind(("0.0.0.0", 0))
        return s.getsockname()[1]


def connect(port, source="127.0.0.1", host="127.0.0.1", timeout=5.0, rcvbuf=None):
    """A client socket to host:port from `source` (127.0.0.2 plays a foreign peer)."""
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((source, 0))
    s.settimeout(timeout)
    s.connect((host, port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class PeerServer:
    """A TCP server on `host` (127.0.0.x) for the modem to dial (AT#OTCP): `.port`, `.sock`.
    `rcvbuf`: a small receive buffer, set before listen() so accepted sockets have it (a slow
    reader)."""

    def __init__(self, host="127.0.0.1", backlog=8, rcvbuf=None):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.bind((host, 0))
        self.sock.listen(backlog)
        self.port = self.sock.getsockname()[1]

    def accept(self, timeout=5.0):
        """(socket, address) of the next caller, with TCP_NODELAY as connect() sets it."""
        self.sock.settimeout(timeout)
        conn, addr = self.sock.accept()
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn, addr

    def close(self):
        self.sock.close()


def reset(sock):
    """Close with RST: SO_LINGER on with a zero timeout."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def _watch(watch):
    if watch is not None:
        watch.check_alive()


def recv_exact(sock, n, timeout=5.0, watch=None):
    """Exactly n bytes from sock; `watch`: an EmulatedModem whose crash fails the wait at once."""
    deadline = time.monotonic() + timeout
    buf = bytearray()
    while len(buf) < n:
        left = deadline - time.monotonic()
        if left <= 0:
            pytest.fail(
                "socket: waited %.1f s for %d bytes, got %d: %s"
                % (timeout, n, len(buf), describe(buf))
            )
        sock.settimeout(min(left, 0.5))
        try:
            got = sock.recv(min(65536, n - len(buf)))
        except socket.timeout:
            _watch(watch)
            continue
        if not got:
            pytest.fail("socket: EOF after %d of %d bytes: %s" % (len(buf), n, describe(buf)))
        buf += got
    return bytes(buf)


def recv_until_eof(sock, timeout=5.0, watch=None):
    """Everything until the peer's FIN (fails on timeout; a reset fails too)."""
    deadline = time.monotonic() + timeout
    buf = bytearray()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            pytest.fail("socket: no EOF within %.1f s, got %s" % (timeout, describe(buf)))
        sock.settimeout(min(left, 0.5))
        try:
            got = sock.recv(65536)
        except socket.timeout:
            _watch(watch)
            continue
        if not got:
            return bytes(buf)
        buf += got


def expect_closed_by_modem(sock, timeout=5.0):
    """The modem closed/refused this connection: EOF or reset, and no data."""
    deadline = time.monotonic() + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            pytest.fail("socket: the modem did not close this connection within %.1f s" % timeout)
        sock.settimeout(left)
        try:
            got = sock.recv(4096)
        except socket.timeout:
            continue
        except (ConnectionResetError, ConnectionAbortedError):
            return "reset"
        assert got == b"", "a refused connection received data %s" % describe(got)
        return "eof"


def refused_or_closed(port, source="127.0.0.1", timeout=5.0):
    """A connection attempt that must not get a session: refused, or accepted and closed."""
    try:
        s = connect(port, source=source, timeout=timeout)
    except ConnectionRefusedError:
        return "refused"
    try:
        return expect_closed_by_modem(s, timeout)
    finally:
        s.close()


def run_on_micropython(exe, script, micropypath=None, heap=None, env=(), timeout=300):
    """Run a test script that ends with "N passed, M failed" on the VM `exe` from the project
    root; (passed, failed, output, returncode), passed and failed None without that line.
    `micropypath` None: the VM's default path (with its frozen asyncio)."""
    full_env = dict(os.environ, **dict(env))
    full_env.pop("MICROPYPATH", None)
    if micropypath is not None:
        full_env["MICROPYPATH"] = micropypath
    cmd = [exe] + (["-X", "heapsize=" + heap] if heap else []) + [script]
    proc = subprocess.run(
        cmd, cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=timeout
    )
    lines = proc.stdout.strip().splitlines()
    summary = re.fullmatch(r"(\d+) passed, (\d+) failed", lines[-1]) if lines else None
    passed, failed = (int(summary.group(1)), int(summary.group(2))) if summary else (None, None)
    return passed, failed, proc.stdout + proc.stderr, proc.returncode


class Thread(threading.Thread):
    """A thread whose exception is re-raised by join()."""

    def __init__(self, fn, *args):
        super().__init__(daemon=True)
        self.fn, self.args, self.result, self.error = fn, args, None, None

    def run(self):
        try:
            self.result = self.fn(*self.args)
        except BaseException as e:  # noqa: B036 - re-raised in join()
            self.error = e

    def join(self, timeout=None):
        super().join(timeout)
        if self.is_alive():
            pytest.fail("thread %s still running after %s s" % (self.fn.__name__, timeout))
        if self.error is not None:
            raise self.error
        return self.result


# --- fixtures (import them into a test module: `from harness import modem`) ------------------


@pytest.fixture(name="server")
def server_fixture():
    """`server`: a PeerServer on 127.0.0.1 for the test, closed afterwards."""
    s = PeerServer()
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def modem(tmp_path):
    """A booted emulated modem (echo off) with the IP link up."""
    m = EmulatedModem(tmp_path)
    try:
        m.connection_start()
        yield m
    finally:
        m.close()


@pytest.fixture
def fresh_modem(tmp_path):
    """A booted emulated modem (echo off), IP link still down."""
    m = EmulatedModem(tmp_path)
    try:
        yield m
    finally:
        m.close()
