"""Two-factor login with TOTP (RFC 6238, via pyotp): enrolment with a QR code, one-time recovery codes, and a
site setting that makes it mandatory for chosen roles (those that see PHI).

Secrets are encrypted (Fernet) with CLINLABEL_TOTP_KEY / DATA_DIR/totp_key, which the database never holds: a
database dump alone cannot mint codes. A code is accepted once (its time step is remembered), within one step of
clock drift either way.
"""
from __future__ import annotations

import base64
import hashlib
import secrets
import time

import pyotp
import segno
from cryptography.fernet import Fernet, InvalidToken
from flask import current_app
from sqlalchemy import select

from server.extensions import db
from server.models import Membership, SiteSetting, User

ISSUER = "Clinlabel"
RECOVERY_CODES = 10
REQUIREMENT_KEY = "require_2fa"
SITE_ADMIN = "site_admin"
# What a user whose role requires two-factor login may still call before enrolling.
ENROLMENT_ENDPOINTS = {"api.me", "api.two_factor_status", "api.two_factor_begin", "api.two_factor_confirm",
                       "api.change_password", "api.delete_current_token", "api.renew_session", "api.health",
                       "web.account", "web.logout", "web.login", "web.login_second_factor", "static"}
_cache: dict[str, tuple[float, list[str]]] = {}


def _fernet() -> Fernet:
    material = hashlib.sha256(("clinlabel-totp:" + current_app.config["TOTP_KEY"]).encode()).digest()
    return Fernet(base64.urlsafe_b64encode(material))


def _secret(user: User) -> str | None:
    if not user.totp_secret:
        return None
    try:
        return _fernet().decrypt(user.totp_secret.encode()).decode()
    except InvalidToken:
        return None  # the key changed: the user must enrol again (an admin resets it)


def _digest(code: str) -> str:
    return hashlib.sha256(code.encode()).hexdigest()


def _normalise(code: str) -> str:
    return "".join(ch for ch in str(code) if ch.isalnum()).lower()


def begin_enrolment(user: User) -> dict:
    """A new secret (not active until confirmed with a code): the otpauth URI, its QR code and the secret."""
    secret = pyotp.random_base32()
    user.totp_secret = _fernet().encrypt(secret.encode()).decode()
    user.totp_enabled = False
    uri = pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)
    qr = segno.make(uri, error="m").svg_data_uri(scale=5, border=2)
    return {"secret": secret, "otpauth_uri": uri, "qr_svg_data_uri": qr, "digits": 6, "period_s": 30}


def confirm_enrolment(user: User, code: str) -> list[str] | None:
    """Turn two-factor on when `code` matches the pending secret; returns the recovery codes (shown once)."""
    if user.totp_enabled or not _check_totp(user, code):
        return None
    user.totp_enabled = True
    return new_recovery_codes(user)


def new_recovery_codes(user: User) -> list[str]:
    codes = ["-".join(secrets.token_hex(3) for _ in range(2)) for _ in range(RECOVERY_CODES)]
    user.recovery_codes = [_digest(_normalise(c)) for c in codes]
    return codes


def _check_totp(user: User, code: str) -> bool:
    secret = _secret(user)
    code = _normalise(code)
    if not secret or len(code) != 6 or not code.isdigit():
        return False
    totp = pyotp.TOTP(secret)
    now_step = int(time.time()) // totp.interval
    for step in (now_step, now_step - 1, now_step + 1):
        if secrets.compare_digest(totp.at(step * totp.interval), code):
            if user.totp_last_step is not None and step <= user.totp_last_step:
                return False  # replayed (or older than one already used)
            user.totp_last_step = step
            return True
    return False


def verify(user: User, code: str | None) -> bool:
    """A current TOTP code or an unused recovery code (which is then crossed out)."""
    if not user.totp_enabled or not code:
        return False
    if _check_totp(user, code):
        return True
    digest = _digest(_normalise(code))
    remaining = list(user.recovery_codes or [])
    for stored in remaining:
        if secrets.compare_digest(stored, digest):
            remaining.remove(stored)
            user.recovery_codes = remaining
            return True
    return False


def disable(user: User) -> None:
    user.totp_secret, user.totp_enabled, user.recovery_codes, user.totp_last_step = None, False, [], None


def required_roles() -> list[str]:
    """Roles (project roles, and "site_admin") that must log in with a second factor; cached for 5 s."""
    hit = _cache.get(REQUIREMENT_KEY)
    if hit and hit[0] > time.monotonic():
        return hit[1]
    row = db.session.get(SiteSetting, REQUIREMENT_KEY)
    roles = list((row.value or {}).get("roles", [])) if row else []
    _cache[REQUIREMENT_KEY] = (time.monotonic() + 5, roles)
    return roles


def set_required_roles(roles: list[str]) -> None:
    row = db.session.get(SiteSetting, REQUIREMENT_KEY)
    if row is None:
        db.session.add(SiteSetting(key=REQUIREMENT_KEY, value={"roles": sorted(set(roles))}))
    else:
        row.value = {"roles": sorted(set(roles))}
    _cache.pop(REQUIREMENT_KEY, None)


def required_for(user: User) -> bool:
    """The user's roles require a second factor (so it may not be turned off)."""
    roles = required_roles()
    if not roles:
        return False
    if user.is_admin and SITE_ADMIN in roles:
        return True
    held = db.session.execute(select(Membership.role).where(Membership.user_id == user.id)).scalars()
    return any(role in roles for role in held)


def must_enrol(user: User) -> bool:
    """The user's roles require two-factor login and it is not set up yet."""
    return not user.totp_enabled and required_for(user)
