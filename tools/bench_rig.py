"""Benchmark rigs: the firmware on the MicroPython VM and socat, each a pty bridged to TCP.

Both rigs give the benchmark the same two ends, so the benchmark's own overhead is identical:
  device  the pty's slave side, opened raw and blocking by this process (the serial device)
  peer    a TCP socket accepted on 127.0.0.1 by this process (the server the modem dials)
Sessions are client sessions: the firmware dials with AT#OTCP=1, socat runs as
`socat PTY,link=L,raw,echo=0 TCP:127.0.0.1:PORT` (one socat process per session).

Transfers run one blocking thread per active stream (device writer, device reader, peer writer,
peer reader) with large os.write/os.readv/sendall/recv_into calls into preallocated buffers.
A watchdog in the calling thread aborts a transfer that stops making progress (closing the
peer socket and killing the rig unblocks the threads), so every run ends in bounded time.
CPython standard library only.
"""

import os
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import tty

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAUNCHER = os.path.join(ROOT, "tools", "modem.py")

OK = b"\r\nOK\r\n"
WAITING = b"\r\nOk_Info_WaitingForData\r\n"
GPRS = b"\r\nOk_Info_GprsActivation\r\n"
CLOSED = b"\r\nOk_Info_SocketClosed\r\n"
ETX = b"\x03"

WRITE_CHUNK = 65536
# TCPTXDELAY holds back at most one partial segment (< 1460 bytes) for up to its delay, by design:
# the throughput clock of the peer's reader stops when all but that much has arrived.
HELD_TAIL = 1460
READ_CHUNK = 262144


class RigError(Exception):
    """The rig misbehaved (did not start, answered wrongly, died)."""


