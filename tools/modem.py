#!/usr/bin/env python3
"""Run the modem firmware on the MicroPython unix VM with its UART on a pseudo-terminal.

    python tools/modem.py [--link PATH] [--state DIR] [--ip A.B.C.D] [--heap SIZE]
                           [--chunk N] [--mpy] [--ca PEM] [--console PORT]

Prints `serial: <pty path>` once the modem is ready; open that path with any serial program
(picocom, minicom, chat, pyserial).  TCP uses the host's addresses (listening binds all of
them, loopback included).  Settings live in the state directory (default .modem-state/).
The firmware's log goes to stderr.  Ctrl-C stops it.  CPython standard library only, and the
installed microdot package (pip) for --console, which serves the web console on
http://127.0.0.1:PORT/ (loopback only).
"""

import argparse
import fcntl
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import tty

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MAIN = os.path.join(ROOT, "boards", "unix", "main.py")
READY = b"ready"
# What the console needs of the microdot package (the rest of it is never imported).
MICRODOT_FILES = ("__init__.py", "microdot.py", "helpers.py")


def find_microdot():
    """The folder of the installed microdot package (pip), or None."""
    import importlib.util

    try:
        spec = importlib.util.find_spec("microdot")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return list(spec.submodule_search_locations)[0]


def microdot_lib(out_dir, mpy_cross=None):
    """out_dir/microdot/: the package's files as source, or compiled with mpy_cross; the VM
    finds it with out_dir on its MICROPYPATH (the whole site-packages folder would shadow)."""
    src = find_microdot()
    if src is None:
        return False
    pkg = os.path.join(out_dir, "microdot")
    os.makedirs(pkg, exist_ok=True)
    for name in MICRODOT_FILES:
        if mpy_cross is None:
            shutil.copy(os.path.join(src, name), os.path.join(pkg, name))
        else:
            dst = os.path.join(pkg, name[:-3] + ".mpy")
            cmd = [mpy_cross, "-X", "no-source-lines", "-o", dst, os.path.join(src, name)]
            subprocess.run(cmd, check=True)
    return True


def find_micropython(explicit):
    if explicit:
        if os.path.isfile(explicit) and os.access(explicit, os.X_OK):
            return explicit
        found = shutil.which(explicit)
        if found:
            return found
        return None
    candidates = [
        os.path.join(os.path.dirname(sys.executable), "micropython"),
        shutil.which("micropython"),
        os.path.join(ROOT, ".venv", "bin", "micropython"),
    ]
    for c in candidates:
        if c and os.path.isfile(c) and os.access(c, os.X_OK):
            return c
    return None


def find_mpy_cross(mpy):
    here = os.path.join(os.path.dirname(mpy), "mpy-cross")
    if os.access(here, os.X_OK):
        return here
    return shutil.which("mpy-cross")


def compile_firmware(mpy_cross, out_dir):
    """firmware/*.py and the board module as .mpy files, as they are deployed on the ESP32."""
    sources = [
        os.path.join(ROOT, "firmware", n)
        for n in sorted(os.listdir(os.path.join(ROOT, "firmware")))
    ]
    board = ("app.py", "board.py", "faults.py")  # (faults: the tests' and benchmarks' probes)
    sources += [os.path.join(ROOT, "boards", "unix", n) for n in board]
    # main.py stays source, as on the ESP32, and runs from out_dir: the VM puts a script's own
    # folder first on sys.path, so boards/unix/main.py would import app.py and board.py as source.
    shutil.copy(MAIN, os.path.join(out_dir, "main.py"))
    for src in sources:
        if not src.endswith(".py"):
            continue
        dst = os.path.join(out_dir, os.path.basename(src)[:-3] + ".mpy")
        # As tools/deploy.py does: no line numbers, which would take heap.
        subprocess.run([mpy_cross, "-X", "no-source-lines", "-o", dst, src], check=True)


