"""The web console over raw HTTP on loopback (every byte of every answer looked at): forged
posts, oversized, malformed and slow requests, many connections at once, secrets never sent,
and AT#CONSOLE=0. The modem keeps answering AT on its pty all the while.
"""

import json
import os
import re
import socket
import time

import pytest

from console_client import PASSWORD, Client, ConsoleModem, Reply, exchange
from harness import OK, listening_ports, wait_listening, wait_not_listening

pytestmark = pytest.mark.timeout(120)

REQUEST_S = 5  # console.REQUEST_MS


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    m = ConsoleModem(tmp_path_factory.mktemp("console-http"))
    try:
        m.set_password()
        yield m
    finally:
        m.close()


@pytest.fixture
def client(console):
    yield Client(console.http_port).login()
    console.check("AT", OK)  # the modem still answers
    console.check_alive()


def raw(console, data, timeout=15.0):
    return exchange(console.http_port, data, timeout)


def test_pages_and_the_api_need_a_login(console):
    c = Client(console.http_port)
    for path in ("/", "/status", "/settings", "/log", "/wifi", "/restart"):
        r = c.get(path)
        assert r.status == 303 and r.header("location") == "/login", (path, r.raw[:200])
    r = c.get("/api/status")
    assert r.status == 401 and json.loads(r.body) == {"error": "log in first"}
    r = c.post("/restart", {"csrf": "x"})
    assert r.status == 303 and r.header("location") == "/login"
    assert c.get("/nothing-here").status in (303, 404)


def test_a_post_without_or_with_a_wrong_csrf_token_is_refused(console, client):
    console.check("AT#TCPPORT=1,5200", OK)
    token = client.csrf()
    for fields, headers in (
        ({"TCPPORT.1": "9999"}, ()),
        ({"TCPPORT.1": "9999", "csrf": ""}, ()),
        ({"TCPPORT.1": "9999", "csrf": "0" * 32}, ()),
        ({"TCPPORT.1": "9999", "csrf": token[:-1]}, ()),
        ({"TCPPORT.1": "9999", "csrf": token}, ("Sec-Fetch-Site: cross-site",)),
        ({"TCPPORT.1": "9999", "csrf": token}, ("Sec-Fetch-Site: same-site",)),
    ):
        r = client.post("/settings", fields, headers=headers)
        assert r.status == 403, (fields, headers, r.raw[:300])
    for path in ("/restart", "/logout", "/wifi"):
        assert client.post(path, {"csrf": "nope"}).status == 403, path
    assert console.at_value("AT#TCPPORT=1") == "#TCPPORT: 1,5200"
    # with the token, the same form goes through
    r = client.post("/settings", {"TCPPORT.1": "5201", "csrf": token})
    assert r.status == 303
    assert console.at_value("AT#TCPPORT=1") == "#TCPPORT: 1,5201"
    # a login form needs the token of its own cookie too
    fresh = Client(console.http_port)
    assert fresh.post("/login", {"password": PASSWORD}).status == 403
    assert fresh.post("/login", {"password": PASSWORD, "csrf": "0" * 32}).status == 403


def test_an_oversized_body_gets_413(console, client):
    head = (
        "POST /settings HTTP/1.1\r\nHost: x\r\nCookie: mtip_session=%s\r\n"
        "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n"
    )
    token = client.cookies["mtip_session"]
    r = Reply(raw(console, (head % (token, 100000)).encode() + b"TCPPORT.1=1&" * 300))
    assert r.status == 413
    r = Reply(raw(console, (head % (token, 4097)).encode() + b"x" * 4097))
    assert r.status == 413
    r = Reply(raw(console, (head % (token, 10**12)).encode()))
    assert r.status == 413
    assert console.at_value("AT#TCPPORT=1") != "#TCPPORT: 1,1"


