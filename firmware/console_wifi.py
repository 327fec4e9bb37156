"""The console's WiFi page (loaded when it is asked for): scan and join where the board's
network offers them (`net.scan()`, `net.join(ssid, password)`: boards/esp32/wifi.py), else the
WIFISSID / WIFIPW settings alone, through AT's path like any parameter.

A scan or a join runs as a task of its own (a join may take the board's whole join timeout,
longer than a request may last); the page shows it running, then its result. What they found
lives on the Console (`con.wifi`), so it outlives this module being forgotten.
"""

import asyncio

import console_view as view
from console_change import REASONS, result, store
from errors import E_BUSY

MAX_NETWORKS = 20  # shown from a scan, strongest first


class Wifi:
    def __init__(self, modem):
        self.modem = modem
        self.task = None
        self.doing = ""  # "scanning" / "joining NAME" while the task runs
        self.networks = None  # the last scan's result
        self.result = None  # (kind, text) of the last scan or join

    def busy(self):
        return self.task is not None

    def start(self, doing, coro):
        self.doing = doing
        self.result = None
        self.task = asyncio.create_task(self.run(coro))

    async def run(self, coro):
        try:
            await coro
        except Exception as e:  # the board's scan or join failed (or refused): say why
            self.result = ("err", "%s failed: %s" % (self.doing, e or type(e).__name__))
        finally:
            self.task = None
            self.doing = ""

    async def scan(self):
        found = await self.modem.net.scan()
        found = sorted(found, key=lambda n: -n.get("rssi", -999))[:MAX_NETWORKS]
        self.networks = found
        self.result = ("ok", "%d networks found" % len(found))

    async def join(self, ssid, password):
        ok, detail = await self.modem.net.join(ssid, password)
        self.result = ("ok" if ok else "err", "Join %s: %s" % (ssid, detail))
        self.modem.log("console: WiFi join %s: %s" % (ssid, "ok" if ok else "failed"))


def state(con):
    if con.wifi is None:
        con.wifi = Wifi(con.modem)
    return con.wifi


def can_scan(net):
    return hasattr(net, "scan") and hasattr(net, "join")


def body(con, csrf):
    modem = con.modem
    net = modem.net
    wifi = state(con)
    st = modem.settings
    ap = net.setup_ap() if hasattr(net, "setup_ap") else None
    if ap:
        yield view.message("The set-up access point %s is on (%s)." % (ap["ssid"], ap["why"]))
    yield "<table><tr><th>Network</th><td>%s</td></tr>" % view.esc(
        st.get("WIFISSID") or "(none set)"
    )
    yield "<tr><th>Password</th><td>%s</td></tr>" % ("set" if st.get("WIFIPW") else "not set")
    yield "<tr><th>Link</th><td>%s</td></tr></table>" % view.esc(net.state())
    if wifi.result:
        yield view.message(wifi.result[1], wifi.result[0])
    if not can_scan(net):
        yield view.message(
            "Scanning and joining are not available on this board (its network is the "
            "host's); the settings below are stored for a board that has WiFi."
        )
        yield '<form method="post" action="/wifi">%s<table>' % view.csrf_field(csrf)
        yield '<tr><th>#WIFISSID</th><td><input name="ssid" value="%s"></td></tr>' % (
            view.esc(st.get("WIFISSID"))
        )
        yield (
            '<tr><th>#WIFIPW</th><td><input type="password" name="password" '
            'autocomplete="new-password" placeholder="empty: unchanged"></td></tr>'
        )
        yield "</table><button>Save</button></form>"
        return
    if wifi.busy():
        yield '<meta http-equiv="refresh" content="2">'
        yield view.message("%s ..." % wifi.doing)
        return
    yield '<form method="post" action="/wifi/scan">%s<button>Scan</button></form>' % (
        view.csrf_field(csrf)
    )
    yield '<form method="post" action="/wifi/join">%s<table>' % view.csrf_field(csrf)
    for i, n in enumerate(wifi.networks or ()):
        secure = ", secured" if n.get("secure") else ""
        yield (
            '<tr><td><label><input type="radio" name="pick" value="%d"> %s</label></td>'
            "<td>%d dBm%s</td></tr>" % (i, view.esc(n["ssid"]), n.get("rssi", 0), secure)
        )
    yield (
        '<tr><th>or by name</th><td><input name="ssid"></td></tr><tr><th>Password</th><td>'
        '<input type="password" name="password" autocomplete="new-password"></td></tr>'
    )
    yield "</table><button>Join</button></form>"


def page(con, request):
    return view.show("WiFi", "/wifi", body(con, request.g.session.csrf), request)


def save(con, request):
    """A board without scanning: WIFISSID and WIFIPW as AT#WIFISSID / AT#WIFIPW set them."""
    modem = con.modem
    fields = request.g.form
    s = request.g.session
    ssid = fields.get("ssid", "")
    if ssid != modem.settings.get("WIFISSID"):
        s.say(result(modem, "#WIFISSID", store(modem, "WIFISSID", ssid), False))
    if fields.get("password"):
        s.say(result(modem, "#WIFIPW", store(modem, "WIFIPW", fields.get("password")), True))
    return view.see_other("/wifi")


def scan(con, request):
    wifi = state(con)
    if can_scan(con.modem.net) and not wifi.busy():
        wifi.start("scanning", wifi.scan())
    return view.see_other("/wifi")


def join(con, request):
    modem = con.modem
    wifi = state(con)
    fields = request.g.form
    s = request.g.session
    if not can_scan(modem.net) or wifi.busy():
        return view.see_other("/wifi")
    if modem.busy():  # a join takes the link a session may be using
        s.say(("err", "Join: %s" % REASONS[E_BUSY]))
        return view.see_other("/wifi")
    ssid = fields.get("ssid", "")
    pick = fields.get("pick")
    if not ssid and pick is not None and wifi.networks:
        try:
            ssid = wifi.networks[int(pick)]["ssid"]
        except (ValueError, IndexError):
            ssid = ""
    if not ssid:
        s.say(("err", "Join: choose a network or type its name"))
        return view.see_other("/wifi")
    wifi.start("joining %s" % ssid, wifi.join(ssid, fields.get("password", "")))
    return view.see_other("/wifi")
