# boot.py: runs on every reset, soft ones too (mpremote's included). Tiny and non-blocking:
# it only decides safe mode; main.py starts the modem (notes 1.1).
try:
    import board_config
    import safemode

    safemode.decide(board_config)
except Exception as e:  # an exception here would also skip main.py: report it, go on
    print("boot.py:", repr(e))
