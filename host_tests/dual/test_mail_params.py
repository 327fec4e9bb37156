"""The serial side of the e-mail and FTP services (multitech-mail-ftp.md §1.1, §2.1, §2.2, §3.1,
§4.1, §6): every parameter set, read back as written, tested, refused while busy; the
interactive AT#RECiADD / AT#BODYi entry; the listings; the action commands' arguments.
Dual-runtime: pytest on CPython and the MicroPython VM (host_tests/upy_run.py)."""

from fakes import OK, Bench, cme, info

TEXT_PARAMS = (
    "SENDERNAME", "SENDERADDR", "CCREC1", "CCREC2", "CCREC3", "SUBJ1", "SUBJ2", "SUBJ3",
    "BODY1", "BODY2", "BODY3", "DOMAIN", "SMTPUN", "POP3UN", "FTPUN", "FTPGETPATH",
    "FTPGETFILENAME", "FTPPUTPATH", "FTPPUTFILENAME",
)  # fmt: skip
HOST_PARAMS = ("SMTPSERV", "POP3SERV", "FTPSERV")
SECRET_PARAMS = ("SMTPPW", "POP3PW", "FTPPW")
LIMITS = {"SMTPUN": 64, "POP3UN": 64, "FTPUN": 64, "SMTPPW": 64, "POP3PW": 64, "FTPPW": 64}


def test_text_parameters_read_back_exactly_as_written():
    with Bench() as b:
        for name in TEXT_PARAMS:
            assert b.cmd('AT#%s="Machine 245 / x@y.z"' % name) == OK, name
            want = info('#%s: "Machine 245 / x@y.z"' % name) + OK
            assert b.cmd("AT#%s?" % name) == want, name
            if not name.startswith("BODY"):  # (a bare AT#BODYi is the interactive entry)
                assert b.cmd("AT#%s" % name) == want, name
            assert b.cmd('AT#%s=""' % name) == OK  # reset with an empty value
            assert b.cmd("AT#%s?" % name) == info('#%s: ""' % name) + OK
            assert b.cmd("AT#%s=?" % name) == info("#%s: <text>" % name) + OK
            assert b.cmd("AT#%s=bare_value" % name) == OK  # unquoted strings are taken too
            assert b.settings.get(name) == "bare_value"


def test_string_limits():
    with Bench() as b:
        for name in TEXT_PARAMS + HOST_PARAMS + SECRET_PARAMS:
            limit = LIMITS.get(name, 120)
            assert b.cmd('AT#%s="%s"' % (name, "a" * limit)) == OK, name
            assert b.cmd('AT#%s="%s"' % (name, "a" * (limit + 1))) == cme(34882), name
            assert b.settings.get(name) == "a" * limit


def test_numbers_quoted_or_not_and_their_ranges():
    with Bench() as b:
        assert b.cmd('AT#SMTPPORT="25"') == OK  # C9 quotes its numbers
        assert b.cmd('AT#POP3PORT="110"') == OK
        assert b.cmd("AT#SMTPPORT?") == info("#SMTPPORT: 25") + OK
        for name, lo, hi in (
            ("SMTPPORT", 1, 65535), ("POP3PORT", 1, 65535), ("FTPPORT", 1, 65535),
            ("SMTPAUTH", 0, 1), ("POP3HEADERMODE", 0, 1), ("FTPMODE", 0, 1),
            ("SMTPNETWORKTIMER", 0, 65535), ("SMTPTLS", 0, 3), ("POP3TLS", 0, 3),
            ("FTPTLS", 0, 3), ("TLSVERIFY", 0, 1),
        ):  # fmt: skip
            assert b.cmd("AT#%s=%d" % (name, hi)) == OK, name
            assert b.cmd("AT#%s?" % name) == info("#%s: %d" % (name, hi)) + OK
            assert b.cmd("AT#%s=%d" % (name, hi + 1)) == cme(34882), name
            assert b.cmd("AT#%s=%d" % (name, lo)) == OK, name
            assert b.cmd("AT#%s=?" % name) == info("#%s: (%d-%d)" % (name, lo, hi)) + OK
            assert b.cmd("AT#%s=-1" % name) == cme(34882), name
            assert b.cmd("AT#%s=x" % name) == cme(34882), name


