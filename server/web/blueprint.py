"""The web blueprint (a leaf: page modules import it from here); every page needs a live session."""
from apiflask import APIBlueprint
from flask import g, redirect, request, url_for
from flask_login import current_user

from server.auth import SAFE_METHODS, session_expired, session_logout, touch_session
from server.db import READ_BEFORE_LOCK, set_request_mode

web_bp = APIBlueprint("web", __name__, enable_openapi=False)
PUBLIC_ENDPOINTS = {"web.login", "web.login_second_factor", "static"}


@web_bp.before_request
def _require_login():
    g.user = None
    if request.method not in SAFE_METHODS and request.endpoint not in READ_BEFORE_LOCK:
        set_request_mode("immediate")  # forms write (login attempts, audit): take SQLite's write lock up front
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("web.login"))
    if session_expired():
        session_logout()
        return redirect(url_for("web.login", expired=1))
    touch_session()
    g.user = current_user._get_current_object()
    from server.two_factor import ENROLMENT_ENDPOINTS, must_enrol

    if request.endpoint not in ENROLMENT_ENDPOINTS and must_enrol(g.user):
        return redirect(url_for("web.account", required=1))
    return None
