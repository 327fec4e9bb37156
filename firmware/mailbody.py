"""The body of AT#PUTMAIL: serial bytes until CR LF . CR LF, made fit for a server of today
(multitech-mail-ftp.md §2.3, §8.2); the data-mode service the engine runs after
Ok_Info_WaitingForData.

Only the exact 5 bytes CR LF . CR LF end the body; ETX and DLE are data. On the way out every
bare LF or bare CR becomes CR LF, a line starting with "." gets another "." (RFC 5321 4.5.2,
so the server keeps it), a line over 998 octets is broken, and the host's first line decides
whether the modem's header block needs a blank line to close it (the U header rule). The
body streams through the modem's buffers: nothing grows with the size of the mail.
"""

import asyncio

import aio
import netconn
import results
import smtp
from compat import const, ticks_diff, ticks_ms
from errors import E_PEER_CLOSED, CmdError

_END = b"\r\n.\r\n"
_LINE_MAX = const(998)  # octets per line on the wire (RFC 5321), CR LF not counted
_FIRST_LINE_WAIT_MS = const(1000)  # the host's first line is held this long at most (§2.3)
_CHECK_MS = const(1000)  # while the host is silent: is the server still there?
_DRAIN_QUIET_MS = const(2000)  # after a failure, serial bytes are dropped until this quiet

_HOLD_FIRST = const(0)  # the host's first line is being held
_HEADERS = const(1)  # the host writes header fields of its own
_BODY = const(2)


def is_header_field(line):
    """`^[!-9;-~]+:[ \t]` (§2.3): a field name, a colon, a blank."""
    k = line.find(b":")
    if k <= 0 or k + 1 >= len(line) or line[k + 1] not in (32, 9):
        return False
    for c in line[:k]:
        if c < 33 or c > 126 or c == 58:
            return False
    return True


class Normalizer:
    """Raw body bytes (no terminator in them) -> wire bytes in `out`."""

    def __init__(self):
        self.out = bytearray()
        self.state = _HOLD_FIRST
        self.held = bytearray()  # the first line, while it is held
        self.cr = False  # the last byte was a CR: an LF first in the next chunk belongs to it
        self.bol = True  # at the beginning of a line
        self.line_len = 0
        self.field = bytearray()  # the start of the current header line (_HEADERS)
        self.content_type = False
        self.mime_version = False

    def feed(self, data, i, n):
        """Take data[i:n] (bytes or bytearray)."""
        if self.state == _HOLD_FIRST:
            self.held += data[i:n]
            if self.held.find(b"\n") < 0 and len(self.held) <= _LINE_MAX:
                return
            self.decide()
        else:
            self.text(data, i, n)

    def decide(self):
        """The first line is complete (or long enough, or the host paused): classify it."""
        held = self.held
        self.held = bytearray()
        line = held[: held.find(b"\n")] if b"\n" in held else held
        line = line.rstrip(b"\r")
        if not line:
            self.state = _BODY  # the host closes the header block itself
        elif is_header_field(line):
            self.state = _HEADERS  # the host adds fields; its own blank line closes them
        else:
            self.out += b"\r\n"  # raw data: close the modem's headers first
            self.state = _BODY
        self.text(held, 0, len(held))

    def text(self, data, i, n):
        if self.cr:
            self.cr = False
            if n and data[0] == 10:  # the LF of a CR LF split between chunks
                i = 1
        cr_at = data.find(b"\r", i, n)
        lf_at = data.find(b"\n", i, n)
        while i < n:
            if cr_at < 0:
                j = lf_at
            elif lf_at < 0:
                j = cr_at
            else:
                j = min(cr_at, lf_at)
            if j < 0:
                j = n
            if j > i:
                self.run(memoryview(data)[i:j])
            if j == n:
                return
            self.end_line()
            if data[j] == 13:
                if j + 1 < n:
                    if data[j + 1] == 10:
                        j += 1
                        lf_at = data.find(b"\n", j + 1, n)
                else:
                    self.cr = True
                cr_at = data.find(b"\r", j + 1, n)
            else:
                lf_at = data.find(b"\n", j + 1, n)
            i = j + 1

    def run(self, mv):
        """Bytes of one line (no CR, no LF)."""
        out = self.out
        while len(mv):
            if self.bol:
                self.bol = False
                if mv[0] == 46:  # "."
                    out.append(46)
                    self.line_len += 1
                if self.state == _HEADERS:
                    self.field = bytearray(mv[:14])
            room = _LINE_MAX - self.line_len
            if len(mv) <= room:
                out += mv
                self.line_len += len(mv)
                return
            out += mv[:room]
            out += b"\r\n"  # a line too long for the server: broken here
            self.bol = True
            self.line_len = 0
            mv = mv[room:]

    def end_line(self):
        if self.state == _HEADERS:
            if self.bol:  # an empty line: the end of the host's header fields
                if self.content_type and not self.mime_version:
                    self.out += b"MIME-Version: 1.0\r\n"  # (§8.2)
                self.state = _BODY
            else:
                name = bytes(self.field).lower()
                if name.startswith(b"content-type:"):
                    self.content_type = True
                elif name.startswith(b"mime-version:"):
                    self.mime_version = True
        self.out += b"\r\n"
        self.bol = True
        self.line_len = 0

    def finish(self):
        """The terminator came: what is held goes out; the body ends at a line end."""
        if self.state == _HOLD_FIRST:
            self.decide()
        if not self.bol:
            self.end_line()


