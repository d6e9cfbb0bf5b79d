"""Campaign checklist — authentication: sessions end when they should (logout, password change, disabling,
membership removal, an absolute lifetime); secure cookies; look-alike names; weak passwords; TOTP two-factor;
throttles per client and per account that nobody can turn into a lock-out of the site admin."""
from __future__ import annotations

import re
import time

import pytest

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


# ------------------------------------------------------------------------------------ look-alike names (13)
def test_look_alike_usernames_are_refused(admin):
    for name in ("root\u200b", "\u202etoor", "ro\u200dot", "\ufeffroot"):
        status, reply = admin.post("/users", {"username": name, "password": "plover-lantern-93"})
        assert status == 400 and "invisible" in reply["error"]["message"], (name, reply)
    status, reply = admin.post("/users", {"username": " root ", "password": "plover-lantern-93"})
    assert status == 400 and "space" in reply["error"]["message"]
    for name in ("ROOT", "Root", "\uff52\uff4f\uff4f\uff54"):  # the admin fixture's user is "root"
        status, reply = admin.post("/users", {"username": name, "password": "plover-lantern-93"})
        assert status == 409 and "taken" in reply["error"]["message"], (name, reply)


def test_usernames_log_in_in_their_normalised_form(client, app):
    create_user(app, "Night.Nurse")
    resp = client.post("/api/v1/tokens", json={"username": "night.nurse", "password": PASSWORD})
    assert resp.status_code == 201 and resp.get_json()["username"] == "Night.Nurse"


def test_look_alike_label_names_are_refused(admin):
    for labels in ([{"name": "urgent"}, {"name": "urgent\u200b"}], [{"name": "urgent"}, {"name": "URGENT"}],
                   [{"name": "\u202eurgent"}]):
        status, reply = admin.post("/projects", {"name": "Look-alike", "modality": "labels",
                                                 "label_config": {"labels": labels}})
        assert status == 400 and "label_config.labels" in reply["error"]["message"], (labels, reply)


# ------------------------------------------------------------------------------------ passwords and 2FA (14)
@pytest.mark.parametrize("weak", ["aaaaaaaaaa", "password12", "Welcome2024!", "qwertyuiop", "root-is-the-boss"])
def test_weak_passwords_are_refused_everywhere(admin, weak):
    status, reply = admin.post("/users", {"username": "root-is-the-boss"[:4] + "x", "password": weak})
    if weak != "root-is-the-boss":
        assert status == 400 and "password" in reply["error"]["message"], (weak, reply)
    status, reply = admin.post("/users", {"username": "boss", "password": "the-boss-is-in"})
    assert status == 400 and "username" in reply["error"]["message"], reply
    _, me = admin.get("/me")
    status, reply = admin.patch(f"/users/{me['id']}", {"password": weak})
    assert status == 400, reply
    status, reply = admin.post("/me/password", {"current_password": PASSWORD, "new_password": weak})
    assert status == 400, reply


def test_the_cli_refuses_weak_passwords_too(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["create-user", "cli-nurse", "--password", "password12"])
    assert result.exit_code != 0 and "too common" in result.output
    result = runner.invoke(args=["create-user", "cli-nurse", "--password", "plover-lantern-93"])
    assert result.exit_code == 0, result.output


def _enrol(api):
    import pyotp

    status, enrol = api.post("/me/2fa", {"password": PASSWORD})
    assert status == 201 and enrol["qr_svg_data_uri"].startswith("data:image/svg+xml")
    assert enrol["otpauth_uri"].startswith("otpauth://totp/Clinlabel:")
    totp = pyotp.TOTP(enrol["secret"])
    status, done = api.post("/me/2fa/confirm", {"code": totp.now()})
    assert status == 200 and done["enabled"] and len(done["recovery_codes"]) == 10
    return totp, done["recovery_codes"]


def test_totp_enrolment_login_replay_and_recovery_codes(client, app):
    create_user(app, "surgeon")
    api = login(client, "surgeon")
    totp, recovery = _enrol(api)
    resp = client.post("/api/v1/tokens", json={"username": "surgeon", "password": PASSWORD})
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "otp_required"
    code = totp.at(time.time() + 30)  # the enrolment used the current step; a code works once
    resp = client.post("/api/v1/tokens", json={"username": "surgeon", "password": PASSWORD, "otp": code})
    assert resp.status_code == 201, resp.get_json()
    resp = client.post("/api/v1/tokens", json={"username": "surgeon", "password": PASSWORD, "otp": code})
    assert resp.status_code == 401 and resp.get_json()["error"]["code"] == "otp_invalid"  # replayed
    resp = client.post("/api/v1/tokens", json={"username": "surgeon", "password": PASSWORD, "otp": recovery[0]})
    assert resp.status_code == 201
    resp = client.post("/api/v1/tokens", json={"username": "surgeon", "password": PASSWORD, "otp": recovery[0]})
    assert resp.status_code == 401  # a recovery code works once
    _, status = api.get("/me/2fa")
    assert status["recovery_codes_left"] == 9
    with app.app_context():
        from sqlalchemy import text

        from server.extensions import db

        stored = db.session.execute(text("SELECT totp_secret FROM users WHERE username = 'surgeon'")).scalar_one()
        db.session.remove()
    assert stored and totp.secret not in stored  # encrypted at rest