def test_defaults():
    with Bench() as b:
        for name, value in (
            ("SMTPPORT", 25), ("POP3PORT", 110), ("FTPPORT", 21), ("SMTPAUTH", 0),
            ("POP3HEADERMODE", 1), ("FTPMODE", 0), ("SMTPNETWORKTIMER", 0), ("FTPFILESIZE", 0),
            ("TLSVERIFY", 1), ("SMTPTLS", 0),
        ):  # fmt: skip
            assert b.cmd("AT#%s?" % name) == info("#%s: %d" % (name, value)) + OK, name
        assert b.cmd("AT#FTPTYPE?") == info('#FTPTYPE: "I"') + OK
        assert b.cmd("AT#REC1?") == info('#REC1: ""') + OK


def test_ftptype_a_or_i_in_any_case_kept_as_written():
    with Bench() as b:
        for value in ("A", "a", "I", "i"):
            assert b.cmd("AT#FTPTYPE=%s" % value) == OK
            assert b.cmd("AT#FTPTYPE?") == info('#FTPTYPE: "%s"' % value) + OK
        assert b.cmd('AT#FTPTYPE="a"') == OK
        for bad in ("B", "AI", "", "0"):
            assert b.cmd('AT#FTPTYPE="%s"' % bad) == cme(34882), bad
        assert b.settings.get("FTPTYPE") == "a"


def test_passwords_are_masked():
    with Bench() as b:
        for name in SECRET_PARAMS:
            assert b.cmd('AT#%s="s3cret!"' % name) == OK
            assert b.cmd("AT#%s?" % name) == info('#%s: "********"' % name) + OK
            assert b.settings.get(name) == "s3cret!"
        for listing in ("AT#VSMTP", "AT#VPOP3", "AT#VFTP", "AT#VALL"):
            out = b.cmd(listing)
            assert b"s3cret" not in out and b'"********"' in out, listing
        assert b.cmd('AT#SMTPPW=""') == OK
        assert b.cmd("AT#SMTPPW?") == info('#SMTPPW: ""') + OK  # unset reads as unset


def test_recipients_one_or_several():
    with Bench() as b:
        assert b.cmd('AT#REC1="a@x.y"') == OK
        assert b.cmd("AT#REC1?") == info('#REC1: "a@x.y"') + OK
        assert b.cmd('AT#REC2="a@x.y","b@x.y"') == OK
        assert b.cmd("AT#REC2?") == info('#REC2: "a@x.y","b@x.y"') + OK
        assert b.cmd("AT#REC3=" + ",".join(['"r%d@x.y"' % k for k in range(11)])) == cme(34882)
        assert b.cmd('AT#REC1=""') == OK
        assert b.settings.get("REC1") == []
        assert b.cmd('AT#REC1="%s"' % ("a" * 121)) == cme(34882)


def test_rec_add_replaces_the_list_up_to_ten():
    with Bench() as b:
        assert b.cmd('AT#REC1="old@x.y"') == OK
        assert b.cmd("AT#REC1ADD") == b""  # no prompt, no result yet
        sent = b"".join(b"r%d@x.y\r\n" % k for k in range(12)) + b"\x1a"
        assert b.drv.send(sent) == OK
        assert b.settings.get("REC1") == ["r%d@x.y" % k for k in range(10)]  # 11th on ignored
        assert b.cmd("AT#VMAIL1").startswith(info('#REC1: "r0@x.y","r1@x.y"')[:22])


def test_rec_add_escape_keeps_the_old_list_and_echo_follows_ate():
    with Bench(echo=True) as b:
        b.cmd('AT#REC2="keep@x.y"')
        assert b.drv.send(b"AT#REC2ADD\r") == b"AT#REC2ADD\r"
        assert b.drv.send(b"new@x.y\r\n\x1b") == b"new@x.y\r\n" + OK
        assert b.settings.get("REC2") == ["keep@x.y"]
        assert b.drv.send(b"AT\r") == b"AT\r" + OK  # back in command mode


def test_rec_add_refuses_a_too_long_address_at_the_end():
    with Bench() as b:
        b.cmd('AT#REC3="keep@x.y"')
        b.cmd("AT#REC3ADD")
        assert b.drv.send(b"a" * 300 + b"\r\nok@x.y\x1a") == cme(34882)
        assert b.settings.get("REC3") == ["keep@x.y"]


