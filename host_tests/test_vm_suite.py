"""Runs the dual-runtime tests (host_tests/dual/) under the MicroPython unix port.

The same files also run here under CPython, collected by pytest directly.
"""

import pytest
from harness import run_on_micropython

MICROPYPATH = "firmware:host_tests/dual:.frozen"  # `.frozen`: keep asyncio & co importable


@pytest.mark.timeout(300)
def test_dual_suite_on_micropython(venv_tool):
    passed, failed, output, rc = run_on_micropython(
        venv_tool("micropython"),  # fails (never skips) when missing
        "host_tests/upy_run.py",
        MICROPYPATH,
        heap="16M",
        timeout=280,
    )
    assert passed is not None, "no summary line from the MicroPython runner:\n" + output
    assert failed == 0, output
    assert passed >= 1, "no dual-runtime test ran:\n" + output
    assert rc == 0, output
