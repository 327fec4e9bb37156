# Fault injection for the host board (tests only): wraps board.HostNet and is steered at run
# time over a loopback UDP control port, so a test can break the network under a running modem.
#
#   micropython boards/unix/main.py ... --faults 127.0.0.1:PORT
#
# At start the injector binds an ephemeral UDP port on 127.0.0.1 and sends b"hello" to
# 127.0.0.1:PORT (the test's socket); the test then sends commands to the address the hello
# came from and gets one reply datagram per command:
#
#   ping                 -> pong
#   heap                 -> heap <alloc> <free>   (after gc.collect())
#   qstr [all]           -> ok   micropython.qstr_info([1]) printed to stdout (the log)
#   link down | link up  -> ok   the bearer is lost / comes back (as the ESP32's WiFi drops and
#                                re-joins: is_up() False, state() DIALING, epoch() +1 on return)
#   connect hang | ok    -> ok   connect() never returns by itself (ignores its timeout) / normal
#   send fail | ok       -> ok   write()/send() of every TCP socket raises OSError(ECONNRESET)
#   recv fail | ok       -> ok   readinto()/recv() of every TCP socket raises OSError(ECONNRESET)
#   state fail | ok      -> ok   state() raises RuntimeError: a fault inside a command (AT#VSTATE)
#   route none | ok      -> ok   ICMP and UDP sendto() raise OSError(EHOSTUNREACH), as for an
#                                address with no route: "unroutable" without sending a packet
#   stats                -> stats key=value ...
#
# Everything else is passed through to the wrapped HostNet unchanged.

import errno
import gc
import io
import socket

import aio
import asyncio
import neterr

GET_FILENO = 10  # MP_STREAM_GET_FILENO: the poller then polls the real socket's fd
POLL = 3  # MP_STREAM_POLL: asked by what wraps this socket (ssl), not by the poller
NOT_ATTACHED = 35865


class FaultSock(io.IOBase):
    """A socket of HostNet whose send/recv fail on demand; pollable through its fd."""

    def __init__(self, sock, net):
        self.s = sock
        self.net = net

    def ioctl(self, req, arg):
        if req == GET_FILENO:
            return self.s.fileno()
        if req == POLL:  # an ssl socket over this one asks what is ready
            import select

            p = select.poll()
            p.register(self.s, arg)
            ready = p.poll(0)
            return ready[0][1] & arg if ready else 0
        return -1

    def fileno(self):
        return self.s.fileno()

    def _check(self, fail):
        if fail:
            self.net.injected += 1
            raise OSError(errno.ECONNRESET)

    def readinto(self, buf, n=None):
        self._check(self.net.recv_fail)
        return self.s.readinto(buf) if n is None else self.s.readinto(buf, n)

    def recv(self, n):
        self._check(self.net.recv_fail)
        return self.s.recv(n)

    def read(self, n=-1):
        self._check(self.net.recv_fail)
        return self.s.read(n)

    def write(self, data):
        self._check(self.net.send_fail)
        return self.s.write(data)

    def send(self, data):
        self._check(self.net.send_fail)
        return self.s.send(data)

    def sendto(self, data, addr):
        if self.net.no_route:
            self.net.injected += 1
            raise OSError(errno.EHOSTUNREACH)
        return self.s.sendto(data, addr)

    def recvfrom(self, n):
        return self.s.recvfrom(n)

    def setblocking(self, flag):
        self.s.setblocking(flag)

    def setsockopt(self, level, opt, value):
        self.s.setsockopt(level, opt, value)

    def close(self):
        if self.s is not None:
            self.s.close()
            self.s = None
            self.net.open_socks -= 1


