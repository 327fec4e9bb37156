"""AT#GETMAIL: the first message of a POP3 mailbox, relayed to the serial line, then deleted
(multitech-mail-ftp.md §3.2, §3.3, §8.3); loaded on first use by Modem.start_service.

    mail:    Ok_Info_Mail, the RETR data as the server sent it (dot-stuffing and the closing
             ".CRLF" kept, so CR LF . CR LF is an unambiguous end), then OK
    no mail: Ok_Info_NoMail, then OK

POP3HEADERMODE 0 drops the header lines, up to and including the first empty line. The message
streams through the modem's buffers, paced by the device (RTS): nothing grows with its size.
"""

import netconn
import results
from errors import E_OPEN_FAILED, E_PEER_CLOSED, CmdError

_END = b"\r\n.\r\n"
_HEADERS_END = b"\r\n\r\n"
_TLS_BY_PORT = {995: 3}  # AT#POP3TLS 0: 995 TLS from the first byte, else STLS if offered


class Pop3:
    def __init__(self, conn):
        self.conn = conn

    async def command(self, text, doing=None, shown=None):
        await self.conn.write(text + b"\r\n")
        line = await self.conn.read_line()
        if not line.startswith(b"+OK"):
            what = doing or text.split(b" ")[0].decode()
            raise self.conn.fail(E_OPEN_FAILED, "%s refused: %r" % (what, line[:80]))
        return line

    async def capabilities(self):
        """CAPA's list, or [] where the server has no CAPA."""
        await self.conn.write(b"CAPA\r\n")
        if not (await self.conn.read_line()).startswith(b"+OK"):
            return []
        caps: list = []
        while True:
            line = await self.conn.read_line()
            if line == b".":
                return caps
            if len(caps) < 32:
                caps.append(line.upper())


async def getmail(modem):
    st = modem.settings
    conn, tls = await netconn.open_service(modem, "POP3", _TLS_BY_PORT, 0)
    pop = Pop3(conn)
    try:
        greeting = await conn.read_line()
        if not greeting.startswith(b"+OK"):
            raise conn.fail(E_OPEN_FAILED, "greeting: %r" % greeting[:80])
        if tls != 1 and tls != 3:
            if b"STLS" in await pop.capabilities():
                await pop.command(b"STLS")
                conn.start_tls()
            elif tls == 2:
                raise conn.fail(E_OPEN_FAILED, "STLS required (AT#POP3TLS) and not offered")
        user = st.get("POP3UN")
        await pop.command(b"USER " + user.encode())
        await pop.command(b"PASS " + st.get("POP3PW").encode(), "PASS (user %r)" % user)
        stat = await pop.command(b"STAT")
        count = stat.split()[1] if len(stat.split()) > 1 else b"0"
        if count == b"0":
            modem.log("pop3: no mail")
            await quit(pop)
            modem.interp.result(results.NO_MAIL)
            return None  # the line's OK follows
        await pop.command(b"RETR 1")
    except BaseException:
        conn.close()
        raise
    modem.log("pop3: %s messages, relaying the first" % count.decode())
    modem.session = Relay(modem, pop, st.get("POP3HEADERMODE") == 1)
    return results.MAIL


async def quit(pop):
    try:
        await pop.command(b"QUIT")
    finally:
        pop.conn.close()


class Relay(netconn.Service):
    """The data-mode service of AT#GETMAIL: the RETR data to the device, then DELE and QUIT."""

    kind = "pop3"

    def __init__(self, modem, pop, headers):
        super().__init__(modem, pop.conn)
        self.pop = pop
        self.skipping = not headers  # POP3HEADERMODE 0: the header lines are not sent
        self.tail = b"\r\n"  # the +OK line's end: a message may end at once with ".\r\n"

    def stop(self):
        self.conn.close()  # a reset: the next read fails, and the device gets its answer

    async def run(self, first):
        modem = self.modem
        fmt = modem.interp.fmt
        try:
            await self.relay()
        except CmdError as e:
            self.conn.close()
            self.ended("failed (%s)" % e.code)
            # the device still gets an end it can find, then the error (§3.2)
            await modem.send(b"\r\n.\r\n" + fmt.error(e.code))
            return first
        try:
            await self.pop.command(b"DELE 1")
        except CmdError:  # delivered already: only logged (§3.3)
            modem.log("pop3: DELE failed, the message stays on the server")
        try:
            await quit(self.pop)
        except CmdError:
            pass
        self.ended("mail delivered")
        await modem.send(fmt.result(results.OK))
        return first

    async def relay(self):
        modem = self.modem
        buf = modem.peer_buf
        mv = memoryview(buf)
        while True:
            try:
                n = await self.conn.readinto(mv)
            except OSError as e:
                raise self.conn.fail(self.conn.lost(), "read failed: %r" % (e,))
            if not n:
                raise self.conn.fail(self.conn.lost(E_PEER_CLOSED), "closed during the message")
            window = self.tail + bytes(mv[:n])  # (at most 4 bytes held from the last chunk)
            k = window.find(_END)
            end = k + 5 if k >= 0 else len(window)
            await self.forward(window, len(self.tail), end)
            if k >= 0:
                if end < len(window):
                    modem.log("pop3: %d bytes after the message ignored" % (len(window) - end))
                return
            self.tail = window[-4:]

    async def forward(self, window, start, end):
        """Send window[start:end] to the device, less the headers while they are skipped."""
        if self.skipping:
            k = window.find(_HEADERS_END, max(start - 3, 0), end)
            if k < 0:
                e = window.find(_END, 0, end)  # a message without a body: only its end
                if e < 0:
                    return
                k = e - 2
            self.skipping = False
            start = max(start, k + 4)
            if start > end:
                return
        if end > start:
            data = memoryview(window)[start:end]
            self.to_device += len(data)
            await self.modem.send(data)
