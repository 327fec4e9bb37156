#!/usr/bin/env python3
"""Deploy the modem firmware to a MicroPython board with mpremote, in one command.

    python tools/deploy.py PORT [--wifi-ssid S --wifi-password P] [--console-password C]
                                [--check-uart PATH]
    python tools/deploy.py --write-package-json    (regenerate package.json for mip)

PORT is the board's REPL serial port (e.g. /dev/ttyUSB0). Steps:
  1. compile firmware/*.py and the board's modules with mpy-cross (boot.py, main.py and
     board_config.py stay source: MicroPython runs boot/main only as .py, and the board file
     is the one a user edits);
  2. stop the program the board runs: Ctrl-C until its REPL answers (see stop_program), then,
     on the board, create /lib and delete stale twins of every module shipped (/<m>.py, /<m>.mpy,
     /lib/<m>.py), which would shadow the new /lib/<m>.mpy;
  3. copy the .mpy files to :lib/, the web console's microdot (the installed pip package,
     compiled the same way) to :lib/microdot/, and boot.py, main.py, board_config.py to :/
     (with --frozen, for a firmware built with manifest.py, only the latter, and /lib copies
     are removed);
  4. with --wifi-ssid/--wifi-password, store them with the firmware's own settings module
     (the same file AT#WIFISSID / AT#WIFIPW write); with --console-password, the web
     console's password, as the salted hash AT#CONSOLEPW stores (made here: the password
     itself never reaches the board, the mpremote command line or a log);
  5. hard reset (machine.reset()), so boot.py then main.py start the modem;
  6. with --check-uart PATH (the serial port wired to the modem UART), send AT until OK.
All board writes happen in one mpremote session. CPython standard library plus mpy-cross,
mpremote and (for --check-uart) pyserial, all in the project's venv.
"""

import argparse
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
MICRODOT_DIR = "/lib/microdot"
SOURCE_FILES = ("boot.py", "main.py", "board_config.py")  # installed as source in /
DEFAULT_STATE_DIR = "/state"
RAW_REPL_BANNER = b"raw REPL; CTRL-B to exit\r\n>"
STOP_ATTEMPTS = 5  # Ctrl-C sent at most this often, ...
STOP_WAIT_S = 1.0  # ... each followed by this long a wait for the REPL


def say(msg):
    print("deploy: " + msg, flush=True)


def tool(module, command):
    """How to run a tool: `python -m module` from this interpreter, else `command` on PATH."""
    try:
        __import__(module)
        return [sys.executable, "-m", module]
    except ImportError:
        found = shutil.which(command)
        if found is None:
            raise SystemExit(
                "deploy: %s not found; run it with the project's venv python "
                "(python3 tools/dev.py sets it up)" % command
            )
        return [found]


def board_dir(board):
    path = os.path.join(ROOT, "boards", board)
    if not os.path.isdir(path):
        raise SystemExit("deploy: no board %r (boards/%s/)" % (board, board))
    return path


def modules_to_compile(board):
    """[(module name, source path)] of everything that goes to /lib as .mpy."""
    found = {}
    for directory in (FIRMWARE, board_dir(board)):
        for name in sorted(os.listdir(directory)):
            if not name.endswith(".py") or name in SOURCE_FILES:
                continue
            found[name[:-3]] = os.path.join(directory, name)  # the board wins a name clash
    return sorted(found.items())


def source_files(board):
    d = board_dir(board)
    return [os.path.join(d, n) for n in SOURCE_FILES if os.path.exists(os.path.join(d, n))]


def read_state_dir(board):
    """STATE_DIR from the board's board_config.py, without importing it."""
    path = os.path.join(board_dir(board), "board_config.py")
    if not os.path.exists(path):
        return DEFAULT_STATE_DIR
    scope = {}
    try:
        exec(compile(open(path).read(), path, "exec"), scope)
    except Exception as e:
        raise SystemExit("deploy: %s does not run: %r" % (path, e))
    return scope.get("STATE_DIR", DEFAULT_STATE_DIR)


def compile_all(modules, out_dir, march):
    mpy_cross = tool("mpy_cross", "mpy-cross")
    outs = []
    for name, src in modules:
        out = os.path.join(out_dir, name + ".mpy")
        # -s: tracebacks name the module file, not this machine's checkout path;
        # no-source-lines: a .mpy is loaded into the heap, and line numbers cost ~3% of it.
        cmd = mpy_cross + (["-march=" + march] if march else [])
        cmd += ["-X", "no-source-lines", "-s", name + ".py", "-o", out, src]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            raise SystemExit("deploy: mpy-cross failed on %s:\n%s%s" % (src, r.stdout, r.stderr))
        outs.append(out)
    return outs