def test_body_entry_and_set():
    with Bench() as b:
        assert b.cmd('AT#BODY2="one line"') == OK
        assert b.cmd("AT#BODY2?") == info('#BODY2: "one line"') + OK
        assert b.cmd("AT#BODY2") == b""  # bare AT#BODYi: interactive entry
        assert b.drv.send(b"line 1\r\nline 2") == b""
        assert b.drv.send(b"\x1a") == OK
        assert b.settings.get("BODY2") == "line 1\r\nline 2"
        assert b.cmd("AT#BODY1") == b""
        assert b.drv.send(b"x" * 121 + b"\x1a") == cme(34882)
        assert b.settings.get("BODY1") == ""
        # split anywhere, the same result
        assert b.cmd("AT#BODY3") == b""
        assert b.drv.send_bytewise(b"ab\x1aAT\r") == OK + OK
        assert b.settings.get("BODY3") == "ab"


def test_listings():
    with Bench() as b:
        for line in (
            'AT#SENDERNAME="machine 245"', 'AT#SENDERADDR="m245@example.com"',
            'AT#SMTPSERV="smtp.example.com"', 'AT#DOMAIN="example.com"',
        ):  # fmt: skip
            assert b.cmd(line) == OK
        # the example of §6, byte for byte
        assert b.cmd("AT#VSMTP") == (
            b'\r\n#SENDERNAME: "machine 245"\r\n#SENDERADDR: "m245@example.com"\r\n'
            b'#SMTPSERV: "smtp.example.com"\r\n#SMTPPORT: 25\r\n#SMTPUN: ""\r\n#SMTPPW: ""\r\n'
            b'#DOMAIN: "example.com"\r\n#SMTPAUTH: 0\r\n\r\nOK\r\n'
        )
        assert (
            b.cmd("AT#VPOP3")
            == info(
                '#POP3SERV: ""',
                "#POP3PORT: 110",
                '#POP3UN: ""',
                '#POP3PW: ""',
                "#POP3HEADERMODE: 1",
            )
            + OK
        )
        assert b.cmd("AT#VFTP") == info(
            '#FTPSERV: ""', "#FTPPORT: 21", '#FTPUN: ""', '#FTPPW: ""', '#FTPTYPE: "I"',
            "#FTPMODE: 0", '#FTPGETPATH: ""', '#FTPGETFILENAME: ""', '#FTPPUTPATH: ""',
            '#FTPPUTFILENAME: ""',
        ) + OK  # fmt: skip
        b.cmd('AT#REC2="a@x.y","b@x.y"')
        b.cmd('AT#SUBJ2="Readings"')
        two = ['#REC2: "a@x.y","b@x.y"', '#CCREC2: ""', '#SUBJ2: "Readings"', '#BODY2: ""']
        assert b.cmd("AT#VMAIL2") == info(*two) + OK
        vmail = b.cmd("AT#VMAIL")
        assert vmail.count(b"\r\n\r\n") == 3 and info(*two)[2:-2] in vmail  # 3 blocks
        vall = b.cmd("AT#VALL")
        for block in (b"#SENDERNAME:", b"#REC3:", b"#POP3SERV:", b"#FTPSERV:", b"#TLSVERIFY: 1"):
            assert block in vall, block


def test_sets_refused_while_a_service_or_session_runs():
    with Bench() as b:
        b.modem.is_busy = True
        for line in ('AT#SMTPSERV="x"', "AT#FTPPORT=21", 'AT#REC1="a@b"', "AT#POP3HEADERMODE=0"):
            assert b.cmd(line) == cme(37123), line
        assert b.cmd("AT#REC1ADD") == cme(37123)
        assert b.cmd("AT#BODY1") == cme(37123)
        assert b.cmd("AT#SMTPSERV?") == info('#SMTPSERV: ""') + OK  # reads still answer


def test_action_commands():
    with Bench() as b:
        b.modem.up = True
        for name in ("PUTMAIL", "GETMAIL", "FTPGET", "FTPPUT"):
            assert b.cmd("AT#%s" % name) == OK  # (the fake's service answers at once)
            assert b.cmd("AT#%s=1" % name) == cme(34819), name  # no arguments (§1.2)
            assert b.cmd("AT#%s?" % name) == cme(34819), name
        for line, which in (("AT#SENDMAIL1", 1), ("AT#SENDMAIL3", 3), ("AT#SENDMAIL", 1)):
            assert b.cmd(line) == OK
            assert b.modem.calls[-1] == ("start_service", "smtp", "sendmail", which), line
        assert b.cmd("AT#SENDMAIL=2") == OK
        assert b.modem.calls[-1] == ("start_service", "smtp", "sendmail", 2)
        assert b.cmd("AT#SENDMAIL=4") == cme(34882)
        assert b.cmd("AT#SENDMAIL2=1") == cme(34819)
        b.modem.up = False
        assert b.cmd("AT#PUTMAIL") == cme(35867)  # the bearer must be up (§1.2)
