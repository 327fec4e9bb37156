"""Whatever the split and pacing of the device's bytes, the modem behaves the same (issue 12,
item 3): runs host_tests/upy_input_timing.py, the whole engine in one MicroPython VM over an
in-memory UART, every conversation against its paced reference (see that file)."""

import os
import re
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


@pytest.mark.timeout(400)
def test_same_bytes_same_behaviour_however_split_and_paced(venv_tool, tmp_path):
    exe = venv_tool("micropython")
    env = dict(
        os.environ,
        MICROPYPATH="firmware:boards/unix:.frozen",
        MTIP_TIMING_TMP=str(tmp_path / "runs"),
        MTIP_TIMING_PORT=str(20000 + os.getpid() % 20000),
    )
    proc = subprocess.run(
        [exe, "-X", "heapsize=8M", os.path.join(HERE, "upy_input_timing.py")],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=380,
    )
    out = proc.stdout + proc.stderr
    lines = proc.stdout.strip().splitlines()
    summary = re.fullmatch(r"(\d+) passed, (\d+) failed", lines[-1]) if lines else None
    assert summary, out
    assert int(summary.group(2)) == 0 and int(summary.group(1)) >= 6, out
    assert proc.returncode == 0, out
