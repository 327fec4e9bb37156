"""ipv4.py: the one dotted-decimal parser (dual-runtime: pytest and the MicroPython VM)."""

import ipv4


def test_decimal_whatever_the_zeros():
    assert ipv4.parse("127.0.0.1") == 0x7F000001
    assert ipv4.parse("127.000.000.001") == 0x7F000001
    assert ipv4.parse("127.0.0.01") == 0x7F000001
    assert ipv4.parse("127.0.0.010") == 0x7F00000A  # ten, not octal eight
    assert ipv4.parse("255.255.255.255") == ipv4.ANY
    assert ipv4.parse("0.0.0.0") == 0


def test_what_is_not_dotted_decimal():
    for text in (
        "", "1.2.3", "1.2.3.4.5", "256.0.0.1", "1.2.3.4.", ".1.2.3", "1..2.3", "0x7f.0.0.1",
        "1.2.3.0001", "+1.2.3.4", " 1.2.3.4", "1.2.3.4 ", "１.2.3.4", "a.b.c.d", None, 17,
    ):  # fmt: skip
        assert ipv4.parse(text) is None, text


def test_canonical_text_and_what_the_resolver_gets():
    assert ipv4.text(0x7F00000A) == "127.0.0.10"
    assert ipv4.for_connect("127.000.0.010") == "127.0.0.10"
    assert ipv4.for_connect("Mail.Example.com") == "Mail.Example.com"


def test_hosts_that_can_only_mean_an_address():
    for host in ("1.2.3", "10.0.0.256", "0x7f000001", "1.2.3.4.", "127.0.0.1", "7"):
        assert ipv4.looks_numeric(host), host
    for host in ("example.com", "1e100.net", "localhost", "a1", "host-1.x2"):
        assert not ipv4.looks_numeric(host), host
