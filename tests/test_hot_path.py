"""The annotator's hot path (next, get, autosave, save, submit, list): a bound on the SQL statements of each request
(counted, so deterministic; timings are measured by benchmarks/bench_hot_path.py, never asserted), and every change
of who may do what holding from the very next request, after many requests that warmed every statement."""
import re

import pytest

from support import PASSWORD, add_texts, create_user, form_login, login, sqlite_write_lock

PAYLOAD = {"labels": ["routine"]}
# The statements of the request's own work; the audit event's are bounded apart: one INSERT, no lock and no read
# of the chain's head (the sealer chains it later, server/audit_sealer.py). BEGIN/SAVEPOINT are transaction control, and the two-factor site setting is read once per 5 s per process.
NOT_COUNTED = re.compile(r"^(BEGIN|SAVEPOINT|RELEASE|ROLLBACK)|FROM site_settings")
AUDIT = re.compile(r"audit_events|pg_advisory")
AUDIT_BOUND = 1
BOUNDS = {  # request: most statements of its own
    "next (new lease)": 5, "next (same lease)": 4, "get item": 2, "list annotations": 3, "get draft": 3,
    "autosave (first)": 3, "autosave": 3, "save annotation": 4, "save again": 4, "list items": 3,
    "submit (k = 1: gold)": 9,
}


@pytest.fixture
def counted(app):
    from sqlalchemy import event

    from server.extensions import db

    seen: list[str] = []

    def listen(_conn, _cursor, statement, *_):
        seen.append(" ".join(statement.split()))

    event.listen(db.engine, "before_cursor_execute", listen)
    yield seen
    event.remove(db.engine, "before_cursor_execute", listen)


def count(seen: list[str], call):
    """(own statements, audit statements) of one request; its reply is checked by the caller."""
    seen.clear()
    status, body = call()
    kept = [s for s in seen if not NOT_COUNTED.search(s)]
    audit = [s for s in kept if AUDIT.search(s)]
    return status, body, len(kept) - len(audit), len(audit), kept


def test_hot_requests_stay_within_their_statement_bounds(admin, labels_project, make_member, counted):
    pid = labels_project["id"]
    add_texts(admin, pid, [f"note {i}" for i in range(4)])
    ann = make_member(pid, "worker", "annotator")
    for _ in range(2):  # warm: every statement built and compiled once, caches filled
        item = ann.post(f"/projects/{pid}/next")[1]
        ann.post(f"/items/{item['id']}/annotations", {"payload": PAYLOAD})
    results = {}

    def measure(name, call, expect=200):
        status, body, own, audit, statements = count(counted, call)
        assert status == expect, (name, body)
        results[name] = (own, audit, statements)
        return body

    item = measure("next (new lease)", lambda: ann.post(f"/projects/{pid}/next"))
    iid = item["id"]
    measure("next (same lease)", lambda: ann.post(f"/projects/{pid}/next"))
    measure("get item", lambda: ann.get(f"/items/{iid}"))
    measure("list annotations", lambda: ann.get(f"/items/{iid}/annotations"))
    measure("autosave (first)", lambda: ann.put(f"/items/{iid}/draft", {"payload": PAYLOAD, "revision": 0}))
    measure("autosave", lambda: ann.put(f"/items/{iid}/draft", {"payload": PAYLOAD, "revision": 1}))
    measure("get draft", lambda: ann.get(f"/items/{iid}/draft"))
    saved = measure("save annotation", lambda: ann.post(f"/items/{iid}/annotations",
                                                        {"payload": PAYLOAD, "status": "draft"}), 201)
    saved = measure("save again", lambda: ann.put(f"/annotations/{saved['id']}", {
        "payload": PAYLOAD, "version": saved["version"], "status": "draft"}))
    measure("submit (k = 1: gold)", lambda: ann.put(f"/annotations/{saved['id']}", {
        "payload": PAYLOAD, "version": saved["version"], "status": "submitted"}))
    measure("list items", lambda: ann.get(f"/projects/{pid}/items?limit=50"))
    over = {name: statements for name, (own, audit, statements) in results.items()
            if own > BOUNDS[name] or audit > AUDIT_BOUND}
    assert not over, f"over the bound ({BOUNDS}): {over}"
    assert ann.get(f"/items/{iid}")[1]["stage"] == "done"  # the submit really made gold


