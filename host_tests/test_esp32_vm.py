"""The ESP32 board tests again, on the MicroPython unix VM (the runtime the board code targets).

test_esp32_uart/wifi/setup/app.py and test_captive_dns.py are dual-runtime files; under
MicroPython test_esp32_app.py also runs its upy_test_* cases (the real engine over EspUart, the
fake UART and the fake WLAN: AT, and the set-up access point with its DNS) and
test_captive_dns.py counts the heap its replies take.
"""

import os
import subprocess

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
FILES = [
    "test_esp32_uart.py",
    "test_esp32_wifi.py",
    "test_esp32_setup.py",
    "test_esp32_app.py",
    "test_captive_dns.py",
]


@pytest.mark.parametrize("name", FILES)
def test_on_micropython(name, venv_tool):
    mpy = venv_tool("micropython")
    env = dict(os.environ)
    env.pop("MICROPYPATH", None)  # the default path keeps the frozen asyncio
    r = subprocess.run(
        [mpy, os.path.join(HERE, name)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    out = r.stdout + r.stderr
    last = [ln for ln in out.splitlines() if ln.strip()][-1:]
    assert r.returncode == 0, out
    assert last and last[0].endswith(" 0 failed") and not last[0].startswith("0 passed"), out
