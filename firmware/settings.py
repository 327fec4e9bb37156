"""Modem settings: the AT# parameters, the V.250 profile, their validation and storage.

AT# parameters are stored the moment they are set (no AT&W needed, as on the Multi-Tech
modems). The V.250 profile (echo, verbose, quiet, CMEE, serial rate, flow control, &C, &D) is
saved by AT&W and restored by ATZ. Storage is one JSON file written atomically: a temporary
file, then a rename, so a power cut leaves either the old or the new file.
"""

import json
import os

import ipv4

# name: (kind, default, a, b). Kinds: "int" a..b, "txdelay" (multiple of 20 in a..b),
# "host" (IPv4 or host name of at most a characters), "ipv4", "text" (at most a characters),
# "secret" (text never read back in clear), "list" (at most b texts of at most a characters:
# the recipients of a mail), "body" (text that may also hold TAB, CR and LF), "ftptype" ("A"
# or "I", any case, kept as written).
PROFILE_PARAMS = {
    "TCPSERV": ("host", "", 120, 0),
    "TCPPORT": ("int", 0, 1, 65535),
    "DLEMODE": ("int", 1, 0, 1),
    "TCPTXDELAY": ("txdelay", 100, 0, 32760),
    "TCPINACTIVITYTIMER": ("int", 0, 0, 65535),
    "TCPRXDELAY": ("int", 250, 0, 10000),  # ms the peer's first bytes wait (compatibility.md)
}
PROFILES = (1, 2)

GLOBAL_PARAMS = {
    "OUTPORT": ("int", 37500, 1, 65535),
    "GPRSMODE": ("int", 1, 0, 1),
    "GPRSCID": ("int", 1, 1, 4),
    "APNSERV": ("text", "", 100, 0),
    "APNUN": ("text", "", 64, 0),
    "APNPW": ("text", "", 64, 0),
    "DNSSERV1": ("ipv4", "0.0.0.0", 0, 0),
    "DNSSERV2": ("ipv4", "0.0.0.0", 0, 0),
    "UDPSERV": ("host", "", 120, 0),
    "UDPPORT": ("int", 0, 1, 65535),
    "UDPDLEMODE": ("int", 1, 0, 1),
    "UDPTXDELAY": ("txdelay", 100, 0, 32760),
    "UDPRXDELAY": ("int", 250, 0, 10000),
    "PINGREMOTE": ("host", "", 120, 0),
    "PINGNUM": ("int", 1, 1, 255),
    "PINGDELAY": ("int", 1, 1, 255),
    "WIFISSID": ("text", "", 32, 0),
    "WIFIPW": ("secret", "", 63, 0),
    # Ours: the web console (compatibility.md), on or off, and its password (a salted hash).
    "CONSOLE": ("int", 1, 0, 1),
    "CONSOLEPW": ("secret", "", 64, 0),
}
HASHED_PARAMS = ("CONSOLEPW",)  # stored as pwhash.make() gives it, never in clear


def _mail():
    import mailparams  # (interpreter.release() forgets it again when the heap runs low)

    return mailparams


def spec_of(name):
    """The (kind, default, a, b) of an AT# parameter, or None for a name that is not one."""
    return PROFILE_PARAMS.get(name) or GLOBAL_PARAMS.get(name) or _mail().PARAMS.get(name)


def global_names():
    """Every non-indexed AT# parameter: the table above, then the mail and FTP ones."""
    return list(GLOBAL_PARAMS) + list(_mail().PARAMS)


def mail_command_group(name):
    """The command group of a mail or FTP command that is not a parameter, else None."""
    return _mail().COMMANDS.get(name)


# V.250 profile: saved by AT&W, restored by ATZ, factory values by AT&F.
SERIAL_RATES = (0, 300, 600, 1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200)
PROFILE_DEFAULTS = {
    "E": 1,
    "V": 1,
    "Q": 0,
    "CMEE": 0,
    "IPR": 115200,
    "IFC": [2, 2],
    "C": 1,
    "D": 2,
}

FILE_NAME = "settings.json"
_HOST_CHARS = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._"
# Checks walk the UTF-8 bytes of a value, never its characters: MicroPython interns every
# one-character str a loop creates, so each new character a client sends would stay in RAM.


