#!/usr/bin/env python3
"""Benchmarks of the firmware on the MicroPython VM against socat, in the same run.

    python3 tools/dev.py bench                  everything; writes docs/benchmarks.md and
                                                docs/benchmarks-throughput.png (3-5 minutes)
    python3 tools/dev.py bench --quick          a ~70 s smoke run (smaller payloads, one
                                                round); prints the results, writes no page
    python3 tools/dev.py bench --only throughput,latency,codec,heap,callgrind
    python3 tools/dev.py bench codec [args]     tools/bench_codec.py alone (CPython and VM)
    python3 tools/dev.py bench report           the page again from build/benchmarks.json

Sections (see docs/benchmarks.md for what each measures and how):
  throughput  8 MiB of random bytes device->peer, peer->device and both at once, DLEMODE 0
              and 1, firmware (TCPTXDELAY 100 and 0) vs socat, median of 7 rounds, byte-exact
  latency     1,000 single-byte round trips, TCPTXDELAY 0, median and p99, vs socat
  codec       tools/bench_codec.py's VM rows: dle.escape/Unescaper vs a naive per-byte loop
  heap        the firmware code's heap share; the smallest -X heapsize (bisection, 4 KiB
              steps) for booting, and for 8 MiB both ways + 200 sessions
  callgrind   instructions per payload byte (valgrind) and an ESP32 baud-rate estimate
  services    FTPGET / FTPPUT of 8 MiB vs a plain TCP session in the same run; the heap each
              mail and FTP service costs while it runs, with and without TLS
  console     8 MiB both ways with the web console polled every second (and back to back) vs
              no console; the heap the console costs (tools/bench_console.py)

Only loopback addresses are used; every wait is bounded; every process started is stopped
by its PID. Options: --quick, --only LIST, --size MIB, --rounds N, --doc PATH, --no-doc,
--json PATH, --check (exit 1 when a target is missed).
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_rig as rig  # noqa: E402

ROOT = rig.ROOT
SECTIONS = ("throughput", "latency", "codec", "heap", "callgrind", "services", "console")
DEFAULT_DOC = os.path.join(ROOT, "docs", "benchmarks.md")
DEFAULT_JSON = os.path.join(ROOT, "build", "benchmarks.json")
MiB = 1 << 20


def say(msg=""):
    print(msg, flush=True)


# --- machine ---------------------------------------------------------------------------------


def _first_line(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
        return (p.stdout or p.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.TimeoutExpired):
        return "?"


def machine():
    cpu = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    from bench_heap import _launcher

    mpy = _launcher().find_micropython(None)
    upy = "?"
    if mpy:
        upy = _first_line(
            [
                mpy,
                "-c",
                "import sys; print('MicroPython %d.%d.%d (%s)' % ("
                "sys.implementation.version[:3] + (sys.version.split('; ')[-1],)))",
            ]
        )
    heap = None
    if mpy:
        try:
            heap = int(_first_line([mpy, "-c", "import gc; print(gc.mem_free()+gc.mem_alloc())"]))
        except ValueError:
            pass
    socat = "socat missing"
    if rig_has("socat"):
        out = subprocess.run(["socat", "-V"], capture_output=True, text=True, timeout=30).stdout
        socat = ([x for x in out.splitlines() if x.startswith("socat version")] or ["?"])[0]
    socat_v = [w for w in socat.split() if w[:1].isdigit()]
    return {
        "nproc": os.cpu_count() or 0,
        "cpu": cpu,
        "kernel": platform.release(),
        "python": "CPython %s" % platform.python_version(),
        "micropython": upy,
        "socat": "socat %s" % (socat_v[0] if socat_v else socat),
        "valgrind": _first_line(["valgrind", "--version"]) if rig_has("valgrind") else "-",
        "load_start": os.getloadavg()[0],
        "vm_heap": heap,
    }


def rig_has(tool):
    import shutil

    return shutil.which(tool) is not None


# --- throughput --------------------------------------------------------------------------------


def _open(r, peer, dlemode, txdelay):
    if r.name == "firmware" and not r.alive():
        r.start()
    return r.open_session(peer, dlemode, txdelay)


def run_throughput(size, rounds, workdir):
    up_data = os.urandom(size)
    down_data = os.urandom(size)
    wires = {0: (up_data, down_data), 1: (rig.dle_escape(up_data), rig.dle_escape(down_data))}
    peer = rig.Peer()
    fw = rig.Firmware(workdir)
    so = rig.Socat(workdir)
    variants = [("fw100", fw, 100), ("fw0", fw, 0), ("socat", so, 0)]
    rows = []
    try:
        fw.start()
        for dlemode in (0, 1):
            for direction in ("up", "down", "both"):
                row = {
                    "direction": direction,
                    "dlemode": dlemode,
                    "rounds": {},
                    "lost": {},
                    "errors": [],
                    "median": {},
                }
                for k in range(rounds):
                    order = variants[k % 3 :] + variants[: k % 3]  # rotate who goes first
                    for key, r, txdelay in order:
                        # socat has no DLE mode: it moves the raw payload in every row
                        up_wire, down_wire = wires[dlemode if key != "socat" else 0]
                        up = (up_wire, up_data) if direction in ("up", "both") else None
                        down = (down_data, down_wire) if direction in ("down", "both") else None
                        try:
                            fd, conn = _open(r, peer, dlemode, txdelay)
                        except (rig.RigError, OSError) as e:
                            row["errors"].append("%s: session did not open: %s" % (key, e))
                            r.abort()
                            continue
                        res = rig.transfer(fd, conn, up, down, stall=15, limit=180, kill=r.abort)
                        row["lost"][key] = row["lost"].get(key, 0) + res.lost
                        if res.error:
                            row["errors"].append("%s round %d: %s" % (key, k + 1, res.error))
                            r.abort()
                            continue
                        try:
                            r.close_session(conn)
                        except (rig.RigError, OSError) as e:
                            row["errors"].append("%s: session did not close: %s" % (key, e))
                            r.abort()
                        row["rounds"].setdefault(key, []).append(res.mbps)
                for key, _, _ in variants:
                    if row["rounds"].get(key):
                        row["median"][key] = rig.median(row["rounds"][key])
                fwm, som = row["median"].get("fw100"), row["median"].get("socat")
                say(
                    "  %-14s DLEMODE %d  firmware %6.1f MB/s (TXDELAY 0: %6.1f)  socat %6.1f "
                    "MB/s  ratio %s  lost %s%s"
                    % (
                        {"up": "device->peer", "down": "peer->device", "both": "both"}[direction],
                        dlemode,
                        fwm or 0,
                        row["median"].get("fw0") or 0,
                        som or 0,
                        "%.2fx" % (fwm / som) if fwm and som else "-",
                        sum(row["lost"].values()),
                        "  ERRORS: %s" % row["errors"] if row["errors"] else "",
                    )
                )
                rows.append(row)
    finally:
        fw.stop()
        so.stop()
        peer.close()
    return {"size": size, "rounds": rounds, "rows": rows}


# --- latency -----------------------------------------------------------------------------------


def run_latency(count, rounds, workdir):
    peer = rig.Peer()
    fw = rig.Firmware(workdir)
    so = rig.Socat(workdir)
    rows = []
    try:
        fw.start()
        for dlemode in (0, 1):
            samples = {"fw": [], "socat": []}
            errors = []
            for k in range(rounds):
                pair = [("fw", fw), ("socat", so)]
                for key, r in pair if k % 2 == 0 else pair[::-1]:
                    try:
                        fd, conn = _open(r, peer, dlemode, 0)
                        times = rig.round_trips(fd, conn, count, kill=r.abort)
                        r.close_session(conn)
                    except (rig.RigError, OSError) as e:
                        errors.append("%s round %d: %s" % (key, k + 1, e))
                        r.abort()
                        continue
                    samples[key].append((rig.median(times), rig.percentile(times, 99)))
            row = {"dlemode": dlemode, "errors": errors}
            for key, s in samples.items():
                if s:
                    row[key] = {
                        "median": rig.median([a for a, _ in s]),
                        "p99": rig.median([b for _, b in s]),
                    }
            fwr, sor = row.get("fw"), row.get("socat")
            say(
                "  DLEMODE %d  firmware median %5.0f us p99 %5.0f us   socat median %5.0f us "
                "p99 %5.0f us%s"
                % (
                    dlemode,
                    fwr["median"] * 1e6 if fwr else 0,
                    fwr["p99"] * 1e6 if fwr else 0,
                    sor["median"] * 1e6 if sor else 0,
                    sor["p99"] * 1e6 if sor else 0,
                    "  ERRORS: %s" % errors if errors else "",
                )
            )
            rows.append(row)
    finally:
        fw.stop()
        so.stop()
        peer.close()
    return {"count": count, "rounds": rounds, "rows": rows}


# --- codec -------------------------------------------------------------------------------------


def run_codec(size_kib, rounds):
    import bench_codec

    out = {"size_kib": size_kib, "rounds": rounds, "rows": []}
    try:
        out["rows"] = [list(r) for r in bench_codec.run_vm(size_kib, rounds)]
    except (RuntimeError, OSError, subprocess.SubprocessError) as e:
        out["error"] = str(e)[:2000]
    for _runtime, op, kind, fast, slow, _best in out["rows"]:
        say(
            "  %-6s %-6s  %7.1f MB/s  naive %6.2f MB/s  %5.1fx"
            % (op, kind, fast, slow, fast / slow)
        )
    if out.get("error"):
        say("  codec benchmark failed: " + out["error"])
    return out


# --- heap --------------------------------------------------------------------------------------


def run_heap(size, sessions, step, lo, hi):
    import bench_heap

    code = bench_heap.code_heap()
    say(
        "  code: VM %d B, asyncio +%d B, firmware .mpy +%d B (total %d B)"
        % (code["vm"], code["asyncio"], code["firmware"], code["total"])
    )
    data = os.urandom(size)
    boot, boot_tried = bench_heap.bisect_heap("boot", data, lo, hi, step, sessions, say=say)
    full, full_tried = bench_heap.bisect_heap("full", data, lo, hi, step, sessions, say=say)
    say("  smallest heap: boot %s, full %s" % (boot, full))
    return {
        "code": code,
        "boot": boot,
        "full": full,
        "boot_tried": boot_tried,
        "full_tried": full_tried,
        "size": size,
        "sessions": sessions,
        "step": step,
        "lo": lo,
        "hi": hi,
    }


# --- callgrind ---------------------------------------------------------------------------------


def run_callgrind(size, trips, modes):
    import bench_callgrind

    if not bench_callgrind.available():
        say("  valgrind not found: skipped (apt-get install valgrind)")
        return None
    res = bench_callgrind.measure(os.urandom(size), trips, modes, say=say)
    for m in modes:
        say(
            "  DLEMODE %d: %.0f Ir/byte device->peer, %.0f Ir/byte peer->device"
            % (m, bench_callgrind.per_byte(res, m, "up"), bench_callgrind.per_byte(res, m, "down"))
        )
    trip = bench_callgrind.per_trip(res)
    if trip:
        say("  one single-byte round trip: %.0f Ir" % trip)
    return res


# --- mail and FTP services -----------------------------------------------------------------------


def run_services(size, rounds, workdir):
    import bench_services

    return bench_services.run(size, rounds, workdir, say=say)


def run_console(size, rounds, workdir):
    import bench_console

    return bench_console.run(size, rounds, workdir, say=say)


# --- main --------------------------------------------------------------------------------------


def load_json(path):
    with open(path) as f:
        res = json.load(f)
    cg = res.get("callgrind")
    if cg:
        cg["modes"] = {int(k): v for k, v in cg["modes"].items()}
    return res


def main(argv):
    if argv and argv[0] == "codec":
        script = os.path.join(HERE, "bench_codec.py")
        os.execv(sys.executable, [sys.executable, script, *argv[1:]])
    p = argparse.ArgumentParser(
        prog="bench",
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    p.add_argument(
        "report",
        nargs="?",
        choices=["report"],
        help="write the page from the last results (--json) without measuring",
    )
    p.add_argument("--quick", action="store_true", help="smoke run: small payloads, 1 round")
    p.add_argument("--only", help="comma-separated sections (%s)" % ",".join(SECTIONS))
    p.add_argument("--size", type=float, help="throughput payload, MiB (default 8; quick 1)")
    p.add_argument("--rounds", type=int, help="throughput rounds (default 7; quick 1)")
    p.add_argument(
        "--doc",
        help="write the page here (default: docs/benchmarks.md for a "
        "full run of every section, nothing otherwise)",
    )
    p.add_argument("--no-doc", action="store_true", help="write no page")
    p.add_argument(
        "--json",
        help="raw results (default build/benchmarks.json; "
        "build/benchmarks-quick.json for --quick)",
    )
    p.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    args = p.parse_args(argv)

    import bench_report

    if args.json is None:
        args.json = DEFAULT_JSON.replace(".json", "-quick.json") if args.quick else DEFAULT_JSON
    if args.report:
        res = load_json(args.json)
        doc = args.doc or DEFAULT_DOC
        bench_report.write(res, doc)
        say("wrote %s from %s" % (doc, args.json))
        return 0

    only = SECTIONS
    if args.only:
        only = tuple(s.strip() for s in args.only.split(",") if s.strip())
        bad = [s for s in only if s not in SECTIONS]
        if bad:
            p.error("unknown section(s) %s; choose from %s" % (bad, ", ".join(SECTIONS)))
    q = args.quick
    size = int((args.size if args.size else (1 if q else 8)) * MiB)
    rounds = args.rounds or (1 if q else 7)
    if not rig_has("socat") and ("throughput" in only or "latency" in only):
        say("bench: socat is missing (apt-get install socat)")
        return 2

    t0 = time.monotonic()
    res = {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "argv": argv,
        "quick": q,
        "machine": machine(),
    }
    m = res["machine"]
    say(
        "bench: %d CPUs, %s, Linux %s, load %.2f; %s; %s"
        % (m["nproc"], m["cpu"], m["kernel"], m["load_start"], m["micropython"], m["socat"])
    )
    plan = [
        (
            "throughput",
            "throughput: %d MiB per direction, %d round(s)" % (size >> 20, rounds),
            lambda d: run_throughput(size, rounds, d),
        ),
        (
            "latency",
            "latency: 1000 single-byte round trips, TCPTXDELAY 0",
            lambda d: run_latency(1000, 1 if q else 3, d),
        ),
        (
            "codec",
            "codec (tools/bench_codec.py, VM rows)",
            lambda d: run_codec(256 if q else 1024, 3 if q else 5),
        ),
        (
            "heap",
            "heap",
            lambda d: run_heap(size, 20 if q else 200, 16384 if q else 4096, 16384, 512 * 1024),
        ),
        (
            "services",
            "mail and FTP services: %d MiB FTPGET / FTPPUT vs a TCP session; heap" % (size >> 20),
            lambda d: run_services(size, 1 if q else 11, d),
        ),
        (
            "console",
            "web console: %d MiB both ways, polled every second vs off; heap" % (size >> 20),
            lambda d: run_console(size, 1 if q else 11, d),
        ),
        (
            "callgrind",
            "callgrind",
            lambda d: run_callgrind(
                128 * 1024 if q else MiB, 50 if q else 200, (1,) if q else (1, 0)
            ),
        ),
    ]
    res["errors"] = {}
    with rig.tmpdir("bench-") as workdir:
        for name, title, fn in plan:
            if name not in only:
                continue
            say(title)
            try:
                out = fn(workdir)
            except Exception as e:  # one broken section must not lose the others' results
                import traceback

                traceback.print_exc()
                res["errors"][name] = "%s: %s" % (type(e).__name__, e)
                continue
            if out is not None:
                res[name] = out
    res["machine"]["load_end"] = os.getloadavg()[0]
    res["seconds"] = time.monotonic() - t0

    say()
    for name, err in sorted(res["errors"].items()):
        say("the %s section failed: %s" % (name, err))
    say("summary (%.0f s):" % res["seconds"])
    lines = bench_report.summary(res)
    for name, measured, ok in lines:
        say(
            "  %-62s %-50s %s" % (name, measured, "" if ok is None else ("PASS" if ok else "FAIL"))
        )
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w") as f:
            json.dump(res, f, indent=1)
        say("raw results: %s" % args.json)
    doc = args.doc
    if doc is None and not args.no_doc and not q and set(only) == set(SECTIONS):
        doc = DEFAULT_DOC
    if doc and not args.no_doc:
        bench_report.write(res, doc)
        say("wrote %s" % doc)
    if res["errors"]:
        return 2
    if args.check and any(ok is False for _, _, ok in lines):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
