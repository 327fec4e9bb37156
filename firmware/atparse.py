"""Parsing of one command line (the bytes after "AT") into commands.

Basic commands chain without separators (`E0V1Q0`, `Z`, `&F`, `&K3`, `S0=1`, `S3?`); extended
commands (`+NAME`, `#NAME`) take `=args` (set), `?` (read), `=?` (test) or nothing (action) and
are separated from what follows by `;`. Names are case-insensitive; spaces outside quotes are
ignored. Arguments are comma-separated, quoted (`"text"`, case kept) or bare (case kept).
"""

from compat import const

ACTION = const(0)
SET = const(1)
READ = const(2)
TEST = const(3)

_QUOTE = const(34)
_SPACE = const(32)


class ParseError(Exception):
    """Syntax error. `prefix` is "#" or "+" when it happened in such a command, else ""."""

    def __init__(self, prefix=""):
        super().__init__()
        self.prefix = prefix

    @property
    def extended(self):
        return self.prefix != ""


def _prefix_of(line):
    """The kind of command an unparsable line most likely holds: AT# wins over AT+."""
    if b"#" in line:
        return "#"
    return "+" if b"+" in line else ""


class Arg:
    """One argument: its text (str) and whether it was quoted."""

    __slots__ = ("text", "quoted")

    def __init__(self, text, quoted):
        self.text = text
        self.quoted = quoted

    def __repr__(self):
        return "Arg(%r, %r)" % (self.text, self.quoted)


class Command:
    """One command: `name` ("E", "&F", "S3", "+IPR", "#TCPSERV"), `op`, `args` (list of Arg)."""

    __slots__ = ("name", "op", "args", "value")

    def __init__(self, name, op=ACTION, args=None, value=None):
        self.name = name
        self.op = op
        self.args = args or []
        self.value = value  # numeric suffix of a basic command ("E1" -> "1"), "" when absent

    @property
    def extended(self):
        return self.name[0] in "+#"

    def __repr__(self):
        return "Command(%r, %r, %r, %r)" % (self.name, self.op, self.args, self.value)


def _strip_spaces(line):
    """Drop spaces outside quotes; raise ParseError on an unterminated quote."""
    if b" " not in line:
        if line.count(b'"') % 2:
            raise ParseError(_prefix_of(line))
        return line
    out = bytearray()
    quoted = False
    for c in line:
        if c == _QUOTE:
            quoted = not quoted
        elif c == _SPACE and not quoted:
            continue
        out.append(c)
    if quoted:
        raise ParseError(_prefix_of(line))
    return bytes(out)


def _is_name_char(c):
    # letters, digits and the V.250 extra name characters ! % - . / : _
    return 65 <= c <= 90 or 97 <= c <= 122 or 48 <= c <= 57 or c in b"!%-./:_"


def _digits_end(s, i):
    n = len(s)
    while i < n and 48 <= s[i] <= 57:
        i += 1
    return i


def _decode(b, prefix):
    try:
        return b.decode()
    except UnicodeError:
        raise ParseError(prefix)


def split_args(s, prefix="#"):
    """Split an argument string (bytes) at commas outside quotes into Arg objects."""
    args = []
    i = 0
    n = len(s)
    while True:
        if i < n and s[i] == _QUOTE:
            end = s.find(b'"', i + 1)
            if end < 0:
                raise ParseError(prefix)
            args.append(Arg(_decode(s[i + 1 : end], prefix), True))
            i = end + 1
            if i < n and s[i] != 44:  # text after a closing quote
                raise ParseError(prefix)
        else:
            end = s.find(b",", i)
            if end < 0:
                end = n
            token = s[i:end]
            if b'"' in token:
                raise ParseError(prefix)
            args.append(Arg(_decode(token, prefix), False))
            i = end
        if i >= n:
            return args
        i += 1  # skip the comma
        if i >= n:  # a trailing comma leaves an empty last argument
            args.append(Arg("", False))
            return args


def _find_semicolon(s, i):
    """Index of the first `;` at or after i outside quotes, or len(s)."""
    quoted = False
    n = len(s)
    while i < n:
        c = s[i]
        if c == _QUOTE:
            quoted = not quoted
        elif c == 59 and not quoted:
            return i
        i += 1
    return n


def parse(line):
    """Parse a line body (bytes after "AT") into a list of Command; raise ParseError."""
    s = _strip_spaces(line)
    cmds = []
    i = 0
    n = len(s)
    while i < n:
        c = s[i]
        if c == 43 or c == 35:  # '+' or '#': extended command
            j = i + 1
            while j < n and _is_name_char(s[j]):
                j += 1
            prefix = chr(c)
            if j == i + 1:
                raise ParseError(prefix)
            name = s[i:j].decode().upper()
            if j < n and s[j] == 61:  # '='
                if j + 1 < n and s[j + 1] == 63:  # '=?'
                    cmd = Command(name, TEST)
                    j += 2
                else:
                    end = _find_semicolon(s, j + 1)
                    cmd = Command(name, SET, split_args(s[j + 1 : end], prefix))
                    j = end
            elif j < n and s[j] == 63:  # '?'
                cmd = Command(name, READ)
                j += 1
            else:
                cmd = Command(name, ACTION)
            if j < n and s[j] != 59:
                raise ParseError(prefix)
            cmds.append(cmd)
            i = j + 1 if j < n else j
        elif c == 59:  # ';' between commands
            i += 1
        elif c == 38:  # '&X[n]'
            if i + 1 >= n or not (65 <= s[i + 1] <= 90 or 97 <= s[i + 1] <= 122):
                raise ParseError()
            j = _digits_end(s, i + 2)
            cmds.append(Command("&" + chr(s[i + 1]).upper(), ACTION, None, s[i + 2 : j].decode()))
            i = j
        elif c == 83 or c == 115:  # 'S<n>=<v>' / 'S<n>?'
            j = _digits_end(s, i + 1)
            if j == i + 1:
                raise ParseError()
            name = "S" + s[i + 1 : j].decode()
            if j < n and s[j] == 61:
                k = _digits_end(s, j + 1)
                cmds.append(Command(name, SET, [Arg(s[j + 1 : k].decode(), False)]))
                j = k
            elif j < n and s[j] == 63:
                cmds.append(Command(name, READ))
                j += 1
            else:
                cmds.append(Command(name, READ))
            i = j
        elif 65 <= c <= 90 or 97 <= c <= 122:
            letter = chr(c).upper()
            if letter == "D":  # dial: the rest of the line is the number
                cmds.append(Command("D", ACTION, None, _decode(s[i + 1 :], "")))
                return cmds
            j = _digits_end(s, i + 1)
            cmds.append(Command(letter, ACTION, None, s[i + 1 : j].decode()))
            i = j
        else:
            raise ParseError()
    return cmds
