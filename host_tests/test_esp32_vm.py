"""The ESP32 board tests again, on the MicroPython unix VM (the runtime the board code targets).

test_esp32_uart/wifi/setup/app.py and test_captive_dns.py are dual-runtime files; under
MicroPython test_esp32_app.py also runs its upy_test_* cases (the real engine over EspUart, the
fake UART and the fake WLAN: AT, and the set-up access point with its DNS) and
test_captive_dns.py counts the heap its replies take.
"""

import pytest
from harness import run_on_micropython

FILES = [
    "test_esp32_uart.py",
    "test_esp32_wifi.py",
    "test_esp32_setup.py",
    "test_esp32_app.py",
    "test_captive_dns.py",
]


@pytest.mark.parametrize("name", FILES)
def test_on_micropython(name, venv_tool):
    # The VM's default path keeps the frozen asyncio; the files set up their own paths.
    passed, failed, out, rc = run_on_micropython(venv_tool("micropython"), "host_tests/" + name)
    assert rc == 0, out
    assert failed == 0 and passed, out
