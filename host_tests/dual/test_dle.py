"""DLE/ETX codec (firmware/dle.py), spec §7 DLEMODE 1.

Dual-runtime: runs under pytest on CPython and unchanged on the MicroPython VM. Plain asserts
only; no pytest import, no `random` (its API differs), no dict ordering, no bytes.translate,
no `del ba[a:b]`, no stepped bytes slices.
"""

import dle

D = 0x10  # DLE
E = 0x03  # ETX
DLE = b"\x10"
ETX = b"\x03"


# --- helpers -------------------------------------------------------------------------------


def lcg_bytes(n, seed, special_every=0):
    """Deterministic pseudo-random bytes (same on both runtimes).

    With special_every=k, roughly one byte in k is forced to DLE or ETX so escaping and the
    decoder's slow path get exercised densely.
    """
    out = bytearray(n)
    x = seed & 0x7FFFFFFF
    for i in range(n):
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        b = (x >> 16) & 0xFF
        if special_every and ((x >> 8) % special_every) == 0:
            b = D if (x >> 4) & 1 else E
        out[i] = b
    return bytes(out)


def lcg_cuts(n, seed, max_chunk):
    """Deterministic chunk lengths (1..max_chunk, plus some empty chunks) summing to n."""
    cuts = []
    x = seed & 0x7FFFFFFF
    left = n
    while left > 0:
        x = (x * 1103515245 + 12345) & 0x7FFFFFFF
        k = (x >> 16) % (max_chunk + 1)  # 0 gives an empty chunk
        if k > left:
            k = left
        cuts.append(k)
        left -= k
    return cuts


def split(data, sizes):
    chunks = []
    pos = 0
    for k in sizes:
        chunks.append(data[pos : pos + k])
        pos += k
    if pos < len(data):
        chunks.append(data[pos:])
    return chunks


def feed_all(chunks, u=None):
    """Feed chunks like the engine does: once closed, every later byte is AT input (rest)."""
    if u is None:
        u = dle.Unescaper()
    payload = []
    rest = []
    closed = False
    for c in chunks:
        if closed:
            rest.append(c)
            continue
        p, closed, r = u.feed(c)
        payload.append(bytes(p))
        if closed:
            rest.append(bytes(r))
    return b"".join(payload), closed, b"".join(rest)


def bytewise(data):
    return [data[i : i + 1] for i in range(len(data))]


def ref_decode(data):
    """Per-byte reference decoder: the behaviour spec §7 describes (lenient DLE)."""
    out = bytearray()
    pending = False
    for i in range(len(data)):
        b = data[i]
        if pending:
            out.append(b)
            pending = False
        elif b == D:
            pending = True
        elif b == E:
            return bytes(out), True, data[i + 1 :]
        else:
            out.append(b)
    return bytes(out), False, b""


def ref_escape(data):
    out = bytearray()
    for b in data:
        if b == D or b == E:
            out.append(D)
        out.append(b)
    return bytes(out)


def is_bytes_like(x):
    return isinstance(x, (bytes, bytearray))


def check_triple(res, payload, closed, rest):
    assert isinstance(res, tuple) and len(res) == 3, repr(res)
    assert bytes(res[0]) == payload, repr((res, payload))
    assert res[1] is closed, repr((res, closed))
    assert bytes(res[2]) == rest, repr((res, rest))


# --- escape ----------------------------------------------------------------------------------


def test_escape_every_byte_value():
    for b in range(256):
        got = dle.escape(bytes([b]))
        want = bytes([D, b]) if b in (D, E) else bytes([b])
        assert bytes(got) == want, repr((b, got))


def test_escape_all_values_at_once():
    data = bytes(range(256))
    got = dle.escape(data)
    assert bytes(got) == ref_escape(data)
    assert len(got) == 258


def test_escape_empty():
    assert bytes(dle.escape(b"")) == b""
    assert bytes(dle.escape(bytearray())) == b""


