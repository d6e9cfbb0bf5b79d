"""Campaign checklist — authentication: sessions end when they should (logout, password change, disabling,
membership removal, an absolute lifetime), not only when the browser forgets its cookie."""
from __future__ import annotations

import re
import time

from support import PASSWORD, build_app, create_user, login


def form_login(client, username, password=PASSWORD):
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"username": username, "password": password,
                                       "csrf_token": token}).status_code == 302


def saved_cookie(client) -> str:
    return client.get_cookie("session").value


def replay(app, cookie: str):
    """A second browser (or an attacker) presenting a copy of the cookie."""
    other = app.test_client()
    other.set_cookie("session", cookie)
    return other.get("/api/v1/me").status_code


def test_a_cookie_saved_before_logout_stops_working(sqlite_app):
    create_user(sqlite_app, "nurse")
    client = sqlite_app.test_client()
    form_login(client, "nurse")
    cookie = saved_cookie(client)
    assert replay(sqlite_app, cookie) == 200
    page = client.get("/").get_data(as_text=True)
    csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', page).group(1)
    assert client.post("/logout", data={"csrf_token": csrf}).status_code == 302
    assert replay(sqlite_app, cookie) == 401


def test_password_change_and_disabling_end_every_session(sqlite_app):
    create_user(sqlite_app, "root", is_admin=True)
    admin = login(sqlite_app.test_client(), "root")
    create_user(sqlite_app, "clerk")
    client = sqlite_app.test_client()
    form_login(client, "clerk")
    cookie = saved_cookie(client)
    _, users = admin.get("/users")
    clerk = next(u for u in users["items"] if u["username"] == "clerk")
    assert admin.patch(f"/users/{clerk['id']}", {"password": "another-long-password"})[0] == 200
    assert replay(sqlite_app, cookie) == 401
    form_login(client, "clerk", "another-long-password")
    cookie = saved_cookie(client)
    assert replay(sqlite_app, cookie) == 200
    assert admin.patch(f"/users/{clerk['id']}", {"is_active": False})[0] == 200
    assert replay(sqlite_app, cookie) == 401


def test_membership_removal_ends_the_members_sessions(sqlite_app):
    create_user(sqlite_app, "root", is_admin=True)
    admin = login(sqlite_app.test_client(), "root")
    _, project = admin.post("/projects", {"name": "Ward", "modality": "labels"})
    create_user(sqlite_app, "temp")
    admin.post(f"/projects/{project['id']}/members", {"username": "temp", "role": "annotator"})
    client = sqlite_app.test_client()
    form_login(client, "temp")
    cookie = saved_cookie(client)
    assert admin.delete(f"/projects/{project['id']}/members", {"username": "temp"})[0] == 204
    assert replay(sqlite_app, cookie) == 401


def test_sessions_have_an_absolute_lifetime(tmp_path, sqlite_url):
    app = build_app(tmp_path, sqlite_url, SESSION_MAX_HOURS=0.5 / 3600)  # half a second
    create_user(app, "night")
    client = app.test_client()
    form_login(client, "night")
    assert client.get("/api/v1/me").status_code == 200  # activity renews the idle timer...
    time.sleep(0.6)
    assert client.get("/api/v1/me").status_code == 401  # ...but not the absolute lifetime


def test_cookies_are_secure_when_the_server_listens_beyond_loopback(tmp_path, sqlite_url, monkeypatch):
    from server.config import load_config

    monkeypatch.setenv("CLINLABEL_BIND", "0.0.0.0")
    assert load_config({"DATA_DIR": str(tmp_path)})["SESSION_COOKIE_SECURE"] is True
    monkeypatch.setenv("CLINLABEL_COOKIE_SECURE", "0")
    assert load_config({"DATA_DIR": str(tmp_path)})["SESSION_COOKIE_SECURE"] is False
    monkeypatch.delenv("CLINLABEL_COOKIE_SECURE")
    monkeypatch.setenv("CLINLABEL_BIND", "127.0.0.1")
    assert load_config({"DATA_DIR": str(tmp_path)})["SESSION_COOKIE_SECURE"] is False
    app = build_app(tmp_path, sqlite_url, COOKIE_SECURE=True)
    create_user(app, "ward")
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    resp = client.post("/login", data={"username": "ward", "password": PASSWORD, "csrf_token": token})
    cookies = resp.headers.getlist("Set-Cookie")
    assert cookies and all("Secure" in c and "HttpOnly" in c for c in cookies if c.startswith("session=")), cookies
