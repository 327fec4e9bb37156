"""A real FTP / FTPS server (pyftpdlib 2.2.0) on 127.0.0.1, serving a real directory.

    server = FtpServer(tls_material, root, users={"bob": "pw"}, anonymous="read")
    server.start()                  # accepting on server.host:server.port when this returns
    ... client: USER/PASS, TYPE I, PASV, STOR/RETR ...
    (server.root / "log.txt").read_bytes()
    server.stop()

(Tests normally use the `ftp_server` factory fixture in mailservers.py, which stops it; there
`root` is a fresh tmp directory.)

Options:
    users={"name": "password"}  accounts with read/write access to `root` (home = root).
    anonymous=None|"read"|"write"  "anonymous" login (any password): read-only (STOR gets
                                "550 Not enough privileges.") or read/write; None: refused (530).
    tls=None|"explicit"|"implicit"
        "explicit": TLS_FTPHandler: AUTH TLS (234), PBSZ 0, PROT P / PROT C (RFC 4217).
        "implicit": TLS from the first byte (like port 990), then PBSZ/PROT as above.
            pyftpdlib has no implicit mode (its issue #160 is open); this is TLS_FTPHandler
            with the handshake started before the 220 greeting (_ImplicitTlsHandler below).
    tls_control_required=True   USER/PASS before AUTH TLS get "550 SSL/TLS required on the
                                control channel."
    tls_data_required=True      PASV/EPSV/PORT before PROT P get "550 SSL/TLS required on the
                                data channel."
    cert="good"|"untrusted"|"wrong_host"  the certificate presented (srv_tls.py).
    passive_ports=range(...)    passive data ports (default: 20 ports picked at random in
                                20000-29999); a taken port is skipped, and if all are taken
                                pyftpdlib falls back to a kernel-chosen port.
    refuse_stor=True            STOR gets "553 Could not create file." (no data connection).
    drop_after=N                the data connection is closed by the server once at least N
                                bytes went through it (RETR or STOR), at a chunk boundary: the
                                client sees the data end early and "426 Connection closed;
                                transfer aborted." on the control connection.
    drop_control=True           with drop_after: the control connection is closed at the same
                                moment instead, with no reply (a server that died).

Transfers follow pyftpdlib: TYPE I stores and sends bytes as they are; TYPE A stores an
upload with CRLF turned into LF (Unix text file) and sends LF as CRLF.

Recorded:
    server.commands: ["USER bob", "PASS pw", "TYPE I", "PASV", "STOR f", ...] over all
        connections, in order (each as "VERB" or "VERB arg", the verb upper-cased).
    server.received: [(path, complete)] for every STOR that ended (complete False when the
        transfer was cut). The file itself is closed before the 226/426 reply is sent, but
        this entry is added just after it: right after a reply (or a reset) wait for it with
        srv_tls.wait_until(lambda: server.received).
    server.tls_logins: how many logins happened on a TLS control connection.
"""

import logging
import os
import random
import threading
import warnings

from srv_tls import LOOPBACK

with warnings.catch_warnings():  # pyftpdlib 2.2 is built on asyncore/asynchat (deprecated)
    warnings.simplefilter("ignore", DeprecationWarning)
    from pyftpdlib.authorizers import DummyAuthorizer
    from pyftpdlib.handlers import DTPHandler, FTPHandler, TLS_DTPHandler, TLS_FTPHandler
    from pyftpdlib.ioloop import IOLoop
    from pyftpdlib.log import logger
    from pyftpdlib.servers import FTPServer

# pyftpdlib's IOLoop configures INFO logging to stderr on its first run in a process unless a
# handler exists: in the bench's server process that wrote a line per poll (thousands per 8 MiB).
logger.addHandler(logging.NullHandler())
logger.setLevel(logging.WARNING)

READ_PERMS = "elr"  # CWD, LIST, RETR
WRITE_PERMS = "elradfmwMT"  # and APPE, DELE, RNFR/RNTO, MKD, STOR, SITE CHMOD, MFMT


class _DroppingData:
    """Mixin for the data channel: close it (and maybe the control one) after N bytes."""

    drop_after = None
    drop_control = False

    def send(self, data):
        sent = super().send(data)
        self._maybe_drop(self.tot_bytes_sent)
        return sent

    def handle_read_event(self):  # DTPHandler aliases this to handle_read: hook here
        super().handle_read_event()
        self._maybe_drop(self.tot_bytes_received)

    def _maybe_drop(self, count):
        if self.drop_after is None or count < self.drop_after or self._closed:
            return
        control = self.cmd_channel
        if self.drop_control:
            self._resp = ()  # close() sends this reply, if any, on the control connection
        else:
            self._resp = ("426 Connection closed; transfer aborted.", logger.info)
        self.close()
        if self.drop_control:
            control.close()


