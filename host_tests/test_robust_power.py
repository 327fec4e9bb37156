"""Robustness: power loss while saving settings (issue 5, section 2).

200 saves (`AT#TCPPORT=1,<n>`, n varying) in bursts of 1 to 3; after each burst the VM is killed
with SIGKILL at a random moment, a fraction of a millisecond to a few milliseconds after the
burst was written, which lands before, inside and after the write-temporary-then-rename of
firmware/settings.py. After every restart the state directory's settings.json must parse, hold
a value the modem really was asked to store, never an older one than the last save it
acknowledged with OK, never the factory default, and the modem must report that same value.

SIGKILL stops the process, not the kernel: what reached the page cache stays. This checks the
order of operations of the save (what a power cut between them leaves), not flash durability.
"""

import json
import os
import random
import re
import signal
import time

import pytest
import serial

from harness import OK, EmulatedModem, describe
from test_robust_common import children_of, report

SEED = 0x5EED_0200
SAVES = 200


def _read_while_waiting(fd, seconds):
    """Spin for `seconds` (sleeping would be far too coarse), reading what the modem says."""
    got = bytearray()
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        try:
            got += os.read(fd, 4096)
        except BlockingIOError:
            pass
    return bytes(got)


class PowerModem(EmulatedModem):
    """EmulatedModem with a quick boot: the harness's boot() waits up to 0.3 s for a URC that
    pyserial may have flushed; here ATE0 alone is enough (whatever came before it is dropped)."""

    def __init__(self, tmp_path):
        super().__init__(tmp_path, open_serial=False)

    def start(self):
        super().start()
        self.port = serial.Serial(self.path, baudrate=115200, timeout=0.05)
        self.send(b"ATE0\r")
        self.read_until(b"ATE0\r" + OK, timeout=5)
        kids = children_of(self.proc.pid)
        assert len(kids) == 1, kids
        self.vm = kids[0]

    def power_cut(self):
        os.kill(self.vm, signal.SIGKILL)
        self.proc.wait(5)  # the launcher exits when its VM dies

    def settings_file(self):
        return os.path.join(self.state, "settings.json")


@pytest.mark.timeout(180)
def test_power_loss_while_saving(tmp_path):
    rnd = random.Random(SEED)
    m = PowerModem(tmp_path)
    try:
        acked = rnd.randint(1, 65535)
        m.check("AT#TCPPORT=1,%d" % acked, OK)  # a first save: from now on a file exists
        saves = 1
        kills = 0
        found = {"old": 0, "new": 0, "between": 0}
        tmp_left = 0
        runs = []
        t0 = time.monotonic()
        while saves < SAVES:
            burst = [rnd.randint(1, 65535) for _ in range(min(rnd.randint(1, 3), SAVES - saves))]
            try:  # a temporary file left by an earlier cut: only this burst's cut counts
                os.unlink(m.settings_file() + ".tmp")
            except FileNotFoundError:
                pass
            m.send(b"".join(b"AT#TCPPORT=1,%d\r" % n for n in burst))
            # A save takes about 0.3-1 ms from the write to its OK.
            delay = rnd.uniform(0, 0.0008 * len(burst) + 0.0004)
            out = _read_while_waiting(m.port.fileno(), delay)
            m.power_cut()
            kills += 1
            saves += len(burst)
            # Saves acknowledged before the cut must have been kept.
            n_ok = out.count(OK)
            rest = out[len(OK) * n_ok :]  # (an OK the cut interrupted)
            assert out.startswith(OK * n_ok) and OK.startswith(rest), (
                "before the cut: " + describe(out)
            )
            candidates = [acked] + burst
            oldest = n_ok  # index in candidates of the last acknowledged value
            m.port.close()
            m.port = None
            m.start()
            with open(m.settings_file()) as f:
                text = f.read()
            try:
                stored = json.loads(text)["params"]["TCPPORT"][0]
            except (ValueError, KeyError, TypeError) as e:
                pytest.fail("kill %d: settings.json is corrupt (%r): %r" % (kills, e, text[:300]))
            assert stored in candidates[oldest:], (
                "kill %d: stored %r; before the burst %r, burst %r, %d acknowledged"
                % (kills, stored, acked, burst, n_ok)
            )
            got = m.cmd("AT#TCPPORT=1")
            assert got == b"\r\n#TCPPORT: 1,%d\r\n" % stored + OK, (
                "kill %d: the modem says %r, the file %r" % (kills, got, stored)
            )
            log = m.stderr()
            assert not re.search(r"factory defaults|unreadable|bad stored", log), "kill %d: %s" % (
                kills,
                log,
            )
            i = candidates.index(stored)
            found["old" if i == 0 else "new" if i == len(candidates) - 1 else "between"] += 1
            tmp_left += os.path.exists(m.settings_file() + ".tmp")  # cut inside a save
            runs.append(n_ok)
            acked = stored
        elapsed = time.monotonic() - t0
        m.check("AT#TCPPORT=1,4242", OK)
        m.check("AT#TCPPORT=1", b"\r\n#TCPPORT: 1,4242\r\n" + OK)
        report(
            "power loss",
            saves=saves,
            kills=kills,
            restart_found=found,
            acked_before_cut=sum(runs),
            tmp_file_left_behind=tmp_left,
            seconds=round(elapsed, 1),
        )
        assert kills >= SAVES // 3
    finally:
        m.close()
