"""Command-line parsing (firmware/atparse.py): basic chains, extended set/read/test/action,
`;` chaining, quoted and bare arguments, syntax errors.

Dual-runtime: runs under pytest on CPython and unchanged on the MicroPython VM.
"""

import atparse
from atparse import ACTION, READ, SET, TEST, ParseError, parse


def shape(cmds):
    """Commands as comparable tuples: (name, op, [(text, quoted)...], value)."""
    return [(c.name, c.op, [(a.text, a.quoted) for a in c.args], c.value) for c in cmds]


def parse_error(line):
    """The ParseError raised for `line` (fails when none is raised)."""
    try:
        got = parse(line)
    except ParseError as e:
        return e
    raise AssertionError("no ParseError for %r: %r" % (line, got))


# --- basic commands --------------------------------------------------------------------------


def test_empty_line_is_no_command():
    assert parse(b"") == []


def test_chained_basic():
    assert shape(parse(b"E0V1Q0")) == [
        ("E", ACTION, [], "0"),
        ("V", ACTION, [], "1"),
        ("Q", ACTION, [], "0"),
    ]


def test_z_then_e0():
    assert shape(parse(b"ZE0")) == [("Z", ACTION, [], ""), ("E", ACTION, [], "0")]


def test_letter_without_number_has_empty_value():
    assert shape(parse(b"E")) == [("E", ACTION, [], "")]


def test_basic_lower_case():
    assert shape(parse(b"e1v0")) == [("E", ACTION, [], "1"), ("V", ACTION, [], "0")]


def test_ampersand_commands():
    assert shape(parse(b"&F")) == [("&F", ACTION, [], "")]
    assert shape(parse(b"&K3")) == [("&K", ACTION, [], "3")]
    assert shape(parse(b"&k0")) == [("&K", ACTION, [], "0")]
    assert shape(parse(b"&FE0&W")) == [
        ("&F", ACTION, [], ""),
        ("E", ACTION, [], "0"),
        ("&W", ACTION, [], ""),
    ]


def test_s_registers():
    assert shape(parse(b"S0=1")) == [("S0", SET, [("1", False)], None)]
    assert shape(parse(b"S3?")) == [("S3", READ, [], None)]
    assert shape(parse(b"s7")) == [("S7", READ, [], None)]
    assert shape(parse(b"S0=2E0")) == [("S0", SET, [("2", False)], None), ("E", ACTION, [], "0")]


def test_dial_takes_rest_of_line():
    assert shape(parse(b"D123;")) == [("D", ACTION, [], "123;")]
    assert shape(parse(b"E0D*99#")) == [("E", ACTION, [], "0"), ("D", ACTION, [], "*99#")]


# --- extended commands -----------------------------------------------------------------------


def test_extended_forms():
    assert shape(parse(b"+IPR=9600")) == [("+IPR", SET, [("9600", False)], None)]
    assert shape(parse(b"+IPR?")) == [("+IPR", READ, [], None)]
    assert shape(parse(b"+IPR=?")) == [("+IPR", TEST, [], None)]
    assert shape(parse(b"#VALL")) == [("#VALL", ACTION, [], None)]
    assert shape(parse(b"#OTCP=1")) == [("#OTCP", SET, [("1", False)], None)]


def test_command_extended_property():
    cmds = parse(b"E0;+CSQ;#VSTATE")
    assert [c.extended for c in cmds] == [False, True, True]


def test_semicolon_chaining():
    assert shape(parse(b"+CMEE=1;#VSTATE;+CSQ")) == [
        ("+CMEE", SET, [("1", False)], None),
        ("#VSTATE", ACTION, [], None),
        ("+CSQ", ACTION, [], None),
    ]
    assert shape(parse(b"E0;+CSQ")) == [("E", ACTION, [], "0"), ("+CSQ", ACTION, [], None)]
    assert shape(parse(b"+CSQ;E1")) == [("+CSQ", ACTION, [], None), ("E", ACTION, [], "1")]
    assert shape(parse(b"+CSQ;")) == [("+CSQ", ACTION, [], None)]
    assert shape(parse(b"+IPR?;+IFC=?")) == [("+IPR", READ, [], None), ("+IFC", TEST, [], None)]


def test_quoted_and_bare_args():
    assert shape(parse(b'#TCPSERV=1,"Host"')) == [
        ("#TCPSERV", SET, [("1", False), ("Host", True)], None)
    ]
    assert shape(parse(b"#TCPSERV=host.example")) == [
        ("#TCPSERV", SET, [("host.example", False)], None)
    ]


def test_quoted_numbers():
    assert shape(parse(b'#TCPPORT=1,"23"')) == [
        ("#TCPPORT", SET, [("1", False), ("23", True)], None)
    ]
    assert shape(parse(b'#TCPPORT="5002"')) == [("#TCPPORT", SET, [("5002", True)], None)]


