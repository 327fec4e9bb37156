# Fake `machine` module for host tests of boards/esp32 (CPython and the MicroPython unix VM).
#
# It reproduces the ESP32 behaviours the board code must cope with (notes 2.1, 2.5):
#   * UART.write() copies into a TX ring and blocks until everything fits, with no timeout.
#     A fake cannot block, so a write that would wait while CTS is held off raises
#     WouldBlock: on the board that is the whole VM frozen.
#   * read()/readinto() return None when nothing is buffered; RX overflow drops bytes silently.
#   * init() waits for TX (up to 1 s) and then discards pending RX input.
#   * Pin levels are set by the test; WDT counts feeds; reset() raises Reset.
# Time is explicit: tests call UART.run(ms) to move bytes along the wire.

# machine.reset_cause() values (ESP32)
PWRON_RESET = 1
HARD_RESET = 2
WDT_RESET = 3
DEEPSLEEP_RESET = 4
SOFT_RESET = 5

_reset_cause = PWRON_RESET


class WouldBlock(AssertionError):
    """A call that would stall the ESP32 VM (uart.write with CTS held and no room)."""


class Reset(Exception):
    """machine.reset() / machine.soft_reset() was called."""

    def __init__(self, kind):
        super().__init__(kind)
        self.kind = kind


def reset():
    raise Reset("hard")


def soft_reset():
    raise Reset("soft")


def reset_cause():
    return _reset_cause


def unique_id():
    return b"\x24\x0a\xc4\x12\xab\xcd"  # the ESP32's base MAC


def set_reset_cause(cause):
    global _reset_cause
    _reset_cause = cause


class Pin:
    IN = 1
    OUT = 3
    OPEN_DRAIN = 7
    PULL_UP = 1
    PULL_DOWN = 2
    IRQ_RISING = 1
    IRQ_FALLING = 2

    levels = {}  # input level per pin id, set by tests (default 1: pulled up)

    def __init__(self, id, mode=-1, pull=-1, value=None):
        self.id = id
        self.mode = mode
        self.pull = pull
        self.handler = None
        self.trigger = 0
        self.writes = []
        if value is not None:
            self.value(value)

    def value(self, v=None):
        if v is None:
            return Pin.levels.get(self.id, 1)
        v = 1 if v else 0
        self.writes.append(v)
        Pin.levels[self.id] = v
        return None

    def on(self):
        self.value(1)

    def off(self):
        self.value(0)

    def irq(self, handler=None, trigger=3):
        self.handler = handler
        self.trigger = trigger

    # test helper: drive an input and fire the IRQ handler on a matching edge
    def drive(self, level):
        old = Pin.levels.get(self.id, 1)
        Pin.levels[self.id] = level
        edge = self.IRQ_RISING if level > old else self.IRQ_FALLING if level < old else 0
        if self.handler is not None and edge & self.trigger:
            self.handler(self)


class WDT:
    def __init__(self, id=0, timeout=5000):
        self.timeout = timeout
        self.feeds = 0
        WDT.last = self

    def feed(self):
        self.feeds += 1


_HW_FIFO = 128
_ITEM_HEADER = 8  # IDF ring buffer item header
_EVT_ITEM = 20  # the uart_tx_data_t event item uart_write_bytes() queues before the data


