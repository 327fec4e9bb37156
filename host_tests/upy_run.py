# Runs the dual-runtime tests (host_tests/dual/test_*.py) under MicroPython:
#
#     MICROPYPATH=firmware:host_tests/dual:.frozen micropython -X heapsize=16M \
#         host_tests/upy_run.py [FILTER...]
#
# (from the repo root; tools/dev.py test and host_tests/test_vm_suite.py do exactly this).
# Imports every test module, calls each `test_*` function in sorted order (MicroPython dicts are
# not ordered), prints failures with their traceback, and ends with the line
# "N passed, M failed". Exit status 1 when anything failed or nothing ran.
# FILTER: only run tests whose "module.test_name" contains one of the given substrings.
# This file runs on MicroPython only: no pytest, no unittest, plain asserts.
import gc
import os
import sys

_here = __file__.rpartition("/")[0] or "."
DUAL = _here + "/dual"
# The VM puts this script's folder (host_tests/) first on sys.path; drop it, so its CPython-only
# helpers (such as the hardware fakes package) cannot shadow the dual tests' own modules.
if sys.path and sys.path[0].rstrip("/").endswith("host_tests"):
    sys.path.pop(0)
# Also find the modules when started without MICROPYPATH (by hand, from the repo root).
for _p in (DUAL, _here + "/../firmware"):
    if _p not in sys.path:
        sys.path.insert(1, _p)


def _fail(name, exc):
    print("FAIL " + name)
    sys.print_exception(exc)


def main(filters):
    passed = failed = 0
    files = sorted(f for f in os.listdir(DUAL) if f.startswith("test_") and f.endswith(".py"))
    for fname in files:
        modname = fname[:-3]
        try:
            mod = __import__(modname)
        except Exception as e:  # a broken module counts as one failed test
            failed += 1
            _fail(modname + " (import)", e)
            continue
        for attr in sorted(dir(mod)):
            name = modname + "." + attr
            func = getattr(mod, attr)
            if not attr.startswith("test_") or not callable(func):
                continue
            if filters and not any(f in name for f in filters):
                continue
            try:
                result = func()
                # An `async def` test returns a coroutine without running: not a pass.
                if result is not None:
                    raise AssertionError(
                        "test returned %r; wrap async code in asyncio.run()" % (result,)
                    )
                passed += 1
            except Exception as e:
                failed += 1
                _fail(name, e)
            gc.collect()
        # Done with this file: its code goes back to the heap (every file is compiled from
        # source into it; the callers give the VM a 16 MB heap, as interned strings pepper it).
        del mod
        sys.modules.pop(modname, None)
        gc.collect()
    print("%d passed, %d failed" % (passed, failed))
    return 1 if failed or not passed else 0


sys.exit(main(sys.argv[1:]))
