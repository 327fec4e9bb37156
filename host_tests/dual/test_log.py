"""The RAM log ring (firmware/log.py) behind AT#VLOG.

Dual-runtime: runs under pytest on CPython and unchanged on the MicroPython VM.
"""

from log import Log


def texts(log):
    return [line.split(" ", 1)[1] for line in log.lines()]


def test_lines_in_order_with_a_time_stamp():
    log = Log()
    assert log.lines() == []
    log("one")
    log("two")
    lines = log.lines()
    assert texts(log) == ["one", "two"]
    stamp = lines[0].split(" ", 1)[0]
    assert stamp and stamp.isdigit()


def test_keeps_the_last_size_lines():
    log = Log(size=4)
    for i in range(11):
        log("line %d" % i)
    assert texts(log) == ["line 7", "line 8", "line 9", "line 10"]


def test_console_gets_each_whole_line():
    seen = []
    log = Log(size=2, console=seen.append)
    log("a rather long line")
    assert seen == log.lines()
    assert seen[0].endswith(" a rather long line")
