"""The console's protection: the password check, the login sessions, CSRF tokens and the pause
after failed logins. Pure logic over the settings (the password is AT#CONSOLEPW, stored as a
salted hash by settings.py / pwhash.py); it runs on CPython too.

* A session is a random token in a cookie (HttpOnly, SameSite=Strict), kept in RAM: at most
  MAX_SESSIONS (the oldest goes first), ended after IDLE_MS without a request or LIFETIME_MS
  after the login, and all of them when the password changes or the modem restarts.
* Every change is a POST carrying the session's CSRF token (a second random token, in the form,
  never in a cookie); the login and set-up forms carry one bound to a short-lived cookie.
* After a failed login the next attempt waits: 1 s, then twice as long after each further
  failure, at most PAUSE_MAX_MS; meanwhile no password is even looked at (one counter for all
  clients: a table per client address would grow with the clients).
"""

import binascii
import os

import asyncio
from compat import const, ticks_diff, ticks_ms

COOKIE = "mtip_session"
LOGIN_COOKIE = "mtip_login"
MAX_SESSIONS = 4
IDLE_MS = 30 * 60 * 1000
LIFETIME_MS = 12 * 3600 * 1000
PAUSE_FIRST_MS = 1000
PAUSE_MAX_MS = 30000
_FLASH_MAX = const(40)  # results kept for the next page, per session


def new_token():
    """32 hex digits from the board's random source (os.urandom: the ESP32's hardware RNG)."""
    return binascii.hexlify(os.urandom(16)).decode()


def same(a, b):
    """Compare two tokens in a time that does not depend on where they differ."""
    if not isinstance(a, str) or not isinstance(b, str) or len(a) != len(b) or not a:
        return False
    diff = 0
    for x, y in zip(a.encode(), b.encode()):
        diff |= x ^ y
    return diff == 0


def pause_for(failures):
    """How long the next login attempt waits after `failures` failed ones in a row (ms)."""
    if failures <= 0:
        return 0
    return min(PAUSE_FIRST_MS << min(failures - 1, 16), PAUSE_MAX_MS)


def cookie(name, value, max_age=None):
    """A Set-Cookie value: the browser sends it back to this console only, never to a script
    and never with a request another site starts."""
    text = "%s=%s; Path=/; HttpOnly; SameSite=Strict" % (name, value)
    if max_age is not None:
        text += "; Max-Age=%d" % max_age
    return text


class Session:
    def __init__(self, now):
        self.token = new_token()
        self.csrf = new_token()
        self.born = now
        self.seen = now
        self.flash = []  # what the last change did, shown once on the next page

    def say(self, text):
        if len(self.flash) < _FLASH_MAX:
            self.flash.append(text)

    def take_flash(self):
        out = self.flash
        self.flash = []
        return out


class Auth:
    def __init__(self, settings, clock=ticks_ms):
        self.settings = settings
        self.clock = clock
        self.sessions = []
        self.failures = 0  # failed logins in a row
        self.failed_at = 0

    # -- the password --------------------------------------------------------------------------
    def password_set(self):
        return bool(self.settings.get("CONSOLEPW"))

    def pause_left(self):
        """ms until a login may be tried again (0: now)."""
        wait = pause_for(self.failures)
        if not wait:
            return 0
        return max(0, wait - ticks_diff(self.clock(), self.failed_at))

    async def check(self, password):
        """True when `password` is the console password. The hash runs in steps with the loop
        turning between them; the caller has looked at pause_left() first."""
        import pwhash

        stored = self.settings.get("CONSOLEPW")
        if not stored or not isinstance(password, str):
            return False
        salt, want = pwhash.salt_and_hash(stored)
        got = None
        for got in pwhash.steps(password, salt):
            if got is None:
                await asyncio.sleep(0)  # (both runtimes)
        return same(got, want)

    def failed(self):
        self.failures += 1
        self.failed_at = self.clock()
        return pause_for(self.failures)

    def succeeded(self):
        self.failures = 0

    # -- sessions ------------------------------------------------------------------------------
    def open_session(self):
        now = self.clock()
        self.expire(now)
        if len(self.sessions) >= MAX_SESSIONS:
            self.sessions.pop(0)
        s = Session(now)
        self.sessions.append(s)
        return s

    def expire(self, now):
        self.sessions = [
            s
            for s in self.sessions
            if ticks_diff(now, s.seen) < IDLE_MS and ticks_diff(now, s.born) < LIFETIME_MS
        ]

    def session_of(self, cookies):
        """The live session whose token the request's cookie carries, else None."""
        token = cookies.get(COOKIE)
        if not token:
            return None
        now = self.clock()
        self.expire(now)
        for s in self.sessions:
            if same(s.token, token):
                s.seen = now
                return s
        return None

    def close_session(self, session):
        if session in self.sessions:
            self.sessions.remove(session)

    def close_others(self, keep=None):
        """After a password change: every other login ends."""
        self.sessions = [s for s in self.sessions if s is keep]
