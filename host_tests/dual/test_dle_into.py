"""The data path's codec variants (firmware/dle.py escape_into / unescape_into): the portable
loops (dle_portable.py) and, on MicroPython, the native (viper) kernels compiled from
dle_native.py, checked against a per-byte reference.

Dual-runtime: runs under pytest on CPython and unchanged on the MicroPython VM.
"""

import dle
import dle_portable  # only imported by dle.py where the native kernels cannot be compiled
from test_dle import feed_all, ref_escape

SYMBOLS = (0x10, 0x03, 0x61)


def sequences(length):
    if length == 0:
        yield b""
        return
    for head in sequences(length - 1):
        for b in SYMBOLS:
            yield head + bytes((b,))


def _native_variant(word_stores):
    """dle_native's kernels compiled with byte or word stores, wrapped like dle's own."""
    import sys

    import dle_native

    kernels = dle_native.compile_native(word_stores)
    del sys.modules["dle_native"]  # as dle.py leaves it
    escape, unescape_kernel = kernels

    def unescape(state, src, n, dst, off):
        saved = dle._unescape_native
        dle._unescape_native = unescape_kernel
        try:
            return dle._unescape_into_native(state, src, n, dst, off)
        finally:
            dle._unescape_native = saved

    return escape, unescape


def implementations():
    """(escape, unescape) pairs: the portable ones, and where viper exists the ones dle uses,
    plus both store variants of the native kernels (the ESP32 takes the byte stores)."""
    pairs = [(dle_portable.escape_into, dle_portable.unescape_into)]
    if dle._unescape_native is not None:
        pairs.append((dle.escape_into, dle.unescape_into))
        pairs.append(_native_variant(False))
        pairs.append(_native_variant(True))
    return pairs


def decode_in_two(unescape, data, cut):
    """Like test_dle.feed_all: once closed, every later byte is the rest (AT input)."""
    state = dle.Unescaper()
    out = bytearray(len(data) + 2)
    total = 0
    first, second = data[:cut], data[cut:]
    for chunk, after in ((first, second), (second, b"")):
        src = bytearray(chunk + b"zz")  # bytes past n must be ignored
        k, closed, rest_at = unescape(state, src, len(chunk), out, total)
        total += k
        if closed:
            return bytes(out[:total]), True, bytes(src[rest_at : len(chunk)]) + after
    return bytes(out[:total]), False, b""


def test_escape_every_short_sequence():
    for escape, _unescape in implementations():
        for length in range(6):
            for data in sequences(length):
                dst = bytearray(2 * length + 1)
                k = escape(bytearray(data), length, dst)
                assert bytes(dst[:k]) == ref_escape(data), (escape, data)


def test_unescape_every_short_sequence_and_cut():
    for _escape, unescape in implementations():
        for length in range(6):
            for data in sequences(length):
                for cut in range(length + 1):
                    expected = feed_all([data[:cut], data[cut:]])
                    got = decode_in_two(unescape, data, cut)
                    assert got == expected, (unescape, data, cut, got, expected)


def test_every_byte_value_round_trips():
    data = bytearray(bytes(range(256)) * 4)
    for escape, unescape in implementations():
        wire = bytearray(2 * len(data))
        k = escape(data, len(data), wire)
        assert k == len(data) + 8  # four DLE and four ETX, each escaped
        out = bytearray(len(data))
        count, closed, _rest = unescape(dle.Unescaper(), wire, k, out, 0)
        assert not closed and count == len(data) and out == data


def test_lone_etx_reports_where_the_rest_starts():
    for _escape, unescape in implementations():
        src = bytearray(b"ab\x10\x03c\x03AT\r")
        out = bytearray(16)
        count, closed, rest_at = unescape(dle.Unescaper(), src, len(src), out, 3)
        assert (count, closed) == (4, True)
        assert bytes(out[3:7]) == b"ab\x03c"
        assert bytes(src[rest_at:]) == b"AT\r"


def test_pending_dle_survives_an_empty_chunk():
    for _escape, unescape in implementations():
        state = dle.Unescaper()
        out = bytearray(8)
        assert unescape(state, bytearray(b"x\x10"), 2, out, 0) == (1, False, 2)
        assert state.pending_dle
        assert unescape(state, bytearray(), 0, out, 1) == (0, False, 0)
        assert state.pending_dle
        assert unescape(state, bytearray(b"\x03y"), 2, out, 1) == (2, False, 2)
        assert bytes(out[:3]) == b"x\x03y" and not state.pending_dle


def test_native_kernels_exist_on_micropython():
    import sys

    if sys.implementation.name == "micropython":
        assert dle._unescape_native is not None
        assert dle.escape_into is not dle_portable.escape_into
        assert dle.unescape_into is not dle_portable.unescape_into
        assert "dle_native" not in sys.modules  # dropped: its source text is not kept
    else:
        assert dle._unescape_native is None
        assert dle.escape_into is dle_portable.escape_into
        assert dle.unescape_into is dle_portable.unescape_into


def test_mixed_buffers_at_every_output_alignment():
    # Specials shift the output against the input, so clean words after them are stored at
    # every alignment: 300 pseudo-random buffers (a fixed LCG), 10% DLE/ETX, up to 70 bytes.
    seed = 12345
    for _ in range(300):
        seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
        length = seed % 71
        data = bytearray(length)
        for i in range(length):
            seed = (seed * 1103515245 + 12345) & 0x7FFFFFFF
            r = seed % 20
            data[i] = 0x10 if r == 0 else 0x03 if r == 1 else 0x20 + seed % 90
        expected_wire = ref_escape(bytes(data))
        for escape, unescape in implementations():
            wire = bytearray(2 * length + 4)
            k = escape(data, length, wire)
            assert bytes(wire[:k]) == expected_wire, (escape, bytes(data))
            out = bytearray(length + 4)
            count, closed, _rest = unescape(dle.Unescaper(), wire, k, out, 1)
            assert (count, closed) == (length, False) and out[1 : 1 + length] == data
