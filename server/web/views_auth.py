"""Login and logout for the UI (session cookie, CSRF-protected form, throttled, audited)."""
from __future__ import annotations

from flask import redirect, render_template, request, session, url_for
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from server import audit
from server.auth import SecondFactorRequired, second_factor, session_login, session_logout, verify_credentials
from server.errors import ApiError
from server.extensions import db
from server.models import User, utcnow
from server.web.blueprint import web_bp

PENDING_S = 300  # the second step must follow the password within five minutes


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


class CodeForm(FlaskForm):
    code = StringField("Code", validators=[DataRequired(), Length(min=6, max=20)])


@web_bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = "Your session expired. Log in again." if request.args.get("expired") else None
    status = 200
    if form.validate_on_submit():
        try:
            user = verify_credentials(form.username.data, form.password.data, channel="web")
        except SecondFactorRequired as pending:
            session.clear()
            session["pending_2fa"] = {"uid": pending.user_id, "at": utcnow().timestamp()}
            return redirect(url_for("web.login_second_factor"))
        except ApiError as exc:
            error, status = exc.message, exc.status_code
        else:
            db.session.commit()
            session_login(user)
            return redirect(url_for("web.projects"))
    elif request.method == "POST":
        error, status = "Fill in username and password (and reload the page if it was open for long).", 400
    return render_template("login.html", form=form, error=error), status


@web_bp.route("/login/code", methods=["GET", "POST"])
def login_second_factor():
    pending = session.get("pending_2fa") or {}
    user = db.session.get(User, pending.get("uid")) if isinstance(pending.get("uid"), int) else None
    if user is None or not user.is_active or utcnow().timestamp() - float(pending.get("at", 0)) > PENDING_S:
        session.pop("pending_2fa", None)
        return redirect(url_for("web.login", expired=1))
    form, error, status = CodeForm(), None, 200
    if form.validate_on_submit():
        try:
            second_factor(user, form.code.data, channel="web")
        except ApiError as exc:
            error, status = exc.message, exc.status_code
        else:
            db.session.commit()
            session_login(user)  # clears the pending step
            return redirect(url_for("web.projects"))
    elif request.method == "POST":
        error, status = "Type the 6-digit code (or a recovery code).", 400
    return render_template("login_code.html", form=form, error=error), status


@web_bp.get("/account")
def account():
    from flask import g

    from server import two_factor

    return render_template("account.html", must_enrol=two_factor.must_enrol(g.user))


@web_bp.post("/logout")
def logout():
    from flask import g

    if g.get("user") is not None:
        from server.auth import end_sessions

        end_sessions(g.user)  # a copy of this cookie must not outlive the logout
        audit.record(db.session, actor=g.user.username, action="logout", object_type="user",
                     object_id=g.user.username)
        db.session.commit()
    session_logout()
    return redirect(url_for("web.login"))
