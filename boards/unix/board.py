# The host board: the modem firmware on the MicroPython unix port.
#
# UART = a pseudo-terminal master fd (tools/modem.py creates the pty and passes the fd),
# network = the host's own sockets, flash = a state directory.  Implements the board
# contract of docs/architecture.md.  MicroPython only (uses socket.sockaddr and the
# asyncio internals that extmod/asyncio/stream.py uses); must also compile with mpy-cross.

import errno
import socket

import asyncio
import neterr

# The unix port's socket module has no IPPROTO_TCP / TCP_NODELAY constants: Linux values.
IPPROTO_TCP = 6
TCP_NODELAY = 1
IPPROTO_ICMP = 1

# Neither are SO_SNDBUF / SO_RCVBUF (Linux values).  Sockets get small kernel buffers, like
# lwIP's few-KB windows on the ESP32, instead of Linux's autotuned megabytes: a slow peer or a
# slow device then throttles the other side within a few tens of KB, as on the board.
SO_SNDBUF = 7
SO_RCVBUF = 8
SOCK_BUF = 16384  # Linux doubles it

# Nor SO_OOBINLINE (Linux value): with it a peer's urgent byte (send(MSG_OOB)) stays in the
# stream, in order, as lwIP delivers it on the ESP32; without it Linux takes the byte out of the
# stream for a recv(MSG_OOB) that a bridge never makes, and it is lost.
SO_OOBINLINE = 10

# errno names the MicroPython errno module lacks (Linux numbers, this board only runs there).
EISCONN = 106  # "Transport endpoint is already connected": a repeated connect() after success

# termios c_cc indexes on Linux.
VTIME = 5
VMIN = 6

LISTEN_BACKLOG = 2


def _errno(exc):
    # OSError.errno, or None when the error carries no number (e.g. getaddrinfo's message).
    if exc.args and isinstance(exc.args[0], int):
        return exc.args[0]
    return None


def _resolve(host, port, kind):
    # Numeric addresses never touch DNS (getaddrinfo parses them).
    try:
        return socket.getaddrinfo(host, port, 0, kind)[0][-1]
    except OSError as e:
        # The unix port raises OSError('[addrinfo error -2]') (no errno number).
        raise neterr.ResolveError("%s: %s" % (host, e))


def _sockaddr_ip(addr):
    # accept() on the unix port returns the raw struct sockaddr as a bytearray.
    if isinstance(addr, tuple):  # other ports: (ip, port)
        return addr[0]
    ip = socket.sockaddr(addr)[1]
    if len(ip) == 4:
        return "%d.%d.%d.%d" % (ip[0], ip[1], ip[2], ip[3])
    return socket.inet_ntop(socket.AF_INET6, ip)


def _nodelay(sock):
    try:
        sock.setsockopt(IPPROTO_TCP, TCP_NODELAY, 1)
    except OSError:
        pass


def _oobinline(sock):
    # Before the first read is enough: Linux decides at read time whether to skip the byte.
    try:
        sock.setsockopt(socket.SOL_SOCKET, SO_OOBINLINE, 1)
    except OSError:
        pass


def _small_buffers(sock):
    # Before listen()/connect(): the receive window is negotiated in the handshake, and
    # accepted sockets inherit the listening socket's sizes.
    for opt in (SO_SNDBUF, SO_RCVBUF):
        try:
            sock.setsockopt(socket.SOL_SOCKET, opt, SOCK_BUF)
        except OSError:
            pass


def pty_uart(fd, raw=True):
    """The UART: a pty master fd (already O_NONBLOCK) as an unbuffered binary stream.

    readinto()/read() return None when nothing is pending, write() returns None when the pty
    is full; fileno() makes it pollable by asyncio.  With raw=True the line discipline of the
    pty pair is made raw with VMIN=VTIME=0 (the launcher already does this for the slave;
    repeating it is harmless and makes the board usable with a pty opened by other tools).
    """
    f = open(fd, "r+b")
    if raw:
        try:
            import termios

            termios.setraw(fd)
            attrs = termios.tcgetattr(fd)
            cc = attrs[6]
            cc[VMIN] = 0
            cc[VTIME] = 0
            termios.tcsetattr(fd, termios.TCSANOW, attrs)
        except (ImportError, OSError):
            pass
    return f