def is_ipv4(text):
    """True for dotted-decimal IPv4 (ipv4.parse: four decimal numbers 0..255)."""
    return ipv4.parse(text) is not None


def is_digits(text):
    """True for a non-empty str of ASCII digits (CPython str.isdigit also takes superscripts)."""
    if not isinstance(text, str) or not text:
        return False
    for c in text.encode():
        if c < 48 or c > 57:
            return False
    return True


def parse_int(text):
    """A decimal number of at most 9 digits, else ValueError (no signs, no spaces)."""
    if not is_digits(text) or len(text) > 9:
        raise ValueError(text)
    return int(text)


def validate(spec, value):
    """Return the validated value for a parameter `spec`, or raise ValueError."""
    kind, _default, a, b = spec
    if isinstance(value, bool):  # JSON true/false is not a number (CPython: bool is an int)
        raise ValueError(value)
    if kind in ("int", "txdelay"):
        if not isinstance(value, int):
            value = parse_int(value)
        if value < a or value > b or (kind == "txdelay" and value % 20):
            raise ValueError(value)
        return value
    if kind == "list":
        if isinstance(value, str):  # AT#REC1="a@b.c": one address; "" empties the list
            value = [value] if value else []
        if not isinstance(value, list) or len(value) > b:
            raise ValueError(value)
        return [validate(("text", "", a, 0), v) for v in value]
    if not isinstance(value, str):
        raise ValueError(value)
    if kind == "ftptype":
        if value not in ("A", "I", "a", "i"):
            raise ValueError(value)
        return value
    if kind == "ipv4":
        if not is_ipv4(value):
            raise ValueError(value)
        return value
    if len(value) > a:
        raise ValueError(value)
    if kind == "host":
        for c in value.encode():
            if c not in _HOST_CHARS:
                raise ValueError(value)
        if value and ipv4.looks_numeric(value) and not is_ipv4(value):
            raise ValueError(value)  # meant as an address, and not one
        return value
    for c in value.encode():  # text, secret: printable ASCII only (a body: and line breaks)
        if (c < 32 or c > 126) and not (kind == "body" and c in (9, 10, 13)):
            raise ValueError(value)
    return value


def _load_value(spec, value):
    """A stored value: valid, or the default itself (an unset port 0 is outside 1..65535)."""
    if type(value) is type(spec[1]) and value == spec[1]:
        return list(value) if isinstance(value, list) else value
    return validate(spec, value)


def factory_params():
    params: dict = {}
    for name, spec in PROFILE_PARAMS.items():
        params[name] = [spec[1] for _ in PROFILES]
    for name, spec in GLOBAL_PARAMS.items():
        params[name] = list(spec[1]) if isinstance(spec[1], list) else spec[1]
    return params


def factory_profile():
    profile = {}
    for name, value in PROFILE_DEFAULTS.items():
        profile[name] = list(value) if isinstance(value, list) else value
    return profile


def validate_profile_value(name, value):
    if name == "IFC":
        if not isinstance(value, list) or len(value) != 2 or value[0] not in (0, 2):
            raise ValueError(value)
        if value[1] not in (0, 2):
            raise ValueError(value)
        return [value[0], value[1]]
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError(value)
    limits = {"E": 1, "V": 1, "Q": 1, "CMEE": 2, "C": 1, "D": 2}
    if name == "IPR":
        if value not in SERIAL_RATES:
            raise ValueError(value)
    elif value < 0 or value > limits[name]:
        raise ValueError(value)
    return value


class Store:
    """One JSON file in a directory, written atomically (temporary file, then rename)."""

    def __init__(self, directory, name=FILE_NAME):
        self.path = directory.rstrip("/") + "/" + name
        self.tmp = self.path + ".tmp"

    def load(self):
        """Return the stored dict, or None when there is no file; raise ValueError if corrupt."""
        try:
            f = open(self.path)
        except OSError:
            return None
        try:  # read from the stream: no copy of the whole file in one piece of heap
            data = json.load(f)
        finally:
            f.close()
        if not isinstance(data, dict):
            raise ValueError("not an object")
        return data

    def save(self, data):
        f = open(self.tmp, "w")
        try:
            json.dump(data, f)  # written piece by piece, as for load()
            f.flush()
        finally:
            f.close()
        os.rename(self.tmp, self.path)


