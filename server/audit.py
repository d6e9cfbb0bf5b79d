"""The tamper-evident audit trail: append, verify, and who-is-acting helpers."""
from __future__ import annotations

import hashlib
import json
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from server.models import AuditEvent, as_utc, utcnow

GENESIS = "0" * 64
_PG_LOCK_KEY = 0x436C696E  # any constant; serialises appenders so the chain cannot fork


def _row_digest(prev_hash: str, seq: int, time_iso: str, actor: str, action: str, object_type: str,
                object_id: str, project_id: int | None, outcome: str, details: dict) -> str:
    canonical = json.dumps(
        [seq, time_iso, actor, action, object_type, object_id, project_id, outcome, details],
        sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str,
    )
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _time_iso(value) -> str:
    return as_utc(value).isoformat(timespec="microseconds")


def record(session: Session, actor: str, action: str, outcome: str = "success", object_type: str = "",
           object_id: Any = "", project_id: int | None = None, details: dict | None = None) -> AuditEvent:
    """Append one event inside the caller's transaction (it commits or rolls back with the action it records).

    `details` must hold ids and counts only, never note text or names from uploads.
    """
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _PG_LOCK_KEY})
    last = session.execute(select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)).first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    now = utcnow()
    details = details or {}
    event = AuditEvent(
        seq=seq, prev_hash=prev, time=now, actor=actor[:120], action=action, object_type=object_type,
        object_id=str(object_id)[:120], project_id=project_id, outcome=outcome, details=details,
    )
    event.hash = _row_digest(prev, seq, _time_iso(now), event.actor, action, object_type, event.object_id,
                             project_id, outcome, details)
    session.add(event)
    session.flush()
    return event


def record_now(database, **kwargs) -> None:
    """Append in a transaction of its own: for failures whose request transaction is rolled back."""
    session = database.session
    session.rollback()
    record(session, **kwargs)
    session.commit()


def verify(session: Session, batch: int = 5000) -> dict:
    """Walk the chain in order; name the first row whose hash or link does not match."""
    prev_hash, expected_seq, checked = GENESIS, 1, 0
    last_seq = 0
    while True:
        rows = session.execute(
            select(AuditEvent).where(AuditEvent.seq > last_seq).order_by(AuditEvent.seq).limit(batch)
        ).scalars().all()
        if not rows:
            return {"ok": True, "checked": checked, "first_bad_seq": None, "reason": None}
        for ev in rows:
            if ev.seq != expected_seq:
                return {"ok": False, "checked": checked, "first_bad_seq": expected_seq,
                        "reason": f"row {expected_seq} is missing (next row is {ev.seq})"}
            if ev.prev_hash != prev_hash:
                return {"ok": False, "checked": checked, "first_bad_seq": ev.seq,
                        "reason": f"row {ev.seq} does not link to row {ev.seq - 1}"}
            digest = _row_digest(ev.prev_hash, ev.seq, _time_iso(ev.time), ev.actor, ev.action, ev.object_type,
                                 ev.object_id, ev.project_id, ev.outcome, ev.details or {})
            if digest != ev.hash:
                return {"ok": False, "checked": checked, "first_bad_seq": ev.seq,
                        "reason": f"row {ev.seq} was altered (its content does not match its hash)"}
            prev_hash, expected_seq, checked, last_seq = ev.hash, ev.seq + 1, checked + 1, ev.seq
        session.rollback()  # release the read snapshot between batches
