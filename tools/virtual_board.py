#!/usr/bin/env python3
"""A virtual MicroPython board: a pseudo-terminal that behaves like a board's REPL port.

    python tools/virtual_board.py --flash DIR [--repl-link PATH] [--uart-link PATH]

Prints `repl: <pty>` (give it to mpremote: `mpremote connect <pty> ...`) and `uart: <pty>` (the
board's modem UART: AT commands go there). Ctrl-C stops it.

What it emulates, with the MicroPython unix VM (one VM process per boot):
  * flash: DIR is mounted as the VM's "/" (vfs.VfsPosix), sys.path = ['', '.frozen', '/lib'];
  * boot: boot.py, then main.py unless boot.py failed, in the friendly REPL (a power-on or
    machine.reset()); after a soft reset from the raw REPL only boot.py, as on a real board;
  * the REPL: friendly (echo, line execution), raw (Ctrl-A, OK / \\x04 framing) and raw-paste
    (Ctrl-E A Ctrl-A, with flow control); Ctrl-B back to friendly; Ctrl-D soft reboot (a new VM,
    "MPY: soft reboot"); Ctrl-C interrupts running code (a SIGINT to the VM), and is a plain
    byte while none runs (the VM starting, a prompt), as on a board;
  * `machine`: the unix port's, plus reset() (a new VM, friendly boot), soft_reset(),
    reset_cause() and unique_id(); `os`: the unix port's, with a working rename() (the VM's
    VfsPosix.rename is broken under a mount);
  * the modem UART: a second pty whose master fd is handed to main.py as
    `--fd N --state /state` in sys.argv (the calling convention of boards/unix/main.py).
Not emulated: hardware (Pin, UART, WDT, network.WLAN), timing and memory limits, the ROM boot
messages, and a second Ctrl-C before the VM has raised the first (the unix VM then exits with
status 1: the board reports it and boots afresh).
CPython standard library only.
"""

import argparse
import fcntl
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import tty

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
HARD_EXIT = 80  # the VM's exit status for machine.reset()
SOFT_EXIT = 81  # ... for a soft reset (Ctrl-D, machine.soft_reset())
PWRON_RESET, HARD_RESET, SOFT_RESET = 1, 2, 5
STATE_DIR = "/state"

MACHINE_SHIM = r"""
# machine for the virtual board: the unix port's module plus what a board has.
from umachine import *  # noqa: F401,F403

HARD_EXIT = __HARD__
SOFT_EXIT = __SOFT__
PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5
_cause = PWRON_RESET


def reset():
    raise SystemExit(HARD_EXIT)


def soft_reset():
    raise SystemExit(SOFT_EXIT)


def reset_cause():
    return _cause


def unique_id():
    return b"vboard01"
""".replace("__HARD__", str(HARD_EXIT)).replace("__SOFT__", str(SOFT_EXIT))

OS_SHIM = r"""
# os for the virtual board: the unix port's, with a rename that works on the mounted flash.
from uos import *  # noqa: F401,F403
import uos as _uos


def rename(old, new):
    # VfsPosix.rename of this build joins both paths in one buffer and so calls
    # rename(new, new) (ENOENT). Copy, then remove: not atomic, files only.
    f = open(old, "rb")
    data = f.read()
    f.close()
    f = open(new, "wb")
    f.write(data)
    f.close()
    _uos.remove(old)
"""

