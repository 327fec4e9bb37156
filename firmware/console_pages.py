"""The console's routes: the gate (login, CSRF), the log-in and first-visit pages, Status (and
the JSON it polls), Settings, Log, WiFi, Restart, and the style sheet and script.

Every page but the log-in ones needs a session; every POST needs the session's CSRF token (the
log-in ones a token bound to a short-lived cookie) and is refused when the browser says another
site sent it. The first visit may set the password only while none is set and the board allows
it: a board without a set-up access point (the unix board listens on loopback only), or one
whose access point is on now (`net.setup_ap()`); see docs/compatibility.md.
"""

import asyncio
from microdot import Response

import console_auth as auth_mod
import console_settings
import console_view as view
from console_auth import COOKIE, LOGIN_COOKIE, cookie, same

PUBLIC = ("/login", "/setup", "/console.css", "/console.js")
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "Referrer-Policy": "no-referrer",
}
LOGIN_TOKEN_AGE = 900  # s a log-in form stays valid


def html(parts, status=200, headers=None):
    h = dict(view.HTML)
    if headers:
        h.update(headers)
    return Response(body=parts, status_code=status, headers=h)


def see_other(location, headers=None):
    h = {"Location": location}
    if headers:
        h.update(headers)
    return Response(status_code=303, headers=h, reason="See Other")


def form_of(request):
    """The request's form fields, or None when it has none or they cannot be decoded."""
    try:
        return request.form
    except Exception:  # bad %-escapes, bad UTF-8
        return None


def setup_allowed(net):
    return not hasattr(net, "setup_ap") or net.setup_ap() is not None


