"""AT# commands that show state or settings (AT#VALL, AT#VTCP, AT#VSTATE, AT#DISPLAYIP,
AT#VLOG, ...), loaded on first use."""

import settings as cfg
from atparse import ACTION, TEST
from errors import E_NOT_ACTIVE, CmdError
from ident import STACK_ID, VERSION_LINE


TCP_NAMES = ("TCPSERV", "TCPPORT", "DLEMODE", "TCPTXDELAY", "TCPINACTIVITYTIMER")
UDP_NAMES = ("UDPSERV", "UDPPORT", "UDPDLEMODE", "UDPTXDELAY")


async def run(it, cmd, name):
    COMMANDS[name](it, cmd)


def settings_lines(it, names):
    return [it.show(n, it.settings.get(n)) for n in names]


def hash_displayip(it, cmd):
    if cmd.op == TEST:
        return None
    if not it.modem.bearer_is_up():
        raise CmdError(E_NOT_ACTIVE)
    my_ip, peer, gateway = it.modem.addresses()
    it.info(['#MY IP: "%s"' % my_ip, '#PEER IP: "%s"' % peer, '#GATEWAY IP: "%s"' % gateway])


def hash_vstate(it, cmd):
    it.info('#STATE: "%s"' % it.modem.bearer_state())


def hash_vudp(it, cmd):
    it.info(settings_lines(it, UDP_NAMES))


def hash_vtcp(it, cmd):
    profiles = cfg.PROFILES if cmd.op == ACTION else (it.profile_id(cmd),)
    lines = []
    for p in profiles:
        for name in TCP_NAMES:
            lines.append(it.show(name, it.settings.get(name, p), p))
    it.info(lines)


def hash_vdns(it, cmd):
    it.info(settings_lines(it, ("DNSSERV1", "DNSSERV2")))


def hash_vphy(it, cmd):
    it.info(settings_lines(it, ("GPRSMODE", "APNSERV", "APNUN", "APNPW", "GPRSCID")))


def hash_vwifi(it, cmd):
    it.info(settings_lines(it, ("WIFISSID", "WIFIPW")))


def hash_vall(it, cmd):
    lines = [STACK_ID]
    lines += settings_lines(it, ("GPRSMODE", "APNSERV", "APNUN", "APNPW", "GPRSCID")) + [""]
    lines += settings_lines(it, ("DNSSERV1", "DNSSERV2")) + [""]
    for name in TCP_NAMES + ("TCPRXDELAY",):
        lines += it.profile_lines(name)
    lines += settings_lines(it, ("OUTPORT",)) + [""]
    lines += settings_lines(it, UDP_NAMES + ("UDPRXDELAY",)) + [""]
    lines += settings_lines(it, ("PINGREMOTE", "PINGNUM", "PINGDELAY")) + [""]
    lines += settings_lines(it, ("WIFISSID", "WIFIPW")) + [""]
    lines += it.load("cmd_mail").vall_lines(it)  # (the mail and FTP blocks)
    lines += [""] + settings_lines(it, ("CONSOLE", "CONSOLEPW"))  # the web console (ours)
    it.info(lines)


def hash_vversion(it, cmd):
    it.info(VERSION_LINE)


def hash_vlog(it, cmd):
    it.info(it.modem.log_lines())


COMMANDS = {
    "DISPLAYIP": hash_displayip,
    "VSTATE": hash_vstate,
    "VUDP": hash_vudp,
    "VTCP": hash_vtcp,
    "VDNS": hash_vdns,
    "VPHY": hash_vphy,
    "VWIFI": hash_vwifi,
    "VALL": hash_vall,
    "VVERSION": hash_vversion,
    "VLOG": hash_vlog,
}
