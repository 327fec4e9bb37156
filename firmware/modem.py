"""The modem engine: command mode, listening, and the data-mode bridge, on MicroPython asyncio.

One object owns the state. In command mode a task reads the UART and feeds the interpreter.
A session (AT#OTCP, or a peer accepted while listening) takes the UART over: one task moves
device bytes to the socket, one moves socket bytes to the device, and the session ends with
the messages of the dialect (spec §7). Every buffer is bounded: a side that cannot take more
simply stops the other side from being read (backpressure), so nothing is dropped and memory
does not grow with the transfer.

The UART and network come from the board (see docs/architecture.md, "The board contract").
"""

import asyncio

# asyncio loads these from its submodules on first use: load them now, while the heap is still
# in one piece, not in the middle of a session.
asyncio.Event, asyncio.Lock, asyncio.wait_for_ms  # noqa: B018

import aio
import databuf
import dle
import results
import settings as cfg
from atline import LineAssembler
from compat import const, ticks_diff, ticks_ms
from interpreter import (
    E_ALREADY_UP,
    E_BUSY,
    E_DNS,
    E_NOT_ACTIVE,
    E_OPEN_FAILED,
    E_VALUE,
    CmdError,
    Interpreter,
)
from log import Log
from neterr import BearerError, ResolveError

ETX = b"\x03"
WIND_READY = b"\r\n+WIND: 4\r\n"  # Wavecom "ready" URC at boot and after a reset
ANY_PEER = "255.255.255.255"

# A constant named with a leading underscore is folded into the code by MicroPython's compiler
# and takes no slot, so no RAM, in the module's globals.
_CONNECT_TIMEOUT_MS = const(8000)  # below the shortest OTCP timeout of real clients (10 s)
_CHECK_MS = const(1000)  # how often a session checks idle timeout and link state

# Why a session ended
_END_ETX = const(0)  # the device sent a lone ETX
_END_FIN = const(1)  # the peer closed
_END_RESET = const(2)  # the peer reset, or a socket error
_END_IDLE = const(3)  # no traffic for TCPINACTIVITYTIMER seconds
_END_LINK = const(4)  # the bearer went down
_END_LOCAL = const(5)  # closed by the modem itself (DTR drop, reset)

_E_PEER_CLOSED = const(37966)
_E_LINK_LOST = const(35841)


class TcpLink:
    """The peer side of a TCP session: a connected non-blocking socket."""

    segment = databuf.SEGMENT  # a full segment goes at once, whatever TCPTXDELAY

    def __init__(self, sock):
        self.sock = sock

    async def send(self, data):
        await aio.write_all(self.sock, data)

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
    """One session in data mode: the bridge between the UART and a peer link (TCP or UDP)."""

    def __init__(self, modem, link, dle_mode, tx_delay, idle_s=0):
        self.modem = modem
        self.link = link
        self.dle_mode = dle_mode
        self.tx_delay = tx_delay
        self.idle_ms = idle_s * 1000
        self.unescaper = dle.Unescaper()
        # Device bytes not yet sent, in the modem's buffer (flushed at a segment, so one more
        # chunk always fits).
        self.pmv = modem.pending_mv
        self.plen = 0
        self.since = ticks_ms()  # when the first pending byte arrived (TCPTXDELAY)
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

    async def run(self, first):
        """Bridge until the session ends; return the bytes that are AT input again."""
        modem = self.modem
        up = asyncio.create_task(self.guarded(self.pump_device_to_peer(first), "device->peer"))
        down = asyncio.create_task(self.guarded(self.pump_peer_to_device(), "peer->device"))
        drops = modem.dtr_drops()
        while not self.done.is_set():
            try:
                await asyncio.wait_for_ms(self.done.wait(), _CHECK_MS)
            except asyncio.TimeoutError:
                if modem.dtr_drops() != drops and modem.settings.profile["D"]:
                    self.end(_END_LOCAL)  # AT&D1/&D2: dropping DTR closes the session
                elif not modem.net.is_up():
                    self.end(_END_LINK)
                elif self.idle_ms and ticks_diff(ticks_ms(), self.last_activity) > self.idle_ms:
                    self.end(_END_IDLE)
        # Stop both pumps; holding the UART lock means neither is half-way through a write
        # to the device.
        async with modem.write_lock:
            up.cancel()
            down.cancel()
        await asyncio.sleep_ms(0)  # let the cancellations land
        if self.reason == _END_FIN and self.plen:
            try:  # the peer only half-closed, perhaps: hand over what is ready, best effort
                self.link.sock.write(self.pmv[: self.plen])
            except OSError:
                pass
        self.link.close()
        modem.log(
            "session end %r: %d B to peer, %d B to device"
            % (self.reason, self.to_peer, self.to_device)
        )
        await modem.send(self.closing_message())
        return self.rest

    def closing_message(self):
        fmt = self.modem.interp.fmt
        reason = self.reason
        if reason == _END_ETX or reason == _END_LOCAL:
            return fmt.result(results.SOCKET_CLOSED) + fmt.result(results.OK)
        prefix = ETX if self.dle_mode else b""
        if reason == _END_FIN:  # (TCP only: UDP has no FIN)
            return prefix + fmt.result(results.SOCKET_CLOSED)
        code = _E_LINK_LOST if reason == _END_LINK else _E_PEER_CLOSED
        return prefix + fmt.error(code)

    async def flush(self):
        """Send the pending device bytes to the peer (waits while the peer is slow)."""
        n = self.plen
        await self.link.send(self.pmv[:n])
        self.plen = 0
        self.to_peer += n
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
            self.end(_END_RESET)

    async def close_from_device(self):
        if self.plen:
            await self.flush()
        self.end(_END_ETX)

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
            spins += 1
            if not spins & 15:  # data keeps coming: let the other direction have a turn
                await asyncio.sleep_ms(0)
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
        spins = 0
        while True:
            n = await link.recv(buf)
            if n is None:
                continue
            if n == 0:
                self.end(_END_FIN)
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


