"""The data path's buffers, made once per modem: sessions come and go without heap churn.

A board's entry makes them before it imports the rest of the firmware. Each must be one
contiguous block, and loading code leaves the heap in small pieces: on the VM, a 72 KiB heap
held the imported firmware with 13 KB free, of which no 2 KB were in one piece.
"""

from compat import const

SEGMENT = const(1460)  # a full TCP segment is sent without waiting for TCPTXDELAY
UDP_PAYLOAD = const(1472)  # 1500-byte MTU less the IP and UDP headers

# Bytes read at once in each direction on the ESP32: 1 KiB is 89 ms of a 115200-baud line, and
# the UART driver's own RX ring holds what comes meanwhile. A host can afford more.
CHUNK = const(1024)


class Buffers:
    """`chunk` bytes from the device and from the peer, room for the peer's bytes escaped
    (at most doubled), and the device's bytes waiting to go out as one segment or datagram."""

    def __init__(self, chunk=CHUNK):
        if not 0 < chunk < 16384:  # dle.unescape_into packs offsets in 14 bits
            raise ValueError("chunk must be 1..16383")
        self.chunk = chunk
        self.device = bytearray(chunk)
        self.peer = bytearray(chunk)
        self.escaped = bytearray(2 * chunk)
        self.pending = memoryview(bytearray(max(SEGMENT, UDP_PAYLOAD) + chunk))