# The REPL side of the board, run by the MicroPython VM. argv: flash uart_fd ctrl_fd mode state
# cause. Control bytes to the host on ctrl_fd: B/I = user code running / idle (Ctrl-C becomes a
# SIGINT only while busy), R/F = reboot into the raw / friendly REPL. The VM tells R/F just
# before it exits: the host reads the pipe to its end before it boots the next VM.
SUPERVISOR = r'''
import sys
import os
import vfs

_flash, _uart_fd, _ctrl_fd, _mode, _state, _cause = sys.argv[1:7]
_ctrl = open(int(_ctrl_fd), "wb")
import machine

machine._cause = int(_cause)
vfs.umount("/")
vfs.mount(vfs.VfsPosix(_flash), "/")
os.chdir("/")
sys.path[:] = ["", ".frozen", "/lib"]
try:
    os.mkdir(_state)
except OSError:
    pass
sys.argv[:] = ["main.py", "--fd", _uart_fd, "--state", _state]

_in = sys.stdin.buffer
_out = sys.stdout.buffer
_g = {"__name__": "__main__"}
_BANNER = (b"MicroPython v1.29 on virtual-board; unix VM with its flash in %s\r\n"
           b"Type \"help()\" for more information.\r\n" % _flash.encode())
_WINDOW = 256


def _tell(b):
    _ctrl.write(b)


def _getc():
    while True:
        try:
            b = _in.read(1)
        except KeyboardInterrupt:
            return 3
        if not b:
            sys.exit(0)  # the host went away: power off
        return b[0]


def _reboot(mode):
    _out.write(b"MPY: soft reboot\r\n")
    _tell(mode)
    sys.exit(SOFT)


def _run(src, name, mode_now):
    """Run user code as pyexec does; return the exception it raised, if any."""
    try:
        _tell(b"B")  # inside the try: a Ctrl-C that lands at once is the user code's
        exec(compile(src, name, "exec"), _g)
    except SystemExit as e:
        code = e.args[0] if e.args else 0
        if code == machine.HARD_EXIT:
            sys.exit(HARD)
        if code == machine.SOFT_EXIT:
            _reboot(mode_now)
    except BaseException as e:  # the REPL reports everything, KeyboardInterrupt included
        _tell(b"I")
        return e
    _tell(b"I")
    return None


def _run_file(name, mode_now):
    try:
        src = open(name).read()
    except OSError:
        return True
    _g["__file__"] = name
    e = _run(src, name, mode_now)
    if e is not None:
        sys.print_exception(e)
        return False
    return True


def _raw_exec(code):
    e = _run(bytes(code).decode(), "<stdin>", b"R")
    _out.write(b"\x04")
    if e is not None:
        sys.print_exception(e)
    _out.write(b"\x04")


def _raw_paste():
    _out.write(b"R\x01" + bytes((_WINDOW & 0xFF, _WINDOW >> 8)))
    code = bytearray()
    used = 0
    while True:
        c = _getc()
        if c == 4:
            break
        code.append(c)
        used += 1
        if used == _WINDOW:
            used = 0
            _out.write(b"\x01")
    _out.write(b"\x04")
    _raw_exec(code)


def _raw():
    _out.write(b"raw REPL; CTRL-B to exit\r\n>")
    buf = bytearray()
    while True:
        c = _getc()
        if c == 1:
            buf = bytearray()
            _out.write(b"raw REPL; CTRL-B to exit\r\n>")
        elif c == 2:
            _out.write(b"\r\n")
            return b"F"
        elif c == 3:
            buf = bytearray()
        elif c == 4:
            _out.write(b"OK")
            if not buf:
                _out.write(b"\r\n")
                _reboot(b"R")
            _raw_exec(buf)
            buf = bytearray()
            _out.write(b">")
        elif c == 5 and not buf:
            a = _getc()
            b = _getc()
            if a == 65 and b == 1:
                _raw_paste()
                _out.write(b">")
            else:
                buf.append(a)
                buf.append(b)
        else:
            buf.append(c)


def _friendly_line(line):
    src = bytes(line).decode()
    try:
        _tell(b"B")
        try:
            code = compile(src, "<stdin>", "single")
        except SyntaxError:
            code = compile(src, "<stdin>", "exec")
        exec(code, _g)
    except SystemExit as e:
        code = e.args[0] if e.args else 0
        if code == machine.HARD_EXIT:
            sys.exit(HARD)
        if code == machine.SOFT_EXIT:
            _reboot(b"F")
    except BaseException as e:  # the REPL reports everything, KeyboardInterrupt included
        sys.print_exception(e)
    _tell(b"I")


def _friendly():
    _out.write(_BANNER + b">>> ")
    line = bytearray()
    while True:
        c = _getc()
        if c == 1:
            _out.write(b"\r\n")
            return b"R"
        if c == 2:
            line = bytearray()
            _out.write(b"\r\n" + _BANNER + b">>> ")
        elif c == 3:
            line = bytearray()
            _out.write(b"\r\n>>> ")
        elif c == 4:
            if not line:
                _out.write(b"\r\n")
                _reboot(b"F")
        elif c in (10, 13):
            _out.write(b"\r\n")
            if bytes(line).strip():
                _friendly_line(line)
            line = bytearray()
            _out.write(b">>> ")
        elif c in (8, 127):
            if line:
                line = line[:-1]
                _out.write(b"\x08 \x08")
        elif c >= 32:
            line.append(c)
            _out.write(bytes((c,)))


HARD = __HARD__
SOFT = __SOFT__
mode = _mode.encode()
if _run_file("boot.py", mode) and mode == b"F":
    _run_file("main.py", mode)
while True:
    mode = _raw() if mode == b"R" else _friendly()
'''.replace("__HARD__", str(HARD_EXIT)).replace("__SOFT__", str(SOFT_EXIT))


