"""The data-mode bridge of a socket session (AT#OTCP, a peer accepted by AT#LTCPSTART, AT#OUDP).

The session takes the UART over: one task moves device bytes to the peer link, one moves the
peer's bytes to the device, and the session ends with the messages of the dialect (spec §7).
Every buffer is bounded: a side that cannot take more stops the other side from being read
(backpressure), so nothing is dropped and memory does not grow with the transfer.

Each byte crosses at most once and in order, whatever ends the session: the device's pending
bytes are tracked by how much of them the peer has taken (`psent`), so what a cancelled flush
already sent is never sent again.

The session reaches the engine only through the `modem` object it is given (its buffers, its
UART output, its log): nothing here imports the engine.
"""

import asyncio

import aio
import databuf
import dle
import results
from compat import const, ticks_diff, ticks_ms
from errors import E_LINK_LOST, E_PEER_CLOSED

ETX = b"\x03"

_CHECK_MS = const(1000)  # how often a session checks idle timeout, link state and DTR
_DRAIN_MS = const(2000)  # how long the device's last bytes may take to reach the peer at the end

# Why a session ended
END_ETX = const(0)  # the device sent a lone ETX
END_FIN = const(1)  # the peer closed (or half-closed: the modem then closes, as the manual says)
END_RESET = const(2)  # the peer reset, or a socket error
END_IDLE = const(3)  # no traffic for TCPINACTIVITYTIMER seconds
END_LINK = const(4)  # the bearer went down
END_LOCAL = const(5)  # closed by the modem itself (DTR drop, reset)

REASONS = ("local ETX", "peer closed", "peer reset", "idle timeout", "link lost", "DTR / reset")


class TcpLink:
    """The peer side of a TCP session: a connected non-blocking socket."""

    kind = "tcp"
    segment = databuf.SEGMENT  # a full segment goes at once, whatever TCPTXDELAY

    def __init__(self, sock, peer=""):
        self.sock = sock
        self.peer = peer

    async def send_some(self, mv):
        """Write some of `mv` (waiting for room); return how many bytes the socket took."""
        while True:
            n = self.sock.write(mv)
            if n:
                return n
            await aio.writable(self.sock)

    async def recv(self, buf):
        """Bytes read into buf: n > 0, 0 at end of stream, None when nothing came."""
        n = self.sock.readinto(buf)  # while data flows, no trip through the poller
        if n is None:
            await aio.readable(self.sock)
            n = self.sock.readinto(buf)
        return n

    def close(self):
        self.sock.close()


