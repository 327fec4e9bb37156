# Safe mode: the modem is not started and the REPL stays free (for mpremote and repairs).
#
# Entered when the flag file exists (`mpremote fs touch :/safemode`) or the safe-mode pin is held
# low (GPIO0 = the BOOT button on a DevKit). boot.py calls decide() on every reset; app.main()
# keeps watching the pin for a short window before it starts the modem. `reason` stays set for
# the rest of the session (the module lives in sys.modules until the next soft reset).

import os

reason = None


def check(pin_no, flag):
    """Why the board should stay in safe mode, or None."""
    try:
        os.stat(flag)
        return "flag file %s exists" % flag
    except OSError:
        pass
    if pin_no is not None:
        from machine import Pin

        if Pin(pin_no, Pin.IN, Pin.PULL_UP).value() == 0:
            return "pin %d held low" % pin_no
    return None


def decide(cfg):
    """boot.py: look once, announce on the REPL when safe."""
    global reason
    reason = check(cfg.SAFE_MODE_PIN, cfg.SAFE_MODE_FLAG)
    if reason:
        print("safe mode (%s): modem not started, REPL free" % reason)
    return reason


def watch(cfg, sleep_ms, window_ms):
    """app.main(): keep looking for window_ms (a button press right after reset counts)."""
    global reason
    waited = 0
    while reason is None:
        reason = check(cfg.SAFE_MODE_PIN, cfg.SAFE_MODE_FLAG)
        if reason is not None or waited >= window_ms:
            break
        sleep_ms(50)
        waited += 50
    return reason
