"""A writer's wait survives a reader's timed-out wait on the same stream (the engine's UART):
runs host_tests/upy_engine_waits.py on the MicroPython VM (see that file)."""

import os
import re
import subprocess

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def test_writes_wait_apart_from_reads_on_micropython(venv_tool):
    exe = venv_tool("micropython")
    env = dict(os.environ, MICROPYPATH="firmware:boards/unix:.frozen")
    proc = subprocess.run(
        [exe, "-X", "heapsize=4M", os.path.join(HERE, "upy_engine_waits.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    summary = re.fullmatch(r"(\d+) passed, (\d+) failed", lines[-1]) if lines else None
    assert summary and summary.group(2) == "0" and int(summary.group(1)) >= 2, out
    assert proc.returncode == 0, out
