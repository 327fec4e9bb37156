"""AT#LTCPSTART: a listening port that accepts the first allowed peer and refuses the others.

The filter (TCPSERV of the profile) is compared as a 32-bit number (ipv4.py), so every
spelling of the allowed address lets it in. The listener reaches the engine only through the
`modem` object it is given: when a peer is let in it calls `modem.accept_session`.
"""

import asyncio

import aio
import ipv4
from compat import const

_CHECK_MS = const(1000)  # how often a listener looks whether the link came back


class Listener:
    """Listens on TCPPORT of `profile` for peers whose address is `allowed` (a number,
    ipv4.ANY for anyone)."""

    def __init__(self, modem, sock, profile, port, allowed):
        self.modem = modem
        self.sock = sock
        self.profile = profile
        self.port = port
        self.allowed = allowed
        self.refused = 0
        self.last_refused = ""
        self.task = None

    def close(self):
        if self.task is not None:
            self.task.cancel()
        if self.sock is not None:
            self.sock.close()

    def rearm(self):
        self.sock.close()  # first: a port takes one listener
        try:
            self.sock = self.modem.net.listen(self.port)
        except OSError as e:
            self.modem.log("re-listen on %d failed: %r" % (self.port, e))
            self.sock = None
            self.modem.listener_lost(self)  # cannot listen any more: say so in AT#VLOG, unlock
            self.task = None
            return False
        self.modem.log("listening again on %d" % self.port)
        return True

    def lets_in(self, ip):
        return self.allowed == ipv4.ANY or ipv4.parse(ip) == self.allowed

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
            if not self.lets_in(ip):
                sock.close()
                self.refused += 1
                self.last_refused = ip
                modem.log("refused %s (%d so far)" % (ip, self.refused))
                continue
            modem.log("accepted %s" % ip)
            await modem.accept_session(self, modem.tcp_session(sock, self.profile, ip))
            return
