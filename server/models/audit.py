from __future__ import annotations

from datetime import datetime

from sqlalchemy import DDL, Index, Integer, String, event
from sqlalchemy.orm import Mapped, mapped_column

from server.db import Base
from server.models._types import JSONType, UTCDateTime, utcnow


class AuditEvent(Base):
    """Append-only, hash-chained: hash = sha256(prev_hash + canonical row). The database refuses UPDATE/DELETE."""

    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_login", "action", "object_id", "time"),
        Index("ix_audit_project", "project_id", "seq"),
    )

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    prev_hash: Mapped[str] = mapped_column(String(64), nullable=False)
    hash: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    time: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, nullable=False)
    actor: Mapped[str] = mapped_column(String(120), nullable=False)
    action: Mapped[str] = mapped_column(String(60), nullable=False)
    object_type: Mapped[str] = mapped_column(String(40), default="", nullable=False)
    object_id: Mapped[str] = mapped_column(String(120), default="", nullable=False)
    project_id: Mapped[int | None] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(20), nullable=False)
    details: Mapped[dict] = mapped_column(JSONType, default=dict, nullable=False)


SQLITE_TRIGGERS = [
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
    "CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events "
    "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END",
]
POSTGRES_TRIGGERS = [
    "CREATE OR REPLACE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'audit_events is append-only'; END $$",
    "CREATE TRIGGER audit_events_no_update BEFORE UPDATE OR DELETE ON audit_events "
    "FOR EACH ROW EXECUTE FUNCTION audit_events_append_only()",
    "CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON audit_events "
    "FOR EACH STATEMENT EXECUTE FUNCTION audit_events_append_only()",
]

# Tests build schemas with metadata.create_all; the Alembic migration creates the same triggers.
for _sql in SQLITE_TRIGGERS:
    event.listen(AuditEvent.__table__, "after_create", DDL(_sql).execute_if(dialect="sqlite"))
for _sql in POSTGRES_TRIGGERS:
    event.listen(AuditEvent.__table__, "after_create", DDL(_sql).execute_if(dialect="postgresql"))