def dle_escape(data):
    """Payload -> the DLEMODE 1 wire: 0x10 -> 10 10, 0x03 -> 10 03."""
    return data.replace(b"\x10", b"\x10\x10").replace(b"\x03", b"\x10\x03")


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    if not n:
        return float("nan")
    return xs[n // 2] if n % 2 else (xs[n // 2 - 1] + xs[n // 2]) / 2


def percentile(xs, p):
    xs = sorted(xs)
    if not xs:
        return float("nan")
    k = min(len(xs) - 1, max(0, int(round(p / 100.0 * len(xs) + 0.5)) - 1))
    return xs[k]


def _die_with_parent():
    try:
        import ctypes

        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


def stop_process(proc, timeout=5.0):
    """SIGTERM, then SIGKILL; by PID only."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)
        except ProcessLookupError:
            pass
    return proc.returncode


def open_device(path):
    """The pty slave as the serial device: raw, blocking."""
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY)
    tty.setraw(fd)
    return fd


class Peer:
    """The bench's TCP server on 127.0.0.1 (the remote host the modem dials)."""

    def __init__(self):
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(8)
        self.port = self.lsock.getsockname()[1]

    def accept(self, timeout=10.0):
        self.lsock.settimeout(timeout)
        try:
            conn, _ = self.lsock.accept()
        except socket.timeout:
            raise RigError(
                "nobody connected to the bench's port %d within %.0f s" % (self.port, timeout)
            )
        conn.settimeout(None)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return conn

    def close(self):
        self.lsock.close()


# --- the firmware ------------------------------------------------------------------------------


class Firmware:
    """tools/modem.py (the README's run command) with --mpy; AT commands over the pty."""

    name = "firmware"

    def __init__(
        self,
        workdir,
        heap=None,
        mpy=True,
        micropython=None,
        start_timeout=30.0,
        chunk=None,
        probe=False,
        args=(),
    ):
        self.workdir = workdir
        self.args = list(args)  # more tools/modem.py options (e.g. --console PORT)
        self.probe = probe  # with boards/unix/faults.py's control port, for heap_used()
        self.heap = heap
        self.chunk = chunk  # the data path's read size (None: the unix board's default)
        self.mpy = mpy
        self.micropython = micropython
        self.start_timeout = start_timeout
        self.proc = None
        self.fd = None
        self.buf = bytearray()
        self.runs = 0
        self.settings = {}

    def start(self):
        self.runs += 1
        self.state = os.path.join(self.workdir, "state-%d" % self.runs)
        self.out_path = os.path.join(self.workdir, "modem-%d.out" % self.runs)
        self.err_path = os.path.join(self.workdir, "modem-%d.err" % self.runs)
        cmd = [sys.executable, LAUNCHER, "--state", self.state]
        if self.mpy:
            cmd.append("--mpy")
        if self.heap:
            cmd += ["--heap", str(self.heap)]
        if self.chunk:
            cmd += ["--chunk", str(self.chunk)]
        if self.micropython:
            cmd += ["--micropython", self.micropython]
        cmd += self.args
        if self.probe:
            self.ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self.ctl.bind(("127.0.0.1", 0))
            self.ctl.settimeout(self.start_timeout)
            cmd += ["--faults", "127.0.0.1:%d" % self.ctl.getsockname()[1]]
        with open(self.out_path, "wb") as out, open(self.err_path, "wb") as err:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                cwd=self.workdir,
                preexec_fn=_die_with_parent,
            )
        deadline = time.monotonic() + self.start_timeout
        path = None
        while path is None:
            with open(self.out_path, "rb") as f:
                for line in f.read().decode("utf-8", "replace").splitlines():
                    if line.startswith("serial: "):
                        path = line.split(" ", 1)[1].strip()
            if path is None:
                if self.proc.poll() is not None:
                    raise RigError(
                        "the modem exited at start (status %s): %s"
                        % (self.proc.returncode, self.stderr()[-2000:])
                    )
                if time.monotonic() > deadline:
                    self.stop()
                    raise RigError(
                        "the modem printed no `serial:` line in %.0f s" % self.start_timeout
                    )
                time.sleep(0.02)
        self.fd = open_device(path)
        self.buf = bytearray()
        self.settings = {}
        if self.probe:
            _hello, self.ctl_addr = self.ctl.recvfrom(64)
        # The boot URC may come before or after we opened the port: drain it, turn echo off.
        self.read_for(0.3)
        self.command("ATE0", b"OK\r\n")
        self.command("AT#CONNECTIONSTART", GPRS, timeout=10)
        return self

    def heap_used(self):
        """Bytes allocated on the VM's heap after a collection (needs probe=True)."""
        self.ctl.sendto(b"heap", self.ctl_addr)
        reply = self.ctl.recvfrom(256)[0].split()
        return int(reply[1])

    def stderr(self):
        try:
            with open(self.err_path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except (OSError, AttributeError):
            return ""

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        # The process first: its end hangs up the pty, which wakes any thread still blocked on
        # the device fd (EIO) before the fd number is closed and can be reused.
        status = stop_process(self.proc)
        self.proc = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        return status

    # -- serial helpers --------------------------------------------------------------------------
    def read_for(self, duration):
        end = time.monotonic() + duration
        while True:
            left = end - time.monotonic()
            if left <= 0:
                break
            if select.select([self.fd], [], [], left)[0]:
                self.buf += os.read(self.fd, 65536)
        out = bytes(self.buf)
        self.buf = bytearray()
        return out

    def read_until(self, expected, timeout=10.0):
        end = time.monotonic() + timeout
        while True:
            i = self.buf.find(expected)
            if i >= 0:
                out = bytes(self.buf[: i + len(expected)])
                del self.buf[: i + len(expected)]
                return out
            left = end - time.monotonic()
            if left <= 0:
                raise RigError(
                    "waited %.1f s for %r, got %r; modem %s; stderr: %s"
                    % (
                        timeout,
                        expected,
                        bytes(self.buf[-200:]),
                        "alive" if self.alive() else "DEAD",
                        self.stderr()[-1500:],
                    )
                )
            if select.select([self.fd], [], [], min(left, 0.5))[0]:
                try:
                    self.buf += os.read(self.fd, 65536)
                except OSError as e:
                    raise RigError("reading the pty: %s; stderr: %s" % (e, self.stderr()[-1500:]))

    def command(self, line, expected=OK, timeout=10.0):
        os.write(self.fd, line.encode() + b"\r")
        return self.read_until(expected, timeout)

    def configure(self, port, dlemode, txdelay):
        # TCPRXDELAY 0: the hold of the peer's first bytes (250 ms by default, for clients that
        # flush their input after Ok_Info_WaitingForData) is a fixed wait per session, not a
        # property of the stream these rows measure.
        want = {"TCPPORT": port, "DLEMODE": dlemode, "TCPTXDELAY": txdelay, "TCPRXDELAY": 0}
        if not self.settings:
            self.command('AT#TCPSERV=1,"127.0.0.1"')
        for name, value in want.items():
            if self.settings.get(name) != value:
                self.command("AT#%s=1,%d" % (name, value))
                self.settings[name] = value

    # -- sessions ------------------------------------------------------------------------------
    def open_session(self, peer, dlemode, txdelay):
        """AT#OTCP=1 to the bench's port; returns (device fd, peer socket)."""
        self.configure(peer.port, dlemode, txdelay)
        os.write(self.fd, b"AT#OTCP=1\r")
        conn = peer.accept()
        self.read_until(WAITING)
        self.dlemode = dlemode
        return self.fd, conn

    def listen_session(self, port, dlemode, txdelay, timeout=10.0):
        """AT#LTCPSTART=1 on `port`; the bench connects from 127.0.0.1 once it listens."""
        self.configure(port, dlemode, txdelay)
        self.command("AT#LTCPSTART=1")
        deadline = time.monotonic() + timeout
        while True:
            conn = socket.socket()
            conn.settimeout(timeout)
            try:
                conn.connect(("127.0.0.1", port))
                break
            except ConnectionRefusedError:
                conn.close()
                if time.monotonic() > deadline:
                    raise RigError(
                        "the modem did not listen on %d within %.0f s" % (port, timeout)
                    )
                time.sleep(0.005)
        conn.settimeout(None)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.read_until(WAITING)
        self.dlemode = dlemode
        return self.fd, conn

    def close_session(self, conn, timeout=20.0, by_peer=None):
        """By default, DLEMODE 1: the device ends it with a lone ETX; DLEMODE 0: the peer
        closes (by_peer=True: the peer closes in DLEMODE 1 too)."""
        if by_peer is None:
            by_peer = not self.dlemode
        if not by_peer:
            os.write(self.fd, ETX)
            self.read_until(CLOSED + OK, timeout)
            conn.settimeout(timeout)
            try:
                while conn.recv(65536):
                    pass
            finally:
                conn.close()
        else:
            conn.shutdown(socket.SHUT_WR)
            self.read_until((ETX if self.dlemode else b"") + CLOSED, timeout)
            conn.close()
        if self.buf:
            raise RigError("unexpected bytes after the session: %r" % bytes(self.buf[:200]))

    def abort(self):
        """After a failed transfer: the modem's state is unknown, start a fresh one."""
        self.stop()


# --- socat ------------------------------------------------------------------------------------


class Socat:
    """`socat PTY,link=L,raw,echo=0 TCP:127.0.0.1:PORT`, one process per session."""

    name = "socat"

    def __init__(self, workdir):
        self.workdir = workdir
        self.proc = None
        self.fd = None
        self.n = 0

    def start(self):
        return self

    def open_session(self, peer, dlemode=0, txdelay=0):
        self.n += 1
        link = os.path.join(self.workdir, "socat-%d.pty" % self.n)
        cmd = ["socat", "PTY,link=%s,raw,echo=0" % link, "TCP:127.0.0.1:%d" % peer.port]
        self.err = open(os.path.join(self.workdir, "socat-%d.err" % self.n), "wb")
        self.proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self.err,
            preexec_fn=_die_with_parent,
        )
        conn = peer.accept()
        deadline = time.monotonic() + 10
        while not os.path.exists(link):
            if time.monotonic() > deadline or self.proc.poll() is not None:
                raise RigError("socat made no pty link %s" % link)
            time.sleep(0.005)
        self.fd = open_device(link)
        return self.fd, conn

    def close_session(self, conn, timeout=20.0):
        conn.close()
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None
        stop_process(self.proc)
        self.proc = None
        self.err.close()

    def abort(self):
        stop_process(self.proc)  # first: see Firmware.stop
        self.proc = None
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None

    def stop(self):
        self.abort()

    def alive(self):
        return True


