"""The console's HTML: the page frame, escaping, the status (as JSON and as text), the style
sheet and the script. Pages are generators of small strings, written as they are made, so a
page never sits in the heap in one piece."""

import gc

import ident
from compat import ticks_diff, ticks_ms

NAV = (
    ("/status", "Status"),
    ("/settings", "Settings"),
    ("/log", "Log"),
    ("/wifi", "WiFi"),
    ("/restart", "Restart"),
)
HTML = {"Content-Type": "text/html; charset=UTF-8"}

CSS = """body{font:15px/1.45 system-ui,sans-serif;margin:0;color:#1d232b;background:#f3f5f8}
header{background:#1f3a5f;color:#fff;padding:.5em 1em;display:flex;flex-wrap:wrap;gap:.4em 1.2em;
align-items:center}header b{margin-right:1em}header a{color:#dfe9f5;text-decoration:none}
header a.on{color:#fff;border-bottom:2px solid #fff}header form{margin:0 0 0 auto}
main{padding:1em;max-width:62em}h1{font-size:1.3em;margin:.2em 0 .6em}
table{border-collapse:collapse;width:100%;background:#fff;margin-bottom:1em}
td,th{border-bottom:1px solid #e1e5ea;padding:.4em .6em;text-align:left;vertical-align:top}
th{width:13em;font-weight:600}.msg{border:1px solid #d9c36a;background:#fff8d8;padding:.5em .8em;
margin:.4em 0}.ok{background:#e6f5e6;border-color:#8c8}.err{background:#fbe4e4;border-color:#d88}
input,textarea,select{font:inherit;padding:.25em;max-width:100%;box-sizing:border-box}
td input,td textarea{width:100%}td input[type=checkbox]{width:auto}
button{font:inherit;padding:.3em 1em;cursor:pointer}
pre{background:#fff;padding:.6em;overflow:auto;border:1px solid #dde}
fieldset{background:#fff;border:1px solid #cfd5dc;margin:0 0 1em}legend{font-weight:600}
small{color:#667}#live{font-size:.8em;color:#5a5}
"""

# The status page refreshes itself once a second; a settings form sends only the fields that
# were changed (the server skips unchanged values anyway, for a browser without scripts).
JS = """(function(){var $=function(i){return document.getElementById(i)};
if($('status')){var tick=function(){fetch('/api/status',{cache:'no-store'}).then(function(r){
if(r.status==401){location.href='/login';return null}return r.json()}).then(function(s){
if(!s)return;for(var k in s.show){var e=$(k);if(e)e.textContent=s.show[k]}
$('live').textContent='live '+new Date().toLocaleTimeString()}).catch(function(){
$('live').textContent='no answer from the modem'})};setInterval(tick,1000);tick()}
var fs=document.querySelectorAll('form.params');for(var i=0;i<fs.length;i++){
fs[i].addEventListener('submit',function(){var el=this.querySelectorAll('[data-v]');
for(var j=0;j<el.length;j++){if(el[j].value===el[j].getAttribute('data-v'))el[j].disabled=true}
})}})();
"""


def esc(text):
    text = str(text)
    for a, b in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("'", "&#39;")):
        if a in text:
            text = text.replace(a, b)
    return text


def page(title, here, body, session=None, flash=()):
    """The frame around `body` (an iterable of strings); `session`: a logged-in user's, for
    the navigation and the log-out button."""
    yield '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
    yield '<meta name="viewport" content="width=device-width,initial-scale=1">'
    yield '<title>%s - modem console</title><link rel="stylesheet" href="/console.css">' % esc(
        title
    )
    yield "</head><body><header><b>mtip-esp32 modem</b>"
    if session is not None:
        for href, name in NAV:
            yield '<a href="%s"%s>%s</a>' % (href, ' class="on"' if href == here else "", name)
        yield '<form method="post" action="/logout">%s<button>Log out</button></form>' % (
            csrf_field(session.csrf)
        )
    yield "</header><main><h1>%s</h1>" % esc(title)
    for kind, text in flash:
        yield '<div class="msg %s">%s</div>' % (kind, esc(text))
    for part in body:
        yield part
    yield '</main><script src="/console.js"></script></body></html>'


def csrf_field(token):
    return '<input type="hidden" name="csrf" value="%s">' % token


