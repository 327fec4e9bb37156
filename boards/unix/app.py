# app.py: the host board's application (boards/unix/main.py calls main()): arguments, the data
# path's buffers, the pty UART and the host's network, then the modem engine.
#
#   MICROPYPATH=firmware:boards/unix:.frozen \
#       micropython boards/unix/main.py --fd N --state DIR [--ip A.B.C.D] [--faults H:P] \
#       [--chunk N] [--console PORT]
#
# N is an inherited pty master fd (O_NONBLOCK).  Prints `ready` once the engine is built.
# --faults (tests only) wraps the network in boards/unix/faults.py, steered over loopback UDP.
# --console serves the web console (firmware/console.py) on 127.0.0.1:PORT while AT#CONSOLE=1.

import sys

import asyncio

# Bytes the data path moves per read: a host has RAM to spare, and a pty or socket hands over
# up to several KiB at a time (the ESP32 board uses less).
CHUNK = 8192


def _usage(msg):
    sys.stderr.write(
        "main.py: %s\nusage: main.py --fd N --state DIR [--ip A.B.C.D] [--faults H:P]"
        " [--chunk N] [--console PORT]\n" % msg
    )
    sys.exit(2)


def _args(argv):
    opts = {
        "--fd": None,
        "--state": None,
        "--ip": "127.0.0.1",
        "--faults": None,
        "--chunk": None,
        "--console": None,
    }
    i = 0
    while i < len(argv):
        key = argv[i]
        if key not in opts or i + 1 >= len(argv):
            _usage("bad argument %r" % key)
        opts[key] = argv[i + 1]
        i += 2
    if opts["--fd"] is None or opts["--state"] is None:
        _usage("--fd and --state are required")
    try:
        fd = int(opts["--fd"])
    except ValueError:
        _usage("--fd must be a number")
    chunk = CHUNK
    if opts["--chunk"] is not None:
        try:
            chunk = int(opts["--chunk"])
        except ValueError:
            _usage("--chunk must be a number")
    console = None
    if opts["--console"] is not None:
        try:
            console = int(opts["--console"])
        except ValueError:
            _usage("--console must be a port number")
    return fd, opts["--state"], opts["--ip"], opts["--faults"], chunk, console


def _ensure_path():
    # MICROPYPATH normally lists firmware/ and boards/unix/; fall back to paths next to this file.
    here = __file__.rpartition("/")[0] or "."
    for p in (here, here + "/../../firmware"):
        if p not in sys.path:
            sys.path.append(p)


def main():
    fd, state_dir, ip, faults_at, chunk, console_port = _args(sys.argv[1:])
    _ensure_path()
    import databuf

    # The data path's buffers first, while the heap is still in one piece (see databuf.py).
    try:
        buffers = databuf.Buffers(chunk)
    except ValueError as e:
        _usage("--chunk: %s" % e)
    import os

    if os.getenv("MTIP_DLE_BYTE_STORES"):  # the ESP32's DLE kernels (tools/bench_callgrind.py)
        import dle_native

        dle_native.WORD_STORES = False
    import preload

    preload.preload(("board",))
    import board
    import modem

    uart = board.pty_uart(fd)
    net = board.HostNet(ip)
    if faults_at:
        import faults

        net = faults.FaultyNet(net, faults_at)
    hooks = board.Board()
    m = modem.Modem(uart, net, state_dir, hooks, buffers)
    silence = os.getenv("MTIP_SERVER_SILENCE_MS")  # tests: a mail or FTP server's 3 minutes
    if silence:
        m.silence_ms = int(silence)
    print("ready")
    try:
        sys.stdout.flush()
    except AttributeError:
        pass
    engine = faults.run(net, m.run()) if faults_at else m.run()
    asyncio.run(engine if console_port is None else _with_console(m, console_port, engine))


async def _with_console(m, port, engine):
    # Loaded only while AT#CONSOLE=1: a module's code is loaded into the heap.
    if m.settings.get("CONSOLE") != 1:
        m.log("console: off (AT#CONSOLE=0)")
    else:
        import console

        try:
            await console.start(m, "127.0.0.1", port)  # loopback only: no set-up AP here
        except OSError as e:
            m.log("console: cannot listen on 127.0.0.1:%d: %r" % (port, e))
    await engine