def test_oversized_request_lines_and_headers_get_431(console, client):
    for data in (
        b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\n\r\n",
        b"GET /status HTTP/1.1\r\nX-Long: " + b"b" * 1100 + b"\r\n\r\n",
        b"GET /status HTTP/1.1\r\n"
        + b"X-Many: 0123456789012345678901234567890123456789\r\n" * 120,
        b"GET /status HTTP/1.1\r\nX-No-End: " + b"c" * 20000,
    ):
        r = Reply(raw(console, data))
        assert r.status == 431, (data[:60], r.raw[:200])
    # a flood: the answer, or a reset once the console stops reading
    try:
        answer = raw(console, b"GET / HTTP/1.1\r\nX-Flood: " + b"d" * (1 << 20))
        assert Reply(answer).status == 431
    except ConnectionResetError:
        pass


def test_malformed_requests_get_400(console, client):
    cookie = "Cookie: mtip_session=%s\r\n" % client.cookies["mtip_session"]
    token = client.csrf()
    bad_escape = "csrf=%s&TCPPORT.1=%%zz" % token
    for data in (
        b"GARBAGE\r\n\r\n",
        b"GET\r\n\r\n",
        b"\xff\xfe\r\n\r\n",
        b"GET /status HTTP/1.1\r\nContent-Length: many\r\n\r\n",
        b"GET /status HTTP/1.1\r\nno colon here\r\n\r\n",
        (
            "POST /settings HTTP/1.1\r\n%sContent-Type: application/x-www-form-urlencoded\r\n"
            "Content-Length: %d\r\n\r\n%s" % (cookie, len(bad_escape), bad_escape)
        ).encode(),
        (
            "POST /settings HTTP/1.1\r\n%sContent-Type: text/plain\r\nContent-Length: 38\r\n\r\n"
            "csrf=%s&" % (cookie, token)
        ).encode(),
    ):
        r = Reply(raw(console, data))
        assert r.status == 400, (data[:80], r.raw[:200])
    r = client.post("/settings", {"csrf": token, "TCPPORT.1": "\u00e9t\u00e9"})
    assert r.status == 303  # a value AT would refuse: refused with AT's reason
    page = client.get("/settings")
    assert ("err", "#TCPPORT (profile 1): refused: invalid value (#CME ERROR: 34882)") in (
        page.messages()
    )


def test_a_slow_client_is_cut_off_and_at_keeps_answering(console, client):
    s = socket.create_connection(("127.0.0.1", console.http_port), timeout=REQUEST_S * 4)
    try:
        s.sendall(b"GET /status HTTP/1.1\r\nHost: x\r\n")  # ... and no more
        console.check("AT", OK)
        assert console.at_value("AT#VSTATE").startswith("#STATE: ")
        buf = b""
        while True:  # (the socket's own timeout fails the test if the console waits for ever)
            got = s.recv(4096)
            if not got:
                break
            buf += got
        assert Reply(buf).status == 408
    finally:
        s.close()


def test_many_connections_at_once(console, client):
    """More clients than the console serves at a time: those over the limit get 503 or a
    closed socket; AT answers meanwhile; afterwards the console serves as before."""
    held = []
    for _ in range(4):  # slow clients holding every slot
        s = socket.create_connection(("127.0.0.1", console.http_port), timeout=20)
        s.sendall(b"GET /status HTTP/1.1\r\n")
        held.append(s)
    time.sleep(0.2)  # (they are accepted in order; a late one only makes more 503s below)
    outcomes = {}
    many = []
    try:
        for _ in range(150):
            try:
                s = socket.create_connection(("127.0.0.1", console.http_port), timeout=20)
            except OSError:  # the backlog full: refused
                outcomes["refused"] = outcomes.get("refused", 0) + 1
                continue
            many.append(s)
        for s in many:
            try:
                s.sendall(b"GET /api/status HTTP/1.1\r\n\r\n")
            except OSError:
                pass
        console.check("AT", OK)
        assert console.at_value("AT#TCPPORT=1").startswith("#TCPPORT: 1,")
        for s in many:
            buf = b""
            try:
                while True:
                    got = s.recv(4096)
                    if not got:
                        break
                    buf += got
            except OSError:
                pass
            kind = Reply(buf).status if buf else "closed"
            outcomes[kind] = outcomes.get(kind, 0) + 1
    finally:
        for s in many + held:
            s.close()
    # 503: over the limit; 401: served once a slot was free (no cookie); 408: served, but its
    # request came only after the others had connected, later than the console waits
    assert set(outcomes) <= {503, 401, 408, "closed", "refused"}, outcomes
    assert outcomes.get(503, 0) > 0, outcomes
    console.check("AT", OK)
    r = client.get("/api/status")
    assert r.status == 200 and json.loads(r.body)["version"]


