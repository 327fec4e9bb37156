"""A writer's wait survives a reader's timed-out wait on the same stream (the engine's UART):
runs host_tests/upy_engine_waits.py on the MicroPython VM (see that file)."""

from harness import run_on_micropython


def test_writes_wait_apart_from_reads_on_micropython(venv_tool):
    passed, failed, out, rc = run_on_micropython(
        venv_tool("micropython"),
        "host_tests/upy_engine_waits.py",
        "firmware:boards/unix:.frozen",
        heap="4M",
        timeout=120,
    )
    assert passed is not None and failed == 0 and passed >= 2, out
    assert rc == 0, out
