"""The console's log-in pages (loaded when one is asked for): log in, log out, the first-visit
password, and the password change of the Settings page.

The log-in and set-up forms carry a token bound to a short-lived cookie (a page of another site
cannot post them). A wrong password starts the pause (console_auth.py): meanwhile every attempt
is answered 429 without the password being looked at. The first visit may set the password
only while none is set and the board allows it (see setup_allowed()).
"""

import console_auth as auth_mod
import console_change
import console_view as view
from console_auth import COOKIE, LOGIN_COOKIE, cookie, same

LOGIN_TOKEN_AGE = 900  # s a log-in form stays valid
PASSWORD_FIELD = (("password", "Password", "current-password"),)
NEW_FIELDS = (
    ("password", "Password (8 to 64 characters)", "new-password"),
    ("again", "Again", "new-password"),
)


def setup_allowed(net):
    """A board without a set-up access point (the unix board listens on loopback only), or
    one whose access point is on now."""
    return not hasattr(net, "setup_ap") or net.setup_ap() is not None


def seconds(ms):
    return (ms + 999) // 1000


def form(action, fields, note=(), status=200, button="Log in"):
    token = auth_mod.new_token()
    body = list(note) + [
        '<form method="post" action="%s">%s<table>' % (action, view.csrf_field(token))
    ]
    for name, label, auto in fields:
        body.append(
            '<tr><th>%s</th><td><input type="password" name="%s" autocomplete="%s" '
            "required></td></tr>" % (label, name, auto)
        )
    body.append("</table><button>%s</button></form>" % button)
    title = "Log in" if action == "/login" else "Set the console password"
    headers = {"Set-Cookie": [cookie(LOGIN_COOKIE, token, LOGIN_TOKEN_AGE)]}
    return view.html(view.page(title, action, body), status, headers)


def token_ok(request):
    return same(request.g.form.get("csrf"), request.cookies.get(LOGIN_COOKIE))


def logged_in(con, note):
    s = con.auth.open_session()
    s.say(note)
    return view.see_other("/status", {"Set-Cookie": [cookie(COOKIE, s.token)]})


def error(text):
    return [view.message(text, "err")]


def login_page(con, request):
    if not con.auth.password_set():
        return view.see_other("/setup")
    return form("/login", PASSWORD_FIELD)


async def login(con, request):
    auth = con.auth
    if not token_ok(request):
        return form("/login", PASSWORD_FIELD, error("The form had expired: log in again."), 403)
    left = auth.pause_left()
    if left:
        why = "Too many wrong passwords: wait %d s before the next attempt." % seconds(left)
        r = form("/login", PASSWORD_FIELD, error(why), 429)
        r.headers["Retry-After"] = str(seconds(left))
        return r
    if await auth.check(request.g.form.get("password", "")):
        auth.succeeded()
        con.modem.log("console: login")
        return logged_in(con, ("ok", "Logged in."))
    wait = auth.failed()
    con.modem.log("console: wrong password (%d in a row)" % auth.failures)
    why = "Wrong password. The next attempt is possible in %d s." % seconds(wait)
    return form("/login", PASSWORD_FIELD, error(why), 403)


def setup_page(con, request):
    if con.auth.password_set():
        return view.see_other("/login")
    if not setup_allowed(con.modem.net):
        why = (
            "No console password is set. Set one over the serial line "
            '(AT#CONSOLEPW="..."), with tools/deploy.py --console-password, or from the '
            "board's set-up access point."
        )
        return view.html(view.page("Console password not set", "/setup", [view.message(why)]), 403)
    note = [
        "<p>No console password is set yet: choose one now. Whoever knows it can change "
        "every setting of this modem.</p>"
    ]
    return form("/setup", NEW_FIELDS, note, button="Set the password")


def setup(con, request):
    fields = request.g.form
    if con.auth.password_set() or not setup_allowed(con.modem.net):
        return "refused: the console password is set already, or cannot be set here", 403
    if not token_ok(request):
        return form("/setup", NEW_FIELDS, error("The form had expired."), 403)
    pw = fields.get("password", "")
    if pw != fields.get("again", ""):
        return form(
            "/setup", NEW_FIELDS, error("The two passwords differ."), 400, "Set the password"
        )
    why = console_change.store(con.modem, "CONSOLEPW", pw)
    if why is not None:
        why = "Console password %s (8 to 64 printable characters)." % why
        return form("/setup", NEW_FIELDS, error(why), 400, "Set the password")
    con.modem.log("console: password set on the first visit")
    return logged_in(con, ("ok", "Console password set; you are logged in."))


def logout(con, request):
    con.auth.close_session(request.g.session)
    return view.see_other("/login", {"Set-Cookie": [cookie(COOKIE, "gone", 0)]})


async def change_password(con, fields, session):
    """The Settings page's form: the current password (a wrong one counts as a failed log-in),
    the new one twice. Returns the (kind, text) results."""
    auth = con.auth
    left = auth.pause_left()
    if left:
        return [("err", "Console password: wait %d s (wrong passwords)" % seconds(left))]
    if not await auth.check(fields.get("pw.current", "")):
        auth.failed()
        con.modem.log("console: wrong password (%d in a row)" % auth.failures)
        return [("err", "Console password: the current password is wrong")]
    auth.succeeded()
    if fields.get("pw.new", "") != fields.get("pw.again", ""):
        return [("err", "Console password: the two new ones differ")]
    why = console_change.store(con.modem, "CONSOLEPW", fields.get("pw.new", ""))
    if why is not None:
        return [("err", "Console password: %s" % why)]
    auth.close_others(session)
    con.modem.log("console: password changed")
    return [("ok", "Console password changed; other logins ended")]
