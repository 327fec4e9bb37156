"""Non-blocking I/O helpers for MicroPython's asyncio.

`readable(obj)` / `writable(obj)` suspend the task until the poller reports the object ready;
this is the mechanism asyncio's own streams and `start_server` use (`core._io_queue`). Working
on the raw objects keeps the data path free of the unbounded `Stream.out_buf` and lets every
write be bounded: `write_all` loops over a memoryview and waits for room, never queueing more.
"""

from asyncio import core  # type: ignore[attr-defined]  # MicroPython's asyncio internals


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
