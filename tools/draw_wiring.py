#!/usr/bin/env python3
"""Draw docs/wiring.png: ESP32 DevKit -> MAX3232 -> DB9 (the legacy device's RS-232 port).

    python tools/draw_wiring.py [--out docs/wiring.png]

Pin numbers come from boards/esp32/board_config.py, so the picture follows the defaults.
Needs matplotlib (in the project's venv).
"""

import argparse
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def board_config():
    scope = {}
    path = os.path.join(ROOT, "boards", "esp32", "board_config.py")
    exec(compile(open(path).read(), path, "exec"), scope)
    return scope


def box(ax, x, y, w, h, title, color):
    ax.add_patch(
        FancyBboxPatch((x, y), w, h, boxstyle="round,pad=0.02", fc=color, ec="#333", lw=1.5)
    )
    ax.text(
        x + w / 2, y + h + 0.25, title, ha="center", va="bottom", fontsize=12, fontweight="bold"
    )


def pin(ax, x, y, label, side):
    ax.plot([x], [y], "o", color="#222", ms=5, zorder=5)
    dx, ha = (-0.15, "right") if side == "left" else (0.15, "left")
    ax.text(x + dx, y, label, ha=ha, va="center", fontsize=9, family="monospace")


def wire(ax, x0, y0, x1, y1, color, style="-"):
    xm = (x0 + x1) / 2
    ax.plot([x0, xm, xm, x1], [y0, y0, y1, y1], style, color=color, lw=2.2, zorder=3)


def draw(out):
    c = board_config()
    fig, ax = plt.subplots(figsize=(13, 7.2))
    ax.set_xlim(0, 13)
    ax.set_ylim(-0.6, 8.2)
    ax.axis("off")

    box(ax, 0.4, 0.6, 2.8, 6.4, "ESP32 DevKit (UART%d)" % c["UART_ID"], "#dce9f7")
    box(ax, 5.0, 0.6, 2.6, 6.4, "MAX3232 module", "#e8f3e0")
    box(ax, 9.6, 0.6, 2.4, 6.4, "DB9 to the legacy device", "#f7e6d7")

    rows = [  # (y, ESP32 pin, MAX3232 TTL side, MAX3232 RS-232 side, DB9, color, wired?)
        (6.2, "GPIO%s TX" % c["TX_PIN"], "T1IN", "T1OUT", "2 RXD", "#1f77b4", True),
        (5.4, "GPIO%s RX" % c["RX_PIN"], "R1OUT", "R1IN", "3 TXD", "#2ca02c", True),
        (
            4.6,
            "GPIO%s RTS" % c["RTS_PIN"],
            "T2IN",
            "T2OUT",
            "8 CTS",
            "#9467bd",
            c["RTS_PIN"] is not None,
        ),
        (
            3.8,
            "GPIO%s CTS" % c["CTS_PIN"],
            "R2OUT",
            "R2IN",
            "7 RTS",
            "#d62728",
            c["CTS_PIN"] is not None,
        ),
        (2.6, "3V3", "VCC", "", "", "#ff7f0e", True),
        (1.4, "GND", "GND", "GND", "5 GND", "#444444", True),
    ]
    for y, esp, ttl, rs, db9, color, wired in rows:
        pin(ax, 3.2, y, esp, "left")
        pin(ax, 5.0, y, ttl, "right")
        wire(ax, 3.2, y, 5.0, y, color, "-" if wired else ":")
        if rs:
            pin(ax, 7.6, y, rs, "left")
        if db9:
            pin(ax, 9.6, y, db9, "right")
            wire(ax, 7.6, y, 9.6, y, color, "-" if wired else ":")
    ax.annotate(
        "", xy=(4.4, 6.45), xytext=(3.6, 6.45), arrowprops=dict(arrowstyle="->", color="#1f77b4")
    )
    ax.annotate(
        "", xy=(3.6, 5.65), xytext=(4.4, 5.65), arrowprops=dict(arrowstyle="->", color="#2ca02c")
    )

    notes = [
        "3.3 V logic: power the MAX3232 from 3V3, never 5 V. Its charge-pump capacitors "
        "(4 x 0.1 uF) are on the module.",
        "DB9 as a DCE (modem) port: the device's TXD (pin 3) arrives on our RX; our TX goes to "
        "its RXD (pin 2).",
        "RTS/CTS: our RTS output drives the device's CTS (pin 8); its RTS (pin 7) is our CTS "
        "input. AT+IFC / AT&K switch flow control.",
        "Optional DCD (1), DSR (6), RI (9) outputs and DTR (4) input need more channels "
        "(a second MAX3232 or a MAX3243); set their pins in board_config.py.",
        "UART0 (GPIO1/3, the USB port) stays the REPL for mpremote; the modem never uses it.",
    ]
    for i, text in enumerate(notes):
        ax.text(0.4, 0.25 - i * 0.22, "- " + text, fontsize=8.5, va="top")
    ax.set_ylim(-1.0, 8.2)
    fig.suptitle("Wiring: ESP32 modem replacement (board_config.py defaults)", fontsize=14)
    fig.savefig(out, dpi=110, bbox_inches="tight")
    plt.close(fig)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.path.join(ROOT, "docs", "wiring.png"))
    args = p.parse_args(argv)
    draw(args.out)
    print("wrote %s" % args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
