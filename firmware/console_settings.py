"""The console's Settings page: every AT# parameter (both profiles of the indexed ones) and the
saved V.250 profile, changed through the very calls AT uses.

An AT# parameter goes through cmd_params.store(), as AT#NAME=... does: the same validation
(settings.validate), the same file, the same lock while a session, listener or service runs,
and the same reasons (37123, 34882, 34824), shown next to the name. The V.250 profile is the
one saved with AT&W (the live one belongs to the device's conversation): it is changed with
console_change.set_saved_profile(), under the same lock, and applies at the next ATZ, AT#RESET or
restart. Secrets are never sent to the browser: a page says "set" or "not set" and offers a
field to replace the value (empty: unchanged) or a box to clear it.
"""

import settings as cfg
from console_change import result, store, store_saved_profile
import console_view as view
from console_view import csrf_field, esc

GROUPS = (
    ("bearer", "Bearer", (
        "GPRSMODE", "GPRSCID", "APNSERV", "APNUN", "APNPW", "DNSSERV1", "DNSSERV2",
    )),
    ("tcp", "TCP sessions (profiles 1 and 2)", ()),
    ("udp", "UDP", ("UDPSERV", "UDPPORT", "UDPDLEMODE", "UDPTXDELAY", "UDPRXDELAY", "OUTPORT")),
    ("ping", "Ping", ("PINGREMOTE", "PINGNUM", "PINGDELAY")),
    ("wifi", "WiFi", ("WIFISSID", "WIFIPW")),
    ("smtp", "E-mail: SMTP", (
        "SENDERNAME", "SENDERADDR", "SMTPSERV", "SMTPPORT", "SMTPUN", "SMTPPW", "SMTPAUTH",
        "DOMAIN", "SMTPNETWORKTIMER", "SMTPTLS",
    )),
    ("mail1", "E-mail combination 1", ("REC1", "CCREC1", "SUBJ1", "BODY1")),
    ("mail2", "E-mail combination 2", ("REC2", "CCREC2", "SUBJ2", "BODY2")),
    ("mail3", "E-mail combination 3", ("REC3", "CCREC3", "SUBJ3", "BODY3")),
    ("pop3", "E-mail: POP3", (
        "POP3SERV", "POP3PORT", "POP3UN", "POP3PW", "POP3HEADERMODE", "POP3TLS",
    )),
    ("ftp", "FTP", (
        "FTPSERV", "FTPPORT", "FTPUN", "FTPPW", "FTPTYPE", "FTPMODE", "FTPGETPATH",
        "FTPGETFILENAME", "FTPPUTPATH", "FTPPUTFILENAME", "FTPFILESIZE", "FTPTLS",
    )),
    ("tls", "TLS", ("TLSVERIFY",)),
    ("console", "Console", ("CONSOLE",)),
)  # fmt: skip
TCP_ORDER = ("TCPSERV", "TCPPORT", "DLEMODE", "TCPTXDELAY", "TCPINACTIVITYTIMER", "TCPRXDELAY")
# Shown by AT#VPHY as the manual does, but the console (a network client) never sends it.
ALSO_SECRET = ("APNPW",)
PROFILE_NAMES = ("E", "V", "Q", "CMEE", "IPR", "IFC", "C", "D")
PROFILE_HELP = {
    "E": "ATE: echo 0/1",
    "V": "ATV: verbose results 0/1",
    "Q": "ATQ: quiet 0/1",
    "CMEE": "AT+CMEE: 0..2",
    "IPR": "AT+IPR: serial rate (0: auto)",
    "IFC": "AT+IFC: flow control, two of 0/2",
    "C": "AT&C: DCD 0/1",
    "D": "AT&D: DTR 0..2",
}


def groups():
    """GROUPS, and an "Other" group for any AT# parameter none of them names."""
    named: set = set()
    for _key, _title, names in GROUPS:
        named.update(names)
    rest = tuple(n for n in cfg.global_names() if n not in named and n not in cfg.HASHED_PARAMS)
    return GROUPS + ((("other", "Other", rest),) if rest else ())


def profile_names():
    """The indexed parameters in AT#VTCP's order (MicroPython's dicts keep no order)."""
    return TCP_ORDER + tuple(n for n in cfg.PROFILE_PARAMS if n not in TCP_ORDER)


def is_secret(name):
    return name in ALSO_SECRET or cfg.spec_of(name)[0] == "secret"


def shown(spec, value):
    if spec[0] == "list":
        return ", ".join(value)
    return str(value)


def hint(spec):
    kind, _d, a, b = spec
    if kind in ("int", "txdelay"):
        return "%d..%d%s" % (a, b, ", step 20" if kind == "txdelay" else "")
    return {
        "host": "host name or IPv4, at most %d characters" % a,
        "ipv4": "IPv4 address",
        "list": "addresses separated by commas, at most %d" % b,
        "ftptype": "A or I",
    }.get(kind, "at most %d characters" % a)


