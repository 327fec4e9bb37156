"""A small RAM log ring: recent events, readable with AT#VLOG; also echoed to the console.

Never written to the modem UART or to flash (wear, latency).
"""

from compat import ticks_ms


class Log:
    def __init__(self, size=32, console=None):
        self.size = size
        self.entries = []
        self.console = console

    def __call__(self, text):
        line = "%s %s" % (ticks_ms(), text)
        self.entries.append(line)
        if len(self.entries) > self.size:
            self.entries.pop(0)
        if self.console is not None:
            self.console(line)

    def lines(self):
        return list(self.entries)
