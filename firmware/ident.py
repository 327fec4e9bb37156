"""What the modem says it is: ATI, AT+GMM, AT+GMR, AT#VVERSION, the first line of AT#VALL."""

VERSION = "1.1.0"
MODEL = "MULTIBAND  G850  1900"  # what OpenDMTP's GPRS transport expects from AT+GMM
IDENT = "MTIP-ESP32 WiFi modem, Multi-Tech AT# dialect"
STACK_ID = "mtip-esp32-V" + VERSION  # first line of AT#VALL, like "eDsoft-W302-V03.00"
VERSION_LINE = '#VERSION: "mtip-esp32_V%s 0 Dec 01 2026 00:00:00"' % VERSION
