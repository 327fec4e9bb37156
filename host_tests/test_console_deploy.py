"""tools/deploy.py for the web console: microdot goes to the board with the firmware, and
--console-password stores the password's salted hash (made on the host: the password itself
reaches neither the board nor the mpremote command line). On tools/virtual_board.py, as
test_deploy.py does.
"""

import json
import os
import subprocess
import sys

import pytest

from test_deploy import DEPLOY, ROOT, board, power_on, run_deploy  # noqa: F401 - fixtures

sys.path.insert(0, os.path.join(ROOT, "firmware"))

import pwhash  # noqa: E402

PASSWORD = "Cabinet-7-deploy"


def dry_run(*args):
    cmd = [sys.executable, DEPLOY, "/dev/ttyUSB0", "--dry-run", *args]
    return subprocess.run(cmd, capture_output=True, text=True)


def test_dry_run_ships_microdot_and_only_the_password_hash():
    r = dry_run("--console-password", PASSWORD)
    assert r.returncode == 0, r.stderr
    assert PASSWORD not in r.stdout + r.stderr
    assert ":lib/microdot/" in r.stdout
    for name in ("__init__.mpy", "microdot.mpy", "helpers.mpy"):
        assert "microdot/" + name in r.stdout, name
    assert "CONSOLEPW" in r.stdout and "pwhash.is_stored" in r.stdout


@pytest.mark.parametrize("bad", ["short", "x" * 65, "caf\u00e9-caf\u00e9", ""])
def test_a_console_password_that_at_would_refuse_stops_the_deploy(bad):
    r = dry_run("--console-password", bad)
    assert r.returncode != 0
    assert "--console-password must be 8 to 64 printable ASCII characters" in r.stderr


@pytest.mark.timeout(300)
def test_deploy_puts_microdot_and_the_console_password_on_the_board(board, tmp_path):  # noqa: F811
    flash = tmp_path / "flash"
    out = run_deploy(board, "--console-password", PASSWORD, "--no-reset")
    assert "console password stored (a salted hash)" in out
    assert PASSWORD not in out
    for name in ("__init__", "microdot", "helpers"):
        assert (flash / "lib" / "microdot" / (name + ".mpy")).exists(), name
    for name in ("console", "console_pages", "console_auth", "pwhash"):
        assert (flash / "lib" / (name + ".mpy")).exists(), name
    text = (flash / "state" / "settings.json").read_text()
    assert PASSWORD not in text
    stored = json.loads(text)["params"]["CONSOLEPW"]
    salt, want = pwhash.salt_and_hash(stored)
    assert pwhash.digest(PASSWORD, salt) == want
