"""Whatever the split and pacing of the device's bytes, the modem behaves the same (issue 12,
item 3): runs host_tests/upy_input_timing.py, the whole engine in one MicroPython VM over an
in-memory UART, every conversation against its paced reference (see that file)."""

import os

import pytest
from harness import run_on_micropython


@pytest.mark.timeout(400)
def test_same_bytes_same_behaviour_however_split_and_paced(venv_tool, tmp_path):
    passed, failed, out, rc = run_on_micropython(
        venv_tool("micropython"),
        "host_tests/upy_input_timing.py",
        "firmware:boards/unix:.frozen",
        heap="8M",
        env={
            "MTIP_TIMING_TMP": str(tmp_path / "runs"),
            "MTIP_TIMING_PORT": str(20000 + os.getpid() % 20000),
        },
        timeout=380,
    )
    assert passed is not None, out
    assert failed == 0 and passed >= 6, out
    assert rc == 0, out
