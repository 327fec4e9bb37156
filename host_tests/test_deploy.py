"""tools/deploy.py, end to end: the real mpremote deploys to tools/virtual_board.py (a pty that
behaves like a MicroPython board's REPL, backed by the unix VM), the board resets, and the modem
it booted answers AT on its UART pty. Also: package.json and manifest.py stay in sync with the
modules deploy.py ships.
"""

import importlib.util
import json
import os
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEPLOY = os.path.join(ROOT, "tools", "deploy.py")


def load_tool(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(ROOT, "tools", name + ".py"))
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


deploy = load_tool("deploy")


# --- packaging ---------------------------------------------------------------------------------


def test_modules_shipped_as_mpy_exclude_the_source_files():
    names = [n for n, _ in deploy.modules_to_compile("esp32")]
    for src in ("boot", "main", "board_config"):
        assert src not in names
    for needed in ("modem", "settings", "app", "uart", "wifi", "hooks", "safemode"):
        assert needed in names
    files = [os.path.basename(p) for p in deploy.source_files("esp32")]
    assert files == ["boot.py", "main.py", "board_config.py"]


def test_stale_twins_cover_root_and_lib_sources():
    assert deploy.stale_paths("modem") == ["/modem.py", "/modem.mpy", "/lib/modem.py"]
    assert "/lib/modem.mpy" in deploy.stale_paths("modem", frozen=True)


def test_package_json_is_current():
    path = os.path.join(ROOT, "package.json")
    text = open(path).read()
    assert text == deploy.package_json_text(), (
        "package.json is stale: run python tools/deploy.py --write-package-json"
    )
    pkg = json.loads(text)
    for dest, src in pkg["urls"]:
        assert os.path.exists(os.path.join(ROOT, src)), src
        assert "/" not in dest and "\\" not in src


def test_manifest_freezes_the_same_modules():
    calls = []
    scope = {
        "include": lambda path: calls.append(("include", path)),
        "metadata": lambda **kw: calls.append(("metadata", kw)),
        "module": lambda name, base_path=".": calls.append(("module", base_path, name)),
        "package": lambda name, files=None, base_path=".": calls.append(("package", name, files)),
    }
    cwd = os.getcwd()
    os.chdir(ROOT)  # the manifest loader runs a manifest from its own directory
    try:
        exec(compile(open("manifest.py").read(), "manifest.py", "exec"), scope)
    finally:
        os.chdir(cwd)
    frozen = sorted(name[:-3] for kind, *rest in calls if kind == "module" for name in rest[1:])
    assert frozen == [n for n, _ in deploy.modules_to_compile("esp32")]
    assert ("include", "$(PORT_DIR)/boards/manifest.py") in calls
    # the web console's microdot, the files deploy.py copies
    want = tuple(os.path.basename(src) for _n, src in deploy.microdot_modules())
    assert ("package", "microdot", want) in calls


