"""AT#OUDP: a UDP session with UDPSERV:UDPPORT (spec §8).

Rarely used, so kept out of modem.py: Modem.open_udp imports this module on first use and the
RAM for its code is only taken then.
"""

import aio
from compat import const
from databuf import UDP_PAYLOAD
from interpreter import E_VALUE, CmdError
from modem import Session

EAGAIN = const(11)  # the same number on the ESP32 (newlib) and Linux


def _addr_key(addr):
    # ESP32 gives (ip, port) tuples, the unix port raw sockaddr bytes(array)s.
    return addr if isinstance(addr, tuple) else bytes(addr)


class UdpLink:
    """The peer side of a UDP session: datagrams to and from one address."""

    segment = UDP_PAYLOAD  # never more than one MTU per datagram

    def __init__(self, sock, addr, log):
        self.sock = sock
        self.addr = addr
        self.key = _addr_key(addr)
        self.log = log
        self.dropped = 0

    async def send(self, data):
        mv = memoryview(data)
        for start in range(0, len(mv), UDP_PAYLOAD):
            chunk = mv[start : start + UDP_PAYLOAD]
            while True:
                try:
                    self.sock.sendto(chunk, self.addr)
                    break
                except OSError as e:
                    if e.errno != EAGAIN:
                        raise
                    await aio.writable(self.sock)

    async def recv(self, buf):
        await aio.readable(self.sock)
        try:
            data, addr = self.sock.recvfrom(len(buf))
        except OSError as e:
            if e.errno == EAGAIN:
                return None
            raise
        if _addr_key(addr) != self.key:
            self.dropped += 1
            self.log("dropped a datagram from another address (%d so far)" % self.dropped)
            return None
        n = len(data)
        buf[:n] = data
        return n or None  # an empty datagram carries nothing to deliver

    def close(self):
        self.sock.close()


async def open_udp(modem):
    """Modem.open_udp (which has checked that a session can open): open the socket, hand the
    modem its session."""
    st = modem.settings
    host = st.get("UDPSERV")
    port = st.get("UDPPORT")
    if not host or not port:
        raise CmdError(E_VALUE)
    what = "udp %s:%d" % (host, port)
    sock, addr = await modem.opened(what, modem.net.udp(host, port, st.get("OUTPORT")))
    modem.log("udp session with %s:%d" % (host, port))
    link = UdpLink(sock, addr, modem.log)
    modem.session = Session(modem, link, st.get("UDPDLEMODE") == 1, st.get("UDPTXDELAY"))
