"""The AT command interpreter: executes parsed command lines against the settings and the modem.

Everything the modem answers in command mode is decided here. Session commands (bearer,
sockets) go to the `modem` object (see modem.py); they are awaited, so `execute_line` is a
coroutine. Output goes to `out(bytes)`; the caller writes it to the UART.
"""

import atparse
import results
import settings as cfg
from atline import TOO_LONG
from atparse import ACTION, READ, SET, TEST

VERSION = "1.0.0"
MODEL = "MULTIBAND  G850  1900"  # what OpenDMTP's GPRS transport expects from AT+GMM
IDENT = "MTIP-ESP32 WiFi modem, Multi-Tech AT# dialect"
STACK_ID = "mtip-esp32-V" + VERSION  # first line of AT#VALL, like "eDsoft-W302-V03.00"
VERSION_LINE = '#VERSION: "mtip-esp32_V%s 0 Nov 28 2026 00:00:00"' % VERSION

# Dialect error numbers (spec §4)
E_UNKNOWN = 34817
E_SYNTAX = 34819
E_EEPROM = 34824
E_TOO_LONG = 34881
E_VALUE = 34882
E_ALREADY_UP = 35840
E_BAD_EVENT = 35866
E_NOT_ACTIVE = 35867
E_BUSY = 37123
# 27.007 +CME ERROR numbers for basic and + commands when AT+CMEE is on
CME_NOT_ALLOWED = 3
CME_NOT_SUPPORTED = 4

IPR_TEST = "+IPR: (0,2400,4800,9600,19200,38400,57600,115200),(300,600,1200)"
SECRET_SHOWN = "********"


class CmdError(Exception):
    """A command failed; `code` is the error number (None: plain ERROR)."""

    def __init__(self, code=None):
        super().__init__(code)
        self.code = code


def _int_arg(arg, lo, hi):
    try:
        value = cfg.parse_int(arg.text)
    except ValueError:
        raise CmdError(E_VALUE)
    if value < lo or value > hi:
        raise CmdError(E_VALUE)
    return value


def _basic_value(cmd, hi):
    """The number after a basic command letter (`E1` -> 1; `E` -> 0), else CmdError."""
    text = cmd.value or "0"
    if len(text) > 3 or int(text) > hi:
        raise CmdError(CME_NOT_ALLOWED)
    return int(text)


def _quote(value):
    return '"%s"' % value


# Handler factories for families of commands that differ only in a name or a limit.
def profile_flag(key, hi):
    """ATE, ATV, ATQ: one V.250 profile flag."""

    def handler(self, cmd):
        self.settings.profile[key] = _basic_value(cmd, hi)
        self.sync_format()

    return handler


def accepted(hi):
    """ATH, ATL, ATM, ATX: accepted with a value up to `hi`, no effect here."""

    def handler(self, cmd):
        _basic_value(cmd, hi)

    return handler


def small_setting(attr, name, hi, test):
    """A + command holding one small number: SET, READ (`+NAME: n`), TEST."""

    def handler(self, cmd):
        if cmd.op == READ:
            self.info("+%s: %d" % (name, self.get_small(attr)))
        elif cmd.op == TEST:
            self.info("+%s: %s" % (name, test))
        elif cmd.op == SET and len(cmd.args) == 1:
            text = cmd.args[0].text or "0"
            if not cfg.is_digits(text) or len(text) > 2 or int(text) > hi:
                raise CmdError(CME_NOT_ALLOWED)
            self.set_small(attr, int(text))
        else:
            raise CmdError(CME_NOT_ALLOWED)

    return handler


def info_text(text):
    """AT+GMM and kin: one line of information text."""

    def handler(self, cmd):
        if cmd.op == ACTION:
            self.info(text)
        elif cmd.op != TEST:
            raise CmdError(CME_NOT_ALLOWED)

    return handler