class Session:
    """One session in data mode: the bridge between the UART and a peer link (TCP or UDP).

    `rx_hold_ms`: the peer's first bytes wait this long after the session opened (see
    docs/compatibility.md, TCPRXDELAY)."""

    def __init__(self, modem, link, dle_mode, tx_delay, idle_s=0, rx_hold_ms=0):
        self.modem = modem
        self.link = link
        self.kind = link.kind
        self.peer = link.peer
        self.dle_mode = dle_mode
        self.tx_delay = tx_delay
        self.idle_ms = idle_s * 1000
        self.rx_hold_ms = rx_hold_ms
        self.unescaper = dle.Unescaper()
        # Device bytes not yet sent, in the modem's buffer (flushed at a segment, so one more
        # chunk always fits); pmv[psent:plen] is what the peer has not taken yet.
        self.pmv = modem.pending_mv
        self.plen = 0
        self.psent = 0
        self.since = ticks_ms()  # when the first pending byte arrived (TCPTXDELAY)
        self.opened = ticks_ms()
        self.reason = None
        self.rest = b""  # bytes after a closing ETX: AT input again
        self.done = asyncio.Event()
        self.last_activity = ticks_ms()
        self.to_device = 0
        self.to_peer = 0

    def end(self, reason):
        if self.reason is None:
            self.reason = reason
            self.done.set()

    def stop(self):
        """End the session from outside (a reset): like a DTR drop."""
        self.end(END_LOCAL)

    async def run(self, first):
        """Bridge until the session ends; return the bytes that are AT input again."""
        modem = self.modem
        self.opened = ticks_ms()
        up = asyncio.create_task(self.guarded(self.pump_device_to_peer(first), "device->peer"))
        down = asyncio.create_task(self.guarded(self.pump_peer_to_device(), "peer->device"))
        drops = modem.dtr_drops()
        while not self.done.is_set():
            try:
                await asyncio.wait_for_ms(self.done.wait(), _CHECK_MS)
            except asyncio.TimeoutError:
                if modem.dtr_drops() != drops and modem.settings.profile["D"]:
                    self.end(END_LOCAL)  # AT&D1/&D2: dropping DTR closes the session
                elif not modem.net.is_up():
                    self.end(END_LINK)
                elif self.idle_ms and ticks_diff(ticks_ms(), self.last_activity) > self.idle_ms:
                    self.end(END_IDLE)
        # Stop both pumps; holding the UART lock means neither is half-way through a write
        # to the device.
        async with modem.write_lock:
            up.cancel()
            down.cancel()
        await asyncio.sleep_ms(0)  # let the cancellations land
        if self.reason != END_RESET and self.reason != END_LINK:
            await self.drain()
        self.link.close()
        modem.log(
            "session end (%s): %d B to peer, %d B to device"
            % (REASONS[self.reason or 0], self.to_peer, self.to_device)
        )
        modem.session_ended(self)
        await modem.send(self.closing_message())
        return self.rest

    async def drain(self):
        """What the device handed over and the peer has not taken yet goes, once and in order,
        within _DRAIN_MS (a peer that half-closed may still read); the rest is dropped."""
        try:
            await asyncio.wait_for_ms(self.flush(), _DRAIN_MS)
        except Exception as e:  # timed out, or the peer is gone: nothing more can be sent
            self.modem.log("%d B not delivered at the end: %r" % (self.plen - self.psent, e))

    def closing_message(self):
        fmt = self.modem.interp.fmt
        reason = self.reason
        if reason == END_ETX or reason == END_LOCAL:
            return fmt.result(results.SOCKET_CLOSED) + fmt.result(results.OK)
        prefix = ETX if self.dle_mode else b""
        if reason == END_FIN:  # (TCP only: UDP has no FIN)
            return prefix + fmt.result(results.SOCKET_CLOSED)
        code = E_LINK_LOST if reason == END_LINK else E_PEER_CLOSED
        return prefix + fmt.error(code)

    async def flush(self):
        """Send the pending device bytes to the peer (waits while the peer is slow)."""
        link = self.link
        pmv = self.pmv
        while self.psent < self.plen:
            n = await link.send_some(pmv[self.psent : self.plen])
            self.psent += n
            self.to_peer += n
        self.plen = self.psent = 0
        self.last_activity = ticks_ms()

    def take(self, data):
        """Queue bytes the device sent; True when they held the closing lone ETX."""
        if self.dle_mode:
            payload, closed, self.rest = self.unescaper.feed(data)
        else:
            payload, closed = data, False
        n = len(payload)
        if n:
            if not self.plen:
                self.since = ticks_ms()
            self.pmv[self.plen : self.plen + n] = payload
            self.plen += n
        return closed

    async def guarded(self, pump, label):
        """Run a pump; an OSError from the peer, or any fault, ends the session cleanly (ETX +
        37966) instead of leaving it hanging."""
        try:
            await pump
        except Exception as e:
            self.modem.log("%s: %r" % (label, e))
            self.end(END_RESET)

    async def close_from_device(self):
        await self.flush()
        self.end(END_ETX)

    async def pump_device_to_peer(self, first):
        if first and self.take(first):  # bytes that came with the command line
            await self.close_from_device()
            return
        modem = self.modem
        uart = modem.uart
        buf = modem.device_buf
        mv = memoryview(buf)
        segment = self.link.segment
        spins = 0
        while True:
            plen = self.plen
            if plen and (plen >= segment or ticks_diff(ticks_ms(), self.since) >= self.tx_delay):
                await self.flush()
                continue
            spins += 1
            if not spins & 15:  # data keeps coming: let the other direction have a turn
                await asyncio.sleep_ms(0)  # (before a read: nothing read is held over a yield)
            if self.dle_mode:
                n = uart.readinto(buf)
            else:  # transparent: read straight into the pending buffer
                n = uart.readinto(self.pmv[plen:])
            if not n:
                if not plen:
                    await aio.readable(uart)
                    continue
                try:  # wait for more, but not past the TCPTXDELAY deadline
                    left = self.tx_delay - ticks_diff(ticks_ms(), self.since)
                    await asyncio.wait_for_ms(aio.readable(uart), max(left, 0))
                except asyncio.TimeoutError:
                    pass
                continue
            if self.dle_mode:
                k, closed, rest_at = dle.unescape_into(self.unescaper, buf, n, self.pmv, plen)
                if k:
                    if not plen:
                        self.since = ticks_ms()
                    self.plen = plen + k
                if closed:
                    self.rest = bytes(mv[rest_at:n])
                    await self.close_from_device()
                    return
            else:
                if not plen:
                    self.since = ticks_ms()
                self.plen = plen + n

    async def pump_peer_to_device(self):
        link = self.link
        modem = self.modem
        buf = modem.peer_buf
        mv = memoryview(buf)
        escaped = modem.escape_buf
        escaped_mv = memoryview(escaped)
        hold = self.rx_hold_ms - ticks_diff(ticks_ms(), self.opened)
        if hold > 0:  # the peer's first bytes wait in its socket (see docs/compatibility.md)
            await asyncio.sleep_ms(hold)
        spins = 0
        while True:
            n = await link.recv(buf)
            if n is None:
                continue
            if n == 0:
                self.end(END_FIN)
                return
            if self.dle_mode:
                data = escaped_mv[: dle.escape_into(buf, n, escaped)]
            else:
                data = mv[:n]
            await modem.send(data)
            self.to_device += n
            self.last_activity = ticks_ms()
            spins += 1
            if not spins & 15:  # data keeps coming: let the other direction have a turn
                await asyncio.sleep_ms(0)