def find_micropython():
    for c in (
        os.path.join(os.path.dirname(sys.executable), "micropython"),
        shutil.which("micropython"),
        os.path.join(ROOT, ".venv", "bin", "micropython"),
    ):
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def _raw_pty():
    master, slave = os.openpty()
    tty.setraw(slave)
    tty.setraw(master)
    fl = fcntl.fcntl(master, fcntl.F_GETFL)
    fcntl.fcntl(master, fcntl.F_SETFL, fl | os.O_NONBLOCK)
    return master, slave, os.ttyname(slave)


def _link(link, target):
    if link:
        tmp = "%s.%d.tmp" % (link, os.getpid())
        os.symlink(target, tmp)
        os.replace(tmp, link)


class VirtualBoard:
    """Start with start(); `repl` and `uart` are the pty paths; stop() powers it off."""

    def __init__(self, flash, micropython=None, log=None):
        self.flash = os.path.abspath(flash)
        os.makedirs(self.flash, exist_ok=True)
        self.mpy = micropython or find_micropython()
        if self.mpy is None:
            raise RuntimeError("the MicroPython unix port (micropython) was not found")
        self.log = log or (lambda msg: None)
        self.boots = []  # (mode, reset cause) of every VM started
        self.vm = None
        self._stop = threading.Event()
        self._thread = None
        self._pending = b""  # REPL input not yet taken by a VM
        self.transcript = bytearray()  # the last REPL output, for diagnostics

    # --- lifecycle ---------------------------------------------------------------------------

    def start(self):
        self._tmp = tempfile.mkdtemp(prefix="vboard-")
        for name, text in (("machine.py", MACHINE_SHIM), ("os.py", OS_SHIM)):
            with open(os.path.join(self._tmp, name), "w") as f:
                f.write(text)
        self._supervisor = os.path.join(self._tmp, "supervisor.py")
        with open(self._supervisor, "w") as f:
            f.write(SUPERVISOR)
        self.repl_master, self._repl_slave, self.repl = _raw_pty()
        self.uart_master, self._uart_slave, self.uart = _raw_pty()
        self._spawn(b"F", PWRON_RESET)
        self._thread = threading.Thread(target=self._loop, name="virtual-board", daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(5)
        self._kill_vm()
        for fd in (self.repl_master, self._repl_slave, self.uart_master, self._uart_slave):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    # --- the VM ------------------------------------------------------------------------------

    def _spawn(self, mode, cause):
        ctrl_r, ctrl_w = os.pipe()
        env = dict(os.environ, MICROPYPATH=self._tmp + ":.frozen")
        cmd = [
            self.mpy,
            self._supervisor,
            self.flash,
            str(self.uart_master),
            str(ctrl_w),
            mode.decode(),
            STATE_DIR,
            str(cause),
        ]
        self.vm = subprocess.Popen(
            cmd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            pass_fds=(self.uart_master, ctrl_w),
            env=env,
            start_new_session=True,
        )
        os.close(ctrl_w)
        fcntl.fcntl(ctrl_r, fcntl.F_SETFL, fcntl.fcntl(ctrl_r, fcntl.F_GETFL) | os.O_NONBLOCK)
        self._ctrl = ctrl_r
        # Idle until the VM says B: a Ctrl-C while it starts up is a plain byte (as on a board,
        # whose interrupt character is armed only while code runs), not a SIGINT that would
        # kill a VM whose handler is not installed yet.
        self._busy = False
        self._next_mode = b"F"
        for fd in (self.vm.stdout.fileno(), self.vm.stdin.fileno()):
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) | os.O_NONBLOCK)
        self.boots.append((mode.decode(), cause))
        self.log("boot %d: %s REPL, reset cause %d" % (len(self.boots), mode.decode(), cause))

    def _kill_vm(self):
        vm = self.vm
        if vm is not None and vm.poll() is None:
            vm.kill()
            vm.wait()
        if vm is not None:
            for f in (vm.stdin, vm.stdout):
                try:
                    f.close()
                except OSError:
                    pass
            try:
                os.close(self._ctrl)
            except OSError:
                pass

    def _read_ctrl(self):
        """Apply the control bytes the VM has written so far (B/I, R/F)."""
        while True:
            try:
                data = os.read(self._ctrl, 64)
            except OSError:  # BlockingIOError included: nothing more for now
                return
            if not data:
                return  # the VM exited and all it said has been read
            for b in data:
                if b in b"BI":
                    self._busy = b == ord("B")
                elif b in b"RF":
                    self._next_mode = bytes((b,))

    def _restart(self, status):
        # The VM tells its next boot mode (R/F) just before it exits, so the exit can be seen
        # before that byte: read the pipe to its end first, or a soft reset from the raw REPL
        # boots the friendly one and runs main.py (mpremote then waits for the raw REPL).
        self._read_ctrl()
        self._drain_vm_output()
        self._kill_vm()
        if status == HARD_EXIT:
            self._spawn(b"F", HARD_RESET)
        elif status == SOFT_EXIT:
            self._spawn(self._next_mode, SOFT_RESET)
        else:
            self._write_repl(b"\r\n[virtual board: the VM exited with status %d]\r\n" % status)
            self._spawn(b"F", HARD_RESET)

    # --- the pump ----------------------------------------------------------------------------

    def _write_repl(self, data):
        while data and not self._stop.is_set():
            try:
                n = os.write(self.repl_master, data)
                data = data[n:]
            except BlockingIOError:
                select.select([], [self.repl_master], [], 0.05)

    def _drain_vm_output(self):
        while True:
            try:
                data = os.read(self.vm.stdout.fileno(), 65536)
            except (BlockingIOError, OSError, ValueError):
                return
            if not data:
                return
            self.transcript += data
            del self.transcript[:-16384]
            self._write_repl(data)

    def _feed_vm(self):
        if not self._pending:
            return
        try:
            n = os.write(self.vm.stdin.fileno(), self._pending)
            self._pending = self._pending[n:]
        except (BlockingIOError, BrokenPipeError, ValueError):
            pass

    def _loop(self):
        while not self._stop.is_set():
            out = self.vm.stdout.fileno()
            rd = [self.repl_master, out, self._ctrl]
            wr = [self.vm.stdin.fileno()] if self._pending else []
            try:
                r, _, _ = select.select(rd, wr, [], 0.05)
            except (OSError, ValueError):
                r = []
            if self._ctrl in r:
                self._read_ctrl()
            if self.repl_master in r:
                try:
                    data = os.read(self.repl_master, 4096)
                except OSError:
                    data = b""
                if b"\x03" in data:
                    self._read_ctrl()  # the latest B/I decides whether this is a SIGINT
                if b"\x03" in data and self._busy and self.vm.poll() is None:
                    self.vm.send_signal(signal.SIGINT)
                self._pending += data
            if out in r:
                self._drain_vm_output()
            self._feed_vm()
            status = self.vm.poll()
            if status is not None:
                if status == 0 and self._stop.is_set():
                    return
                self._restart(status)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--flash", required=True, help="directory that is the board's flash")
    p.add_argument("--repl-link", help="also make this symlink to the REPL pty")
    p.add_argument("--uart-link", help="also make this symlink to the modem UART pty")
    p.add_argument("--micropython", help="the MicroPython unix binary")
    p.add_argument("-v", "--verbose", action="store_true", help="log boots on stderr")
    args = p.parse_args(argv)
    log = (
        (lambda m: print("virtual board: " + m, file=sys.stderr, flush=True))
        if args.verbose
        else None
    )
    board = VirtualBoard(args.flash, args.micropython, log).start()
    _link(args.repl_link, board.repl)
    _link(args.uart_link, board.uart)
    print("repl: %s" % board.repl, flush=True)
    print("uart: %s" % board.uart, flush=True)
    done = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: done.set())
    try:
        while not done.wait(0.5):
            pass
    finally:
        board.stop()
        for link in (args.repl_link, args.uart_link):
            if link and os.path.islink(link):
                os.unlink(link)
    return 0


if __name__ == "__main__":
    sys.exit(main())