# --- transfers ---------------------------------------------------------------------------------


class _Stream(threading.Thread):
    def __init__(self, fn, *args):
        super().__init__(daemon=True)
        self.fn, self.args = fn, args
        self.done = 0  # bytes moved so far
        self.end = None  # time.perf_counter() when finished
        self.tail = None  # (peer's reader) when all but HELD_TAIL bytes had arrived
        self.error = None
        self.go = None

    def run(self):
        self.go.wait()
        try:
            self.fn(self, *self.args)
        except BaseException as e:  # noqa: B036 - reported by the watchdog
            self.error = e
        self.end = time.perf_counter()


def _fd_writer(st, fd, data):
    mv = memoryview(data)
    n = len(mv)
    off = 0
    while off < n:
        off += os.write(fd, mv[off : off + WRITE_CHUNK])
        st.done = off


def _fd_reader(st, fd, out):
    mv = memoryview(out)
    n = len(mv)
    off = 0
    while off < n:
        got = os.readv(fd, [mv[off : off + READ_CHUNK]])
        if got <= 0:
            raise EOFError("the pty ended after %d of %d bytes" % (off, n))
        off += got
        st.done = off


def _sock_writer(st, sock, data):
    mv = memoryview(data)
    n = len(mv)
    off = 0
    while off < n:
        off += sock.send(mv[off : off + WRITE_CHUNK])
        st.done = off


