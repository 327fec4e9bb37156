"""AT#FTPGET and AT#FTPPUT: the FTP control dialogue (multitech-mail-ftp.md §4, §8.4), loaded on
first use by Modem.start_service; the transfers themselves are ftpdata.py's services.

    USER/PASS, [AUTH TLS, PBSZ 0, PROT P], TYPE A|I, [CWD path], EPSV (PASV if refused),
    RETR / STOR -> 150  => Ok_Info_DataBegin / Ok_Info_WaitingForData

Passive always (the board sits behind WiFi NAT), and the data connection goes to the control
connection's host whatever address a PASV reply names. One login per command.
"""

import netconn
import results
from errors import E_OPEN_FAILED, E_PEER_CLOSED, E_VALUE, CmdError

_TLS_BY_PORT = {990: 3}  # AT#FTPTLS 0: 990 TLS from the first byte, else plain


class Ftp:
    """The control connection."""

    def __init__(self, conn):
        self.conn = conn

    async def reply(self):
        """(code, last line) of the next reply, multi-line replies read to their end."""
        line = await self.conn.read_line()
        code = line[:3]
        if len(line) > 3 and line[3:4] == b"-":  # "123-" ... "123 "
            end = code + b" "
            for _ in range(256):
                line = await self.conn.read_line()
                if line.startswith(end) or line == code:
                    break
            else:
                raise self.conn.fail(E_OPEN_FAILED, "endless reply")
        return code, line

    async def command(self, text, want, doing=None):
        """Send a command; its reply's code must start with one of `want` (CmdError 38016)."""
        await self.conn.write(text + b"\r\n")
        code, line = await self.reply()
        for w in want:
            if code.startswith(w):
                return code, line
        what = doing or text.split(b" ")[0].decode()
        raise self.conn.fail(E_OPEN_FAILED, "%s refused: %r" % (what, line[:80]))


def passive_port(code, line):
    """The data port of a 229 (EPSV: "(|||port|)") or 227 (PASV: "h1,h2,h3,h4,p1,p2") reply,
    else None."""
    if code == b"229":
        try:
            inner = line[line.index(b"(") + 1 : line.rindex(b")")]
            return int(inner.split(inner[:1])[3])
        except (ValueError, IndexError):
            return None
    numbers = []
    value = -1
    for c in line[4:] + b" ":
        if 48 <= c <= 57:
            value = (value if value >= 0 else 0) * 10 + c - 48
        elif value >= 0:
            numbers.append(value)
            value = -1
    if code != b"227" or len(numbers) < 6:
        return None
    return numbers[-2] * 256 + numbers[-1]


async def open_transfer(modem, get):
    """Log in, set the type, change directory, open the passive data connection and send
    RETR / STOR. Returns (ftp, data Conn, binary); CmdError on any refusal."""
    st = modem.settings
    host = st.get("FTPSERV")
    name = st.get("FTPGETFILENAME" if get else "FTPPUTFILENAME")
    path = st.get("FTPGETPATH" if get else "FTPPUTPATH")
    if not name:
        raise CmdError(E_VALUE)  # nothing to fetch or to create
    conn, tls = await netconn.open_service(modem, "FTP", _TLS_BY_PORT, 1)
    ftp = Ftp(conn)
    data = None
    try:
        code, line = await ftp.reply()
        if code != b"220":
            raise conn.fail(E_OPEN_FAILED, "greeting: %r" % line[:80])
        if tls == 2:
            await ftp.command(b"AUTH TLS", (b"234",))
            conn.start_tls()
        user = st.get("FTPUN") or "anonymous"  # an empty user name logs in as anonymous
        code, _ = await ftp.command(b"USER " + user.encode(), (b"2", b"3"))
        if code[:1] == b"3":
            password = st.get("FTPPW") or ("mtip-esp32@" if user == "anonymous" else "")
            await ftp.command(b"PASS " + password.encode(), (b"2",), "PASS (user %r)" % user)
        if conn.tls:
            await ftp.command(b"PBSZ 0", (b"2",))
            await ftp.command(b"PROT P", (b"2",))
        binary = st.get("FTPTYPE") in ("I", "i")
        await ftp.command(b"TYPE I" if binary else b"TYPE A", (b"2",))
        if path:
            await ftp.command(b"CWD " + path.encode(), (b"2",))
        await conn.write(b"EPSV\r\n")
        code, line = await ftp.reply()
        if code != b"229":
            code, line = await ftp.command(b"PASV", (b"227",))
        data_port = passive_port(code, line)
        if data_port is None:
            raise conn.fail(E_OPEN_FAILED, "no data port in %r" % line[:80])
        data = await netconn.connect(modem, host, data_port, "ftp data")
        await conn.write((b"RETR " if get else b"STOR ") + name.encode() + b"\r\n")
        code, line = await ftp.reply()
        if code[:1] != b"1":
            verb = "RETR" if get else "STOR"
            raise conn.fail(E_OPEN_FAILED, "%s %s refused: %r" % (verb, name, line[:80]))
        if conn.tls:  # PROT P: the data connection has its own TLS session
            data.start_tls()
    except BaseException:
        if data is not None:
            data.close()
        conn.close()
        raise
    where = path + "/" + name if path else name
    modem.log("ftp: %s %s (type %s)" % ("get" if get else "put", where, "I" if binary else "A"))
    return ftp, data, binary


async def finish(ftp):
    """After the data connection closed: the server's 226 (CmdError 37966 otherwise), QUIT."""
    conn = ftp.conn
    try:
        code, line = await ftp.reply()  # (no reply at all, the server gone: 37966, begun())
        if code[:1] != b"2":
            raise conn.fail(E_PEER_CLOSED, "transfer not confirmed: %r" % line[:80])
        try:
            await conn.write(b"QUIT\r\n")
        except CmdError:
            pass
    finally:
        conn.close()


async def ftpget(modem):
    ftp, data, _binary = await open_transfer(modem, True)
    import ftpdata

    modem.session = ftpdata.Download(modem, ftp, data)
    return results.DATA_BEGIN


async def ftpput(modem):
    ftp, data, binary = await open_transfer(modem, False)
    import ftpdata

    modem.session = ftpdata.Upload(modem, ftp, data, binary)
    return results.WAITING_FOR_DATA