def microdot_modules():
    """[(name, source path)] of the microdot package files the console uses (pip install
    microdot, pinned in requirements-dev.txt; tools/modem.py finds it the same way)."""
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    try:
        from modem import MICRODOT_FILES, find_microdot
    finally:
        sys.path.pop(0)
    src = find_microdot()
    if src is None:
        raise SystemExit(
            "deploy: the microdot package is missing (the web console needs it): "
            "pip install microdot==2.7.0, or run python3 tools/dev.py once"
        )
    return [(name[:-3], os.path.join(src, name)) for name in MICRODOT_FILES]


def console_password_hash(password):
    """What AT#CONSOLEPW would store for `password` (validated the same way), made here."""
    sys.path.insert(0, FIRMWARE)
    try:
        import pwhash
        import settings

        try:
            settings.validate(settings.GLOBAL_PARAMS["CONSOLEPW"], password)
            if not password:
                raise ValueError("empty")
            return pwhash.make(password)
        except ValueError:
            raise SystemExit(
                "deploy: --console-password must be 8 to 64 printable ASCII characters"
            )
    finally:
        sys.path.pop(0)


def console_script(state_dir, stored):
    """Device-side: store the console password's hash in the settings file AT reads."""
    return (
        "import os, pwhash, settings\n"
        "try:\n os.mkdir(%r)\nexcept OSError:\n pass\n"
        "if not pwhash.is_stored(%r):\n raise ValueError('not a password hash')\n"
        "_st = settings.Settings(settings.Store(%r))\n"
        "_st.params['CONSOLEPW'] = %r\n"
        "_st.save()\n"
        "print('console password stored (a salted hash)')\n"
    ) % (state_dir, stored, state_dir, stored)


def stale_paths(name, frozen=False):
    """Files that would shadow module `name` once deployed: sys.path is ['', '.frozen', '/lib'],
    and within a directory foo.py wins over foo.mpy. Frozen code also loses to /lib copies of
    nothing, but they waste flash."""
    paths = ["/" + name + ".py", "/" + name + ".mpy", "/lib/" + name + ".py"]
    if frozen:
        paths.append("/lib/" + name + ".mpy")
    return paths


def prepare_script(names, frozen=False):
    """Device-side: make /lib and /lib/microdot, delete the twins that would shadow the
    deployed modules (and microdot's sources, which would shadow its .mpy files)."""
    paths = [p for n in names for p in stale_paths(n, frozen)]
    for n, _src in microdot_modules():
        paths.append("%s/%s.py" % (MICRODOT_DIR, n))
        if frozen:
            paths.append("%s/%s.mpy" % (MICRODOT_DIR, n))
    return (
        "import os\n"
        "for _d in ('/lib', %r):\n"
        " try:\n  os.mkdir(_d)\n except OSError:\n  pass\n"
        "_gone = []\n"
        "for _p in %r:\n"
        " try:\n  os.remove(_p)\n  _gone.append(_p)\n except OSError:\n  pass\n"
        "print('stale files removed:', ' '.join(_gone) if _gone else 'none')\n"
    ) % (MICRODOT_DIR, paths)


def wifi_script(state_dir, ssid, password):
    """Device-side: store the WiFi credentials through firmware/settings.py itself, so the file
    is exactly what AT#WIFISSID / AT#WIFIPW would have written (validated, atomic)."""
    return (
        "import os, settings\n"
        "try:\n os.mkdir(%r)\nexcept OSError:\n pass\n"
        "_st = settings.Settings(settings.Store(%r))\n"
        "_st.set('WIFISSID', %r)\n"
        "_st.set('WIFIPW', %r)\n"
        "print('WiFi settings stored for', repr(_st.get('WIFISSID')))\n"
    ) % (state_dir, state_dir, ssid, password)


def ca_certificates(path):
    """How many PEM certificates the file holds (SystemExit when none: the board would refuse
    every TLS server with it)."""
    try:
        with open(path, "rb") as f:
            count = f.read().count(b"-----BEGIN CERTIFICATE-----")
    except OSError as e:
        raise SystemExit("deploy: --ca %s: %s" % (path, e))
    if not count:
        raise SystemExit("deploy: --ca %s holds no PEM certificate" % path)
    return count


