"""Heap benchmarks: what the firmware's code takes, and the smallest VM heap it works in.

* code_heap(): the VM imports every firmware module from .mpy (as tools/modem.py --mpy runs it)
  and reports gc.mem_alloc() after gc.collect(): before anything, after asyncio, after all.
* bisect_heap(): the smallest `micropython -X heapsize=N` (4 KiB steps) in which a probe passes.
  Probes: "boot" (the modem boots and answers AT commands) and "full" (an 8 MiB transfer in both
  directions at once, DLEMODE 1 then 0, then 200 sessions: 100 AT#OTCP and 100 AT#LTCPSTART
  cycles, each moving 64 bytes each way, half closed by the device, half by the peer).
"""

import os
import subprocess
import sys
import tempfile
import time

import bench_rig as rig

ROOT = rig.ROOT

# What a board imports at boot (boards/unix/app.py: databuf, then board and modem, which import
# the rest); everything else in firmware/ is imported on first use and measured on its own.
BOOT_MODULES = ["databuf", "app", "board", "modem"]
# Not measured on their own: dle_native is imported once by dle and dropped (its share is in the
# boot figure's peak, not its resident heap); dle_portable only loads where viper is missing.
NOT_LAZY = ("dle_native", "dle_portable")
# The web console's modules need microdot on the path: tools/bench_console.py measures them.
NOT_HERE = ("console",)

CODE_SCRIPT = """
import gc
import sys
gc.collect()
a = gc.mem_alloc()
import asyncio
gc.collect()
b = gc.mem_alloc()
import %s
gc.collect()
c = gc.mem_alloc()
print("HEAP", a, b, c, gc.mem_alloc() + gc.mem_free())
print("LOADED", " ".join(sorted(k for k in sys.modules)))
for name in %r:
    if name in sys.modules:
        continue
    before = list(sys.modules)
    gc.collect()
    x = gc.mem_alloc()
    __import__(name)
    gc.collect()
    print("LAZY", name, gc.mem_alloc() - x)
    for k in list(sys.modules):
        if k not in before:
            del sys.modules[k]
"""


def _launcher():
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "modem_launcher", os.path.join(ROOT, "tools", "modem.py")
    )
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def code_heap(heapsize=512 * 1024):
    """The code's heap share, imported from .mpy as tools/modem.py --mpy runs it: {'vm': bytes
    at start, 'asyncio': +asyncio, 'firmware': + what boots, 'lazy': {module: bytes} of each
    module imported on first use, alone, ...}."""
    launcher = _launcher()
    mpy = launcher.find_micropython(None)
    cross = launcher.find_mpy_cross(mpy)
    others = sorted(
        n[:-3]
        for n in os.listdir(os.path.join(ROOT, "firmware"))
        if n.endswith(".py")
        and n[:-3] not in BOOT_MODULES
        and n[:-3] not in NOT_LAZY
        and not n.startswith(NOT_HERE)
    )
    with tempfile.TemporaryDirectory(prefix="bench-code-") as d:
        launcher.compile_firmware(cross, d)
        script = os.path.join(d, "codeheap.py")
        with open(script, "w") as f:
            f.write(CODE_SCRIPT % (", ".join(BOOT_MODULES), others))
        env = dict(os.environ, MICROPYPATH=d + ":.frozen")
        proc = subprocess.run(
            [mpy, "-X", "heapsize=%d" % heapsize, script],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            cwd=d,
        )
        sizes = {}
        for n in os.listdir(d):
            if n.endswith(".mpy"):
                sizes[n[:-4]] = os.path.getsize(os.path.join(d, n))
    out = {}
    lazy = {}
    loaded = []
    for line in proc.stdout.splitlines():
        if line.startswith("HEAP "):
            a, b, c, total = (int(x) for x in line.split()[1:])
            out = {
                "vm": a,
                "asyncio": b - a,
                "firmware": c - b,
                "total": c,
                "usable_fraction": total / float(heapsize),
            }
        elif line.startswith("LOADED "):
            loaded = [m for m in line.split()[1:] if m in sizes]
        elif line.startswith("LAZY "):
            _tag, name, n = line.split()
            lazy[name] = int(n)
    if not out or proc.returncode:
        raise rig.RigError("code heap script failed: %s%s" % (proc.stdout, proc.stderr))
    out["modules"] = loaded
    out["mpy_bytes"] = sum(sizes[m] for m in loaded)
    out["lazy"] = lazy
    return out


