"""Robustness, command side: fuzzed command lines and an endless line, through the pty to the
firmware on the MicroPython VM (issue 5, section 2).

Every complete command line must get exactly one final result (OK, ERROR, +CME ERROR, #CME ERROR,
NO CARRIER or an Ok_Info_*), the VM must stay up and its heap flat. The number of complete lines a
byte stream holds comes from `LineModel`, an independent model of the line rules of
docs/compatibility.md ("Command line"), not from firmware/atline.py.

Lines that would change how results are framed or open a network session are left out, so the
counting stays exact and the fuzzer never reaches the network (see `excluded`).
"""

import random
import re

import pytest

import atparse  # firmware/atparse.py (conftest puts firmware/ on sys.path): used only to filter
from harness import OK, cme
from test_robust_common import RobustModem, classify, exchange, finals, report

SEED = 0x5EED_0005
MIN_LINES = 10_000
MAX_LINE = 256
HEAP_MARGIN = 4096  # bytes: the heap after the fuzz may exceed the heap before by this much

# Real command lines (the bearer stays down, so OTCP/LTCPSTART/OUDP/PING answer at once).
CORPUS = [
    b"AT",
    b"ATI",
    b"ATI3",
    b"ATI0",
    b"AT+GMM",
    b"AT+GMR",
    b"AT+GMI",
    b"AT+CGMM",
    b"AT+CSQ",
    b"AT+CSQ=?",
    b"AT+CPIN?",
    b"AT+CREG?",
    b"AT+CGREG?",
    b"AT+CREG=2",
    b"AT+CGATT?",
    b"AT+COPS?",
    b"AT+CMEE=1",
    b"AT+CMEE=0",
    b"AT+CMEE=2",
    b"AT+CMEE?",
    b"AT+IPR?",
    b"AT+IPR=115200",
    b"AT+IPR=?",
    b"AT+IFC=2,2",
    b"AT+IFC?",
    b"AT&K3",
    b"AT&K0",
    b"AT&C1",
    b"AT&D2",
    b"AT&V",
    b"AT&W",
    b"ATS0?",
    b"ATS7=30",
    b"ATS3?",
    b"ATH",
    b"ATH0",
    b"ATL1",
    b"ATM0",
    b"ATX4",
    b"ATD5551234",
    b"ATO",
    b"ATA",
    b'AT+CGDCONT=1,"IP","internet"',
    b"AT+CGDCONT?",
    b"AT+WOPEN=1",
    b"AT+CCED",
    b"AT+WIND=255",
    b"AT#VALL",
    b"AT#VTCP",
    b"AT#VTCP=2",
    b"AT#VUDP",
    b"AT#VDNS",
    b"AT#VPHY",
    b"AT#VWIFI",
    b"AT#VVERSION",
    b"AT#VSTATE",
    b"AT#VLOG",
    b"AT#DISPLAYIP",
    b"AT#CONNECTIONSTOP",
    b"AT#OTCP=1",
    b"AT#OTCP",
    b"AT#OUDP",
    b"AT#PING",
    b"AT#LTCPSTART=1",
    b"AT#LTCPSTOP=1",
    b"AT#TCPPORT=1,23",
    b"AT#TCPPORT=2,5002",
    b"AT#TCPPORT=5001",
    b"AT#TCPPORT=1",
    b"AT#TCPPORT?",
    b"AT#TCPPORT=?",
    b'AT#TCPSERV=1,"127.0.0.1"',
    b'AT#TCPSERV="host.example"',
    b"AT#TCPSERV=2",
    b"AT#TCPSERV?",
    b"AT#DLEMODE=1,0",
    b"AT#DLEMODE=1,1",
    b"AT#TCPTXDELAY=1,100",
    b"AT#TCPTXDELAY=2,0",
    b"AT#TCPINACTIVITYTIMER=1,60",
    b"AT#OUTPORT=37500",
    b'AT#APNSERV="internet"',
    b'AT#APNUN="user"',
    b'AT#APNPW="pw"',
    b'AT#DNSSERV1="8.8.8.8"',
    b'AT#UDPSERV="127.0.0.1"',
    b"AT#UDPPORT=5000",
    b'AT#PINGREMOTE="127.0.0.1"',
    b"AT#PINGNUM=3",
    b"AT#PINGDELAY=2",
    b'AT#WIFISSID="plant"',
    b'AT#WIFIPW="secret"',
    b"AT#GPRSMODE=1",
    b'AT#TCPSERV=1,"a";#TCPPORT=1,80;#DLEMODE=1,1',
    b"AT+CMEE=1;+CSQ;#VSTATE",
    b"ATE0",
    b"ATQ0V1",
    # Excluded as they are (see EXCLUDED_NAMES), but their mutants are near misses worth sending.
    b"ATZ",
    b"AT&F",
    b"ATE1",
    b"ATV0",
    b"ATQ1",
    b"AT+CFUN=1",
    b"AT#RESET",
    b"AT#CONNECTIONSTART",
    b"A/",
    b"at#vstate",
    b"At+gmm",
]