SECRETS = {
    "WIFIPW": "wifi-Marker-1137",
    "APNPW": "apn-Marker-2246",
    "SMTPPW": "smtp-Marker-3355",
    "POP3PW": "pop3-Marker-4464",
    "FTPPW": "ftp-Marker-5573",
}


def test_secrets_are_never_in_any_answer(console, client):
    for name, value in SECRETS.items():
        console.check('AT#%s="%s"' % (name, value), OK)
    stored = json.load(open(os.path.join(console.state, "settings.json")))["params"]["CONSOLEPW"]
    forbidden = list(SECRETS.values()) + [PASSWORD, stored, stored[20:], stored[3:19]]
    other = Client(console.http_port)  # and a client that never logged in
    for path in ("/login", "/setup", "/console.css", "/console.js", "/status", "/api/status"):
        other.get(path)
    for path in ("/", "/status", "/api/status", "/settings", "/log", "/wifi", "/restart"):
        client.get(path)
    token = client.csrf()
    client.post("/settings", {"csrf": token, "WIFIPW": "", "SMTPPW": ""})  # unchanged
    client.post("/settings", {"csrf": token, "pw.current": "wrong-one", "pw.new": "x"})
    client.get("/settings")
    client.get("/log")
    page = client.get("/settings")
    for name in SECRETS:
        assert re.search(r"#%s<br>.*?<b>set</b>" % name, page.text), name
    answers = client.answers + other.answers
    assert len(answers) > 15
    for answer in answers:
        for secret in forbidden:
            assert secret.encode() not in answer, (secret, answer[:200])
    for name in SECRETS:  # still stored as they were
        assert console.at_value("AT#%s?" % name) != '#%s: ""' % name


def test_the_console_password_can_be_changed_from_the_settings_page(console):
    c = Client(console.http_port).login()
    other = Client(console.http_port).login()
    token = c.csrf()
    new = PASSWORD + "-2"
    c.post("/settings", {"csrf": token, "pw.current": PASSWORD, "pw.new": new, "pw.again": new})
    assert ("ok", "Console password changed; other logins ended") in c.get("/settings").messages()
    assert other.get("/status").status == 303  # logged out
    Client(console.http_port).login(new)
    c.post(
        "/settings", {"csrf": token, "pw.current": new, "pw.new": PASSWORD, "pw.again": PASSWORD}
    )
    Client(console.http_port).login()


def test_at_console_0_switches_it_off(tmp_path):
    m = ConsoleModem(tmp_path)
    try:
        m.check("AT#CONSOLE=0", OK)
        wait_not_listening(m.http_port)
        m.check("AT#CONSOLE?", b"\r\n#CONSOLE: 0\r\n" + OK)
        m.restart()  # with --console still given: the console is not even loaded
        m.check("AT", OK)
        time.sleep(0.5)
        assert m.http_port not in listening_ports()
        assert "console: off (AT#CONSOLE=0)" in m.cmd("AT#VLOG").decode()
        m.check("AT#CONSOLE=1", OK)
        m.restart()
        wait_listening(m.http_port)
        assert Client(m.http_port).get("/").status == 303
    finally:
        m.close()
