"""A real POP3 server: Debian's dovecot (package dovecot-pop3d) with a private configuration.

    server = DovecotPop3(tls_material, users={"alice": "s3cret"})
    server.start()                       # both listeners answer "+OK" when this returns
    server.deliver("alice", [b"Subject: a\\r\\n\\r\\n.dot line\\r\\n"])
    ... client: USER/PASS, STAT, RETR 1, DELE 1, QUIT ...
    assert server.remaining("alice") == []
    server.stop()

(Tests normally use the `pop3_server` factory fixture in mailservers.py, which stops it.)

Everything lives in a fresh directory (`server.directory`): dovecot.conf, base_dir, state,
the passwd-file, the mail homes (`<dir>/home/<user>/Maildir`) and dovecot.log. No system file
is read or written (dovecot runs as `dovecot -F -c <dir>/dovecot.conf`, its own process group).

Listeners (protocols = pop3 only):
    server.host, server.port       plain POP3 (like 110); STLS offered.
    server.host, server.tls_port   implicit TLS (like 995).
Policy:
    require_tls=False (default)    USER/PASS accepted in clear text (disable_plaintext_auth =
                                   no); host is 127.0.0.1.
    require_tls=True               USER/PASS refused until STLS (-ERR [AUTH] ...), and ssl =
                                   required. host is 127.0.0.2: dovecot counts a client whose
                                   address equals the listener's as secure and would let
                                   plaintext through on 127.0.0.1. The "good" certificate
                                   covers 127.0.0.2; "localhost" does not resolve to it.
    cert="good"|"untrusted"|"wrong_host"   what both TLS paths present (srv_tls.py).
Users: `users={"name": "password"}`, plaintext passwords in a passwd-file (no ":" or newline).

Mail: `deliver(user, [bytes, ...])` writes each message, byte for byte, into the user's
Maildir/new, in order: POP3 numbers them 1, 2, ... in delivery order (dovecot sorts new mail
by the timestamp in the file name, which deliver() makes increase). Store CRLF line ends:
dovecot sends stored CRLF as is and turns a bare LF into CRLF on the wire; it dot-stuffs lines
that start with "." itself. STAT sizes are the stored byte counts. `remaining(user)` returns
the messages still in the mailbox (new/ and cur/), in delivery order: after DELE n and QUIT the
message is gone; without QUIT (connection dropped) DELE has no effect.

Failures: `kill()` SIGKILLs every dovecot process (a transfer in progress just stops, the
socket is closed without a terminator); the mailbox stays readable with remaining().
`stop()` does the same and removes the directory. `log()` returns dovecot.log.

Runs as root (CI): login processes as `dovenull`, internal ones as `dovecot`, mail as `nobody`
(the Maildir is chown'ed to it). As another user, everything runs as that user.
"""

import grp
import os
import pwd
import shutil
import signal
import subprocess
import tempfile

from srv_tls import LOOPBACK, LOOPBACK_ALT, free_port, wait_for_greeting

DOVECOT = "/usr/sbin/dovecot"
POP3_BINARY = "/usr/lib/dovecot/pop3"  # what dovecot-pop3d installs
DH_PARAMS = "/usr/share/dovecot/dh.pem"  # shipped by dovecot-core
_MAILDIR_TIME0 = 1_700_000_000  # file-name timestamps; only their order matters

_CONFIG = """\
base_dir = {dir}/run
state_dir = {dir}/state
instance_name = mtip-test-{port}
log_path = {dir}/dovecot.log
protocols = pop3
listen = {host}
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = 1
first_valid_gid = 1
ssl = {ssl}
ssl_cert = <{cert}
ssl_key = <{key}
{dh}
disable_plaintext_auth = {disable_plaintext}
auth_mechanisms = plain login
auth_failure_delay = 0
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {dir}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={dir}/home/%u
}}
mail_location = maildir:~/Maildir
# No auth penalty (seconds of delay for the next login after a failed one): the documented
# switch is an anvil-auth-penalty socket nobody may open.
# No chroot for the login and anvil processes: only root may chroot, and nothing is gained
# on a test box; the same configuration then runs as root and as any user.
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service pop3-login {{
  chroot =
  inet_listener pop3 {{
    address = {host}
    port = {port}
  }}
  inet_listener pop3s {{
    address = {host}
    port = {tls_port}
    ssl = yes
  }}
}}
"""


class DovecotError(RuntimeError):
    pass


def _accounts():
    """(login user, internal user, internal group, mail uid, mail gid) for this process."""
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        return "dovenull", "dovecot", "dovecot", nobody.pw_uid, nobody.pw_gid
    me = pwd.getpwuid(os.geteuid())
    group = grp.getgrgid(me.pw_gid).gr_name
    return me.pw_name, me.pw_name, group, me.pw_uid, me.pw_gid


