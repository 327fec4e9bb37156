"""Property tests for the DLE/ETX codec (firmware/dle.py), CPython only (hypothesis).

* decode(encode(x)) == x for any bytes and any chunking of the encoded stream.
* encode(data) + ETX + tail, any chunking: payload == data, closed, rest == tail (once closed,
  every later chunk is AT input and belongs to the rest).
* raw (unescaped) input, any chunking: the streaming decoder agrees with a per-byte reference.
"""

import dle
from harness import chunked
from test_dle import feed_all, ref_decode  # the dual suite's reference helpers
from hypothesis import given, settings
from hypothesis import strategies as st

DLE = 0x10
ETX = 0x03

# Bias towards the control bytes so escapes, chunk-edge DLEs and runs occur often.
_byte = st.one_of(st.sampled_from([DLE, ETX]), st.integers(0, 255))
payloads = st.one_of(
    st.binary(max_size=300),
    st.lists(_byte, max_size=300).map(bytes),
)


cut_lists = st.lists(st.integers(0, 400), max_size=40)


@settings(max_examples=300)
@given(payloads, cut_lists)
def test_roundtrip_any_chunking(data, cuts):
    enc = dle.escape(data)
    assert feed_all(chunked(enc, cuts)) == (data, False, b"")


@settings(max_examples=300)
@given(payloads, st.binary(max_size=50) | st.lists(_byte, max_size=50).map(bytes), cut_lists)
def test_close_any_chunking(data, tail, cuts):
    stream = dle.escape(data) + b"\x03" + tail
    assert feed_all(chunked(stream, cuts)) == (data, True, tail)


@settings(max_examples=300)
@given(st.lists(_byte, max_size=200).map(bytes), cut_lists)
def test_raw_input_matches_reference(raw, cuts):
    assert feed_all(chunked(raw, cuts)) == ref_decode(raw)


@settings(max_examples=300)
@given(payloads)
def test_escape_has_no_lone_etx_and_roundtrips_bytewise(data):
    enc = dle.escape(data)
    assert len(enc) == len(data) + data.count(DLE) + data.count(ETX)
    assert feed_all([enc[i : i + 1] for i in range(len(enc))]) == (data, False, b"")