def test_escape_plain_unchanged():
    data = b"hello, world\r\n" + bytes(range(0x20, 0x7F))
    assert bytes(dle.escape(data)) == data


def test_escape_runs():
    for n in range(1, 9):
        assert bytes(dle.escape(DLE * n)) == DLE * (2 * n)
        assert bytes(dle.escape(ETX * n)) == b"\x10\x03" * n
        assert bytes(dle.escape((DLE + ETX) * n)) == b"\x10\x10\x10\x03" * n
        assert bytes(dle.escape((ETX + DLE) * n)) == b"\x10\x03\x10\x10" * n


def test_escape_mixed():
    assert bytes(dle.escape(b"a\x10b\x03c")) == b"a\x10\x10b\x10\x03c"
    assert bytes(dle.escape(b"\x03\x10")) == b"\x10\x03\x10\x10"
    assert bytes(dle.escape(b"\x10\x03")) == b"\x10\x10\x10\x03"


def test_escape_bytearray_input():
    got = dle.escape(bytearray(b"a\x10b\x03c"))
    assert is_bytes_like(got)
    assert bytes(got) == b"a\x10\x10b\x10\x03c"
    # no control bytes: content unchanged, still bytes-like
    got = dle.escape(bytearray(b"plain"))
    assert is_bytes_like(got)
    assert bytes(got) == b"plain"
    # only one kind of control byte
    assert bytes(dle.escape(bytearray(b"\x03"))) == b"\x10\x03"
    assert bytes(dle.escape(bytearray(b"\x10"))) == b"\x10\x10"
    data = lcg_bytes(2000, 7, special_every=5)
    assert bytes(dle.escape(bytearray(data))) == ref_escape(data)


def test_escape_memoryview_input():
    # a slice of a readinto() buffer: `DLE in memoryview` is False on both runtimes (it compares
    # ints), so escape() must not rely on it for memoryviews
    buf = bytearray(b"A\x10B\x03C....")
    got = dle.escape(memoryview(buf)[:5])
    assert is_bytes_like(got)
    assert bytes(got) == b"A\x10\x10B\x10\x03C"
    assert bytes(dle.escape(memoryview(b"plain"))) == b"plain"


def test_escape_does_not_mutate_input():
    ba = bytearray(b"\x10x\x03")
    dle.escape(ba)
    assert ba == bytearray(b"\x10x\x03")


def test_escape_matches_reference_on_pseudo_random():
    for seed in (1, 2, 3, 99):
        data = lcg_bytes(3000, seed)
        assert bytes(dle.escape(data)) == ref_escape(data)
        data = lcg_bytes(500, seed, special_every=3)
        assert bytes(dle.escape(data)) == ref_escape(data)


# --- decode: basics ----------------------------------------------------------------------------


def test_decode_every_byte_value_escaped():
    for b in range(256):
        u = dle.Unescaper()
        check_triple(u.feed(dle.escape(bytes([b]))), bytes([b]), False, b"")
        assert u.pending_dle is False
        # embedded between plain bytes too
        u = dle.Unescaper()
        check_triple(
            u.feed(b"<" + dle.escape(bytes([b])) + b">"), b"<" + bytes([b]) + b">", False, b""
        )


def test_decode_all_values_escaped_at_once_and_bytewise():
    data = bytes(range(256)) + bytes(range(255, -1, -1))
    enc = dle.escape(data)
    check_triple(dle.Unescaper().feed(enc), data, False, b"")
    assert feed_all(bytewise(enc)) == (data, False, b"")


def test_decode_dle_any_byte_pairs_every_value():
    # DLE followed by any byte value yields that byte (DLE/ETX escaped, others lenient)
    for b in range(256):
        check_triple(dle.Unescaper().feed(bytes([D, b])), bytes([b]), False, b"")


def test_decode_empty_chunk():
    u = dle.Unescaper()
    check_triple(u.feed(b""), b"", False, b"")
    assert u.pending_dle is False


