"""`flask users ...`: the break-glass path when the web cannot help (the site admin locked out, a lost phone)."""
from __future__ import annotations

import secrets

import click
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy import select

from server.extensions import db


def _user(username: str):
    from server.models import User
    from server.text_checks import identifier_key

    user = db.session.execute(select(User).where(User.username_key == identifier_key(username))).scalar_one_or_none()
    if user is None:
        raise click.ClickException(f"no user {username!r}")
    return user


def register_user_cli(app: Flask) -> None:
    users = AppGroup("users", help="Unlock accounts, reset passwords and two-factor login (break glass).")

    @users.command("unlock")
    @click.argument("username")
    def unlock(username: str):
        """Clear an account's failed logins: its back-off ends at once."""
        from server import audit, login_guard

        user = _user(username)
        cleared = login_guard.unlock(user.username_key)
        audit.record(db.session, actor="cli", action="user.unlock", object_type="user", object_id=user.id,
                     details={"failures_cleared": cleared})
        db.session.commit()
        click.echo(f"{user.username}: {cleared} failed logins cleared")

    @users.command("break-glass")
    @click.argument("username")
    @click.option("--keep-2fa", is_flag=True, help="Keep two-factor login (only the password is reset).")
    def break_glass(username: str, keep_2fa: bool):
        """Regain an account (e.g. the site admin's): unlock it, end its sessions and tokens, print a new
        one-time password (shown once), and turn two-factor login off unless --keep-2fa."""
        from server import audit, login_guard, two_factor
        from server.auth import end_sessions, hash_password, revoke_token

        user = _user(username)
        password = secrets.token_urlsafe(15)
        user.password_hash = hash_password(password)
        user.is_active = True
        login_guard.unlock(user.username_key)
        end_sessions(user)
        for token in user.tokens:
            if token.revoked_at is None:
                revoke_token(token)
        if not keep_2fa:
            two_factor.disable(user)
        audit.record(db.session, actor="cli", action="user.break_glass", object_type="user", object_id=user.id,
                     details={"two_factor_reset": not keep_2fa})
        db.session.commit()
        click.echo(f"{user.username}: unlocked, sessions ended{', two-factor off' if not keep_2fa else ''}.\n"
                   f"New password (shown once; change it after logging in): {password}")

    app.cli.add_command(users)
