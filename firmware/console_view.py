"""The console's HTML: the page frame, escaping, answers, and the status (as JSON and as
text), which the status page polls every second: this module stays loaded while the console
runs. Pages are generators of small strings, written as they are made, so a page never sits in
the heap in one piece."""

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


def html(parts, status=200, headers=None):
    from microdot import Response  # type: ignore[import-not-found]  # (not needed elsewhere)

    h = dict(HTML)
    if headers:
        h.update(headers)
    return Response(body=parts, status_code=status, headers=h)


def see_other(location, headers=None):
    from microdot import Response  # type: ignore[import-not-found]

    h = {"Location": location}
    if headers:
        h.update(headers)
    return Response(status_code=303, headers=h, reason="See Other")


def show(title, here, body, request, status=200):
    """A page of a logged-in user, with the results of their last change."""
    s = request.g.session
    return html(page(title, here, body, s, s.take_flash()), status)


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
