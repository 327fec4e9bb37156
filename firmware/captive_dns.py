"""Captive DNS: answers every A query with one address, so a phone on the set-up access point
finds the console whatever name it asks for (its captive-portal check then opens the page).

Pure sockets, no `machine`/`network`: the ESP32 board runs it on the AP's address, port 53;
tests run it on loopback under CPython and the MicroPython VM.

Bounded by construction: one non-blocking UDP socket; a query is read with recvfrom(512) (the
classic DNS/UDP limit: more is cut off by the socket) and answered from one reply buffer made
at start; at most _BATCH datagrams are handled per wake-up before the loop gets a turn (the
socket's receive queue drops the rest of a flood). Per packet MicroPython allocates only what
recvfrom returns (the datagram, the address) and the memoryview handed to sendto.

Answers (RFC 1035): A or ANY in class IN: the address, TTL _TTL; any other type: no data
(NOERROR, no answer), so a client falls back to A; another class or opcode: NOTIMP; a bad
question (not exactly one, truncated, a label over 63 bytes, a name over 255, a compression
pointer: a query's only name needs none, so pointers and their loops are refused unread):
FORMERR. Dropped without a reply: datagrams shorter than a header, and responses (QR set),
so two such servers can never talk to each other in a loop.
"""

import socket

from compat import const

try:
    from aio import readable  # MicroPython: the asyncio poller
except ImportError:  # CPython (tests): the event loop's reader callbacks
    import asyncio as _asyncio

    async def readable(sock):  # type: ignore[misc]
        loop = _asyncio.get_running_loop()  # type: ignore[attr-defined]  # CPython only
        done = loop.create_future()

        def ready():
            if not done.done():
                done.set_result(None)

        loop.add_reader(sock.fileno(), ready)
        try:
            await done
        finally:
            loop.remove_reader(sock.fileno())


import asyncio  # noqa: E402

_HEADER = const(12)
MAX_QUERY = const(512)
_BATCH = const(8)
_TTL = const(10)  # short: a phone that leaves the set-up AP soon forgets the fake answers
_MAX_NAME = const(255)  # RFC 1035 2.3.4, length octets and the root included
_FORMERR = const(1)
_NOTIMP = const(4)
_TYPE_A = const(1)
_TYPE_ANY = const(255)
_CLASS_IN = const(1)


def _ipv4_bytes(ip):
    parts = ip.split(".")
    if len(parts) != 4:
        raise ValueError(ip)
    out = bytearray(4)
    for i in range(4):
        n = int(parts[i])
        if n < 0 or n > 255:
            raise ValueError(ip)
        out[i] = n
    return bytes(out)


class CaptiveDNS:
    """answer_ip: the address every A query gets; the socket binds to bind_ip (default: the
    same address), port `port`."""

    def __init__(self, answer_ip, port=53, bind_ip=None):
        self.answer = _ipv4_bytes(answer_ip)
        # The answer record: a pointer to the question's name, A, IN, TTL, 4 bytes of address.
        self._record = bytes((0xC0, _HEADER, 0, _TYPE_A, 0, _CLASS_IN, 0, 0, 0, _TTL, 0, 4))
        self._record += self.answer
        self.bind_ip = bind_ip or answer_ip
        self.port = port
        self._reply = bytearray(MAX_QUERY)
        self._view = memoryview(self._reply)
        self._sock = None
        self.answered = 0  # replies with an address or "no data"
        self.refused = 0  # FORMERR / NOTIMP replies
        self.dropped = 0  # garbage, responses, and replies the socket would not take

    # --- socket ------------------------------------------------------------------------------

    def open(self):
        """Bind the non-blocking UDP socket; OSError if the port cannot be had."""
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        ok = False
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(socket.getaddrinfo(self.bind_ip, self.port, 0, socket.SOCK_DGRAM)[0][-1])
            s.setblocking(False)
            ok = True
        finally:
            if not ok:
                s.close()
        self._sock = s
        return s

    def close(self):
        s, self._sock = self._sock, None
        if s is not None:
            s.close()

    def is_open(self):
        return self._sock is not None

    def serve(self, budget=_BATCH):
        """Answer up to `budget` pending queries without waiting; return how many were read."""
        s = self._sock
        n = 0
        while s is not None and n < budget:
            try:
                query, peer = s.recvfrom(MAX_QUERY)
            except OSError:  # EAGAIN: nothing pending (or the socket was closed under us)
                break
            n += 1
            size = self.reply(query)
            if not size:
                continue
            try:
                s.sendto(self._view[:size], peer)
            except OSError:  # no buffer for it now (lwIP ENOMEM / EAGAIN): the client retries
                self.dropped += 1
        return n

    async def run(self):
        """Serve until close(): wait for a datagram, answer a batch, give the loop a turn."""
        while self._sock is not None:
            await readable(self._sock)
            if self.serve() >= _BATCH:
                await asyncio.sleep(0)

    # --- the protocol ------------------------------------------------------------------------

    def reply(self, q):
        """Build the reply to datagram `q` in the reply buffer; its length, or 0 to drop it."""
        n = len(q)
        if n < _HEADER or q[2] & 0x80:
            self.dropped += 1
            return 0
        r = self._reply
        r[0] = q[0]
        r[1] = q[1]
        opcode = q[2] & 0x78
        rd = q[2] & 0x01
        if opcode:
            return self._error(opcode, rd, _NOTIMP)
        if q[4] != 0 or q[5] != 1:
            return self._error(0, rd, _FORMERR)
        # The question's name: labels of 1..63 bytes up to the root label.
        i = _HEADER
        while True:
            if i >= n:
                return self._error(0, rd, _FORMERR)  # truncated name
            size = q[i]
            if size == 0:
                i += 1
                break
            if size > 63:  # 0xC0.. a pointer, 0x40/0x80 label types that do not exist
                return self._error(0, rd, _FORMERR)
            i += 1 + size
            if i - _HEADER + 1 > _MAX_NAME:
                return self._error(0, rd, _FORMERR)
        end = i + 4
        if end > n:
            return self._error(0, rd, _FORMERR)  # no room for type and class
        qtype = (q[i] << 8) | q[i + 1]
        qclass = (q[i + 2] << 8) | q[i + 3]
        for k in range(_HEADER, end):  # the question, echoed (no allocation)
            r[k] = q[k]
        self._header(0, rd, 0, 1, 0)
        if qclass != _CLASS_IN and qclass != _TYPE_ANY:
            r[3] |= _NOTIMP
            self.refused += 1
            return end
        self.answered += 1
        if qtype != _TYPE_A and qtype != _TYPE_ANY:
            return end  # no data: the name "exists", with no record of this type
        r[7] = 1  # ANCOUNT
        rr = self._record
        for k in range(16):
            r[end + k] = rr[k]
        return end + 16

    def _header(self, opcode, rd, rcode, qdcount, ancount):
        r = self._reply
        r[2] = 0x80 | opcode | 0x04 | rd  # QR, opcode, AA (we are the authority here), RD
        r[3] = 0x80 | rcode  # RA: to the phone we are its resolver
        r[4] = 0
        r[5] = qdcount
        r[6] = 0
        r[7] = ancount
        for k in range(8, _HEADER):
            r[k] = 0

    def _error(self, opcode, rd, rcode):
        # Header only: the question is not echoed when it could not be read.
        self._header(opcode, rd, rcode, 0, 0)
        self.refused += 1
        return _HEADER
