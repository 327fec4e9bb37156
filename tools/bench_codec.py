"""DLE/ETX codec benchmark (a benchmark, not a test).

Measures the throughput of `dle.escape` (encode) and `dle.Unescaper.feed` (decode) next to a
naive per-byte loop doing the same work, in the same run, on CPython and on the MicroPython VM:

    .venv/bin/python tools/bench_codec.py            # both runtimes, from the repo root
    .venv/bin/python tools/bench_codec.py --check    # exit 1 when a VM target is missed
    .venv/bin/micropython -X heapsize=64M tools/bench_codec.py          # VM only, a table

Workload: SIZE KiB (default 1024) of payload cut into 4 KiB chunks, three payloads:
  random  os.urandom bytes (about 1 byte in 128 is DLE or ETX)       <- the issue's target case
  plain   random bytes with no DLE/ETX (the decoder's fast path)
  dense   b"\\x10\\x03a" repeated: 2/3 control bytes (worst case, for information)
Encode rate = payload bytes in / s; decode rate = payload bytes out / s (the decoder reads the
escaped stream). MB = 10^6 bytes. A round repeats whole passes until it lasts >= 50 ms; the
codec's and the naive loop's rounds alternate, so background load hits both alike. "MB/s" and
"naive MB/s" are medians of ROUNDS (default 5) rounds, "best MB/s" the codec's fastest round
(the figure least disturbed by other work on a shared machine). Timing: time.ticks_us on
MicroPython, time.perf_counter on CPython. The VM runs with a 64 MiB heap (-X heapsize) so it
holds the data.

Targets (issue 2, on the VM, `random` payload): >= 10x the naive loop and >= 50 MB/s, each way,
judged on the medians.

Options: --vm (inner mode: this runtime only, machine-readable rows), --cpython-only,
--size KIB, --rounds N, --check. Runs unchanged on both runtimes (no argparse, no f-strings
with `=`).
"""

import gc
import os
import sys

CHUNK = 4096
MIN_ROUND_S = 0.05
TARGET_RATIO = 10
TARGET_MBPS = 50
PAYLOADS = ("random", "plain", "dense")
OPS = ("escape", "decode")

try:
    from time import ticks_diff, ticks_us  # MicroPython

    def _now():
        return ticks_us()

    def _seconds(t0, t1):
        return ticks_diff(t1, t0) / 1e6

    RUNTIME = "MicroPython %d.%d.%d" % sys.implementation.version[:3]
except ImportError:  # CPython
    from time import perf_counter as _now

    def _seconds(t0, t1):
        return t1 - t0

    RUNTIME = "CPython %d.%d.%d" % sys.version_info[:3]

IS_MICROPYTHON = sys.implementation.name == "micropython"


def _script_dir():
    f = __file__
    i = f.rfind("/")
    return f[:i] if i >= 0 else "."


ROOT = _script_dir() + "/.."
if ROOT + "/firmware" not in sys.path:
    sys.path.append(ROOT + "/firmware")  # MICROPYPATH / an existing path entry wins

import dle  # noqa: E402


# --- the naive per-byte reference implementations --------------------------------------------


def naive_escape(data):
    out = bytearray()
    for b in data:
        if b == 0x10 or b == 0x03:
            out.append(0x10)
        out.append(b)
    return bytes(out)


class NaiveUnescaper:
    def __init__(self):
        self.pending = False

    def feed(self, data):
        out = bytearray()
        pending = self.pending
        i = 0
        for b in data:
            if pending:
                out.append(b)
                pending = False
            elif b == 0x10:
                pending = True
            elif b == 0x03:
                self.pending = False
                return bytes(out), True, data[i + 1 :]
            else:
                out.append(b)
            i += 1
        self.pending = pending
        return bytes(out), False, b""


# --- workload ------------------------------------------------------------------------------


