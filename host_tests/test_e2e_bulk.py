"""End to end, bulk data through the data-mode bridge on the MicroPython VM: 1 MiB each way and
both at once, DLEMODE 0 and 1, byte-exact; slow readers on either side with a small VM heap;
data in flight when a session ends."""

import socket
import time

import pytest

from databuf import CHUNK as ESP32_CHUNK  # what boards/esp32 reads at once
from harness import (
    CLOSED,
    OK,
    WAITING,
    EmulatedModem,
    Thread,
    chunks,
    cme,
    connect,
    dle_escape,
    first_difference,
    free_port,
    modem,  # noqa: F401 - fixture
    payload,
    recv_exact,
    recv_until_eof,
    reset,
)

MiB = 1 << 20
# The firmware as .mpy needs 96 KiB for the heap benchmark's full probe (docs/benchmarks.md);
# this leaves it 16 KiB more and no room to buffer a transfer: the VM dies with MemoryError if
# the bridge buffers instead of applying backpressure, or if the firmware grows.
SMALL_HEAP = "112k"


@pytest.fixture
def small_modem(tmp_path):
    m = EmulatedModem(tmp_path, heap=SMALL_HEAP, mpy=True, chunk=ESP32_CHUNK)
    try:
        m.connection_start()
        yield m
    finally:
        m.close()


def open_session(m, dlemode, rcvbuf=None):
    p = free_port()
    m.listen(p, dlemode=dlemode, txdelay=0)
    peer = connect(p, rcvbuf=rcvbuf)
    m.expect_exact(WAITING)
    return peer


def wire(data, dlemode):
    return dle_escape(data) if dlemode else data


def device_writer(m, data, seed, progress=None):
    for c in chunks(data, seed):
        m.send(c)
        if progress is not None:
            progress[0] += len(c)


def peer_writer(sock, data, seed, progress=None):
    for c in chunks(data, seed, 1, 16384):
        sock.sendall(c)
        if progress is not None:
            progress[0] += len(c)


def check_same(got, expected, what):
    assert got == expected, what + ": " + first_difference(got, expected)


def end_session(m, peer, dlemode):
    """DLEMODE 1: the device closes with ETX.  DLEMODE 0: the peer closes."""
    if dlemode:
        m.send(b"\x03")
        m.expect_exact(CLOSED + OK, timeout=10)
        assert recv_until_eof(peer, timeout=10) == b""
    else:
        peer.shutdown(socket.SHUT_WR)
        m.expect_exact(CLOSED, timeout=10)
        assert recv_until_eof(peer, timeout=10) == b""
    peer.close()
    m.check("AT", OK)


@pytest.mark.parametrize("dlemode", [0, 1])
@pytest.mark.parametrize("direction", ["device_to_peer", "peer_to_device", "both"])
def test_one_mib(modem, dlemode, direction):  # noqa: F811
    m = modem
    peer = open_session(m, dlemode)
    up = payload(MiB, seed=1 + dlemode)
    down = payload(MiB, seed=11 + dlemode)
    threads = []
    if direction in ("device_to_peer", "both"):
        threads.append(Thread(device_writer, m, wire(up, dlemode), 3))
    if direction in ("peer_to_device", "both"):
        threads.append(Thread(peer_writer, peer, down, 4))
    for t in threads:
        t.start()
    if direction == "both":
        reader = Thread(recv_exact, peer, len(up), 60, m)
        reader.start()
        got = m.read_exact(len(wire(down, dlemode)), timeout=60)
        check_same(got, wire(down, dlemode), "device received")
        check_same(reader.join(60), up, "peer received")
    elif direction == "device_to_peer":
        check_same(recv_exact(peer, len(up), timeout=60, watch=m), up, "peer received")
    else:
        got = m.read_exact(len(wire(down, dlemode)), timeout=60)
        check_same(got, wire(down, dlemode), "device received")
    for t in threads:
        t.join(60)
    m.expect_silence(0.1)
    end_session(m, peer, dlemode)