class Listener:
    """AT#LTCPSTART: accept the first allowed peer on TCPPORT, refuse the others."""

    def __init__(self, modem, sock, profile, allowed):
        self.modem = modem
        self.sock = sock
        self.profile = profile
        self.allowed = allowed
        self.refused = 0
        self.task = None

    def close(self):
        if self.task is not None:
            self.task.cancel()
        if self.sock is not None:
            self.sock.close()

    def rearm(self):
        port = self.modem.settings.get("TCPPORT", self.profile)
        self.sock.close()  # first: a port takes one listener
        try:
            self.sock = self.modem.net.listen(port)
        except OSError as e:
            self.modem.log("re-listen on %d failed: %r" % (port, e))
            self.sock = None
            self.modem.listener = None  # cannot listen any more: say so in AT#VLOG, unlock
            self.task = None
            return False
        self.modem.log("listening again on %d" % port)
        return True

    async def run(self):
        modem = self.modem
        net = modem.net
        epoch = net.epoch() if hasattr(net, "epoch") else 0
        while True:
            try:
                await asyncio.wait_for_ms(aio.readable(self.sock), _CHECK_MS)
            except asyncio.TimeoutError:
                if hasattr(net, "epoch") and net.epoch() != epoch and net.is_up():
                    epoch = net.epoch()  # the link came back: listen on a fresh socket
                    if not self.rearm():
                        return
                continue
            try:
                sock, ip = net.accept(self.sock)
            except OSError:
                continue  # the caller went away before we took it
            if self.allowed != ANY_PEER and ip != self.allowed:
                sock.close()
                self.refused += 1
                modem.log("refused %s (%d so far)" % (ip, self.refused))
                continue
            modem.log("accepted %s" % ip)
            await modem.accept_session(self, modem.tcp_session(sock, self.profile))
            return