def registration(attr, name):
    """AT+CREG / AT+CGREG: `+NAME: <n>,<stat>`; registered while the network is attached."""

    def handler(self, cmd):
        if cmd.op == READ:
            stat = 1 if self.modem.attached() else 2
            self.info("+%s: %d,%d" % (name, getattr(self, attr), stat))
        elif cmd.op == TEST:
            self.info("+%s: (0-2)" % name)
        elif cmd.op == SET and len(cmd.args) == 1 and cmd.args[0].text in ("0", "1", "2"):
            setattr(self, attr, int(cmd.args[0].text))
        else:
            raise CmdError(CME_NOT_ALLOWED)

    return handler


class Interpreter:
    """Executes command lines. `modem` provides the session commands and the board hooks."""

    def __init__(self, settings, modem, out):
        self.settings = settings
        self.modem = modem
        self.out = out
        self.fmt = results.Formatter()
        self.sregs = {0: 0, 3: 13, 4: 10, 5: 8, 6: 2, 7: 50, 8: 2, 10: 14, 12: 50}
        self.wopen = 1
        self.creg = 0
        self.cgreg = 0
        self.sync_format()

    # -- output --------------------------------------------------------------------------------
    def sync_format(self):
        p = self.settings.profile
        self.fmt.verbose = p["V"] == 1
        self.fmt.quiet = p["Q"] == 1

    @property
    def echo(self):
        return self.settings.profile["E"] == 1

    def info(self, lines):
        self.out(self.fmt.info(lines))

    def result(self, name):
        self.out(self.fmt.result(name))

    def error(self, code, hash_command=True):
        """Report an error: `#CME ERROR: n` for AT# commands, else per AT+CMEE."""
        if hash_command:
            self.out(self.fmt.error(code))
        elif code is None or self.settings.profile["CMEE"] == 0:
            self.result(results.ERROR)
        else:
            self.out(self.fmt.error(code, "+CME ERROR: "))

    # -- execution -----------------------------------------------------------------------------
    async def execute_line(self, body):
        """Execute one line body (bytes after "AT"). Returns a callable to run after the
        output has been written (baud rate change, soft reset), or None."""
        self.after = None
        if body is TOO_LONG:
            self.error(E_TOO_LONG)
            return None
        try:
            commands = atparse.parse(body)
        except atparse.ParseError as e:
            if e.prefix == "#":
                self.error(E_SYNTAX)
            else:
                self.error(CME_NOT_ALLOWED if e.prefix else None, False)
            return None
        for cmd in commands:
            try:
                final = await self.execute(cmd)
            except CmdError as e:
                self.error(e.code, cmd.name[0] == "#")
                return None
            if final is not None:  # a result that ends the line (Ok_Info_*, NO CARRIER)
                self.result(final)
                return self.after
        self.sync_format()
        self.result(results.OK)
        return self.after

    async def execute(self, cmd):
        name = cmd.name
        if name[0] == "#":
            name_only = name[1:]
            if name_only in cfg.PROFILE_PARAMS:
                return self.profile_param(cmd, name_only)
            if name_only in cfg.GLOBAL_PARAMS:
                return self.global_param(cmd, name_only)
            handler = self.HASH.get(name_only)
            if handler is None:
                raise CmdError(E_UNKNOWN)
            return await handler(self, cmd)
        if name[0] == "+":
            handler = self.PLUS.get(name[1:])
            if handler is None:
                raise CmdError(CME_NOT_SUPPORTED)
            return handler(self, cmd)
        if name[0] == "S":
            return self.sreg(cmd)
        handler = self.BASIC.get(name)
        if handler is None:
            raise CmdError(CME_NOT_SUPPORTED)
        return handler(self, cmd)

    # -- basic commands ------------------------------------------------------------------------
    def serial_port(self):
        p = self.settings.profile
        return p["IPR"], p["IFC"][0], p["IFC"][1]

    def cmd_z(self, cmd):
        _basic_value(cmd, 0)
        before = self.serial_port()
        self.settings.restore_profile()
        self.sync_format()
        if self.serial_port() != before:
            self.after_serial()

    def cmd_and_f(self, cmd):
        _basic_value(cmd, 0)
        self.check_idle(hash_command=False)
        before = self.serial_port()
        try:
            self.settings.factory()
        except OSError:
            raise CmdError(CME_NOT_ALLOWED)
        self.sync_format()
        if self.serial_port() != before:
            self.after_serial()

    def cmd_and_w(self, cmd):
        _basic_value(cmd, 0)
        try:
            self.settings.save_profile()
        except OSError:
            raise CmdError(CME_NOT_ALLOWED)

    def cmd_i(self, cmd):
        n = _basic_value(cmd, 9)
        if n == 0:
            self.info(IDENT)
        elif n == 3:
            self.info(VERSION)
        else:
            raise CmdError(CME_NOT_ALLOWED)

    def cmd_o(self, cmd):
        _basic_value(cmd, 0)
        return results.NO_CARRIER  # no suspended session to go back to

    def cmd_d(self, cmd):
        return results.NO_CARRIER  # no circuit-switched dialling over WiFi

    def cmd_a(self, cmd):
        raise CmdError(CME_NOT_ALLOWED)

    def cmd_and_c(self, cmd):
        self.settings.profile["C"] = _basic_value(cmd, 1)

    def cmd_and_d(self, cmd):
        self.settings.profile["D"] = _basic_value(cmd, 2)

    def cmd_and_k(self, cmd):
        n = _basic_value(cmd, 9)
        if n == 0:
            self.set_flow([0, 0])
        elif n == 3:
            self.set_flow([2, 2])
        else:
            raise CmdError(CME_NOT_ALLOWED)  # XON/XOFF is not offered

    def cmd_and_v(self, cmd):
        p = self.settings.profile
        self.info(
            "E%d Q%d V%d &C%d &D%d +CMEE: %d +IPR: %d +IFC: %d,%d"
            % ((p["E"], p["Q"], p["V"], p["C"], p["D"], p["CMEE"], p["IPR"]) + tuple(p["IFC"]))
        )

    def sreg(self, cmd):
        try:
            n = int(cmd.name[1:])
        except ValueError:
            raise CmdError(CME_NOT_ALLOWED)
        if n not in self.sregs:
            raise CmdError(CME_NOT_ALLOWED)
        if cmd.op == SET:
            text = cmd.args[0].text if cmd.args else ""
            if not text.isdigit() or len(text) > 3 or int(text) > 255:
                raise CmdError(CME_NOT_ALLOWED)
            self.sregs[n] = int(text)
        else:
            self.info("%03d" % self.sregs[n])

    BASIC = {
        "E": profile_flag("E", 1),
        "V": profile_flag("V", 1),
        "Q": profile_flag("Q", 1),
        "Z": cmd_z,
        "&F": cmd_and_f,
        "&W": cmd_and_w,
        "&C": cmd_and_c,
        "&D": cmd_and_d,
        "&K": cmd_and_k,
        "&V": cmd_and_v,
        "I": cmd_i,
        "H": accepted(0),
        "L": accepted(3),
        "M": accepted(2),
        "X": accepted(4),
        "O": cmd_o,
        "D": cmd_d,
        "A": cmd_a,
    }

    # -- + commands ----------------------------------------------------------------------------
    def set_flow(self, ifc):
        self.settings.profile["IFC"] = ifc
        self.after_serial()

    def after_serial(self):
        p = self.settings.profile
        self.after = lambda: self.modem.apply_serial(p["IPR"], p["IFC"][0] == 2, p["IFC"][1] == 2)

    def plus_ipr(self, cmd):
        if cmd.op == READ:
            self.info("+IPR: %d" % self.settings.profile["IPR"])
        elif cmd.op == TEST:
            self.info(IPR_TEST)
        elif cmd.op == SET and len(cmd.args) == 1:
            try:
                rate = cfg.parse_int(cmd.args[0].text)
            except ValueError:
                raise CmdError(CME_NOT_ALLOWED)
            if rate not in cfg.SERIAL_RATES:
                raise CmdError(CME_NOT_ALLOWED)
            self.settings.profile["IPR"] = rate
            self.after_serial()
        else:
            raise CmdError(CME_NOT_ALLOWED)

    def plus_ifc(self, cmd):
        if cmd.op == READ:
            ifc = self.settings.profile["IFC"]
            self.info("+IFC: %d,%d" % (ifc[0], ifc[1]))
        elif cmd.op == TEST:
            self.info("+IFC: (0,2),(0,2)")
        elif cmd.op == SET and 1 <= len(cmd.args) <= 2:
            ifc = list(self.settings.profile["IFC"])
            for i, arg in enumerate(cmd.args):
                if arg.text == "" and i == 1:
                    continue
                if arg.text not in ("0", "2"):
                    raise CmdError(CME_NOT_ALLOWED)
                ifc[i] = int(arg.text)
            self.set_flow(ifc)
        else:
            raise CmdError(CME_NOT_ALLOWED)

    def get_small(self, attr):
        if attr == "CMEE":
            return self.settings.profile["CMEE"]
        return getattr(self, attr)

    def set_small(self, attr, value):
        if attr == "CMEE":
            self.settings.profile["CMEE"] = value
        else:
            setattr(self, attr, value)

    def plus_cfun(self, cmd):
        if cmd.op == READ:
            self.info("+CFUN: 1")
        elif cmd.op == TEST:
            self.info("+CFUN: (0,1)")
        elif cmd.op == SET and len(cmd.args) >= 1 and cmd.args[0].text in ("0", "1"):
            if cmd.args[0].text == "1":
                self.after = self.modem.soft_reset
        else:
            raise CmdError(CME_NOT_ALLOWED)

    def plus_cpin(self, cmd):
        if cmd.op == READ:
            self.info("+CPIN: READY")
        elif cmd.op not in (SET, TEST):
            raise CmdError(CME_NOT_ALLOWED)

    def plus_csq(self, cmd):
        if cmd.op == TEST:
            self.info("+CSQ: (0-31,99),(99)")
        elif cmd.op == ACTION:
            self.info("+CSQ: %d,99" % self.modem.signal_quality())
        else:
            raise CmdError(CME_NOT_ALLOWED)

    def plus_cgatt(self, cmd):
        if cmd.op == READ:
            self.info("+CGATT: %d" % (1 if self.modem.attached() else 0))
        elif cmd.op == TEST:
            self.info("+CGATT: (0-1)")
        elif not (cmd.op == SET and len(cmd.args) == 1 and cmd.args[0].text in ("0", "1")):
            raise CmdError(CME_NOT_ALLOWED)

    def plus_cops(self, cmd):
        if cmd.op == READ:
            self.info('+COPS: 0,0,"WIFI"')
        elif cmd.op == ACTION:
            raise CmdError(CME_NOT_ALLOWED)

    def plus_cgdcont(self, cmd):
        if cmd.op == READ:
            self.info('+CGDCONT: 1,"IP","%s"' % self.settings.get("APNSERV"))
        elif cmd.op == TEST:
            self.info('+CGDCONT: (1-4),"IP",,')
        elif cmd.op != SET:
            raise CmdError(CME_NOT_ALLOWED)

    def plus_accept(self, cmd):
        """Commands a legacy script sends that have no effect here (AT+CCED, AT+CSAS, ...)."""

    PLUS = {
        "IPR": plus_ipr,
        "IFC": plus_ifc,
        "CMEE": small_setting("CMEE", "CMEE", 2, "(0-2)"),
        "WOPEN": small_setting("wopen", "WOPEN", 1, "(0-1)"),
        "CFUN": plus_cfun,
        "GMM": info_text(MODEL),
        "CGMM": info_text(MODEL),
        "GMR": info_text(VERSION),
        "CGMR": info_text(VERSION),
        "GMI": info_text("MTIP-ESP32"),
        "CGMI": info_text("MTIP-ESP32"),
        "CPIN": plus_cpin,
        "CSQ": plus_csq,
        "CREG": registration("creg", "CREG"),
        "CGREG": registration("cgreg", "CGREG"),
        "CGATT": plus_cgatt,
        "COPS": plus_cops,
        "CGDCONT": plus_cgdcont,
        "CCED": plus_accept,
        "CSAS": plus_accept,
        "WIND": plus_accept,
    }

    # -- AT# parameters ------------------------------------------------------------------------
    def check_idle(self, hash_command=True):
        if self.modem.busy():
            raise CmdError(E_BUSY if hash_command else CME_NOT_ALLOWED)

    def store(self, name, value, profile=1):
        self.check_idle()
        try:
            self.settings.set(name, value, profile)
        except ValueError:
            raise CmdError(E_VALUE)
        except OSError:
            raise CmdError(E_EEPROM)

    def show(self, name, value, profile=None):
        if isinstance(value, str):
            if cfg.GLOBAL_PARAMS.get(name, ("",))[0] == "secret" and value:
                value = SECRET_SHOWN
            value = _quote(value)
        else:
            value = str(value)
        if profile is None:
            return "#%s: %s" % (name, value)
        return "#%s: %d,%s" % (name, profile, value)

    def profile_lines(self, name, profiles=cfg.PROFILES):
        return [self.show(name, self.settings.get(name, p), p) for p in profiles]

    @staticmethod
    def single_arg_reads(name, arg):
        """Spec §2.1: a lone bare 1 or 2 names a profile to read; anything else (a quoted
        value, another number, a host name) is a legacy un-indexed set of profile 1."""
        return not arg.quoted and arg.text in ("1", "2")

    def profile_param(self, cmd, name):
        if cmd.op == TEST:
            kind, _d, a, b = cfg.PROFILE_PARAMS[name]
            if kind == "host":
                self.info('#%s: (1-2),"<host, max %d chars>"' % (name, a))
            elif kind == "txdelay":
                self.info("#%s: (1-2),(%d-%d, step 20)" % (name, a, b))
            else:
                self.info("#%s: (1-2),(%d-%d)" % (name, a, b))
            return None
        if cmd.op != SET:
            self.info(self.profile_lines(name))
            return None
        args = cmd.args
        if len(args) == 1:
            if self.single_arg_reads(name, args[0]):
                self.info(self.profile_lines(name, (int(args[0].text),)))
                return None
            profile, value = 1, args[0]
        elif len(args) == 2:
            profile, value = _int_arg(args[0], 1, 2), args[1]
        else:
            raise CmdError(E_SYNTAX)
        self.store(name, value.text, profile)
        return None

    def global_param(self, cmd, name):
        if cmd.op == TEST:
            kind, _d, a, b = cfg.GLOBAL_PARAMS[name]
            self.info("#%s: (%d-%d)" % (name, a, b) if kind == "int" else "#%s: <text>" % name)
        elif cmd.op != SET:
            self.info(self.show(name, self.settings.get(name)))
        elif len(cmd.args) != 1:
            raise CmdError(E_SYNTAX)
        else:
            self.store(name, cmd.args[0].text)
        return None

    # -- AT# commands --------------------------------------------------------------------------
    def profile_id(self, cmd):
        """The optional `=id` of OTCP, LTCPSTART, LTCPSTOP, VTCP (1 when absent)."""
        if cmd.op == ACTION:
            return 1
        if cmd.op == SET and len(cmd.args) == 1:
            return _int_arg(cmd.args[0], 1, 2)
        raise CmdError(E_SYNTAX)

    async def hash_connectionstart(self, cmd):
        if cmd.op == TEST:
            return None
        if cmd.op != ACTION:
            raise CmdError(E_SYNTAX)
        ip = await self.modem.bearer_up()  # raises CmdError
        self.info(ip)
        return results.GPRS_ACTIVATION

    async def hash_connectionstop(self, cmd):
        if cmd.op == TEST:
            return None
        if cmd.op != ACTION:
            raise CmdError(E_SYNTAX)
        if not self.modem.bearer_is_up():
            raise CmdError(E_BAD_EVENT)
        await self.modem.bearer_down()
        return None

    async def hash_displayip(self, cmd):
        if cmd.op == TEST:
            return None
        if not self.modem.bearer_is_up():
            raise CmdError(E_NOT_ACTIVE)
        my_ip, peer, gateway = self.modem.addresses()
        self.info(['#MY IP: "%s"' % my_ip, '#PEER IP: "%s"' % peer, '#GATEWAY IP: "%s"' % gateway])
        return None

    async def hash_vstate(self, cmd):
        self.info('#STATE: "%s"' % self.modem.bearer_state())
        return None

    async def hash_otcp(self, cmd):
        profile = self.profile_id(cmd)
        await self.modem.open_tcp(profile)  # raises CmdError
        return results.WAITING_FOR_DATA

    async def hash_oudp(self, cmd):
        if cmd.op != ACTION:
            raise CmdError(E_SYNTAX)
        await self.modem.open_udp()  # raises CmdError
        return results.WAITING_FOR_DATA

    async def hash_ping(self, cmd):
        if cmd.op == TEST:
            return None
        if cmd.op != ACTION:
            raise CmdError(E_SYNTAX)
        await self.modem.ping()  # writes a line per echo, raises CmdError when none came
        return None

    async def hash_vudp(self, cmd):
        self.info(self.group(("UDPSERV", "UDPPORT", "UDPDLEMODE", "UDPTXDELAY")))
        return None

    async def hash_ltcpstart(self, cmd):
        await self.modem.listen(self.profile_id(cmd))  # raises CmdError
        return None

    async def hash_ltcpstop(self, cmd):
        await self.modem.stop_listening(self.profile_id(cmd))
        return None

    async def hash_reset(self, cmd):
        if cmd.op == SET and (len(cmd.args) != 1 or cmd.args[0].text not in ("0", "1")):
            raise CmdError(E_VALUE)
        self.after = self.modem.soft_reset
        return None

    async def hash_vtcp(self, cmd):
        profiles = cfg.PROFILES if cmd.op == ACTION else (self.profile_id(cmd),)
        lines = []
        for p in profiles:
            for name in ("TCPSERV", "TCPPORT", "DLEMODE", "TCPTXDELAY", "TCPINACTIVITYTIMER"):
                lines.append(self.show(name, self.settings.get(name, p), p))
        self.info(lines)
        return None

    def group(self, names):
        return [self.show(n, self.settings.get(n)) for n in names]

    async def hash_vdns(self, cmd):
        self.info(self.group(("DNSSERV1", "DNSSERV2")))
        return None

    async def hash_vphy(self, cmd):
        self.info(self.group(("GPRSMODE", "APNSERV", "APNUN", "APNPW", "GPRSCID")))
        return None

    async def hash_vwifi(self, cmd):
        self.info(self.group(("WIFISSID", "WIFIPW")))
        return None

    async def hash_vall(self, cmd):
        lines = [STACK_ID]
        lines += self.group(("GPRSMODE", "APNSERV", "APNUN", "APNPW", "GPRSCID")) + [""]
        lines += self.group(("DNSSERV1", "DNSSERV2")) + [""]
        for name in ("TCPSERV", "TCPPORT", "DLEMODE", "TCPTXDELAY", "TCPINACTIVITYTIMER"):
            lines += self.profile_lines(name)
        lines += self.group(("OUTPORT",)) + [""]
        lines += self.group(("UDPSERV", "UDPPORT", "UDPDLEMODE", "UDPTXDELAY")) + [""]
        lines += self.group(("PINGREMOTE", "PINGNUM", "PINGDELAY")) + [""]
        lines += self.group(("WIFISSID", "WIFIPW"))
        self.info(lines)
        return None

    async def hash_vversion(self, cmd):
        self.info(VERSION_LINE)
        return None

    async def hash_vlog(self, cmd):
        self.info(self.modem.log_lines())
        return None

    HASH = {
        "CONNECTIONSTART": hash_connectionstart,
        "CONNECTIONSTOP": hash_connectionstop,
        "DISPLAYIP": hash_displayip,
        "VSTATE": hash_vstate,
        "OTCP": hash_otcp,
        "OUDP": hash_oudp,
        "PING": hash_ping,
        "VUDP": hash_vudp,
        "LTCPSTART": hash_ltcpstart,
        "LTCPSTOP": hash_ltcpstop,
        "RESET": hash_reset,
        "VTCP": hash_vtcp,
        "VDNS": hash_vdns,
        "VPHY": hash_vphy,
        "VWIFI": hash_vwifi,
        "VALL": hash_vall,
        "VVERSION": hash_vversion,
        "VLOG": hash_vlog,
    }