class FaultyNet:
    """The board contract's `net`, delegating to `inner` (a HostNet) with injectable faults."""

    def __init__(self, inner, control):
        self.inner = inner
        host, _, port = control.rpartition(":")
        self.control = (host or "127.0.0.1", int(port))
        self.link_lost = False
        self._epoch = 0
        self.connect_hang = False
        self.send_fail = False
        self.recv_fail = False
        self.no_route = False
        self.state_fail = False
        self.hung = 0
        self.injected = 0
        self.open_socks = 0

    # --- bearer ---------------------------------------------------------------------------

    async def up(self):
        if self.link_lost:
            raise neterr.BearerError(NOT_ATTACHED, "link lost (injected)")
        return await self.inner.up()

    def down(self):
        self.inner.down()

    def is_up(self):
        return self.inner.is_up() and not self.link_lost

    def ip(self):
        return "0.0.0.0" if self.link_lost else self.inner.ip()

    def state(self):
        if self.state_fail:
            raise RuntimeError("state() fault (injected)")
        if not self.inner.is_up():
            return "IDLE"
        return "DIALING" if self.link_lost else "CONNECTED"

    def epoch(self):
        return self._epoch

    # --- sockets --------------------------------------------------------------------------

    def listen(self, port):
        return self.inner.listen(port)

    def _wrap(self, sock):
        self.open_socks += 1
        return FaultSock(sock, self)

    def accept(self, lsock):
        sock, peer = self.inner.accept(lsock)
        return self._wrap(sock), peer

    async def connect(self, host, port, timeout_ms):
        if self.connect_hang:  # a board whose connect never returns by itself
            self.hung += 1
            while self.connect_hang:
                await asyncio.sleep_ms(20)
            raise OSError(errno.ETIMEDOUT)
        return self._wrap(await self.inner.connect(host, port, timeout_ms))

    async def udp(self, host, port, local_port):
        sock, addr = await self.inner.udp(host, port, local_port)
        return self._wrap(sock), addr

    async def icmp(self, host):
        sock, addr, ip = await self.inner.icmp(host)
        return self._wrap(sock), addr, ip

    # --- control --------------------------------------------------------------------------

    def command(self, text):
        words = text.split()
        if words == ["ping"]:
            return "pong"
        if words == ["heap"]:
            gc.collect()
            return "heap %d %d" % (gc.mem_alloc(), gc.mem_free())
        if words[:1] == ["qstr"]:  # "qstr [all]": interned strings, printed to stdout (the log)
            import micropython

            micropython.qstr_info(1 if words[1:] else 0)
            return "ok"
        if words == ["stats"]:
            return "stats hung=%d injected=%d open_socks=%d epoch=%d link_lost=%d" % (
                self.hung,
                self.injected,
                self.open_socks,
                self._epoch,
                self.link_lost,
            )
        if len(words) == 2 and words[1] in ("down", "up", "hang", "fail", "ok", "none"):
            what, how = words
            if what == "link" and how in ("down", "up"):
                if how == "up" and self.link_lost:
                    self._epoch += 1
                self.link_lost = how == "down"
                return "ok"
            if what == "connect" and how in ("hang", "ok"):
                self.connect_hang = how == "hang"
                return "ok"
            if what == "send" and how in ("fail", "ok"):
                self.send_fail = how == "fail"
                return "ok"
            if what == "recv" and how in ("fail", "ok"):
                self.recv_fail = how == "fail"
                return "ok"
            if what == "state" and how in ("fail", "ok"):
                self.state_fail = how == "fail"
                return "ok"
            if what == "route" and how in ("none", "ok"):
                self.no_route = how == "none"
                return "ok"
        return "error unknown command %r" % text

    async def serve(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(socket.getaddrinfo("127.0.0.1", 0)[0][-1])
        s.setblocking(False)
        s.sendto(b"hello", socket.getaddrinfo(self.control[0], self.control[1])[0][-1])
        while True:
            await aio.readable(s)
            try:
                data, peer = s.recvfrom(512)
            except OSError:
                continue
            try:
                reply = self.command(data.decode())
            except Exception as e:  # never let a bad datagram stop the injector
                reply = "error %r" % (e,)
            try:
                s.sendto(reply.encode(), peer)
            except OSError:
                pass


async def run(net, main):
    """Run the modem coroutine `main` with the control port of `net` (a FaultyNet) served."""
    asyncio.create_task(net.serve())
    await main
