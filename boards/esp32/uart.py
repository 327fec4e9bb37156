# EspUart: the ESP32 machine.UART as the non-blocking byte stream of the board contract.
#
# Why a wrapper (notes 2.1): UART.write() blocks until the whole buffer is copied into the
# ESP-IDF TX ring buffer, with no timeout, so while the DTE holds CTS off the whole VM stalls;
# and the UART's own poll always answers "writable". EspUart therefore writes only what provably
# fits and reports POLLOUT only then.
#
# TX room rule:
#   * The IDF TX ring (txbuf bytes) keeps each write as header-carrying items that never wrap,
#     so only half of it is counted on: budget = txbuf // 2 - _SLACK bytes.
#   * Every write spends len(data) + _ITEM_COST of the budget (item headers, alignment).
#   * txdone() True proves ring and FIFO are empty: the whole budget is back.
#   * Without CTS flow control the line drains at the baud rate whatever the DTE does, so elapsed
#     time is credited at 3/4 of the nominal byte rate. With CTS flow control only txdone()
#     counts, since the DTE may hold CTS off for ever.
# RX is read in bulk with readinto(); RX readiness comes from any().

import io

import machine  # only for the annotation: lets mypy check every call against the ESP32 stubs
from compat import const, ticks_diff, ticks_ms

_POLL = const(3)  # MP_STREAM_POLL
_POLLIN = const(1)
_POLLOUT = const(4)
_SLACK = const(64)
_ITEM_COST = const(48)
_BITS_PER_BYTE = const(10)  # 8N1
_DRAIN_WAIT_MS = const(200)  # apply_serial: extra wait for the final OK beyond its line time


class EspUart(io.IOBase):
    """Non-blocking stream over a machine.UART created with timeout=0.

    uart: the machine.UART; txbuf: its TX ring size; baud: its rate. Names below are the ESP32
    UART's own: rts/cts say the ESP32 RTS output / CTS input pin is wired (flow control is
    never enabled on a line that is not), rts_on/cts_on whether it is in use at start (they must
    match the flow= the UART was created with).
    """

    def __init__(
        self,
        uart: machine.UART,
        txbuf: int,
        baud: int,
        rts=True,
        cts=True,
        rts_on=True,
        cts_on=True,
        ticks=ticks_ms,
        sleep_ms=None,
    ):
        self._u = uart
        self._budget = txbuf // 2 - _SLACK
        self._spent = 0  # budget used since txdone() was last seen True
        self._baud = baud
        self._rts_wired = rts
        self._cts_wired = cts
        self._rts = rts and rts_on  # ESP32 RTS output follows our RX FIFO level
        self._cts = cts and cts_on  # ESP32 CTS input pauses our transmitter
        self._ticks = ticks
        self._sleep_ms = sleep_ms
        self._t = ticks()

    # --- what the engine uses --------------------------------------------------------------

    def readinto(self, buf):
        return self._u.readinto(buf)  # None when nothing is buffered (timeout=0)

    def read(self, n=-1):
        if n is None or n < 0:
            return self._u.read()
        return self._u.read(n)

    def readline(self):
        return self._u.readline()

    def write(self, buf):
        room = self.room()
        if room <= 0:
            return None
        n = len(buf)
        if n > room:
            buf = memoryview(buf)[:room]
            n = room
        w = self._u.write(buf)
        if w:
            self._spent += w + _ITEM_COST
        return w

    def ioctl(self, req, arg):
        if req != _POLL:
            return 0
        ready = 0
        if arg & _POLLIN and self._u.any():
            ready |= _POLLIN
        if arg & _POLLOUT and self.room() > 0:
            ready |= _POLLOUT
        return ready

    def room(self):
        """Bytes that a write() can hand to the UART now without blocking."""
        now = self._ticks()
        if self._spent:
            if self._u.txdone():
                self._spent = 0
            elif not self._cts:
                drained = ticks_diff(now, self._t) * self._baud * 3 // (4000 * _BITS_PER_BYTE)
                self._spent = max(0, self._spent - drained)
        self._t = now
        return self._budget - self._spent - _ITEM_COST

    def close(self):
        pass  # the UART outlives the stream (AT+CFUN and soft reset re-create it)

    # --- the board hook ----------------------------------------------------------------------

    def apply_serial(self, baud, rts, cts):
        """Change rate / flow control once the last response has left at the old rate.

        The board hook of the contract, with RS-232 names as seen at the modem's DB9 (AT+IFC):
        rts: the DTE's RTS line pauses our transmitter (AT+IFC=2,x; it arrives on the ESP32's
        CTS input); cts: we drive the DTE's CTS line from our RX FIFO level (AT+IFC=x,2; the
        ESP32's RTS output). baud <= 0 (autobaud) keeps the current rate. A line that is not
        wired is never put under flow control.
        """
        self._wait_tx_done()
        if baud and baud > 0:
            self._baud = baud
        self._cts = bool(rts) and self._cts_wired
        self._rts = bool(cts) and self._rts_wired
        # init() keeps pins and buffer sizes; it discards pending RX input (notes 2.1).
        self._u.init(baudrate=self._baud, flow=self.flow(), timeout=0, timeout_char=0)
        self._spent = 0
        self._t = self._ticks()

    def flow(self):
        """The machine.UART flow bit mask for the current settings."""
        u = self._u
        return (u.RTS if self._rts else 0) | (u.CTS if self._cts else 0)

    def settings(self):
        """(baud, rts, cts) in apply_serial's terms."""
        return self._baud, self._cts, self._rts

    def _wait_tx_done(self):
        # Bounded: a DTE holding CTS off must not freeze the VM; init() then drops what is left.
        if not self._spent or self._sleep_ms is None:
            return
        limit = self._spent * _BITS_PER_BYTE * 1000 // max(self._baud, 1) + _DRAIN_WAIT_MS
        start = self._ticks()
        while not self._u.txdone() and ticks_diff(self._ticks(), start) < limit:
            self._sleep_ms(1)
