"""Property tests for the command side (atline + atparse + interpreter), CPython only (hypothesis).

* The line assembler plus the interpreter never raise, whatever bytes arrive, in any chunking.
* Every complete line gets exactly one final result (OK, ERROR, +CME ERROR, #CME ERROR, or an
  Ok_Info_/NO CARRIER result), last in that line's output; none while ATQ1 is in force.
* The chunking of the input changes nothing: same lines, same answers.
* Whatever the commands stored, the settings file loads again without a problem.
"""

import asyncio
import re

import settings as cfg
from atline import TOO_LONG, LineAssembler
from fakes import FakeModem, TempDir, new_settings
from harness import chunked
from hypothesis import given, settings
from hypothesis import strategies as st
from interpreter import Interpreter
from results import CODES

TOKENS = [
    b"AT", b"at", b"aT", b"A/", b"\r", b"\n", b"\r\n", b"\x08", b"\x7f", b"\x03", b"\x10",
    b'"', b",", b";", b"=", b"?", b"=?", b" ", b"#", b"+", b"&", b"\xff", b"\xc3", b"\x00",
    b"0", b"1", b"2", b"3", b"23", b"40", b"65535", b"65536", b"255.255.255.255",
    b"E0", b"E1", b"V0", b"V1", b"Q0", b"Q1", b"Z", b"&F", b"&W", b"&K0", b"&K3", b"S0", b"I",
    b"D", b"O", b"H", b"X9",
    b"+CMEE=1", b"+CMEE=0", b"+IPR", b"+IFC", b"+CSQ", b"+CGREG?", b"+WOPEN=1", b"+CFUN=1",
    b"+GMM", b"+CGDCONT",
    b"#TCPSERV", b"#TCPPORT", b"#DLEMODE", b"#TCPTXDELAY", b"#OUTPORT", b"#APNSERV",
    b"#DNSSERV1", b"#WIFIPW", b"#VALL", b"#VTCP", b"#VVERSION", b"#CONNECTIONSTART",
    b"#CONNECTIONSTOP", b"#OTCP", b"#LTCPSTART", b"#LTCPSTOP", b"#DISPLAYIP", b"#VSTATE",
    b"#RESET", b"#VLOG", b"#TCPPORT=1,23", b'#TCPSERV="h"', b"#OUTPORT=99", b"#DLEMODE=0",
]  # fmt: skip

_soup = st.lists(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=4)), max_size=12)
_line = st.tuples(
    st.sampled_from([b"AT", b"at", b"aT", b"AT", b"", b"A/", b"\x03\x03\x03AT", b"xA"]),
    _soup.map(b"".join),
    st.sampled_from([b"\r", b"\r", b"\r\n", b"\n", b""]),
).map(b"".join)
streams = st.one_of(
    st.binary(max_size=300),
    st.lists(st.one_of(st.sampled_from(TOKENS), st.binary(max_size=6)), max_size=80).map(b"".join),
    st.lists(_line, max_size=20).map(b"".join),
)
cut_lists = st.lists(st.integers(0, 600), max_size=30)

_FINAL_VERBOSE = re.compile(rb"(OK|ERROR|NO CARRIER|Ok_Info_[A-Za-z]+|[+#]CME ERROR: \d+)\Z")
_CME_LINE = re.compile(rb"[+#]CME ERROR: \d+\Z")
_NUMERIC = re.compile(rb"(\d+)\r(?!\n)")


def finals_of(out, verbose):
    """The final results in one line's output, in order, as (position, text)."""
    found = []
    if verbose:
        pos = 0
        for part in out.split(b"\r\n"):
            if _FINAL_VERBOSE.match(part):
                found.append((pos + len(part), part))
            pos += len(part) + 2
        return found
    for m in _NUMERIC.finditer(out):
        found.append((m.end(), m.group(1)))
    pos = 0
    for part in out.split(b"\r\n"):
        if _CME_LINE.match(part):
            found.append((pos + len(part) + 2, part))
        pos += len(part) + 2
    return sorted(found)


async def drive(directory, chunks):
    """Feed the chunks like the engine does; return [(line, output, verbose, quiet)]."""
    modem = FakeModem()
    out = bytearray()
    interp = Interpreter(new_settings(directory), modem, out.extend)
    lines = LineAssembler()
    answers = []
    for chunk in chunks:
        i = 0
        while i < len(chunk):
            _echo, line, i = lines.feed(chunk, i)
            if line is None:
                continue
            start = len(out)
            after = await interp.execute_line(line)
            answers.append((line, bytes(out[start:]), interp.fmt.verbose, interp.fmt.quiet))
            if after is not None:
                r = after()
                if r is not None:
                    await r
            if modem.session is not None:  # pretend the session ended at once
                modem.session = None
                modem.is_busy = modem.listening is not None
    return answers


def run(data, cuts):
    with TempDir() as d:
        answers = asyncio.run(drive(d.path, chunked(data, cuts)))
        s = cfg.Settings(cfg.Store(d.path))
        stored = [p for p in s.problems if "no settings file" not in p]
        assert stored == [], stored
    return answers


def check_answer(line, out, verbose, quiet):
    finals = finals_of(out, verbose)
    if quiet:
        assert finals == [], (line, out)
        return
    assert len(finals) == 1, (line, out, finals)
    end, text = finals[0]
    if verbose:
        assert out.endswith(b"\r\n" + text + b"\r\n"), (line, out)
    else:
        assert end == len(out), (line, out)
        if text.isdigit():
            assert int(text) in CODES.values(), (line, out)
    if line is TOO_LONG:
        assert text.endswith(b"CME ERROR: 34881"), out


@settings(max_examples=300)
@given(streams, cut_lists)
def test_every_line_gets_exactly_one_final_result(data, cuts):
    for answer in run(data, cuts):
        check_answer(*answer)


@settings(max_examples=150)
@given(streams, cut_lists)
def test_chunking_changes_nothing(data, cuts):
    assert run(data, cuts) == run(data, [])


@settings(max_examples=150)
@given(st.lists(st.sampled_from(TOKENS), max_size=40).map(b"".join))
def test_token_soup_as_whole_lines(body):
    # every token stream as one command line, answered once
    data = b"AT" + body.replace(b"\r", b"").replace(b"\n", b"") + b"\r"
    answers = run(data, [])
    assert len(answers) >= 1
    for answer in answers:
        check_answer(*answer)
