"""DLE/ETX framing of the Multi-Tech data mode (DLEMODE 1).

Device -> modem: a lone ETX (0x03) asks to close the session; DLE (0x10) escapes the next byte.
Modem -> device: payload DLE and ETX are sent as DLE DLE and DLE ETX.

Both directions work on whole chunks with C-speed bytes methods (`find`, `replace`, slicing);
no Python loop runs per byte.
"""

DLE = b"\x10"
ETX = b"\x03"
_DLE_DLE = b"\x10\x10"
_DLE_ETX = b"\x10\x03"


def escape(data):
    """Return `data` with every DLE doubled and every ETX preceded by a DLE."""
    if isinstance(data, memoryview):  # `DLE in memoryview` is always False: it compares ints
        data = bytes(data)
    if DLE in data:
        data = bytes(data).replace(DLE, _DLE_DLE)
    if ETX in data:
        data = bytes(data).replace(ETX, _DLE_ETX)
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
        start = 0
        head = b""
        if self.pending_dle:
            if not data:
                return b"", False, b""
            self.pending_dle = False
            head = data[0:1]
            start = 1
        dle_at = data.find(DLE, start)
        etx_at = data.find(ETX, start)
        if dle_at < 0 and etx_at < 0:  # the common case: plain payload
            if head:
                return head + data[start:], False, b""
            return data, False, b""
        parts = [head] if head else []
        pos = start
        while True:
            if etx_at >= 0 and (dle_at < 0 or etx_at < dle_at):
                parts.append(data[pos:etx_at])
                return b"".join(parts), True, data[etx_at + 1 :]
            if dle_at < 0:
                parts.append(data[pos:])
                return b"".join(parts), False, b""
            parts.append(data[pos:dle_at])
            if dle_at + 1 == len(data):
                self.pending_dle = True
                return b"".join(parts), False, b""
            parts.append(data[dle_at + 1 : dle_at + 2])
            pos = dle_at + 2
            dle_at = data.find(DLE, pos)
            if etx_at >= 0 and etx_at < pos:
                etx_at = data.find(ETX, pos)