class HostNet:
    """The `net` object of the board contract, backed by the host's TCP/IP stack."""

    def __init__(self, ip="127.0.0.1"):
        self._ip = ip
        self._up = False
        self.listen_count = 0
        self.connect_count = 0

    # --- bearer ---------------------------------------------------------------------------

    async def up(self):
        # The host is always "attached": the link comes up at once with the configured address.
        self._up = True
        return self._ip

    def down(self):
        self._up = False

    def is_up(self):
        return self._up

    def ip(self):
        return self._ip if self._up else "0.0.0.0"

    def state(self):
        return "CONNECTED" if self._up else "IDLE"

    # --- sockets --------------------------------------------------------------------------

    def listen(self, port):
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            _small_buffers(s)
            s.bind(socket.getaddrinfo("0.0.0.0", port)[0][-1])
            s.listen(LISTEN_BACKLOG)
            s.setblocking(False)
        except OSError:
            s.close()
            raise
        self.listen_count += 1
        return s

    def accept(self, lsock):
        sock, addr = lsock.accept()  # OSError(EAGAIN) when nothing is pending
        try:
            sock.setblocking(False)
            _nodelay(sock)
            _oobinline(sock)
            peer = _sockaddr_ip(addr)
        except Exception:
            sock.close()
            raise
        return sock, peer

    async def connect(self, host, port, timeout_ms):
        addr = _resolve(host, port, socket.SOCK_STREAM)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            _small_buffers(s)
            s.setblocking(False)
            try:
                s.connect(addr)
            except OSError as e:
                if _errno(e) != errno.EINPROGRESS:
                    raise
            try:
                await asyncio.wait_for_ms(_writable(s), timeout_ms)
            except asyncio.TimeoutError:
                raise OSError(errno.ETIMEDOUT)
            # No getsockopt(SO_ERROR) on this port: a second connect() tells the outcome.
            try:
                s.connect(addr)
            except OSError as e:
                if _errno(e) != EISCONN:
                    raise
            _nodelay(s)
            _oobinline(s)
        except BaseException:
            s.close()
            raise
        self.connect_count += 1
        return s

    async def udp(self, host, port, local_port):
        """AT#OUDP: a non-blocking UDP socket bound to local_port, and the peer's address."""
        addr = _resolve(host, port, socket.SOCK_DGRAM)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(socket.getaddrinfo("0.0.0.0", local_port)[0][-1])
            s.setblocking(False)
        except BaseException:
            s.close()
            raise
        return s, addr

    async def icmp(self, host):
        """AT#PING: a non-blocking ICMP socket, the peer's address and its dotted IP.

        A raw socket needs root (CI runs as root); otherwise Linux's unprivileged "ping"
        datagram socket (net.ipv4.ping_group_range) is tried.
        """
        addr = _resolve(host, 0, socket.SOCK_DGRAM)
        try:
            s = socket.socket(socket.AF_INET, socket.SOCK_RAW, IPPROTO_ICMP)
        except OSError:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM, IPPROTO_ICMP)
        s.setblocking(False)
        return s, addr, _sockaddr_ip(addr)


async def _writable(sock):
    # Park this task on the asyncio poller until `sock` is writable (connect finished or
    # failed), exactly as extmod/asyncio/stream.py does; never blocks the loop.
    yield asyncio.core._io_queue.queue_write(sock)


class Board:
    """Optional hooks.  A pty has no baud rate, RTS/CTS or DCD line: the calls are recorded
    (latest values and counts only, so a long run does not grow the heap)."""

    def __init__(self):
        self.serial = None
        self.dcd = False
        self.dcd_changes = 0
        self.resets = 0

    def apply_serial(self, baud, rts, cts):
        self.serial = (baud, rts, cts)

    def set_dcd(self, on):
        self.dcd = bool(on)
        self.dcd_changes += 1

    def reset(self):
        # AT+CFUN=1 / AT#RESET: the engine resets its own state; there is no hardware to reset.
        self.resets += 1