def test_decode_plain():
    check_triple(dle.Unescaper().feed(b"hello"), b"hello", False, b"")


# --- decode: DLE at a chunk end ---------------------------------------------------------------


def test_dle_at_chunk_end_then_etx():
    u = dle.Unescaper()
    check_triple(u.feed(b"ab\x10"), b"ab", False, b"")
    assert u.pending_dle is True
    check_triple(u.feed(b"\x03cd"), b"\x03cd", False, b"")  # escaped ETX, not a close
    assert u.pending_dle is False


def test_dle_at_chunk_end_then_lone_etx_after_escaped_etx():
    u = dle.Unescaper()
    u.feed(b"\x10")
    check_triple(u.feed(b"\x03x\x03tail"), b"\x03x", True, b"tail")


def test_dle_at_chunk_end_then_dle():
    u = dle.Unescaper()
    check_triple(u.feed(b"ab\x10"), b"ab", False, b"")
    check_triple(u.feed(b"\x10cd"), b"\x10cd", False, b"")
    assert u.pending_dle is False


def test_dle_at_chunk_end_then_dle_then_lone_etx():
    u = dle.Unescaper()
    u.feed(b"\x10")
    check_triple(u.feed(b"\x10\x03rest"), b"\x10", True, b"rest")


def test_dle_at_chunk_end_then_dle_at_chunk_end():
    # chunk 2 = DLE(pairs with chunk 1's) + DLE (new pending)
    u = dle.Unescaper()
    u.feed(b"\x10")
    check_triple(u.feed(b"\x10\x10"), b"\x10", False, b"")
    assert u.pending_dle is True
    check_triple(u.feed(b"\x03"), b"\x03", False, b"")


def test_dle_at_chunk_end_then_other():
    u = dle.Unescaper()
    check_triple(u.feed(b"ab\x10"), b"ab", False, b"")
    check_triple(u.feed(b"Xcd"), b"Xcd", False, b"")  # lenient: DLE dropped, X kept
    assert u.pending_dle is False


def test_dle_at_chunk_end_then_single_byte_chunks():
    for b in range(256):
        u = dle.Unescaper()
        u.feed(b"\x10")
        check_triple(u.feed(bytes([b])), bytes([b]), False, b"")
        assert u.pending_dle is False


def test_dle_at_chunk_end_then_empty():
    u = dle.Unescaper()
    u.feed(b"ab\x10")
    check_triple(u.feed(b""), b"", False, b"")
    assert u.pending_dle is True  # an empty chunk must not lose the pending DLE
    check_triple(u.feed(b""), b"", False, b"")
    check_triple(u.feed(b"\x03z"), b"\x03z", False, b"")


def test_lone_dle_chunk():
    u = dle.Unescaper()
    check_triple(u.feed(b"\x10"), b"", False, b"")
    assert u.pending_dle is True


def test_reset_drops_pending_dle():
    u = dle.Unescaper()
    u.feed(b"\x10")
    u.reset()
    assert u.pending_dle is False
    check_triple(u.feed(b"\x03after"), b"", True, b"after")


# --- decode: lone ETX --------------------------------------------------------------------------


def test_lone_etx_closes_with_payload_and_rest():
    check_triple(dle.Unescaper().feed(b"payload\x03AT\r"), b"payload", True, b"AT\r")


def test_lone_etx_after_escapes():
    check_triple(
        dle.Unescaper().feed(b"a\x10\x10b\x10\x03c\x03AT#VSTATE\r"),
        b"a\x10b\x03c",
        True,
        b"AT#VSTATE\r",
    )


def test_etx_first_byte():
    check_triple(dle.Unescaper().feed(b"\x03rest"), b"", True, b"rest")
    check_triple(dle.Unescaper().feed(b"\x03"), b"", True, b"")


def test_etx_last_byte():
    check_triple(dle.Unescaper().feed(b"data\x03"), b"data", True, b"")


