"""The console's routes: the gate (session, CSRF, cross-site POSTs), Status and the JSON it
polls every second, Log and Restart; the other pages are handed to their modules, loaded when
asked for (`con.load()`; console.py forgets them when the heap runs low, as the interpreter
does with its command groups): console_login (log in, first visit, log out), console_settings,
console_wifi, console_assets (style sheet and script).

Every page but the log-in ones needs a session; every POST needs the session's CSRF token (the
log-in ones a token bound to a short-lived cookie) and is refused when the browser says another
site sent it.
"""

import asyncio

import console_view as view
from console_auth import same

PUBLIC = ("/login", "/setup", "/console.css", "/console.js")
SECURITY_HEADERS = (
    ("Cache-Control", "no-store"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Content-Security-Policy", "default-src 'self'; frame-ancestors 'none'; form-action 'self'"),
    ("Referrer-Policy", "no-referrer"),
)


def form_of(request):
    """The request's form fields, or None when it has none or they cannot be decoded."""
    try:
        return request.form
    except Exception:  # bad %-escapes, bad UTF-8
        return None


def install(con):
    app = con.app
    auth = con.auth
    modem = con.modem

    # The status JSON first: microdot tries the routes in order, and it is asked every second.
    @app.get("/api/status")
    def status_json(request):
        d = view.status(modem)
        d["show"] = view.status_text(d)
        return d

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
            return view.see_other("/login" if auth.password_set() else "/setup")
        if request.method == "POST" and not same(request.g.form.get("csrf"), session.csrf):
            return "refused: the form's CSRF token is missing or wrong; reload the page", 403
        return None

    @app.after_request
    def secure(request, response):
        headers = response.headers
        for k, v in SECURITY_HEADERS:
            if k not in headers:
                headers[k] = v
        return response

    app.after_error_request(secure)

    def handed(module, name):
        """A route whose page lives in `module` (loaded on first use)."""

        async def route(request):
            answer = getattr(con.load(module), name)(con, request)
            if hasattr(answer, "send"):  # the page's function is a coroutine
                answer = await answer
            return answer

        return route

    for path, module, name, methods in (
        ("/login", "console_login", "login_page", ["GET"]),
        ("/login", "console_login", "login", ["POST"]),
        ("/setup", "console_login", "setup_page", ["GET"]),
        ("/setup", "console_login", "setup", ["POST"]),
        ("/logout", "console_login", "logout", ["POST"]),
        ("/settings", "console_settings", "page", ["GET"]),
        ("/settings", "console_settings", "change", ["POST"]),
        ("/wifi", "console_wifi", "page", ["GET"]),
        ("/wifi", "console_wifi", "save", ["POST"]),
        ("/wifi/scan", "console_wifi", "scan", ["POST"]),
        ("/wifi/join", "console_wifi", "join", ["POST"]),
        ("/console.css", "console_assets", "css", ["GET"]),
        ("/console.js", "console_assets", "js", ["GET"]),
    ):
        app.route(path, methods)(handed(module, name))

    @app.get("/")
    def index(request):
        return view.see_other("/status")

    @app.get("/status")
    def status_page(request):
        rows = view.status_rows(view.status_text(view.status(modem)))
        return view.show("Status", "/status", rows, request)

    @app.get("/log")
    def log_page(request):
        lines = modem.log_lines()

        def body():
            yield "<p>The modem's log ring (AT#VLOG), oldest first: ms since boot, event.</p><pre>"
            for line in lines:
                yield view.esc(line) + "\n"
            yield "</pre>"

        return view.show("Log", "/log", body(), request)

    @app.get("/restart")
    def restart_page(request):
        body = [
            "<p>Restarts the modem application as AT#RESET does: a running session ends first "
            "(the device gets its closing messages), the bearer goes down, the saved V.250 "
            "profile applies. Settings are kept; the console stays up.</p>",
            '<form method="post" action="/restart">%s<button>Restart the modem</button></form>'
            % view.csrf_field(request.g.session.csrf),
        ]
        return view.show("Restart", "/restart", body, request)

    @app.post("/restart")
    def restart(request):
        modem.log("console: restart")
        asyncio.create_task(modem.restart())
        request.g.session.say(("ok", "Restarting the modem."))
        return view.see_other("/status")
