"""Campaign checklist — audit: the chain cannot be rewritten undetected by someone who can write the table
(deleting the tail, re-hashing every row after an edit, appending a forged row), and on PostgreSQL the app runs
under a role that cannot alter or disable audit_events at all."""
from __future__ import annotations

import hashlib
import json
import uuid

import pytest
from sqlalchemy import create_engine, text

pytestmark = pytest.mark.concurrent  # the attacker works through a second connection


def _events(admin, n=4):
    for i in range(n):
        admin.post("/projects", {"name": f"Audited {i}", "modality": "labels"})
    from server.audit import seal
    from server.extensions import db

    with admin.client.application.app_context():  # tests run without the sealer's thread: chain the rows now
        seal(db.session)
        db.session.remove()


def _attacker(app):
    """A connection with DDL rights that first drops the append-only guard."""
    from server.extensions import db

    conn = db.engine.connect()
    if db.dialect == "sqlite":
        for name in ("audit_events_no_update", "audit_events_no_delete"):
            conn.execute(text(f"DROP TRIGGER IF EXISTS {name}"))
    else:
        conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER USER"))
    return conn


def _verify(app):
    from server.audit import verify
    from server.extensions import db

    with app.app_context():
        result = verify(db.session)
        db.session.remove()
    return result


def _checkpoint(app):
    from server.audit_anchor import write_checkpoint
    from server.extensions import db

    with app.app_context():
        entry = write_checkpoint(db.session)
        db.session.remove()
    return entry


def test_a_deleted_tail_is_detected_by_the_signed_checkpoint(app, admin):
    _events(admin)
    entry = _checkpoint(app)
    assert entry and _verify(app)["ok"]
    with app.app_context():
        conn = _attacker(app)
        conn.execute(text("DELETE FROM audit_events WHERE seq > :s"), {"s": entry["seq"] - 2})
        conn.commit()
        conn.close()
    result = _verify(app)
    assert not result["ok"] and "rows were deleted" in result["reason"], result


def test_a_full_rehash_without_the_key_is_detected(app, admin):
    """Edit row 2, then recompute every hash after it as plain SHA-256 (what the code did before keying)."""
    _events(admin)
    with app.app_context():
        from server.audit import GENESIS, _row_digest, _time_iso
        from server.models import AuditEvent

        conn = _attacker(app)
        conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"))
        from sqlalchemy.orm import Session

        with Session(bind=conn) as s:
            prev = GENESIS
            for ev in s.query(AuditEvent).order_by(AuditEvent.seq):
                ev.prev_hash = prev
                ev.hash = _row_digest(prev, ev.seq, _time_iso(ev.time), ev.actor, ev.action, ev.object_type,
                                      ev.object_id, ev.project_id, ev.outcome, ev.details or {}, b"guessed-key")
                prev = ev.hash
            s.flush()
        conn.commit()
        conn.close()
    result = _verify(app)
    assert not result["ok"] and result["first_bad_seq"] == 1 and "re-hashed" in result["reason"], result


def test_a_forged_append_is_detected(app, admin):
    _events(admin)
    with app.app_context():
        from server.extensions import db
        from server.models import AuditEvent

        last = db.session.query(AuditEvent).order_by(AuditEvent.seq.desc()).first()
        seq, prev = last.seq + 1, last.hash
        db.session.remove()
        forged_hash = hashlib.sha256((prev + json.dumps([seq, "x"])).encode()).hexdigest()
        conn = _attacker(app)
        conn.execute(text("INSERT INTO audit_events (seq, prev_hash, hash, time, actor, action, object_type, "
                          "object_id, project_id, outcome, details) VALUES (:seq, :prev, :hash, :time, 'root', "
                          "'login', 'user', 'root', NULL, 'success', '{}')"),
                     {"seq": seq, "prev": prev, "hash": forged_hash, "time": last.time})
        conn.commit()
        conn.close()
    result = _verify(app)
    assert not result["ok"] and result["first_bad_seq"] == seq, result


