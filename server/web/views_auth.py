"""Login and logout for the UI (session cookie, CSRF-protected form, throttled, audited)."""
from __future__ import annotations

from flask import redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, Length

from server import audit
from server.auth import session_login, session_logout, verify_credentials
from server.errors import ApiError
from server.extensions import db
from server.web.blueprint import web_bp


class LoginForm(FlaskForm):
    username = StringField("Username", validators=[DataRequired(), Length(max=80)])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=256)])


@web_bp.route("/login", methods=["GET", "POST"])
def login():
    form = LoginForm()
    error = "Your session expired. Log in again." if request.args.get("expired") else None
    status = 200
    if form.validate_on_submit():
        try:
            user = verify_credentials(form.username.data, form.password.data, channel="web")
        except ApiError as exc:
            error, status = exc.message, exc.status_code
        else:
            db.session.commit()
            session_login(user)
            return redirect(url_for("web.projects"))
    elif request.method == "POST":
        error, status = "Fill in username and password (and reload the page if it was open for long).", 400
    return render_template("login.html", form=form, error=error), status


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
