"""Login throttling with exponential back-off instead of a lock anybody can trigger.

Three counters over the last LOGIN_LOCKOUT_MIN minutes, each starting after the last successful login it covers:
- one account from one client (LOGIN_MAX_FAILURES): a mistyping user waits 30 s, then 60 s, 120 s ...;
- one client over all accounts (LOGIN_CLIENT_MAX_FAILURES): stops a client trying 40 usernames;
- one account from all clients (LOGIN_ACCOUNT_MAX_FAILURES): slows a distributed guess. Clients that logged in to
  that account successfully in the last 30 days are exempt, so a botnet cannot lock the site admin out of their own
  workstation; an admin (API) or the command line (`flask users unlock`) clears an account's failures.
The client is the remote address (behind the shipped nginx front, CLINLABEL_PROXY_COUNT=1 makes it the real one).
"""
from __future__ import annotations

from datetime import timedelta

from flask import current_app, has_request_context, request
from sqlalchemy import delete, func, select

from server.errors import ApiError
from server.extensions import db
from server.models import LoginAttempt, utcnow, as_utc

BASE_DELAY_S = 30
KNOWN_CLIENT_DAYS = 30


def client_id() -> str:
    return ((request.remote_addr if has_request_context() else None) or "local")[:64]


def _failures(*conditions, since) -> tuple[int, object]:
    count, last = db.session.execute(
        select(func.count(), func.max(LoginAttempt.time)).where(
            LoginAttempt.ok.is_(False), LoginAttempt.time >= since, *conditions)).one()
    return count, last


def _last_success(*conditions):
    return db.session.execute(select(func.max(LoginAttempt.time)).where(LoginAttempt.ok.is_(True), *conditions)
                              ).scalar_one()


def check(username_key: str, client: str) -> None:
    """Raise 429 (with Retry-After) while a counter is in back-off."""
    cfg = current_app.config
    now = utcnow()
    window = timedelta(minutes=cfg["LOGIN_LOCKOUT_MIN"])
    start = now - window
    pair = (LoginAttempt.username_key == username_key, LoginAttempt.client == client)
    account = (LoginAttempt.username_key == username_key,)
    by_client = (LoginAttempt.client == client,)
    rules = [(pair, cfg["LOGIN_MAX_FAILURES"], "for this account from your address"),
             (by_client, cfg["LOGIN_CLIENT_MAX_FAILURES"], "from your address")]
    known = _last_success(*pair)
    if known is None or as_utc(known) < now - timedelta(days=KNOWN_CLIENT_DAYS):
        rules.append((account, cfg["LOGIN_ACCOUNT_MAX_FAILURES"], "for this account"))
    for conditions, limit, scope in rules:
        success = _last_success(*conditions) if conditions is not by_client else None
        since = max(start, as_utc(success)) if success is not None else start
        count, last = _failures(*conditions, since=since)
        if count < limit or last is None:
            continue
        delay = min(BASE_DELAY_S * 2 ** (count - limit), window.total_seconds())
        wait = int((as_utc(last) + timedelta(seconds=delay) - now).total_seconds()) + 1
        if wait > 0:
            raise ApiError(429, f"too many failed logins {scope}; try again in {wait} s",
                           headers={"Retry-After": str(wait)})


def record(username_key: str, client: str, ok: bool) -> None:
    db.session.add(LoginAttempt(username_key=username_key[:80], client=client[:64], ok=ok))


def unlock(username_key: str) -> int:
    """Forget an account's failures (an admin's unlock, the break-glass command); returns how many."""
    result = db.session.execute(delete(LoginAttempt).where(LoginAttempt.username_key == username_key,
                                                          LoginAttempt.ok.is_(False)))
    return result.rowcount or 0


def prune() -> None:
    """Failures matter for a window; successes mark known clients for 30 days."""
    now = utcnow()
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.ok.is_(False), LoginAttempt.time < now - timedelta(days=1)))
    db.session.execute(delete(LoginAttempt).where(LoginAttempt.time < now - timedelta(days=KNOWN_CLIENT_DAYS)))
