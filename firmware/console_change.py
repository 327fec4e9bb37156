"""How the console changes an AT# parameter: through AT's own path, cmd_params.store() (the
same validation, file, lock while a session, listener or service runs, and the same reasons),
and the V.250 profile saved with AT&W, under the same lock."""

import settings as cfg
from errors import E_BUSY, E_EEPROM, E_VALUE, CmdError

REASONS = {
    E_BUSY: "refused: a session, listener or service is running (#CME ERROR: 37123)",
    E_VALUE: "refused: invalid value (#CME ERROR: 34882)",
    E_EEPROM: "refused: could not be stored (#CME ERROR: 34824)",
}


def store(modem, name, value, profile=1):
    """AT#NAME=value as AT does it: None when stored, else the reason."""
    it = modem.interp
    try:
        it.load("cmd_params").store(it, name, value, profile)
    except CmdError as e:
        return REASONS.get(e.code, "refused (#CME ERROR: %s)" % e.code)
    return None


def set_saved_profile(st, name, value):
    """One value of the saved V.250 profile (AT changes the live one, then AT&W saves it):
    validated (ValueError) and stored (OSError) as AT&W stores it; the live one is kept."""
    value = cfg.validate_profile_value(name, value)
    old = st.saved_profile
    new = dict(old)
    new[name] = value
    st.saved_profile = new
    try:
        st.save()
    except OSError:
        st.saved_profile = old
        raise


def store_saved_profile(modem, name, text):
    """One value of the V.250 profile saved with AT&W ("2,2" for IFC): None, or the reason."""
    if modem.busy():
        return REASONS[E_BUSY]
    try:
        if name == "IFC":
            value = [cfg.parse_int(t.strip()) for t in text.split(",")]
        else:
            value = cfg.parse_int(text.strip())
        set_saved_profile(modem.settings, name, value)
    except ValueError:
        return "refused: invalid value (ERROR, as AT answers it)"
    except OSError:
        return "refused: could not be stored (+CME ERROR: 3, as AT&W)"
    return None


def result(modem, label, why, secret):
    """A change's line for the next page (and the log: the name, never the value)."""
    if why is not None:
        return ("err", "%s: %s" % (label, why))
    modem.log("console: %s changed" % label)
    return ("ok", "%s: stored%s" % (label, " (not shown)" if secret else ""))
