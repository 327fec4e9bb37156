"""A real SMTP server (aiosmtpd 1.4.6) on 127.0.0.1 that records what clients send.

    server = SmtpServer(tls_material, mode="starttls", users={"alice": "s3cret"})
    server.start()            # listening on server.host:server.port when this returns
    ... client sends mail ...
    server.messages[0].wire   # the exact DATA bytes the client put on the wire
    server.stop()

(Tests normally use the `smtp_server` factory fixture in mailservers.py, which stops it.)

Modes (`mode=`):
    "plain"             no TLS at all; AUTH is offered in clear text.
    "starttls"          STARTTLS offered, not required; AUTH offered only after STARTTLS.
    "starttls_required" as "starttls", and every command but EHLO/HELO/NOOP/QUIT/STARTTLS
                        gets "530 Must issue a STARTTLS command first" before TLS.
    "implicit_tls"      TLS from the first byte (like port 465); no STARTTLS; AUTH offered.
`auth_require_tls=` overrides when AUTH is offered in "starttls*" modes (default: only after
TLS). In "implicit_tls" the whole connection is TLS, so AUTH is always offered (aiosmtpd would
otherwise refuse it: it only counts STARTTLS as TLS).

Other options:
    users={"name": "password"}   AUTH LOGIN and PLAIN check against this table (none: any
                                 AUTH is refused with 535).
    auth_required=True           MAIL/RCPT/DATA get "530 5.7.0 Authentication required".
    refuse_rcpt={"a@b"}          RCPT TO those addresses gets "550 5.1.1 Mailbox unavailable".
    refuse_mail_from=True | {"a@b"}  MAIL FROM (any, or those) gets "550 5.7.1 Sender rejected".
    refuse_data=True             the end of DATA gets "554 5.6.0 Message refused" (nothing is
                                 recorded in `messages`).
    drop_in_data=N               after "354" the server reads N more bytes (N=0: none) and
                                 closes the connection: no reply, no message recorded.
    cert="good"|"untrusted"|"wrong_host"  the certificate TLS modes present (srv_tls.py).
    auth_mechanisms=("PLAIN",)   offer only these AUTH mechanisms (default: LOGIN and PLAIN).

What is recorded (filled in before the server sends its reply, so a client that has its
answer can look at once):
    server.messages: list of ReceivedMessage, in order accepted:
        .mail_from (str), .rcpt_tos (list of str) - the accepted envelope;
        .wire (bytes) - exactly what the client sent after the "DATA" line, up to and
            including the terminating ".\\r\\n" line: dot-stuffing and line ends untouched;
        .content (bytes) - aiosmtpd's envelope.original_content: .wire with the final ".\\r\\n"
            removed and the leading "." taken off every line that started with one (the
            un-stuffing of RFC 5321 4.5.2); nothing else is changed;
        .session - the SmtpSession it arrived on.
    server.sessions: list of SmtpSession, one per connection (readiness probes excluded):
        .commands: [(VERB, arg-or-None)] in order, e.g. ("EHLO", "modem.example"),
            ("STARTTLS", None), ("AUTH", "LOGIN"); LOGIN/PLAIN replies after a 334 are not
            commands and are not listed;
        .replies: every reply line the server sent (str, without CRLF);
        .ehlo: the last EHLO/HELO argument; .starttls: STARTTLS completed;
        .tls: the connection was TLS at the end (STARTTLS or implicit);
        .auth_mechanism / .auth_login: of the successful AUTH (None if none);
        .auth_failures: [(mechanism, login)] refused; .dropped: drop_in_data fired;
        .client_bytes: every byte the client sent, after TLS decryption.

`dot_stuffed(body)` gives the wire form of a body, for assertions on `.wire`.

Line ends, as aiosmtpd 1.4.6 handles them (checked in test_servers.py): DATA lines are split
on CRLF only. A bare LF is NOT refused and NOT converted: it stays inside the line, so
"a\\nb\\r\\n" is recorded as it is, and "\\n.\\n" does not end the message (only CRLF.CRLF
does). A line "." preceded by a bare LF is therefore not un-stuffed either. Servers hardened
against SMTP smuggling refuse bare LF; this one records it, so tests assert the firmware's
CRLF normalisation on `.wire` themselves. Limits: a line (CRLF to CRLF, bare LFs counting as
plain bytes) over 1001 bytes gets "500 Line too long" after the terminator, more than 32 MiB
of data "552 Error: Too much mail data"; neither is recorded in `messages`.
"""

