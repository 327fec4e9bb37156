"""Source text of dle.py's native (viper) kernels, and their compilation where MicroPython can.

A module of its own so that dle.py can drop it once the kernels are compiled: the text is an
object in the .mpy's constant table, which stays on the heap while any function of the module
lives (a `del` of the name would not free it).
"""

# The loops of dle_portable.py as viper code: machine code per byte, several times faster, and
# allocation-free. Four bytes at a time are tested for a DLE or an ETX at once (the "has a zero
# byte" word trick on w ^ 0x10101010 and w ^ 0x03030303) and copied without further tests when
# they hold neither; `src` is a bytearray, whose data the GC keeps 16-byte aligned, so the word
# loads are aligned (the ESP32 faults on unaligned ones). A word's low byte is its first in
# memory (both targets are little-endian); escape_native walks whole words, then the tail bytes.
# Compiled from source text, so the module stays plain bytecode (mpy-cross needs no -march) and
# each port's own native emitter builds them (x64 on the unix VM, xtensawin on the ESP32).
# unescape_native packs its results in one small int: count in bits 0-13, where the rest
# starts in bits 14-27, closed in bit 28, a pending DLE in bit 29 (so chunks stay < 16384).
# Two texts compiled one at a time: the compiler's peak heap is that of one kernel, not both.
_ESCAPE_SOURCE = """
@micropython.viper
def escape_native(src: ptr8, n: int, dst: ptr8) -> int:
    s32 = ptr32(src)
    base = uint(dst)
    o = 0
    words = n >> 2
    k = 0
    while k < words:
        w = s32[k]
        k += 1
        x = w ^ 0x10101010
        y = w ^ 0x03030303
        if (((x - 0x01010101) & (~x)) | ((y - 0x01010101) & (~y))) & 0x80808080 == 0:
            STORE_WORD
            o += 4
            continue
        j = 0
        while j < 32:
            b = (w >> j) & 0xFF
            if b == 0x10 or b == 0x03:
                dst[o] = 0x10
                o += 1
            dst[o] = b
            o += 1
            j += 8
    i = words << 2
    while i < n:
        b = src[i]
        if b == 0x10 or b == 0x03:
            dst[o] = 0x10
            o += 1
        dst[o] = b
        o += 1
        i += 1
    return o
"""

_UNESCAPE_SOURCE = """
@micropython.viper
def unescape_native(src: ptr8, n: int, dst: ptr8, off: int, pending: int) -> int:
    s32 = ptr32(src)
    base = uint(dst)
    i = 0
    o = off
    if pending:
        if n == 0:
            return 1 << 29
        dst[o] = src[0]
        o += 1
        i = 1
    while i < n:
        if (i & 3) == 0 and i + 4 <= n:
            w = s32[i >> 2]
            x = w ^ 0x10101010
            y = w ^ 0x03030303
            special = ((x - 0x01010101) & (~x)) | ((y - 0x01010101) & (~y))
            if (special & 0x80808080) == 0:
                STORE_WORD
                o += 4
                i += 4
                continue
        b = src[i]
        if b == 0x10:
            if i + 1 == n:
                return (o - off) | (n << 14) | (1 << 29)
            dst[o] = src[i + 1]
            o += 1
            i += 2
        elif b == 0x03:
            return (o - off) | ((i + 1) << 14) | (1 << 28)
        else:
            dst[o] = b
            o += 1
            i += 1
    return (o - off) | (n << 14)
"""


# How a word without DLE or ETX goes out: four byte stores anywhere, or one word store where a
# store to any address is allowed (x86, 64-bit ARM). The ESP32's Xtensa faults on a word store
# to an unaligned address, and after an escape the output is unaligned.
_BYTE_STORES = (
    "dst[o] = w",
    "dst[o + 1] = w >> 8",
    "dst[o + 2] = w >> 16",
    "dst[o + 3] = w >> 24",
)
_WORD_STORE = ("ptr32(base + o)[0] = w",)


# Set to False or True before dle is imported to choose; None: unaligned_stores_ok().
WORD_STORES = None


def unaligned_stores_ok():
    """True where a word may be stored at any address: Linux on x86 or 64-bit ARM."""
    import sys

    if sys.platform != "linux":
        return False
    try:
        import platform

        name = platform.platform()
    except (ImportError, AttributeError):
        return False
    return "x86_64" in name or "aarch64" in name or "i686" in name


def _source(text, word_stores):
    lines = []
    for line in text.split("\n"):
        if line.strip() == "STORE_WORD":
            pad = line[: len(line) - len(line.lstrip())]
            for store in _WORD_STORE if word_stores else _BYTE_STORES:
                lines.append(pad + store)
        else:
            lines.append(line)
    return "\n".join(lines)


def compile_native(word_stores=None):
    """(escape_native, unescape_native), or None where they cannot be compiled.
    `word_stores`: see _WORD_STORE; None: WORD_STORES, else where unaligned_stores_ok()."""
    try:
        import micropython  # type: ignore[import-not-found]

        if word_stores is None:
            word_stores = WORD_STORES if WORD_STORES is not None else unaligned_stores_ok()
        scope = {"micropython": micropython}
        for text in (_ESCAPE_SOURCE, _UNESCAPE_SOURCE):
            exec(_source(text, word_stores), scope)
        return scope["escape_native"], scope["unescape_native"]
    except Exception:  # CPython, or no native emitter in this build
        return None
