# A session's two pumps wait on the same UART: the device -> peer pump reads it with
# TCPTXDELAY's deadline (a timed wait, cancelled when it expires), the peer -> device pump waits
# for room to write. MicroPython's asyncio drops an object's whole poller entry when a task
# waiting on it is cancelled, which left the writer asleep for good: the session stalled (the
# console benchmark's flood saw it in about 1 of 40 transfers of 8 MiB, 0 of 100 since). The
# engine writes through aio.WriteSide, whose waits have an entry of their own; these tests
# pin that down for both kinds of stream. MicroPython only.
#
#     MICROPYPATH=firmware:boards/unix:.frozen micropython host_tests/upy_engine_waits.py
#
# Ends with "N passed, M failed".

import sys

import aio
import asyncio
import board
import modem as engine
from upy_memuart import MemUart


def socket_pair(port):
    import socket

    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(socket.getaddrinfo("127.0.0.1", port)[0][-1])
    ls.listen(1)
    c = socket.socket()
    c.connect(socket.getaddrinfo("127.0.0.1", port)[0][-1])
    s, _addr = ls.accept()
    ls.close()
    s.setblocking(False)
    c.setblocking(False)
    return s, c


async def writer_after_a_readers_timeout(s, c, side):
    """Fill s so that a write waits; a task waits for room on `side` (s itself, or a WriteSide
    of it); another waits to read s with a timeout that expires; then c drains s: does the
    writer wake?"""
    filled = 0
    while True:
        try:
            n = s.write(b"x" * 65536)
        except OSError:
            n = None
        if not n:
            break
        filled += n
    woke = []

    async def writer():
        await aio.writable(side)
        woke.append("writer")

    w = asyncio.create_task(writer())
    await asyncio.sleep_ms(10)
    try:
        await asyncio.wait_for_ms(aio.readable(s), 100)  # nothing to read: it expires
    except asyncio.TimeoutError:
        woke.append("timeout")
    await asyncio.sleep_ms(200)
    buf = bytearray(65536)
    got = 0
    while got < filled:  # the reader drains: room again
        try:
            n = c.readinto(buf)
        except OSError:
            n = None
        if n:
            got += n
        else:
            await asyncio.sleep_ms(1)
    for _ in range(50):
        await asyncio.sleep_ms(10)
        if "writer" in woke:
            break
    w.cancel()
    return woke


async def test_a_writer_on_the_write_side_wakes_after_a_readers_timeout():
    for port in range(42500, 42700):
        try:
            s, c = socket_pair(port)
            break
        except OSError:
            pass
    try:
        woke = await writer_after_a_readers_timeout(s, c, aio.WriteSide(s))
        assert woke == ["timeout", "writer"], woke
    finally:
        s.close()
        c.close()


def test_the_engine_writes_the_uart_through_its_write_side():
    m = engine.Modem(MemUart(), board.HostNet("127.0.0.1"), "/tmp", console=lambda s: None)
    assert isinstance(m.uart_tx, aio.WriteSide) and m.uart_tx.stream is m.uart


def main():
    passed = failed = 0
    for name, fn in sorted(globals().items()):
        if not name.startswith("test_"):
            continue
        try:
            result = fn()
            if result is not None:  # an async test
                asyncio.run(result)
            passed += 1
            print("ok", name)
        except Exception as e:
            failed += 1
            print("FAIL", name)
            sys.print_exception(e)
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


sys.exit(main())
