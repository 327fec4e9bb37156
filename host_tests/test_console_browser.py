"""The web console in a real browser: Debian's headless chromium driven by Playwright, the
console served by the unix board running the whole firmware on the MicroPython VM (as
`tools/dev.py modem --console PORT` runs it), AT over the pty beside it.

First visit, log in, a wrong password and its pause, a parameter changed and read back with AT,
a change refused while a session runs, the status page following a live TCP session's byte
counts, a forged cross-site form, the WiFi page of a board without scanning, restart.
"""

import http.server
import json
import re
import threading
import time

import pytest

from console_client import PASSWORD, Client, ConsoleModem, browser_login, start_browser, submit
from harness import BOOT, CLOSED, GPRS, OK, WAITING, cme, connect, free_port, recv_exact
from harness import recv_until_eof, wait_listening

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def console(tmp_path_factory):
    m = ConsoleModem(tmp_path_factory.mktemp("console"))
    try:
        yield m
    finally:
        m.close()


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    pw, ctx = start_browser(tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield ctx
    finally:
        ctx.close()
        pw.stop()


@pytest.fixture
def page(context, console):
    context.clear_cookies()
    p = context.new_page()
    try:
        yield p
    finally:
        p.close()
        console.check_alive()


def wait_text(page, selector, pattern, timeout=15.0):
    """Wait until the element's text matches `pattern` (the status page refreshes itself)."""
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = page.inner_text(selector)
        if re.search(pattern, text):
            return text
        time.sleep(0.1)
    pytest.fail("%s never matched %r; last text %r" % (selector, pattern, text))


def messages(page):
    return [e.inner_text() for e in page.query_selector_all("div.msg")]


def bearer_up(m):
    got = m.cmd("AT#CONNECTIONSTART")
    assert got in (b"\r\n127.0.0.1\r\n" + GPRS, cme(35840)), got


def test_first_visit_sets_the_password(console, page, context):
    console.clear_password()
    page.goto(console.url + "/")
    assert page.url.endswith("/setup")
    for pw, again, why in (
        ("short", "short", "refused: invalid value (#CME ERROR: 34882)"),
        (PASSWORD, PASSWORD + "x", "The two passwords differ."),
    ):
        page.fill("input[name=password]", pw)
        page.fill("input[name=again]", again)
        submit(page, "button")
        assert any(why in t for t in messages(page)), messages(page)
        assert console.at_value("AT#CONSOLEPW?") == '#CONSOLEPW: ""'
    page.fill("input[name=password]", PASSWORD)
    page.fill("input[name=again]", PASSWORD)
    submit(page, "button")
    assert page.url.endswith("/status")
    assert "Console password set; you are logged in." in messages(page)
    assert console.at_value("AT#CONSOLEPW?") == '#CONSOLEPW: "********"'
    with open(console.state + "/settings.json") as f:
        assert PASSWORD not in f.read()
    # the cookie the browser got: HttpOnly, SameSite=Strict, for this console only
    (c,) = [c for c in context.cookies() if c["name"] == "mtip_session"]
    assert c["httpOnly"] and c["sameSite"] == "Strict" and c["domain"] == "127.0.0.1"
    assert page.evaluate("document.cookie") == ""  # no script can read it
    # another browser (no cookie) now gets the login, and the set-up page is gone
    context.clear_cookies()
    page.goto(console.url + "/")
    assert page.url.endswith("/login")
    page.goto(console.url + "/setup")
    assert page.url.endswith("/login")


def test_wrong_password_then_the_pause(console, page):
    console.set_password()
    page.goto(console.url + "/login")
    page.fill("input[name=password]", PASSWORD + "-wrong")
    submit(page, "button")
    assert not page.url.endswith("/status")
    (msg,) = messages(page)
    assert re.fullmatch(r"Wrong password\. The next attempt is possible in \d+ s\.", msg), msg
    # During the pause even the right password is refused. Whether a request comes within the
    # pause is only known afterwards, from the client's clock: the check is made when it did,
    # else one more wrong password doubles the pause and the check is made again.
    c = Client(console.http_port)
    for _ in range(6):
        form = c.get("/login")
        t0 = time.monotonic()
        wrong = c.post("/login", {"csrf": form.csrf(), "password": "nope-nope"})
        if wrong.status == 429:  # the pause of the attempt before is still running
            time.sleep(int(wrong.header("retry-after")))
            continue
        assert wrong.status == 403
        pause = int(re.search(r"possible in (\d+) s", wrong.text).group(1))
        right = c.post("/login", {"csrf": wrong.csrf(), "password": PASSWORD})
        if time.monotonic() - t0 < pause:
            assert right.status == 429, right.raw[:300]
            assert "wait" in right.text and right.header("retry-after") is not None
            break
    else:
        pytest.fail("no request made it within a pause (the machine is far too slow)")
    browser_login(page, console.url)  # waits the pause out, then logs in
    assert page.url.endswith("/status")
    assert "Logged in." in messages(page)


def test_change_a_parameter_and_read_it_back_over_the_pty(console, page):
    console.set_password()
    browser_login(page, console.url)
    page.goto(console.url + "/settings")
    page.fill("input[name='TCPPORT.1']", "5123")
    page.fill("input[name='TCPTXDELAY.1']", "30")  # not a multiple of 20
    submit(page, "#tcp button")
    got = messages(page)
    assert "#TCPPORT (profile 1): stored" in got, got
    assert "#TCPTXDELAY (profile 1): refused: invalid value (#CME ERROR: 34882)" in got, got
    assert len(got) == 2, got  # the fields left as they were are not stored again
    assert console.at_value("AT#TCPPORT=1") == "#TCPPORT: 1,5123"
    assert console.at_value("AT#TCPTXDELAY=1") == "#TCPTXDELAY: 1,100"
    console.check("AT#TCPTXDELAY=1,30", cme(34882))  # AT gives the same reason
    assert page.input_value("input[name='TCPPORT.1']") == "5123"
    # a mail parameter (its table is loaded on first use) and a list
    page.fill("input[name=SMTPSERV]", "mail.example.com")
    submit(page, "#smtp button")
    assert "#SMTPSERV: stored" in messages(page)
    page.fill("input[name=REC1]", "ops@example.com, night@example.com")
    submit(page, "#mail1 button")
    assert "#REC1: stored" in messages(page)
    assert console.at_value("AT#SMTPSERV?") == '#SMTPSERV: "mail.example.com"'
    assert console.at_value("AT#REC1?") == '#REC1: "ops@example.com","night@example.com"'
    # the saved V.250 profile: the live one stays until ATZ
    console.check("AT&W", OK)  # (saved with echo off, as the tests run)
    page.fill("input[name='v250.C']", "0")
    submit(page, "#v250 button")
    assert "C (saved profile): stored" in messages(page)
    assert "&C1" in console.at_value("AT&V")
    console.check("ATZ", OK)
    assert "&C0" in console.at_value("AT&V")
    page.fill("input[name='v250.C']", "1")
    submit(page, "#v250 button")
    console.check("ATZ", OK)
    assert "&C1" in console.at_value("AT&V")


def test_status_follows_a_live_session_and_a_change_meanwhile_is_refused(console, page, context):
    console.set_password()
    browser_login(page, console.url)
    bearer_up(console)
    port = free_port()
    console.listen(port)
    wait_text(page, "#session", r"^listening$")
    wait_text(page, "#port", r"^%d \(profile 1\)$" % port)
    peer = connect(port)
    try:
        console.expect_exact(WAITING)
        wait_text(page, "#session", r"^TCP with 127\.0\.0\.1 for \d+ s: 0 B to the device")
        peer.sendall(b"a" * 1000)
        assert console.read_exact(1000) == b"a" * 1000
        wait_text(page, "#session", r": 1000 B to the device, 0 B to the peer$")
        console.send(b"b" * 700)
        assert recv_exact(peer, 700, watch=console) == b"b" * 700
        wait_text(page, "#session", r": 1000 B to the device, 700 B to the peer$")
        peer.sendall(b"c" * 2000)
        assert console.read_exact(2000) == b"c" * 2000
        wait_text(page, "#session", r": 3000 B to the device, 700 B to the peer$")
        # meanwhile, in a second tab, a change is refused as AT refuses it
        other = context.new_page()
        other.goto(console.url + "/settings")
        other.fill("input[name='TCPPORT.2']", "6001")
        submit(other, "#tcp button")
        assert messages(other) == [
            "#TCPPORT (profile 2): refused: a session, listener or service is running "
            "(#CME ERROR: 37123)"
        ]
        other.close()
        console.send(b"\x03")  # the device ends the session (DLEMODE 1)
        console.expect_exact(CLOSED + OK)
        assert recv_until_eof(peer, watch=console) == b""
    finally:
        peer.close()
    wait_text(page, "#session", r"^none$")
    wait_text(page, "#last_end", r"^TCP: local ETX, \d+ s ago$")
    assert console.at_value("AT#TCPPORT=2") == "#TCPPORT: 2,0"


class AttackerSite:
    """Another site on loopback whose page posts a form to the console at once."""

    def __init__(self, console_url):
        page = (
            '<form id="f" method="post" action="%s/settings">'
            '<input name="TCPPORT.1" value="9999"><input name="csrf" value="guessed"></form>'
            "<script>document.getElementById('f').submit()</script>" % console_url
        ).encode()

        class Handler(http.server.BaseHTTPRequestHandler):
            timeout = 5  # the browser's idle pre-connections end on their own

            def do_GET(self):
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.end_headers()
                self.wfile.write(page)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.server.daemon_threads = True
        self.url = "http://127.0.0.1:%d/" % self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def test_a_forged_form_from_another_site_is_refused(console, page):
    console.set_password()
    console.check("AT#TCPPORT=1,5124", OK)
    browser_login(page, console.url)
    site = AttackerSite(console.url)
    try:
        with page.expect_response(lambda r: r.url.endswith("/settings")) as answer:
            page.goto(site.url)
        assert answer.value.status == 403
        assert "another site" in page.inner_text("body")
    finally:
        site.close()
    assert console.at_value("AT#TCPPORT=1") == "#TCPPORT: 1,5124"


def test_wifi_page_of_a_board_without_scanning(console, page):
    console.set_password()
    browser_login(page, console.url)
    page.goto(console.url + "/wifi")
    text = page.inner_text("main")
    assert "Scanning and joining are not available on this board" in text
    assert page.query_selector("form[action='/wifi/scan']") is None
    page.fill("input[name=ssid]", "plant-floor")
    page.fill("input[name=password]", "wifi-Secret-77")
    submit(page, "main button")
    assert messages(page)[:2] == ["#WIFISSID: stored", "#WIFIPW: stored (not shown)"]
    assert console.at_value("AT#WIFISSID?") == '#WIFISSID: "plant-floor"'
    assert console.at_value("AT#WIFIPW?") == '#WIFIPW: "********"'
    assert "wifi-Secret-77" not in page.content()
    assert re.search(r"Password\s+set", page.inner_text("main"))


def test_restart_ends_the_session_and_resets_the_modem(console, page):
    console.set_password()
    browser_login(page, console.url)
    bearer_up(console)
    port = free_port()
    console.listen(port)
    peer = connect(port)
    try:
        console.expect_exact(WAITING)
        page.goto(console.url + "/restart")
        submit(page, "main button")
        assert page.url.endswith("/status")
        assert "Restarting the modem." in messages(page)
        console.expect_exact(CLOSED + OK + BOOT, timeout=10)
        assert recv_until_eof(peer, watch=console) == b""
    finally:
        peer.close()
    console.check("AT", OK)
    wait_text(page, "#bearer", r"^IDLE$")
    wait_text(page, "#session", r"^none$")
    page.goto(console.url + "/log")
    assert "console: restart" in page.inner_text("pre")
    assert "soft reset" in page.inner_text("pre")
    status = json.loads(Client(console.http_port).login().get("/api/status").body)
    assert status["session"] is None and status["bearer"]["up"] is False


def test_log_page_is_the_vlog_ring(console, page):
    console.set_password()
    browser_login(page, console.url)
    page.goto(console.url + "/log")
    shown = page.inner_text("pre").splitlines()
    ring = console.cmd("AT#VLOG").decode().split("\r\n")
    assert shown and all(line in ring for line in shown[:-2]), (shown, ring)
    assert any(line.endswith("console: login") for line in shown)
    assert PASSWORD not in page.content()


def test_listening_settings_are_shown_while_listening(console, page):
    console.set_password()
    browser_login(page, console.url)
    bearer_up(console)
    port = free_port()
    console.listen(port)
    try:
        wait_text(page, "#port", r"^%d \(profile 1\)$" % port)
        wait_listening(port)
    finally:
        console.send(b"\x03")  # ETX stops listening
        console.expect_exact(OK)
    wait_text(page, "#port", r"^-$")