def _sock_reader(st, sock, out):
    mv = memoryview(out)
    n = len(mv)
    off = 0
    while off < n:
        got = sock.recv_into(mv[off:], min(READ_CHUNK, n - off))
        if not got:
            raise EOFError("the peer socket ended after %d of %d bytes" % (off, n))
        off += got
        st.done = off
        if st.tail is None and off >= n - HELD_TAIL:
            st.tail = time.perf_counter()


def common_prefix(a, b):
    """Length of the common prefix of two byte strings (fast: bisects on slices)."""
    n = min(len(a), len(b))
    if a[:n] == b[:n]:
        return n
    lo, hi = 0, n  # a[:lo] == b[:lo], a[:hi] != b[:hi]
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if a[:mid] == b[:mid]:
            lo = mid
        else:
            hi = mid
    return lo


def payload_within(payload, wire_len):
    """How many payload bytes are wholly encoded in the first wire_len bytes of its DLE wire."""
    lo, hi = 0, len(payload)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        head = payload[:mid]
        if mid + head.count(b"\x10") + head.count(b"\x03") <= wire_len:
            lo = mid
        else:
            hi = mid - 1
    return lo


class Result:
    def __init__(self, seconds, payload, lost, error=None):
        self.seconds = seconds
        self.payload = payload  # payload bytes moved (both directions added)
        self.lost = lost  # payload bytes not delivered intact
        self.error = error

    @property
    def mbps(self):
        return self.payload / self.seconds / 1e6 if self.seconds and not self.error else 0.0


