"""The e-mail and FTP commands (multitech-mail-ftp.md): AT#PUTMAIL, AT#SENDMAILi, AT#GETMAIL,
AT#FTPGET, AT#FTPPUT, and the interactive entry of AT#RECiADD and AT#BODYi; loaded on first use.

The actions go to the engine's `start_service`, which loads the service (smtp.py, pop3.py,
ftp.py) on first use; they take no arguments (§1.2), but for the digit of SENDMAIL.
"""

import results
from atparse import ACTION, SET, TEST
from errors import E_EEPROM, E_SYNTAX, E_VALUE, CmdError, int_arg

_CTRL_Z = 0x1A
_ESC = 0x1B
_MAX_ADDRESSES = 10  # RECiADD: from the 11th on they are ignored (§2.2)
_MAX_TEXT = 120


async def run(it, cmd, name):
    listing = LISTINGS.get(name)
    if listing is not None:
        it.info(listing(it))
        return None
    if name.startswith("BODY"):
        return start_entry(it, cmd, name, False)
    if name.endswith("ADD"):
        return start_entry(it, cmd, name[:-3], True)
    if cmd.op == TEST:
        return None
    if name.startswith("SENDMAIL"):
        return await sendmail(it, cmd, name)
    if cmd.op != ACTION:  # action commands take no arguments (§1.2)
        raise CmdError(E_SYNTAX)
    module, action = ACTIONS[name]
    return await it.modem.start_service(module, action)


ACTIONS = {
    "PUTMAIL": ("smtp", "putmail"),
    "GETMAIL": ("pop3", "getmail"),
    "FTPGET": ("ftp", "ftpget"),
    "FTPPUT": ("ftp", "ftpput"),
}


async def sendmail(it, cmd, name):
    """AT#SENDMAIL1..3 (U), also AT#SENDMAIL=<1-3> and a bare AT#SENDMAIL (= 1) (§2.4)."""
    if name != "SENDMAIL":
        if cmd.op != ACTION:
            raise CmdError(E_SYNTAX)
        which = int(name[-1])
    elif cmd.op == ACTION:
        which = 1
    elif cmd.op == SET and len(cmd.args) == 1:
        which = int_arg(cmd.args[0], 1, 3)
    else:
        raise CmdError(E_SYNTAX)
    return await it.modem.start_service("smtp", "sendmail", which)


def start_entry(it, cmd, name, addresses):
    if cmd.op == TEST:
        return None
    if cmd.op != ACTION:
        raise CmdError(E_SYNTAX)
    it.check_idle()
    it.entry = TextEntry(it, name, addresses)
    return results.NONE  # no result yet: it comes after the Ctrl-Z


class TextEntry:
    """What follows AT#RECiADD or AT#BODYi on the serial line, up to Ctrl-Z (ESC aborts and
    keeps the old value). No prompt; echoed per ATE; stored at the Ctrl-Z, then OK (§2.2).
    Bounded: an address or a body longer than 120 characters is not kept but answered with
    34882 at the end, and the old value stays."""

    def __init__(self, it, name, addresses):
        self.it = it
        self.name = name
        self.addresses = addresses
        self.items = []  # finished addresses
        self.text = bytearray()  # the current address, or the body
        self.too_long = False

    def feed(self, data, i):
        """Take bytes from data[i:] (echoed per ATE, the answer after them); return the index
        where command input goes on, or len(data) when the entry is not finished."""
        n = len(data)
        start = i
        while i < n:
            c = data[i]
            i += 1
            if c == _CTRL_Z or c == _ESC:
                self.echo(data[start : i - 1])
                self.finish(c == _ESC)
                return i
            if self.addresses and (c == 13 or c == 10):
                self.end_address()
            elif len(self.text) < _MAX_TEXT:
                self.text.append(c)
            else:
                self.too_long = True
        self.echo(data[start:i])
        return i

    def echo(self, data):
        if data and self.it.echo:
            self.it.out(bytes(data))

    def end_address(self):
        if self.text:
            if len(self.items) < _MAX_ADDRESSES:
                self.items.append(self.text.decode())
            self.text = bytearray()

    def finish(self, aborted):
        it = self.it
        it.entry = None
        if aborted:
            it.result(results.OK)
            return
        try:
            if self.too_long:
                raise ValueError(self.name)
            if self.addresses:
                self.end_address()
                it.settings.set(self.name, self.items)
            else:
                it.settings.set(self.name, self.text.decode())
        except (ValueError, UnicodeError):
            it.error(E_VALUE)
            return
        except OSError:
            it.error(E_EEPROM)
            return
        it.result(results.OK)


# --- listings (multitech-mail-ftp.md §6) -------------------------------------------------------

SMTP_NAMES = (
    "SENDERNAME", "SENDERADDR", "SMTPSERV", "SMTPPORT", "SMTPUN", "SMTPPW", "DOMAIN", "SMTPAUTH",
)  # fmt: skip
POP3_NAMES = ("POP3SERV", "POP3PORT", "POP3UN", "POP3PW", "POP3HEADERMODE")
FTP_NAMES = (
    "FTPSERV", "FTPPORT", "FTPUN", "FTPPW", "FTPTYPE", "FTPMODE", "FTPGETPATH", "FTPGETFILENAME",
    "FTPPUTPATH", "FTPPUTFILENAME",
)  # fmt: skip
# Ours and the later (U) additions: shown in AT#VALL only, so the listings above stay as the
# manual has them.
EXTRA_NAMES = ("SMTPNETWORKTIMER", "FTPFILESIZE", "SMTPTLS", "POP3TLS", "FTPTLS", "TLSVERIFY")


def settings_lines(it, names):
    return [it.show(n, it.settings.get(n)) for n in names]


def mail_lines(it, i):
    return settings_lines(it, ("REC%d" % i, "CCREC%d" % i, "SUBJ%d" % i, "BODY%d" % i))


def list_smtp(it):
    return settings_lines(it, SMTP_NAMES)


def list_pop3(it):
    return settings_lines(it, POP3_NAMES)


def list_ftp(it):
    return settings_lines(it, FTP_NAMES)


def list_mail(it):
    """AT#VMAIL: the three combinations, a blank line between them; AT#VMAILi: one."""
    lines = []
    for i in (1, 2, 3):
        lines += mail_lines(it, i) + [""]
    return lines[:-1]


def vmail_i(i):
    return lambda it: mail_lines(it, i)


def vall_lines(it):
    """AT#VALL's mail and FTP blocks."""
    lines = settings_lines(it, SMTP_NAMES) + [""]
    for i in (1, 2, 3):
        lines += mail_lines(it, i) + [""]
    lines += settings_lines(it, POP3_NAMES) + [""]
    lines += settings_lines(it, FTP_NAMES) + [""]
    return lines + settings_lines(it, EXTRA_NAMES)


LISTINGS = {
    "VSMTP": list_smtp,
    "VPOP3": list_pop3,
    "VFTP": list_ftp,
    "VMAIL": list_mail,
    "VMAIL1": vmail_i(1),
    "VMAIL2": vmail_i(2),
    "VMAIL3": vmail_i(3),
}
