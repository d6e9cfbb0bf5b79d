"""The caller's own password and two-factor login; site security settings; unlocking and resetting accounts."""
from __future__ import annotations

from apiflask import Schema, fields
from apiflask.validators import Length, OneOf
from flask import g
from werkzeug.security import check_password_hash

from server import audit, login_guard, two_factor
from server.api.blueprint import api_bp
from server.api.serialize import user_out
from server.auth import check_password_strength, end_sessions, hash_password, revoke_token, session_login
from server.errors import ApiError
from server.extensions import db
from server.models import ROLES, User
from server.permissions import require_site_admin, require_user

class PasswordChangeIn(Schema):
    current_password = fields.String(required=True, validate=Length(min=1, max=256))
    new_password = fields.String(required=True, validate=Length(min=1, max=256))


class PasswordIn(Schema):
    password = fields.String(required=True, validate=Length(min=1, max=256))


class CodeIn(Schema):
    code = fields.String(required=True, validate=Length(min=6, max=20))


class DisableIn(Schema):
    password = fields.String(required=True, validate=Length(min=1, max=256))
    code = fields.String(required=True, validate=Length(min=6, max=20))


class SecuritySettingsIn(Schema):
    require_2fa = fields.List(fields.String(validate=OneOf([*ROLES, two_factor.SITE_ADMIN])), required=True,
                              validate=Length(max=len(ROLES) + 1))


def _password_ok(user: User, password: str) -> None:
    if not check_password_hash(user.password_hash, password):
        audit.record_now(db, actor=user.username, action="password.check", outcome="failure", object_type="user",
                         object_id=user.username)
        raise ApiError(403, "the current password is wrong")


def _status(user: User) -> dict:
    return {"enabled": user.totp_enabled, "required": two_factor.required_for(user),
            "recovery_codes_left": len(user.recovery_codes or []) if user.totp_enabled else 0}


@api_bp.post("/me/password")
@api_bp.input(PasswordChangeIn)
@api_bp.doc(summary="Change your own password (ends your other sessions and revokes your tokens)")
def change_password(json_data):
    user = require_user()
    _password_ok(user, json_data["current_password"])
    check_password_strength(json_data["new_password"], user.username)
    user.password_hash = hash_password(json_data["new_password"])
    end_sessions(user)
    for token in user.tokens:
        if token.revoked_at is None and token is not g.get("token"):
            revoke_token(token)
    audit.record(db.session, actor=user.username, action="password.change", object_type="user", object_id=user.id)
    db.session.commit()
    if g.get("token") is None:  # keep this browser logged in under the new session version
        session_login(user)
    return "", 204


@api_bp.get("/me/2fa")
@api_bp.doc(summary="Your two-factor login: enabled, required by your roles, recovery codes left")
def two_factor_status():
    return _status(require_user())


@api_bp.post("/me/2fa")
@api_bp.input(PasswordIn)
@api_bp.doc(summary="Start two-factor enrolment: a new secret with its QR code (not active until confirmed)")
def two_factor_begin(json_data):
    user = require_user()
    _password_ok(user, json_data["password"])
    if user.totp_enabled:
        raise ApiError(409, "two-factor login is already on; turn it off first to enrol another device")
    out = two_factor.begin_enrolment(user)
    audit.record(db.session, actor=user.username, action="2fa.begin", object_type="user", object_id=user.id)
    db.session.commit()
    return out, 201


@api_bp.post("/me/2fa/confirm")
@api_bp.input(CodeIn)
@api_bp.doc(summary="Confirm enrolment with a code from the app: turns two-factor on, returns recovery codes once")
def two_factor_confirm(json_data):
    user = require_user()
    if not user.totp_secret:
        raise ApiError(409, "start enrolment first (POST /me/2fa)")
    codes = two_factor.confirm_enrolment(user, json_data["code"])
    if codes is None:
        db.session.rollback()
        raise ApiError(400, "the code does not match; check the phone's clock and type the current code")
    audit.record(db.session, actor=user.username, action="2fa.enable", object_type="user", object_id=user.id)
    db.session.commit()
    return {"recovery_codes": codes, **_status(user)}


@api_bp.delete("/me/2fa")
@api_bp.input(DisableIn)
@api_bp.doc(summary="Turn two-factor login off (password and a current code; refused when your role requires it)")
def two_factor_disable(json_data):
    user = require_user()
    _password_ok(user, json_data["password"])
    if two_factor.required_for(user):
        raise ApiError(403, "two-factor login is required for your role and cannot be turned off")
    if not two_factor.verify(user, json_data["code"]):
        db.session.rollback()
        raise ApiError(400, "the two-factor code is wrong or was already used")
    two_factor.disable(user)
    audit.record(db.session, actor=user.username, action="2fa.disable", object_type="user", object_id=user.id)
    db.session.commit()
    return _status(user)


@api_bp.get("/settings/security")
@api_bp.doc(summary="Site security settings (site admin): roles that must use two-factor login")
def get_security_settings():
    require_site_admin()
    return {"require_2fa": two_factor.required_roles(), "roles": [*ROLES, two_factor.SITE_ADMIN]}


@api_bp.patch("/settings/security")
@api_bp.input(SecuritySettingsIn)
@api_bp.doc(summary="Require two-factor login for roles (project roles and site_admin); members of those roles "
                    "must enrol at their next request")
def patch_security_settings(json_data):
    admin = require_site_admin()
    two_factor.set_required_roles(json_data["require_2fa"])
    audit.record(db.session, actor=admin.username, action="settings.update", object_type="site",
                 object_id="security", details={"require_2fa": sorted(set(json_data["require_2fa"]))})
    db.session.commit()
    return get_security_settings()


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        raise ApiError(404, f"user {user_id} not found")
    return user


@api_bp.post("/users/<int:user_id>/unlock")
@api_bp.doc(summary="Clear an account's failed logins (site admin): its login back-off ends at once")
def unlock_user(user_id):
    admin = require_site_admin()
    user = _user_or_404(user_id)
    cleared = login_guard.unlock(user.username_key)
    audit.record(db.session, actor=admin.username, action="user.unlock", object_type="user", object_id=user.id,
                 details={"failures_cleared": cleared})
    db.session.commit()
    return {"failures_cleared": cleared, **user_out(user)}


@api_bp.post("/users/<int:user_id>/reset-2fa")
@api_bp.doc(summary="Turn a user's two-factor login off (site admin; a lost phone): ends their sessions")
def reset_user_two_factor(user_id):
    admin = require_site_admin()
    user = _user_or_404(user_id)
    two_factor.disable(user)
    end_sessions(user)
    audit.record(db.session, actor=admin.username, action="2fa.reset", object_type="user", object_id=user.id)
    db.session.commit()
    return user_out(user)
