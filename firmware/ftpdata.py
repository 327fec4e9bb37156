"""The transfers of AT#FTPGET and AT#FTPPUT: data-mode services (multitech-mail-ftp.md §4.2-4.4).

    FTPGET: the file DLE-escaped to the device (always, whatever DLEMODE), a lone ETX, OK
    FTPPUT: the device's DLE-escaped bytes up to a lone ETX, the ETX echoed at once, OK once
            the server confirmed (226); a type A upload has bit 7 of every byte cleared

Both stream through the modem's buffers with the DLE kernels of dle.py: a file of any size
passes in bounded memory, paced by the slower side.
"""

import asyncio

import aio
import dle
import ftp
import netconn
import results
from compat import const, ticks_diff, ticks_ms
from errors import E_PEER_CLOSED, E_SERVER_SILENT, CmdError

ETX = b"\x03"
_CHECK_MS = const(1000)  # while the device is silent: are the server's connections still there?
_DRAIN_QUIET_MS = const(2000)  # after a failure, serial bytes are dropped until this quiet


_WIDE = const(256)
_MASK = int.from_bytes(b"\x7f" * _WIDE, "little")


def clear_bit7(mv, k):
    """Clear bit 7 of mv[:k]: 256 bytes at a time as one big integer (C speed; a loop per
    byte is six times slower on the VM), the tail byte by byte."""
    i = 0
    while i + _WIDE <= k:
        wide = int.from_bytes(mv[i : i + _WIDE], "little") & _MASK
        mv[i : i + _WIDE] = wide.to_bytes(_WIDE, "little")
        i += _WIDE
    while i < k:
        mv[i] &= 0x7F
        i += 1


