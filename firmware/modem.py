"""The modem engine: command mode, listening, and the data-mode services, on MicroPython asyncio.

One object owns the state. In command mode a task reads the UART and feeds the interpreter.
A data-mode service takes the UART over until it ends: a socket session (bridge.py: AT#OTCP, a
peer accepted by a listener, AT#OUDP) or a mail or FTP transfer. The engine only starts and
ends them: a service is an object with `run(first) -> rest` (first: the bytes that came after
its command; rest: the bytes that are command input again), `stop()` and the counters the
status shows (`kind`, `peer`, `opened`, `to_device`, `to_peer`). The modules that make them
are loaded on first use and know the engine only as the `modem` object they are given.

The UART and network come from the board (see docs/architecture.md, "The board contract").
"""

import asyncio

# asyncio loads these from its submodules on first use: load them now, while the heap is still
# in one piece, not in the middle of a session.
asyncio.Event, asyncio.Lock, asyncio.wait_for_ms  # noqa: B018

import aio
import databuf
import ipv4
import results
import settings as cfg
from atline import LineAssembler
from bridge import REASONS, Session, TcpLink
from compat import const, ticks_diff, ticks_ms
from errors import E_ALREADY_UP, E_BUSY, E_DNS, E_NOT_ACTIVE, E_OPEN_FAILED, E_VALUE, CmdError
from interpreter import Interpreter
from listener import Listener
from log import Log
from neterr import BearerError, ResolveError

ETX = b"\x03"
WIND_READY = b"\r\n+WIND: 4\r\n"  # Wavecom "ready" URC at boot and after a reset

# A constant named with a leading underscore is folded into the code by MicroPython's compiler
# and takes no slot, so no RAM, in the module's globals.
_CONNECT_TIMEOUT_MS = const(8000)  # below the shortest OTCP timeout of real clients (10 s)


