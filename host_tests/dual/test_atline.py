"""AT line assembly (firmware/atline.py): prefixes, terminators, echo, editing, A/, overflow.

Dual-runtime: runs under pytest on CPython and unchanged on the MicroPython VM.
"""

from atline import MAX_LINE, TOO_LONG, LineAssembler


def run(data, la=None):
    """Feed `data` whole, the way the engine does; return (echo bytes, [lines])."""
    if la is None:
        la = LineAssembler()
    echo = bytearray()
    lines = []
    i = 0
    while i < len(data):
        e, line, i = la.feed(data, i)
        echo += e
        if line is not None:
            lines.append(line)
    return bytes(echo), lines


def run_bytewise(data, la=None):
    if la is None:
        la = LineAssembler()
    echo = bytearray()
    lines = []
    for k in range(len(data)):
        e, line, nxt = la.feed(data[k : k + 1])
        assert nxt == 1
        echo += e
        if line is not None:
            lines.append(line)
    return bytes(echo), lines


# --- prefixes and terminators ----------------------------------------------------------------


def test_prefix_any_case():
    for prefix in (b"AT", b"at", b"aT", b"At"):
        echo, lines = run(prefix + b"E0\r")
        assert lines == [b"E0"], repr((prefix, lines))
        assert echo == prefix + b"E0\r", repr((prefix, echo))


def test_bare_at_gives_empty_body():
    assert run(b"AT\r") == (b"AT\r", [b""])


def test_body_case_is_kept():
    # the parser decides about case, the assembler hands the bytes over unchanged
    assert run(b'at#tcpserv="Host"\r')[1] == [b'#tcpserv="Host"']


def test_cr_ends_line_and_feed_returns_after_it():
    la = LineAssembler()
    data = b"ATE0\rATV1\r"
    echo, line, nxt = la.feed(data)
    assert (echo, line, nxt) == (b"ATE0\r", b"E0", 5)
    echo, line, nxt = la.feed(data, nxt)
    assert (echo, line, nxt) == (b"ATV1\r", b"V1", 10)


def test_no_line_without_terminator():
    la = LineAssembler()
    echo, line, nxt = la.feed(b"ATE0")
    assert (echo, line, nxt) == (b"ATE0", None, 4)
    echo, line, nxt = la.feed(b"\r")
    assert (echo, line, nxt) == (b"\r", b"E0", 1)


def test_crlf_gives_one_line_and_lf_is_not_echoed():
    echo, lines = run(b"ATE0\r\nATV1\r\n")
    assert lines == [b"E0", b"V1"]
    assert echo == b"ATE0\rATV1\r"


def test_lf_only_ends_line():
    echo, lines = run(b"ATE0\nAT\n")
    assert lines == [b"E0", b""]
    assert echo == b"ATE0\nAT\n"


def test_bytes_after_line_are_left_for_the_caller():
    la = LineAssembler()
    echo, line, nxt = la.feed(b"AT#OTCP\rDATA\x03")
    assert line == b"#OTCP"
    assert nxt == 8


def test_start_offset_is_honoured():
    la = LineAssembler()
    echo, line, nxt = la.feed(b"xxAT\r", 2)
    assert (echo, line, nxt) == (b"AT\r", b"", 5)


# --- garbage outside a line ------------------------------------------------------------------


def test_etx_outside_line_is_dropped_and_not_prefixed():
    echo, lines = run(b"\x03\x03\x03ATZ\r")
    assert lines == [b"Z"]
    assert echo == b"ATZ\r"


def test_garbage_between_lines_is_not_echoed():
    echo, lines = run(b"hello\x00\xff\x10ATE1\r!!AT\r")
    assert lines == [b"E1", b""]
    assert echo == b"ATE1\rAT\r"


def test_lone_a_then_garbage_is_not_a_line():
    echo, lines = run(b"AxAT\r")
    assert lines == [b""]
    assert echo == b"AT\r"


def test_repeated_a_echoes_what_was_typed_last():
    # "aAT": the stray "a" is garbage; the echo is the "AT" of the line
    echo, lines = run(b"aAT\r")
    assert lines == [b""]
    assert echo == b"AT\r"
    echo, lines = run(b"Aat\r")
    assert echo == b"at\r"


def test_cr_lf_outside_line_do_nothing():
    assert run(b"\r\n\r\n") == (b"", [])


def test_control_bytes_inside_line_are_dropped():
    echo, lines = run(b"ATE\x030\x00\r")
    assert lines == [b"E0"]
    assert echo == b"ATE0\r"


# --- editing ---------------------------------------------------------------------------------


def test_backspace_edits_line():
    echo, lines = run(b"ATE1\x080\r")
    assert lines == [b"E0"]
    assert echo == b"ATE1\x08 \x080\r"


def test_del_edits_line():
    echo, lines = run(b"ATX\x7fE0\r")
    assert lines == [b"E0"]
    assert echo == b"ATX\x08 \x08E0\r"


def test_backspace_on_empty_body_does_nothing():
    echo, lines = run(b"AT\x08\x08\x7fE0\r")
    assert lines == [b"E0"]
    assert echo == b"ATE0\r"


def test_backspace_outside_line_is_dropped():
    assert run(b"\x08\x7f") == (b"", [])


# --- A/ --------------------------------------------------------------------------------------


