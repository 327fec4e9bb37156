"""The captive DNS responder (firmware/captive_dns.py) queried by dnspython, an independent DNS
implementation, over real UDP on 127.0.0.1: the server runs as its own process under CPython
and under the MicroPython VM (host_tests/run_captive_dns.py), exactly the module the board runs.
"""

import os
import socket
import subprocess
import sys
import time

import dns.flags
import dns.message
import dns.query
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
ANSWER = "10.71.0.1"
HOST = "127.0.0.1"


def free_port_pair():
    for port in range(47901, 47999, 2):
        socks = []
        try:
            for p in (port, port + 1):
                s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                socks.append(s)
                s.bind((HOST, p))
            return port
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise AssertionError("no two free UDP ports")


class Server:
    def __init__(self, runtime, exe):
        self.runtime = runtime
        self.port = free_port_pair()
        env = dict(os.environ)
        env.pop("MICROPYPATH", None)  # the VM's default path keeps its frozen asyncio
        self.proc = subprocess.Popen(
            [exe, os.path.join(HERE, "run_captive_dns.py"), str(self.port), ANSWER],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        line = self.proc.stdout.readline()
        assert line.strip() == "ready", line + self.proc.stdout.read()

    def stats(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(5)
        try:
            s.sendto(b"stats", (HOST, self.port + 1))
            ticks, alloc, answered, refused, dropped = map(int, s.recv(128).split())
        finally:
            s.close()
        return dict(ticks=ticks, alloc=alloc, answered=answered, refused=refused, dropped=dropped)

    def stop(self):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.sendto(b"stop", (HOST, self.port + 1))
        s.close()
        try:
            self.proc.wait(10)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
                self.proc.wait()
        out = self.proc.stdout.read()
        assert self.proc.returncode == 0, out


@pytest.fixture(params=["cpython", "micropython"])
def server(request, venv_tool):
    exe = sys.executable if request.param == "cpython" else venv_tool("micropython")
    srv = Server(request.param, exe)
    yield srv
    srv.stop()


def ask(srv, name, rdtype="A", rdclass="IN", **kw):
    q = dns.message.make_query(name, rdtype, rdclass, **kw)
    return q, dns.query.udp(q, HOST, port=srv.port, timeout=5)


def raw(srv, data, timeout=5):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(timeout)
    try:
        s.sendto(data, (HOST, srv.port))
        return s.recv(1024)
    finally:
        s.close()


def test_captive_portal_names_resolve_to_the_console(server):
    names = (
        "connectivitycheck.gstatic.com",  # Android
        "captive.apple.com",  # iOS / macOS
        "www.msftconnecttest.com",  # Windows
        "detectportal.firefox.com",
        "mtip.setup",
    )
    for name in names:
        q, r = ask(server, name)
        assert r.rcode() == dns.rcode.NOERROR
        assert r.flags & dns.flags.AA and r.flags & dns.flags.QR
        assert r.question == q.question  # dnspython also checked the ID and the question
        (rrset,) = r.answer
        assert rrset.rdtype == dns.rdatatype.A and rrset.ttl == 10
        assert [rd.address for rd in rrset] == [ANSWER]


def test_aaaa_https_and_mx_get_an_empty_answer(server):
    for rdtype in ("AAAA", "HTTPS", "MX", "TXT"):
        _, r = ask(server, "example.com", rdtype)
        assert r.rcode() == dns.rcode.NOERROR and r.answer == [], rdtype


def test_edns_query_is_answered_without_opt(server):
    q, r = ask(server, "clients3.google.com", use_edns=0, payload=1232)
    assert r.rcode() == dns.rcode.NOERROR and r.edns < 0  # we speak plain DNS
    assert r.answer[0][0].address == ANSWER


def test_chaos_class_is_not_implemented(server):
    _, r = ask(server, "version.bind", "TXT", "CH")
    assert r.rcode() == dns.rcode.NOTIMP and r.answer == []


def test_malformed_queries_get_formerr(server):
    good = dns.message.make_query("www.example.com", "A").to_wire()
    for bad in (
        good[:15],  # truncated inside the name
        good[:-2],  # no class
        good[:12] + b"\xc0\x0c\x00\x01\x00\x01",  # a pointer to itself
        good[:12] + b"\x03www\xc0\x0c\x00\x01\x00\x01",  # a pointer loop through a label
    ):
        r = dns.message.from_wire(raw(server, bad))
        assert r.id == dns.message.from_wire(good).id
        assert r.rcode() == dns.rcode.FORMERR


def test_garbage_gets_no_reply_and_the_server_stays(server):
    for junk in (b"", b"\x00", b"\xff" * 11):
        with pytest.raises(socket.timeout):
            raw(server, junk, timeout=0.3)
    response = dns.message.make_response(dns.message.make_query("x.y", "A")).to_wire()
    with pytest.raises(socket.timeout):
        raw(server, response, timeout=0.3)  # a response is never answered
    assert server.stats()["dropped"] == 4
    _, r = ask(server, "still.here")
    assert r.answer[0][0].address == ANSWER


def test_flood_then_a_query_is_still_answered_and_the_heap_is_flat(server):
    ask(server, "warm.up")
    before = server.stats()
    good = dns.message.make_query("flood.example", "A").to_wire()
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sent = 0
    try:
        for i in range(3000):
            if i % 4 == 0:
                data = good
            elif i % 4 == 1:
                data = bytes([i & 255]) * (i % 600)  # garbage of every size up to 599 bytes
            else:
                data = good[:20]  # truncated: FORMERR
            s.sendto(data, (HOST, server.port))
            sent += 1
    finally:
        s.close()
    deadline = time.monotonic() + 20
    seen = -1
    while time.monotonic() < deadline:  # wait until the server has read all it will read
        st = server.stats()
        total = st["answered"] + st["refused"] + st["dropped"]
        if total == seen:
            break
        seen = total
        time.sleep(0.2)
    after = server.stats()
    handled = seen - (before["answered"] + before["refused"] + before["dropped"])
    assert 0 < handled <= sent
    assert after["ticks"] > before["ticks"], "the loop kept turning"
    if server.runtime == "micropython":
        assert after["alloc"] - before["alloc"] < 2048, (before, after)
    _, r = ask(server, "after.flood")
    assert r.answer[0][0].address == ANSWER