import asyncio
import re

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult
from srv_tls import LOOPBACK

MODES = ("plain", "starttls", "starttls_required", "implicit_tls")


def dot_stuffed(body):
    """RFC 5321 4.5.2 transparency (POP3's too): "." added before every line that starts
    with "."; lines are split on CRLF only, as aiosmtpd does. `.wire` of a message sent by a
    correct client is dot_stuffed(content) + b".\\r\\n" when content ends with CRLF."""
    return re.sub(rb"(^|\r\n)\.", rb"\1..", body)


class ReceivedMessage:
    def __init__(self, mail_from, rcpt_tos, wire, content, session):
        self.mail_from = mail_from
        self.rcpt_tos = rcpt_tos
        self.wire = wire
        self.content = content
        self.session = session

    def __repr__(self):
        return "<ReceivedMessage from=%r to=%r %d bytes>" % (
            self.mail_from,
            self.rcpt_tos,
            len(self.content),
        )


class SmtpSession:
    def __init__(self):
        self.commands = []
        self.replies = []
        self.ehlo = None
        self.starttls = False
        self.tls = False
        self.auth_mechanism = None
        self.auth_login = None
        self.auth_failures = []
        self.dropped = False
        self.client_bytes = bytearray()


class _RecordingSMTP(SMTP):
    """aiosmtpd's SMTP protocol, plus recording and the failure switches of SmtpServer."""

    def __init__(self, owner, handler, auth_required=False, **kwargs):
        super().__init__(handler, **kwargs)
        # Set after the constructor, which warns about AUTH required without STARTTLS: in
        # "plain" and "implicit_tls" that is the configuration under test, not a mistake.
        self._auth_required = auth_required
        self._owner = owner
        self.record = SmtpSession()
        self._data_capture = None  # bytes received since the DATA line, while in DATA
        self._smtp_methods = {
            verb: self._recorded(verb, method) for verb, method in self._smtp_methods.items()
        }

    def _recorded(self, verb, method):
        async def call(arg):
            self.record.commands.append((verb, arg))
            if verb in ("EHLO", "HELO"):
                self.record.ehlo = arg
            await method(arg)

        return call

    def connection_made(self, transport):
        super().connection_made(transport)
        if transport.get_extra_info("ssl_object") is not None:
            self.record.tls = True
        if self.record not in self._owner.sessions:
            self._owner.sessions.append(self.record)

    def data_received(self, data):
        self.record.client_bytes += data
        if self._data_capture is not None:
            self._data_capture += data
        super().data_received(data)

    async def push(self, status):
        line = status if isinstance(status, str) else status.decode("utf-8", "replace")
        self.record.replies.append(line)
        await super().push(status)

    def data_wire(self):
        """The DATA bytes consumed so far: captured minus what the reader has not read yet."""
        unread = len(self._reader._buffer)  # StreamReader keeps unread bytes there
        return bytes(self._data_capture[: len(self._data_capture) - unread])

    async def smtp_DATA(self, arg):
        owner = self._owner
        if owner.drop_in_data is not None and self.envelope.rcpt_tos and not arg:
            await self._drop_after_354(owner.drop_in_data)
            return
        # What the reader holds already (pipelined bytes) is the start of the data.
        self._data_capture = bytearray(self._reader._buffer)
        try:
            await super().smtp_DATA(arg)
        finally:
            self._data_capture = None

    async def _drop_after_354(self, nbytes):
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        if nbytes:
            try:
                await self._reader.readexactly(nbytes)
            except asyncio.IncompleteReadError:
                pass
        self.record.dropped = True
        self.transport.abort()