class Settings:
    """The live settings. `problems` lists what was wrong with the stored file at load."""

    def __init__(self, store):
        self.store = store
        self.params = factory_params()
        self.saved_profile = factory_profile()
        self.problems = []
        self.load()
        self.profile = self._copy_profile(self.saved_profile)

    @staticmethod
    def _copy_profile(profile):
        out = {}
        for k, v in profile.items():
            out[k] = list(v) if isinstance(v, list) else v
        return out

    def load(self):
        try:
            data = self.store.load()
        except (OSError, ValueError, RuntimeError, MemoryError) as e:  # (deeply nested JSON)
            self.problems.append("settings file unreadable, factory defaults used: %r" % (e,))
            return
        if data is None:
            self.problems.append("no settings file, factory defaults used")
            return
        params = data.get("params")
        if isinstance(params, dict):
            for name, value in params.items():
                self._load_param(name, value)
        elif params is not None:
            self.problems.append("bad stored params, defaults used")
        profile = data.get("profile")
        if profile is not None and not isinstance(profile, dict):
            self.problems.append("bad stored profile, defaults used")
        if isinstance(profile, dict):
            for name, value in profile.items():
                if name in PROFILE_DEFAULTS:
                    try:
                        self.saved_profile[name] = validate_profile_value(name, value)
                    except (ValueError, TypeError):
                        self.problems.append("bad stored %s, default used" % name)

    def _load_param(self, name, value):
        try:
            if name in PROFILE_PARAMS:
                spec = PROFILE_PARAMS[name]
                if not isinstance(value, list) or len(value) != len(PROFILES):
                    raise ValueError(value)
                self.params[name] = [_load_value(spec, v) for v in value]
            elif name in HASHED_PARAMS:  # the hash, not a password: checked as such
                import pwhash

                if not pwhash.is_stored(value):
                    raise ValueError(name)
                self.params[name] = value
            else:
                spec = spec_of(name)
                if spec is not None:  # (a mail or FTP value: its table is loaded for it)
                    self.params[name] = _load_value(spec, value)
        except (ValueError, TypeError):
            self.problems.append("bad stored %s, default used" % name)

    def save(self):
        """Write the AT# parameters and the saved V.250 profile; OSError on failure."""
        self.store.save({"version": 1, "params": self.params, "profile": self.saved_profile})

    def get(self, name, profile=1):
        if name in PROFILE_PARAMS:
            return self.params[name][profile - 1]
        params = self.params
        if name in params:
            return params[name]
        default = spec_of(name)[1]  # a mail or FTP parameter never set: its default
        return list(default) if isinstance(default, list) else default

    def set(self, name, value, profile=1):
        """Validate (ValueError) and store (OSError) one AT# parameter."""
        if name in PROFILE_PARAMS:
            value = validate(PROFILE_PARAMS[name], value)
            old = self.params[name][profile - 1]
            self.params[name][profile - 1] = value
        else:
            spec = spec_of(name)
            if spec is None:
                raise ValueError(name)
            value = validate(spec, value)
            if name in HASHED_PARAMS:  # (pwhash is loaded for this only)
                import pwhash

                value = pwhash.make(value)  # ValueError: too short
            had = name in self.params
            old = self.params.get(name)
            self.params[name] = value
        try:
            self.save()
        except OSError:
            if name in PROFILE_PARAMS:
                self.params[name][profile - 1] = old
            elif had:
                self.params[name] = old
            else:
                del self.params[name]
            raise

    def save_profile(self):
        """AT&W: the live V.250 profile becomes the saved one."""
        old = self.saved_profile
        self.saved_profile = self._copy_profile(self.profile)
        try:
            self.save()
        except OSError:
            self.saved_profile = old
            raise

    def restore_profile(self):
        """ATZ: back to the saved V.250 profile."""
        self.profile = self._copy_profile(self.saved_profile)

    def factory(self):
        """AT&F: factory AT# parameters (stored) and factory V.250 profile (live)."""
        old = self.params
        self.params = factory_params()
        try:
            self.save()
        except OSError:
            self.params = old
            raise
        self.profile = factory_profile()
