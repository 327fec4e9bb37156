"""The console password as it is stored: a salted, iterated SHA-256, never the password itself.

Stored form: "s1$" + 16 hex digits of random salt + "$" + 64 hex digits of hash (84 characters).
Loaded only when AT#CONSOLEPW is set, a stored one is checked at boot, or the console checks a
password.
"""

import binascii
import hashlib
import os

PREFIX = "s1$"
ROUNDS = 1000  # about 15 ms on the VM; the console yields to the loop between steps
STEP = 100  # rounds between two yields of steps()
MIN_LENGTH = 8


def steps(password, salt):
    """A generator: None every STEP rounds (the console lets the loop run meanwhile), then the
    hash as hex text."""
    pw = password.encode()
    h = hashlib.sha256(salt + pw).digest()
    for i in range(ROUNDS):
        h = hashlib.sha256(h + salt + pw).digest()
        if i % STEP == STEP - 1:
            yield None
    yield binascii.hexlify(h).decode()


def digest(password, salt):
    result = None
    for result in steps(password, salt):  # noqa: B007 - the last one is the hash
        pass
    return result


def make(password):
    """The stored form of a new password ("" clears it); ValueError when it is too short."""
    if not password:
        return ""
    if len(password) < MIN_LENGTH:
        raise ValueError("password too short")
    salt = binascii.hexlify(os.urandom(8))
    return PREFIX + salt.decode() + "$" + digest(password, salt)


def salt_and_hash(stored):
    """(salt bytes, hash hex) of a stored form."""
    return stored[3:19].encode(), stored[20:]


def is_stored(value):
    """A stored console password: "" (none) or "s1$<16 hex>$<64 hex>" as make() gives it."""
    if value == "":
        return True
    if not isinstance(value, str) or len(value) != 84 or value[:3] != PREFIX or value[19] != "$":
        return False
    for c in (value[3:19] + value[20:]).encode():
        if not (48 <= c <= 57 or 97 <= c <= 102):
            return False
    return True
