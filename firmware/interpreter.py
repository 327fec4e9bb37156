"""The AT command interpreter: executes parsed command lines against the settings and the modem.

Everything the modem answers in command mode is decided here. Session commands (bearer,
sockets) go to the `modem` object (see modem.py); they are awaited, so `execute_line` is a
coroutine. Output goes to `out(bytes)`; the caller writes it to the UART.

The commands themselves live in five modules (cmd_basic, cmd_plus, cmd_params, cmd_session,
cmd_info), imported on first use. Code loaded from .mpy files sits in the heap (only frozen
code runs from flash), so when the heap runs low after a line they are forgotten and the GC
takes their code back; the next command loads its group again. This keeps what the command
set costs in RAM to this module plus one group.
"""

import gc
import sys

import atparse
import results
import settings as cfg
from atline import TOO_LONG
from atparse import ACTION, SET
from errors import CME_NOT_ALLOWED, CME_NOT_SUPPORTED, E_BUSY, E_SYNTAX, E_TOO_LONG, E_UNKNOWN
from errors import CmdError, int_arg

# MicroPython's free heap; CPython has none to save, so its command groups stay loaded.
_mem_free = getattr(gc, "mem_free", None)

SECRET_SHOWN = "********"


# AT# commands other than the parameters, by the module that executes them.
HASH_GROUPS = {
    "CONNECTIONSTART": "cmd_session",
    "CONNECTIONSTOP": "cmd_session",
    "OTCP": "cmd_session",
    "OUDP": "cmd_session",
    "PING": "cmd_session",
    "LTCPSTART": "cmd_session",
    "LTCPSTOP": "cmd_session",
    "RESET": "cmd_session",
    "DISPLAYIP": "cmd_info",
    "VSTATE": "cmd_info",
    "VUDP": "cmd_info",
    "VTCP": "cmd_info",
    "VDNS": "cmd_info",
    "VPHY": "cmd_info",
    "VWIFI": "cmd_info",
    "VALL": "cmd_info",
    "VVERSION": "cmd_info",
    "VLOG": "cmd_info",
}

BODY_ENTRY = ("BODY1", "BODY2", "BODY3")

# Free heap below which the command groups are forgotten after a line (see the module doc):
# what a session needs besides the buffers made at boot, with room to spare.
RELEASE_BELOW = 24 * 1024


def import_or_make_room(name, release):
    """Import module `name`; on a MemoryError, `release()` forgets what can be reloaded later
    (a .mpy's code is in the heap) and the import is tried once more."""
    try:
        return __import__(name)
    except MemoryError:
        sys.modules.pop(name, None)
        release()
        return __import__(name)


