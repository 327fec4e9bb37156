"""Portable escape_into / unescape_into for dle.py (contracts there): CPython, or a MicroPython
build without viper. Where the native kernels compile, this module is never imported.

Runs between special bytes are copied as memoryview slices, so the only Python work is per
DLE/ETX, never per byte.
"""

DLE = b"\x10"
ETX = b"\x03"


def escape_into(src, n, dst):
    find = src.find
    smv = memoryview(src)
    dmv = memoryview(dst)
    pos = out = 0
    dle_at = find(DLE, 0, n)
    etx_at = find(ETX, 0, n)
    while dle_at >= 0 or etx_at >= 0:
        hit = dle_at if etx_at < 0 or 0 <= dle_at < etx_at else etx_at
        k = hit - pos
        dmv[out : out + k] = smv[pos:hit]
        out += k
        dst[out] = 0x10
        dst[out + 1] = src[hit]
        out += 2
        pos = hit + 1
        if hit == dle_at:
            dle_at = find(DLE, pos, n)
        else:
            etx_at = find(ETX, pos, n)
    k = n - pos
    dmv[out : out + k] = smv[pos:n]
    return out + k


def unescape_into(state, src, n, dst, off):
    find = src.find
    smv = memoryview(src)
    dmv = memoryview(dst)
    pos = 0
    out = off
    if state.pending_dle:
        if not n:
            return 0, False, 0
        state.pending_dle = False
        dst[out] = src[0]
        out += 1
        pos = 1
    dle_at = find(DLE, pos, n)
    etx_at = find(ETX, pos, n)
    while True:
        if etx_at >= 0 and (dle_at < 0 or etx_at < dle_at):  # a lone ETX: close
            k = etx_at - pos
            dmv[out : out + k] = smv[pos:etx_at]
            return out + k - off, True, etx_at + 1
        if dle_at < 0:
            k = n - pos
            dmv[out : out + k] = smv[pos:n]
            return out + k - off, False, n
        k = dle_at - pos
        dmv[out : out + k] = smv[pos:dle_at]
        out += k
        if dle_at + 1 == n:  # pairs with the first byte of the next chunk
            state.pending_dle = True
            return out - off, False, n
        dst[out] = src[dle_at + 1]
        out += 1
        pos = dle_at + 2
        dle_at = find(DLE, pos, n)
        if 0 <= etx_at < pos:
            etx_at = find(ETX, pos, n)
