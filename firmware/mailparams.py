"""The e-mail and FTP parameters (multitech-mail-ftp.md §2.1, §3.1, §4.1) and the mail and FTP
commands, in a table of their own: settings.py and interpreter.py import it the first time a
mail or FTP name is used (or stored values need checking at boot), so a modem that never mails
pays nothing for it. Same form as settings.GLOBAL_PARAMS: name: (kind, default, a, b).
"""

PARAMS = {
    # E-mail (§2.1, §3.1)
    "SENDERNAME": ("text", "", 120, 0),
    "SENDERADDR": ("text", "", 120, 0),
    "REC1": ("list", [], 120, 10),
    "REC2": ("list", [], 120, 10),
    "REC3": ("list", [], 120, 10),
    "CCREC1": ("text", "", 120, 0),
    "CCREC2": ("text", "", 120, 0),
    "CCREC3": ("text", "", 120, 0),
    "SUBJ1": ("text", "", 120, 0),
    "SUBJ2": ("text", "", 120, 0),
    "SUBJ3": ("text", "", 120, 0),
    "BODY1": ("body", "", 120, 0),
    "BODY2": ("body", "", 120, 0),
    "BODY3": ("body", "", 120, 0),
    "SMTPSERV": ("host", "", 120, 0),
    "SMTPPORT": ("int", 25, 1, 65535),
    "SMTPUN": ("text", "", 64, 0),
    "SMTPPW": ("secret", "", 64, 0),
    "SMTPAUTH": ("int", 0, 0, 1),
    "DOMAIN": ("text", "", 120, 0),
    "SMTPNETWORKTIMER": ("int", 0, 0, 65535),
    "POP3SERV": ("host", "", 120, 0),
    "POP3PORT": ("int", 110, 1, 65535),
    "POP3UN": ("text", "", 64, 0),
    "POP3PW": ("secret", "", 64, 0),
    "POP3HEADERMODE": ("int", 1, 0, 1),
    # FTP (§4.1)
    "FTPSERV": ("host", "", 120, 0),
    "FTPPORT": ("int", 21, 1, 65535),
    "FTPUN": ("text", "", 64, 0),
    "FTPPW": ("secret", "", 64, 0),
    "FTPTYPE": ("ftptype", "I", 0, 0),
    "FTPMODE": ("int", 0, 0, 1),
    "FTPGETPATH": ("text", "", 120, 0),
    "FTPGETFILENAME": ("text", "", 120, 0),
    "FTPPUTPATH": ("text", "", 120, 0),
    "FTPPUTFILENAME": ("text", "", 120, 0),
    "FTPFILESIZE": ("int", 0, 0, 999999999),
    # Ours (compatibility.md): TLS for each service (0 by port, 1 never, 2 STARTTLS required,
    # 3 TLS from the first byte) and whether a server's certificate is checked.
    "SMTPTLS": ("int", 0, 0, 3),
    "POP3TLS": ("int", 0, 0, 3),
    "FTPTLS": ("int", 0, 0, 3),
    "TLSVERIFY": ("int", 1, 0, 1),
}

# The commands that are not parameters, by the command group that runs them.
COMMANDS = {
    "PUTMAIL": "cmd_mail",
    "SENDMAIL": "cmd_mail",
    "SENDMAIL1": "cmd_mail",
    "SENDMAIL2": "cmd_mail",
    "SENDMAIL3": "cmd_mail",
    "GETMAIL": "cmd_mail",
    "FTPGET": "cmd_mail",
    "FTPPUT": "cmd_mail",
    "REC1ADD": "cmd_mail",
    "REC2ADD": "cmd_mail",
    "REC3ADD": "cmd_mail",
    "VSMTP": "cmd_mail",
    "VPOP3": "cmd_mail",
    "VMAIL": "cmd_mail",
    "VMAIL1": "cmd_mail",
    "VMAIL2": "cmd_mail",
    "VMAIL3": "cmd_mail",
    "VFTP": "cmd_mail",
}
