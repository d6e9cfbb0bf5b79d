"""The Alembic migrations build exactly the schema the models describe, on SQLite and PostgreSQL."""
import uuid

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DatabaseError

import server.models  # noqa: F401
from server.cli import upgrade_database
from server.db import Base


def test_migrations_match_models(database_url):
    if database_url.startswith("postgresql"):
        engine = create_engine(database_url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade_database(database_url)
    engine = create_engine(database_url)
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        if engine.dialect.name == "sqlite":
            triggers = {r[0] for r in conn.execute(text("SELECT name FROM sqlite_master WHERE type='trigger'"))}
        else:
            triggers = {r[0] for r in conn.execute(text("SELECT tgname FROM pg_trigger WHERE NOT tgisinternal"))}
    engine.dispose()
    assert diff == []
    assert {"audit_events_no_update"} <= triggers


def test_upgrade_keeps_an_existing_audit_chain_and_seals_on_top(database_url, tmp_path):
    """A deployment at 0007 with a keyed chain (seq as primary key) upgrades to the sealer's schema: its rows keep
    verifying, new rows are chained after them, the guard still holds, and on PostgreSQL a role that could append
    before may now seal (the chain columns only)."""
    import sqlalchemy as sa
    from alembic import command

    from server.audit_chain import GENESIS, _row_digest, _time_iso
    from server.cli import alembic_config
    from server.models import utcnow
    from support import build_app

    postgres = database_url.startswith("postgresql")
    engine = create_engine(database_url)
    role = f"clinlabel_upgrade_{uuid.uuid4().hex[:6]}"  # roles are cluster-wide: one of its own
    if postgres:
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
            conn.execute(text(f"CREATE ROLE {role}"))
    command.upgrade(alembic_config(database_url), "0007")
    key = "upgrade-test-audit-key"
    table = sa.table("audit_events", *(sa.column(c) for c in ("seq", "prev_hash", "hash", "actor", "action",
                                                             "object_type", "object_id", "project_id", "outcome")),
                     sa.column("time", sa.DateTime(timezone=True)), sa.column("details", sa.JSON()))
    prev, rows = GENESIS, []
    for seq in (1, 2, 3):
        now = utcnow()
        digest = _row_digest(prev, seq, _time_iso(now), "old", "login", "user", "old", None, "success", {"n": seq},
                             key.encode())
        rows.append({"seq": seq, "prev_hash": prev, "hash": digest, "time": now, "actor": "old", "action": "login",
                     "object_type": "user", "object_id": "old", "project_id": None, "outcome": "success",
                     "details": {"n": seq}})
        prev = digest
    with engine.begin() as conn:
        conn.execute(sa.insert(table), rows)
        if postgres:
            conn.execute(text(f"GRANT SELECT, INSERT ON audit_events TO {role}"))
    upgrade_database(database_url)
    try:
        app = build_app(tmp_path, database_url, JOBS_EAGER=True, AUDIT_KEY=key)
        from server import audit
        from server.extensions import db

        with app.app_context():
            audit.record(db.session, actor="new", action="login", object_type="user", object_id="new")
            db.session.commit()
            assert audit.seal(db.session) == 1
            result = audit.verify(db.session)
            ids = db.session.execute(text("SELECT id, seq FROM audit_events ORDER BY id")).all()
            db.session.remove()
        assert result["ok"] and result["checked"] == 4, result
        assert [tuple(r) for r in ids] == [(1, 1), (2, 2), (3, 3), (4, 4)]
        with pytest.raises(DatabaseError, match="append-only"):
            with engine.begin() as conn:
                conn.execute(text("UPDATE audit_events SET actor = 'mallory' WHERE seq = 2"))
        if postgres:
            with engine.connect() as conn:
                can = conn.execute(text(
                    f"SELECT has_column_privilege('{role}', 'audit_events', 'seq', 'UPDATE'), "
                    f"has_column_privilege('{role}', 'audit_events', 'actor', 'UPDATE'), "
                    f"has_sequence_privilege('{role}', 'audit_events_id_seq', 'USAGE')")).one()
            assert tuple(can) == (True, False, True)
        db.dispose()
    finally:
        if postgres:
            with engine.begin() as conn:
                conn.execute(text(f"DROP OWNED BY {role}"))
                conn.execute(text(f"DROP ROLE {role}"))
        engine.dispose()
