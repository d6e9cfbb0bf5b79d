from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, Index, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base
from server.models._types import JSONType, UTCDateTime, utcnow


class AuditEvent(Base):
    """Append-only, hash-chained. A request inserts a row unsealed (seq, prev_hash and hash NULL) with a keyed MAC
    of its own content; the sealer (server/audit_sealer.py) sets the chain fields once. The database refuses every
    other UPDATE, and every DELETE."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_login", "action", "object_id", "time"),
        Index("ix_audit_project", "project_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)  # insert order
    # Chain order, set by the sealer. Its unique index also holds the NULLs: SQLite and PostgreSQL both search it for
    # the unsealed tail (`seq IS NULL`), so the sealer never scans the trail and needs no index of its own.
    seq: Mapped[int | None] = mapped_column(Integer, unique=True)
    prev_hash: Mapped[str | None] = mapped_column(String(64))
    hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    actor: Mapped[str] = mapped_column(String(120), nullable=False)
    action: Mapped[str] = mapped_column(String(60), nullable=False)
    object_type: Mapped[str] = mapped_column(String(40), default="", nullable=False)
    object_id: Mapped[str] = mapped_column(String(120), default="", nullable=False)
    project_id: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(20), nullable=False)
    details: Mapped[dict] = mapped_column(JSONType, default=dict, nullable=False)
    # HMAC of the row's content and nonce under the audit key, written by the request: an unsealed row inserted
    # without the key is sealed as forged, never laundered into the chain; unique, so a copied row is refused.
    # NULL only on rows sealed before the sealer existed.
    nonce: Mapped[str | None] = mapped_column(String(16))
    mac: Mapped[str | None] = mapped_column(String(64), unique=True)


_CONTENT = ("id", "time", "actor", "action", "object_type", "object_id", "project_id", "outcome", "details",
            "nonce", "mac")
# Sealing is the one UPDATE allowed: chain fields from NULL to set, on an unsealed row, nothing else changed.
SQLITE_TRIGGERS = [
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events WHEN "
    "OLD.seq IS NOT NULL OR OLD.prev_hash IS NOT NULL OR OLD.hash IS NOT NULL "
    "OR NEW.seq IS NULL OR NEW.prev_hash IS NULL OR NEW.hash IS NULL OR "
    + " OR ".join(f"NEW.{c} IS NOT OLD.{c}" for c in _CONTENT)
    + " BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
]
POSTGRES_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
    "IF TG_OP = 'UPDATE' AND OLD.seq IS NULL AND OLD.prev_hash IS NULL AND OLD.hash IS NULL "
    "AND NEW.seq IS NOT NULL AND NEW.prev_hash IS NOT NULL AND NEW.hash IS NOT NULL AND "
    "(" + ", ".join(f"NEW.{c}" for c in _CONTENT) + ") IS NOT DISTINCT FROM ("
    + ", ".join(f"OLD.{c}" for c in _CONTENT) + ") THEN RETURN NEW; END IF; "
    "RAISE EXCEPTION 'audit_events is append-only'; END $$",
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
    "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
]

# Tests build schemas with metadata.create_all; the Alembic migrations create the same triggers.
for _sql in SQLITE_TRIGGERS:
    event.listen(AuditEvent.__table__, "after_create", DDL(_sql).execute_if(dialect="sqlite"))
for _sql in POSTGRES_TRIGGERS:
    event.listen(AuditEvent.__table__, "after_create", DDL(_sql).execute_if(dialect="postgresql"))