def _sessions(fw, peer, count, listen_port):
    up = bytes(range(64))
    down = bytes(range(255, 191, -1))
    for i in range(count):
        if i % 2:
            fd, conn = fw.listen_session(listen_port, 1, 0)
        else:
            fd, conn = fw.open_session(peer, 1, 0)
        res = rig.transfer(
            fd,
            conn,
            (rig.dle_escape(up), up),
            (down, rig.dle_escape(down)),
            stall=10,
            limit=30,
            kill=fw.abort,
        )
        if res.error:
            raise rig.RigError("session %d: %s" % (i + 1, res.error))
        fw.close_session(conn, by_peer=bool((i // 2) % 2))
    return count


ESP32_CHUNK = 1024  # firmware/databuf.py CHUNK: what the ESP32 board reads at once


def probe(heap, kind, data, workdir, sessions=200, log=None):
    """(passed, why) for one heap size; `kind` is "boot" or "full"."""
    # The ESP32 board's read size, so the figure speaks for the board's memory, not the host's.
    fw = rig.Firmware(workdir, heap="%d" % heap, start_timeout=20, chunk=ESP32_CHUNK)
    peer = rig.Peer()
    t0 = time.monotonic()
    phase = "boot"
    try:
        fw.start()
        fw.command("AT")
        if kind == "full":
            wire = rig.dle_escape(data)
            for dlemode in (1, 0):
                phase = "DLEMODE %d transfer" % dlemode
                fd, conn = fw.open_session(peer, dlemode, 100)
                w = wire if dlemode else data
                res = rig.transfer(
                    fd, conn, (w, data), (data, w), stall=15, limit=180, kill=fw.abort
                )
                if res.error:
                    raise rig.RigError(res.error)
                fw.close_session(conn)
            phase = "sessions"
            _sessions(fw, peer, sessions, _free_port())
            fw.command("AT")
        err = fw.stderr()
        if "Traceback" in err or "MemoryError" in err:
            return False, "the VM logged an error: " + _last_error(err)
        return True, "%.1f s" % (time.monotonic() - t0)
    except (rig.RigError, OSError) as e:
        err = fw.stderr()
        why = str(e)
        if "MemoryError" in err:
            why = _last_error(err)
        return False, ("%s: %s" % (phase, why))[:300]
    finally:
        fw.stop()
        peer.close()


def _last_error(err):
    lines = [x for x in err.splitlines() if "Error" in x]
    return (lines[-1] if lines else err[-200:]).strip()


def _free_port():
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def bisect_heap(kind, data, lo=16 * 1024, hi=512 * 1024, step=4096, sessions=200, say=print):
    """Smallest heap (multiple of `step`) in (lo, hi] where probe passes; the steps tried."""
    tried = []
    with tempfile.TemporaryDirectory(prefix="bench-heap-") as d:

        def run(h):
            ok, why = probe(h, kind, data, d, sessions)
            tried.append((h, ok, why))
            say("  heap %4d KiB (%s): %s  %s" % (h // 1024, kind, "pass" if ok else "FAIL", why))
            return ok

        if run(lo):
            return lo, tried
        if not run(hi):
            return None, tried
        while hi - lo > step:
            mid = (lo + hi) // 2 // step * step
            if mid <= lo:
                mid = lo + step
            if run(mid):
                hi = mid
            else:
                lo = mid
        # Confirm: the minimum passes again (bisection assumes pass/fail is monotonic; a heap
        # right at the edge may fail on fragmentation). Step up until it passes twice.
        for _ in range(8):
            if run(hi):
                break
            hi += step
        return hi, tried


if __name__ == "__main__":
    print(code_heap())
    data = os.urandom(int(sys.argv[1]) if len(sys.argv) > 1 else 1 << 20)
    print(bisect_heap("boot", data))