class UART:
    RTS = 1
    CTS = 2
    INV_TX = 32
    INV_RX = 4
    INV_RTS = 64
    INV_CTS = 8
    IRQ_RX = 1
    IRQ_BREAK = 2
    IRQ_RXIDLE = 4096

    def __init__(
        self,
        id,
        baudrate=115200,
        bits=8,
        parity=None,
        stop=1,
        *,
        tx=None,
        rx=None,
        rts=None,
        cts=None,
        txbuf=256,
        rxbuf=256,
        timeout=0,
        timeout_char=0,
        flow=0,
        invert=0,
    ):
        if id == 0:
            raise ValueError("UART0 is the REPL")
        self.id = id
        self.pins = {"tx": tx, "rx": rx, "rts": rts, "cts": cts}
        self.baudrate = baudrate
        self.txbuf = txbuf
        self.rxbuf = rxbuf
        self.timeout = timeout
        self.timeout_char = timeout_char
        self.flow = flow
        self.cts_held = False  # the DTE holds our CTS input off
        self.tx_ring = 0  # bytes (with item overhead) waiting in the IDF TX ring
        self.tx_fifo = 0
        self.tx_queue = bytearray()  # payload not yet on the wire
        self.wire = bytearray()  # what the DTE has received
        self.rx = bytearray()
        self.dropped = 0
        self.writes = []  # sizes passed to write()
        self.inits = []  # kwargs of every init()
        self.calls_read = 0

    # --- MicroPython API -------------------------------------------------------------------

    def init(self, baudrate=None, bits=8, parity=None, stop=1, **kw):
        if self.tx_queue and not self._draining():
            kw["_tx_lost"] = len(self.tx_queue)  # waited 1 s, gave up
        else:
            self.run_until_idle()
        if baudrate is not None:
            self.baudrate = baudrate
            kw["baudrate"] = baudrate
        for key in ("flow", "timeout", "timeout_char", "txbuf", "rxbuf"):
            if key in kw:
                setattr(self, key, kw[key])
        for key in ("tx", "rx", "rts", "cts"):
            if key in kw:
                self.pins[key] = kw[key]
        self.rx = bytearray()  # uart_flush_input()
        self.inits.append(kw)

    def write(self, buf):
        n = len(buf)
        need = _EVT_ITEM + n + _ITEM_HEADER * (1 + n // max(1, self.txbuf // 4))
        if self.tx_ring + need > self.txbuf:
            # The real driver now sleeps in xRingbufferSend(portMAX_DELAY) until the ring drains.
            if not self._draining():
                raise WouldBlock(
                    "uart.write(%d bytes) with CTS held and %d of %d ring bytes used"
                    % (n, self.tx_ring, self.txbuf)
                )
            self.run_until_idle()  # drains at line rate: a bounded stall
        self.tx_ring += need
        self.tx_queue += bytes(buf)
        self.writes.append(n)
        return n

    def read(self, n=-1):
        self.calls_read += 1
        if not self.rx:
            return None
        if n is None or n < 0:
            n = len(self.rx)
        data = bytes(self.rx[:n])
        self.rx[:n] = b""
        return data

    def readinto(self, buf, n=-1):
        self.calls_read += 1
        if not self.rx:
            return None
        n = len(buf) if n < 0 else min(n, len(buf))
        n = min(n, len(self.rx))
        buf[:n] = self.rx[:n]
        self.rx[:n] = b""
        return n

    def readline(self):
        i = self.rx.find(b"\n")
        if i < 0:
            return self.read()
        return self.read(i + 1)

    def any(self):
        return len(self.rx)

    def txdone(self):
        return not self.tx_queue

    def flush(self):
        if self.tx_queue and not self._draining():
            raise OSError(116, "ETIMEDOUT")  # the ESP32 raises after a computed timeout
        self.run_until_idle()

    def deinit(self):
        pass

    def irq(self, handler=None, trigger=0, hard=False):
        if hard:
            raise ValueError("hard IRQ not supported on ESP32")

    # --- test helpers ----------------------------------------------------------------------

    def _draining(self):
        return not (self.flow & self.CTS and self.cts_held)

    def run(self, ms):
        """Let `ms` milliseconds of line time pass (TX only while CTS allows)."""
        if not self._draining():
            return 0
        n = min(len(self.tx_queue), self.baudrate * ms // 10000)
        self._shift(n)
        return n

    def run_until_idle(self):
        self._shift(len(self.tx_queue))

    def _shift(self, n):
        if n <= 0:
            return
        self.wire += self.tx_queue[:n]
        self.tx_queue[:n] = b""
        if not self.tx_queue:
            self.tx_ring = 0
        else:  # items leave the ring as the ISR moves them to the FIFO
            self.tx_ring = max(0, self.tx_ring - n)

    def feed(self, data):
        """The DTE sends `data`; what exceeds rxbuf is lost without any error (notes 2.1)."""
        room = self.rxbuf - len(self.rx)
        self.rx += data[:room]
        self.dropped += max(0, len(data) - room)
