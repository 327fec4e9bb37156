#!/usr/bin/env python3
"""The README's picture of the web console: the status page during a live TCP session.

    .venv/bin/python tools/console_screenshot.py [--out docs/console-status.png]

The firmware runs on the MicroPython VM (tools/modem.py --mpy --console PORT), dials a server
of this script on 127.0.0.1 (AT#OTCP) and moves bytes both ways; Debian's headless chromium
(Playwright) logs in and takes the picture once the page shows them. Loopback only.
"""

import argparse
import os
import socket
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "host_tests"))

import bench_rig as rig  # noqa: E402
from console_client import CHROMIUM, CHROMIUM_FLAGS  # noqa: E402

PASSWORD = "screenshot-only"
TO_DEVICE = 48213
TO_PEER = 12345


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.path.join(rig.ROOT, "docs", "console-status.png"))
    args = p.parse_args(argv)
    from playwright.sync_api import sync_playwright

    port = free_port()
    peer = rig.Peer()
    with rig.tmpdir("console-shot-") as workdir:
        fw = rig.Firmware(workdir, args=["--console", str(port)]).start()
        try:
            fw.command('AT#CONSOLEPW="%s"' % PASSWORD)
            fd, conn = fw.open_session(peer, 1, 100)
            conn.sendall(b"r" * TO_DEVICE)
            got = 0
            while got < TO_DEVICE:
                got += len(os.read(fd, 65536))
            os.write(fd, b"w" * TO_PEER)
            got = 0
            while got < TO_PEER:
                got += len(conn.recv(65536))
            with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
                ctx = pw.chromium.launch_persistent_context(
                    profile,
                    executable_path=CHROMIUM,
                    args=CHROMIUM_FLAGS,
                    headless=True,
                    viewport={"width": 820, "height": 560},
                )
                page = ctx.new_page()
                page.goto("http://127.0.0.1:%d/login" % port)
                page.fill("input[name=password]", PASSWORD)
                page.click("button")
                want = "%d B to the device, %d B to the peer" % (TO_DEVICE, TO_PEER)
                page.wait_for_function(
                    "document.getElementById('session').textContent.indexOf(%r) > 0" % want
                )
                page.goto("http://127.0.0.1:%d/status" % port)  # (without the login message)
                time.sleep(3.2)  # a few seconds into the session, the page refreshed live
                page.wait_for_function("document.getElementById('live').textContent != ''")
                page.screenshot(path=args.out)
                ctx.close()
            fw.close_session(conn)
        finally:
            fw.stop()
            peer.close()
    print("wrote %s" % args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
