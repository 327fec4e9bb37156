"""What the web console tests share: the modem with its console (tools/modem.py --console PORT,
the whole firmware on the MicroPython VM, as `tools/dev.py modem` runs it), a raw HTTP client
on loopback (every byte of every answer kept, to look for secrets), and Debian's chromium
driven by Playwright.

The browser and Playwright are required: a missing one fails the test (never a skip).
"""

import html
import os
import re
import shutil
import socket
import time

import pytest

from harness import OK, EmulatedModem, free_port, wait_listening

PASSWORD = "Cabinet-7-console"
CHROMIUM = "/usr/bin/chromium"
# The machine has no network but loopback: nothing in the browser may try to reach out.
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


class ConsoleModem(EmulatedModem):
    """An emulated modem serving its console on 127.0.0.1:`http_port`."""

    def __init__(self, tmp_path, mpy=False, **kw):
        self.http_port = free_port()
        super().__init__(tmp_path, mpy=mpy, args=["--console", str(self.http_port)], **kw)
        wait_listening(self.http_port)
        self.url = "http://127.0.0.1:%d" % self.http_port

    def set_password(self, password=PASSWORD):
        """Over the serial line, as AT#CONSOLEPW (works while no session runs)."""
        self.check('AT#CONSOLEPW="%s"' % password, OK)

    def clear_password(self):
        self.check('AT#CONSOLEPW=""', OK)

    def at_value(self, query):
        """The answer's line of an AT read (e.g. "AT#TCPPORT=1" -> '#TCPPORT: 1,0')."""
        got = self.cmd(query)
        assert got.endswith(OK), got
        return got[2 : -len(OK)].strip().decode()


# --- raw HTTP ----------------------------------------------------------------------------------


class Reply:
    def __init__(self, raw):
        self.raw = raw
        head, _, self.body = raw.partition(b"\r\n\r\n")
        lines = head.split(b"\r\n")
        parts = lines[0].split(b" ", 2)
        assert parts[0].startswith(b"HTTP/"), "not an HTTP answer: %r" % raw[:200]
        self.status = int(parts[1])
        self.headers = []
        for line in lines[1:]:
            k, _, v = line.decode().partition(":")
            self.headers.append((k.strip().lower(), v.strip()))
        self.text = self.body.decode("utf-8", "replace")

    def header(self, name):
        for k, v in self.headers:
            if k == name.lower():
                return v
        return None

    def cookies(self):
        return [v for k, v in self.headers if k == "set-cookie"]

    def csrf(self):
        m = re.search(r'name="csrf" value="(\w+)"', self.text)
        return m.group(1) if m else None

    def messages(self):
        """The (kind, text) of each message box on the page."""
        return [
            (k, html.unescape(t))
            for k, t in re.findall(r'<div class="msg (\w*)">([^<]*)</div>', self.text)
        ]


def exchange(port, data, timeout=10.0):
    """Send `data` on a fresh connection and read until the server closes it."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    try:
        s.sendall(data)
        try:
            s.shutdown(socket.SHUT_WR)  # all sent: the console need not wait for more
        except OSError:
            pass
        buf = bytearray()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = s.recv(65536)
            if not got:
                break
            buf += got
        else:
            pytest.fail("the console did not close the connection within %.0f s" % timeout)
        return bytes(buf)
    finally:
        s.close()


def form_body(fields):
    from urllib.parse import urlencode

    return urlencode(fields).encode()


class Client:
    """A browser-less client: keeps its cookies, records every raw answer."""

    def __init__(self, port):
        self.port = port
        self.cookies = {}
        self.answers = []  # every raw answer, for the secrets check

    def request(self, method, path, fields=None, headers=(), body=None):
        lines = ["%s %s HTTP/1.1" % (method, path), "Host: 127.0.0.1:%d" % self.port]
        if self.cookies:
            lines.append("Cookie: " + "; ".join("%s=%s" % kv for kv in self.cookies.items()))
        if fields is not None:
            body = form_body(fields)
            lines.append("Content-Type: application/x-www-form-urlencoded")
        if body is not None:
            lines.append("Content-Length: %d" % len(body))
        lines += list(headers)
        raw = exchange(self.port, ("\r\n".join(lines) + "\r\n\r\n").encode() + (body or b""))
        self.answers.append(raw)
        r = Reply(raw)
        for c in r.cookies():
            name, _, rest = c.partition("=")
            value = rest.split(";", 1)[0]
            if "Max-Age=0" in c:
                self.cookies.pop(name, None)
            else:
                self.cookies[name] = value
        return r

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, fields, **kw):
        return self.request("POST", path, fields=fields, **kw)

    def login(self, password=PASSWORD):
        """Log in through the form; waits out a pause left by an earlier wrong password."""
        for _ in range(40):
            page = self.get("/login")
            assert page.status == 200, page.raw[:300]
            r = self.post("/login", {"csrf": page.csrf(), "password": password})
            if r.status != 429:
                break
            time.sleep(int(r.header("retry-after")))
        assert r.status == 303 and r.header("location") == "/status", r.raw[:500]
        return self

    def csrf(self):
        token = self.get("/status").csrf()
        assert token
        return token


# --- the browser -------------------------------------------------------------------------------


def start_browser(profile_dir):
    """Debian's chromium under Playwright, a fresh profile; fails when either is missing."""
    if not os.path.exists(CHROMIUM) or shutil.which("chromium") is None:
        pytest.fail(
            "%s is missing: apt-get install chromium (python3 tools/dev.py test installs it "
            "as root)" % CHROMIUM
        )
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        pytest.fail("playwright is missing (pinned in requirements-dev.txt): %s" % e)
    pw = sync_playwright().start()
    try:
        context = pw.chromium.launch_persistent_context(
            str(profile_dir),
            executable_path=CHROMIUM,
            args=CHROMIUM_FLAGS,
            headless=True,
            viewport={"width": 960, "height": 720},
        )
    except Exception:
        pw.stop()
        raise
    context.set_default_timeout(15000)
    return pw, context


def submit(page, selector):
    """Click a form's button and wait for the page the POST leads to (a 303, then a GET):
    a click alone returns before that page has loaded."""
    with page.expect_navigation():
        page.click(selector)


def browser_login(page, url, password=PASSWORD):
    """Log in through the form (waiting out a pause); ends on the status page."""
    for _ in range(40):
        page.goto(url + "/login")
        page.fill("input[name=password]", password)
        submit(page, "button:has-text('Log in')")
        if page.url.endswith("/status"):
            return
        text = page.inner_text("main")
        m = re.search(r"wait (\d+) s", text)
        assert m, "login failed: %s" % text
        time.sleep(int(m.group(1)))
    pytest.fail("could not log in")
