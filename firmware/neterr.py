"""Errors a board's network object raises to the modem engine."""


class ResolveError(Exception):
    """The host name could not be resolved (answered as #CME ERROR: 38027)."""


class BearerError(Exception):
    """The IP link could not be brought up; `code` is the dialect's error number."""

    def __init__(self, code, reason=""):
        super().__init__(code, reason)
        self.code = code
        self.reason = reason
