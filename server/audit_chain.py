"""The audit chain's primitives (a leaf module): the row digest (HMAC-SHA256 under the audit key; plain SHA-256
for rows written before the chain was keyed) and the length of a plain prefix."""
from __future__ import annotations

import hashlib
import hmac
import json

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.models import AuditEvent, as_utc

GENESIS = "0" * 64


def audit_key() -> bytes:
    from flask import current_app

    return current_app.config["AUDIT_KEY"].encode()


def _row_digest(prev_hash: str, seq: int, time_iso: str, actor: str, action: str, object_type: str,
                object_id: str, project_id: int | None, outcome: str, details: dict, key: bytes | None) -> str:
    canonical = json.dumps(
        [seq, time_iso, actor, action, object_type, object_id, project_id, outcome, details],
        sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str,
    )
    message = (prev_hash + canonical).encode()
    if key is None:  # rows written before the chain was keyed
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def _time_iso(value) -> str:
    return as_utc(value).isoformat(timespec="microseconds")


def plain_prefix(session: Session, batch: int = 5000) -> int:
    """How many rows from the start are an intact plain SHA-256 chain (written before keying); 0 for a keyed one."""
    prev_hash, last_seq = GENESIS, 0
    while True:
        rows = session.execute(select(AuditEvent).where(AuditEvent.seq > last_seq).order_by(AuditEvent.seq)
                               .limit(batch)).scalars().all()
        if not rows:
            return last_seq
        for ev in rows:
            digest = _row_digest(prev_hash, ev.seq, _time_iso(ev.time), ev.actor, ev.action, ev.object_type,
                                 ev.object_id, ev.project_id, ev.outcome, ev.details or {}, None)
            if ev.seq != last_seq + 1 or ev.prev_hash != prev_hash or digest != ev.hash:
                return last_seq
            prev_hash, last_seq = ev.hash, ev.seq
