"""Password policy: long enough, not one of the 20,000 most common passwords (a list shipped in server/data, see
its SOURCE file), not built from the username, not one character repeated."""
from __future__ import annotations

import gzip
import os
import re
from functools import lru_cache

from server.text_checks import identifier_key, identifier_problem

MIN_LENGTH = 10
MAX_LENGTH = 256
_LIST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "data", "common-passwords.txt.gz")
# "password12", "Welcome2024!" and "qwerty-123" are the common word with the digits and signs people add.
_DECORATION = re.compile(r"[\d\W_]+$|^[\d\W_]+")


@lru_cache(maxsize=1)
def common_passwords() -> frozenset[str]:
    with gzip.open(_LIST, "rt", encoding="utf-8") as fh:
        return frozenset(line.strip() for line in fh if line.strip())


def new_account_problem(username: str, password: object) -> str | None:
    """Why a new account cannot have this username or password (API, CLI and the bootstrap admin alike)."""
    return identifier_problem(username, "username") or password_problem(password, username)


def password_problem(password: object, username: str | None = None) -> str | None:
    """Why `password` is refused, or None. The message never repeats the password."""
    if not isinstance(password, str) or len(password) < MIN_LENGTH:
        return f"password must be at least {MIN_LENGTH} characters"
    if len(password) > MAX_LENGTH:
        return f"password must be at most {MAX_LENGTH} characters"
    lowered = password.casefold()
    if len(set(lowered)) < 4:
        return "password uses too few different characters"
    common = common_passwords()
    core = _DECORATION.sub("", lowered)
    if lowered in common or lowered.strip() in common or (len(core) >= 4 and core in common):
        return "password is too common (it is on the list of the 20,000 most used passwords); choose another"
    if username:
        name = identifier_key(username)
        if len(name) >= 3 and (name in lowered or lowered in name):
            return "password must not contain the username"
    return None
