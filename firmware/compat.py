"""Shims so the pure modules run unchanged on CPython and MicroPython."""

try:
    from micropython import const
except ImportError:  # CPython

    def const(x):  # type: ignore[no-redef]
        return x


try:
    from time import ticks_diff, ticks_ms  # type: ignore[attr-defined]
except ImportError:  # CPython
    import time as _time

    def ticks_ms():  # type: ignore[misc]
        return int(_time.monotonic() * 1000)

    def ticks_diff(a, b):  # type: ignore[misc]
        return a - b


__all__ = ["const", "ticks_diff", "ticks_ms"]
