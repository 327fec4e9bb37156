"""AT# commands that show state or settings (AT#VALL, AT#VTCP, AT#VSTATE, AT#DISPLAYIP,
AT#VLOG, ...), loaded on first use."""

import settings as cfg
from atparse import ACTION, TEST
from errors import E_NOT_ACTIVE, CmdError
from ident import STACK_ID, VERSION_LINE


TCP_NAMES = ("TCPSERV", "TCPPORT", "DLEMODE", "TCPTXDELAY", "TCPINACTIVITYTIMER")
UDP_NAMES = ("UDPSERV", "UDPPORT", "UDPDLEMODE", "UDPTXDELAY")
SMTP_NAMES = (
    "SENDERNAME", "SENDERADDR", "SMTPSERV", "SMTPPORT", "SMTPUN", "SMTPPW", "DOMAIN", "SMTPAUTH",
)  # fmt: skip
POP3_NAMES = ("POP3SERV", "POP3PORT", "POP3UN", "POP3PW", "POP3HEADERMODE")
FTP_NAMES = (
    "FTPSERV", "FTPPORT", "FTPUN", "FTPPW", "FTPTYPE", "FTPMODE", "FTPGETPATH", "FTPGETFILENAME",
    "FTPPUTPATH", "FTPPUTFILENAME",
)  # fmt: skip
# Ours and the later (U) additions: shown in AT#VALL only, so the listings above stay as the
# manual has them.
EXTRA_NAMES = ("SMTPNETWORKTIMER", "FTPFILESIZE", "SMTPTLS", "POP3TLS", "FTPTLS", "TLSVERIFY")


def mail_lines(it, i):
    return settings_lines(it, ("REC%d" % i, "CCREC%d" % i, "SUBJ%d" % i, "BODY%d" % i))


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
    lines += settings_lines(it, SMTP_NAMES) + [""]
    for i in (1, 2, 3):
        lines += mail_lines(it, i) + [""]
    lines += settings_lines(it, POP3_NAMES) + [""]
    lines += settings_lines(it, FTP_NAMES) + [""]
    lines += settings_lines(it, EXTRA_NAMES)
    it.info(lines)


def hash_vsmtp(it, cmd):
    it.info(settings_lines(it, SMTP_NAMES))


def hash_vpop3(it, cmd):
    it.info(settings_lines(it, POP3_NAMES))


def hash_vftp(it, cmd):
    it.info(settings_lines(it, FTP_NAMES))


def hash_vmail(it, cmd):
    """AT#VMAIL: the three combinations, a blank line between them; AT#VMAILi: one."""
    lines = []
    for i in (1, 2, 3):
        lines += mail_lines(it, i) + [""]
    it.info(lines[:-1])


def vmail_i(i):
    return lambda it, cmd: it.info(mail_lines(it, i))


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
    "VSMTP": hash_vsmtp,
    "VPOP3": hash_vpop3,
    "VFTP": hash_vftp,
    "VMAIL": hash_vmail,
    "VMAIL1": vmail_i(1),
    "VMAIL2": vmail_i(2),
    "VMAIL3": vmail_i(3),
}