def message(text, kind="msg"):
    return '<div class="msg %s">%s</div>' % (kind, esc(text))


# -- status ------------------------------------------------------------------------------------
ROWS = (
    ("bearer", "Bearer"),
    ("rssi", "Signal"),
    ("session", "Session"),
    ("port", "Listening port"),
    ("refused", "Refused callers"),
    ("last_end", "Last close"),
    ("setup_ap", "Set-up access point"),
    ("uptime", "Uptime"),
    ("heap", "Free heap"),
    ("version", "Firmware"),
)


def duration(ms):
    s = ms // 1000
    if s < 60:
        return "%d s" % s
    if s < 3600:
        return "%d min %d s" % (s // 60, s % 60)
    if s < 86400:
        return "%d h %d min" % (s // 3600, s % 3600 // 60)
    return "%d d %d h" % (s // 86400, s % 86400 // 3600)


def status(modem):
    """What the status page shows, as plain data (the JSON the page polls)."""
    now = ticks_ms()
    net = modem.net
    up = net.is_up()
    d = {
        "bearer": {"state": net.state(), "up": up, "ip": net.ip()},
        "rssi": net.rssi() if up and hasattr(net, "rssi") else None,
        "session": None,
        "service": modem.service,
        "listening": None,
        "refused": modem.refused,
        "last_refused": "",
        "last_end": None,
        "uptime_ms": modem.uptime_ms(),
        "heap_free": gc.mem_free() if hasattr(gc, "mem_free") else None,
        "version": ident.VERSION,
        "setup_ap": net.setup_ap() if hasattr(net, "setup_ap") else False,  # (False: no AP)
    }
    s = modem.session
    if s is not None:
        d["session"] = {
            "kind": s.kind,
            "peer": s.peer,
            "to_device": s.to_device,
            "to_peer": s.to_peer,
            "age_ms": ticks_diff(now, s.opened),
        }
    lis = modem.listener
    if lis is not None:
        d["listening"] = {"port": lis.port, "profile": lis.profile, "refused": lis.refused}
        d["refused"] += lis.refused
        d["last_refused"] = lis.last_refused
    if modem.last_end is not None:
        kind, why, at = modem.last_end
        d["last_end"] = {"kind": kind, "why": why, "ago_ms": ticks_diff(now, at)}
    return d


def status_text(d):
    """The same as one line of text per row (the page and its script show these)."""
    b = d["bearer"]
    show = {"bearer": "%s, IP %s" % (b["state"], b["ip"]) if b["up"] else b["state"]}
    if d["rssi"] is not None:
        show["rssi"] = "%d dBm" % d["rssi"]
    else:
        show["rssi"] = "not known on this board" if b["up"] else "-"
    s = d["session"]
    if s is not None:
        show["session"] = "%s with %s for %s: %d B to the device, %d B to the peer" % (
            s["kind"].upper(),
            s["peer"],
            duration(s["age_ms"]),
            s["to_device"],
            s["to_peer"],
        )
    elif d["service"]:
        show["session"] = "setting up %s" % d["service"]
    elif d["listening"]:
        show["session"] = "listening"
    else:
        show["session"] = "none"
    lis = d["listening"]
    show["port"] = "%d (profile %d)" % (lis["port"], lis["profile"]) if lis else "-"
    show["refused"] = "%d%s" % (
        d["refused"],
        " (last %s)" % d["last_refused"] if d["last_refused"] else "",
    )
    e = d["last_end"]
    show["last_end"] = (
        "%s: %s, %s ago" % (e["kind"].upper(), e["why"], duration(e["ago_ms"]))
        if e
        else "none since boot"
    )
    ap = d["setup_ap"]
    if ap:
        show["setup_ap"] = "on: %s at %s (%s)" % (ap["ssid"], ap["ip"], ap["why"])
    else:
        show["setup_ap"] = "not on this board" if ap is False else "off"
    show["uptime"] = duration(d["uptime_ms"])
    show["heap"] = "-" if d["heap_free"] is None else "%d B" % d["heap_free"]
    show["version"] = "mtip-esp32 %s" % d["version"]
    return show


def status_rows(show):
    yield '<table id="status">'
    for key, label in ROWS:
        yield '<tr><th>%s</th><td id="%s">%s</td></tr>' % (label, key, esc(show[key]))
    yield '</table><p id="live">&nbsp;</p>'
