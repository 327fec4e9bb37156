#!/usr/bin/env python3
"""Developer entry point. Needs only a python3 (>= 3.9, stdlib only) to start.

    python3 tools/dev.py test [pytest args...]   every check, in order; stops at the first failure
    python3 tools/dev.py modem [args...]         the emulated modem (python tools/modem.py args...)
    python3 tools/dev.py bench [args...]         benchmarks (python tools/bench.py args...)

On first use (and whenever requirements-dev.txt changes) it creates the virtualenv and installs
the pinned tools into it, then re-executes itself with the venv's python.

Environment:
    MTIP_VENV   virtualenv location (default: <repo>/.venv)
    CI=true     missing system tools (socat, chat, picocom, dovecot-pop3d, chromium) are an
                error, not a warning
"""

import hashlib
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS = ROOT / "requirements-dev.txt"
VENV = Path(os.environ.get("MTIP_VENV") or ROOT / ".venv").absolute()
VENV_PY = VENV / "bin" / "python"
STAMP = VENV / ".requirements-dev.sha256"  # hash of the requirements last installed

# Pure codec modules that must type-check; each is checked once it exists.
CODEC_MODULES = ["dle", "atline", "atparse", "results", "settings", "compat", "ipv4", "errors"]

# System tools the tests drive: (command, Debian package).
# dovecot-pop3d is checked by its pop3 binary: dovecot-core alone has /usr/sbin/dovecot too.
SYSTEM_TOOLS = [
    ("socat", "socat"),
    ("chat", "ppp"),
    ("picocom", "picocom"),
    ("/usr/lib/dovecot/pop3", "dovecot-pop3d"),  # POP3 server of the mail tests
    ("chromium", "chromium"),  # the browser of the web console tests (driven by Playwright)
]

# MicroPython module search path for the dual-runtime tests; `.frozen` keeps the frozen
# stdlib (asyncio, ...) importable since MICROPYPATH replaces the default path.
MICROPYPATH = "firmware:host_tests/dual:.frozen"

# `chat` lives in /usr/sbin, which a non-root PATH often lacks.
_path = os.environ.get("PATH", "").split(os.pathsep)
os.environ["PATH"] = os.pathsep.join(_path + [d for d in ("/usr/sbin", "/sbin") if d not in _path])


def say(msg):
    print("dev.py: " + msg, flush=True)


def die(msg, code=1):
    print("dev.py: error: " + msg, file=sys.stderr, flush=True)
    sys.exit(code)


def is_root():
    return hasattr(os, "geteuid") and os.geteuid() == 0


def in_ci():
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


_apt_updated = False


def apt_install(*packages):
    """apt-get install as root; runs `apt-get update` at most once per invocation."""
    global _apt_updated
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    if not _apt_updated:
        say("apt-get update")
        subprocess.run(["apt-get", "update"], env=env, check=False)
        _apt_updated = True
    say("apt-get install -y " + " ".join(packages))
    if subprocess.run(["apt-get", "install", "-y", *packages], env=env).returncode != 0:
        die("apt-get install %s failed" % " ".join(packages))


# --- bootstrap -----------------------------------------------------------------------------


def requirements_hash():
    return hashlib.sha256(REQUIREMENTS.read_bytes()).hexdigest()


def venv_has_pip():
    if not VENV_PY.exists():
        return False
    r = subprocess.run([str(VENV_PY), "-m", "pip", "--version"], capture_output=True)
    return r.returncode == 0


def create_venv():
    # Debian's python3 ships venv without ensurepip (that is the python3-venv package).
    if importlib.util.find_spec("venv") is None or importlib.util.find_spec("ensurepip") is None:
        if not is_root():
            die(
                "python3 cannot create virtualenvs; install python3-venv (apt-get install "
                "python3-venv) or run as root"
            )
        apt_install("python3-venv")
    if sys.version_info < (3, 11):
        say("warning: the pinned tools are only known to install on Python >= 3.11")
    say("creating virtualenv %s" % VENV)
    # --clear: a half-made venv (e.g. from a failed earlier run) is rebuilt from scratch.
    if subprocess.run([sys.executable, "-m", "venv", "--clear", str(VENV)]).returncode != 0:
        die("python3 -m venv %s failed" % VENV)


