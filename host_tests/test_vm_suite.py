"""Runs the dual-runtime tests (host_tests/dual/) under the MicroPython unix port.

The same files also run here under CPython, collected by pytest directly.
"""

import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MICROPYPATH = "firmware:host_tests/dual:.frozen"  # `.frozen`: keep asyncio & co importable


@pytest.mark.timeout(300)
def test_dual_suite_on_micropython(venv_tool):
    exe = venv_tool("micropython")  # fails (never skips) when missing
    proc = subprocess.run(
        [exe, "-X", "heapsize=16M", "host_tests/upy_run.py"],
        cwd=ROOT,
        env=dict(os.environ, MICROPYPATH=MICROPYPATH),
        capture_output=True,
        text=True,
        timeout=280,
    )
    output = proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    summary = re.fullmatch(r"(\d+) passed, (\d+) failed", lines[-1]) if lines else None
    assert summary, "no summary line from the MicroPython runner:\n" + output
    passed, failed = int(summary.group(1)), int(summary.group(2))
    assert failed == 0, output
    assert passed >= 1, "no dual-runtime test ran:\n" + output
    assert proc.returncode == 0, output