HUGE = [
    b"99999999999999999999999999999999",
    b"4294967296",
    b"18446744073709551617",
    b"-1",
    b"1e999999",
    b"0x7fffffff",
    b"000000000000000000000000000001",
    b"65536",
    b"9" * 200,
]
SPECIAL = [b'"', b",", b";", b"=", b"?", b"=?", b"\x08", b"\x7f", b"\x00", b"\x03", b"\x10"]
SPECIAL += [b" ", b"&", b"#", b"+", b"S", b"\xff", b"\xc3\xa9", b"\xc3", b"AT", b"A/"]


class LineModel:
    """The documented line rules: a line starts at `AT` (any case), ends at CR or LF; BS/DEL
    delete; other control bytes inside a line are dropped; `A/` repeats the previous line;
    more than 256 characters after `AT` answers once and discards up to the end of the line."""

    IDLE, GOT_A, IN_LINE, OVERFLOW = range(4)

    def __init__(self):
        self.state = self.IDLE
        self.buf = bytearray()
        self.last = None

    def copy(self):
        c = LineModel()
        c.state, c.buf, c.last = self.state, bytearray(self.buf), self.last
        return c

    def feed(self, data):
        """[(kind, body)]: kind "line" (a complete line body) or "long" (an overflow)."""
        out = []
        for c in data:
            if self.state == self.IDLE:
                if c in b"Aa":
                    self.state = self.GOT_A
            elif self.state == self.GOT_A:
                if c in b"Tt":
                    self.state = self.IN_LINE
                    self.buf = bytearray()
                elif c == ord("/"):
                    self.state = self.IDLE
                    if self.last is not None:
                        out.append(("line", self.last))
                elif c not in b"Aa":
                    self.state = self.IDLE
            elif self.state == self.IN_LINE:
                if c in b"\r\n":
                    self.state = self.IDLE
                    self.last = bytes(self.buf)
                    out.append(("line", self.last))
                elif c in (8, 127):
                    del self.buf[-1:]
                elif c >= 32:
                    if len(self.buf) >= MAX_LINE:
                        self.state = self.OVERFLOW
                        out.append(("long", None))
                    else:
                        self.buf.append(c)
            elif c in b"\r\n":  # OVERFLOW
                self.state = self.IDLE
        return out


# Commands that would make the counting meaningless or reach the network, whatever their
# arguments: ATZ and AT&F (restore echo), AT+CFUN / AT#RESET (soft reset, +WIND: 4 after the
# OK), AT#CONNECTIONSTART (with the bearer down every session command answers 35867 at once).
EXCLUDED_NAMES = ("Z", "&F", "+CFUN", "#RESET", "#CONNECTIONSTART")


def excluded(body):
    """Why a complete line must not be sent (None: it may). The line is parsed with the
    firmware's own parser, non-ASCII bytes replaced by '~' (the same structure on CPython and
    MicroPython whatever their UTF-8 decoding does); a line that does not parse runs nothing."""
    ascii_body = bytes(c if c < 0x80 else 0x7E for c in body)
    try:
        cmds = atparse.parse(ascii_body)
    except atparse.ParseError:
        return None
    for cmd in cmds:
        if cmd.name in EXCLUDED_NAMES:
            return cmd.name
        if cmd.name in ("E", "V", "Q"):
            n = int(cmd.value) if cmd.value else 0
            # ATE1 (echo), ATV0 / ATV (numeric results), ATQ1 (silence) change the framing.
            if (cmd.name, n) in (("E", 1), ("V", 0), ("Q", 1)):
                return "%s%d" % (cmd.name, n)
    return None


def mutate(rnd, line):
    b = bytearray(line)
    for _ in range(rnd.randint(1, 4)):
        op = rnd.randrange(8)
        i = rnd.randint(0, len(b))
        if op == 0 and b:  # flip a byte to any value
            b[min(i, len(b) - 1)] = rnd.randrange(256)
        elif op == 1:
            b[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 6)))
        elif op == 2 and b:
            del b[i : i + rnd.randint(1, 5)]
        elif op == 3:
            b[i:i] = rnd.choice(SPECIAL)
        elif op == 4:  # a huge number where a number was, or anywhere
            m = list(re.finditer(rb"\d+", bytes(b)))
            if m:
                g = rnd.choice(m)
                b[g.start() : g.end()] = rnd.choice(HUGE)
            else:
                b[i:i] = rnd.choice(HUGE)
        elif op == 5 and len(b) > 1:
            j = rnd.randint(0, len(b))
            b[i:i] = b[min(i, j) : max(i, j)]  # duplicate a slice
        elif op == 6:
            b = bytearray(bytes(b).swapcase())
        else:
            b[i:i] = b'"'  # unterminated quote, most likely
    return bytes(b)


