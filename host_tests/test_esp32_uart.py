# EspUart (boards/esp32/uart.py) against the fake machine.UART (host_tests/fakes/machine.py).
# Dual runtime: pytest, and `micropython host_tests/test_esp32_uart.py`.

import esp32_env

isolate = getattr(esp32_env, "isolate", None)  # pytest fixture: sys.path / sys.modules hygiene

esp32_env.setup()

POLL, POLLIN, POLLOUT = 3, 1, 4


class Clock:
    def __init__(self):
        self.t = 0

    def __call__(self):
        return self.t


def make(txbuf=2048, baud=115200, flow=3, rts_on=True, cts_on=True, rxbuf=4096):
    import machine
    import uart

    u = machine.UART(
        2,
        baudrate=baud,
        tx=17,
        rx=16,
        rts=18,
        cts=19,
        txbuf=txbuf,
        rxbuf=rxbuf,
        flow=flow,
        timeout=0,
        timeout_char=0,
    )
    clock = Clock()
    s = uart.EspUart(u, txbuf, baud, rts_on=rts_on, cts_on=cts_on, ticks=clock)
    return u, s, clock


def pump(s, data, u=None, step_ms=0, clock=None, limit=10000):
    """Write `data` the way asyncio's drain() does: only when ioctl says writable."""
    mv = memoryview(data)
    off = 0
    for _ in range(limit):
        if off == len(mv):
            return off
        if s.ioctl(POLL, POLLOUT) & POLLOUT:
            n = s.write(mv[off:])
            assert n is not None and n > 0
            off += n
        elif u is not None:
            u.run(step_ms)
            if clock is not None:
                clock.t += step_ms
    return off


def test_read_returns_none_when_empty_and_bulk_when_not():
    u, s, _ = make()
    buf = bytearray(64)
    assert s.readinto(buf) is None
    assert s.ioctl(POLL, POLLIN) == 0
    u.feed(b"AT\r")
    assert s.ioctl(POLL, POLLIN) == POLLIN
    assert s.readinto(buf) == 3 and bytes(buf[:3]) == b"AT\r"
    u.feed(b"x" * 100)
    calls = u.calls_read
    assert s.readinto(buf) == 64  # one call, not byte by byte
    assert u.calls_read == calls + 1
    assert s.read(100) == b"x" * 36
    assert s.read() is None


def test_write_never_blocks_while_cts_is_held():
    u, s, clock = make()
    u.cts_held = True
    total = 0
    for _ in range(50):  # a stream of 200-byte chunks with the DTE refusing to take any
        n = s.write(b"y" * 200)  # the fake raises WouldBlock if this would stall the VM
        if n is None:
            break
        total += n
        clock.t += 1000  # time passes, but with CTS held nothing drains
    assert s.write(b"z") is None
    assert s.ioctl(POLL, POLLOUT) == 0
    assert 0 < total <= 2048 // 2
    assert u.tx_ring <= 2048 // 2
    # CTS released: the wire drains, txdone() proves it, writes resume
    u.cts_held = False
    u.run(1000)
    assert bytes(u.wire) == b"y" * total
    assert s.ioctl(POLL, POLLOUT) == POLLOUT
    assert s.write(b"z") == 1


def test_naive_write_would_block():
    # The reason for EspUart: a plain write of a big block with CTS held stalls the ESP32.
    import machine

    u, _, _ = make()
    u.cts_held = True
    try:
        u.write(b"q" * 4000)
    except machine.WouldBlock:
        return
    raise AssertionError("fake UART did not model the blocking write")


def test_large_write_is_partial_and_complete_after_drain():
    u, s, clock = make()
    data = bytes(range(256)) * 40  # 10 KB
    n = s.write(data)
    assert 0 < n < len(data)
    sent = n + pump(s, data[n:], u, step_ms=10, clock=clock)
    assert sent == len(data)
    u.run_until_idle()
    assert bytes(u.wire) == data


def test_time_credit_without_cts_flow():
    # No CTS flow control: the line drains at the baud rate, so room comes back with time
    # even if txdone() is not yet true.
    u, s, clock = make(flow=1, cts_on=False)
    first = s.write(b"a" * 2000)
    assert s.write(b"b") is None
    clock.t += 50  # 50 ms at 115200 baud ~ 576 bytes on the wire; 3/4 credited
    u.run(50)
    room = s.room()
    assert 0 < room < 576
    assert not u.txdone()
    assert s.write(b"b" * room) == room
    assert first > 0


def test_no_time_credit_with_cts_flow():
    u, s, clock = make()
    s.write(b"a" * 2000)
    u.cts_held = True
    clock.t += 10000
    assert s.room() <= 0  # only txdone() proves room when the DTE can hold CTS


def test_apply_serial_changes_rate_and_flow_after_tx_drained():
    u, s, _ = make()
    s.write(b"\r\nOK\r\n")
    u.feed(b"garbage at the old rate")
    s.apply_serial(9600, False, False)
    init = u.inits[-1]
    assert init["baudrate"] == 9600 and init["flow"] == 0
    assert init["timeout"] == 0 and init["timeout_char"] == 0
    assert "_tx_lost" not in init and bytes(u.wire) == b"\r\nOK\r\n"  # OK left at the old rate
    assert u.any() == 0  # init() discarded RX input
    s.apply_serial(115200, True, True)
    assert u.inits[-1]["flow"] == u.RTS | u.CTS
    assert s.settings() == (115200, True, True)
    # AT+IFC=2,0: the DTE's RTS throttles us (ESP32 CTS input); we do not drive its CTS
    s.apply_serial(0, True, False)  # autobaud: keep the rate
    assert u.inits[-1]["baudrate"] == 115200 and u.inits[-1]["flow"] == u.CTS
    assert s.settings() == (115200, True, False)
    s.apply_serial(0, False, True)  # AT+IFC=0,2: only our RTS output (the DTE's CTS)
    assert u.inits[-1]["flow"] == u.RTS


def test_apply_serial_wait_is_bounded_when_cts_held():
    import machine
    import uart

    u = machine.UART(2, baudrate=115200, txbuf=2048, rxbuf=4096, flow=3)
    clock = Clock()
    slept = []

    def sleep_ms(ms):
        slept.append(ms)
        clock.t += ms

    s = uart.EspUart(u, 2048, 115200, ticks=clock, sleep_ms=sleep_ms)
    s.write(b"\r\nOK\r\n")
    u.cts_held = True
    s.apply_serial(57600, True, True)
    assert 0 < sum(slept) < 1000  # gave up instead of hanging the VM
    assert u.inits[-1]["baudrate"] == 57600


def test_unwired_lines_never_get_flow_control():
    import machine
    import uart

    u = machine.UART(2, baudrate=115200, txbuf=2048, rxbuf=4096, flow=0)
    s = uart.EspUart(u, 2048, 115200, rts=False, cts=False, ticks=Clock())
    assert s.flow() == 0
    s.apply_serial(115200, True, True)
    assert u.inits[-1]["flow"] == 0


if __name__ == "__main__":
    esp32_env.run_tests(globals())
