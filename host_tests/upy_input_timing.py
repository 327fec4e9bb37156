# The same device bytes must give the same serial output and the same state, however they are
# split and paced (issue 12, item 3). MicroPython only: the whole engine (firmware/modem.py) runs
# in this VM over an in-memory UART, with the unix board's real sockets on 127.0.0.1.
#
#     MICROPYPATH=firmware:boards/unix:.frozen micropython host_tests/upy_input_timing.py
#
# For each conversation the reference is "one byte at a time with a pause after each" (a slow
# typist); then it is fed all at once, split once at every point (with and without a pause at
# the cut), and split at random points with random pauses (seeded). Every run must produce the
# reference's UART output, state and the bytes a TCP peer received. Ends with "N passed, M failed".

import gc
import os
import random
import sys

import asyncio
import board
import databuf
import modem as engine
from upy_memuart import MemUart

BUFFERS = databuf.Buffers(1024)  # one set for every run: the runs must not fragment the heap

QUIET_MS = 40  # the engine is done when its output has not changed for this long
PAUSE_MS = 25  # a pause: much longer than a line takes to execute


class Peer:
    """A TCP server on 127.0.0.1 (HostNet's listening socket) that keeps what its callers send."""

    def __init__(self):
        self.received = bytearray()
        self.connections = 0
        self.net = board.HostNet()
        self.sock = None
        self.task = None

    async def start(self, port):
        for p in range(port, port + 200):  # no getsockname() on this port: try until one binds
            try:
                self.sock = self.net.listen(p)
                self.port = p
                break
            except OSError:
                pass
        self.task = asyncio.create_task(self.serve())

    async def serve(self):
        import aio

        buf = bytearray(512)
        while True:
            await aio.readable(self.sock)
            try:
                conn, _ip = self.net.accept(self.sock)
            except OSError:
                continue
            self.connections += 1
            while True:
                n = conn.readinto(buf)
                if n is None:
                    await aio.readable(conn)
                    continue
                if not n:
                    break
                self.received += buf[:n]
            conn.close()

    def close(self):
        self.task.cancel()
        self.sock.close()


def _rmtree(path):
    try:
        for name in os.listdir(path):
            os.remove(path + "/" + name)
        os.rmdir(path)
    except OSError:
        pass


_run_no = [0]
# Given by the pytest wrapper (a private temporary folder, a port range of its own); defaults
# for a run by hand.
TMP = os.getenv("MTIP_TIMING_TMP") or "/tmp/mtip-timing"
PORT_BASE = int(os.getenv("MTIP_TIMING_PORT") or "41000")


async def _settle(uart):
    seen = -1
    quiet = 0
    while quiet < QUIET_MS:
        await asyncio.sleep_ms(10)
        if len(uart.tx) == seen and not uart.rx:
            quiet += 10
        else:
            seen = len(uart.tx)
            quiet = 0


async def run_once(conversation, chunks_and_pauses, setup_lines):
    """Feed the chunks, wait until the engine is quiet; return (output, state, peer bytes)."""
    _run_no[0] += 1
    state_dir = "%s/run-%d" % (TMP, _run_no[0])
    _rmtree(state_dir)
    os.mkdir(state_dir)
    peer = Peer()
    await peer.start(PORT_BASE + (_run_no[0] * 3) % 2000)
    uart = MemUart()
    net = board.HostNet("127.0.0.1")
    m = engine.Modem(uart, net, state_dir, buffers=BUFFERS, console=lambda line: None)
    task = asyncio.create_task(m.run())
    try:
        setup = b"\r".join(setup_lines) + b"\r"  # the same for every run, output not compared
        uart.feed(setup.replace(b"PEER", b"%d" % peer.port))
        await _settle(uart)
        uart.tx[:] = b""
        for chunk, pause in chunks_and_pauses:
            uart.feed(chunk.replace(b"PEER", b"%d" % peer.port))
            if pause:
                await asyncio.sleep_ms(pause)
            else:
                await asyncio.sleep_ms(0)
        await _settle(uart)
        state = (
            m.listener is not None,
            m.session is not None,
            net.is_up(),
            m.settings.profile["E"],
            m.settings.get("TCPPORT", 1) == peer.port,
            m.settings.get("TCPPORT", 2),
        )
        out = bytes(uart.tx).replace(b"%d" % peer.port, b"PEER")
        return out, state, bytes(peer.received), peer.connections
    finally:
        task.cancel()
        m.close_listener()
        if m.session is not None:
            m.session.link.close()
        peer.close()
        await asyncio.sleep_ms(0)
        _rmtree(state_dir)
        gc.collect()