def test_a_slash_before_any_line_gives_no_line():
    la = LineAssembler()
    echo, lines = run(b"A/", la)
    assert lines == []
    assert echo == b"A/"  # echoed, nothing executed
    assert run(b"AT\r", la)[1] == [b""]  # the assembler still works


def test_a_slash_repeats_last_line_without_cr():
    la = LineAssembler()
    run(b"AT+CSQ\r", la)
    echo, line, nxt = la.feed(b"A/")
    assert (echo, line, nxt) == (b"A/", b"+CSQ", 2)
    echo, line, nxt = la.feed(b"a/")
    assert (echo, line, nxt) == (b"a/", b"+CSQ", 2)


def test_a_slash_repeats_the_latest_line():
    la = LineAssembler()
    echo, lines = run(b"ATE0\rATV1\rA/A/", la)
    assert lines == [b"E0", b"V1", b"V1", b"V1"]
    assert echo == b"ATE0\rATV1\rA/A/"


def test_a_slash_repeats_an_empty_line():
    la = LineAssembler()
    assert run(b"AT\rA/", la)[1] == [b"", b""]


def test_overflowed_line_is_not_remembered_for_a_slash():
    la = LineAssembler()
    run(b"ATE0\r", la)
    run(b"AT" + b"X" * (MAX_LINE + 5) + b"\r", la)
    assert run(b"A/", la)[1] == [b"E0"]


# --- overflow --------------------------------------------------------------------------------


def test_line_of_max_length_is_accepted():
    body = b"S" * MAX_LINE
    echo, lines = run(b"AT" + body + b"\r")
    assert lines == [body]
    assert echo == b"AT" + body + b"\r"


def test_overflow_answers_once_immediately():
    la = LineAssembler()
    data = b"AT" + b"Y" * (MAX_LINE + 1)
    echo, line, nxt = la.feed(data)
    assert line is TOO_LONG
    assert nxt == len(data)  # at the byte that overflowed, before any CR arrives
    assert echo == b"AT" + b"Y" * MAX_LINE
    assert len(la.buf) == 0


def test_overflow_discards_up_to_cr_then_works_again():
    la = LineAssembler()
    data = b"AT" + b"Z" * (MAX_LINE + 40) + b"\rATE0\r"
    echo, lines = run(data, la)
    assert lines == [TOO_LONG, b"E0"]
    assert echo == b"AT" + b"Z" * MAX_LINE + b"ATE0\r"


def test_ten_kilobyte_line_without_cr_gives_one_answer_and_bounded_buffer():
    la = LineAssembler()
    answers = 0
    biggest = 0
    chunk = b"Q" * 100
    e, line, _ = la.feed(b"AT")
    for _k in range(100):  # 10 000 bytes, no CR
        i = 0
        while i < len(chunk):
            e, line, i = la.feed(chunk, i)
            if line is not None:
                assert line is TOO_LONG
                answers += 1
            if len(la.buf) > biggest:
                biggest = len(la.buf)
    assert answers == 1
    assert biggest <= MAX_LINE
    assert len(la.buf) == 0
    # the CR ends the discarded line silently; the next line is normal
    assert run(b"\rAT+GMM\r", la) == (b"AT+GMM\r", [b"+GMM"])


def test_overflow_bytewise_answers_once():
    la = LineAssembler()
    echo, lines = run_bytewise(b"AT" + b"W" * (3 * MAX_LINE) + b"\rAT\r", la)
    assert lines == [TOO_LONG, b""]


def test_custom_max_line():
    la = LineAssembler(max_line=4)
    echo, lines = run(b"AT1234\rAT12345\rAT\r", la)
    assert lines == [b"1234", TOO_LONG, b""]


def test_too_long_is_not_a_real_line():
    assert isinstance(TOO_LONG, bytes)
    assert TOO_LONG[:1] == b"\x00"  # a NUL can never be part of an assembled line


# --- chunking --------------------------------------------------------------------------------

STREAM = (
    b"\x03\x03\x03ATZE0\r\nat+csq\rxAT+CGREG?\r\nATE1\x080\nA/"
    b"AT" + b"L" * (MAX_LINE + 3) + b"\r" + b'AT#TCPSERV="h"\r' + b"\x7fAT\x7f\x7fI\rA/garbage"
)


def test_bytewise_equals_whole():
    assert run_bytewise(STREAM) == run(STREAM)


def test_any_split_point_equals_whole():
    want = run(STREAM)
    for cut in range(0, len(STREAM) + 1, 7):
        la = LineAssembler()
        e1, l1 = run(STREAM[:cut], la)
        e2, l2 = run(STREAM[cut:], la)
        assert (e1 + e2, l1 + l2) == want, cut


def test_stream_lines():
    echo, lines = run(STREAM)
    assert lines == [
        b"ZE0",
        b"+csq",
        b"+CGREG?",
        b"E0",
        b"E0",
        TOO_LONG,
        b'#TCPSERV="h"',
        b"I",
        b"I",
    ]


def test_reset_forgets_partial_line_but_keeps_last():
    la = LineAssembler()
    run(b"ATE0\rAT+CS", la)
    la.reset()
    assert run(b"Q\r", la) == (b"", [])
    assert run(b"A/", la)[1] == [b"E0"]
