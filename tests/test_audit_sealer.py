"""The audit sealer: requests append unsealed rows (no lock, no read of the chain); the sealer chains them in insert
order, never past a row that may still commit, and never launders a row written without the key; the database
allows the sealing UPDATE once and nothing else; verify reports the unsealed tail."""
import time

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError, IntegrityError
from sqlalchemy.orm import Session

from support import build_app, create_user, login

pytestmark = pytest.mark.concurrent  # second connections must see committed rows


def _seal(app, **kwargs) -> int:
    from server.audit import seal
    from server.extensions import db

    with app.app_context():
        sealed = seal(db.session, **kwargs)
        db.session.remove()
    return sealed


def _rows(app):
    from server.extensions import db
    from server.models import AuditEvent

    with app.app_context():
        rows = db.session.execute(select(AuditEvent.id, AuditEvent.seq, AuditEvent.hash, AuditEvent.actor,
                                         AuditEvent.nonce)
                                  .order_by(AuditEvent.id)).all()
        db.session.remove()
    return rows


def _verify(app, **kwargs):
    from server.audit import verify
    from server.extensions import db

    with app.app_context():
        result = verify(db.session, **kwargs)
        db.session.remove()
    return result


def _execute(app, statement, **params):
    from server.extensions import db

    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(text(statement), params)


def test_requests_append_unsealed_rows_that_the_sealer_chains_in_insert_order(app, admin):
    for i in range(3):
        assert admin.post("/projects", {"name": f"Ward {i}", "modality": "labels"})[0] == 201
    rows = _rows(app)
    assert len(rows) >= 3 and all(r.seq is None and r.hash is None for r in rows)
    assert _seal(app) == len(rows)
    rows = _rows(app)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    result = _verify(app)
    assert result["ok"] and result["checked"] == len(rows) and result["unsealed"]["count"] == 0, result
    admin.post("/projects", {"name": "Ward 9", "modality": "labels"})
    assert _seal(app) == 1 and _rows(app)[-1].seq == len(rows) + 1
    status, listed = admin.get("/audit?limit=2")
    assert status == 200 and listed["items"][0]["id"] > listed["items"][1]["id"] and listed["next_cursor"]


def test_the_database_allows_sealing_once_and_nothing_else(app, admin):
    admin.post("/projects", {"name": "Guarded", "modality": "labels"})
    row_id = _rows(app)[-1].id
    for statement in ("UPDATE audit_events SET actor = 'mallory' WHERE id = :i",
                      "UPDATE audit_events SET seq = 999, prev_hash = 'x', hash = 'y', actor = 'm' WHERE id = :i",
                      "UPDATE audit_events SET seq = 999 WHERE id = :i",  # half a seal
                      "DELETE FROM audit_events WHERE id = :i"):
        with pytest.raises(DatabaseError, match="append-only"):
            _execute(app, statement, i=row_id)
    _seal(app)
    with pytest.raises(DatabaseError, match="append-only"):  # sealed rows are final
        _execute(app, "UPDATE audit_events SET seq = seq + 1000, prev_hash = 'x', hash = 'y' WHERE id = :i",
                 i=row_id)
    assert _verify(app)["ok"]


@pytest.mark.parametrize("mac", [None, "ab" * 32])
def test_a_row_inserted_without_the_key_is_sealed_as_forged_and_named(app, admin, mac):
    admin.post("/projects", {"name": "Before", "modality": "labels"})
    _seal(app)
    from server.models import utcnow

    _execute(app, "INSERT INTO audit_events (time, actor, action, object_type, object_id, outcome, details, nonce, "
             "mac) VALUES (:t, 'root', 'login', 'user', 'root', 'success', '{}', '0011223344556677', :mac)",
             t=utcnow(), mac=mac)
    admin.post("/projects", {"name": "After", "modality": "labels"})  # the trail goes on past the forged row
    assert _seal(app) == 2
    forged = next(r for r in _rows(app) if r.nonce == "0011223344556677")
    result = _verify(app)
    assert not result["ok"] and result["first_bad_seq"] == forged.seq, result
    assert "forged" in result["reason"]
    assert _rows(app)[-1].seq == forged.seq + 1


