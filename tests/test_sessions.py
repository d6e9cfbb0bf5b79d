"""Session login for the UI: CSRF on the form, server-side idle timeout, logout invalidates the session; and the
offline guard that the whole suite runs under."""
import re
import socket

import pytest

from support import PASSWORD, build_app, create_user, form_login


def test_login_form_needs_csrf_and_logout_ends_the_session(sqlite_app):
    create_user(sqlite_app, "nurse")
    client = sqlite_app.test_client()
    assert client.post("/login", data={"username": "nurse", "password": PASSWORD}).status_code == 400
    assert form_login(client, "nurse").status_code == 302
    assert client.get("/").status_code == 200
    assert client.get("/api/v1/me").get_json()["username"] == "nurse"
    # API writes with the session cookie need the CSRF header too.
    resp = client.post("/api/v1/items/1/comments", json={"text": "x"})
    assert resp.status_code == 400 and "CSRF" in resp.get_json()["error"]["message"]
    page = client.get("/").get_data(as_text=True)
    token = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/").status_code == 302
    assert client.get("/api/v1/me").status_code == 401


def test_idle_session_expires_server_side(tmp_path, sqlite_url):
    app = build_app(tmp_path, sqlite_url, IDLE_TIMEOUT_MIN=0)  # every pause is "too long"
    create_user(app, "idle")
    client = app.test_client()
    assert form_login(client, "idle").status_code == 302
    resp = client.get("/api/v1/me")
    assert resp.status_code == 401 and "session expired" in resp.get_json()["error"]["message"]
    resp = client.get("/")
    assert resp.status_code == 302 and "/login" in resp.headers["Location"]


def test_activity_rewrites_the_session_cookie_at_most_every_few_seconds(sqlite_app, monkeypatch):
    """Every request of an open page used to re-sign and resend the cookie (its last_seen); now a request within
    TOUCH_EVERY_S of the last write leaves it alone, a later one moves it on, and idleness is still counted from
    the last write (never later than the last request)."""
    from datetime import timedelta

    import server.auth
    from server.models import utcnow

    create_user(sqlite_app, "busy")
    client = sqlite_app.test_client()
    assert form_login(client, "busy").status_code == 302
    assert "Set-Cookie" not in client.get("/api/v1/projects").headers  # just written by the login
    later = utcnow() + timedelta(seconds=server.auth.TOUCH_EVERY_S + 1)
    monkeypatch.setattr(server.auth, "utcnow", lambda: later)
    resp = client.get("/api/v1/projects")
    assert resp.status_code == 200 and "session=" in resp.headers.get("Set-Cookie", "")
    assert "Set-Cookie" not in client.get("/api/v1/projects").headers
    assert "session=" in client.get("/api/v1/me").headers.get("Set-Cookie", "")  # the keep-alive always renews
    idle = sqlite_app.config["IDLE_TIMEOUT_MIN"] * 60
    much_later = later + timedelta(seconds=idle + 1)
    monkeypatch.setattr(server.auth, "utcnow", lambda: much_later)
    resp = client.get("/api/v1/me")
    assert resp.status_code == 401 and "session expired" in resp.get_json()["error"]["message"]


def test_forged_session_cookie_is_rejected(sqlite_app):
    from flask.sessions import SecureCookieSessionInterface
    from itsdangerous import URLSafeTimedSerializer

    create_user(sqlite_app, "victim2")
    forged = URLSafeTimedSerializer("not-the-key", salt="cookie-session", signer_kwargs={
        "key_derivation": "hmac", "digest_method": SecureCookieSessionInterface.digest_method}).dumps(
        {"_user_id": "1", "last_seen": 9e12})
    client = sqlite_app.test_client()
    client.set_cookie("session", forged)
    assert client.get("/api/v1/me").status_code == 401


def test_outbound_connections_are_blocked_loopback_is_not():
    from offline_guard import OutboundConnectionBlocked

    with pytest.raises(OutboundConnectionBlocked):
        socket.create_connection(("93.184.216.34", 80), timeout=1)
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        socket.create_connection(server.getsockname(), timeout=1).close()
