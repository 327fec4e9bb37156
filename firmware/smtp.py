"""AT#PUTMAIL and AT#SENDMAILi: the SMTP dialogue with a server of today (multitech-mail-ftp.md
§2.3-§2.5, §8.2), loaded on first use by Modem.start_service.

EHLO with AT#DOMAIN, STARTTLS or TLS from the first byte (AT#SMTPTLS, else by port), AUTH
LOGIN or PLAIN, MAIL FROM, RCPT TO, DATA, then the generated headers. PUTMAIL then hands the
UART to mailbody.MailBody (the host's body); SENDMAILi sends BODYi itself.
"""

import binascii
import os
import time

import netconn
import results
from errors import E_OPEN_FAILED, E_PEER_CLOSED, E_VALUE, CmdError

# AT#SMTPTLS 0: by port: 465 TLS from the first byte, 587 STARTTLS required, else if offered
_TLS_BY_PORT = {465: 3, 587: 2}
_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_SPECIALS = b'()<>[]:;@\\,."'  # RFC 5322: a display name with one of these is quoted


class Smtp:
    """One SMTP connection, set up as far as the first byte of the message body."""

    def __init__(self, conn):
        self.conn = conn
        self.caps = []

    async def reply(self, want, doing):
        """Read a (multi-line) reply; CmdError 38016 unless its code starts with `want`."""
        lines = []
        while True:
            line = await self.conn.read_line()
            lines.append(line)
            if len(line) < 4 or line[3:4] != b"-":
                break
            if len(lines) > 64:
                raise self.conn.fail(E_OPEN_FAILED, "endless reply to %s" % doing)
        if not line.startswith(want):
            raise self.conn.fail(E_OPEN_FAILED, "%s refused: %s" % (doing, _shown(line)))
        return lines

    async def command(self, text, want, doing=None):
        await self.conn.write(text + b"\r\n")
        return await self.reply(want, doing or text.split(b" ")[0].decode())

    async def hello(self, domain):
        try:
            lines = await self.command(b"EHLO " + domain, b"2", "EHLO")
            self.caps = [ln[4:].upper() for ln in lines]
        except CmdError:  # an old server: HELO, and no extensions
            await self.command(b"HELO " + domain, b"2", "HELO")
            self.caps = []

    def offers(self, word):
        for cap in self.caps:
            if cap == word or cap.startswith(word + b" "):
                return cap
        return None

    async def login(self, user, password):
        mechanisms = (self.offers(b"AUTH") or b"").split()[1:]
        if b"PLAIN" not in mechanisms or b"LOGIN" in mechanisms:  # LOGIN first (§2.5)
            await self.command(b"AUTH LOGIN", b"334")
            await self.conn.write(_b64(user) + b"\r\n")
            await self.reply(b"334", "AUTH LOGIN user")
            await self.conn.write(_b64(password) + b"\r\n")  # never logged
            await self.reply(b"235", "AUTH LOGIN (user %r)" % user)
        else:
            await self.conn.write(
                b"AUTH PLAIN " + _b64(b"\x00" + user + b"\x00" + password) + b"\r\n"
            )
            await self.reply(b"235", "AUTH PLAIN (user %r)" % user)


async def open_mail(modem, which):
    """Connect and run the dialogue up to DATA -> 354 and the generated headers, for the mail
    combination `which` (RECi, CCRECi, SUBJi). Returns the Smtp; CmdError on any failure."""
    st = modem.settings
    to = st.get("REC%d" % which)
    cc = st.get("CCREC%d" % which)
    if not to:
        raise CmdError(E_VALUE)  # no recipient: answered without connecting (§5)
    conn, tls = await netconn.open_service(modem, "SMTP", _TLS_BY_PORT, 0)
    smtp = Smtp(conn)
    try:
        await smtp.reply(b"220", "greeting")
        domain = st.get("DOMAIN").encode() or b"[" + modem.net.ip().encode() + b"]"
        await smtp.hello(domain)
        if tls != 1 and tls != 3 and smtp.offers(b"STARTTLS"):
            await smtp.command(b"STARTTLS", b"220")
            conn.start_tls()
            await smtp.hello(domain)  # again, over TLS (RFC 3207)
        elif tls == 2:
            raise conn.fail(E_OPEN_FAILED, "STARTTLS required (AT#SMTPTLS) and not offered")
        user = st.get("SMTPUN").encode()
        if st.get("SMTPAUTH") or user and smtp.offers(b"AUTH"):
            await smtp.login(user, st.get("SMTPPW").encode())
        sender = st.get("SENDERADDR") or (st.get("SMTPUN") if "@" in st.get("SMTPUN") else "")
        await smtp.command(b"MAIL FROM:<%s>" % sender.encode(), b"2", "MAIL FROM")
        for rcpt in to + ([cc] if cc else []):
            await smtp.command(b"RCPT TO:<%s>" % rcpt.encode(), b"2", "RCPT TO " + rcpt)
        await smtp.command(b"DATA", b"354")
        await conn.write(headers(modem, sender, to, cc, st.get("SUBJ%d" % which)))
    except BaseException:
        conn.close()
        raise
    return smtp


