"""AT+ commands: the GSM probes legacy scripts send (+CPIN, +CSQ, +CREG, +CGATT, ...) and the
serial port (+IPR, +IFC), loaded on first use. Handlers take the Interpreter (`it`) and the
parsed command; see interpreter.py.
"""

import settings as cfg
from atparse import ACTION, READ, SET, TEST
from errors import CME_NOT_ALLOWED, CmdError
from ident import MODEL, VERSION

IPR_TEST = "+IPR: (0,2400,4800,9600,19200,38400,57600,115200),(300,600,1200)"


def small_setting(attr, name, hi, test):
    """A + command holding one small number: SET, READ (`+NAME: n`), TEST."""

    def handler(it, cmd):
        if cmd.op == READ:
            it.info("+%s: %d" % (name, get_small(it, attr)))
        elif cmd.op == TEST:
            it.info("+%s: %s" % (name, test))
        elif cmd.op == SET and len(cmd.args) == 1:
            text = cmd.args[0].text or "0"
            if not cfg.is_digits(text) or len(text) > 2 or int(text) > hi:
                raise CmdError(CME_NOT_ALLOWED)
            set_small(it, attr, int(text))
        else:
            raise CmdError(CME_NOT_ALLOWED)

    return handler


def info_text(text):
    """AT+GMM and kin: one line of information text."""

    def handler(it, cmd):
        if cmd.op == ACTION:
            it.info(text)
        elif cmd.op != TEST:
            raise CmdError(CME_NOT_ALLOWED)

    return handler


def registration(attr, name):
    """AT+CREG / AT+CGREG: `+NAME: <n>,<stat>`; registered while the network is attached."""

    def handler(it, cmd):
        if cmd.op == READ:
            stat = 1 if it.modem.attached() else 2
            it.info("+%s: %d,%d" % (name, getattr(it, attr), stat))
        elif cmd.op == TEST:
            it.info("+%s: (0-2)" % name)
        elif cmd.op == SET and len(cmd.args) == 1 and cmd.args[0].text in ("0", "1", "2"):
            setattr(it, attr, int(cmd.args[0].text))
        else:
            raise CmdError(CME_NOT_ALLOWED)

    return handler


def plus_ipr(it, cmd):
    if cmd.op == READ:
        it.info("+IPR: %d" % it.settings.profile["IPR"])
    elif cmd.op == TEST:
        it.info(IPR_TEST)
    elif cmd.op == SET and len(cmd.args) == 1:
        try:
            rate = cfg.parse_int(cmd.args[0].text)
        except ValueError:
            raise CmdError(CME_NOT_ALLOWED)
        if rate not in cfg.SERIAL_RATES:
            raise CmdError(CME_NOT_ALLOWED)
        it.settings.profile["IPR"] = rate
        it.after_serial()
    else:
        raise CmdError(CME_NOT_ALLOWED)


def plus_ifc(it, cmd):
    if cmd.op == READ:
        ifc = it.settings.profile["IFC"]
        it.info("+IFC: %d,%d" % (ifc[0], ifc[1]))
    elif cmd.op == TEST:
        it.info("+IFC: (0,2),(0,2)")
    elif cmd.op == SET and 1 <= len(cmd.args) <= 2:
        ifc = list(it.settings.profile["IFC"])
        for i, arg in enumerate(cmd.args):
            if arg.text == "" and i == 1:
                continue
            if arg.text not in ("0", "2"):
                raise CmdError(CME_NOT_ALLOWED)
            ifc[i] = int(arg.text)
        it.set_flow(ifc)
    else:
        raise CmdError(CME_NOT_ALLOWED)


def get_small(it, attr):
    if attr == "CMEE":
        return it.settings.profile["CMEE"]
    return getattr(it, attr)


def set_small(it, attr, value):
    if attr == "CMEE":
        it.settings.profile["CMEE"] = value
    else:
        setattr(it, attr, value)


def plus_cfun(it, cmd):
    if cmd.op == READ:
        it.info("+CFUN: 1")
    elif cmd.op == TEST:
        it.info("+CFUN: (0,1)")
    elif cmd.op == SET and len(cmd.args) >= 1 and cmd.args[0].text in ("0", "1"):
        if cmd.args[0].text == "1":
            it.after = it.modem.soft_reset
    else:
        raise CmdError(CME_NOT_ALLOWED)


def plus_cpin(it, cmd):
    if cmd.op == READ:
        it.info("+CPIN: READY")
    elif cmd.op not in (SET, TEST):
        raise CmdError(CME_NOT_ALLOWED)


def plus_csq(it, cmd):
    if cmd.op == TEST:
        it.info("+CSQ: (0-31,99),(99)")
    elif cmd.op == ACTION:
        it.info("+CSQ: %d,99" % it.modem.signal_quality())
    else:
        raise CmdError(CME_NOT_ALLOWED)


def plus_cgatt(it, cmd):
    if cmd.op == READ:
        it.info("+CGATT: %d" % (1 if it.modem.attached() else 0))
    elif cmd.op == TEST:
        it.info("+CGATT: (0-1)")
    elif not (cmd.op == SET and len(cmd.args) == 1 and cmd.args[0].text in ("0", "1")):
        raise CmdError(CME_NOT_ALLOWED)


def plus_cops(it, cmd):
    if cmd.op == READ:
        it.info('+COPS: 0,0,"WIFI"')
    elif cmd.op == ACTION:
        raise CmdError(CME_NOT_ALLOWED)


def plus_cgdcont(it, cmd):
    if cmd.op == READ:
        it.info('+CGDCONT: 1,"IP","%s"' % it.settings.get("APNSERV"))
    elif cmd.op == TEST:
        it.info('+CGDCONT: (1-4),"IP",,')
    elif cmd.op != SET:
        raise CmdError(CME_NOT_ALLOWED)


def plus_accept(it, cmd):
    """Commands a legacy script sends that have no effect here (AT+CCED, AT+CSAS, ...)."""


COMMANDS = {
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
