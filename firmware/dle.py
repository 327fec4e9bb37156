"""DLE/ETX framing of the Multi-Tech data mode (DLEMODE 1).

Device -> modem: a lone ETX (0x03) asks to close the session; DLE (0x10) escapes the next byte.
Modem -> device: payload DLE and ETX are sent as DLE DLE and DLE ETX.

Both directions work on whole chunks with C-speed bytes methods (`find`, `split`, `join`,
`replace`, `count`, memoryview slices); no Python loop runs per byte. Results are bytes-like:
`bytes` or `bytearray` (a `bytearray` is built where that saves the VM from hashing a new
`bytes` object, which costs about as much as a scan of it). tools/bench_codec.py measures both.
"""

DLE = b"\x10"
ETX = b"\x03"
_DLE_DLE = b"\x10\x10"
_DLE_ETX = b"\x10\x03"
# join() separators: a bytearray separator makes join() build a bytearray (never mutated).
_JOIN_DLE_DLE = bytearray(_DLE_DLE)
_JOIN_DLE_ETX = bytearray(_DLE_ETX)
_JOIN_EMPTY = bytearray()
# Where the first DLE (ETX) is followed by _DENSE or more of them within 32 bytes, the chunk is
# "dense" (1 byte in 4 or more is one of them) and takes the replace()-based path.
_DENSE = 8
# Placeholder candidates for an escaped DLE on the dense path (one absent from the chunk is used).
_PLACEHOLDERS = (b"\x00", b"\xff", b"\x01", b"\xfe", b"\x02", b"\x80")


def escape(data):
    """Return `data` with every DLE doubled and every ETX preceded by a DLE."""
    if isinstance(data, memoryview):  # a memoryview has no find(); `in` would compare ints
        data = bytearray(data)
    # split + join: one pass in C (bytearray pieces are not hashed); replace() instead where
    # the byte is dense, as it makes no object per occurrence
    at = data.find(DLE)
    if at >= 0:
        end = at + 32
        if data.count(DLE, at, end) >= _DENSE:
            data = bytearray(data).replace(DLE, _DLE_DLE)
        else:
            data = _JOIN_DLE_DLE.join(bytearray(data).split(DLE))
    at = data.find(ETX)
    if at >= 0:
        end = at + 32
        if data.count(ETX, at, end) >= _DENSE:
            data = bytearray(data).replace(ETX, _DLE_ETX)
        else:
            data = _JOIN_DLE_ETX.join(data.split(ETX))
    return data