def mpremote_chain(
    port, mpys, sources, names, wifi, reset, frozen=False, ca=None, microdot=(), console=None
):
    """One mpremote invocation (one raw-REPL session) for every board write. `ca`: (state
    directory, PEM file): the CA certificates the mail and FTP services check servers with.
    `microdot`: its .mpy files; `console`: (state directory, password hash)."""
    cmd = tool("mpremote", "mpremote") + ["connect", port]
    cmd += ["exec", prepare_script(names, frozen)]
    if mpys:
        cmd += ["+", "cp", *mpys, ":lib/"]
    if microdot:
        cmd += ["+", "cp", *microdot, ":%s/" % MICRODOT_DIR.lstrip("/")]
    if sources:
        cmd += ["+", "cp", *sources, ":"]
    if wifi is not None:
        cmd += ["+", "exec", wifi_script(*wifi)]
    if console is not None:
        cmd += ["+", "exec", console_script(*console)]
    if ca is not None:
        state_dir, pem = ca
        mkdir = "import os\ntry:\n os.mkdir(%r)\nexcept OSError:\n pass\n" % state_dir
        cmd += ["+", "exec", mkdir]
        cmd += ["+", "cp", pem, ":%s/ca.pem" % state_dir.rstrip("/")]
    if reset:
        cmd += ["+", "reset"]
    return cmd


def package_json(board="esp32"):
    """The mip package (library modules into /lib, as source) for a board."""
    urls = [
        [name + ".py", os.path.relpath(src, ROOT).replace(os.sep, "/")]
        for name, src in modules_to_compile(board)
    ]
    return {"urls": urls, "deps": [], "version": "0.1.0"}


PACKAGE_JSON = os.path.join(ROOT, "package.json")


def package_json_text(board="esp32"):
    pkg = package_json(board)
    urls = ",\n".join("    " + json.dumps(u) for u in pkg["urls"])
    return '{\n  "urls": [\n%s\n  ],\n  "deps": [],\n  "version": %s\n}\n' % (
        urls,
        json.dumps(pkg["version"]),
    )


def write_package_json(path=PACKAGE_JSON):
    with open(path, "w") as f:
        f.write(package_json_text())
    say("wrote %s" % os.path.relpath(path))


def stop_program(path, attempts=STOP_ATTEMPTS, wait_s=STOP_WAIT_S):
    """Interrupt the board's program until its REPL answers; return the Ctrl-C count.

    mpremote sends one Ctrl-C, then waits for the raw REPL. That Ctrl-C is lost on a board
    that is still booting (after a reset, MicroPython arms its interrupt character only while
    boot.py or main.py runs; before, a Ctrl-C is a plain byte in the input buffer, which
    main.py never reads) or whose program takes one KeyboardInterrupt for its own: mpremote
    then fails after 10 s, or waits forever on a pty. So: Ctrl-C then Ctrl-A (raw REPL), until
    the raw REPL's banner comes; the board is left in the raw REPL, where mpremote's own
    sequence works as from the friendly one.
    """
    try:
        import serial
    except ImportError:
        raise SystemExit("deploy: stopping the board needs pyserial (in the project's venv)")
    seen = b""
    try:
        port = serial.Serial(path, 115200, timeout=0.05, exclusive=True)
    except (OSError, serial.SerialException) as e:
        raise SystemExit("deploy: cannot open %s: %s" % (path, e))
    try:
        port.reset_input_buffer()  # the banner must answer this Ctrl-C, not an older one
        for attempt in range(1, attempts + 1):
            port.write(b"\r\x03\r\x01")
            end = time.monotonic() + wait_s
            while time.monotonic() < end:
                seen = (seen + port.read(256))[-256:]
                if RAW_REPL_BANNER in seen:
                    return attempt
    finally:
        _release(port)
    raise SystemExit(
        "deploy: no MicroPython REPL on %s after %d Ctrl-C (%.0f s); last bytes: %r. "
        "Is it the board's REPL port, and does its program let KeyboardInterrupt through?"
        % (path, attempts, attempts * wait_s, seen[-80:])
    )


def _release(port):
    # As mpremote closes the port: RTS before DTR, so an ESP32's auto-reset circuit stays
    # quiet (a pty has no such lines).
    for line in ("rts", "dtr"):
        try:
            setattr(port, line, False)
        except OSError:
            pass
    port.close()


