# Hooks: the optional `board` object of the contract on the ESP32, plus the RS-232 modem-control
# lines of the Multi-Tech port where board_config wires them (DCD, DSR, RI out; DTR in).
#
# Pins arrive as machine.Pin objects (None: not wired). RS-232 transceivers invert, so with
# active_low an asserted line is a low TTL level.


import machine  # only for the annotations (mypy against the ESP32 stubs)
import uart as _uart


class Hooks:
    def __init__(
        self,
        uart: _uart.EspUart,
        dcd: machine.Pin | None = None,
        dsr: machine.Pin | None = None,
        ri: machine.Pin | None = None,
        dtr: machine.Pin | None = None,
        active_low=True,
        log=None,
        reset=None,
    ):
        self._uart = uart  # boards/esp32/uart.EspUart
        self._dcd = dcd
        self._dsr = dsr
        self._ri = ri
        self._dtr = dtr
        self._low = active_low
        self.log = log or (lambda msg: None)
        self._reset = reset  # None: the engine's own application reset is enough (AT+CFUN=1)
        self._drops = 0
        for pin in (dcd, dsr, ri):
            self._drive(pin, False)
        if dtr is not None:
            # Count drops in an IRQ so a short DTR pulse between two polls is not missed.
            edge = dtr.IRQ_RISING if active_low else dtr.IRQ_FALLING
            dtr.irq(handler=self._on_dtr, trigger=edge)

    # --- board contract ------------------------------------------------------------------------

    def apply_serial(self, baud, rts, cts):
        self._uart.apply_serial(baud, rts, cts)
        self.log(
            "serial: %d baud, RTS %s, CTS %s"
            % (self._uart.settings()[0], "on" if rts else "off", "on" if cts else "off")
        )

    def reset(self):
        if self._reset is not None:
            self._reset()

    def set_dcd(self, on):
        self._drive(self._dcd, on)

    # --- the other modem-control lines -------------------------------------------------------

    def set_dsr(self, on):
        self._drive(self._dsr, on)

    def set_ri(self, on):
        self._drive(self._ri, on)

    def dtr(self):
        """The DTE's DTR is asserted (always True when the line is not wired)."""
        if self._dtr is None:
            return True
        return self._dtr.value() == (0 if self._low else 1)

    def dtr_drops(self):
        """How many times DTR has dropped since start (compare with the last value seen)."""
        return self._drops

    def _on_dtr(self, pin):
        self._drops += 1

    def _drive(self, pin, on):
        if pin is not None:
            pin.value(0 if bool(on) == self._low else 1)