def test_rest_is_raw_not_unescaped():
    # bytes after the close are AT input: returned verbatim, DLE and ETX included
    check_triple(dle.Unescaper().feed(b"x\x03\x10\x03\x10y\x03"), b"x", True, b"\x10\x03\x10y\x03")


def test_three_etx_close():
    # C1 sends three ETX to close: the first closes, the other two are rest
    check_triple(dle.Unescaper().feed(b"\x03\x03\x03"), b"", True, b"\x03\x03")


def test_etx_close_in_a_later_chunk():
    u = dle.Unescaper()
    check_triple(u.feed(b"one"), b"one", False, b"")
    check_triple(u.feed(b"two\x03three"), b"two", True, b"three")


# --- decode: lenient DLE + other --------------------------------------------------------------


def test_dle_other_byte_lenient():
    check_triple(dle.Unescaper().feed(b"a\x10bc"), b"abc", False, b"")
    check_triple(dle.Unescaper().feed(b"\x10A"), b"A", False, b"")
    check_triple(dle.Unescaper().feed(b"\x10\x00\x10\xff"), b"\x00\xff", False, b"")


def test_dle_other_then_lone_etx():
    check_triple(dle.Unescaper().feed(b"\x10A\x03B"), b"A", True, b"B")


def test_c5_lone_dle_is_not_a_close():
    # C5 "closes" by sending a lone DLE: it only sets the pending state, nothing is lost
    u = dle.Unescaper()
    check_triple(u.feed(b"data\x10"), b"data", False, b"")
    assert u.pending_dle is True


# --- decode: DLE DLE ETX and runs --------------------------------------------------------------


def test_dle_dle_etx_closes():
    # escaped DLE, then a lone ETX
    check_triple(dle.Unescaper().feed(b"\x10\x10\x03"), b"\x10", True, b"")
    check_triple(dle.Unescaper().feed(b"a\x10\x10\x03b"), b"a\x10", True, b"b")


def test_dle_dle_dle_etx_is_escaped_etx():
    check_triple(dle.Unescaper().feed(b"\x10\x10\x10\x03"), b"\x10\x03", False, b"")


def test_runs_of_dle():
    for n in range(0, 12):
        u = dle.Unescaper()
        k = n // 2
        check_triple(u.feed(DLE * n), DLE * k, False, b"")
        assert u.pending_dle is (n % 2 == 1), n
        # the next byte is ETX: escaped when a DLE is pending, a close otherwise
        if n % 2:
            check_triple(u.feed(ETX + b"z"), ETX + b"z", False, b"")
        else:
            check_triple(u.feed(ETX + b"z"), b"", True, b"z")


