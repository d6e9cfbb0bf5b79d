"""Who is calling: session login (UI), bearer tokens (API), idle timeout, login throttling.

Every API request resolves its user here (`load_api_user`), once; authorization is in permissions.py.
"""
from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app, g, request, session
from flask_login import current_user, login_user, logout_user
from flask_wtf.csrf import CSRFError, validate_csrf
from sqlalchemy import bindparam, select, text
from werkzeug.security import check_password_hash, generate_password_hash
from wtforms import ValidationError

from server import audit, login_guard, two_factor
from server.db import begin_writes
from server.errors import ApiError
from server.extensions import db, login_manager
from server.models import ApiToken, User, as_utc, utcnow
from server.passwords import password_problem
from server.text_checks import identifier_key

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
# A fixed hash to compare against when the user does not exist, so timing does not reveal usernames.
_DUMMY_HASH = generate_password_hash("not-a-real-password", method="scrypt")


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def check_password_strength(password: str, username: str | None = None) -> None:
    problem = password_problem(password, username)
    if problem:
        raise ApiError(400, problem)


def _token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


_USER_BY_ID = select(User).where(User.id == bindparam("user_id"))  # built once (see server/statements.py)


@login_manager.user_loader
def _load_user(user_id: str):
    user = db.session.execute(_USER_BY_ID, {"user_id": int(user_id)}).scalar_one_or_none() if user_id.isdigit() \
        else None
    if user is None or not user.is_active:
        return None
    if session.get("sv") != user.session_version:
        return None  # logged out, password changed or access removed since this cookie was issued
    started = session.get("started")
    lifetime = float(current_app.config["SESSION_MAX_HOURS"]) * 3600
    if not isinstance(started, (int, float)) or utcnow().timestamp() - started > lifetime:
        return None  # absolute lifetime: activity does not keep a session alive forever
    return user


def end_sessions(user: User) -> None:
    """Invalidate every session of `user` (all browsers): commit with the change that calls for it."""
    user.session_version = (user.session_version or 0) + 1


def _failed(key: str, client: str, username: str, channel: str, why: str, rollback: bool = True) -> None:
    """Record a failed attempt in a transaction of its own (the request's is rolled back), or (rollback=False) in
    the one that checked the throttle, which holds the lock that orders attempts."""
    if rollback:
        db.session.rollback()
    login_guard.record(key, client, ok=False)
    audit.record(db.session, actor=username[:120], action="login", outcome="failure", object_type="user",
                 object_id=username[:120], details={"channel": channel, "why": why})
    db.session.commit()


def _throttle(key: str, client: str, username: str, channel: str) -> None:
    try:
        login_guard.check(key, client)
    except ApiError:
        begin_writes(db.session)
        audit.record_now(db, actor=username[:120], action="login", outcome="locked", object_type="user",
                         object_id=username[:120], details={"channel": channel})
        raise


LOGIN_LOCK_SPACE = 0x4C6F67  # PostgreSQL advisory locks (int4, int4): this space, then the account's key's hash


def _one_attempt_at_a_time(key: str) -> None:
    if db.session.get_bind().dialect.name == "postgresql":
        db.session.execute(text("SELECT pg_advisory_xact_lock(:space, hashtext(:key))"),
                           {"space": LOGIN_LOCK_SPACE, "key": key})


def verify_credentials(username: str, password: str, channel: str, otp: str | None = None) -> User:
    """Check a username/password pair (and the second factor when the account has one) with throttling; audits
    success and failure. Usernames match in their normalised form (`ADMIN` is `admin`). Raises ApiError."""
    if not isinstance(username, str) or not isinstance(password, str) or not username or len(username) > 80:
        raise ApiError(400, "username and password are required")
    key, client = identifier_key(username)[:80], login_guard.client_id()
    _throttle(key, client, username, channel)
    user = db.session.execute(select(User).where(User.username_key == key)).scalar_one_or_none()
    # The hash (scrypt, ~80 ms of CPU) runs in the read transaction: on SQLite, holding the write lock through it
    # stalled every other writer (each annotator's save) for as long. (Login routes: server.db.READ_BEFORE_LOCK.)
    ok = check_password_hash(user.password_hash if user else _DUMMY_HASH, password)
    begin_writes(db.session)
    # Checked again, one attempt at a time per account (SQLite's write lock; on PostgreSQL an advisory lock), and a
    # failure is recorded before that lock is let go: attempts made in parallel all passed the first check, but
    # each is counted before the next is answered, so none slips past the limit (whatever its password).
    _one_attempt_at_a_time(key)
    _throttle(key, client, username, channel)
    if not ok or user is None or not user.is_active:
        _failed(key, client, username, channel, "password", rollback=False)
        raise ApiError(401, "invalid username or password")
    if user.totp_enabled:
        if not otp:
            db.session.rollback()
            raise SecondFactorRequired(user.id)
        return second_factor(user, otp, channel)
    return _succeeded(user, key, client, channel)