def test_names_case_insensitive_args_case_kept():
    assert shape(parse(b'#apnserv="Internet.Com"')) == [
        ("#APNSERV", SET, [("Internet.Com", True)], None)
    ]
    assert shape(parse(b"#TcpServ=MixedCase")) == [("#TCPSERV", SET, [("MixedCase", False)], None)]
    assert shape(parse(b'+cgdcont=1,"IP","apn"')) == [
        ("+CGDCONT", SET, [("1", False), ("IP", True), ("apn", True)], None)
    ]


def test_spaces_outside_quotes_ignored_inside_kept():
    assert shape(parse(b' # t c p s e r v = 1 , " a b " ')) == [
        ("#TCPSERV", SET, [("1", False), (" a b ", True)], None)
    ]
    assert shape(parse(b"E 0 V 1")) == [("E", ACTION, [], "0"), ("V", ACTION, [], "1")]
    assert shape(parse(b"+IPR = ?")) == [("+IPR", TEST, [], None)]


def test_semicolon_and_comma_inside_quotes():
    assert shape(parse(b'#X="a;b,c";+Y')) == [
        ("#X", SET, [("a;b,c", True)], None),
        ("+Y", ACTION, [], None),
    ]


def test_empty_arguments():
    assert shape(parse(b"#X=")) == [("#X", SET, [("", False)], None)]
    assert shape(parse(b"#X=a,")) == [("#X", SET, [("a", False), ("", False)], None)]
    assert shape(parse(b"#X=a,,b")) == [
        ("#X", SET, [("a", False), ("", False), ("b", False)], None)
    ]
    assert shape(parse(b'#X=""')) == [("#X", SET, [("", True)], None)]


def test_name_characters():
    assert shape(parse(b"+A.B_C-1")) == [("+A.B_C-1", ACTION, [], None)]


def test_utf8_in_quotes_is_text():
    cmds = parse(b'#APNSERV="caf\xc3\xa9"')
    assert cmds[0].args[0].text == "caf\u00e9"


# --- errors ----------------------------------------------------------------------------------


def test_unterminated_quote():
    assert parse_error(b'#X="a').extended is True
    assert parse_error(b'+CGDCONT=1,"IP').extended is True
    assert parse_error(b'E"').extended is False
    assert parse_error(b'E0"""').extended is False
    assert parse_error(b' #X = "a b').extended is True  # the slow path with spaces


def test_text_after_closing_quote():
    assert parse_error(b'#X="a"b').extended is True
    assert parse_error(b'#X="a"b,1').extended is True
    assert parse_error(b'+X=a"b"').extended is True


def test_bad_extended_syntax():
    for line in (b"+", b"#", b"#;", b"#X?1", b"#X=?1", b"+CSQ*", b"#VALL?X"):
        assert parse_error(line).extended is True, line


def test_bad_basic_syntax():
    for line in (b"&", b"&1", b"S", b"S=1", b"!", b"E0*", b"\x01"):
        assert parse_error(line).extended is False, line


def test_non_utf8_is_a_parse_error():
    assert parse_error(b"E0\xff").extended is False
    assert parse_error(b"#X=\xff").extended is True
    assert parse_error(b'#X="\xff"').extended is True
    assert parse_error(b'#X="a\xc3"').extended is True  # truncated sequence
    assert parse_error(b"#\xff").extended is True
    assert parse_error(b"+CSQ\xff").extended is True
    assert parse_error(b"D\xff").extended is False
    assert parse_error(b"&\xff").extended is False
    assert parse_error(b"S0=\xff").extended is False


def test_parse_error_is_an_exception():
    assert issubclass(ParseError, Exception)
    assert ParseError().extended is False


def test_syntax_error_tells_plus_from_hash():
    for line, prefix in ((b'+CGDCONT=1,"IP', "+"), (b'#TCPSERV="h', "#"), (b'+X;#Y="a', "#")):
        try:
            atparse.parse(line)
        except ParseError as e:
            assert e.prefix == prefix, (line, e.prefix)
        else:
            raise AssertionError("no ParseError for %r" % line)


def test_split_args_directly():
    args = atparse.split_args(b'1,"a,b",x')
    assert [(a.text, a.quoted) for a in args] == [("1", False), ("a,b", True), ("x", False)]
    try:
        atparse.split_args(b'"open', "")
    except ParseError as e:
        assert e.extended is False
    else:
        raise AssertionError("no ParseError")


def test_every_byte_value_alone_never_crashes():
    for b in range(256):
        line = bytes((b,))
        try:
            parse(line)
        except ParseError:
            pass
