"""The data path's buffers (firmware/databuf.py): sizes, limits, and room for the worst case.

Dual-runtime: runs under pytest on CPython and unchanged on the MicroPython VM.
"""

import databuf
import dle


def test_default_is_the_esp32_read_size():
    b = databuf.Buffers()
    assert b.chunk == databuf.CHUNK == 1024
    assert len(b.device) == len(b.peer) == 1024
    assert len(b.escaped) == 2048
    # a full datagram or segment, plus one more read, before anything must go out
    assert len(b.pending) == max(databuf.SEGMENT, databuf.UDP_PAYLOAD) + 1024


def test_chunk_limits():
    for bad in (0, -1, 16384, 1 << 20):
        try:
            databuf.Buffers(bad)
        except ValueError:
            pass
        else:
            raise AssertionError("chunk %d accepted" % bad)
    assert len(databuf.Buffers(1).device) == 1
    assert len(databuf.Buffers(16383).escaped) == 2 * 16383


def test_escaped_buffer_holds_a_chunk_of_nothing_but_specials():
    b = databuf.Buffers(64)
    for special in (0x10, 0x03):
        for i in range(64):
            b.peer[i] = special
        n = dle.escape_into(b.peer, 64, b.escaped)
        assert n == 128
        assert bytes(b.escaped[:4]) == bytes((0x10, special, 0x10, special))


def test_decoded_chunk_fits_behind_a_pending_segment():
    b = databuf.Buffers(256)
    for i in range(256):
        b.device[i] = 0x41 + i % 26  # no DLE or ETX: every byte decodes to one byte
    state = dle.Unescaper()
    off = databuf.SEGMENT - 1  # just short of a segment: the pump has not flushed yet
    k, closed, rest_at = dle.unescape_into(state, b.device, 256, b.pending, off)
    assert (k, closed, rest_at) == (256, False, 256)
    assert bytes(b.pending[off : off + 3]) == b"ABC"
