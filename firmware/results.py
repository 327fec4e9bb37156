"""Result codes and their framing on the serial line (V.250 with the Multi-Tech extensions).

ATV1 (verbose): information text is framed `<CR><LF>text<CR><LF>`; so are result codes.
ATV0 (numeric): information text is `text<CR><LF>`; a result code is `<number><CR>`.
ATQ1 suppresses result codes (information text still goes out).
"""

# Verbose text -> numeric code (ATV0). Multi-Tech's Ok_Info_* messages have numbers too.
CODES = {
    "OK": 0,
    "CONNECT": 1,
    "RING": 2,
    "NO CARRIER": 3,
    "ERROR": 4,
    "NO DIALTONE": 6,
    "BUSY": 7,
    "NO ANSWER": 8,
    "Ok_Info_DataBegin": 1025,
    "Ok_Info_WaitingForData": 1028,
    "Ok_Info_NoMail": 3072,
    "Ok_Info_Mail": 3073,
    "Ok_Info_SocketClosed": 3074,
    "Ok_Info_PPP": 3077,
    "Ok_Info_GprsActivation": 3086,
}

OK = "OK"
ERROR = "ERROR"
NO_CARRIER = "NO CARRIER"
WAITING_FOR_DATA = "Ok_Info_WaitingForData"
SOCKET_CLOSED = "Ok_Info_SocketClosed"
GPRS_ACTIVATION = "Ok_Info_GprsActivation"
NONE = ""  # a command that answers later (AT#BODY1: after the Ctrl-Z)
DATA_BEGIN = "Ok_Info_DataBegin"
MAIL = "Ok_Info_Mail"
NO_MAIL = "Ok_Info_NoMail"

CRLF = b"\r\n"


class Formatter:
    """Turns results and information text into bytes according to ATV and ATQ."""

    def __init__(self):
        self.verbose = True
        self.quiet = False

    def info(self, lines):
        """Information text: a str or a list of str lines."""
        if isinstance(lines, str):
            lines = [lines]
        if not lines:
            return b""
        body = "\r\n".join(lines).encode()
        if self.verbose:
            return CRLF + body + CRLF
        return body + CRLF

    def result(self, name):
        """A result code such as "OK" or "Ok_Info_WaitingForData"."""
        if self.quiet:
            return b""
        if self.verbose:
            return CRLF + name.encode() + CRLF
        return str(CODES[name]).encode() + b"\r"

    def error(self, code, prefix="#CME ERROR: "):
        """An extended error result: `#CME ERROR: n` (AT# commands) or `+CME ERROR: n`."""
        if self.quiet:
            return b""
        text = (prefix + str(code)).encode()
        if self.verbose:
            return CRLF + text + CRLF
        return text + CRLF
