# Freeze the modem firmware into a custom MicroPython build (frozen bytecode runs from flash and
# saves RAM). From a MicroPython checkout with the ESP-IDF set up:
#   cd ports/esp32
#   make BOARD=ESP32_GENERIC FROZEN_MANIFEST=/path/to/this/checkout/manifest.py
# flash that build, then install the three source files only:
#   python tools/deploy.py PORT --frozen
# boot.py, main.py and board_config.py are never frozen: a frozen main.py cannot be overridden
# from the filesystem (notes 1.1) and board_config.py is the file users edit.
import os

include("$(PORT_DIR)/boards/manifest.py")  # the stock ESP32 set (asyncio, network tools, ...)

metadata(version="0.1.0", description="Multi-Tech AT# GPRS modem replacement for the ESP32")

_SOURCE_ONLY = ("boot.py", "main.py", "board_config.py")
for _dir in ("firmware", "boards/esp32"):  # paths are relative to this file
    for _name in sorted(os.listdir(_dir)):
        if _name.endswith(".py") and _name not in _SOURCE_ONLY:
            module(_name, base_path=_dir)

# The web console's framework: the installed microdot package (pip, pinned in
# requirements-dev.txt; tools/deploy.py copies the same files), found from the Python that runs
# the build (the project's venv), or from MICRODOT_DIR (the folder holding microdot/).
_microdot = os.environ.get("MICRODOT_DIR")
if not _microdot:
    import importlib.util

    _spec = importlib.util.find_spec("microdot")
    if _spec is None:
        raise SystemExit("manifest.py: microdot not found: pip install microdot==2.7.0")
    _microdot = os.path.dirname(list(_spec.submodule_search_locations)[0])
package("microdot", files=("__init__.py", "microdot.py", "helpers.py"), base_path=_microdot)
