"""Shared helpers of the robustness suite (test_robust_*.py); no tests here.

`RobustModem` is the harness's EmulatedModem started with `--faults`: boards/unix/faults.py wraps
the board's network object and answers a loopback UDP control port, through which a test reads
the VM's heap (gc.mem_alloc() after gc.collect()) and injects network faults while the modem
runs. Open file descriptors are read from /proc/<VM pid>/fd.
"""

import os
import re
import select
import socket
import time

import pytest

from harness import EmulatedModem, describe

# Final result lines (verbose): every complete command line ends with exactly one of them.
FINAL_RE = re.compile(rb"\r\n(OK|ERROR|NO CARRIER|[#+]CME ERROR: \d+|Ok_Info_[A-Za-z]+)\r\n")


QSTR_RE = re.compile(
    r"qstr pool: n_pool=(\d+), n_qstr=(\d+), n_str_data_bytes=(\d+), n_total_bytes=(\d+)"
)


def finals(data):
    """The final result lines in `data`, in order (as bytes without the CR LF framing)."""
    return [m.group(1) for m in FINAL_RE.finditer(data)]


def classify(result):
    """Bucket of a final result for the report."""
    if result.startswith(b"#CME ERROR"):
        return "#CME ERROR"
    if result.startswith(b"+CME ERROR"):
        return "+CME ERROR"
    if result.startswith(b"Ok_Info_"):
        return result.decode()
    return result.decode()


class FaultControl:
    """The test's end of the injector's control channel (UDP on 127.0.0.1)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.peer = None

    def wait_hello(self, timeout=10.0):
        """The injector announces itself at start (and again after every restart)."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail("the fault injector did not say hello within %.0f s" % timeout)
            if select.select([self.sock], [], [], left)[0]:
                data, peer = self.sock.recvfrom(512)
                if data == b"hello":
                    self.peer = peer
                    return

    def __call__(self, text, timeout=5.0):
        """Send one command, return the reply (str); fails on timeout or an error reply."""
        self.sock.sendto(text.encode(), self.peer)
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                pytest.fail("fault injector: no reply to %r within %.0f s" % (text, timeout))
            if select.select([self.sock], [], [], left)[0]:
                data, peer = self.sock.recvfrom(512)
                if peer != self.peer:
                    continue
                reply = data.decode()
                assert not reply.startswith("error"), "fault injector: %r -> %r" % (text, reply)
                return reply

    def close(self):
        self.sock.close()


def children_of(pid):
    """PIDs whose parent is `pid` (scans /proc; the kernel may lack /proc/*/task/*/children)."""
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % name) as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        if int(fields[1]) == pid:
            found.append(int(name))
    return found


class RobustModem(EmulatedModem):
    """An EmulatedModem with the fault injector, plus heap / fd / VM-pid probes."""

    def __init__(self, tmp_path, **kw):
        self.ctl = FaultControl()
        self.vm = None
        super().__init__(tmp_path, faults=self.ctl.addr, **kw)

    def start(self):
        super().start()
        self.ctl.wait_hello()
        self.vm = None

    def close(self):
        try:
            return super().close()
        finally:
            self.vm = None

    def vm_pid(self):
        """PID of the MicroPython VM (the launcher's child)."""
        if self.vm is None:
            kids = children_of(self.proc.pid)
            assert len(kids) == 1, "launcher %d has children %r" % (self.proc.pid, kids)
            self.vm = kids[0]
        return self.vm

    def heap_used(self):
        """Bytes allocated on the VM's heap after a full collection."""
        reply = self.ctl("heap")
        return int(reply.split()[1])

    def qstr_info(self, timeout=5.0):
        """The VM's interned strings: {"n_pool", "n_qstr", "n_str_data_bytes", "n_total_bytes"}
        (micropython.qstr_info(), printed by the VM into its log, read back from there)."""
        before = len(QSTR_RE.findall(self.stderr()))
        self.ctl("qstr")
        deadline = time.monotonic() + timeout
        while True:
            found = QSTR_RE.findall(self.stderr())
            if len(found) > before:
                return dict(
                    zip(
                        ("n_pool", "n_qstr", "n_str_data_bytes", "n_total_bytes"),
                        map(int, found[-1]),
                    )
                )
            if time.monotonic() > deadline:
                pytest.fail("no qstr_info in the log within %.0f s %s" % (timeout, self.info()))
            time.sleep(0.01)

    def open_fds(self):
        """Open file descriptors of the VM (entries of /proc/<pid>/fd)."""
        return len(os.listdir("/proc/%d/fd" % self.vm_pid()))

    def vlog(self):
        """The firmware's RAM log (AT#VLOG) as a list of str lines."""
        got = self.cmd("AT#VLOG")
        assert got.endswith(b"\r\nOK\r\n"), "AT#VLOG answered " + describe(got)
        body = got[: -len(b"\r\nOK\r\n")].strip(b"\r\n")
        return body.decode("utf-8", "replace").split("\r\n")

    def stop_ctl(self):
        self.ctl.close()


def exchange(m, data, until, timeout=10.0):
    """Write `data` to the modem while reading its answers (so neither side's pty buffer
    can fill up and stall the other), until `until` has been received; return the output
    up to and including it."""
    fd = m.port.fileno()
    mv = memoryview(data)
    off = 0
    deadline = time.monotonic() + timeout
    while True:
        i = m._buf.find(until)
        if i >= 0:
            return m._take(i + len(until))
        left = deadline - time.monotonic()
        if left <= 0:
            m.check_alive()
            pytest.fail(
                "waited %.1f s for %r (%d of %d bytes written), received %s %s"
                % (timeout, until, off, len(data), describe(m._buf), m.info())
            )
        wr = [fd] if off < len(mv) else []
        r, w, _ = select.select([fd], wr, [], min(left, 0.05))
        if w:
            try:
                off += os.write(fd, mv[off : off + 4096])
            except BlockingIOError:
                pass
        if r or not w:
            m._fill(0)


def report(name, **figures):
    """Print the figures of a test (visible with pytest -s) and return them as one line for
    assertion messages."""
    line = "%s: %s" % (name, ", ".join("%s=%s" % kv for kv in figures.items()))
    print("\n[robust] " + line)
    return line
