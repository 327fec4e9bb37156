"""ICMP echo (AT#PING): packet building and reply parsing, pure bytes.

Raw sockets hand back the IPv4 header in front of the ICMP message (Linux, lwIP); Linux
"ping" datagram sockets do not. `reply_seq` copes with both.
"""


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
