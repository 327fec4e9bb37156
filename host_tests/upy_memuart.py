# A UART in memory for the engine's tests on the MicroPython VM (upy_engine_waits.py,
# upy_input_timing.py): `feed` what the device sends, `tx` is what the modem wrote. It is a
# stream asyncio can poll (ioctl MP_STREAM_POLL): readable while bytes wait, always writable.

import io

_POLL = 3
_POLLIN = 1
_POLLOUT = 4


class MemUart(io.IOBase):
    def __init__(self):
        self.rx = bytearray()
        self.tx = bytearray()

    def feed(self, data):
        self.rx += data

    def readinto(self, buf):
        n = min(len(buf), len(self.rx))
        if not n:
            return None
        buf[:n] = self.rx[:n]
        self.rx[:n] = b""
        return n

    def write(self, data):
        self.tx += data
        return len(data)

    def ioctl(self, req, arg):
        if req != _POLL:
            return 0
        ready = _POLLOUT & arg
        if arg & _POLLIN and self.rx:
            ready |= _POLLIN
        return ready
