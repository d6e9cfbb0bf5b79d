"""The audit trail: hash chain, append-only at the database, verification that names the altered row."""
import subprocess
import sys

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError

from support import ROOT

# Tampering goes through a second connection (as an attacker would): it must see committed rows.
pytestmark = pytest.mark.concurrent


def _some_events(admin, app=None):
    admin.post("/projects", {"name": "Audited", "modality": "labels"})
    admin.get("/projects")
    admin.post("/tokens", {"username": "root", "password": "wrong-one-here"})
    if app is not None:  # tests run without the sealer's thread: chain the rows now
        from server.audit import seal
        from server.extensions import db

        with app.app_context():
            seal(db.session)
            db.session.remove()


def test_chain_verifies_and_events_have_fields(app, admin):
    _some_events(admin)
    status, result = admin.get("/audit/verify")
    assert status == 200 and result["ok"] and result["checked"] >= 3
    _, events = admin.get("/audit")
    e = events["items"][-1]
    assert {"seq", "time", "actor", "action", "object_type", "object_id", "outcome", "hash", "prev_hash"} <= set(e)
    assert events["items"][0]["seq"] > events["items"][-1]["seq"]  # newest first


@pytest.mark.parametrize("statement", ["UPDATE audit_events SET actor = 'mallory'", "DELETE FROM audit_events"])
def test_database_refuses_update_and_delete(app, admin, statement):
    from server.extensions import db

    _some_events(admin)
    with app.app_context():
        with pytest.raises(DatabaseError, match="append-only"):
            with db.engine.begin() as conn:
                conn.execute(text(statement))


def test_tampering_is_pinpointed(app, admin):
    from server.audit import verify
    from server.extensions import db

    _some_events(admin, app)
    with app.app_context():
        with db.engine.begin() as conn:  # an attacker with DDL rights drops the guard first
            if db.dialect == "sqlite":
                conn.execute(text("DROP TRIGGER audit_events_no_update"))
            else:
                conn.execute(text("ALTER TABLE audit_events DISABLE TRIGGER audit_events_no_update"))
            conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"))
        result = verify(db.session)
    assert not result["ok"] and result["first_bad_seq"] == 2 and "altered" in result["reason"]


def test_no_route_changes_the_audit_trail(admin):
    for method in ("PUT", "PATCH", "DELETE", "POST"):
        status, _ = admin.call(method, "/audit")
        assert status == 405, method


def test_audit_is_admin_only(app, client, admin, labels_project, make_member):
    manager = make_member(labels_project["id"], "mgr", "manager")
    assert manager.get("/audit")[0] == 403


def test_cli_audit_verify(tmp_path):
    env = {"CLINLABEL_DATA_DIR": str(tmp_path), "CLINLABEL_ADMIN_PASSWORD": "cli-ward-lantern-7",
           "FLASK_APP": "server:create_app", "PATH": "", **{k: v for k, v in __import__("os").environ.items()
                                                            if k in ("PYTHONPATH", "HOME")}}
    flask = [sys.executable, "-m", "flask"]
    subprocess.run(flask + ["setup", "--no-demo"], cwd=ROOT, env=env, check=True, capture_output=True)
    sealed = subprocess.run(flask + ["audit", "seal"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert sealed.returncode == 0 and sealed.stdout.startswith("sealed 0 events")  # `setup` sealed its own
    ok = subprocess.run(flask + ["audit", "verify"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert ok.returncode == 0 and "intact" in ok.stdout and "none unsealed" in ok.stdout
    import sqlite3

    conn = sqlite3.connect(tmp_path / "clinlabel.sqlite")
    conn.execute("DROP TRIGGER audit_events_no_update")
    conn.execute("UPDATE audit_events SET outcome = 'failure' WHERE seq = 1")
    conn.commit()
    conn.close()
    bad = subprocess.run(flask + ["audit", "verify"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert bad.returncode == 1 and "BROKEN at event 1" in bad.stderr
