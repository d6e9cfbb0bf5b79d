"""The web blueprint (a leaf: page modules import it from here); every page needs a live session."""
from apiflask import APIBlueprint
from flask import g, redirect, request, url_for
from flask_login import current_user

from server.auth import session_expired, session_logout, touch_session

web_bp = APIBlueprint("web", __name__, enable_openapi=False)
PUBLIC_ENDPOINTS = {"web.login", "static"}


@web_bp.before_request
def _require_login():
    g.user = None
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    if not current_user.is_authenticated:
        return redirect(url_for("web.login"))
    if session_expired():
        session_logout()
        return redirect(url_for("web.login", expired=1))
    touch_session()
    g.user = current_user._get_current_object()
    return None