def item(rnd):
    """One fuzz item: some bytes and a terminator (an item may hold 0, 1 or more lines)."""
    r = rnd.random()
    if r < 0.40:
        body = mutate(rnd, rnd.choice(CORPUS))
    elif r < 0.58:
        body = b"AT" + rnd.randbytes(rnd.randint(0, 80))
    elif r < 0.64:
        body = rnd.randbytes(rnd.randint(1, 60))  # noise: lines only where `AT` happens
    elif r < 0.70:  # overlong
        n = rnd.randint(MAX_LINE - 3, 2500)
        body = b"AT" + bytes(rnd.choice(b'#+=,;"0123456789ABCxyz \xe9\xff') for _ in range(n))
    elif r < 0.77:  # unterminated quote
        body = rnd.choice([b'AT#TCPSERV=1,"', b'AT#APNSERV="', b'AT+CGDCONT=1,"IP","', b'AT"'])
        body += rnd.randbytes(rnd.randint(0, 30)).replace(b'"', b"")
    elif r < 0.87:  # huge numbers
        name = rnd.choice(
            [
                b"#TCPPORT=1,",
                b"#TCPPORT=",
                b"#TCPTXDELAY=1,",
                b"+IPR=",
                b"+CMEE=",
                b"S7=",
                b"#PINGNUM=",
                b"#TCPPORT=",
                b"#OTCP=",
                b"#VTCP=",
                b"+IFC=",
                b"#DLEMODE=",
            ]
        )
        body = b"AT" + name + rnd.choice(HUGE)
        if rnd.random() < 0.3:
            body += b"," + rnd.choice(HUGE)
    elif r < 0.90:
        body = b"AT" + rnd.choice([b"S", b"E", b"&C", b"I", b"H", b"S0?"]) + rnd.choice(HUGE)
    else:
        body = rnd.choice(CORPUS)
    t = rnd.random()
    end = b"\r" if t < 0.85 else b"\n" if t < 0.92 else b"\r\n" if t < 0.97 else b""
    return body + end


def sentinel(k):
    """The line closing batch k, and the answer that ends the batch's output."""
    name = b"sentinel-%d" % k
    return (
        b'\rAT#UDPSERV="%s";#UDPSERV?\r' % name,
        b'\r\n#UDPSERV: "%s"\r\n' % name + OK,
    )


@pytest.mark.timeout(240)
def test_fuzzed_command_lines(tmp_path):
    m = RobustModem(tmp_path)
    try:
        rnd = random.Random(SEED)
        model = LineModel()
        lines = longs = batches = sent_bytes = 0
        skipped = {}
        counts = {}
        heap = []
        heap_before = None
        while lines < MIN_LINES:
            batch = bytearray()
            want = want_long = 0
            while len(batch) < 6000 and want < 60:
                data = item(rnd)
                trial = model.copy()
                got = trial.feed(data)
                why = next((excluded(b) for k, b in got if k == "line" and excluded(b)), None)
                if why:
                    skipped[why] = skipped.get(why, 0) + 1
                    continue
                model = trial
                batch += data
                want += len(got)
                want_long += sum(1 for kind, _ in got if kind == "long")
            if model.state == LineModel.IN_LINE and excluded(bytes(model.buf)):
                erase = b"\x7f" * len(model.buf)  # the sentinel's CR would run it: delete it
                model.feed(erase)
                batch += erase
            close, answer = sentinel(batches)
            tail = model.feed(close)  # the CR completes a pending line, then the sentinel
            want += len(tail)
            want_long += sum(1 for kind, _ in tail if kind == "long")
            assert tail[-1][0] == "line" and not excluded(tail[-1][1])
            batch += close
            out = exchange(m, bytes(batch), answer, timeout=20)
            got = finals(out)
            assert b"+WIND" not in out, "unexpected reset in batch %d: %r" % (batches, out[-500:])
            assert len(got) == want, (
                "batch %d: %d complete lines but %d final results; output %r"
                % (batches, want, len(got), out[-2000:])
            )
            n_long = got.count(b"#CME ERROR: 34881")
            assert n_long == want_long, "batch %d: %d overflowing lines, %d x 34881" % (
                batches,
                want_long,
                n_long,
            )
            for r in got:
                counts[classify(r)] = counts.get(classify(r), 0) + 1
            lines += want - 1  # the sentinel is not a fuzz line
            longs += want_long
            sent_bytes += len(batch)
            batches += 1
            if batches == 3:  # after a warm-up: every code path has allocated what it keeps
                heap_before = m.heap_used()
                qstr_before = m.qstr_info()
            if batches % 25 == 0:
                heap.append(m.heap_used())
        m.check("ATE0V1Q0", OK)
        m.check("AT", OK)
        heap_after = m.heap_used()
        qstr_after = m.qstr_info()
        # Interned strings (qstrs) are never freed: their growth is checked on its own by
        # test_distinct_characters_do_not_grow_the_heap; here the rest of the heap must be flat.
        growth = (heap_after - qstr_after["n_total_bytes"]) - (
            heap_before - qstr_before["n_total_bytes"]
        )
        m.check_alive()
        assert "Traceback" not in m.stderr()
        figures = report(
            "fuzz",
            seed=hex(SEED),
            lines=lines,
            overlong=longs,
            batches=batches,
            bytes=sent_bytes,
            excluded=sum(skipped.values()),
            excluded_by=skipped,
            finals=counts,
            heap_before=heap_before,
            heap_after=heap_after,
            heap_min=min(heap + [heap_after]),
            heap_max=max(heap + [heap_after]),
            qstrs_before=qstr_before["n_qstr"],
            qstrs_after=qstr_after["n_qstr"],
            qstr_bytes_before=qstr_before["n_total_bytes"],
            qstr_bytes_after=qstr_after["n_total_bytes"],
            heap_growth_without_qstrs=growth,
        )
        assert lines >= MIN_LINES, figures
        assert growth <= HEAP_MARGIN, "heap grew: " + figures
    finally:
        m.close()


