"""AT#PING: ICMP echo requests and replies, and the command's exchange (`run`).

Rarely used, so kept out of modem.py: Modem.ping imports this module on first use and the RAM
for its code is only taken then.

Raw sockets hand back the IPv4 header in front of the ICMP message (Linux, lwIP); Linux
"ping" datagram sockets do not. `reply_seq` copes with both.
"""

import asyncio
import os

import ipv4
from compat import ticks_diff, ticks_ms
from errors import E_DNS, E_OPEN_FAILED, E_VALUE, CmdError
from neterr import ResolveError


def checksum(data):
    """The Internet checksum (RFC 1071) of `data`."""
    if len(data) % 2:
        data = bytes(data) + b"\x00"
    total = 0
    for i in range(0, len(data), 2):
        total += (data[i] << 8) | data[i + 1]
    total = (total >> 16) + (total & 0xFFFF)
    total += total >> 16
    return ~total & 0xFFFF


def echo_request(ident, seq, payload=b"mtip-esp32 ping"):
    header = bytearray(b"\x08\x00\x00\x00") + ident.to_bytes(2, "big") + seq.to_bytes(2, "big")
    packet = header + payload
    c = checksum(packet)
    packet[2] = c >> 8
    packet[3] = c & 0xFF
    return bytes(packet)


def reply_seq(packet, ident):
    """The sequence number of an echo reply to `ident` in `packet`, else None."""
    if len(packet) >= 20 and packet[0] >> 4 == 4:  # an IPv4 header comes first
        packet = packet[(packet[0] & 0x0F) * 4 :]
    if len(packet) < 8 or packet[0] != 0 or packet[1] != 0:  # type 0 code 0: echo reply
        return None
    if int.from_bytes(packet[4:6], "big") != ident:
        return None
    return int.from_bytes(packet[6:8], "big")


async def run(modem):
    """Modem.ping: PINGNUM echo requests to PINGREMOTE, PINGDELAY seconds apart; a line per
    reply as it comes ("alive" is what Multi-Tech's driver looks for). Modem.ping has checked
    that the bearer is up."""
    st = modem.settings
    host = st.get("PINGREMOTE")
    if not host:
        raise CmdError(E_VALUE)
    try:
        sock, addr, ip = await modem.net.icmp(ipv4.for_connect(host))
    except ResolveError:
        raise CmdError(E_DNS)
    except OSError as e:  # e.g. no privilege for raw sockets on a host
        modem.log("no ICMP socket: %r" % (e,))
        raise CmdError(E_OPEN_FAILED)
    ident = int.from_bytes(os.urandom(2), "big")
    alive = 0
    wait_ms = st.get("PINGDELAY") * 1000
    try:
        for seq in range(1, st.get("PINGNUM") + 1):
            sent = ticks_ms()
            try:
                sock.sendto(echo_request(ident, seq), addr)
                rtt = await echo_reply(sock, ident, seq, sent, wait_ms)
            except OSError as e:
                modem.log("ping %s: %r" % (ip, e))
                rtt = None
            if rtt is None:
                line = "#PING: %s no reply" % ip
            else:
                alive += 1
                line = "#PING: %s is alive, time=%d ms" % (ip, rtt)
            await modem.send(modem.interp.fmt.info(line))
            left = wait_ms - ticks_diff(ticks_ms(), sent)
            if seq < st.get("PINGNUM") and left > 0:
                await asyncio.sleep_ms(left)
    finally:
        sock.close()
    if not alive:
        raise CmdError(E_OPEN_FAILED)


async def echo_reply(sock, ident, seq, sent, wait_ms):
    """Milliseconds until the matching echo reply, or None after wait_ms."""
    # aio needs MicroPython's asyncio: imported here, not at the top, so that host tests on
    # CPython can import the packet code above.
    import aio

    while True:
        left = wait_ms - ticks_diff(ticks_ms(), sent)
        if left <= 0:
            return None
        try:
            await asyncio.wait_for_ms(aio.readable(sock), left)
        except asyncio.TimeoutError:
            return None
        packet = sock.recvfrom(1024)[0]
        if reply_seq(packet, ident) == seq:
            return ticks_diff(ticks_ms(), sent)