class Unescaper:
    """Streaming decoder for what the device sends in DLE mode.

    `feed(chunk)` returns `(payload, closed, rest)`: the unescaped payload, whether a lone ETX
    (close request) was found, and the raw bytes that followed it (AT input again). A DLE at the
    end of a chunk pairs with the first byte of the next one. A DLE followed by any byte other
    than DLE or ETX is dropped and the byte kept (real clients escape inconsistently).
    """

    def __init__(self):
        self.pending_dle = False

    def reset(self):
        self.pending_dle = False

    def feed(self, data):
        # Fast path, for a chunk with no pending DLE, no lone ETX and few escapes: check that
        # every ETX follows a DLE that follows a non-DLE, then split at the DLEs (one C pass)
        # and join the pieces: each piece after a DLE starts with the escaped byte, except that
        # an escaped DLE leaves an empty piece, which becomes a DLE (and the piece after it is
        # plain). Anything else goes to `_feed_loop`. (Few locals on purpose: a MicroPython
        # frame with more than about 11 slots is allocated on the heap at every call.)
        if self.pending_dle:
            return self._feed_loop(data)
        find = data.find
        e = find(DLE)
        if e < 0:  # no DLE: plain payload, perhaps up to a lone ETX
            e = find(ETX)
            if e < 0:
                return data, False, b""
            return data[:e], True, data[e + 1 :]
        n = e + 32
        if data.count(DLE, e, n) >= _DENSE:
            return self._feed_loop(data)
        e = find(ETX)
        while e >= 0:
            if e == 0 or data[e - 1] != 0x10 or (e > 1 and data[e - 2] == 0x10):
                return self._feed_loop(data)  # a lone ETX, or DLE DLE ETX (which it may be)
            e = find(ETX, e + 1)
        parts = data.split(DLE)
        n = len(parts)
        e = 1
        while e < n:
            if parts[e]:  # starts with the escaped byte
                e += 1
            else:  # an escaped DLE; the next piece is plain
                parts[e] = DLE
                e += 2
        if e > n:  # the last DLE escapes nothing yet
            parts[n - 1] = b""
            self.pending_dle = True
        return _JOIN_EMPTY.join(parts), False, b""

    def _feed_loop(self, data):
        """`feed` for any chunk: one `find` per escaping DLE and per ETX.

        The payload runs between escaping DLEs are copied as memoryview slices; each escaped
        byte starts the next run, so it is kept without a slice of its own. `etx_at` is the
        first ETX not yet known to be escaped (n when there is none): a run that reaches it ends
        the payload (a lone ETX).
        """
        n = len(data)
        pos = 0  # start of the current payload run
        out = bytearray()
        if self.pending_dle:  # the previous chunk ended with an escaping DLE
            if not n:
                return b"", False, b""
            self.pending_dle = False
            out.append(data[0])
            pos = 1
        find = data.find
        dle_at = find(DLE, pos)
        etx_at = find(ETX, pos)
        if etx_at < 0:
            if dle_at < 0:  # plain payload
                if pos:
                    out += memoryview(data)[1:]
                    return out, False, b""
                return data, False, b""
            etx_at = n
        if dle_at >= 0 and data.count(DLE, dle_at, dle_at + 32) >= _DENSE:
            res = self._feed_dense(data, out, pos)
            if res is not None:
                return res
        mv = memoryview(data)
        while 0 <= dle_at < etx_at:
            out += mv[pos:dle_at]
            pos = dle_at + 1  # the escaped byte
            dle_at = find(DLE, pos + 1)
            if etx_at == pos:  # an escaped ETX: find the next ETX
                etx_at = find(ETX, pos + 1)
                if etx_at < 0:
                    etx_at = n
        if etx_at < n:  # a lone ETX: close
            out += mv[pos:etx_at]
            return out, True, data[etx_at + 1 :]
        out += mv[pos:]
        if pos == n:  # the chunk ended with an escaping DLE
            self.pending_dle = True
        return out, False, b""

    def _feed_dense(self, data, out, pos):
        """`feed` for a chunk full of escapes, in a few whole-chunk `replace` passes.

        Returns None (nothing consumed, no state changed) when the chunk has a lone ETX or no
        byte value to use as a placeholder; the general loop handles those.

        Splitting at DLE DLE from the left pairs DLEs exactly as decoding does, so replacing
        each DLE DLE by a placeholder byte Z (absent from the chunk) turns every escaped DLE
        into Z; every DLE left escapes the byte after it, so an ETX not preceded by a DLE is a
        lone ETX, and the payload is what remains once the DLEs are dropped and Z becomes DLE.
        """
        body = bytearray(memoryview(data)[pos:])
        for z in _PLACEHOLDERS:
            if z not in body:
                break
        else:
            return None
        body = body.replace(_DLE_DLE, z)
        if body.count(ETX) != body.count(_DLE_ETX):
            return None
        if body[-1] == 0x10:  # a DLE ends the chunk
            self.pending_dle = True
        body = body.replace(DLE, b"").replace(z, DLE)
        if out:
            out += body
            return out, False, b""
        return body, False, b""


# -- The data path's variants: into preallocated buffers, nothing allocated per chunk ---------
# On a small heap (the ESP32's), a fresh bytes object per chunk fragments the heap until a
# chunk-sized allocation fails; these write into buffers made once. On MicroPython they are the
# native (viper) kernels of dle_native.py; elsewhere the portable loops of dle_portable.py.
#
# escape_into(src, n, dst): escape `src[:n]` (a bytearray) into `dst` (room for 2*n bytes);
# return the length.
# unescape_into(state, src, n, dst, off): decode `src[:n]` (a bytearray, n < 16384) into `dst`
# from `off`, with `state` an Unescaper (its pending DLE). Returns `(count, closed, rest_at)`:
# bytes written, whether a lone ETX was found, and where the raw bytes after it start in `src`.


def _unescape_into_native(state, src, n, dst, off):
    r = _unescape_native(src, n, dst, off, 1 if state.pending_dle else 0)
    state.pending_dle = (r >> 29) & 1 == 1
    return r & 0x3FFF, (r >> 28) & 1 == 1, (r >> 14) & 0x3FFF


def _kernels():
    import sys

    import dle_native

    native = dle_native.compile_native()
    del sys.modules["dle_native"]  # frees the kernels' source text (see dle_native.py)
    if native is None:  # CPython, or no viper in this build
        import dle_portable

        return dle_portable.escape_into, dle_portable.unescape_into, None
    return native[0], _unescape_into_native, native[1]


escape_into, unescape_into, _unescape_native = _kernels()
del _kernels  # frees its bytecode (a .mpy's functions are on the heap)