# -- the page ----------------------------------------------------------------------------------
def field(name, spec, value, key=None):
    """The input of one parameter (`key`: its form name, when not `name`): data-v holds the
    value shown, so unchanged ones are known."""
    key = key or name
    if is_secret(name):
        state = "set" if value else "not set"
        return (
            '<b>%s</b> <input type="password" name="%s" autocomplete="new-password" '
            'placeholder="new value (empty: unchanged)"> <label><input type="checkbox" '
            'name="clear.%s" value="1"> clear</label>' % (state, key, key)
        )
    text = esc(shown(spec, value))
    if spec[0] == "body":
        return '<textarea name="%s" rows="3" data-v="%s">%s</textarea>' % (key, text, text)
    return '<input name="%s" value="%s" data-v="%s">' % (key, text, text)


def form_start(key, title, csrf):
    return '<form class="params" method="post" action="/settings#%s"><fieldset id="%s">' % (
        key,
        key,
    ) + "<legend>%s</legend>%s<table>" % (esc(title), csrf_field(csrf))


FORM_END = "</table><button>Save</button></fieldset></form>"


def render(modem, csrf):
    st = modem.settings
    yield (
        "<p>Each value is checked and stored as the AT command does it; while a session, a "
        "listener or a mail or FTP service runs, changes are refused (37123) as AT refuses "
        "them. Secrets are never shown.</p>"
    )
    for key, title, names in groups():
        yield form_start(key, title, csrf)
        if key == "tcp":
            yield "<tr><th></th><th>profile 1</th><th>profile 2</th></tr>"
            for name in profile_names():
                spec = cfg.PROFILE_PARAMS[name]
                yield "<tr><th>#%s<br><small>%s</small></th>" % (name, esc(hint(spec)))
                for p in cfg.PROFILES:
                    key = "%s.%d" % (name, p)
                    yield "<td>%s</td>" % field(name, spec, st.get(name, p), key)
                yield "</tr>"
        for name in names:
            spec = cfg.spec_of(name)
            yield "<tr><th>#%s<br><small>%s</small></th><td>%s</td></tr>" % (
                name,
                esc(hint(spec)),
                field(name, spec, st.get(name)),
            )
        yield FORM_END
    yield form_start("v250", "Serial line: the V.250 profile saved with AT&W", csrf)
    yield "<tr><th></th><th>saved (from the next ATZ, AT#RESET, restart)</th><th>now</th></tr>"
    for name in PROFILE_NAMES:
        saved, live = st.saved_profile[name], st.profile[name]
        if name == "IFC":
            saved, live = "%d,%d" % tuple(saved), "%d,%d" % tuple(live)
        yield "<tr><th>%s<br><small>%s</small></th><td>%s</td><td>%s</td></tr>" % (
            name,
            PROFILE_HELP[name],
            '<input name="v250.%s" value="%s" data-v="%s">' % (name, saved, saved),
            live,
        )
    yield FORM_END
    yield form_start("password", "Console password", csrf)
    for name, label, auto in (
        ("pw.current", "current", "current-password"),
        ("pw.new", "new (8 to 64 characters)", "new-password"),
        ("pw.again", "new, again", "new-password"),
    ):
        yield (
            '<tr><th>%s</th><td><input type="password" name="%s" autocomplete="%s">'
            % (
                label,
                name,
                auto,
            )
            + "</td></tr>"
        )
    yield FORM_END


# -- a form sent back ----------------------------------------------------------------------------
def changes(modem, form):
    """The (label, action) pairs of a settings form, in page order, for the values that differ
    from the stored ones; action() stores one and returns None or the reason."""
    st = modem.settings
    out = []
    for key, _title, names in groups():
        if key == "tcp":
            for name in profile_names():
                spec = cfg.PROFILE_PARAMS[name]
                for p in cfg.PROFILES:
                    text = form.get("%s.%d" % (name, p))
                    if text is not None and text != shown(spec, st.get(name, p)):
                        out.append(("#%s (profile %d)" % (name, p), name, text, p))
        for name in names:
            spec = cfg.spec_of(name)
            text = form.get(name)
            if is_secret(name):
                if form.get("clear." + name):
                    text = ""
                elif not text:
                    continue
            elif text is None or text == shown(spec, st.get(name)):
                continue
            if spec[0] == "list":
                text = [a.strip() for a in text.split(",") if a.strip()]
            out.append(("#" + name, name, text, 1))
    return out


def apply(modem, form):
    """Store what the form changed; the results as (kind, text) for the next page."""
    results = []
    for label, name, value, profile in changes(modem, form):
        why = store(modem, name, value, profile)
        results.append(result(modem, label, why, is_secret(name)))
    st = modem.settings
    for name in PROFILE_NAMES:
        text = form.get("v250." + name)
        if text is None:
            continue
        now = st.saved_profile[name]
        if text == ("%d,%d" % tuple(now) if name == "IFC" else str(now)):
            continue
        why = store_saved_profile(modem, name, text)
        results.append(result(modem, "%s (saved profile)" % name, why, False))
    if not results:
        results.append(("msg", "nothing changed"))
    return results


# -- the routes (console_pages.py hands them over) ---------------------------------------------
def page(con, request):
    return view.show("Settings", "/settings", render(con.modem, request.g.session.csrf), request)


async def change(con, request):
    fields = request.g.form
    s = request.g.session
    if fields.get("pw.new") is not None or fields.get("pw.current"):
        results = await con.load("console_login").change_password(con, fields, s)
    else:
        results = apply(con.modem, fields)
    for r in results:
        s.say(r)
    return view.see_other("/settings")
