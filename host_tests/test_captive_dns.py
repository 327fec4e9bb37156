# The captive DNS responder (firmware/captive_dns.py): the protocol rules on crafted and random
# datagrams, then the real thing on a loopback UDP socket. Dual runtime: pytest, and
# `micropython host_tests/test_captive_dns.py` (host_tests/test_esp32_vm.py runs it), where the
# upy_test_* cases also count the heap. host_tests/test_captive_dns_client.py queries both
# runtimes' servers with dnspython, an independent DNS implementation.

import esp32_env

isolate = getattr(esp32_env, "isolate", None)  # pytest fixture: sys.path / sys.modules hygiene
esp32_env.setup()

import asyncio  # noqa: E402
import random  # noqa: E402
import socket  # noqa: E402
import sys  # noqa: E402

ANSWER = "10.71.0.1"
A, AAAA, MX, HTTPS, ANY = 1, 28, 15, 65, 255


def encode_name(name):
    out = b""
    for label in name.split("."):
        if label:
            out += bytes((len(label),)) + label.encode()
    return out + b"\x00"


def query(name="connectivitycheck.gstatic.com", qtype=A, qclass=1, qid=0x4D54, flags=0x0100):
    head = bytes((qid >> 8, qid & 255, flags >> 8, flags & 255, 0, 1, 0, 0, 0, 0, 0, 0))
    return head + encode_name(name) + bytes((qtype >> 8, qtype & 255, qclass >> 8, qclass & 255))


def server(port=53, bind_ip=None):
    import captive_dns

    return captive_dns.CaptiveDNS(ANSWER, port, bind_ip)


def answer_of(srv, q):
    n = srv.reply(q)
    return bytes(srv._reply[:n])


def u16(b, i):
    return (b[i] << 8) | b[i + 1]


def check_header(r, q, rcode, qd, an):
    assert len(r) >= 12, r
    assert r[0:2] == q[0:2], "the ID is echoed"
    assert r[2] & 0x80, "QR: a response"
    assert (r[2] & 0x78) == (q[2] & 0x78), "the opcode is echoed"
    assert (r[2] & 0x01) == (q[2] & 0x01), "RD is echoed"
    assert r[3] & 0x0F == rcode, (r[3] & 0x0F, rcode)
    assert (u16(r, 4), u16(r, 6), u16(r, 8), u16(r, 10)) == (qd, an, 0, 0)


# --- the protocol, on crafted datagrams --------------------------------------------------------


def test_a_query_gets_the_address():
    srv = server()
    q = query("captive.apple.com")
    r = answer_of(srv, q)
    check_header(r, q, 0, 1, 1)
    qlen = len(q) - 12
    assert r[12 : 12 + qlen] == q[12:], "the question is echoed byte for byte"
    rr = r[12 + qlen :]
    assert rr == b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x0a\x00\x04" + bytes((10, 71, 0, 1))
    assert srv.answered == 1 and srv.refused == 0 and srv.dropped == 0


def test_every_name_gets_the_same_address():
    srv = server()
    for name in ("a", "www.msftconnecttest.com", "mtip", "x" * 63 + ".local", "UPPER.Case"):
        q = query(name)
        r = answer_of(srv, q)
        check_header(r, q, 0, 1, 1)
        assert r[-4:] == bytes((10, 71, 0, 1))


def test_root_name_and_any_type_are_answered():
    srv = server()
    q = query("", ANY)
    r = answer_of(srv, q)
    check_header(r, q, 0, 1, 1)
    assert r[12:13] == b"\x00" and r[-4:] == bytes((10, 71, 0, 1))


def test_aaaa_and_other_types_get_no_data():
    srv = server()
    for qtype in (AAAA, MX, HTTPS, 16, 33):
        q = query("example.com", qtype)
        r = answer_of(srv, q)
        check_header(r, q, 0, 1, 0)
        assert r[12:] == q[12:], "only the question comes back"


def test_recursion_flag_is_echoed_either_way():
    srv = server()
    q = query(flags=0x0000)
    r = answer_of(srv, q)
    check_header(r, q, 0, 1, 1)
    assert r[2] & 0x04, "AA set"


