"""AT# parameters (AT#TCPSERV, AT#TCPPORT, AT#DLEMODE, AT#APNSERV, ...): set, read and test,
loaded on first use. Values are validated and stored by settings.py."""

import settings as cfg
from atparse import SET, TEST
from errors import E_EEPROM, E_SYNTAX, E_VALUE, CmdError, int_arg


def run(it, cmd, name):
    if name in cfg.PROFILE_PARAMS:
        profile_param(it, cmd, name)
    else:
        global_param(it, cmd, name)


def store(it, name, value, profile=1):
    it.check_idle()
    try:
        it.settings.set(name, value, profile)
    except ValueError:
        raise CmdError(E_VALUE)
    except OSError:
        raise CmdError(E_EEPROM)


def single_arg_reads(arg):
    """Spec §2.1: a lone bare 1 or 2 names a profile to read; anything else (a quoted
    value, another number, a host name) is a legacy un-indexed set of profile 1."""
    return not arg.quoted and arg.text in ("1", "2")


def profile_param(it, cmd, name):
    if cmd.op == TEST:
        kind, _d, a, b = cfg.PROFILE_PARAMS[name]
        if kind == "host":
            it.info('#%s: (1-2),"<host, max %d chars>"' % (name, a))
        elif kind == "txdelay":
            it.info("#%s: (1-2),(%d-%d, step 20)" % (name, a, b))
        else:
            it.info("#%s: (1-2),(%d-%d)" % (name, a, b))
        return
    if cmd.op != SET:
        it.info(it.profile_lines(name))
        return
    args = cmd.args
    if len(args) == 1:
        if single_arg_reads(args[0]):
            it.info(it.profile_lines(name, (int(args[0].text),)))
            return
        profile, value = 1, args[0]
    elif len(args) == 2:
        profile, value = int_arg(args[0], 1, 2), args[1]
    else:
        raise CmdError(E_SYNTAX)
    store(it, name, value.text, profile)


def global_param(it, cmd, name):
    kind, _d, a, b = cfg.spec_of(name)
    if cmd.op == TEST:
        if kind == "int":
            it.info("#%s: (%d-%d)" % (name, a, b))
        elif kind == "list":
            it.info('#%s: "<address>"[,...] (at most %d)' % (name, b))
        elif kind == "ftptype":
            it.info('#%s: ("A","I")' % name)
        else:
            it.info("#%s: <text>" % name)
    elif cmd.op != SET:
        it.info(it.show(name, it.settings.get(name)))
    elif kind == "list" and len(cmd.args) > 1:  # AT#REC1="a@x.y","b@x.y" (at most b)
        store(it, name, [arg.text for arg in cmd.args])
    elif len(cmd.args) != 1:
        raise CmdError(E_SYNTAX)
    else:
        store(it, name, cmd.args[0].text)
