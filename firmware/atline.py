"""Command-line assembly: raw UART bytes in command mode -> echo bytes and complete AT lines.

A line starts with `AT` (any case) and ends with CR (LF is also taken, for LF-only senders;
the LF of a CRLF pair then falls outside any line and is ignored). BS and DEL edit the line.
`A/` repeats the previous line at once. Bytes outside a line (an ETX from a client closing a
session that is already closed, line noise) are dropped silently and never echoed.
A line longer than MAX_LINE is answered once, as soon as it overflows, and the rest of it is
discarded up to its CR without being buffered.
"""

from compat import const

MAX_LINE = const(256)  # bytes after "AT"; a 120-character host name fits with room to spare

TOO_LONG = b"\x00too long"  # sentinel line: the line overflowed (never a real line)

_IDLE = const(0)
_GOT_A = const(1)
_IN_LINE = const(2)
_OVERFLOW = const(3)

_CR = const(13)
_LF = const(10)
_BS = const(8)
_DEL = const(127)
_A_UP = const(65)
_A_LOW = const(97)
_T_UP = const(84)
_T_LOW = const(116)
_SLASH = const(47)


class LineAssembler:
    """Feed bytes; get back echo and at most one complete line per call.

    `feed(data, start)` returns `(echo, line, next)`: the bytes to echo (when ATE1), the body of
    a complete line after "AT" (bytes, possibly empty; `TOO_LONG` for an overflow; None when no
    line is complete yet), and the index in `data` where the caller continues. The caller
    executes a line before feeding the rest, so output stays in order and bytes after a
    command that enters data mode can be handed to the data path.
    """

    def __init__(self, max_line=MAX_LINE):
        self.max_line = max_line
        self.state = _IDLE
        self.buf = bytearray()
        self.prefix = b"AT"
        self.last = None  # the previous line, for A/

    def reset(self):
        self.state = _IDLE
        self.buf = bytearray()

    def feed(self, data, start=0):
        echo = bytearray()
        i = start
        n = len(data)
        while i < n:
            c = data[i]
            i += 1
            state = self.state
            if state == _IDLE:
                if c == _A_UP or c == _A_LOW:
                    self.state = _GOT_A
                    self.prefix = bytes((c,))
            elif state == _GOT_A:
                if c == _T_UP or c == _T_LOW:
                    self.state = _IN_LINE
                    self.prefix += bytes((c,))
                    echo += self.prefix
                    self.buf = bytearray()
                elif c == _SLASH:
                    self.state = _IDLE
                    echo += self.prefix + b"/"
                    if self.last is not None:
                        return bytes(echo), self.last, i
                elif c == _A_UP or c == _A_LOW:
                    self.prefix = bytes((c,))  # "aAT": the echo is the "AT" typed last
                else:
                    self.state = _IDLE
            elif state == _IN_LINE:
                if c == _CR or c == _LF:
                    self.state = _IDLE
                    echo.append(c)
                    line = bytes(self.buf)
                    self.last = line
                    return bytes(echo), line, i
                if c == _BS or c == _DEL:
                    if self.buf:
                        self.buf = self.buf[:-1]
                        echo += b"\x08 \x08"
                elif c >= 32:
                    if len(self.buf) >= self.max_line:
                        self.state = _OVERFLOW
                        self.buf = bytearray()
                        return bytes(echo), TOO_LONG, i
                    self.buf.append(c)
                    echo.append(c)
                # other control bytes inside a line are dropped (V.250 ignores them)
            else:  # _OVERFLOW: discard up to the end of the line
                if c == _CR or c == _LF:
                    self.state = _IDLE
        return bytes(echo), None, i