class _RecordingHandlerMixin:
    """Mixin for the control channel: record commands and uploads; refuse STOR if asked."""

    owner = None

    def pre_process_command(self, line, cmd, arg):
        self.owner.commands.append(cmd if not arg else "%s %s" % (cmd, arg))
        super().pre_process_command(line, cmd, arg)

    def on_login(self, username):
        if getattr(self, "_ssl_established", False):
            self.owner.tls_logins += 1

    def on_file_received(self, path):
        self.owner.received.append((path, True))

    def on_incomplete_file_received(self, path):
        self.owner.received.append((path, False))

    def ftp_STOR(self, file, mode="w"):
        if self.owner.refuse_stor:
            self.respond("553 Could not create file.")
            return None
        return super().ftp_STOR(file, mode)


class _ImplicitTlsHandler(TLS_FTPHandler):
    def handle(self):
        # Handshake first; the 220 queued by handle() goes out once TLS is up.
        self.secure_connection(self.ssl_context)
        super().handle()


class FtpServer:
    """See the module docstring. Attributes: host, port, root, passive_ports, ca_pem, ca_path,
    commands, received, tls_logins; methods start(), stop()."""

    def __init__(
        self,
        tls_material,
        root,
        users=None,
        anonymous=None,
        tls=None,
        tls_control_required=False,
        tls_data_required=False,
        cert="good",
        passive_ports=None,
        refuse_stor=False,
        drop_after=None,
        drop_control=False,
    ):
        if anonymous not in (None, "read", "write"):
            raise ValueError("anonymous must be None, 'read' or 'write'")
        if tls not in (None, "explicit", "implicit"):
            raise ValueError("tls must be None, 'explicit' or 'implicit'")
        self.host = LOOPBACK
        self.port = None
        self.root = root
        if passive_ports is None:
            base = random.randrange(20000, 29980)
            passive_ports = range(base, base + 20)
        self.passive_ports = passive_ports
        self.ca_pem = tls_material.ca_pem
        self.ca_path = tls_material.ca_path
        self.refuse_stor = refuse_stor
        self.commands = []
        self.received = []
        self.tls_logins = 0
        os.makedirs(str(root), exist_ok=True)

        authorizer = DummyAuthorizer()
        for name, password in (users or {}).items():
            authorizer.add_user(name, password, str(root), perm=WRITE_PERMS)
        if anonymous:
            with warnings.catch_warnings():  # write access for anonymous is what was asked
                warnings.simplefilter("ignore", RuntimeWarning)
                perm = WRITE_PERMS if anonymous == "write" else READ_PERMS
                authorizer.add_anonymous(str(root), perm=perm)

        base_handler = {None: FTPHandler, "explicit": TLS_FTPHandler}.get(tls, _ImplicitTlsHandler)
        base_dtp = TLS_DTPHandler if tls else DTPHandler
        dtp = type(
            "DataHandler",
            (_DroppingData, base_dtp),
            {"drop_after": drop_after, "drop_control": drop_control},
        )
        attrs = {
            "owner": self,
            "authorizer": authorizer,
            "passive_ports": list(passive_ports),
            "dtp_handler": dtp,
            "banner": "mtip test FTP server ready.",
            # sendfile() for a plain RETR (as vsftpd and proftpd do), except where drop_after
            # must count the bytes send() passes
            "use_sendfile": drop_after is None,
            "auth_failed_timeout": 0,  # pyftpdlib waits 3 s before a 530 by default
        }
        if tls:
            server_cert = tls_material.server_cert(cert)
            attrs.update(
                certfile=server_cert.cert_path,
                keyfile=server_cert.key_path,
                ssl_context=None,  # built from certfile for this class only
                tls_control_required=tls_control_required,
                tls_data_required=tls_data_required,
            )
        self._handler = type("ControlHandler", (_RecordingHandlerMixin, base_handler), attrs)
        self._server = None
        self._thread = None
        self._stopping = threading.Event()

    def start(self):
        # Own IOLoop: pyftpdlib's default is one shared instance for the whole process.
        self._server = FTPServer((LOOPBACK, 0), self._handler, ioloop=IOLoop())
        self.port = self._server.address[1]  # listening from here on; clients queue
        self._thread = threading.Thread(target=self._serve, name="ftp-server", daemon=True)
        self._thread.start()
        return self

    def _serve(self):
        try:
            while not self._stopping.is_set():
                # One poll of at most 50 ms per turn, so stop() is noticed quickly. (The IOLoop
                # itself: serve_forever() logs "starting FTP server" on every call.)
                self._server.ioloop.loop(timeout=0.05, blocking=False)
        finally:
            self._server.close_all()

    def stop(self):
        if self._thread is not None:
            self._stopping.set()
            self._thread.join(timeout=10)
            self._thread = None