def test_a_copied_row_is_refused(app, admin):
    admin.post("/projects", {"name": "Original", "modality": "labels"})
    columns = "time, actor, action, object_type, object_id, project_id, outcome, details, nonce, mac"
    with pytest.raises(IntegrityError):
        _execute(app, f"INSERT INTO audit_events ({columns}) SELECT {columns} FROM audit_events "
                 "WHERE id = (SELECT max(id) FROM audit_events)")


def test_verify_reports_the_unsealed_tail_and_a_stale_one_as_a_problem(app, admin):
    admin.post("/projects", {"name": "Waiting", "modality": "labels"})
    result = _verify(app, seal_first=False)
    assert result["ok"] and result["checked"] == 0 and result["unsealed"]["count"] >= 1, result
    app.config["AUDIT_UNSEALED_ALERT_S"] = -1  # every unsealed row counts as stale: no sealer ran
    result = _verify(app, seal_first=False)
    assert not result["ok"] and "waited" in result["reason"], result
    result = _verify(app)
    assert result["ok"] and result["unsealed"]["count"] == 0 and "no sealer was running" in result["warning"]


def test_a_lower_id_that_commits_later_is_chained_in_insert_order(app, database_url):
    """PostgreSQL: id 1 is taken by a transaction still running while id 2 is committed and visible."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has one writer at a time: no uncommitted row can hide behind a gap")
    from server.audit import record, seal
    from server.extensions import db

    with app.app_context():
        slow, fast = Session(db.engine), Session(db.engine)
        try:  # closed whatever happens: an open transaction would block the next test's schema reset
            first = record(slow, actor="slow", action="login")
            second = record(fast, actor="fast", action="login")
            fast.commit()
            assert first < second
            assert seal(db.session, grace_s=3600, settle=False) == 0  # the gap may still commit: wait
            slow.commit()
            assert seal(db.session, grace_s=3600, settle=False) == 2
        finally:
            db.session.remove()
            slow.close(), fast.close()
    by_actor = {r.actor: r.seq for r in _rows(app)}
    assert by_actor["slow"] < by_actor["fast"]
    assert _verify(app)["ok"]


def test_past_the_grace_a_late_row_is_chained_after_and_the_chain_stays_complete(app, database_url):
    if not database_url.startswith("postgresql"):
        pytest.skip("PostgreSQL only")
    from server.audit import record, seal
    from server.extensions import db

    with app.app_context():
        slow, fast = Session(db.engine), Session(db.engine)
        record(slow, actor="slow", action="login")
        record(fast, actor="fast", action="login")
        fast.commit()
        assert seal(db.session, grace_s=0) == 1  # a gap older than the grace: sealed past
        slow.commit()
        assert seal(db.session, grace_s=0) == 1  # the late row is not lost
        db.session.remove()
        slow.close(), fast.close()
    by_actor = {r.actor: r.seq for r in _rows(app)}
    assert by_actor["fast"] < by_actor["slow"]
    result = _verify(app)
    assert result["ok"] and result["checked"] == 2 and result["unsealed"]["count"] == 0, result


def test_the_background_sealer_chains_without_being_asked(tmp_path, database_url):
    app = build_app(tmp_path, database_url, JOBS_EAGER=True, AUDIT_SEALER=True)
    sealer = app.extensions["audit_sealer"]
    try:
        create_user(app, "root", is_admin=True)
        api = login(app.test_client(), "root")  # the first request starts the thread
        assert api.post("/projects", {"name": "Live", "modality": "labels"})[0] == 201
        deadline = time.monotonic() + 60  # a generous wait on a loaded machine, not a timing assertion
        while any(r.seq is None for r in _rows(app)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(r.seq is not None for r in _rows(app))
    finally:
        sealer.stop()
        from server.extensions import db

        db.dispose()


def test_verify_in_the_session_that_recorded_sees_its_rows_sealed(app, admin):
    """Verify in the session that appended an event (unsealed when written) finds it sealed: it reads rows."""
    from server.audit import record, verify
    from server.extensions import db

    with app.app_context():
        held_id = record(db.session, actor="cli", action="user.create", object_type="user", object_id="nurse")
        db.session.commit()
        result = verify(db.session)
        db.session.remove()
    assert held_id and result["ok"] and result["checked"] >= 1 and result["unsealed"]["count"] == 0, result
