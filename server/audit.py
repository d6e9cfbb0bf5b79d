"""The tamper-evident audit trail: append, verify, and who-is-acting helpers.

Each row's hash is an HMAC-SHA256, keyed with CLINLABEL_AUDIT_KEY (or a key generated once into the data folder),
over the previous hash and the row: the database never holds the key, so someone who can write the table cannot
re-hash an edited chain or append a row that verifies. Signed checkpoints of the head outside the database
(server/audit_anchor.py) catch a deleted tail. Rows written before the chain was keyed are plain SHA-256 and are
accepted only up to the legacy boundary the first checkpoint recorded.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from server.audit_chain import GENESIS, _row_digest, _time_iso, audit_key  # noqa: F401  (re-exported)
from server.db import begin_writes
from server.models import AuditEvent, utcnow

_PG_LOCK_KEY = 0x436C696E  # any constant; serialises appenders so the chain cannot fork


def record(session: Session, actor: str, action: str, outcome: str = "success", object_type: str = "",
           object_id: Any = "", project_id: int | None = None, details: dict | None = None) -> AuditEvent:
    """Append one event inside the caller's transaction (it commits or rolls back with the action it records).

    `details` must hold ids and counts only, never note text or names from uploads.
    """
    begin_writes(session)  # a reading request (GET) that audits: its write transaction starts here
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
                             project_id, outcome, details, audit_key())
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
    """Walk the chain in order; name the first row whose hash or link does not match; then check the signed
    checkpoints outside the database (a deleted tail, a chain re-hashed from an earlier row)."""
    from server.audit_anchor import check_checkpoints, read_checkpoints

    checkpoints, problem = read_checkpoints()
    if problem:
        return {"ok": False, "checked": 0, "first_bad_seq": None, "reason": problem}
    legacy_until = next((c["legacy_until"] for c in checkpoints if "legacy_until" in c), 0)
    key = audit_key()
    heads: dict[int, str] = {}
    wanted = {c["seq"] for c in checkpoints}
    result = _walk(session, batch, key, legacy_until, heads, wanted)
    if not result["ok"]:
        return result
    reason = check_checkpoints(checkpoints, heads, result["last_seq"])
    if reason:
        return {"ok": False, "checked": result["checked"], "first_bad_seq": None, "reason": reason}
    return {"ok": True, "checked": result["checked"], "first_bad_seq": None, "reason": None,
            "checkpoints": len(checkpoints), "unanchored_tail": result["last_seq"] - max(wanted, default=0)}


def _walk(session: Session, batch: int, key: bytes, legacy_until: int, heads: dict, wanted: set) -> dict:
    prev_hash, expected_seq, checked = GENESIS, 1, 0
    last_seq = 0
    while True:
        rows = session.execute(
            select(AuditEvent).where(AuditEvent.seq > last_seq).order_by(AuditEvent.seq).limit(batch)
        ).scalars().all()
        if not rows:
            session.rollback()
            return {"ok": True, "checked": checked, "first_bad_seq": None, "reason": None, "last_seq": last_seq}
        for ev in rows:
            if ev.seq != expected_seq:
                return {"ok": False, "checked": checked, "first_bad_seq": expected_seq,
                        "reason": f"row {expected_seq} is missing (next row is {ev.seq})"}
            if ev.prev_hash != prev_hash:
                return {"ok": False, "checked": checked, "first_bad_seq": ev.seq,
                        "reason": f"row {ev.seq} does not link to row {ev.seq - 1}"}
            digest = _row_digest(ev.prev_hash, ev.seq, _time_iso(ev.time), ev.actor, ev.action, ev.object_type,
                                 ev.object_id, ev.project_id, ev.outcome, ev.details or {},
                                 None if ev.seq <= legacy_until else key)
            if digest != ev.hash:
                return {"ok": False, "checked": checked, "first_bad_seq": ev.seq,
                        "reason": f"row {ev.seq} was altered, forged or re-hashed (its hash does not match its "
                                  "content under this deployment's audit key)"}
            if ev.seq in wanted:
                heads[ev.seq] = ev.hash
            prev_hash, expected_seq, checked, last_seq = ev.hash, ev.seq + 1, checked + 1, ev.seq
        session.rollback()  # release the read snapshot between batches
