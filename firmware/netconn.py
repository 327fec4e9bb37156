"""A connection to a mail or file server: plain or TLS, bounded line reads, timed waits.

What the SMTP, POP3 and FTP clients share. A TLS socket from MicroPython's `ssl` behaves like
a non-blocking plain one here: its read/write return None when they would block (the
handshake runs inside the first of them), and the asyncio poller waits for what mbedTLS
needs, including bytes it holds decrypted. So one set of waits serves both.

Failures come out as CmdError with the dialect's code (multitech-mail-ftp.md §5), after a
line in AT#VLOG saying why; passwords never reach the log.
"""

import asyncio

import aio
import ipv4
from compat import const, ticks_ms
from errors import E_DNS, E_LINK_LOST, E_OPEN_FAILED, E_PEER_CLOSED, E_SERVER_SILENT, CmdError
from neterr import ResolveError

CONNECT_TIMEOUT_MS = const(8000)  # as AT#OTCP: below the most impatient client's 10 s
SILENCE_MS = 180000  # a server silent this long: 37964 (§2.3); the unix board can shorten it
_LINE_MAX = const(1024)  # a reply line longer than this is a broken server
CA_FILE = "ca.pem"  # in the state directory; tools/deploy.py --ca puts it there


class Conn:
    """One connection. `log` is the modem's log; `what` names the server in it."""

    def __init__(self, modem, sock, host, what):
        self.modem = modem
        self.sock = sock
        self.host = host
        self.what = what
        self.buf = None  # reply lines, made at the first read_line (a data connection has none)
        self.have = 0  # bytes read ahead in buf (after the last line taken)
        self.tls = False
        # What a connection that closes or breaks is answered with: 38016 while the service
        # sets up, 37966 once data mode began (begun()), as multitech-mail-ftp.md §5 says.
        self.closed_code = E_OPEN_FAILED
        self.raw = None  # the TCP socket under a TLS one
        self.fresh = False
        self.silence_ms = getattr(modem, "silence_ms", SILENCE_MS)

    def fail(self, code, why):
        self.modem.log("%s: %s" % (self.what, why))
        return CmdError(code)

    def begun(self):
        """Data mode began: from now on a closed or broken connection is 37966."""
        self.closed_code = E_PEER_CLOSED

    def lost(self, code=None):
        """What a failure means now: the link's loss, or the server's end (closed_code)."""
        if not self.modem.net.is_up():
            return E_LINK_LOST
        return self.closed_code if code is None else code

    # -- TLS -----------------------------------------------------------------------------------
    def start_tls(self):
        """Wrap the socket in TLS (after STARTTLS / STLS / AUTH TLS, or at once); the handshake
        runs inside the next read or write, which fails with 38016 when it does (the
        certificate is checked unless AT#TLSVERIFY=0)."""
        self.raw = self.sock
        self.sock = wrap(self.modem, self.sock, self.host, self.what)
        self.tls = True
        self.fresh = True  # no byte has crossed yet: a failure now is the handshake's

    def broken(self, e, doing):
        """The CmdError for an exception of the socket: a TLS handshake that failed (mbedTLS
        raises ValueError when a certificate does not verify), or the connection's failure."""
        if self.tls and (self.fresh or isinstance(e, ValueError)):
            return self.fail(E_OPEN_FAILED, "TLS handshake failed: %s" % tls_reason(e))
        return self.fail(self.lost(), "%s failed: %r" % (doing, e))

    # -- waits ---------------------------------------------------------------------------------
    async def wait(self, waiting, doing):
        try:
            await asyncio.wait_for_ms(waiting, self.silence_ms)
        except asyncio.TimeoutError:
            raise self.fail(
                E_SERVER_SILENT, "no answer for %d s (%s)" % (self.silence_ms // 1000, doing)
            )

    async def readinto(self, mv):
        """Read into mv (read-ahead first): n > 0, or 0 at the end of the stream."""
        buf = self.buf
        if self.have and buf is not None:  # (read ahead by read_line)
            n = min(self.have, len(mv))
            mv[:n] = buf[:n]
            buf[: self.have - n] = buf[n : self.have]  # (same length: buf stays)
            self.have -= n
            return n
        while True:
            try:
                n = self.sock.readinto(mv)
            except (OSError, ValueError) as e:
                raise self.broken(e, "read")
            if n is not None:
                self.fresh = False
                return n
            await self.wait(aio.readable(self.sock), "reading")

    async def read_line(self):
        """The next line without its CR LF, as bytes; CmdError at the end of the stream."""
        if self.buf is None:
            self.buf = bytearray(_LINE_MAX)
        while True:
            k = self.buf.find(b"\n", 0, self.have)
            if k >= 0:
                line = bytes(self.buf[:k]).rstrip(b"\r")
                self.buf[: self.have - k - 1] = self.buf[k + 1 : self.have]
                self.have -= k + 1
                return line
            if self.have >= _LINE_MAX:
                raise self.fail(E_OPEN_FAILED, "reply line too long")
            try:
                n = self.sock.readinto(memoryview(self.buf)[self.have :])
            except (OSError, ValueError) as e:
                raise self.broken(e, "read")
            if n is not None:
                self.fresh = False
            if n is None:
                await self.wait(aio.readable(self.sock), "waiting for a reply")
            elif n == 0:
                raise self.fail(self.lost(), "closed the connection")
            else:
                self.have += n

    async def write(self, data):
        """Send all of data (waiting for room, not past the silence limit)."""
        mv = memoryview(data)
        off = 0
        end = len(mv)
        while off < end:
            try:
                n = self.sock.write(mv[off:])
            except (OSError, ValueError) as e:
                raise self.broken(e, "write")
            if n:
                self.fresh = False
                off += n
            else:
                await self.wait(aio.writable(self.sock), "sending")

    def close(self):
        """Close the connection. A TLS socket's close() neither sends close_notify nor closes
        the socket under it (MicroPython), so that one is closed too: its FIN is what ends an
        FTPS upload for the server, and nothing leaks after a failed handshake."""
        for sock in (self.sock, self.raw):
            if sock is not None:
                try:
                    sock.close()
                except OSError:
                    pass


async def open_service(modem, name, by_port, default):
    """Connect to the server of a service ("SMTP", "POP3", "FTP": its <name>SERV, <name>PORT)
    and, when its <name>TLS says so (0: `by_port`, {port: mode}, else `default`), start TLS
    at once. Returns (Conn, TLS mode: 1 never, 2 STARTTLS / STLS / AUTH TLS required, 3 at
    once, 0 when offered)."""
    st = modem.settings
    port = st.get(name + "PORT")
    tls = st.get(name + "TLS") or by_port.get(port, default)
    conn = await connect(modem, st.get(name + "SERV"), port, name.lower())
    if tls == 3:
        conn.start_tls()
    return conn, tls


class Service:
    """What a mail or FTP data-mode service shows the engine and the status (the counters of
    docs/architecture.md); `conn`: the connection its data goes through, whose end is 37966
    now that data began."""

    def __init__(self, modem, conn):
        self.modem = modem
        self.conn = conn
        self.peer = conn.host
        self.opened = ticks_ms()
        self.to_device = 0
        self.to_peer = 0
        conn.begun()  # data mode: a connection that ends now is 37966 (§5)

    def ended(self, why):
        self.modem.session_ended(self, why)


async def connect(modem, host, port, what):
    """A Conn to host:port; CmdError 38027 when the name does not resolve, 38016 when the
    connection cannot be made."""
    if not host or not port:
        raise CmdError(E_OPEN_FAILED if host else 34882)
    try:
        opening = modem.net.connect(ipv4.for_connect(host), port, CONNECT_TIMEOUT_MS)
        sock = await asyncio.wait_for_ms(opening, CONNECT_TIMEOUT_MS + 500)
    except ResolveError:
        modem.log("%s: cannot resolve %s" % (what, host))
        raise CmdError(E_DNS)
    except asyncio.TimeoutError:
        modem.log("%s: connect to %s:%d timed out" % (what, host, port))
        raise CmdError(E_OPEN_FAILED)
    except OSError as e:
        modem.log("%s: connect to %s:%d failed: %r" % (what, host, port, e))
        raise CmdError(E_OPEN_FAILED)
    modem.log("%s: connected to %s:%d" % (what, host, port))
    return Conn(modem, sock, host, what)


def wrap(modem, sock, host, what):
    """The socket wrapped for TLS, the handshake still to run (CmdError 38016 when the CA
    certificates the check needs are not installed)."""
    import ssl

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if modem.settings.get("TLSVERIFY"):
        path = modem.state_dir.rstrip("/") + "/" + CA_FILE
        try:
            if not load_cas(ctx, path):
                raise ValueError("no certificate in it")
        except (OSError, ValueError) as e:
            modem.log(
                "%s: no CA certificates to check %s with (%s): %r" % (what, host, CA_FILE, e)
            )
            raise CmdError(E_OPEN_FAILED)
        ctx.verify_mode = ssl.CERT_REQUIRED  # type: ignore[attr-defined]  # (the stubs lack it)
    else:
        ctx.verify_mode = ssl.CERT_NONE  # type: ignore[attr-defined]
    # the certificate must name the host: its name, or its address (an IP subjectAltName)
    return ctx.wrap_socket(sock, server_hostname=host, do_handshake_on_connect=False)


def load_cas(ctx, path):
    """Load every certificate of a PEM file into ctx, one at a time (the file is read line
    by line: a bundle never sits in RAM whole); DER goes in, as not every mbedTLS build of
    MicroPython parses PEM. Returns how many were loaded."""
    import binascii

    count = 0
    body: list = []
    inside = False
    with open(path, "rb") as f:
        for line in f:
            line = line.strip()
            if line == b"-----BEGIN CERTIFICATE-----":
                body = []
                inside = True
            elif line == b"-----END CERTIFICATE-----" and inside:
                ctx.load_verify_locations(cadata=binascii.a2b_base64(b"".join(body)))
                count += 1
                inside = False
            elif inside:
                body.append(line)
    return count


def tls_reason(e):
    """A short reason for a TLS failure: MicroPython raises ValueError with mbedTLS's
    verification text, or OSError with its negative code."""
    if isinstance(e, ValueError) and e.args:
        return "the certificate does not verify: " + str(e.args[0]).strip()
    return repr(e)