class _Handler:
    """aiosmtpd hooks: envelope checks, recording, and the STARTTLS flag."""

    def __init__(self, owner):
        self.owner = owner

    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        refuse = self.owner.refuse_mail_from
        if refuse is True or (refuse and address in refuse):
            return "550 5.7.1 Sender rejected"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.owner.refuse_rcpt:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.owner.refuse_data:
            return "554 5.6.0 Message refused"
        message = ReceivedMessage(
            envelope.mail_from,
            list(envelope.rcpt_tos),
            server.data_wire(),
            bytes(envelope.original_content),
            server.record,
        )
        self.owner.messages.append(message)
        return "250 OK"

    def handle_STARTTLS(self, server, session, envelope):
        server.record.starttls = True
        server.record.tls = True
        return True


class _Controller(Controller):
    def __init__(self, owner, **kwargs):
        self._owner = owner
        super().__init__(**kwargs)

    def factory(self):
        return _RecordingSMTP(self._owner, self.handler, **self.SMTP_kwargs)

    def _trigger_server(self):
        # Bound to port 0: learn the real port before aiosmtpd's readiness probe connects.
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()


class SmtpServer:
    """See the module docstring. Attributes: host, port, mode, ca_pem, ca_path, messages,
    sessions; methods start(), stop()."""

    def __init__(
        self,
        tls_material,
        mode="plain",
        users=None,
        auth_required=False,
        auth_require_tls=None,
        refuse_rcpt=(),
        refuse_mail_from=False,
        refuse_data=False,
        drop_in_data=None,
        cert="good",
        hostname="mx.test.example",
        auth_mechanisms=None,
    ):
        if mode not in MODES:
            raise ValueError("mode must be one of %s, not %r" % (MODES, mode))
        self.mode = mode
        self.host = LOOPBACK
        self.port = None
        self.users = dict(users or {})
        self.refuse_rcpt = set(refuse_rcpt)
        self.refuse_mail_from = (
            refuse_mail_from if refuse_mail_from is True else set(refuse_mail_from or ())
        )
        self.refuse_data = refuse_data
        self.drop_in_data = drop_in_data
        self.ca_pem = tls_material.ca_pem
        self.ca_path = tls_material.ca_path
        self.messages = []
        self.sessions = []

        kwargs = dict(
            handler=_Handler(self),
            hostname=LOOPBACK,
            port=0,
            server_hostname=hostname,
            authenticator=self._authenticate,
            auth_required=auth_required,
            ready_timeout=10.0,
        )
        if auth_mechanisms is not None:  # offer only these (aiosmtpd has LOGIN and PLAIN)
            kwargs["auth_exclude_mechanism"] = [
                m for m in ("LOGIN", "PLAIN") if m not in auth_mechanisms
            ]
        if mode == "plain":
            kwargs["auth_require_tls"] = False
        elif mode == "implicit_tls":
            kwargs["ssl_context"] = tls_material.server_context(cert)
            kwargs["auth_require_tls"] = False
        else:
            kwargs["tls_context"] = tls_material.server_context(cert)
            kwargs["require_starttls"] = mode == "starttls_required"
            kwargs["auth_require_tls"] = True if auth_require_tls is None else auth_require_tls
        self._controller = _Controller(self, **kwargs)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        login = auth_data.login.decode("utf-8", "replace")
        password = auth_data.password.decode("utf-8", "replace")
        ok = login in self.users and self.users[login] == password
        if ok:
            server.record.auth_mechanism = mechanism
            server.record.auth_login = login
        else:
            server.record.auth_failures.append((mechanism, login))
        return AuthResult(success=ok, handled=False)

    def start(self):
        self._controller.start()  # returns once a probe connection got the greeting
        self.port = self._controller.port
        del self.sessions[:]  # the probe is not a client
        return self

    def stop(self):
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
