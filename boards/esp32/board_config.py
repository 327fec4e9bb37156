# board_config.py: the one file a user edits to describe the board and its wiring.
#
# Defaults: ESP32 DevKit (WROOM-32) on UART2, a MAX3232 between the ESP32 (3.3 V TTL) and the
# legacy device's RS-232 port. Pins are GPIO numbers; None means "not wired". The modem never
# uses UART0 (GPIO1/3): that is the REPL that mpremote needs. See docs/esp32.md for the wiring.
# (WROVER modules use GPIO16/17 for PSRAM: pick other TX/RX pins there.)

# --- modem UART ---------------------------------------------------------------------------------
UART_ID = 2
BAUD = 115200  # power-on rate; AT+IPR changes it at run time
TX_PIN = 17  # ESP32 TX -> MAX3232 T1IN; T1OUT -> DB9 pin 2 (RXD at the DTE)
RX_PIN = 16  # ESP32 RX <- MAX3232 R1OUT; R1IN <- DB9 pin 3 (TXD from the DTE)
RTS_PIN = 18  # ESP32 RTS out -> T2IN; T2OUT -> DB9 pin 8 (the DTE's CTS). None: not wired
CTS_PIN = 19  # ESP32 CTS in <- R2OUT; R2IN <- DB9 pin 7 (the DTE's RTS). None: not wired
# Hardware flow control at power-on (the Multi-Tech default is RTS/CTS); AT+IFC / AT&K change it.
FLOW_RTS = True  # we deassert RTS (the DTE's CTS) when our RX FIFO is nearly full
FLOW_CTS = True  # we stop sending while the DTE holds its RTS (our CTS) off

# Ring buffers in the ESP-IDF heap (shared with WiFi/lwIP). Rule (notes 2.7):
# rxbuf >= baud/10 * worst loop stall: 115200 baud * 0.35 s ~= 4 KB. TX writes are bounded to
# about txbuf/2 per drain (boards/esp32/uart.py), so 2 KB keeps a 115200 line busy.
RXBUF = 4096
TXBUF = 2048

# --- optional modem-control lines (need extra MAX3232 channels or a MAX3243) ---------------------
DCD_PIN = None  # output: on while a TCP session is open (AT&C1)
DSR_PIN = None  # output: on while the modem application runs
RI_PIN = None  # output: pulsed on an incoming connection in listening mode
DTR_PIN = None  # input: a drop closes the session (AT&D2)
# RS-232 transceivers invert: an asserted RS-232 line is a low TTL level.
CONTROL_ACTIVE_LOW = True

# --- safe mode and watchdog ----------------------------------------------------------------------
# Safe mode skips the modem and leaves the REPL free: hold this pin low while the board starts
# (GPIO0 = the BOOT button: press it right after releasing EN), or create the file below.
SAFE_MODE_PIN = 0
SAFE_MODE_FLAG = "/safemode"
SAFE_MODE_WINDOW_MS = 1000  # how long app.py keeps watching the pin before starting the modem
# machine.WDT timeout, fed by a health task; 0 disables it. Long enough for a GC or a flash
# write; after Ctrl-C (mpremote) it is stretched to WDT_MAINTENANCE_MS so file copies finish.
WDT_TIMEOUT_MS = 60000
WDT_MAINTENANCE_MS = 3600000

# --- WiFi (the bearer) ---------------------------------------------------------------------------
# SSID and password are modem settings (AT#WIFISSID / AT#WIFIPW, or tools/deploy.py --wifi-*).
WIFI_JOIN_TIMEOUT_MS = 15000  # AT#CONNECTIONSTART gives up after this long
WIFI_FAIL_CONFIRM_MS = 3000  # a wrong password / missing AP must persist this long to fail early

# --- web console and the set-up access point (docs/esp32.md) -----------------------------------
# The console (firmware/console.py) serves HTTP on this port, on WiFi and on the set-up AP;
# AT#CONSOLE=0 switches it off, and with it the set-up AP.
CONSOLE_PORT = 80
# The set-up access point "MTIP-SETUP-xxxx" (xxxx: the end of the chip's MAC) opens, with the
# console and a DNS that sends every name to it, when no WiFi is configured, when the configured
# one has not been joined for SETUP_AP_AFTER_MS (0: never for this reason), or when SETUP_PIN
# is held low at boot. It closes once WiFi has worked for SETUP_AP_LINGER_MS (and, when the pin
# opened it, not before SETUP_PIN_HOLD_MS). SETUP_AP = False: never.
SETUP_AP = True
SETUP_AP_AFTER_MS = 180000
SETUP_AP_LINGER_MS = 30000
# A push button to GND on a free GPIO (e.g. 4), held while the board starts. Not SAFE_MODE_PIN:
# safe mode starts nothing at all, so the same pin would only ever mean safe mode.
SETUP_PIN = None
SETUP_PIN_HOLD_MS = 600000
# WPA2 password: None = a random one made on first use, kept in STATE_DIR/setup_ap.key and
# printed on the REPL at every boot (write it on the box); "8..63 printable characters" = that
# one; "" = an open network (anyone nearby then sees the console's traffic: not recommended).
SETUP_AP_PASSWORD = None
SETUP_AP_IP = "192.168.4.1"  # the AP's address; pick another if the plant's WiFi uses 192.168.4.x
SETUP_RETRY_MS = 60000  # while the AP is open, a failing join is tried again this often

# --- storage and logs ----------------------------------------------------------------------------
STATE_DIR = "/state"  # settings file lives here (littlefs; atomic tmp+rename writes)
LOG_LINES = 40  # RAM log ring (REPL + AT command), never written to the modem UART