def test_a_checkpoint_file_signed_with_another_key_is_refused(app, admin):
    _events(admin, 2)
    _checkpoint(app)
    path = app.config["AUDIT_CHECKPOINT_FILE"]
    lines = open(path).read().splitlines()
    entry = json.loads(lines[-1])
    entry["seq"] = 1  # an attacker moving the anchor back to hide deletions
    with open(path, "w") as fh:
        fh.write(json.dumps(entry) + "\n")
    result = _verify(app)
    assert not result["ok"] and "not signed" in result["reason"]


def test_checkpoints_are_exported_for_compliance(app, admin):
    _events(admin, 2)
    _checkpoint(app)
    resp = admin.client.get("/api/v1/audit/checkpoints", headers=admin.headers())
    assert resp.status_code == 200 and json.loads(resp.data.splitlines()[0])["mac"]


def test_a_plain_chain_from_before_keying_is_vouched_for_by_the_first_checkpoint(sqlite_app):
    """An upgraded deployment: rows written with plain SHA-256 verify up to the first checkpoint's boundary."""
    from server.audit import GENESIS, _row_digest, _time_iso
    from server.extensions import db
    from server.models import AuditEvent, utcnow

    with sqlite_app.app_context():
        prev = GENESIS
        for seq in (1, 2, 3):
            now = utcnow()
            digest = _row_digest(prev, seq, _time_iso(now), "old", "login", "user", "old", None, "success", {}, None)
            db.session.add(AuditEvent(seq=seq, prev_hash=prev, hash=digest, time=now, actor="old", action="login",
                                      object_type="user", object_id="old", outcome="success", details={}))
            prev = digest
        db.session.commit()
        from server import audit

        audit.record(db.session, actor="new", action="login", object_type="user", object_id="new")
        db.session.commit()
        db.session.remove()
    entry = _checkpoint(sqlite_app)
    assert entry["legacy_until"] == 3
    result = _verify(sqlite_app)
    assert result["ok"] and result["checked"] == 4, result


def test_the_app_role_cannot_alter_or_disable_the_audit_table(postgres_database, tmp_path):
    """Migrations under the owner role; the app under a role `flask db-grant` made: it writes, reads and appends
    audit events, and every attempt to rewrite or unguard audit_events is refused by PostgreSQL itself."""
    from support import build_app, create_user, fresh_schema, login

    fresh_schema(postgres_database)
    role = f"clinlabel_app_{uuid.uuid4().hex[:6]}"
    owner = create_engine(postgres_database, isolation_level="AUTOCOMMIT")
    from server.db_roles import grant_app_role

    with owner.connect() as conn:
        conn.execute(text(f'CREATE ROLE "{role}" LOGIN'))
        grant_app_role(conn, role)
    app_url = postgres_database.replace("postgres@", f"{role}@", 1)
    try:
        app = build_app(tmp_path, app_url, JOBS_EAGER=True)
        create_user(app, "root", is_admin=True)
        api = login(app.test_client(), "root")
        assert api.post("/projects", {"name": "Ward", "modality": "labels"})[0] == 201
        assert api.get("/audit/verify")[1]["ok"]
        as_app = create_engine(app_url, isolation_level="AUTOCOMMIT")
        with as_app.connect() as conn:
            for attack in ("ALTER TABLE audit_events DISABLE TRIGGER USER", "DROP TRIGGER audit_events_no_update "
                           "ON audit_events", "UPDATE audit_events SET actor = 'mallory'",
                           "DELETE FROM audit_events", "TRUNCATE audit_events", "DROP TABLE audit_events"):
                with pytest.raises(Exception) as info:
                    conn.execute(text(attack))
                assert "permission denied" in str(info.value) or "must be owner" in str(info.value) \
                    or "append-only" in str(info.value), attack
        as_app.dispose()
        from server.extensions import db

        db.dispose()
    finally:
        with owner.connect() as conn:
            conn.execute(text(f'REASSIGN OWNED BY "{role}" TO postgres'))
            conn.execute(text(f'DROP OWNED BY "{role}"'))
            conn.execute(text(f'DROP ROLE "{role}"'))
        owner.dispose()
