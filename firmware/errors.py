"""The dialect's error numbers (`#CME ERROR: n`, spec §4 and mail/FTP §5) and CmdError.

One table, imported by every module that answers a command, so none of them needs the
interpreter (which loads the command groups) or the engine.
"""

E_UNKNOWN = 34817
E_SYNTAX = 34819
E_EEPROM = 34824
E_TOO_LONG = 34881
E_VALUE = 34882
E_ALREADY_UP = 35840
E_LINK_LOST = 35841  # the bearer went down during a session or service
E_BAD_EVENT = 35866
E_NOT_ACTIVE = 35867
E_BUSY = 37123
E_SERVER_SILENT = 37964  # a mail or file server said nothing for 3 minutes
E_PEER_CLOSED = 37966  # the peer closed or reset, or refused the end of data
E_OPEN_FAILED = 38016  # a session, service or ping could not open; a server refused set-up
E_DNS = 38027  # the host name did not resolve
# 27.007 +CME ERROR numbers for basic and + commands when AT+CMEE is on
CME_NOT_ALLOWED = 3
CME_NOT_SUPPORTED = 4


class CmdError(Exception):
    """A command failed; `code` is the error number (None: plain ERROR)."""

    def __init__(self, code=None):
        super().__init__(code)
        self.code = code


def int_arg(arg, lo, hi):
    """The number in a parsed argument, lo..hi, else CmdError(E_VALUE)."""
    text = arg.text
    if not text or len(text) > 9:
        raise CmdError(E_VALUE)
    for c in text.encode():
        if c < 48 or c > 57:
            raise CmdError(E_VALUE)
    value = int(text)
    if value < lo or value > hi:
        raise CmdError(E_VALUE)
    return value