class Interpreter:
    """Executes command lines. `modem` provides the session commands and the board hooks.
    `free_heap()` (gc.mem_free where there is one) steers when command groups are released."""

    def __init__(self, settings, modem, out):
        self.settings = settings
        self.modem = modem
        self.out = out
        self.fmt = results.Formatter()
        self.sregs = {0: 0, 3: 13, 4: 10, 5: 8, 6: 2, 7: 50, 8: 2, 10: 14, 12: 50}
        self.wopen = 1
        self.creg = 0
        self.cgreg = 0
        self.after = None
        self.entry = None  # text being typed after AT#RECiADD / AT#BODYi (cmd_mail.TextEntry)
        self.groups: dict = {}  # module name -> module, the command groups loaded
        self.free_heap = _mem_free
        self.sync_format()

    # -- output --------------------------------------------------------------------------------
    def sync_format(self):
        p = self.settings.profile
        self.fmt.verbose = p["V"] == 1
        self.fmt.quiet = p["Q"] == 1

    @property
    def echo(self):
        return self.settings.profile["E"] == 1

    def info(self, lines):
        self.out(self.fmt.info(lines))

    def result(self, name):
        self.out(self.fmt.result(name))

    def error(self, code, hash_command=True):
        """Report an error: `#CME ERROR: n` for AT# commands, else per AT+CMEE."""
        if hash_command:
            self.out(self.fmt.error(code))
        elif code is None or self.settings.profile["CMEE"] == 0:
            self.result(results.ERROR)
        else:
            self.out(self.fmt.error(code, "+CME ERROR: "))

    # -- execution -----------------------------------------------------------------------------
    async def execute_line(self, body):
        """Execute one line body (bytes after "AT"). Returns a callable to run after the
        output has been written (baud rate change, soft reset), or None."""
        self.after = None
        try:
            await self.execute_commands(body)
        finally:
            if self.free_heap is not None and self.free_heap() < RELEASE_BELOW:
                self.release()
        return self.after

    async def execute_commands(self, body):
        if body is TOO_LONG:
            self.error(E_TOO_LONG)
            return
        try:
            commands = atparse.parse(body)
        except atparse.ParseError as e:
            if e.prefix == "#":
                self.error(E_SYNTAX)
            else:
                self.error(CME_NOT_ALLOWED if e.prefix else None, False)
            return
        for cmd in commands:
            try:
                final = await self.execute(cmd)
            except CmdError as e:
                self.after = None
                self.error(e.code, cmd.name[0] == "#")
                return
            if final is not None:  # a result that ends the line (Ok_Info_*, NO CARRIER)
                if final:  # (results.NONE: the command answers later)
                    self.result(final)
                return
        self.sync_format()
        self.result(results.OK)

    async def execute(self, cmd):
        name = cmd.name
        if name[0] == "#":
            name = name[1:]
            if name in BODY_ENTRY and cmd.op == ACTION:  # AT#BODY1<CR>: the text follows
                return await self.load("cmd_mail").run(self, cmd, name)
            if name in cfg.PROFILE_PARAMS or name in cfg.GLOBAL_PARAMS:
                return self.load("cmd_params").run(self, cmd, name)
            group = HASH_GROUPS.get(name)
            if group is None:  # the mail and FTP names are in a table of their own
                if cfg.spec_of(name) is not None:
                    return self.load("cmd_params").run(self, cmd, name)
                group = cfg.mail_command_group(name)
                if group is None:
                    raise CmdError(E_UNKNOWN)
            return await self.load(group).run(self, cmd, name)
        if name[0] == "+":
            handler = self.load("cmd_plus").COMMANDS.get(name[1:])
            if handler is None:
                raise CmdError(CME_NOT_SUPPORTED)
            return handler(self, cmd)
        return self.load("cmd_basic").run(self, cmd)

    # -- command groups ------------------------------------------------------------------------
    def load(self, name):
        mod = self.groups.get(name)
        if mod is None:
            mod = self.groups[name] = import_or_make_room(name, self.release)
        return mod

    def release(self):
        """Forget the loaded command groups, so the GC can take their code back."""
        if not self.groups and "mailparams" not in sys.modules:
            return  # nothing to give back: no collection per line on a small heap
        for name in self.groups:
            sys.modules.pop(name, None)
        self.groups.clear()
        sys.modules.pop("mailparams", None)  # (settings.py imports it when a mail name is used)
        gc.collect()

    # -- what several command groups use -------------------------------------------------------
    def after_serial(self):
        p = self.settings.profile
        self.after = lambda: self.modem.apply_serial(p["IPR"], p["IFC"][0] == 2, p["IFC"][1] == 2)

    def set_flow(self, ifc):
        self.settings.profile["IFC"] = ifc
        self.after_serial()

    def check_idle(self, hash_command=True):
        if self.modem.busy():
            raise CmdError(E_BUSY if hash_command else CME_NOT_ALLOWED)

    def show(self, name, value, profile=None):
        if isinstance(value, list):  # recipients: "a@x.y","b@x.y" (none: "")
            value = ",".join(['"%s"' % v for v in value]) or '""'
        elif isinstance(value, str):
            if value and name not in cfg.PROFILE_PARAMS and cfg.spec_of(name)[0] == "secret":
                value = SECRET_SHOWN
            value = '"%s"' % value
        else:
            value = str(value)
        if profile is None:
            return "#%s: %s" % (name, value)
        return "#%s: %d,%s" % (name, profile, value)

    def profile_lines(self, name, profiles=cfg.PROFILES):
        return [self.show(name, self.settings.get(name, p), p) for p in profiles]

    def profile_id(self, cmd):
        """The optional `=id` of OTCP, LTCPSTART, LTCPSTOP, VTCP (1 when absent)."""
        if cmd.op == ACTION:
            return 1
        if cmd.op == SET and len(cmd.args) == 1:
            return int_arg(cmd.args[0], 1, 2)
        raise CmdError(E_SYNTAX)
