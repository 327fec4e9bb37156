"""Instructions per payload byte of the data path: valgrind's callgrind on the VM process.

Each run starts tools/modem.py --mpy with a `micropython` wrapper that runs the real binary
under `valgrind --tool=callgrind`, opens one client session (TCPTXDELAY 100), moves a fixed
payload one way (or nothing: the baseline), closes the session and stops the modem (SIGTERM;
callgrind writes its totals at exit). Instructions of the payload run minus the baseline of the
same DLE mode, divided by the payload bytes, is the data path's cost per byte; a run of single-
byte round trips (TCPTXDELAY 0) minus the baseline gives the cost of one small exchange.

Callgrind counts user-space instructions (Ir) of the process: the VM, libc and, since the venv's
`micropython` is the unix port built as a CPython extension, CPython's start-up (which the
baseline cancels). Kernel work (pty, TCP) is not counted. The counts vary a little between runs
(how the pty and sockets chunk the stream depends on timing), far less than wall time does.
"""

import os
import re
import shutil
import stat
import subprocess
import tempfile

import bench_rig as rig
from bench_heap import _launcher


def available():
    return shutil.which("valgrind") is not None


def _wrapper(d, out):
    """A `micropython` that runs the real one under callgrind, with mpy-cross beside it."""
    launcher = _launcher()
    mpy = launcher.find_micropython(None)
    cross = launcher.find_mpy_cross(mpy)
    path = os.path.join(d, "micropython")
    with open(path, "w") as f:
        f.write(
            # The ESP32's DLE kernels (byte stores; a host stores whole words where it can):
            # these counts feed the ESP32 estimate.
            "#!/bin/sh\nexec env MTIP_DLE_BYTE_STORES=1 valgrind --tool=callgrind -q "
            '--callgrind-out-file=%s %s "$@"\n' % (out, mpy)
        )
    os.chmod(path, os.stat(path).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    if cross:
        os.symlink(cross, os.path.join(d, "mpy-cross"))
    return path


def totals(path):
    with open(path) as f:
        for line in f:
            if line.startswith("totals:") or line.startswith("summary:"):
                return int(line.split()[1])
    raise rig.RigError("no totals in %s" % path)


def functions(path):
    """{function: self Ir} from callgrind_annotate (empty when it is missing)."""
    exe = shutil.which("callgrind_annotate")
    if exe is None:
        return {}
    proc = subprocess.run(
        [exe, "--inclusive=no", "--threshold=100", path],
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = {}
    pat = re.compile(r"^\s*([\d,]+)\s+\([^)]*\)\s+(\S.*)$")
    for line in proc.stdout.splitlines():
        m = pat.match(line)
        if not m or "PROGRAM TOTALS" in line:
            continue
        name = m.group(2)
        # "/path/py/objstr.c:find_subbytes [/lib.so]" -> "objstr.c:find_subbytes"
        name = name.split(" [")[0]
        file, _, fn = name.rpartition(":")
        fn = fn.split("'")[0]  # recursion-depth suffixes: mp_execute_bytecode'2
        key = "%s:%s" % (os.path.basename(file), fn) if file else fn
        out[key] = out.get(key, 0) + int(m.group(1).replace(",", ""))
    return out


def run_one(workdir, kind, dlemode, data, trips=0):
    """Ir of one VM run under callgrind: kind "base", "up", "down" or "rtt"."""
    out = os.path.join(workdir, "callgrind-%s-%d.out" % (kind, dlemode))
    d = tempfile.mkdtemp(prefix="vg-", dir=workdir)
    fw = rig.Firmware(workdir, micropython=_wrapper(d, out), start_timeout=180)
    peer = rig.Peer()
    try:
        fw.start()
        fd, conn = fw.open_session(peer, dlemode, 0 if kind == "rtt" else 100)
        wire = rig.dle_escape(data) if dlemode else data
        if kind == "up":
            res = rig.transfer(fd, conn, (wire, data), None, stall=60, limit=600, kill=fw.abort)
        elif kind == "down":
            res = rig.transfer(fd, conn, None, (data, wire), stall=60, limit=600, kill=fw.abort)
        else:
            res = None
        if res is not None and res.error:
            raise rig.RigError("callgrind %s run: %s" % (kind, res.error))
        if kind == "rtt":
            rig.round_trips(fd, conn, trips, stall=60, kill=fw.abort)
        fw.close_session(conn, timeout=60)
    finally:
        fw.stop()
        peer.close()
    return totals(out), out


def measure(data, trips=200, modes=(1, 0), say=print):
    """Instruction counts per DLE mode: base, up, down (and rtt for DLEMODE 1)."""
    result = {"bytes": len(data), "trips": trips, "modes": {}, "profile": {}}
    with tempfile.TemporaryDirectory(prefix="bench-vg-") as d:
        for dlemode in modes:
            m = {}
            kinds = ["base", "up", "down"] + (["rtt"] if dlemode == 1 and trips else [])
            files = {}
            for kind in kinds:
                m[kind], files[kind] = run_one(d, kind, dlemode, data, trips)
                say(
                    "  callgrind DLEMODE %d %-4s %14s Ir" % (dlemode, kind, "{:,}".format(m[kind]))
                )
            result["modes"][dlemode] = m
            base = functions(files["base"])
            for kind in ("up", "down"):
                prof = functions(files[kind])
                diff = {k: v - base.get(k, 0) for k, v in prof.items()}
                top = sorted(diff.items(), key=lambda kv: -kv[1])[:12]
                result["profile"]["%s%d" % (kind, dlemode)] = top
    return result


def per_byte(result, dlemode, kind):
    m = result["modes"][dlemode]
    return (m[kind] - m["base"]) / float(result["bytes"])


def per_trip(result):
    m = result["modes"].get(1, {})
    if "rtt" not in m or not result["trips"]:
        return None
    return (m["rtt"] - m["base"]) / float(result["trips"])