def test_next_checks_the_callers_role_before_waiting_for_the_sqlite_write_lock(app, database_url, admin,
                                                                             labels_project, make_member):
    """`next` reads the role and workflow in the authentication's read transaction and takes the write lock only
    for its writes: while another connection holds the lock, a caller refused by role is answered at once (before,
    it waited for the lock). Once the lock is free the same request works."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's single writer lock")
    pid = labels_project["id"]
    add_texts(admin, pid, ["note one"])
    ann = make_member(pid, "worker", "annotator")
    with sqlite_write_lock(database_url):
        status, body = ann.post(f"/projects/{pid}/next?stage=review")
        assert status == 403 and "cannot take review work" in body["error"]["message"]
    status, item = ann.post(f"/projects/{pid}/next")
    assert status == 200 and item["assignment"]["stage"] == "annotate"


def test_session_callers_cost_the_same_statements(app, admin, labels_project, make_member, counted):
    pid = labels_project["id"]
    (iid,) = add_texts(admin, pid, ["a note"])
    make_member(pid, "browser", "annotator")
    page = app.test_client()
    resp = page.post("/api/v1/session", json={"username": "browser", "password": PASSWORD})
    headers = {"X-CSRFToken": resp.get_json()["csrf_token"]}
    for _ in range(2):
        page.get(f"/api/v1/items/{iid}", headers=headers)

    def get():
        resp = page.get(f"/api/v1/items/{iid}", headers=headers)
        return resp.status_code, resp.get_json()

    status, _, own, audit, statements = count(counted, get)
    assert status == 200 and own <= BOUNDS["get item"] and audit <= AUDIT_BOUND, statements
    resp = page.put(f"/api/v1/items/{iid}/draft", json={"payload": PAYLOAD, "revision": 0}, headers=headers)
    assert resp.status_code == 200

    def autosave():
        resp = page.put(f"/api/v1/items/{iid}/draft", json={"payload": PAYLOAD, "revision": 1}, headers=headers)
        return resp.status_code, resp.get_json()

    status, body, own, audit, statements = count(counted, autosave)
    assert status == 200 and body["revision"] == 2, body
    assert own <= BOUNDS["autosave"] and audit <= AUDIT_BOUND, statements


def _warm(api, pid, iid, times=3):
    for _ in range(times):
        assert api.get(f"/items/{iid}")[0] == 200
        assert api.post(f"/projects/{pid}/next")[0] in (200, 204)


def test_revoked_token_and_disabled_account_fail_on_the_very_next_request(app, client, admin, labels_project,
                                                                          make_member):
    pid = labels_project["id"]
    (iid,) = add_texts(admin, pid, ["a note"])
    ann = make_member(pid, "leaving", "annotator")
    second = login(client, "leaving")
    _warm(ann, pid, iid)
    _warm(second, pid, iid)
    assert ann.delete("/tokens/current")[0] == 204
    assert ann.get(f"/items/{iid}")[0] == 401
    assert second.get(f"/items/{iid}")[0] == 200  # another token of the same account is unaffected
    status, users = admin.get("/users")
    user_id = next(u["id"] for u in users["items"] if u["username"] == "leaving")
    assert admin.patch(f"/users/{user_id}", {"is_active": False})[0] == 200
    assert second.get(f"/items/{iid}")[0] == 401
    assert second.post(f"/projects/{pid}/next")[0] == 401


def test_password_change_revokes_tokens_at_once(app, client, admin, labels_project, make_member):
    pid = labels_project["id"]
    (iid,) = add_texts(admin, pid, ["a note"])
    ann = make_member(pid, "rotating", "annotator")
    _warm(ann, pid, iid)
    status, users = admin.get("/users")
    user_id = next(u["id"] for u in users["items"] if u["username"] == "rotating")
    assert admin.patch(f"/users/{user_id}", {"password": "another-long-passphrase-9"})[0] == 200
    assert ann.get(f"/items/{iid}")[0] == 401


def test_removed_membership_and_changed_role_hold_on_the_very_next_request(app, client, admin, labels_project,
                                                                           make_member):
    pid = labels_project["id"]
    (iid,) = add_texts(admin, pid, ["a note"])
    staff = make_member(pid, "staff", "manager")
    _warm(staff, pid, iid)
    assert staff.get(f"/projects/{pid}/items")[0] == 200
    assert staff.post(f"/projects/{pid}/items", [{"text": "more"}])[0] == 201  # a manager uploads
    assert admin.post(f"/projects/{pid}/members", {"username": "staff", "role": "annotator"})[0] == 200
    assert staff.post(f"/projects/{pid}/items", [{"text": "more"}])[0] == 403  # demoted: at once
    assert staff.get(f"/items/{iid}")[0] == 200
    assert admin.post(f"/projects/{pid}/members", {"username": "staff", "role": "manager"})[0] == 200
    assert staff.post(f"/projects/{pid}/items", [{"text": "again"}])[0] == 201  # promoted: at once
    assert admin.delete(f"/projects/{pid}/members", {"username": "staff"})[0] == 204
    assert staff.get(f"/items/{iid}")[0] == 404
    assert staff.post(f"/projects/{pid}/next")[0] == 404
    assert staff.put(f"/items/{iid}/draft", {"payload": PAYLOAD, "revision": 0})[0] == 404


def test_removed_member_session_stops_on_the_very_next_request(app, admin, labels_project, make_member):
    pid = labels_project["id"]
    (iid,) = add_texts(admin, pid, ["a note"])
    make_member(pid, "tabbed", "annotator")
    page = app.test_client()
    resp = page.post("/api/v1/session", json={"username": "tabbed", "password": PASSWORD})
    headers = {"X-CSRFToken": resp.get_json()["csrf_token"]}
    for _ in range(3):
        assert page.get(f"/api/v1/items/{iid}", headers=headers).status_code == 200
    assert admin.delete(f"/projects/{pid}/members", {"username": "tabbed"})[0] == 204
    assert page.get(f"/api/v1/items/{iid}", headers=headers).status_code == 401  # the session itself ended


def test_a_site_admin_needs_no_membership_and_loses_it_with_the_flag(app, client, admin, labels_project):
    pid = labels_project["id"]
    (iid,) = add_texts(admin, pid, ["a note"])
    create_user(app, "deputy", is_admin=True)
    deputy = login(client, "deputy")
    _warm(deputy, pid, iid)
    status, users = admin.get("/users")
    user_id = next(u["id"] for u in users["items"] if u["username"] == "deputy")
    assert admin.patch(f"/users/{user_id}", {"is_admin": False})[0] == 200
    assert deputy.get(f"/items/{iid}")[0] == 404


def test_password_hashing_never_holds_the_sqlite_write_lock(app, client, database_url, admin, monkeypatch):
    """scrypt costs ~80 ms of CPU: a login, a user created or a password reset that hashed under SQLite's write lock
    stalled every annotator's save for as long. Each hash below checks, from another connection, that the lock is
    free at that moment; logins still count a wrong password and still lock out after too many."""
    if not database_url.startswith("sqlite"):
        pytest.skip("SQLite's single writer lock")
    import sqlite3

    import server.api.account
    import server.auth

    path = database_url.removeprefix("sqlite:///")
    held: list[str] = []

    def lock_free(name):
        probe = sqlite3.connect(path, isolation_level=None, timeout=0)
        try:
            probe.execute("BEGIN IMMEDIATE")
            probe.execute("ROLLBACK")
        except sqlite3.OperationalError:
            held.append(name)
        finally:
            probe.close()

    def spy(name, real):
        def hashed(*args, **kwargs):
            lock_free(name)
            return real(*args, **kwargs)
        return hashed

    monkeypatch.setattr(server.auth, "check_password_hash", spy("check", server.auth.check_password_hash))
    monkeypatch.setattr(server.api.account, "hash_password", spy("hash", server.api.account.hash_password))
    create_user(app, "nurse")
    assert client.post("/api/v1/tokens", json={"username": "nurse", "password": PASSWORD}).status_code == 201
    status, body = admin.post("/users", {"username": "newcomer", "password": "a-long-passphrase-7"})
    assert status == 201, body
    status, body = admin.patch(f"/users/{body['id']}", {"password": "another-long-passphrase-8"})
    assert status == 200, body
    assert form_login(client, "nurse").status_code == 302
    script = app.test_client()  # no session cookie: no CSRF token needed
    for _ in range(12):  # wrong passwords: each is recorded, and the throttle (checked again under the lock) bites
        resp = script.post("/api/v1/tokens", json={"username": "nurse", "password": "wrong-password"})
        if resp.status_code == 429:
            break
        assert resp.status_code == 401, resp.get_json()
    assert resp.status_code == 429, "the login throttle never locked out"
    assert held == [], f"a password hash ran while SQLite's write lock was held: {held}"


@pytest.mark.concurrent
def test_hot_reads_run_in_autocommit_on_postgresql_and_writes_in_a_transaction(app, database_url, admin,
                                                                               labels_project, make_member):
    """On PostgreSQL the hot reads (server.db.AUTOCOMMIT_READS) send no BEGIN or COMMIT: every statement of theirs
    runs on a connection in autocommit, their audit event is stored all the same, and the connection goes back to
    the pool in transaction mode, so the next request that writes runs in one transaction as before."""
    if not database_url.startswith("postgresql"):
        pytest.skip("autocommit reads are PostgreSQL's (SQLite's reads already take no lock)")
    from sqlalchemy import event, func, select

    from server.extensions import db
    from server.models import AuditEvent

    pid = labels_project["id"]
    add_texts(admin, pid, ["note one", "note two"])
    ann = make_member(pid, "ann", "annotator")
    modes: list[tuple[str, bool]] = []

    def seen(conn, _cursor, statement, *_):
        modes.append((statement.split()[0], conn.connection.dbapi_connection.autocommit))

    event.listen(db.engine, "before_cursor_execute", seen)
    try:
        def request(call, expect=200):
            modes.clear()
            status, body = call()
            assert status == expect, body
            return body, {autocommit for _, autocommit in modes}

        item, during = request(lambda: ann.post(f"/projects/{pid}/next"))
        assert during == {False}
        with app.app_context():
            reads_before = db.session.execute(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action == "item.read")).scalar()
        for path in (f"/items/{item['id']}", f"/items/{item['id']}/annotations", f"/projects/{pid}/items",
                     f"/projects/{pid}", "/me"):
            _, during = request(lambda: ann.get(path))
            assert during == {True}, (path, modes)
        with app.app_context():
            assert db.session.execute(select(func.count()).select_from(AuditEvent).where(
                AuditEvent.action == "item.read")).scalar() == reads_before + 1
        _, during = request(lambda: ann.post(f"/items/{item['id']}/annotations", {"payload": PAYLOAD}), 201)
        assert during == {False}, modes
    finally:
        event.remove(db.engine, "before_cursor_execute", seen)
