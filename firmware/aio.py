"""Non-blocking I/O helpers for MicroPython's asyncio.

`readable(obj)` / `writable(obj)` suspend the task until the poller reports the object ready;
this is the mechanism asyncio's own streams and `start_server` use (`core._io_queue`). Working
on the raw objects keeps the data path free of the unbounded `Stream.out_buf` and lets every
write be bounded: `write_all` loops over a memoryview and waits for room, never queueing more.
"""

import io

import asyncio
from asyncio import core  # type: ignore[attr-defined]  # MicroPython's asyncio internals

_POLL = 3  # MP_STREAM_POLL
_GET_FILENO = 10  # MP_STREAM_GET_FILENO: the unix port's poller then polls that fd itself


async def readable(obj):
    yield core._io_queue.queue_read(obj)


async def writable(obj):
    yield core._io_queue.queue_write(obj)


async def write_all(obj, data):
    """Write every byte of `data` to a non-blocking stream, waiting for room as needed."""
    mv = memoryview(data)
    off = 0
    end = len(mv)
    while off < end:
        n = obj.write(mv[off:])
        if n:
            off += n
        else:  # None (would block) or 0: wait until the stream can take more
            await writable(obj)


async def read_until_quiet(stream, buf, quiet_ms, found):
    """Read `stream` into `buf` until `found(buf, n)` returns what follows the end it looks
    for, or until `quiet_ms` pass without a byte (then b""): the device's bytes dropped after a
    service failed in the middle of its data."""
    while True:
        try:
            await asyncio.wait_for_ms(readable(stream), quiet_ms)
        except asyncio.TimeoutError:
            return b""
        n = stream.readinto(buf)
        if n:
            rest = found(buf, n)
            if rest is not None:
                return rest


class WriteSide(io.IOBase):
    """The same stream under another name, to write to and wait on for room.

    MicroPython's asyncio keeps one poller entry per object, and when a task waiting on an
    object is cancelled (a read with a timeout that expired) it drops the whole entry: another
    task waiting on the same object for room is then never woken (a session's peer -> device
    pump stalled for good that way while the device -> peer pump waited with TCPTXDELAY's
    deadline). Writing through this stand-in gives the writer an entry of its own."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, data):
        return self.stream.write(data)

    def ioctl(self, req, arg):
        stream = self.stream
        if req == _GET_FILENO:
            fileno = getattr(stream, "fileno", None)
            return fileno() if fileno is not None else -1
        ioctl = getattr(stream, "ioctl", None)
        if ioctl is not None:  # a stream of the board's own (the ESP32's UART, test fakes)
            return ioctl(req, arg)
        if req == _POLL:  # a native stream polled through this one: ask the poller
            import select

            p = select.poll()
            p.register(stream, arg)
            ready = p.poll(0)
            return ready[0][1] & arg if ready else 0
        return -1
