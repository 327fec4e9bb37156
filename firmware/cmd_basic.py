"""V.250 basic commands (ATE, ATZ, AT&F, AT&W, ATI, S registers, ...), loaded on first use.

Each handler takes the Interpreter (`it`) and the parsed command; see interpreter.py.
"""

import results
import settings as cfg
from atparse import SET
from errors import CME_NOT_ALLOWED, CME_NOT_SUPPORTED, CmdError
from ident import IDENT, VERSION


def basic_value(cmd, hi):
    """The number after a basic command letter (`E1` -> 1; `E` -> 0), else CmdError."""
    text = cmd.value or "0"
    if len(text) > 3 or int(text) > hi:
        raise CmdError(CME_NOT_ALLOWED)
    return int(text)


def run(it, cmd):
    if cmd.name[0] == "S":
        return sreg(it, cmd)
    handler = COMMANDS.get(cmd.name)
    if handler is None:
        raise CmdError(CME_NOT_SUPPORTED)
    return handler(it, cmd)


# Handler factories for families of commands that differ only in a name or a limit.
def profile_flag(key, hi):
    """ATE, ATV, ATQ: one V.250 profile flag."""

    def handler(it, cmd):
        it.settings.profile[key] = basic_value(cmd, hi)
        it.sync_format()

    return handler


def accepted(hi):
    """ATH, ATL, ATM, ATX: accepted with a value up to `hi`, no effect here."""

    def handler(it, cmd):
        basic_value(cmd, hi)

    return handler


def serial_port(it):
    p = it.settings.profile
    return p["IPR"], p["IFC"][0], p["IFC"][1]


def cmd_z(it, cmd):
    basic_value(cmd, 0)
    before = serial_port(it)
    it.settings.restore_profile()
    it.sync_format()
    if serial_port(it) != before:
        it.after_serial()


def cmd_and_f(it, cmd):
    basic_value(cmd, 0)
    it.check_idle(hash_command=False)
    before = serial_port(it)
    try:
        it.settings.factory()
    except OSError:
        raise CmdError(CME_NOT_ALLOWED)
    it.sync_format()
    if serial_port(it) != before:
        it.after_serial()


def cmd_and_w(it, cmd):
    basic_value(cmd, 0)
    try:
        it.settings.save_profile()
    except OSError:
        raise CmdError(CME_NOT_ALLOWED)


def cmd_i(it, cmd):
    n = basic_value(cmd, 9)
    if n == 0:
        it.info(IDENT)
    elif n == 3:
        it.info(VERSION)
    else:
        raise CmdError(CME_NOT_ALLOWED)


def cmd_o(it, cmd):
    basic_value(cmd, 0)
    return results.NO_CARRIER  # no suspended session to go back to


def cmd_d(it, cmd):
    return results.NO_CARRIER  # no circuit-switched dialling over WiFi


def cmd_a(it, cmd):
    raise CmdError(CME_NOT_ALLOWED)


def cmd_and_c(it, cmd):
    it.settings.profile["C"] = basic_value(cmd, 1)


def cmd_and_d(it, cmd):
    it.settings.profile["D"] = basic_value(cmd, 2)


def cmd_and_k(it, cmd):
    n = basic_value(cmd, 9)
    if n == 0:
        it.set_flow([0, 0])
    elif n == 3:
        it.set_flow([2, 2])
    else:
        raise CmdError(CME_NOT_ALLOWED)  # XON/XOFF is not offered


def cmd_and_v(it, cmd):
    p = it.settings.profile
    it.info(
        "E%d Q%d V%d &C%d &D%d +CMEE: %d +IPR: %d +IFC: %d,%d"
        % ((p["E"], p["Q"], p["V"], p["C"], p["D"], p["CMEE"], p["IPR"]) + tuple(p["IFC"]))
    )


def sreg(it, cmd):
    try:
        n = int(cmd.name[1:])
    except ValueError:
        raise CmdError(CME_NOT_ALLOWED)
    if n not in it.sregs:
        raise CmdError(CME_NOT_ALLOWED)
    if cmd.op == SET:
        text = cmd.args[0].text if cmd.args else ""
        if not cfg.is_digits(text) or len(text) > 3 or int(text) > 255:
            raise CmdError(CME_NOT_ALLOWED)
        it.sregs[n] = int(text)
    else:
        it.info("%03d" % it.sregs[n])


COMMANDS = {
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