def check_uart(path, baud, timeout_s):
    """Send AT until the modem answers OK; True if it did."""
    try:
        import serial
    except ImportError:
        raise SystemExit("deploy: --check-uart needs pyserial (in the project's venv)")
    deadline = time.monotonic() + timeout_s
    seen = b""
    with serial.Serial(path, baud, timeout=0.2) as port:
        while time.monotonic() < deadline:
            port.write(b"AT\r")
            end = time.monotonic() + 0.5
            while time.monotonic() < end:
                seen += port.read(256)
                if b"OK\r\n" in seen:
                    return True
    say("no OK from %s; last bytes: %r" % (path, seen[-80:]))
    return False


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("port", nargs="?", help="the board's REPL serial port (mpremote connect PORT)")
    p.add_argument("--board", default="esp32", help="board directory under boards/ (esp32)")
    p.add_argument("--wifi-ssid", help="store this WiFi network name (AT#WIFISSID)")
    p.add_argument("--wifi-password", default="", help="and its password (AT#WIFIPW)")
    p.add_argument(
        "--console-password",
        help="the web console's password (AT#CONSOLEPW; 8 to 64 characters), stored as its "
        "salted hash",
    )
    p.add_argument(
        "--state-dir",
        help="settings directory on the board (default: the board "
        "file's STATE_DIR, else %s)" % DEFAULT_STATE_DIR,
    )
    p.add_argument(
        "--ca",
        metavar="PEM",
        help="CA certificates (PEM, one or more) the mail and FTP services check servers "
        "against; stored as STATE_DIR/ca.pem",
    )
    p.add_argument("--march", help="mpy-cross -march (default xtensawin for esp32)")
    p.add_argument("--no-reset", action="store_true", help="leave the board in the raw REPL")
    p.add_argument(
        "--check-uart",
        metavar="PATH",
        help="serial port wired to the modem UART: after the reset, send AT until it answers OK",
    )
    p.add_argument("--check-baud", type=int, default=115200, help="its rate (default 115200)")
    p.add_argument("--check-timeout", type=float, default=30.0, help="seconds (default 30)")
    p.add_argument(
        "--frozen",
        action="store_true",
        help="the firmware is frozen in "
        "(manifest.py): install only boot.py, main.py, board_config.py",
    )
    p.add_argument("--dry-run", action="store_true", help="print the mpremote command only")
    p.add_argument(
        "--write-package-json",
        action="store_true",
        help="regenerate package.json (mip) from firmware/ and boards/esp32/, exit",
    )
    args = p.parse_args(argv)

    if args.write_package_json:
        write_package_json()
        return 0
    if not args.port:
        p.error("PORT is required")

    if args.wifi_password and not args.wifi_ssid:
        p.error("--wifi-password needs --wifi-ssid")
    march = (
        args.march if args.march is not None else ("xtensawin" if args.board == "esp32" else None)
    )
    modules = modules_to_compile(args.board)
    names = [n for n, _ in modules]
    sources = source_files(args.board)
    wifi = None
    if args.wifi_ssid is not None:
        wifi = (args.state_dir or read_state_dir(args.board), args.wifi_ssid, args.wifi_password)
    console = None
    if args.console_password is not None:
        state_dir = args.state_dir or read_state_dir(args.board)
        console = (state_dir, console_password_hash(args.console_password))
    ca = None
    if args.ca:
        say("CA certificates: %d in %s" % (ca_certificates(args.ca), args.ca))
        ca = (args.state_dir or read_state_dir(args.board), args.ca)

    with tempfile.TemporaryDirectory(prefix="mtip-deploy-") as out:
        mpys = []
        microdot = []
        if not args.frozen:
            say(
                "compiling %d modules and microdot with mpy-cross%s"
                % (len(modules), " -march=" + march if march else "")
            )
            mpys = compile_all(modules, out, march)
            os.mkdir(os.path.join(out, "microdot"))
            microdot = compile_all(microdot_modules(), os.path.join(out, "microdot"), march)
        reset = not args.no_reset
        cmd = mpremote_chain(
            args.port, mpys, sources, names, wifi, reset, args.frozen, ca, microdot, console
        )
        if args.dry_run:
            print(shlex.join(cmd))
            return 0
        say(
            "installing on %s: %d .mpy in /lib, %s in /"
            % (args.port, len(mpys), ", ".join(os.path.basename(s) for s in sources) or "nothing")
        )
        stops = stop_program(args.port)
        if stops > 1:
            say("the board's REPL answered after %d Ctrl-C" % stops)
        r = subprocess.run(cmd)
        if r.returncode != 0:
            say("mpremote failed (exit %d)" % r.returncode)
            return r.returncode
    if args.no_reset:
        say("done (not reset)")
        return 0
    say("board reset; the modem starts from main.py")
    if args.check_uart:
        say("checking the modem on %s at %d baud" % (args.check_uart, args.check_baud))
        if not check_uart(args.check_uart, args.check_baud, args.check_timeout):
            return 1
        say("the modem answers OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