def test_runs_of_dle_then_etx_in_one_chunk():
    for n in range(0, 12):
        data = DLE * n + ETX + b"tail"
        if n % 2:
            want = (DLE * (n // 2) + ETX + b"tail", False, b"")
        else:
            want = (DLE * (n // 2), True, b"tail")
        check_triple(dle.Unescaper().feed(data), want[0], want[1], want[2])


def test_runs_of_escaped_etx():
    for n in range(1, 10):
        check_triple(dle.Unescaper().feed(b"\x10\x03" * n), ETX * n, False, b"")
        check_triple(dle.Unescaper().feed(b"\x10\x03" * n + ETX), ETX * n, True, b"")
        check_triple(dle.Unescaper().feed(b"\x10\x03" * n + ETX * n), ETX * n, True, ETX * (n - 1))


def test_alternating_dle_etx():
    # DLE ETX DLE ETX ... = escaped ETXs; ETX DLE ETX ... = immediate close
    check_triple(dle.Unescaper().feed(b"\x10\x03\x10\x03\x10"), b"\x03\x03", False, b"")
    check_triple(dle.Unescaper().feed(b"\x03\x10\x03\x10"), b"", True, b"\x10\x03\x10")


# --- chunking equivalence ----------------------------------------------------------------------


def test_byte_at_a_time_equals_whole_escaped():
    for seed in (11, 12, 13):
        data = lcg_bytes(1500, seed, special_every=4)
        enc = dle.escape(data)
        whole = dle.Unescaper().feed(enc)
        check_triple(whole, data, False, b"")
        assert feed_all(bytewise(enc)) == (data, False, b"")


def test_byte_at_a_time_equals_whole_raw():
    # raw (not escaped) data: lone ETXs and lenient DLEs; compare against the reference too
    for seed in range(20, 40):
        data = lcg_bytes(300, seed, special_every=6)
        want = ref_decode(data)
        whole = dle.Unescaper().feed(data)
        check_triple(whole, want[0], want[1], want[2])
        assert feed_all(bytewise(data)) == want, seed


def test_pseudo_random_chunkings_roundtrip():
    for seed in range(1, 30):
        data = lcg_bytes(700, seed * 7, special_every=(seed % 5) + 1)
        enc = dle.escape(data)
        chunks = split(enc, lcg_cuts(len(enc), seed, 9 + seed))
        assert b"".join(chunks) == bytes(enc)
        assert feed_all(chunks) == (data, False, b"")
        # with a close and AT input after it
        tail = b"AT\r\x03\x10x"
        stream = bytes(enc) + ETX + tail
        chunks = split(stream, lcg_cuts(len(stream), seed + 1000, 13))
        assert feed_all(chunks) == (data, True, tail)


def test_exhaustive_small_inputs_all_chunkings():
    # every string of length <= 5 over {DLE, ETX, 'a'}, every way to cut it, vs the reference
    alphabet = (D, E, 0x61)
    for n in range(0, 6):
        for idx in range(3**n):
            s = bytearray(n)
            v = idx
            for i in range(n):
                s[i] = alphabet[v % 3]
                v //= 3
            s = bytes(s)
            want = ref_decode(s)
            for mask in range(1 << max(n - 1, 0)):
                chunks = []
                start = 0
                for i in range(1, n):
                    if mask & (1 << (i - 1)):
                        chunks.append(s[start:i])
                        start = i
                chunks.append(s[start:])
                got = feed_all(chunks)
                assert got == want, repr((s, chunks, got, want))


def test_empty_chunks_interleaved():
    data = b"a\x10\x10b\x10\x03c\x10"
    enc_tail = b"\x03d\x03rest"
    chunks = []
    for i in range(len(data)):
        chunks.append(data[i : i + 1])
        chunks.append(b"")
    chunks.append(b"")
    chunks.append(enc_tail)
    assert feed_all(chunks) == (b"a\x10b\x03c\x03d", True, b"rest")


# --- types -------------------------------------------------------------------------------------


def test_returned_types_are_bytes_like():
    samples = [b"", b"plain", b"\x10", b"\x03", b"a\x10\x10b", b"x\x03y", b"\x10\x10\x03z"]
    for s in samples:
        assert is_bytes_like(dle.escape(s)), repr(s)
        p, closed, rest = dle.Unescaper().feed(s)
        assert is_bytes_like(p), repr(s)
        assert is_bytes_like(rest), repr(s)
        assert closed is True or closed is False
    u = dle.Unescaper()
    u.feed(b"\x10")
    p, closed, rest = u.feed(b"abc")
    assert is_bytes_like(p) and is_bytes_like(rest)


def test_feed_bytearray_chunk():
    # a chunk straight from a readinto() buffer
    u = dle.Unescaper()
    p, closed, rest = u.feed(bytearray(b"a\x10\x10b\x03AT"))
    assert is_bytes_like(p) and is_bytes_like(rest)
    assert (bytes(p), closed, bytes(rest)) == (b"a\x10b", True, b"AT")
    u = dle.Unescaper()
    p, closed, rest = u.feed(bytearray(b"plain"))
    assert is_bytes_like(p) and bytes(p) == b"plain" and closed is False


def test_module_constants():
    assert dle.DLE == b"\x10"
    assert dle.ETX == b"\x03"