def make_payload(kind, size):
    if kind == "random":
        data = os.urandom(size)
    elif kind == "plain":
        data = os.urandom(size).replace(b"\x10", b"\x11").replace(b"\x03", b"\x04")
    else:
        data = (b"\x10\x03a" * (size // 3 + 1))[:size]
    return [data[i : i + CHUNK] for i in range(0, size, CHUNK)]


def run_escape(escape, chunks):
    for c in chunks:
        escape(c)


def run_decode(cls, chunks):
    u = cls()
    for c in chunks:
        u.feed(c)


def _time_once(fn, reps):
    gc.collect()
    t0 = _now()
    for _ in range(reps):
        fn()
    return _seconds(t0, _now())


def _reps_for(fn):
    once = _time_once(fn, 1)  # warm-up, also sizes the rounds
    if once >= MIN_ROUND_S:
        return 1
    return int(MIN_ROUND_S / max(once, 1e-6)) + 1


def _median(xs):
    xs = sorted(xs)
    return xs[len(xs) // 2]


def measure_pair(fast_fn, slow_fn, nbytes, rounds):
    """Median MB/s of fast_fn() and slow_fn() (each processes nbytes) over `rounds` rounds.

    Rounds of the two alternate, so background load on a shared machine hits both alike and
    the ratio stays meaningful even when the absolute figures wobble.
    """
    fast_reps = _reps_for(fast_fn)
    slow_reps = _reps_for(slow_fn)
    fast = []
    slow = []
    for _ in range(rounds):
        fast.append(fast_reps * nbytes / max(_time_once(fast_fn, fast_reps), 1e-9) / 1e6)
        slow.append(slow_reps * nbytes / max(_time_once(slow_fn, slow_reps), 1e-9) / 1e6)
    return _median(fast), _median(slow), max(fast)


def check_same(kind, chunks, enc):
    """The fast and naive codecs must agree on the workload (else the timing means nothing)."""
    fast_u = dle.Unescaper()
    slow_u = NaiveUnescaper()
    for c, e in zip(chunks, enc):
        if bytes(e) != naive_escape(c):
            raise AssertionError("escape differs from the naive loop on " + kind)
        a = fast_u.feed(e)
        b = slow_u.feed(e)
        if (bytes(a[0]), a[1], bytes(a[2])) != b or b != (c, False, b""):
            raise AssertionError("decode differs from the naive loop on " + kind)


def bench_this_runtime(size, rounds):
    """Rows (runtime, op, payload, MB/s, naive MB/s) for the running interpreter."""
    rows = []
    for kind in PAYLOADS:
        chunks = make_payload(kind, size)
        # decode input as bytes, like the firmware's UART reads (escape() may return a
        # bytearray, which the decoder would split a little faster)
        enc = [bytes(dle.escape(c)) for c in chunks]
        check_same(kind, chunks, enc)
        nbytes = size
        fast, slow, best = measure_pair(
            lambda c=chunks: run_escape(dle.escape, c),
            lambda c=chunks: run_escape(naive_escape, c),
            nbytes,
            rounds,
        )
        rows.append((RUNTIME, "escape", kind, fast, slow, best))
        fast, slow, best = measure_pair(
            lambda e=enc: run_decode(dle.Unescaper, e),
            lambda e=enc: run_decode(NaiveUnescaper, e),
            nbytes,
            rounds,
        )
        rows.append((RUNTIME, "decode", kind, fast, slow, best))
        chunks = enc = None
        gc.collect()
    return rows


# --- report --------------------------------------------------------------------------------


def targets(row):
    """'' for rows without a target, else e.g. '10x MET, 50MB/s MET'."""
    runtime, op, kind, fast, slow, best = row
    if not runtime.startswith("MicroPython") or kind != "random":
        return ""
    ratio_ok = fast >= TARGET_RATIO * slow
    speed_ok = fast >= TARGET_MBPS
    return "%dx %s, %dMB/s %s" % (
        TARGET_RATIO,
        "MET" if ratio_ok else "MISSED",
        TARGET_MBPS,
        "MET" if speed_ok else "MISSED",
    )


def print_table(rows):
    head = (
        "runtime",
        "operation",
        "payload",
        "MB/s",
        "naive MB/s",
        "ratio",
        "best MB/s",
        "VM target",
    )
    fmt = "%-19s %-9s %-7s %8s %10s %7s %9s  %s"
    print(fmt % head)
    print("-" * 90)
    for row in rows:
        runtime, op, kind, fast, slow, best = row
        ratio = fast / slow if slow > 0 else float("inf")
        print(
            fmt
            % (
                runtime,
                op,
                kind,
                "%.1f" % fast,
                "%.2f" % slow,
                "%.1fx" % ratio,
                "%.1f" % best,
                targets(row),
            )
        )


def all_targets_met(rows):
    checked = [r for r in rows if targets(r)]
    return bool(checked) and all("MISSED" not in targets(r) for r in checked)


def parse_args(argv):
    opts = {"vm": False, "cpython_only": False, "size": 1024, "rounds": 5, "check": False}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--vm":
            opts["vm"] = True
        elif a == "--cpython-only":
            opts["cpython_only"] = True
        elif a == "--check":
            opts["check"] = True
        elif a in ("--size", "--rounds") and i + 1 < len(argv):
            opts[a[2:]] = int(argv[i + 1])
            i += 1
        elif a in ("-h", "--help"):
            print(__doc__)
            raise SystemExit(0)
        else:
            raise SystemExit("bench_codec: unknown argument %r (see --help)" % a)
        i += 1
    return opts


def find_micropython():
    import shutil

    for cand in (
        os.path.join(os.path.dirname(sys.executable), "micropython"),
        os.path.join(ROOT, ".venv", "bin", "micropython"),
    ):
        if os.access(cand, os.X_OK):
            return cand
    return shutil.which("micropython")


def run_vm(size_kib, rounds):
    """Run this script under the MicroPython VM in --vm mode; return its rows."""
    import subprocess

    exe = find_micropython()
    if exe is None:
        raise RuntimeError("micropython not found (run python3 tools/dev.py test once)")
    root = os.path.abspath(ROOT)
    env = dict(os.environ)
    env["MICROPYPATH"] = os.path.join(root, "firmware") + ":.frozen"
    cmd = [exe, "-X", "heapsize=64M", os.path.abspath(__file__), "--vm"]
    cmd += ["--size", str(size_kib), "--rounds", str(rounds)]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=root)
    if proc.returncode != 0:
        raise RuntimeError(
            "MicroPython run failed (exit %d):\n%s%s" % (proc.returncode, proc.stdout, proc.stderr)
        )
    rows = []
    for line in proc.stdout.splitlines():
        if line.startswith("ROW\t"):
            _, runtime, op, kind, fast, slow, best = line.split("\t")
            rows.append((runtime, op, kind, float(fast), float(slow), float(best)))
    if not rows:
        raise RuntimeError("MicroPython run printed no results:\n" + proc.stdout + proc.stderr)
    return rows


def main(argv):
    opts = parse_args(argv)
    size = opts["size"] * 1024
    if opts["vm"] or IS_MICROPYTHON:
        rows = bench_this_runtime(size, opts["rounds"])
        if opts["vm"]:
            for r in rows:
                print("ROW\t%s\t%s\t%s\t%.3f\t%.4f\t%.3f" % r)
        else:
            print_table(rows)
        return 1 if opts["check"] and not all_targets_met(rows) else 0

    print(
        "DLE/ETX codec benchmark: %d KiB payload in %d B chunks, median of %d rounds"
        % (opts["size"], CHUNK, opts["rounds"])
    )
    if hasattr(os, "getloadavg"):
        print(
            "load average %.2f on %s CPUs (other work on the machine lowers the absolute figures)"
            % (os.getloadavg()[0], os.cpu_count())
        )
    rows = bench_this_runtime(size, opts["rounds"])
    vm_error = None
    if not opts["cpython_only"]:
        try:
            rows += run_vm(opts["size"], opts["rounds"])
        except RuntimeError as e:
            vm_error = str(e)
    print()
    print_table(rows)
    print()
    if vm_error:
        print("VM benchmark did not run: " + vm_error)
        return 2
    if opts["cpython_only"]:
        return 0
    met = all_targets_met(rows)
    print(
        "VM targets (random payload, each way: >= %dx naive and >= %d MB/s): %s"
        % (TARGET_RATIO, TARGET_MBPS, "all met" if met else "NOT all met")
    )
    return 1 if opts["check"] and not met else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