def test_the_web_login_asks_for_the_code_in_a_second_step(sqlite_app):
    create_user(sqlite_app, "anaesthetist")
    client = sqlite_app.test_client()
    totp, _ = _enrol(login(client, "anaesthetist"))
    browser = sqlite_app.test_client()
    page = browser.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    resp = browser.post("/login", data={"username": "anaesthetist", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302 and resp.headers["Location"].endswith("/login/code")
    assert browser.get("/api/v1/me").status_code == 401  # not logged in yet
    page = browser.get("/login/code").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)
    assert browser.post("/login/code", data={"code": "000000", "csrf_token": token}).status_code == 401
    resp = browser.post("/login/code", data={"code": totp.at(time.time() + 30), "csrf_token": token})
    assert resp.status_code == 302 and browser.get("/api/v1/me").status_code == 200


def test_a_site_admin_can_require_two_factor_for_roles_that_see_phi(admin, client, make_member, labels_project):
    nurse = make_member(labels_project["id"], "nurse", "annotator")
    status, settings = admin.patch("/settings/security", {"require_2fa": ["annotator"]})
    assert status == 200 and settings["require_2fa"] == ["annotator"]
    status, reply = nurse.get("/projects")
    assert status == 403 and reply["error"]["code"] == "2fa_required"
    assert nurse.get("/me")[0] == 200 and nurse.get("/me/2fa")[1]["required"] is True
    totp, _ = _enrol(nurse)
    assert nurse.get("/projects")[0] == 200
    status, reply = nurse.delete("/me/2fa", {"password": PASSWORD, "code": totp.at(time.time() + 30)})
    assert status == 403 and "required" in reply["error"]["message"]
    _, users = admin.get("/users")
    nurse_id = next(u["id"] for u in users["items"] if u["username"] == "nurse")
    assert admin.post(f"/users/{nurse_id}/reset-2fa")[0] == 200  # a lost phone
    assert nurse.get("/projects")[0] == 403  # must enrol again
    admin.patch("/settings/security", {"require_2fa": []})


# ------------------------------------------------------------------------------------ throttles (11)
def _token(client, username, password, addr):
    return client.post("/api/v1/tokens", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": addr}).status_code


def test_anonymous_guesses_cannot_lock_the_site_admin_out_of_another_client(client, app):
    create_user(app, "chief", is_admin=True)
    for _ in range(8):
        assert _token(client, "chief", "guess-guess-guess", "203.0.113.9") in (401, 429)
    assert _token(client, "chief", PASSWORD, "203.0.113.9") == 429  # the guessing client waits...
    assert _token(client, "chief", PASSWORD, "198.51.100.4") == 201  # ...the admin's own machine does not


def test_one_client_trying_many_usernames_is_throttled(client, app):
    statuses = [_token(client, f"user{i}", "guess-guess-guess", "203.0.113.77") for i in range(40)]
    assert statuses[:20] == [401] * 20 and set(statuses[20:]) == {429}, statuses
    resp = client.post("/api/v1/tokens", json={"username": "anyone", "password": "x" * 12},
                       environ_base={"REMOTE_ADDR": "203.0.113.77"})
    assert int(resp.headers["Retry-After"]) > 0 and "from your address" in resp.get_json()["error"]["message"]


def test_back_off_grows_and_an_admin_unlock_ends_it(client, app, admin):
    create_user(app, "clerk")
    for _ in range(5):
        _token(client, "clerk", "guess-guess-guess", "192.0.2.1")
    first = client.post("/api/v1/tokens", json={"username": "clerk", "password": PASSWORD},
                        environ_base={"REMOTE_ADDR": "192.0.2.1"})
    assert first.status_code == 429 and 0 < int(first.headers["Retry-After"]) <= 31
    _, users = admin.get("/users")
    clerk = next(u["id"] for u in users["items"] if u["username"] == "clerk")
    status, body = admin.post(f"/users/{clerk}/unlock")
    assert status == 200 and body["failures_cleared"] == 5
    assert _token(client, "clerk", PASSWORD, "192.0.2.1") == 201


def test_distributed_guessing_slows_the_account_but_not_known_clients(tmp_path, sqlite_url):
    app = build_app(tmp_path, sqlite_url, LOGIN_ACCOUNT_MAX_FAILURES=10)
    create_user(app, "head")
    client = app.test_client()
    assert _token(client, "head", PASSWORD, "198.51.100.1") == 201  # the admin's usual machine
    for i in range(12):
        _token(client, "head", "guess-guess-guess", f"203.0.113.{i}")
    assert _token(client, "head", PASSWORD, "203.0.113.200") == 429  # a new client: account-wide back-off
    assert _token(client, "head", PASSWORD, "198.51.100.1") == 201  # a known client is exempt


def test_break_glass_cli_gives_the_site_admin_back_the_account(tmp_path, sqlite_url):
    app = build_app(tmp_path, sqlite_url)
    create_user(app, "root", is_admin=True)
    client = app.test_client()
    for _ in range(6):
        _token(client, "root", "guess-guess-guess", "127.0.0.1")
    assert _token(client, "root", PASSWORD, "127.0.0.1") == 429
    result = app.test_cli_runner().invoke(args=["users", "break-glass", "root"])
    assert result.exit_code == 0, result.output
    new_password = result.output.strip().rsplit(" ", 1)[-1]
    assert _token(client, "root", new_password, "127.0.0.1") == 201
    result = app.test_cli_runner().invoke(args=["users", "unlock", "nobody"])
    assert result.exit_code != 0 and "no user" in result.output
