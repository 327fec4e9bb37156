"""Type-check the code that runs on the ESP32 against micropython-esp32-stubs (mypy-esp32.ini).

The stubs are installed into build/typings/ (git-ignored) on first use, pinned like the venv's:
    python -m pip install --no-deps --target build/typings \\
        micropython-esp32-stubs==1.29.0.post1 micropython-stdlib-stubs==1.29.0.post2
"""

import glob
import os
import subprocess
import sys


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TYPINGS = os.path.join(ROOT, "build", "typings")
STUBS = ["micropython-esp32-stubs==1.29.0.post1", "micropython-stdlib-stubs==1.29.0.post2"]
STAMP = os.path.join(TYPINGS, ".installed")


def ensure_typings():
    want = " ".join(STUBS)
    if os.path.exists(STAMP) and open(STAMP).read().strip() == want:
        return
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--upgrade",
            "--target",
            TYPINGS,
            *STUBS,
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 0, "installing the ESP32 stubs failed:\n" + r.stdout + r.stderr
    with open(STAMP, "w") as f:
        f.write(want + "\n")


def mypy(files):
    ensure_typings()
    r = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "mypy-esp32.ini", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    return r.returncode, r.stdout + r.stderr


def rel(pattern):
    return sorted(os.path.relpath(p, ROOT) for p in glob.glob(os.path.join(ROOT, pattern)))


def test_esp32_board_code_type_checks():
    code, out = mypy(rel("boards/esp32/*.py"))
    assert code == 0, out


def test_stubs_catch_esp32_api_misuse(tmp_path):
    # Guard against a config that silently checks nothing (e.g. stubs not found).
    bad = tmp_path / "bad.py"
    bad.write_text("import machine\nn: int = machine.UART(2, rxbuff=1).write(b'x')\n")
    code, out = mypy([str(bad)])
    assert code == 1 and "rxbuff" in out and "int | None" in out, out


def test_firmware_type_checks_against_esp32_stubs():
    code, out = mypy(rel("firmware/*.py"))
    assert code == 0, out