class Modem:
    """The modem application. `uart` and `net` follow the board contract; `state_dir` holds
    the settings file; `board` (optional) receives serial-port and modem-line changes;
    `buffers` (databuf.Buffers, made with the ESP32's read size when not given) are the data
    path's buffers."""

    def __init__(self, uart, net, state_dir, board=None, buffers=None, console=print):
        if buffers is None:
            buffers = databuf.Buffers()
        self.uart = uart
        self.uart_tx = aio.WriteSide(uart)  # (see aio.WriteSide: writes wait apart from reads)
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
        self.state_dir = state_dir
        self.listener = None
        self.session = None  # the data-mode service that has the UART, if any
        self.service = None  # what a mail or FTP command is doing in command mode, if any
        self.last_end = None  # (kind, why, ticks_ms) of the last session or service
        self.refused = 0  # callers refused by listeners since boot
        self.booted = ticks_ms()
        self.command_task = None
        self.command_busy = False

    # -- UART output ---------------------------------------------------------------------------
    async def send(self, data):
        if data:
            async with self.write_lock:
                await aio.write_all(self.uart_tx, data)

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
        """Process command-mode bytes; return what is left when a session starts.

        What a byte means can depend on the line before it (an ETX aborts listening only once
        AT#LTCPSTART has run), so the rest of the input is looked at afresh after every line:
        the same bytes give the same result however they are split and paced.
        """
        i = 0
        end = len(data)
        while i < end:
            stop = end
            if self.listener is not None:  # an ETX aborts listening (spec §6)
                k = data.find(ETX, i)
                if k >= 0:
                    stop = k
            while i < stop:
                if self.interp.entry is not None:  # AT#RECiADD / AT#BODYi: text, not lines
                    i = self.interp.entry.feed(data[:stop], i)
                    await self.flush_out()
                    continue
                echo, line, i = self.lines.feed(data[:stop], i)
                if echo and self.interp.echo:
                    self.out_parts.append(echo)
                if line is not None:
                    await self.execute(line)
                    if self.session is not None:
                        return data[i:]
                    break  # the line may have changed what the rest means
            await self.flush_out()
            if i == stop < end:
                i = stop + 1
                if self.listener is not None:
                    self.close_listener()
                    self.lines.reset()
                    await self.send(self.interp.fmt.result(results.OK))
        return b""

    async def execute(self, line):
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
        return self.listener is not None or self.session is not None or self.service is not None

    def session_ended(self, session, why=None):
        """A session or service says how it ended (for the status and the console)."""
        if why is None:
            why = REASONS[session.reason]
        self.last_end = (session.kind, why, ticks_ms())

    def uptime_ms(self):
        return ticks_diff(ticks_ms(), self.booted)

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
        connecting = self.net.connect(ipv4.for_connect(host), port, _CONNECT_TIMEOUT_MS)
        what = "connect %s:%d" % (host, port)
        sock = await self.opened(what, asyncio.wait_for_ms(connecting, _CONNECT_TIMEOUT_MS + 500))
        self.log("connected to %s:%d" % (host, port))
        self.session = self.tcp_session(sock, profile, host)

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

    def tcp_session(self, sock, profile, peer):
        st = self.settings
        return Session(
            self,
            TcpLink(sock, peer),
            st.get("DLEMODE", profile) == 1,
            st.get("TCPTXDELAY", profile),
            st.get("TCPINACTIVITYTIMER", profile),
            st.get("TCPRXDELAY", profile),
        )

    async def open_udp(self):
        """AT#OUDP (spec §8): the UDP code lives in udp.py, loaded on first use (not when the
        command fails at once: the modem's heap stays flat while AT#OUDP keeps failing)."""
        self.check_can_open()
        await self.interp.load("udp").open_udp(self)

    async def ping(self):
        """AT#PING: the ICMP code lives in ping.py, loaded on first use (as for AT#OUDP, not
        while the bearer is down)."""
        if not self.net.is_up():
            raise CmdError(E_NOT_ACTIVE)
        await self.interp.load("ping").run(self)

    async def start_service(self, module, action, *args):
        """A mail or FTP command: `module.action(modem)` (loaded on first use, forgotten with
        the command groups when the heap runs low) does the set-up in command mode, then either
        sets `self.session` to a data-mode service and returns its entry result, or finishes
        the job itself and returns None (the line's OK)."""
        self.check_can_open()
        self.service = action
        try:
            return await getattr(self.interp.load(module), action)(self, *args)
        finally:
            self.service = None

    async def listen(self, profile):
        self.check_can_open()
        allowed = ipv4.parse(self.settings.get("TCPSERV", profile))
        port = self.settings.get("TCPPORT", profile)
        if not port or allowed is None:  # the filter must be dotted decimal
            raise CmdError(E_VALUE)
        try:
            sock = self.net.listen(port)
        except OSError as e:
            self.log("listen on %d failed: %r" % (port, e))
            raise CmdError(E_OPEN_FAILED)
        listener = Listener(self, sock, profile, port, allowed)
        self.listener = listener
        listener.task = asyncio.create_task(listener.run())
        self.log("listening on %d for %s" % (port, ipv4.text(allowed)))

    async def stop_listening(self, profile):
        """AT#LTCPSTOP=id: only the listener of that profile stops (OK either way)."""
        if self.listener is not None and self.listener.profile == profile:
            self.close_listener()

    def close_listener(self):
        if self.listener is not None:
            self.refused += self.listener.refused
            self.listener.close()
            self.listener = None
            self.log("listening stopped")

    def listener_lost(self, listener):
        if listener is not None and listener is self.listener:
            self.refused += self.listener.refused
            self.listener = None

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
        self.interp.entry = None
        self.lines.reset()
        if self.board is not None and hasattr(self.board, "reset"):
            self.board.reset()
        self.log("soft reset")
        await self.send(WIND_READY)

    async def restart(self):
        """Restart of the modem application from outside the serial line (the console): a
        running session or service ends first, as on a DTR drop, then as AT#RESET."""
        session = self.session
        if session is not None:
            session.stop()
            for _ in range(500):  # it answers the device and gives the UART back
                if self.session is not session:
                    break
                await asyncio.sleep_ms(20)
        await self.soft_reset()

    def log_lines(self):
        return self.log.lines()