@pytest.mark.timeout(60)
def test_ten_kilobyte_line_without_cr(tmp_path):
    """10 KB after `AT` and no CR: one `#CME ERROR: 34881` as soon as the line overflows, the
    rest is discarded without being buffered (heap flat), up to the CR that ends the line; the
    next line works."""
    m = RobustModem(tmp_path)
    try:
        rnd = random.Random(SEED + 1)
        m.check("AT", OK)
        heap_before = m.heap_used()
        alphabet = b'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789#+=,;"? '
        junk = bytes(rnd.choice(alphabet) for _ in range(10240))
        out = exchange(m, b"AT" + junk, cme(34881), timeout=10)
        assert out == cme(34881), "before the error: %r" % out
        more = m.read_for(0.5)  # the remaining ~10 KB: nothing more to say
        heap_mid = m.heap_used()
        # Another 10 KB of the same line: still discarded silently.
        m.send(junk)
        more += m.read_for(0.5)
        heap_after = m.heap_used()
        figures = report(
            "long line",
            bytes=2 + 2 * len(junk),
            errors=1 + more.count(b"34881"),
            heap_before=heap_before,
            heap_after_10k=heap_mid,
            heap_after_20k=heap_after,
        )
        assert more == b"", "after the error: %r; %s" % (more, figures)
        assert heap_after - heap_before <= 512, "heap grew: " + figures
        # "AT\r" now only ends the discarded line (its CR); then a normal line works.
        m.send(b"AT\r")
        m.expect_silence(0.3)
        m.check("AT", OK)
        m.check("AT+GMI", b"\r\nMTIP-ESP32\r\n" + OK)
        m.check_alive()
    finally:
        m.close()


@pytest.mark.timeout(120)
def test_distinct_characters_do_not_grow_the_heap(tmp_path):
    """3,000 rejected settings, each value holding a character not seen before (CJK, valid
    UTF-8), through the three validators (text, host name, number): each answers
    `#CME ERROR: 34882` and the heap must stay flat."""
    n = 3000
    forms = ['AT#APNSERV="%s"', 'AT#TCPSERV=1,"%s"', "AT#TCPPORT=1,%s"]
    m = RobustModem(tmp_path)
    try:
        m.check("AT", OK)
        # Warm-up: the first line of each kind loads its command group (interpreter.py).
        warm = b"".join((f % chr(0x4DFF) + "\r").encode() for f in forms)
        assert exchange(m, warm + b"AT+GMI\r", b"\r\nMTIP-ESP32\r\n" + OK).count(cme(34882)) == 3
        heap_before, qstr_before = m.heap_used(), m.qstr_info()
        for start in range(0, n, 300):
            lines = b"".join(
                (forms[i % 3] % chr(0x4E00 + i) + "\r").encode() for i in range(start, start + 300)
            )
            out = exchange(m, lines + b"AT+GMI\r", b"\r\nMTIP-ESP32\r\n" + OK, timeout=30)
            assert out.count(cme(34882)) == 300, out[:300]
        heap_after, qstr_after = m.heap_used(), m.qstr_info()
        m.check_alive()
        figures = report(
            "distinct characters",
            lines=n,
            heap_before=heap_before,
            heap_after=heap_after,
            qstrs_before=qstr_before["n_qstr"],
            qstrs_after=qstr_after["n_qstr"],
        )
        assert heap_after - heap_before <= HEAP_MARGIN, "heap grew: " + figures
    finally:
        m.close()