def transfer(fd, conn, up=None, down=None, stall=15.0, limit=300.0, kill=None):
    """Move payloads through one session and check them byte for byte.

    up = (device wire bytes, payload the peer must receive); down = (payload the peer sends,
    wire bytes the device must receive).  Times from the start of the first write to the last
    byte received (for the peer's reader: all but the last HELD_TAIL bytes, which TCPTXDELAY
    may hold back by design).  `kill()` is called when the transfer stalls for `stall` seconds
    (it must unblock the threads: e.g. kill the rig); the result then counts the missing bytes
    as lost.
    """
    streams = []
    outs = []
    if up is not None:
        wire, expect = up
        out = bytearray(len(expect))
        streams.append(_Stream(_fd_writer, fd, wire))
        streams.append(_Stream(_sock_reader, conn, out))
        outs.append((streams[-1], out, expect, None))
    if down is not None:
        payload, expect = down
        out = bytearray(len(expect))
        streams.append(_Stream(_sock_writer, conn, payload))
        streams.append(_Stream(_fd_reader, fd, out))
        outs.append((streams[-1], out, expect, None if expect is payload else payload))
    go = threading.Event()
    for s in streams:
        s.go = go
        s.start()
    t0 = time.perf_counter()
    go.set()
    error = None
    last, last_t = -1, time.monotonic()
    while True:
        alive = [s for s in streams if s.is_alive()]
        if not alive:
            break
        failed = [s for s in streams if s.error is not None]
        progress = sum(s.done for s in streams)
        now = time.monotonic()
        if progress != last:
            last, last_t = progress, now
        if failed or now - last_t > stall or now - t0 > limit:
            if failed:
                error = "%s: %r" % (failed[0].fn.__name__, failed[0].error)
            else:
                error = "stalled: no progress for %.0f s" % (now - last_t)
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            if kill is not None:
                kill()
            for s in streams:
                s.join(10)
            break
        time.sleep(0.01)
    if error is None:
        failed = [s for s in streams if s.error is not None]
        if failed:
            error = "%s: %r" % (failed[0].fn.__name__, failed[0].error)
    t1 = max(s.tail or s.end or time.perf_counter() for s in streams)
    lost = 0
    for reader, out, expect, sent in outs:
        good = common_prefix(out[: reader.done], expect)
        if sent is None:  # the reader expects the payload itself
            lost += len(expect) - good
        else:  # the reader expects the escaped wire of `sent`
            lost += len(sent) - payload_within(sent, good)
    payload = (len(up[1]) if up is not None else 0) + (len(down[0]) if down is not None else 0)
    if error is None and lost:
        error = "%d bytes differ or are missing" % lost
    return Result(t1 - t0, payload, lost, error)


def round_trips(fd, conn, count, stall=10.0, kill=None):
    """`count` single-byte round trips device -> peer -> device; the list of their seconds.

    A stall of `stall` seconds shuts the peer socket and calls `kill()` (which must wake a
    read blocked on the device, e.g. by stopping the rig)."""
    times = []
    box = {"i": 0, "stop": False}

    def watchdog():
        last, last_t = -1, time.monotonic()
        while not box["stop"]:
            time.sleep(0.05)
            if box["i"] != last:
                last, last_t = box["i"], time.monotonic()
            elif time.monotonic() - last_t > stall:
                box["error"] = "stalled at round trip %d" % last
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                if kill is not None:
                    kill()
                return

    w = threading.Thread(target=watchdog, daemon=True)
    w.start()
    perf = time.perf_counter
    write, read, recv, send = os.write, os.read, conn.recv, conn.send
    byte = b"a"  # neither DLE nor ETX: the same byte on the wire in DLEMODE 0 and 1
    try:
        for i in range(count):
            t = perf()
            write(fd, byte)
            got = recv(1)
            if got != byte:
                raise RigError("peer got %r" % got)
            send(got)
            back = read(fd, 1)
            times.append(perf() - t)
            if back != byte:
                raise RigError("device got %r" % back)
            box["i"] = i + 1
    except (OSError, RigError) as e:
        raise RigError(box.get("error") or str(e))
    finally:
        box["stop"] = True
        w.join(15)  # a watchdog that is stopping the rig finishes first
    return times


def tmpdir(prefix):
    return tempfile.TemporaryDirectory(prefix=prefix)
