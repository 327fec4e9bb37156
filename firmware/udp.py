"""AT#OUDP: a UDP session with UDPSERV:UDPPORT (spec §8).

Rarely used, so kept out of the engine: Modem.open_udp loads this module on first use and the
RAM for its code is only taken then.
"""

import aio
import ipv4
from bridge import Session
from compat import const
from databuf import UDP_PAYLOAD
from errors import E_VALUE, CmdError

EAGAIN = const(11)  # the same number on the ESP32 (newlib) and Linux


def _addr_key(addr):
    # ESP32 gives (ip, port) tuples, the unix port raw sockaddr bytes(array)s.
    return addr if isinstance(addr, tuple) else bytes(addr)


class UdpLink:
    """The peer side of a UDP session: datagrams to and from one address."""

    kind = "udp"
    segment = UDP_PAYLOAD  # never more than one MTU per datagram

    def __init__(self, sock, addr, peer, log):
        self.sock = sock
        self.peer = peer
        self.addr = addr
        self.key = _addr_key(addr)
        self.log = log
        self.dropped = 0

    async def send_some(self, mv):
        """Send the first datagram's worth of `mv`; return its length."""
        chunk = mv[:UDP_PAYLOAD]
        while True:
            try:
                self.sock.sendto(chunk, self.addr)
                return len(chunk)
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
    opening = modem.net.udp(ipv4.for_connect(host), port, st.get("OUTPORT"))
    sock, addr = await modem.opened(what, opening)
    modem.log("udp session with %s:%d" % (host, port))
    link = UdpLink(sock, addr, host, modem.log)
    modem.session = Session(
        modem,
        link,
        st.get("UDPDLEMODE") == 1,
        st.get("UDPTXDELAY"),
        rx_hold_ms=st.get("UDPRXDELAY"),
    )