def test_dry_run_is_one_mpremote_session():
    r = subprocess.run(
        [
            sys.executable,
            DEPLOY,
            "/dev/ttyUSB0",
            "--wifi-ssid",
            "net",
            "--wifi-password",
            "pw",
            "--dry-run",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, r.stderr
    cmd = "\n".join(ln for ln in r.stdout.splitlines() if not ln.startswith("deploy: "))
    assert cmd.count(" connect ") == 1 and cmd.endswith("+ reset")
    assert "-march=xtensawin" in r.stdout
    assert ":lib/" in cmd and "board_config.py" in cmd and "WIFISSID" in cmd


# --- on the virtual board ----------------------------------------------------------------------


vb = load_tool("virtual_board")


@pytest.fixture
def power_on(tmp_path, venv_tool):
    """power_on({name: text}) -> a running virtual board whose flash held these files."""
    started = []

    def start(files=None, board_class=vb.VirtualBoard):
        flash = tmp_path / "flash"
        flash.mkdir(exist_ok=True)
        for name, text in (files or {}).items():
            (flash / name).write_text(text)
        b = board_class(str(flash), venv_tool("micropython")).start()
        started.append(b)
        return b

    yield start
    for b in started:
        b.stop()


@pytest.fixture
def board(power_on):
    return power_on()


def wait_for_output(board, marker, timeout=20):
    end = time.monotonic() + timeout
    while marker not in board.transcript:
        assert time.monotonic() < end, "no %r on the REPL: %r" % (marker, bytes(board.transcript))
        time.sleep(0.02)


def run_deploy(board, *args, timeout=120):
    cmd = [sys.executable, DEPLOY, board.repl, *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    out = r.stdout + r.stderr
    assert r.returncode == 0, (
        out + "\n--- REPL transcript ---\n" + bytes(board.transcript).decode(errors="replace")
    )
    return out


def run_deploy_failing(board, *args, timeout=120):
    cmd = [sys.executable, DEPLOY, board.repl, *args]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert r.returncode != 0, r.stdout + r.stderr
    return r.stdout + r.stderr


class At:
    def __init__(self, path):
        import serial

        self.port = serial.Serial(path, 115200, timeout=0.1)

    def cmd(self, line, want="OK\r\n", timeout=10):
        self.port.write(line.encode() + b"\r")
        seen = b""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            seen += self.port.read(512)
            if want.encode() in seen:
                return seen.decode(errors="replace")
        raise AssertionError("%r: no %r in %r" % (line, want, seen))

    def close(self):
        self.port.close()


@pytest.mark.timeout(300)
def test_deploy_unix_board_and_talk_at(board, tmp_path):
    flash = tmp_path / "flash"
    (flash / "lib").mkdir(parents=True)
    (flash / "modem.py").write_text("raise ImportError('stale twin was imported')\n")
    (flash / "lib" / "settings.py").write_text("raise ImportError('stale twin was imported')\n")

    out = run_deploy(
        board,
        "--board",
        "unix",
        "--wifi-ssid",
        "plant-floor",
        "--wifi-password",
        "s3cret!",
        "--check-uart",
        board.uart,
    )
    assert "the modem answers OK" in out
    assert "/modem.py" in out and "/lib/settings.py" in out  # reported as removed
    assert not (flash / "modem.py").exists() and not (flash / "lib" / "settings.py").exists()
    assert (flash / "lib" / "modem.mpy").exists() and (flash / "main.py").exists()
    # power-on (friendly), mpremote's soft reset (raw REPL), the deploy's machine.reset()
    assert board.boots[:3] == [("F", 1), ("R", 5), ("F", 2)]

    at = At(board.uart)
    try:
        at.cmd("ATE0")
        listing = at.cmd("AT#VWIFI")
        assert '"plant-floor"' in listing and "s3cret!" not in listing
        at.cmd("AT#VSTATE", '#STATE: "IDLE"')
        at.cmd("AT#CONNECTIONSTART", "Ok_Info_GprsActivation")
        at.cmd("AT#VSTATE", '#STATE: "CONNECTED"')
    finally:
        at.close()

    # Deploy again while the modem runs main.py: mpremote's Ctrl-C must stop it; this time
    # with CA certificates for the mail and FTP services.
    pem = tmp_path / "my-ca.pem"
    pem.write_bytes(b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    out = run_deploy(board, "--board", "unix", "--ca", str(pem), "--check-uart", board.uart)
    assert "the modem answers OK" in out and "CA certificates: 1 in" in out
    assert (flash / "state" / "ca.pem").read_bytes() == pem.read_bytes()
    at = At(board.uart)
    try:
        at.cmd("AT#VWIFI", '"plant-floor"')  # settings survived the redeploy
    finally:
        at.close()


@pytest.mark.timeout(300)
def test_deploy_esp32_layout(board, tmp_path):
    flash = tmp_path / "flash"
    out = run_deploy(board, "--wifi-ssid", "net1", "--wifi-password", "pw-12345", "--no-reset")
    assert "WiFi settings stored for 'net1'" in out
    for name in ("boot.py", "main.py", "board_config.py"):
        assert (flash / name).exists(), name
    for mod in ("app", "uart", "wifi", "hooks", "safemode", "modem", "settings"):
        assert (flash / "lib" / (mod + ".mpy")).exists(), mod
    stored = json.loads((flash / "state" / "settings.json").read_text())
    assert stored["params"]["WIFISSID"] == "net1"


# --- the virtual board's own races --------------------------------------------------------------


class Unpumped(vb.VirtualBoard):
    """A board whose pump the test plays, to order events the way a loaded machine may."""

    def _loop(self):
        pass


def test_soft_reset_boots_the_mode_the_vm_asked_for_though_its_exit_was_seen_first(power_on):
    # The race behind the flaky deploy test: the VM writes R ("reboot into the raw REPL") and
    # exits; a pump that sees the exit before it has read R booted the friendly REPL, which
    # ran main.py, and mpremote waited for the raw REPL for ever.
    board = power_on(board_class=Unpumped)
    os.write(board.vm.stdin.fileno(), b"\x01\x04")  # raw REPL, then Ctrl-D: soft reset
    status = board.vm.wait(20)
    assert status == vb.SOFT_EXIT
    board._restart(status)  # the exit, with R still unread in the control pipe
    assert board.boots == [("F", vb.PWRON_RESET), ("R", vb.SOFT_RESET)]
    # and the next boot is the raw REPL indeed (no main.py, which the friendly boot would run)
    booted = b"MPY: soft reboot\r\nraw REPL; CTRL-B to exit\r\n>"
    end = time.monotonic() + 20
    while not board.transcript.endswith(booted):
        assert time.monotonic() < end, bytes(board.transcript)
        board._drain_vm_output()
        time.sleep(0.02)


def test_an_idle_board_takes_ctrl_c_as_a_byte_not_a_signal(board):
    # No boot.py or main.py: the board is at its prompt, idle. A SIGINT there could land
    # outside the REPL's read (and the unix VM exits on a second one before the first is
    # raised): the virtual board must know it is idle.
    wait_for_output(board, b">>> ")
    assert not board._busy
    host = os.open(board.repl, os.O_RDWR | os.O_NOCTTY)
    try:
        os.write(host, b"\x03")
        wait_for_output(board, b">>> \r\n>>> ")
    finally:
        os.close(host)
    assert board.boots == [("F", vb.PWRON_RESET)]


# --- a program that does not stop at the first Ctrl-C -------------------------------------------

MAIN_TAKING_CTRL_C = """import time
taken = 0
while True:
    try:
        print("running", taken)
        while True:
            time.sleep_ms(10)
    except KeyboardInterrupt:
        taken += 1
        if taken == %d:
            raise
"""


@pytest.mark.timeout(300)
def test_deploy_stops_a_program_that_takes_the_first_ctrl_c(power_on, tmp_path):
    # As a real board that is still booting when the deploy starts (MicroPython arms Ctrl-C
    # only while boot.py/main.py run): mpremote's single Ctrl-C would not stop it.
    board = power_on({"main.py": MAIN_TAKING_CTRL_C % 2})
    wait_for_output(board, b"running 0")
    out = run_deploy(board, "--board", "unix", "--no-reset")
    assert "the board's REPL answered after 2 Ctrl-C" in out  # the first was taken
    assert (tmp_path / "flash" / "lib" / "modem.mpy").exists()
    assert board.boots == [("F", vb.PWRON_RESET), ("R", vb.SOFT_RESET)]


@pytest.mark.timeout(300)
def test_deploy_gives_up_clearly_on_a_program_that_never_stops(power_on, tmp_path):
    board = power_on({"main.py": MAIN_TAKING_CTRL_C % 0})  # never re-raises
    wait_for_output(board, b"running 0")
    out = run_deploy_failing(board, "--board", "unix")
    assert "no MicroPython REPL on %s after 5 Ctrl-C" % board.repl in out
    assert "running 4" in out  # the last bytes the board sent are reported
    assert not (tmp_path / "flash" / "lib").exists()  # mpremote never ran
    assert board.boots == [("F", vb.PWRON_RESET)]


def test_ca_file_must_hold_a_certificate(tmp_path):
    empty = tmp_path / "empty.pem"
    empty.write_bytes(b"not a certificate\n")
    with pytest.raises(SystemExit, match="no PEM certificate"):
        deploy.ca_certificates(str(empty))
    with pytest.raises(SystemExit, match="missing.pem"):
        deploy.ca_certificates(str(tmp_path / "missing.pem"))
    two = tmp_path / "two.pem"
    two.write_bytes((b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n") * 2)
    assert deploy.ca_certificates(str(two)) == 2
    cmd = deploy.mpremote_chain("PORT", [], [], [], None, False, ca=("/state", str(two)))
    assert cmd[-2:] == [str(two), ":/state/ca.pem"]