class SecondFactorRequired(ApiError):
    """The password was right; the account has two-factor login. The web login keeps `user_id` in the session
    (not in any reply) for its second step."""

    def __init__(self, user_id: int):
        super().__init__(401, "enter the 6-digit code from your authenticator app (or a recovery code)",
                         code="otp_required")
        self.user_id = user_id


def second_factor(user: User, otp: str, channel: str) -> User:
    """Check the second factor of a user whose password was just accepted (throttled like passwords)."""
    key, client = user.username_key, login_guard.client_id()
    login_guard.check(key, client)
    if not two_factor.verify(user, otp):
        db.session.rollback()
        _failed(key, client, user.username, channel, "second factor")
        raise ApiError(401, "the two-factor code is wrong or was already used", code="otp_invalid")
    return _succeeded(user, key, client, channel)


def _succeeded(user: User, key: str, client: str, channel: str) -> User:
    login_guard.record(key, client, ok=True)
    user.last_login_at = utcnow()
    audit.record(db.session, actor=user.username, action="login", outcome="success", object_type="user",
                 object_id=user.username, details={"channel": channel, "second_factor": user.totp_enabled})
    return user


def issue_token(user: User, name: str = "") -> str:
    token = secrets.token_urlsafe(32)
    ttl = timedelta(hours=current_app.config["TOKEN_TTL_HOURS"])
    db.session.add(ApiToken(user_id=user.id, token_hash=_token_digest(token), name=name[:120],
                            expires_at=utcnow() + ttl))
    return token


def revoke_token(token: ApiToken) -> None:
    token.revoked_at = utcnow()


def session_login(user: User) -> None:
    session.clear()
    login_user(user)
    session["last_seen"] = session["started"] = utcnow().timestamp()
    session["sv"] = user.session_version
    session.permanent = False


def session_logout() -> None:
    logout_user()
    session.clear()


def session_expired() -> bool:
    last_seen = session.get("last_seen")
    idle = current_app.config["IDLE_TIMEOUT_MIN"] * 60
    return last_seen is None or utcnow().timestamp() - float(last_seen) > idle


# A page's activity is written into its session cookie at most this often: each write re-signs the cookie and
# sends it back with the response, which every autosave and read of an open page did before. The idle timeout
# (minutes) is then reached up to this much earlier than the last request, never later.
TOUCH_EVERY_S = 15


def touch_session(force: bool = False) -> None:
    """Renew the session's idle timer (force: now, as the page's keep-alive, GET /me, asks)."""
    now = utcnow().timestamp()
    last = session.get("last_seen")
    if force or not isinstance(last, (int, float)) or not 0 <= now - last < TOUCH_EVERY_S:
        session["last_seen"] = now


# Built once, like _USER_BY_ID: constructing a statement costs more CPU than running it (server/statements.py).
_TOKEN_LOOKUP = select(ApiToken, User).join(User, User.id == ApiToken.user_id).where(
    ApiToken.token_hash == bindparam("digest"))


def load_api_user() -> User | None:
    """Resolve the caller of an API request into g.user (None when anonymous). Raises 401 on a bad credential."""
    g.user, g.token = None, None
    header = request.headers.get("Authorization", "")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            raise ApiError(401, "Authorization header must be 'Bearer <token>'")
        # Token and user in one statement, read on every request and never cached: a revocation, a disabled
        # account or a changed password (which revokes tokens) holds from the very next request, in every web
        # process. A per-process cache would still need one read per request to learn of such changes.
        row = db.session.execute(_TOKEN_LOOKUP, {"digest": _token_digest(value.strip())}).first()
        token, user = row if row is not None else (None, None)
        if token is None or token.revoked_at is not None or as_utc(token.expires_at) <= utcnow():
            raise ApiError(401, "token is invalid, expired or revoked")
        if not user.is_active:
            raise ApiError(401, "account is disabled")
        g.user, g.token = user, token
        return g.user
    if current_user.is_authenticated:
        if session_expired():
            session_logout()
            raise ApiError(401, "session expired; log in again")
        if request.method not in SAFE_METHODS:
            try:
                validate_csrf(request.headers.get("X-CSRFToken", ""))
            except (ValidationError, CSRFError) as exc:
                raise ApiError(400, f"CSRF check failed: {exc}") from None
        touch_session()
        g.user = current_user._get_current_object()
    return g.user


def actor_name(user: User | None = None) -> str:
    user = user if user is not None else g.get("user")
    return user.username if user is not None else "anonymous"