class Transfer(netconn.Service):
    def __init__(self, modem, ctrl, data):
        super().__init__(modem, data)
        self.ftp = ctrl
        self.data = data
        ctrl.conn.begun()
        self.stopped = False
        self.waiting = None  # since when the pump waits for the server (ticks_ms), if it does

    def stop(self):
        self.stopped = True
        self.data.close()  # a reset: the transfer fails at its next step

    def close(self):
        self.data.close()
        self.ftp.conn.close()

    async def supervised(self, pump):
        """Run the pump (its result), checking each second what it cannot see while it waits:
        its own waits have no timeout, as a socket session's (a timed wait per read or write,
        a task each, halved the rate on the VM)."""
        done = asyncio.Event()
        result = []
        failed = []

        async def guard():
            try:
                result.append(await pump)
            except CmdError as e:
                failed.append(e)
            finally:
                done.set()

        task = asyncio.create_task(guard())
        while not done.is_set():
            try:
                await asyncio.wait_for_ms(done.wait(), _CHECK_MS)
                break
            except asyncio.TimeoutError:
                pass
            try:
                self.watch()
            except CmdError as e:
                failed.append(e)
                async with self.modem.write_lock:  # (not half-way through a write)
                    task.cancel()
                break
        if failed:
            raise failed[0]
        return result[0] if result else None

    def watch(self):
        """Each second: the link, and a server that has not moved for SILENCE_MS (37964)."""
        data = self.data
        if not self.modem.net.is_up():
            raise data.fail(data.lost(), "link lost during the transfer")
        waiting = self.waiting
        if waiting is not None and ticks_diff(ticks_ms(), waiting) > data.silence_ms:
            raise data.fail(E_SERVER_SILENT, "no progress for %d s" % (data.silence_ms // 1000))


class Download(Transfer):
    """AT#FTPGET after Ok_Info_DataBegin. The host cannot stop it (§4.2)."""

    kind = "ftp get"

    async def run(self, first):
        modem = self.modem
        fmt = modem.interp.fmt
        try:
            await self.supervised(self.pump())
            self.data.close()
            await ftp.finish(self.ftp)
        except CmdError as e:
            self.close()
            self.ended("failed (%s)" % e.code)
            await modem.send(ETX + fmt.error(e.code))  # the lone ETX ends data mode first
            return first
        self.ended("file received")
        await modem.send(ETX + fmt.result(results.OK))
        return first  # (the host's bytes meanwhile are command input; an echoed ETX is dropped)

    async def pump(self):
        modem = self.modem
        buf = modem.peer_buf
        escaped = modem.escape_buf
        mv = memoryview(escaped)
        data = self.data
        sock = data.sock
        while True:
            try:
                n = sock.readinto(buf)
            except (OSError, ValueError) as e:
                raise data.broken(e, "read")
            if n is None:
                self.waiting = ticks_ms()
                await aio.readable(sock)
                self.waiting = None
                continue
            if not n:
                return
            data.fresh = False
            await modem.send(mv[: dle.escape_into(buf, n, escaped)])
            self.to_device += n


class Upload(Transfer):
    """AT#FTPPUT after Ok_Info_WaitingForData, up to the device's lone ETX."""

    kind = "ftp put"

    def __init__(self, modem, ctrl, data, binary):
        super().__init__(modem, ctrl, data)
        self.binary = binary
        self.unescaper = dle.Unescaper()

    async def run(self, first):
        modem = self.modem
        fmt = modem.interp.fmt
        self.drops = modem.dtr_drops()
        self.on_uart = False  # the pump waits for the device's bytes
        try:
            rest = await self.supervised(self.pump(first))
        except CmdError as e:  # during the transfer: the error alone, no ETX (§4.3)
            self.close()
            self.ended("failed (%s)" % e.code)
            await modem.send(fmt.error(e.code))
            return await self.drop_rest()
        await modem.send(ETX)  # the closing ETX is echoed at once
        try:
            self.data.close()  # the end of the file for the server
            await ftp.finish(self.ftp)
        except CmdError as e:
            self.close()
            self.ended("not confirmed (%s)" % e.code)
            await modem.send(fmt.error(e.code))
            return rest
        self.ended("file sent")
        await modem.send(fmt.result(results.OK))
        return rest

    async def send(self, mv, k):
        if not k:
            return
        if not self.binary:  # 7-bit NVT-ASCII, as the original modem sent it (§4.1)
            clear_bit7(mv, k)
        self.to_peer += k
        data = self.data
        sock = data.sock
        off = 0
        while off < k:
            try:
                n = sock.write(mv[off:k])
            except (OSError, ValueError) as e:
                raise data.broken(e, "write")
            if n:
                off += n
                data.fresh = False
            else:
                self.waiting = ticks_ms()
                await aio.writable(sock)
                self.waiting = None

    async def pump(self, first):
        modem = self.modem
        uart = modem.uart
        buf = modem.device_buf
        out = modem.pending_mv
        if first:
            payload, closed, rest = self.unescaper.feed(first)
            n = len(payload)
            out[:n] = payload
            await self.send(out, n)
            if closed:
                return rest
        while True:
            n = uart.readinto(buf)
            if n:
                k, closed, rest_at = dle.unescape_into(self.unescaper, buf, n, out, 0)
                await self.send(out, k)
                if closed:
                    return bytes(buf[rest_at:n])
                continue
            self.on_uart = True
            await aio.readable(uart)
            self.on_uart = False

    def watch(self):
        super().watch()
        self.check(self.drops)

    def check(self, drops):
        """Each second: a DTR drop or a reset; and while the device is silent, the server's
        connections (a 421, or closed; the data connection is left alone while the pump is
        writing to it)."""
        modem = self.modem
        conn = self.ftp.conn
        if self.stopped or modem.dtr_drops() != drops and modem.settings.profile["D"]:
            raise conn.fail(E_PEER_CLOSED, "upload aborted by the device (DTR) or a reset")
        if not self.on_uart:
            return
        for c in (conn, self.data):
            try:
                n = c.sock.readinto(bytearray(64))
            except OSError as e:
                raise conn.fail(E_PEER_CLOSED, "server connection failed: %r" % (e,))
            if n is not None:  # the server spoke (a timeout 421) or closed a connection
                raise conn.fail(E_PEER_CLOSED, "server ended the session during the upload")

    async def drop_rest(self):
        """After a failure: serial bytes are dropped until the host's lone ETX or 2 s of quiet;
        what follows that ETX is command input again."""

        def found(buf, n):
            _payload, closed, rest = self.unescaper.feed(bytes(buf[:n]))
            return rest if closed else None

        modem = self.modem
        return await aio.read_until_quiet(modem.uart, modem.device_buf, _DRAIN_QUIET_MS, found)
