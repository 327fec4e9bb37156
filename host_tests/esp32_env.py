# Test environment for the ESP32 board code (boards/esp32) on the host.
#
# Used by host_tests/test_esp32_*.py under pytest (CPython) and, for the dual-runtime ones,
# under the MicroPython unix VM (`micropython host_tests/test_esp32_uart.py`, from anywhere).
# setup() puts the fakes of `machine`/`network` (host_tests/fakes), boards/esp32 and firmware/
# at the front of sys.path. Under pytest, `isolate` (a module-scoped fixture the test modules
# re-export) undoes that afterwards, so generic names like `uart` never leak into other tests.

import sys

try:
    import os

    _HERE = os.path.dirname(os.path.abspath(__file__))
except (ImportError, AttributeError):  # MicroPython: no os.path
    _HERE = __file__.rpartition("/")[0] or "."

ROOT = _HERE.rpartition("/")[0] or "."
PATHS = [_HERE + "/fakes", ROOT + "/boards/esp32", ROOT + "/firmware"]


def setup():
    for p in reversed(PATHS):
        if p in sys.path:
            sys.path.remove(p)
        sys.path.insert(0, p)
    return ROOT


def run_tests(namespace):
    """Run every test_* function of a module (MicroPython has no pytest); exit 1 on failure."""
    passed = failed = 0
    for name in sorted(namespace):
        fn = namespace[name]
        if not name.startswith("test_") or not callable(fn):
            continue
        try:
            fn()
            passed += 1
        except Exception as e:
            failed += 1
            print("FAIL " + name)
            if hasattr(sys, "print_exception"):
                sys.print_exception(e)
            else:
                import traceback

                traceback.print_exc()
    print("%d passed, %d failed" % (passed, failed))
    sys.exit(1 if failed or not passed else 0)


def free_udp_port(first, last):
    """A UDP port in first..last-1 that 127.0.0.1 can bind now (the callers' ranges differ so
    that tests in one process do not meet)."""
    import socket

    for port in range(first, last):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.bind(socket.getaddrinfo("127.0.0.1", port, 0, socket.SOCK_DGRAM)[0][-1])
            return port
        except OSError:
            continue
        finally:
            s.close()
    raise AssertionError("no free UDP port")


async def recv_reply(c, ms=2000, size=1024):
    """The next datagram on the non-blocking socket `c`, or None after `ms`."""
    import asyncio

    for _ in range(ms // 10):
        try:
            return c.recvfrom(size)[0]
        except OSError:
            await asyncio.sleep(0.01)
    return None


async def dns_query(port, query, ms=1000):
    """Send `query` to 127.0.0.1:port from a socket of its own: the reply, or None after ms."""
    import socket

    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.setblocking(False)
    try:
        c.sendto(query, socket.getaddrinfo("127.0.0.1", port, 0, socket.SOCK_DGRAM)[0][-1])
        return await recv_reply(c, ms, 512)
    finally:
        c.close()


try:
    import pytest

    @pytest.fixture(autouse=True, scope="module")
    def isolate():
        saved_path = list(sys.path)
        saved_mods = set(sys.modules)
        setup()
        yield
        sys.path[:] = saved_path
        for name in set(sys.modules) - saved_mods:
            del sys.modules[name]

except ImportError:  # MicroPython
    pass
