"""Dotted-decimal IPv4 addresses: the one parser every command that takes an address uses.

Dotted decimal is decimal: "127.0.0.010" is 127.0.0.10 (the C library would read 010 as octal,
8), and "127.000.000.001" is 127.0.0.1. Filters compare the 32-bit numbers, never the text.
"""

ANY = 0xFFFFFFFF  # 255.255.255.255: a listener's filter that lets anyone in


def parse(text):
    """The address as a 32-bit number, or None when `text` is not four decimal numbers 0..255
    of one to three digits separated by dots (no signs, spaces or other bases)."""
    if not isinstance(text, str):
        return None
    parts = text.split(".")
    if len(parts) != 4:
        return None
    value = 0
    for p in parts:
        if not p or len(p) > 3:
            return None
        for c in p.encode():  # bytes, not characters: no one-character str per digit
            if c < 48 or c > 57:
                return None
        n = int(p)
        if n > 255:
            return None
        value = (value << 8) | n
    return value


def text(value):
    """The canonical dotted form of a 32-bit number."""
    return "%d.%d.%d.%d" % (value >> 24, (value >> 16) & 255, (value >> 8) & 255, value & 255)


def looks_numeric(host):
    """True for a host that can only be meant as an address: its last label starts with a digit
    (no top-level domain does), e.g. "1.2.3", "10.0.0.256", "0x7f000001". Such a host must
    parse, or the C resolver would guess at it (inet_aton takes "1.2.3" as 1.2.0.3)."""
    last = host.rstrip(".").rpartition(".")[2]  # (a trailing dot names the root)
    return bool(last) and 48 <= last.encode()[0] <= 57


def for_connect(host):
    """What to hand a board's resolver: the canonical address for dotted decimal, else the
    host name as it is."""
    value = parse(host)
    return host if value is None else text(value)