def make_link(link, target):
    """Point `link` at `target` (replacing a stale symlink), like socat's link= option."""
    if os.path.lexists(link) and not os.path.islink(link):
        raise SystemExit("modem.py: --link %s exists and is not a symlink" % link)
    tmp = "%s.%d.tmp" % (link, os.getpid())
    os.symlink(target, tmp)
    os.replace(tmp, link)


def remove_link(link, target):
    try:
        if os.path.islink(link) and os.readlink(link) == target:
            os.unlink(link)
    except OSError:
        pass


def _die_with_parent():
    # Linux: the VM gets SIGTERM if this launcher dies without cleaning up (e.g. SIGKILL).
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except Exception:
        pass


class Launcher:
    def __init__(self, args, mpy, mpy_dir=None, lib_dir=None):
        self.args = args
        self.mpy = mpy
        self.mpy_dir = mpy_dir
        self.lib_dir = lib_dir  # microdot (the console), when not in mpy_dir
        self.child = None
        self.stopping = False

    def open_pty(self):
        self.master, self.slave = os.openpty()
        tty.setraw(self.slave)
        flags = fcntl.fcntl(self.master, fcntl.F_GETFL)
        fcntl.fcntl(self.master, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        # We keep self.slave open for our whole life: the master then never reads EIO when a
        # serial program closes the port, and the line settings stay as a client left them.
        self.slave_path = os.ttyname(self.slave)

    def spawn(self):
        cmd = [self.mpy]
        if self.args.heap:
            cmd += ["-X", "heapsize=%s" % self.args.heap]
        main = os.path.join(self.mpy_dir, "main.py") if self.mpy_dir else MAIN
        cmd += [main, "--fd", str(self.master), "--state", self.args.state, "--ip", self.args.ip]
        if self.args.faults:
            cmd += ["--faults", self.args.faults]
        if self.args.chunk:
            cmd += ["--chunk", str(self.args.chunk)]
        if self.args.console:
            cmd += ["--console", str(self.args.console)]
        env = dict(os.environ)
        if self.mpy_dir:
            path = [self.mpy_dir, ".frozen"]
        else:
            path = [
                os.path.join(ROOT, "firmware"),
                os.path.join(ROOT, "boards", "unix"),
                ".frozen",
            ]
        if self.lib_dir:
            path.insert(-1, self.lib_dir)
        env["MICROPYPATH"] = os.pathsep.join(path)
        self.child = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            pass_fds=(self.master,),
            env=env,
            start_new_session=True,  # a terminal's Ctrl-C reaches only us; we stop the VM
            preexec_fn=_die_with_parent,
        )

    def wait_ready(self):
        """Relay the child's output until its `ready` line; False if it exited first."""
        for line in self.child.stdout:
            if line.strip() == READY:
                return True
            self.relay_line(line)
        return False

    @staticmethod
    def relay_line(line):
        # The firmware's log goes to our stderr: stdout carries only the `serial:` line.
        sys.stderr.buffer.write(line)
        sys.stderr.flush()

    def stop(self, signum, frame):
        self.stopping = True
        child = self.child
        if child is not None and child.poll() is None:
            child.terminate()

    def run(self):
        self.open_pty()
        signal.signal(signal.SIGINT, self.stop)
        signal.signal(signal.SIGTERM, self.stop)
        linked = False
        try:
            self.spawn()
            if not self.wait_ready():
                status = self.child.wait()
                if not self.stopping:
                    sys.stderr.write(
                        "modem.py: the firmware exited before it was ready (status %s)\n" % status
                    )
                return status
            if self.args.link:
                make_link(self.args.link, self.slave_path)
                linked = True
            print("serial: %s" % self.slave_path, flush=True)
            for line in self.child.stdout:
                self.relay_line(line)
            return self.child.wait()
        finally:
            if self.child is not None and self.child.poll() is None:
                self.child.kill()
                self.child.wait()
            if linked:
                remove_link(self.args.link, self.slave_path)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--link", help="create a symlink PATH to the pty (like socat's link=)")
    p.add_argument(
        "--state", default=".modem-state", help="settings directory (default .modem-state/)"
    )
    p.add_argument(
        "--ip", default="127.0.0.1", help="address AT#CONNECTIONSTART reports (default 127.0.0.1)"
    )
    p.add_argument(
        "--heap", help="MicroPython heap size, e.g. 128k (micropython -X heapsize=SIZE)"
    )
    p.add_argument(
        "--chunk",
        type=int,
        help="bytes the data path reads at once (default 8192; the ESP32 board uses 2048)",
    )
    p.add_argument(
        "--mpy",
        action="store_true",
        help="run the firmware as precompiled .mpy (mpy-cross), as on the ESP32; "
        "compiling the sources at import needs a much bigger heap",
    )
    p.add_argument(
        "--faults",
        metavar="HOST:PORT",
        help="tests only: wrap the network in boards/unix/faults.py, steered over UDP from "
        "HOST:PORT (loopback)",
    )
    p.add_argument(
        "--ca",
        metavar="PEM",
        help="CA certificates (PEM) the mail and FTP services check servers against; copied "
        "into the state directory as ca.pem (the board keeps it there too)",
    )
    p.add_argument(
        "--console",
        type=int,
        metavar="PORT",
        help="serve the web console on http://127.0.0.1:PORT/ (loopback only; while "
        "AT#CONSOLE=1); needs the microdot package (tools/dev.py installs it)",
    )
    p.add_argument(
        "--micropython",
        help="the MicroPython unix binary (default: next to this Python, then PATH)",
    )
    args = p.parse_args(argv)

    mpy = find_micropython(args.micropython)
    if mpy is None:
        sys.stderr.write(
            "modem.py: MicroPython unix port not found (%s).\n"
            "Set up the dev environment (it provides `micropython`) or pass --micropython PATH.\n"
            % (args.micropython or "looked next to %s and on PATH" % sys.executable)
        )
        return 127
    args.state = os.path.abspath(args.state)
    os.makedirs(args.state, exist_ok=True)
    if args.ca:
        try:
            shutil.copyfile(args.ca, os.path.join(args.state, "ca.pem"))
        except OSError as e:
            sys.stderr.write("modem.py: --ca %s: %s\n" % (args.ca, e))
            return 2

    if args.console is not None and not 0 < args.console < 65536:
        sys.stderr.write("modem.py: --console PORT must be 1..65535\n")
        return 2
    if args.console and find_microdot() is None:
        sys.stderr.write(
            "modem.py: --console needs the microdot package (pip install microdot==2.7.0; "
            "python3 tools/dev.py modem installs it)\n"
        )
        return 127
    if not args.mpy:
        if not args.console:
            status = Launcher(args, mpy).run()
        else:
            with tempfile.TemporaryDirectory(prefix="modem-lib-") as lib_dir:
                microdot_lib(lib_dir)
                status = Launcher(args, mpy, lib_dir=lib_dir).run()
    else:
        mpy_cross = find_mpy_cross(mpy)
        if mpy_cross is None:
            sys.stderr.write("modem.py: --mpy needs mpy-cross (next to micropython or on PATH)\n")
            return 127
        with tempfile.TemporaryDirectory(prefix="modem-mpy-") as mpy_dir:
            try:
                compile_firmware(mpy_cross, mpy_dir)
                if args.console:
                    microdot_lib(mpy_dir, mpy_cross)
            except subprocess.CalledProcessError as e:
                sys.stderr.write("modem.py: mpy-cross failed: %s\n" % e)
                return 1
            status = Launcher(args, mpy, mpy_dir).run()
    if status is None:
        return 1
    return status if status >= 0 else 128 - status


if __name__ == "__main__":
    sys.exit(main())