def install(con):
    app = con.app
    auth = con.auth
    modem = con.modem

    @app.before_request
    def gate(request):
        request.g.session = session = auth.session_of(request.cookies)
        if request.method == "POST":
            site = request.headers.get("Sec-Fetch-Site")
            if site and site not in ("same-origin", "none"):
                return "refused: the form came from another site", 403
            form = form_of(request)
            if form is None:
                return "a form (application/x-www-form-urlencoded) was expected", 400
            request.g.form = form
        if request.path in PUBLIC:
            return None
        if session is None:
            if request.path.startswith("/api/"):
                return {"error": "log in first"}, 401
            return see_other("/login" if auth.password_set() else "/setup")
        if request.method == "POST" and not same(request.g.form.get("csrf"), session.csrf):
            return "refused: the form's CSRF token is missing or wrong; reload the page", 403
        return None

    @app.after_request
    def secure(request, response):
        for k, v in SECURITY_HEADERS.items():
            if k not in response.headers:
                response.headers[k] = v
        return response

    app.after_error_request(secure)

    # -- log in ------------------------------------------------------------------------------
    def login_form(action, fields, note=(), status=200, button="Log in"):
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
        return html(view.page(title, action, body), status, headers)

    def login_token_ok(request):
        return same(request.g.form.get("csrf"), request.cookies.get(LOGIN_COOKIE))

    def logged_in(note):
        s = auth.open_session()
        s.say(note)
        return see_other("/status", {"Set-Cookie": [cookie(COOKIE, s.token)]})

    password_field = [("password", "Password", "current-password")]
    new_fields = [
        ("password", "Password (8 to 64 characters)", "new-password"),
        ("again", "Again", "new-password"),
    ]

    @app.get("/login")
    def login_page(request):
        if not auth.password_set():
            return see_other("/setup")
        return login_form("/login", password_field)

    def paused(left):
        why = "Too many wrong passwords: wait %d s before the next attempt." % (
            (left + 999) // 1000
        )
        note = [view.message(why, "err")]
        r = login_form("/login", password_field, note, 429)
        r.headers["Retry-After"] = str((left + 999) // 1000)
        return r

    @app.post("/login")
    async def login(request):
        if not login_token_ok(request):
            return login_form(
                "/login",
                password_field,
                [view.message("The form had expired: log in again.", "err")],
                403,
            )
        left = auth.pause_left()
        if left:
            return paused(left)
        if await auth.check(request.g.form.get("password", "")):
            auth.succeeded()
            modem.log("console: login")
            return logged_in(("ok", "Logged in."))
        wait = auth.failed()
        modem.log("console: wrong password (%d in a row)" % auth.failures)
        note = view.message(
            "Wrong password. The next attempt is possible in %d s." % ((wait + 999) // 1000), "err"
        )
        return login_form("/login", password_field, [note], 403)

    @app.get("/setup")
    def setup_page(request):
        if auth.password_set():
            return see_other("/login")
        if not setup_allowed(modem.net):
            why = (
                "No console password is set. Set one over the serial line "
                '(AT#CONSOLEPW="..."), with tools/deploy.py --console-password, or from the '
                "board's set-up access point."
            )
            return html(view.page("Console password not set", "/setup", [view.message(why)]), 403)
        note = [
            "<p>No console password is set yet: choose one now. Whoever knows it can change "
            "every setting of this modem.</p>"
        ]
        return login_form("/setup", new_fields, note, button="Set the password")

    @app.post("/setup")
    def setup(request):
        form = request.g.form
        if auth.password_set() or not setup_allowed(modem.net):
            return "refused: the console password is set already, or cannot be set here", 403
        if not login_token_ok(request):
            return login_form(
                "/setup", new_fields, [view.message("The form had expired.", "err")], 403
            )
        pw = form.get("password", "")
        if pw != form.get("again", ""):
            why = view.message("The two passwords differ.", "err")
            return login_form("/setup", new_fields, [why], 400, "Set the password")
        why = console_settings.store(modem, "CONSOLEPW", pw)
        if why is not None:
            note = view.message("Console password %s (8 to 64 printable characters)." % why, "err")
            return login_form("/setup", new_fields, [note], 400, "Set the password")
        modem.log("console: password set on the first visit")
        return logged_in(("ok", "Console password set; you are logged in."))

    @app.post("/logout")
    def logout(request):
        auth.close_session(request.g.session)
        return see_other("/login", {"Set-Cookie": [cookie(COOKIE, "gone", 0)]})

    # -- the pages -----------------------------------------------------------------------------
    def show(title, here, body, request, status=200):
        s = request.g.session
        return html(view.page(title, here, body, s, s.take_flash()), status)

    @app.get("/")
    def index(request):
        return see_other("/status")

    @app.get("/status")
    def status_page(request):
        return show(
            "Status", "/status", view.status_rows(view.status_text(view.status(modem))), request
        )

    @app.get("/api/status")
    def status_json(request):
        d = view.status(modem)
        d["show"] = view.status_text(d)
        return d

    @app.get("/settings")
    def settings_page(request):
        return show(
            "Settings",
            "/settings",
            console_settings.render(modem, request.g.session.csrf),
            request,
        )

    @app.post("/settings")
    async def settings_change(request):
        form = request.g.form
        s = request.g.session
        if form.get("pw.new") is not None or form.get("pw.current"):
            for kind, text in await change_password(form, s):
                s.say((kind, text))
        else:
            for kind, text in console_settings.apply(modem, form):
                s.say((kind, text))
        return see_other("/settings")

    async def change_password(form, s):
        left = auth.pause_left()
        if left:
            return [
                ("err", "Console password: wait %d s (wrong passwords)" % ((left + 999) // 1000))
            ]
        if not await auth.check(form.get("pw.current", "")):
            auth.failed()
            modem.log("console: wrong password (%d in a row)" % auth.failures)
            return [("err", "Console password: the current password is wrong")]
        auth.succeeded()
        if form.get("pw.new", "") != form.get("pw.again", ""):
            return [("err", "Console password: the two new ones differ")]
        why = console_settings.store(modem, "CONSOLEPW", form.get("pw.new", ""))
        if why is not None:
            return [("err", "Console password: %s" % why)]
        auth.close_others(s)
        modem.log("console: password changed")
        return [("ok", "Console password changed; other logins ended")]

    @app.get("/log")
    def log_page(request):
        lines = modem.log_lines()

        def body():
            yield "<p>The modem's log ring (AT#VLOG), oldest first: ms since boot, event.</p><pre>"
            for line in lines:
                yield view.esc(line) + "\n"
            yield "</pre>"

        return show("Log", "/log", body(), request)

    @app.get("/restart")
    def restart_page(request):
        body = [
            "<p>Restarts the modem application as AT#RESET does: a running session ends first "
            "(the device gets its closing messages), the bearer goes down, the saved V.250 "
            "profile applies. Settings are kept; the console stays up.</p>",
            '<form method="post" action="/restart">%s<button>Restart the modem</button></form>'
            % view.csrf_field(request.g.session.csrf),
        ]
        return show("Restart", "/restart", body, request)

    @app.post("/restart")
    def restart(request):
        modem.log("console: restart")
        asyncio.create_task(modem.restart())
        request.g.session.say(("ok", "Restarting the modem."))
        return see_other("/status")

    @app.get("/console.css")
    def css(request):
        return view.CSS, 200, {"Content-Type": "text/css", "Cache-Control": "max-age=600"}

    @app.get("/console.js")
    def js(request):
        return view.JS, 200, {"Content-Type": "text/javascript", "Cache-Control": "max-age=600"}

    import console_wifi

    console_wifi.install(con, show, see_other)
