# Entry point of the host board, run by the MicroPython unix port (started by tools/modem.py;
# arguments in app.py). Two lines, as on the ESP32: a script is compiled in the VM's own heap at
# every start, while app.py comes compiled (.mpy) with the firmware.
import app

app.main()