def test_slow_peer_reader_small_heap(small_modem):
    """The peer stops reading: the device's writes must stall (backpressure reaches the pty),
    nothing is lost and the VM's 128k heap does not overflow."""
    m = small_modem
    peer = open_session(m, 1, rcvbuf=4096)
    data = payload(MiB, seed=21)
    progress = [0]
    writer = Thread(device_writer, m, dle_escape(data), 22, progress)
    writer.start()
    time.sleep(1.5)
    stalled_at = progress[0]
    assert stalled_at < len(dle_escape(data)), "the device wrote 1 MiB while nobody read it"
    assert m.alive(), m.info()
    got = bytearray()
    while len(got) < len(data):
        got += recv_exact(peer, min(4096, len(data) - len(got)), timeout=20, watch=m)
        if len(got) < 256 * 1024:
            time.sleep(0.001)  # slow at first, then drain
    check_same(bytes(got), data, "peer received")
    writer.join(30)
    end_session(m, peer, 1)


def test_slow_device_reader_small_heap(small_modem):
    """The device stops reading the serial port: the peer's sends must stall (TCP flow control),
    nothing is lost and the heap stays bounded."""
    m = small_modem
    peer = open_session(m, 1)
    peer.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16384)  # no autotuned megabytes
    data = payload(MiB, seed=31)
    progress = [0]
    writer = Thread(peer_writer, peer, data, 32, progress)
    writer.start()
    time.sleep(1.5)
    assert progress[0] < len(data), "the peer sent 1 MiB while the device read nothing"
    assert m.alive(), m.info()
    expected = dle_escape(data)
    got = bytearray()
    while len(got) < len(expected):
        got += m.read_exact(min(4096, len(expected) - len(got)), timeout=20)
        if len(got) < 256 * 1024:
            time.sleep(0.001)
    check_same(bytes(got), expected, "device received")
    writer.join(30)
    end_session(m, peer, 1)


def test_data_in_flight_at_device_etx_close(modem):  # noqa: F811
    m = modem
    peer = open_session(m, 1)
    data = payload(256 * 1024, seed=41)
    writer = Thread(device_writer, m, dle_escape(data) + b"\x03", 42)
    writer.start()  # payload and the closing ETX, as fast as the pty takes them
    got = recv_until_eof(peer, timeout=30, watch=m)
    check_same(got, data, "peer received before EOF")
    writer.join(30)
    m.expect_exact(CLOSED + OK, timeout=10)
    m.expect_silence(0.2)
    m.check("AT", OK)


@pytest.mark.parametrize("dlemode", [1, 0])
def test_data_in_flight_at_peer_fin(modem, dlemode):  # noqa: F811
    m = modem
    peer = open_session(m, dlemode)
    data = payload(256 * 1024, seed=51)
    peer.sendall(data)
    peer.close()  # FIN right behind the data
    expected = wire(data, dlemode) + (b"\x03" if dlemode else b"") + CLOSED
    m.expect_exact(expected, timeout=30)
    m.expect_silence(0.2)
    m.check("AT", OK)


def test_peer_reset_mid_transfer(modem):  # noqa: F811
    m = modem
    peer = open_session(m, 1)
    data = payload(512 * 1024, seed=61)
    peer.setblocking(False)
    sent = 0
    try:
        while sent < len(data):
            sent += peer.send(data[sent : sent + 65536])
    except BlockingIOError:
        pass
    reset(peer)  # RST with data still in flight
    got = m.read_until(cme(37966), timeout=30)
    tail = b"\x03" + cme(37966)
    assert got.endswith(tail), "no ETX before #CME ERROR: 37966: %r" % got[-40:]
    delivered = got[: -len(tail)]
    expected = dle_escape(data)
    assert expected.startswith(delivered), (
        "delivered bytes are not a prefix of what was sent: "
        + (first_difference(delivered, expected[: len(delivered)]))
    )
    m.expect_silence(0.2)
    m.check("AT", OK)
    # and the modem takes a new session
    peer = open_session(m, 1)
    peer.sendall(b"again")
    m.expect_exact(b"again")
    end_session(m, peer, 1)
