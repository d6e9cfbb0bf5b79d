"""Auth, errors and validation across the API (SQLite and PostgreSQL)."""
import threading

import pytest

from support import PASSWORD, create_user, login


def test_token_login_and_me(client, admin):
    status, body = admin.get("/me")
    assert status == 200 and body["username"] == "root" and body["is_admin"]


def test_wrong_password_is_401_and_audited(app, client, admin):
    resp = client.post("/api/v1/tokens", json={"username": "root", "password": "wrong-password"})
    assert resp.status_code == 401
    assert resp.get_json() == {"error": {"code": "unauthorized", "message": "invalid username or password"}}
    status, events = admin.get("/audit?action=login")
    outcomes = [e["outcome"] for e in events["items"]]
    assert "failure" in outcomes and "success" in outcomes


def test_login_throttling_locks_after_repeated_failures(client, app):
    create_user(app, "victim")
    for _ in range(5):
        assert client.post("/api/v1/tokens", json={"username": "victim", "password": "x" * 12}).status_code == 401
    resp = client.post("/api/v1/tokens", json={"username": "victim", "password": PASSWORD})
    assert resp.status_code == 429
    assert "too many failed logins" in resp.get_json()["error"]["message"]


def test_missing_and_bad_credentials(client):
    assert client.get("/api/v1/projects").status_code == 401
    resp = client.get("/api/v1/projects", headers={"Authorization": "Bearer nope"})
    assert resp.status_code == 401 and "token" in resp.get_json()["error"]["message"]
    resp = client.get("/api/v1/projects", headers={"Authorization": "Basic abc"})
    assert resp.status_code == 401


def test_revoked_token_stops_working(client, admin):
    assert admin.delete("/tokens/current")[0] == 204
    assert admin.get("/me")[0] == 401


def test_disabled_user_token_rejected_immediately(app, client, admin):
    uid = create_user(app, "leaver")
    leaver = login(client, "leaver")
    assert leaver.get("/me")[0] == 200
    assert admin.patch(f"/users/{uid}", {"is_active": False})[0] == 200
    assert leaver.get("/me")[0] == 401


def test_malformed_json_unknown_fields_and_wrong_types(admin):
    resp = admin.client.post("/api/v1/projects", data="{not json", content_type="application/json",
                             headers={"Authorization": f"Bearer {admin.token}"})
    assert resp.status_code == 400 and "error" in resp.get_json()
    status, body = admin.post("/projects", {"name": "x", "modality": "labels", "is_admin": True})
    assert status == 400 and "is_admin" in body["error"]["message"]
    status, body = admin.post("/projects", {"name": 5, "modality": "labels"})
    assert status == 400 and "name" in body["error"]["message"]
    status, body = admin.post("/projects", {"name": "x", "modality": "nope"})
    assert status == 400 and "available: consult, labels, notes" in body["error"]["message"]
    status, body = admin.post("/projects", {"name": "x", "modality": "labels", "label_config": {"labels": []}})
    assert status == 400 and "label_config invalid" in body["error"]["message"]


def test_mass_assignment_is_refused(admin, labels_project):
    pid = labels_project["id"]
    for field in ("created_by", "id", "modality", "project_id"):
        status, body = admin.patch(f"/projects/{pid}", {field: 99})
        assert status == 400, field
        assert field in body["error"]["message"]


def test_no_self_registration(client):
    assert client.post("/api/v1/users", json={"username": "me", "password": "p" * 12}).status_code == 401
    assert client.post("/signup", data={"username": "me"}).status_code in (302, 404, 405)


def test_upload_over_limit_is_413(tmp_path, sqlite_url):
    from support import build_app

    app = build_app(tmp_path, sqlite_url, MAX_UPLOAD_MB=1)
    client = app.test_client()
    create_user(app, "boss", is_admin=True)
    api = login(client, "boss")
    _, project = api.post("/projects", {"name": "p", "modality": "labels"})
    resp = client.post(f"/api/v1/projects/{project['id']}/items", headers={"Authorization": f"Bearer {api.token}"},
                       data={"files": [(__import__("io").BytesIO(b"a" * (2 * 1024 * 1024)), "big.txt")]})
    assert resp.status_code == 413
    assert "CLINLABEL_MAX_UPLOAD_MB" in resp.get_json()["error"]["message"]


def test_openapi_document_lists_the_api(client):
    resp = client.get("/api/v1/openapi.json")
    assert resp.status_code == 200
    spec = resp.get_json()
    assert spec["openapi"].startswith("3.")
    for path in ("/api/v1/tokens", "/api/v1/projects", "/api/v1/projects/{project_id}/items",
                 "/api/v1/items/{item_id}/annotations", "/api/v1/annotations/{annotation_id}",
                 "/api/v1/projects/{project_id}/next", "/api/v1/jobs/{job_id}", "/api/v1/audit"):
        assert path in spec["paths"], path


def test_security_headers_and_no_store(client, admin):
    resp = client.get("/api/v1/health")
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert "default-src 'self'" in resp.headers["Content-Security-Policy"]
    assert resp.headers["Cache-Control"] == "no-store"


def test_unknown_route_is_json_404(admin):
    status, body = admin.get("/does-not-exist")
    assert status == 404 and body["error"]["code"] == "not_found"


def test_health_reports_database_and_queue(client):
    body = client.get("/api/v1/health").get_json()
    assert body["database"] == "ok" and "workers_live" in body


def test_json_in_and_out_through_orjson_keeps_the_standard_parsers_answers(client, admin, app):
    """Bodies go through orjson, except those it refuses or would read differently: those keep the standard
    parser's answer (a 100-digit number stays an integer, not a float)."""
    headers = {"Authorization": f"Bearer {admin.token}", "Content-Type": "application/json"}
    status, project = admin.post("/projects", {"name": "Über Café — 心臓", "modality": "labels"})
    assert status == 201
    resp = client.get(f"/api/v1/projects/{project['id']}", headers=headers)
    assert resp.get_json()["name"] == "Über Café — 心臓"
    keys = list(resp.get_json())
    assert keys == sorted(keys)  # keys sorted, as Flask's encoder wrote them
    huge = "1" + "0" * 99
    resp = client.post("/api/v1/projects", data='{"name": ' + huge + ', "modality": "labels"}', headers=headers)
    assert resp.status_code == 400 and "name" in resp.get_json()["error"]["message"]
    with app.app_context():
        assert app.json.loads('{"n": ' + huge + "}")["n"] == 10**99
        assert app.json.loads(b'{"a": [1, 2.5, null, true, "x"]}') == {"a": [1, 2.5, None, True, "x"]}
    resp = client.post("/api/v1/projects", data='{"name": NaN}', headers=headers)
    assert resp.status_code == 400


@pytest.mark.concurrent
def test_parallel_wrong_passwords_cannot_outrun_the_login_throttle(app):
    """Eight guesses at once: each password is checked outside the lock (in parallel), but the throttle is checked
    again and the failure recorded one attempt at a time, so exactly LOGIN_MAX_FAILURES get an answer and the rest
    are refused (on SQLite by its write lock, on PostgreSQL by an advisory lock per account)."""
    create_user(app, "target")
    statuses = []
    start = threading.Barrier(8)

    def guess():
        client = app.test_client()
        start.wait()
        statuses.append(client.post("/api/v1/tokens", json={"username": "target", "password": "w" * 12}).status_code)

    threads = [threading.Thread(target=guess) for _ in range(8)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    limit = app.config["LOGIN_MAX_FAILURES"]
    assert sorted(statuses) == [401] * limit + [429] * (8 - limit), statuses