def headers(modem, sender, to, cc, subject):
    """The generated header block (§2.5), left open: what follows closes it."""
    st = modem.settings
    out = []
    date = rfc5322_date()
    if date:
        out.append(b"Date: " + date)
    name = st.get("SENDERNAME")
    addr = b"<" + sender.encode() + b">"
    if name:
        name = name.encode()
        for c in _SPECIALS:
            if c in name:
                name = b'"' + name.replace(b"\\", b"\\\\").replace(b'"', b'\\"') + b'"'
                break
        out.append(b"From: " + name + b" " + addr)
    else:
        out.append(b"From: " + addr)
    out.append(b"To: " + b", ".join([a.encode() for a in to]))
    if cc:
        out.append(b"Cc: " + cc.encode())
    if subject:
        out.append(b"Subject: " + subject.encode())
    host = st.get("DOMAIN") or sender.rpartition("@")[2] or "mtip-esp32"
    out.append(b"Message-ID: <%s@%s>" % (binascii.hexlify(os.urandom(12)), host.encode()))
    return b"\r\n".join(out) + b"\r\n"


def rfc5322_date():
    """The date header's value in UTC, or None while the clock is not set (before 2024)."""
    t = time.gmtime()
    if t[0] < 2024:
        return None
    return b"%s, %02d %s %d %02d:%02d:%02d +0000" % (
        _DAYS[t[6]].encode(),
        t[2],
        _MONTHS[t[1] - 1].encode(),
        t[0],
        t[3],
        t[4],
        t[5],
    )


async def finish(modem, smtp):
    """After the end of data: the server's 250 is the mail accepted (CmdError otherwise);
    QUIT is sent, not waited for."""
    conn = smtp.conn
    try:
        line = await conn.read_line()
        while len(line) >= 4 and line[3:4] == b"-":
            line = await conn.read_line()
        if not line.startswith(b"2"):
            raise conn.fail(E_PEER_CLOSED, "mail refused at the end of data: %s" % _shown(line))
        modem.log("smtp: mail accepted")
        try:
            await conn.write(b"QUIT\r\n")
        except CmdError:
            pass
    finally:
        conn.close()


async def putmail(modem):
    """AT#PUTMAIL: combination 1, the body from the serial line (mailbody.py)."""
    smtp = await open_mail(modem, 1)
    import mailbody

    modem.session = mailbody.MailBody(modem, smtp)
    return results.WAITING_FOR_DATA


async def sendmail(modem, which):
    """AT#SENDMAILi: headers, a blank line, BODYi, the end of data; OK once accepted."""
    smtp = await open_mail(modem, which)
    try:
        body = modem.settings.get("BODY%d" % which).encode()
        body = body.replace(b"\r\n", b"\n").replace(b"\r", b"\n").split(b"\n")
        lines = [b"." + ln if ln.startswith(b".") else ln for ln in body]
        await smtp.conn.write(b"\r\n" + b"\r\n".join(lines) + b"\r\n.\r\n")
    except BaseException:
        smtp.conn.close()
        raise
    await finish(modem, smtp)
    return None


def _b64(data):
    return binascii.b2a_base64(data).rstrip(b"\n")


def _shown(line):
    return repr(bytes(line[:80]))