class MailBody(netconn.Service):
    """The data-mode service of AT#PUTMAIL."""

    kind = "smtp"

    def __init__(self, modem, mail):
        super().__init__(modem, mail.conn)
        self.smtp = mail
        self.norm = Normalizer()
        self.win = bytearray(len(modem.device_buf) + 4)  # the held bytes + one chunk
        self.held = 0  # bytes at the start of win that may be the start of the terminator
        self.stopped = False

    def stop(self):
        self.stopped = True

    def take(self, data, n):
        """Raw serial bytes data[:n] in; (True, the bytes after it) once the terminator came."""
        win = self.win
        h = self.held
        end = h + n
        win[h:end] = data[:n]  # (no allocation per chunk: win is made once)
        k = win.find(_END, 0, end)
        if k >= 0:
            self.norm.feed(win, 0, k + 2)  # its CR LF ends the last line
            self.norm.finish()
            return True, bytes(win[k + 5 : end])
        keep = 0
        for m in (4, 3, 2, 1):  # the longest end that could be the start of _END
            if end >= m and win[end - m : end] == _END[:m]:
                keep = m
                break
        self.norm.feed(win, 0, end - keep)
        win[:keep] = win[end - keep : end]
        self.held = keep
        return False, b""

    async def send_out(self):
        out = self.norm.out
        if out:
            self.to_peer += len(out)
            await self.conn.write(out)
            out[:] = b""

    async def run(self, first):
        modem = self.modem
        fmt = modem.interp.fmt
        rest = b""
        try:
            done, rest = self.take(first, len(first)) if first else (False, b"")
            if not done:
                done, rest = await self.pump()
        except CmdError as e:  # in the body: the error alone, then the host's rest is dropped
            self.conn.close()
            self.ended("failed (%s)" % e.code)
            await modem.send(fmt.error(e.code))
            return await self.drop_rest()
        try:
            await self.send_out()
            await self.conn.write(b".\r\n")  # after the last line's CR LF: CR LF . CR LF
            await smtp.finish(modem, self.smtp)
        except CmdError as e:  # refused at the end: the host's bytes after it are commands
            self.conn.close()
            self.ended("refused (%s)" % e.code)
            await modem.send(fmt.error(e.code))
            return rest
        self.ended("mail sent")
        await modem.send(fmt.result(results.OK))
        return rest

    async def pump(self):
        modem = self.modem
        uart = modem.uart
        buf = modem.device_buf
        drops = modem.dtr_drops()
        since = ticks_ms()
        while True:
            n = uart.readinto(buf)
            if n:
                since = ticks_ms()
                done, rest = self.take(buf, n)
                if done:
                    return done, rest
                await self.send_out()
                if modem.dtr_drops() != drops:  # (also while the body keeps coming)
                    self.check(drops)
                continue
            hold = self.norm.state == _HOLD_FIRST and self.norm.held
            wait = _FIRST_LINE_WAIT_MS - ticks_diff(ticks_ms(), since) if hold else _CHECK_MS
            try:
                await asyncio.wait_for_ms(aio.readable(uart), max(wait, 0))
                continue
            except asyncio.TimeoutError:
                pass
            if hold:  # the host paused in its first line: decide with what came
                self.norm.decide()
                await self.send_out()
            self.check(drops)

    def check(self, drops):
        """While the host is silent: a DTR drop, a reset, the link or the server gone end it."""
        modem = self.modem
        if self.stopped or modem.dtr_drops() != drops and modem.settings.profile["D"]:
            raise self.conn.fail(E_PEER_CLOSED, "mail aborted by the device (DTR) or a reset")
        if not modem.net.is_up():
            raise self.conn.fail(self.conn.lost(), "link lost during the body")
        try:
            n = self.conn.sock.readinto(bytearray(64))
        except OSError as e:
            raise self.conn.fail(E_PEER_CLOSED, "server connection failed: %r" % (e,))
        if n is not None:  # the server spoke (a timeout 421) or closed: the mail is lost
            raise self.conn.fail(E_PEER_CLOSED, "server ended the session during the body")

    async def drop_rest(self):
        """After a failure in the body: serial bytes are dropped until the host's terminator
        or 2 s of quiet (§2.3); what follows a terminator is command input again."""
        tail = [b""]

        def found(buf, n):
            window = tail[0] + bytes(buf[:n])
            k = window.find(_END)
            if k >= 0:
                return window[k + 5 :]
            tail[0] = window[-4:]
            return None

        modem = self.modem
        return await aio.read_until_quiet(modem.uart, modem.device_buf, _DRAIN_QUIET_MS, found)