class DovecotPop3:
    """See the module docstring. Attributes: host, port, tls_port, ca_pem, ca_path,
    directory; methods start(), deliver(), remaining(), kill(), stop(), log()."""

    def __init__(self, tls_material, users=None, require_tls=False, cert="good"):
        self.users = dict(users or {})
        for name, password in self.users.items():
            if any(c in name + password for c in ":\n\r") or not name:
                raise ValueError("POP3 user names/passwords may not contain ':' or newlines")
        self.require_tls = require_tls
        self.host = LOOPBACK_ALT if require_tls else LOOPBACK
        self.port = None
        self.tls_port = None
        self.ca_pem = tls_material.ca_pem
        self.ca_path = tls_material.ca_path
        self._cert = tls_material.server_cert(cert)
        self._proc = None
        self._sequence = 0
        self.directory = tempfile.mkdtemp(prefix="mtip-dovecot-")
        # Dropped-privilege processes (dovenull, nobody) must reach their files in here.
        os.chmod(self.directory, 0o755)
        login, internal, group, self._mail_uid, self._mail_gid = _accounts()
        self._accounts = dict(login_user=login, internal_user=internal, internal_group=group)

    # --- life cycle ---------------------------------------------------------------------

    def start(self, attempts=3):
        for binary in (DOVECOT, POP3_BINARY):
            if not os.access(binary, os.X_OK):
                raise DovecotError(
                    "%s missing: install Debian's dovecot-pop3d (python3 tools/dev.py test "
                    "does it as root)" % binary
                )
        with open(os.path.join(self.directory, "passwd"), "w") as f:
            for name, password in self.users.items():
                f.write("%s:{PLAIN}%s::::::\n" % (name, password))
        for user in self.users:
            self._maildir(user)
        for sub in ("run", "state"):
            os.makedirs(os.path.join(self.directory, sub), exist_ok=True)
        for _ in range(attempts):
            self.port, self.tls_port = free_port(self.host), free_port(self.host)
            if self._launch():
                return self
            if "Address already in use" not in self.log():
                break  # only a port taken since free_port() is worth another try
        raise DovecotError("dovecot did not start:\n" + self.log())

    def _launch(self):
        conf = os.path.join(self.directory, "dovecot.conf")
        with open(conf, "w") as f:
            f.write(
                _CONFIG.format(
                    dir=self.directory,
                    host=self.host,
                    port=self.port,
                    tls_port=self.tls_port,
                    ssl="required" if self.require_tls else "yes",
                    disable_plaintext="yes" if self.require_tls else "no",
                    cert=self._cert.cert_path,
                    key=self._cert.key_path,
                    dh="ssl_dh = <" + DH_PARAMS if os.path.exists(DH_PARAMS) else "",
                    mail_uid=self._mail_uid,
                    mail_gid=self._mail_gid,
                    **self._accounts,
                )
            )
        out = open(os.path.join(self.directory, "dovecot.out"), "ab")
        self._proc = subprocess.Popen(
            [DOVECOT, "-F", "-c", conf],
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: kill() reaches every child
        )
        out.close()
        # The master binds every listener before any login process greets, and exits if one
        # bind fails: a greeting on the plain port means the TLS port is up too.
        alive = lambda: self._proc.poll() is None
        if wait_for_greeting(self.host, self.port, b"+OK", alive=alive):
            return True
        self.kill()
        return False

    def kill(self):
        """SIGKILL the whole dovecot process group (connections drop mid-transfer)."""
        if self._proc is None:
            return
        try:
            os.killpg(self._proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self._proc.wait()
        self._proc = None

    def stop(self):
        # SIGKILL, not SIGTERM: dovecot's orderly shutdown waits about a second for its
        # children, and nothing it would save is wanted (the directory goes next).
        self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)

    def log(self):
        text = []
        for name in ("dovecot.out", "dovecot.log"):
            try:
                with open(os.path.join(self.directory, name), errors="replace") as f:
                    text.append(f.read())
            except OSError:
                pass
        return "".join(text)

    # --- mail ---------------------------------------------------------------------------

    def _maildir(self, user):
        if user not in self.users:
            raise KeyError("no POP3 user %r" % user)
        home = os.path.join(self.directory, "home", user)
        maildir = os.path.join(home, "Maildir")
        for sub in ("new", "cur", "tmp"):
            os.makedirs(os.path.join(maildir, sub), exist_ok=True)
        self._give_to_mail_user(os.path.join(self.directory, "home"))
        return maildir

    def _give_to_mail_user(self, top):
        if os.geteuid() != 0:
            return
        for path, dirs, files in os.walk(top):
            for name in [path] + [os.path.join(path, n) for n in dirs + files]:
                os.chown(name, self._mail_uid, self._mail_gid)

    def deliver(self, user, messages):
        """Put each message (bytes, stored exactly) into `user`'s mailbox, in order."""
        maildir = self._maildir(user)
        for message in messages:
            self._sequence += 1
            stamp = _MAILDIR_TIME0 + self._sequence
            name = "%d.M%dP%d.mtip" % (stamp, self._sequence, os.getpid())
            tmp = os.path.join(maildir, "tmp", name)
            with open(tmp, "wb") as f:
                f.write(bytes(message))
            os.rename(tmp, os.path.join(maildir, "new", name))  # maildir's atomic delivery
        self._give_to_mail_user(maildir)

    def remaining(self, user):
        """Messages still in `user`'s mailbox (bytes), in delivery order."""
        maildir = self._maildir(user)
        for _ in range(20):
            try:
                return self._read_mailbox(maildir)
            except FileNotFoundError:
                continue  # dovecot renamed a file (new/ -> cur/, flags) while we listed
        raise DovecotError("mailbox of %r kept changing while being read" % user)

    @staticmethod
    def _read_mailbox(maildir):
        found = []
        for sub in ("new", "cur"):
            for name in os.listdir(os.path.join(maildir, sub)):
                # dovecot keeps the base name and appends ":2,<flags>" when it moves to cur/
                with open(os.path.join(maildir, sub, name), "rb") as f:
                    found.append((int(name.split(".", 1)[0]), f.read()))
        return [data for _, data in sorted(found)]
