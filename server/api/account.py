"""Tokens, users, health."""
from __future__ import annotations

from datetime import timedelta

from flask import current_app, g
from sqlalchemy import select, text

from server import audit
from server.api.blueprint import api_bp
from server.api.pagination import page
from server.api.schemas import PageQuery, TokenIn, UserIn, UserPatch
from server.api.serialize import iso, user_out
from server.auth import (actor_name, check_password_strength, hash_password, issue_token, revoke_token, touch_session,
                         verify_credentials)
from server.errors import ApiError
from server.extensions import db
from server.models import User, WorkerHeartbeat, as_utc, utcnow
from server.permissions import require_site_admin, require_user
from server.passwords import new_account_problem
from server.text_checks import identifier_key


@api_bp.post("/tokens")
@api_bp.input(TokenIn)
@api_bp.doc(summary="Exchange username and password for a bearer token")
def create_token(json_data):
    user = verify_credentials(json_data["username"], json_data["password"], channel="api", otp=json_data.get("otp"))
    token = issue_token(user, json_data.get("name", ""))
    db.session.commit()
    return {"token": token, "username": user.username, "expires_in_hours": current_app.config["TOKEN_TTL_HOURS"]}, 201


@api_bp.post("/session")
@api_bp.input(TokenIn)
@api_bp.doc(summary="Log in again from an open page (JSON; same checks, throttling and audit as the login form): "
                    "the page keeps its unsaved work and gets a fresh CSRF token")
def renew_session(json_data):
    from flask import session
    from flask_wtf.csrf import generate_csrf

    from server.auth import session_login

    current = g.get("user")
    user = verify_credentials(json_data["username"], json_data["password"], channel="web", otp=json_data.get("otp"))
    if current is not None and current.id != user.id:
        raise ApiError(409, "this page belongs to another user's session; log out first")
    db.session.commit()
    session.clear()
    session_login(user)
    return {"username": user.username, "csrf_token": generate_csrf(),
            "idle_timeout_s": current_app.config["IDLE_TIMEOUT_MIN"] * 60}, 201


@api_bp.delete("/tokens/current")
@api_bp.doc(summary="Revoke the bearer token used for this request (logout for scripts)")
def delete_current_token():
    require_user()
    if g.get("token") is None:
        raise ApiError(400, "this request was not made with a bearer token")
    revoke_token(g.token)
    audit.record(db.session, actor=actor_name(), action="token.revoke", object_type="token", object_id=g.token.id)
    db.session.commit()
    return "", 204


@api_bp.get("/me")
@api_bp.doc(summary="The caller; for a session, also the idle timeout (each call renews it)")
def me():
    out = user_out(require_user())
    if g.get("token") is None:
        touch_session(force=True)  # the page's "stay signed in": its idle timer restarts exactly now
    out["idle_timeout_s"] = current_app.config["IDLE_TIMEOUT_MIN"] * 60
    return out


@api_bp.get("/health")
@api_bp.doc(summary="Liveness of the database, the queue and the workers. Anonymous callers get the states only; "
                    "site admins also see each worker (host, pid, queues, device) and GPU routing")
def health():
    out = {"status": "ok", "database": "ok", "queue": "ok", "workers_live": 0}
    workers = []
    try:
        db.session.execute(text("SELECT 1"))
        since = utcnow() - timedelta(seconds=30)
        beats = db.session.execute(select(WorkerHeartbeat)).scalars().all()
        workers = [{"worker": b.worker, "queues": b.queues.split(","), "device": b.device,
                    "seen_at": iso(b.seen_at)} for b in beats if as_utc(b.seen_at) >= since]
    except Exception:  # noqa: BLE001 - health reports, it does not fail
        db.session.rollback()
        out["database"] = "unavailable"
        out["status"] = "degraded"
    from server.jobs.queue import broker_reachable, gpu_worker_live

    if not broker_reachable():
        out["queue"] = "unavailable"
        out["status"] = "degraded"
    out["workers_live"] = len(workers)
    if not workers:
        out["status"] = "degraded" if out["status"] == "ok" else out["status"]
    user = g.get("user")
    if user is not None and user.is_admin:
        # Host names, pids and devices help an attacker map the site: site admins only.
        out["workers"] = workers
        gpu = out["database"] == "ok" and gpu_worker_live()
        out["gpu_routing"] = "gpu queue served" if gpu else "no live gpu worker: GPU-wanting jobs run on cpu"
    return out, 200 if out["database"] == "ok" else 503


@api_bp.post("/users")
@api_bp.input(UserIn)
@api_bp.doc(summary="Create a user (site admin)")
def create_user(json_data):
    admin = require_site_admin()
    problem = new_account_problem(json_data["username"], json_data["password"])
    if problem:
        raise ApiError(400, problem)
    key = identifier_key(json_data["username"])
    # Hashed before the first statement, which takes SQLite's write lock: other writers never wait for scrypt.
    password_hash = hash_password(json_data["password"])
    exists = db.session.execute(select(User.username).where(User.username_key == key)).scalar_one_or_none()
    if exists is not None:
        raise ApiError(409, f"username {json_data['username']!r} is taken (by {exists!r}: names are compared "
                            "ignoring case, width and surrounding spaces)")
    user = User(username=json_data["username"], password_hash=password_hash, is_admin=json_data["is_admin"])
    db.session.add(user)
    db.session.flush()
    audit.record(db.session, actor=admin.username, action="user.create", object_type="user", object_id=user.id,
                 details={"is_admin": user.is_admin})
    db.session.commit()
    return user_out(user), 201


@api_bp.get("/users")
@api_bp.input(PageQuery, location="query")
def list_users(query_data):
    require_site_admin()
    rows, nxt = page(db.session, select(User), User.id, query_data["limit"], query_data["cursor"])
    return {"items": [user_out(u) for u in rows], "next_cursor": nxt}


@api_bp.patch("/users/<int:user_id>")
@api_bp.input(UserPatch)
def patch_user(user_id, json_data):
    admin = require_site_admin()
    # Hashed before the first statement, which takes SQLite's write lock (as in create_user).
    new_hash = hash_password(json_data["password"]) if "password" in json_data else None
    user = db.session.get(User, user_id)
    if user is None:
        raise ApiError(404, f"user {user_id} not found")
    if user.id == admin.id and (json_data.get("is_admin") is False or json_data.get("is_active") is False):
        raise ApiError(400, "you cannot remove your own admin rights or disable yourself")
    if new_hash is not None:
        check_password_strength(json_data.pop("password"), user.username)
        user.password_hash = new_hash
        json_data["password_changed"] = True
    for key in ("is_admin", "is_active"):
        if key in json_data:
            setattr(user, key, json_data[key])
    if json_data.get("is_active") is False or json_data.get("password_changed"):
        from server.auth import end_sessions

        end_sessions(user)
        for token in user.tokens:  # a disabled account's tokens stop working at once
            if token.revoked_at is None:
                revoke_token(token)
    audit.record(db.session, actor=admin.username, action="user.update", object_type="user", object_id=user.id,
                 details={k: v for k, v in json_data.items()})
    db.session.commit()
    return user_out(user)