def ensure_venv():
    """Create the venv if needed and install requirements-dev.txt when it changed."""
    want = requirements_hash()
    if STAMP.exists() and STAMP.read_text().strip() == want and VENV_PY.exists():
        return
    if not venv_has_pip():
        create_venv()
    say("installing %s into %s" % (REQUIREMENTS.name, VENV))
    cmd = [str(VENV_PY), "-m", "pip", "install", "-q", "-r", str(REQUIREMENTS)]
    if subprocess.run(cmd).returncode != 0:
        die("pip install -r %s failed" % REQUIREMENTS)
    STAMP.write_text(want + "\n")


def inside_venv():
    return Path(sys.prefix).resolve() == VENV.resolve()


def enter_venv():
    ensure_venv()
    if inside_venv():
        return
    if os.environ.get("MTIP_DEV_REEXEC"):  # guard against an exec loop
        die("re-executed with %s but sys.prefix is %s, not %s" % (VENV_PY, sys.prefix, VENV))
    os.environ["MTIP_DEV_REEXEC"] = "1"
    os.execv(str(VENV_PY), [str(VENV_PY), str(Path(__file__).resolve()), *sys.argv[1:]])


def venv_bin(name):
    # Not resolved: the venv's python is a symlink to the base interpreter.
    return str(Path(sys.executable).parent / name)


# --- commands ------------------------------------------------------------------------------


def ensure_system_tools():
    missing = [(cmd, pkg) for cmd, pkg in SYSTEM_TOOLS if shutil.which(cmd) is None]
    if not missing:
        return
    pkgs = sorted({pkg for _, pkg in missing})
    names = ", ".join(cmd for cmd, _ in missing)
    if is_root():
        apt_install(*[pkg for _, pkg in SYSTEM_TOOLS])
        return
    msg = "missing %s; install with: sudo apt-get install %s" % (names, " ".join(pkgs))
    if in_ci():
        die(msg)
    say("warning: " + msg + " (tests that need them will fail)")


def run_step(title, cmd, env=None):
    say("==> " + title)
    rc = subprocess.run(cmd, cwd=str(ROOT), env=env).returncode
    if rc != 0:
        say("FAILED (exit %d): %s" % (rc, title))
    return rc


def cmd_test(args):
    ensure_system_tools()
    rc = run_step("ruff check .", [venv_bin("ruff"), "check", "."])
    if rc:
        return rc

    codec = ["firmware/%s.py" % m for m in CODEC_MODULES]
    present = [f for f in codec if (ROOT / f).exists()]
    if present:
        rc = run_step("mypy " + " ".join(present), [sys.executable, "-m", "mypy", *present])
        if rc:
            return rc
    else:
        say("==> mypy: no codec modules yet, nothing to check")

    env = dict(os.environ, MICROPYPATH=MICROPYPATH)
    rc = run_step(
        "MicroPython VM: host_tests/dual (micropython host_tests/upy_run.py)",
        [venv_bin("micropython"), "-X", "heapsize=16M", "host_tests/upy_run.py"],
        env=env,
    )
    if rc:
        return rc

    rc = run_step("pytest " + " ".join(args), [sys.executable, "-m", "pytest", *args])
    if rc == 5:
        say("pytest collected no tests; that counts as a failure")
    return rc


def cmd_forward(script, args):
    path = ROOT / "tools" / script
    if not path.exists():
        die("%s does not exist yet" % path.relative_to(ROOT))
    os.execv(sys.executable, [sys.executable, str(path), *args])


def main(argv):
    usage = "usage: python3 tools/dev.py {test|modem|bench} [args...]"
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(__doc__.strip())
        return 0 if argv else 2
    command, args = argv[0], argv[1:]
    if command not in ("test", "modem", "bench"):
        die(usage, code=2)
    enter_venv()
    if command == "test":
        return cmd_test(args)
    if command == "modem" and shutil.which("picocom") is None:
        say("hint: connect with picocom (apt-get install picocom)")
    return cmd_forward("modem.py" if command == "modem" else "bench.py", args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