def test_another_class_is_not_implemented():
    srv = server()
    q = query("version.bind", 16, qclass=3)  # CHAOS TXT
    r = answer_of(srv, q)
    check_header(r, q, 4, 1, 0)
    assert srv.refused == 1 and srv.answered == 0


def test_another_opcode_is_not_implemented():
    srv = server()
    for opcode in (1, 2, 4, 5, 15):
        q = query(flags=(opcode << 11) | 0x0100)
        r = answer_of(srv, q)
        assert len(r) == 12
        check_header(r, q, 4, 0, 0)


def test_question_count_other_than_one_is_formerr():
    srv = server()
    base = query()
    for qd in (b"\x00\x00", b"\x00\x02", b"\x01\x01"):
        q = base[:4] + qd + base[6:]
        r = answer_of(srv, q)
        assert len(r) == 12
        check_header(r, q, 1, 0, 0)


def test_every_truncation_is_formerr():
    srv = server()
    q = query("connectivitycheck.gstatic.com")
    for cut in range(12, len(q)):
        r = answer_of(srv, q[:cut])
        assert len(r) == 12, cut
        check_header(r, q, 1, 0, 0)
    assert srv.refused == len(q) - 12


def test_compression_pointers_and_their_loops_are_refused():
    srv = server()
    head = query()[:12]
    tail = b"\x00\x01\x00\x01"
    names = (
        b"\xc0\x0c",  # points at itself: a loop for a naive reader
        b"\x03www\xc0\x0c",  # a label, then a pointer back to it
        b"\xc0\x0e\xc0\x0c",  # two pointers pointing at each other
        b"\xff\xff",  # a pointer far past the end
        b"\x40abc\x00",  # extended label type (0x40)
        b"\x80abc\x00",  # reserved label type (0x80)
    )
    for name in names:
        r = answer_of(srv, head + name + tail)
        assert len(r) == 12, name
        check_header(r, head, 1, 0, 0)


def test_name_length_limits():
    srv = server()
    ok = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 61])  # 255 octets with the root
    q = query(ok)
    assert len(encode_name(ok)) == 255
    check_header(answer_of(srv, q), q, 0, 1, 1)
    too_long = ".".join(["a" * 63, "b" * 63, "c" * 63, "d" * 62])  # 256 octets
    r = answer_of(srv, query(too_long))
    check_header(r, q, 1, 0, 0)
    head = query()[:12]
    r = answer_of(srv, head + b"\x40" + b"a" * 64 + b"\x00\x00\x01\x00\x01")  # a 64-byte label
    check_header(r, head, 1, 0, 0)


def test_short_datagrams_and_responses_are_dropped():
    srv = server()
    for q in (b"", b"\x12", b"\x00" * 11):
        assert srv.reply(q) == 0
    assert srv.reply(query(flags=0x8180)) == 0  # a response: never answered (no loops)
    assert srv.dropped == 4 and srv.answered == 0 and srv.refused == 0


def test_random_garbage_never_breaks_it():
    srv = server()
    rnd = random.Random(1234) if hasattr(random, "Random") else random
    if not hasattr(random, "Random"):
        random.seed(1234)
    base = query("www.example.org")
    for i in range(3000):
        if i % 2:
            q = bytes(rnd.getrandbits(8) for _ in range(rnd.getrandbits(9)))
        else:  # a valid query with a few bytes flipped: reaches the deeper branches
            b = bytearray(base)
            for _ in range(1 + rnd.getrandbits(2)):
                b[rnd.getrandbits(5) % len(b)] = rnd.getrandbits(8)
            q = bytes(b[: len(b) - rnd.getrandbits(3)])
        n = srv.reply(q)
        assert n == 0 or 12 <= n <= 512, n
        if n:
            assert srv._reply[0:2] == q[0:2] and srv._reply[2] & 0x80
    assert len(srv._reply) == 512
    assert srv.answered + srv.refused + srv.dropped == 3000


def test_bad_answer_address_is_refused_at_start():
    import captive_dns

    for ip in ("1.2.3", "1.2.3.256", "a.b.c.d", "1.2.3.4.5"):
        try:
            captive_dns.CaptiveDNS(ip)
        except ValueError:
            continue
        raise AssertionError("accepted %r" % ip)