def schedules(data, rnd):
    n = len(data)
    yield "bytewise", [(data[i : i + 1], 0) for i in range(n)]
    yield "at once", [(data, 0)]
    for cut in range(1, n):
        yield "cut %d + pause" % cut, [(data[:cut], PAUSE_MS), (data[cut:], 0)]
        if cut % 3 == 0:
            yield "cut %d" % cut, [(data[:cut], 0), (data[cut:], 0)]
    for k in range(6):
        cuts = sorted(rnd.randrange(1, n) for _ in range(rnd.randrange(2, 6)))
        parts = []
        prev = 0
        for c in cuts + [n]:
            parts.append((data[prev:c], rnd.choice((0, 0, 3, PAUSE_MS))))
            prev = c
        yield "random %d %r" % (k, cuts), parts


# (name, setup lines, conversation). PEER stands for the test server's port.
SESSION_SETUP = [b"ATE0", b"AT#CONNECTIONSTART", b'AT#TCPSERV=1,"127.0.0.1"', b"AT#TCPPORT=1,PEER"]
LISTEN_SETUP = [b"ATE0", b"AT#CONNECTIONSTART", b'AT#TCPSERV=1,"127.0.0.1"', b"AT#TCPPORT=2,0"]
CONVERSATIONS = [
    # the defect of issue 12: an ETX right behind AT#LTCPSTART aborts listening
    (
        "listen, ETX",
        LISTEN_SETUP + [b"AT#TCPPORT=1,0"],
        b"AT#TCPPORT=1,39123\rAT#LTCPSTART=1\r\x03AT\r",
    ),
    (
        "listen, stop, ETX",
        LISTEN_SETUP,
        b"AT#TCPPORT=1,39124\rAT#LTCPSTART=1\rAT#LTCPSTOP=1\r\x03AT\r",
    ),
    ("listen, ETX in a line", LISTEN_SETUP, b"AT#TCPPORT=1,39125\rAT#LTCPSTART=1\rAT+CS\x03AT\r"),
    ("ETX in command mode", [b"ATE0"], b"\x03\x03\x03ATE1\rAT\x08\x7fAT\rA/\x03at\n"),
    (
        "session, data, ETX, command",
        SESSION_SETUP,
        b"AT#OTCP=1\rhello\x10\x03world\x10\x10\x03ATE1\rAT#VSTATE\r",
    ),
    ("semicolons and errors", [b"ATE0"], b"AT#TCPPORT=2,7;#TCPPORT=1,70000\rAT+CMEE=1;+FOO\rAT\r"),
]


def main(filters):
    passed = failed = 0
    try:
        os.mkdir(TMP)
    except OSError:
        pass
    random.seed(12)
    rnd = random
    for name, setup, data in CONVERSATIONS:
        if filters and not any(f in name for f in filters):
            continue
        ref = asyncio.run(
            run_once(data, [(data[i : i + 1], PAUSE_MS) for i in range(len(data))], setup)
        )
        bad = []
        for label, plan in schedules(data, rnd):
            got = asyncio.run(run_once(data, plan, setup))
            if got != ref:
                bad.append((label, got))
        if bad:
            failed += 1
            print(
                "FAIL %s: %d schedules differ from the paced reference %r" % (name, len(bad), ref)
            )
            for label, got in bad[:3]:
                print("  %s: %r" % (label, got))
        else:
            passed += 1
            print("ok %s (%r)" % (name, ref[0][:120]))
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


sys.exit(main(sys.argv[1:]))
