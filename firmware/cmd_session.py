"""AT# commands that open or close something: the bearer (AT#CONNECTIONSTART/STOP), sessions
(AT#OTCP, AT#OUDP, AT#LTCPSTART/STOP), AT#PING and AT#RESET; loaded on first use. They call
the modem (modem.py), which raises CmdError with the dialect's error code when they fail."""

import results
from atparse import ACTION, SET, TEST
from errors import E_BAD_EVENT, E_SYNTAX, E_VALUE, CmdError


async def run(it, cmd, name):
    return await COMMANDS[name](it, cmd)


async def hash_connectionstart(it, cmd):
    if cmd.op == TEST:
        return None
    if cmd.op != ACTION:
        raise CmdError(E_SYNTAX)
    ip = await it.modem.bearer_up()  # raises CmdError
    it.info(ip)
    return results.GPRS_ACTIVATION


async def hash_connectionstop(it, cmd):
    if cmd.op == TEST:
        return None
    if cmd.op != ACTION:
        raise CmdError(E_SYNTAX)
    if not it.modem.bearer_is_up():
        raise CmdError(E_BAD_EVENT)
    await it.modem.bearer_down()
    return None


async def hash_otcp(it, cmd):
    profile = it.profile_id(cmd)
    await it.modem.open_tcp(profile)  # raises CmdError
    return results.WAITING_FOR_DATA


async def hash_oudp(it, cmd):
    if cmd.op != ACTION:
        raise CmdError(E_SYNTAX)
    await it.modem.open_udp()  # raises CmdError
    return results.WAITING_FOR_DATA


async def hash_ping(it, cmd):
    if cmd.op == TEST:
        return None
    if cmd.op != ACTION:
        raise CmdError(E_SYNTAX)
    await it.modem.ping()  # writes a line per echo, raises CmdError when none came
    return None


async def hash_ltcpstart(it, cmd):
    await it.modem.listen(it.profile_id(cmd))  # raises CmdError
    return None


async def hash_ltcpstop(it, cmd):
    await it.modem.stop_listening(it.profile_id(cmd))
    return None


async def hash_reset(it, cmd):
    if cmd.op == SET and (len(cmd.args) != 1 or cmd.args[0].text not in ("0", "1")):
        raise CmdError(E_VALUE)
    it.after = it.modem.soft_reset
    return None


COMMANDS = {
    "CONNECTIONSTART": hash_connectionstart,
    "CONNECTIONSTOP": hash_connectionstop,
    "OTCP": hash_otcp,
    "OUDP": hash_oudp,
    "PING": hash_ping,
    "LTCPSTART": hash_ltcpstart,
    "LTCPSTOP": hash_ltcpstop,
    "RESET": hash_reset,
}