def upy_test_reply_allocates_nothing():
    import gc

    srv = server()
    queries = [query("captive.apple.com"), query("x.y", AAAA), query()[:20], b"\x00" * 5]
    for q in queries:
        srv.reply(q)  # warm up
    gc.collect()
    gc.disable()
    try:
        before = gc.mem_alloc()
        for _ in range(250):
            for q in queries:
                srv.reply(q)
        grown = gc.mem_alloc() - before
    finally:
        gc.enable()
    assert grown < 256, "1000 replies allocated %d bytes" % grown


# --- the real socket on loopback ---------------------------------------------------------------


def open_server():
    for port in range(47801, 47900):
        srv = server(port, "127.0.0.1")
        try:
            srv.open()
            return srv, port
        except OSError:
            continue
    raise AssertionError("no free UDP port")


def client(port):
    c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    c.setblocking(False)
    return c, socket.getaddrinfo("127.0.0.1", port, 0, socket.SOCK_DGRAM)[0][-1]


def with_server(body):
    srv, port = open_server()

    async def main():
        task = asyncio.create_task(srv.run())
        c, addr = client(port)
        try:
            await body(srv, c, addr)
        finally:
            c.close()
            srv.close()
            task.cancel()
            await asyncio.sleep(0.02)

    asyncio.run(main())
    return port


def test_udp_round_trip_answers_and_errors():
    async def body(srv, c, addr):
        q = query("clients3.google.com")
        c.sendto(q, addr)
        r = await esp32_env.recv_reply(c)
        assert r is not None, "no answer"
        check_header(r, q, 0, 1, 1)
        assert r[-4:] == bytes((10, 71, 0, 1))
        q = query("clients3.google.com", AAAA, qid=7)
        c.sendto(q, addr)
        check_header(await esp32_env.recv_reply(c), q, 0, 1, 0)
        c.sendto(b"\x01\x02\x03", addr)  # garbage: dropped, no reply
        q = query()[:15]
        c.sendto(q, addr)  # truncated: FORMERR is the next thing we get
        check_header(await esp32_env.recv_reply(c), q, 1, 0, 0)
        assert srv.dropped == 1

    port = with_server(body)
    again = server(port, "127.0.0.1")
    again.open()  # closed means closed: the port is free again
    again.close()


def test_flood_keeps_the_loop_turning_and_the_server_answering():
    async def body(srv, c, addr):
        ticks = [0]

        async def ticker():
            while True:
                ticks[0] += 1
                await asyncio.sleep(0)

        t = asyncio.create_task(ticker())
        good = query("flood.example")
        sent = 0
        for i in range(1500):
            data = good if i % 3 == 0 else bytes((i & 255, 1, 2)) if i % 3 == 1 else good[:20]
            try:
                c.sendto(data, addr)
                sent += 1
            except OSError:  # the client's own buffer is full: let the server catch up
                await asyncio.sleep(0.005)
            if i % 50 == 0:
                await asyncio.sleep(0)
        # Let it settle: nothing more is read once the queue is empty.
        last = -1
        while last != srv.answered + srv.refused + srv.dropped:
            last = srv.answered + srv.refused + srv.dropped
            await asyncio.sleep(0.05)
        while True:  # drain our replies
            try:
                c.recvfrom(1024)
            except OSError:
                break
        before = ticks[0]
        q = query("after.flood", qid=0x0BAD)
        c.sendto(q, addr)
        r = await esp32_env.recv_reply(c)
        t.cancel()
        assert r is not None, "no answer after the flood"
        check_header(r, q, 0, 1, 1)
        assert ticks[0] > before, "the loop kept turning"
        assert 0 < last <= sent
        assert len(srv._reply) == 512

    with_server(body)


def test_serve_without_traffic_and_after_close():
    srv, port = open_server()
    assert srv.serve() == 0 and srv.is_open()
    srv.close()
    assert not srv.is_open() and srv.serve() == 0
    srv.close()  # twice is fine


if __name__ == "__main__":
    if sys.implementation.name == "micropython":
        for _name in list(globals()):
            if _name.startswith("upy_test_"):
                globals()["test_" + _name[4:]] = globals()[_name]
    esp32_env.run_tests(globals())