class Modem:
    """The modem application. `uart` and `net` follow the board contract; `state_dir` holds
    the settings file; `board` (optional) receives serial-port and modem-line changes;
    `buffers` (databuf.Buffers, made with the ESP32's read size when not given) are the data
    path's buffers."""

    def __init__(self, uart, net, state_dir, board=None, buffers=None, console=print):
        if buffers is None:
            buffers = databuf.Buffers()
        self.uart = uart
        self.net = net
        self.board = board
        self.chunk = buffers.chunk
        self.device_buf = buffers.device
        self.peer_buf = buffers.peer
        self.escape_buf = buffers.escaped
        self.pending_mv = buffers.pending
        self.log = Log(console=console)
        self.settings = cfg.Settings(cfg.Store(state_dir))
        for problem in self.settings.problems:
            self.log(problem)
        self.lines = LineAssembler()
        self.out_parts: list = []
        self.interp = Interpreter(self.settings, self, self.out_parts.append)
        self.write_lock = asyncio.Lock()
        self.listener = None
        self.session = None
        self.command_task = None
        self.command_busy = False

    # -- UART output ---------------------------------------------------------------------------
    async def send(self, data):
        if data:
            async with self.write_lock:
                await aio.write_all(self.uart, data)

    async def flush_out(self):
        if self.out_parts:
            data = b"".join(self.out_parts)
            self.out_parts.clear()
            await self.send(data)

    # -- main loop -----------------------------------------------------------------------------
    async def run(self):
        p = self.settings.profile  # the serial port as saved with AT&W, before anything is said
        self.apply_serial(p["IPR"], p["IFC"][0] == 2, p["IFC"][1] == 2)
        self.set_dcd(False)
        await self.send(WIND_READY)
        rest = b""
        while True:
            self.command_task = asyncio.create_task(self.command_mode(rest))
            try:
                rest = await self.command_task
            except asyncio.CancelledError:  # a listener handed us a session
                rest = b""
            except Exception as e:  # never let a fault stop the modem: back to command mode
                self.log("command mode fault: %r" % (e,))
                self.lines.reset()
                rest = b""
            self.command_task = None
            session = self.session
            if session is None:
                continue
            self.set_dcd(True)
            try:
                rest = await session.run(rest)
            except Exception as e:
                self.log("session fault: %r" % (e,))
                rest = b""
            finally:
                self.session = None
                self.set_dcd(False)

    async def command_mode(self, data):
        buf = bytearray(256)
        while True:
            if data:
                self.command_busy = True
                try:
                    data = await self.command_input(data)
                finally:
                    self.command_busy = False
                if self.session is not None:
                    return data
            await aio.readable(self.uart)
            n = self.uart.readinto(buf)
            data = bytes(buf[:n]) if n else b""

    async def command_input(self, data):
        """Process command-mode bytes; return what is left when a session starts."""
        i = 0
        end = len(data)
        while i < end:
            stop = end
            if self.listener is not None:  # an ETX aborts listening (spec §6)
                k = data.find(ETX, i)
                if k >= 0:
                    stop = k
            while i < stop:
                echo, line, i = self.lines.feed(data[:stop], i)
                if echo and self.interp.echo:
                    self.out_parts.append(echo)
                if line is not None:
                    await self.flush_out()
                    try:
                        after = await self.interp.execute_line(line)
                        await self.flush_out()
                        if after is not None:
                            r = after()
                            if r is not None:
                                await r
                    except Exception as e:  # a fault, not bad input: answer, log, go on
                        self.log("command fault: %r" % (e,))
                        self.out_parts.clear()
                        await self.send(self.interp.fmt.result(results.ERROR))
                    if self.session is not None:
                        return data[i:]
            await self.flush_out()
            if stop < end:
                i = stop + 1
                if self.listener is not None:
                    self.close_listener()
                    self.lines.reset()
                    await self.send(self.interp.fmt.result(results.OK))
        return b""

    async def accept_session(self, listener: "Listener", session: Session):
        """A listener found its peer: take the UART from command mode, announce data mode.
        The listener stays in place (settings locked, no second session) until the command
        being executed has finished."""
        try:
            while self.command_busy:
                await asyncio.sleep_ms(5)
        except asyncio.CancelledError:  # AT#LTCPSTOP or a reset stopped the listener meanwhile
            session.link.close()
            raise
        if self.listener is not listener or self.command_task is None:
            session.link.close()  # listening was stopped meanwhile (AT#LTCPSTOP, reset)
            return
        if self.session is not None:
            session.link.close()  # listening was stopped meanwhile (AT#LTCPSTOP, reset)
            return
        # The port stops listening as the session opens: later callers are refused.
        listener.task = None
        self.close_listener()
        self.session = session
        self.command_task.cancel()
        self.lines.reset()
        await self.send(self.interp.fmt.result(results.WAITING_FOR_DATA))

    def set_dcd(self, on):
        """DCD follows the session with AT&C1, stays on with AT&C0."""
        if self.board is not None and hasattr(self.board, "set_dcd"):
            self.board.set_dcd(on or self.settings.profile["C"] == 0)

    def dtr_drops(self):
        """How many times the device dropped DTR (0 where the board has no DTR input)."""
        if self.board is not None and hasattr(self.board, "dtr_drops"):
            return self.board.dtr_drops()
        return 0

    # -- what the interpreter asks of the modem ------------------------------------------------
    def busy(self):
        return self.listener is not None or self.session is not None

    def bearer_is_up(self):
        return self.net.is_up()

    async def bearer_up(self):
        if self.net.is_up():
            raise CmdError(E_ALREADY_UP)
        try:
            ip = await self.net.up()
        except BearerError as e:
            self.log("bearer failed: %d %s" % (e.code, e.reason))
            raise CmdError(e.code)
        self.log("bearer up %s" % ip)
        return ip

    async def bearer_down(self):
        self.close_listener()
        self.net.down()
        self.log("bearer down")

    def bearer_state(self):
        return self.net.state()

    def addresses(self):
        gateway = self.net.gateway() if hasattr(self.net, "gateway") else "0.0.0.0"
        return self.net.ip(), "0.0.0.0", gateway

    def attached(self):
        return self.net.attached() if hasattr(self.net, "attached") else True

    def signal_quality(self):
        """AT+CSQ from the radio's RSSI (dBm); a wired host network reports full strength."""
        if not hasattr(self.net, "rssi"):
            return 31
        rssi = self.net.rssi()
        if rssi is None:
            return 99
        return max(2, min(31, (rssi + 113) // 2))

    def check_can_open(self):
        if not self.net.is_up():
            raise CmdError(E_NOT_ACTIVE)
        if self.busy():
            raise CmdError(E_BUSY)

    async def open_tcp(self, profile):
        self.check_can_open()
        host = self.settings.get("TCPSERV", profile)
        port = self.settings.get("TCPPORT", profile)
        if not host or not port:
            raise CmdError(E_VALUE)
        # The board honours the timeout; the engine does too, should a board hang.
        connecting = self.net.connect(host, port, _CONNECT_TIMEOUT_MS)
        what = "connect %s:%d" % (host, port)
        sock = await self.opened(what, asyncio.wait_for_ms(connecting, _CONNECT_TIMEOUT_MS + 500))
        self.log("connected to %s:%d" % (host, port))
        self.session = self.tcp_session(sock, profile)

    async def opened(self, what, opening):
        """Await a board's connect() or udp(); its failures become the dialect's errors."""
        try:
            return await opening
        except asyncio.TimeoutError:
            self.log("%s timed out" % what)
        except ResolveError:
            self.log("%s: cannot resolve" % what)
            raise CmdError(E_DNS)
        except OSError as e:
            self.log("%s failed: %r" % (what, e))
        raise CmdError(E_OPEN_FAILED)

    def tcp_session(self, sock, profile):
        st = self.settings
        return Session(
            self,
            TcpLink(sock),
            st.get("DLEMODE", profile) == 1,
            st.get("TCPTXDELAY", profile),
            st.get("TCPINACTIVITYTIMER", profile),
        )

    async def open_udp(self):
        """AT#OUDP (spec §8): the UDP code lives in udp.py, loaded on first use (not when the
        command fails at once: the modem's heap stays flat while AT#OUDP keeps failing)."""
        self.check_can_open()
        import udp

        await udp.open_udp(self)

    async def ping(self):
        """AT#PING: the ICMP code lives in ping.py, loaded on first use (as for AT#OUDP, not
        while the bearer is down)."""
        if not self.net.is_up():
            raise CmdError(E_NOT_ACTIVE)
        import ping

        await ping.run(self)

    async def listen(self, profile):
        self.check_can_open()
        allowed = self.settings.get("TCPSERV", profile)
        port = self.settings.get("TCPPORT", profile)
        if not port or not cfg.is_ipv4(allowed):  # the filter must be dotted decimal
            raise CmdError(E_VALUE)
        try:
            sock = self.net.listen(port)
        except OSError as e:
            self.log("listen on %d failed: %r" % (port, e))
            raise CmdError(E_OPEN_FAILED)
        listener = Listener(self, sock, profile, allowed)
        self.listener = listener
        listener.task = asyncio.create_task(listener.run())
        self.log("listening on %d for %s" % (port, allowed))

    async def stop_listening(self, profile):
        self.close_listener()

    def close_listener(self):
        if self.listener is not None:
            self.listener.close()
            self.listener = None
            self.log("listening stopped")

    def apply_serial(self, baud, rts, cts):
        if self.board is not None and hasattr(self.board, "apply_serial"):
            self.board.apply_serial(baud, rts, cts)

    async def soft_reset(self):
        """AT+CFUN=1, AT#RESET: back to the state of a fresh boot (settings kept)."""
        self.close_listener()
        if self.net.is_up():
            self.net.down()
        self.settings.restore_profile()
        self.interp.sync_format()
        self.lines.reset()
        if self.board is not None and hasattr(self.board, "reset"):
            self.board.reset()
        self.log("soft reset")
        await self.send(WIND_READY)

    def log_lines(self):
        return self.log.lines()
