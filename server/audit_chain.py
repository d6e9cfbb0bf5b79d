"""The audit chain's primitives (a leaf module): the row MAC a request writes, the chain digest the sealer writes
(HMAC-SHA256 under the audit key; plain SHA-256 for rows written before the chain was keyed) and the length of a
plain prefix."""
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


def _canonical(values: list) -> str:
    return json.dumps(values, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=str)


def _row_digest(prev_hash: str, seq: int, time_iso: str, actor: str, action: str, object_type: str,
                object_id: str, project_id: int | None, outcome: str, details: dict, key: bytes | None,
                mac: str | None = None) -> str:
    """The chain hash of a sealed row. Rows sealed by the sealer carry a row MAC, which the digest covers too
    (so one cannot be swapped for another); rows chained before the sealer existed have none."""
    canonical = _canonical([seq, time_iso, actor, action, object_type, object_id, project_id, outcome, details])
    message = (prev_hash + canonical + (mac or "")).encode()
    if key is None:  # rows written before the chain was keyed
        return hashlib.sha256(message).hexdigest()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def row_mac(time_iso: str, actor: str, action: str, object_type: str, object_id: str, project_id: int | None,
            outcome: str, details: dict, nonce: str, key: bytes) -> str:
    """What a request writes with its unsealed row: proof that it was written by the application (which holds the
    key), checked by the sealer before it chains the row and by `verify` afterwards."""
    canonical = _canonical(["row", nonce, time_iso, actor, action, object_type, object_id, project_id, outcome,
                            details])
    return hmac.new(key, canonical.encode(), hashlib.sha256).hexdigest()


def event_mac(ev, key: bytes) -> str:
    return row_mac(_time_iso(ev.time), ev.actor, ev.action, ev.object_type, ev.object_id, ev.project_id, ev.outcome,
                   ev.details or {}, ev.nonce or "", key)


def event_digest(ev, prev_hash: str, seq: int, key: bytes | None) -> str:
    return _row_digest(prev_hash, seq, _time_iso(ev.time), ev.actor, ev.action, ev.object_type, ev.object_id,
                       ev.project_id, ev.outcome, ev.details or {}, key, ev.mac)


def _time_iso(value) -> str:
    return as_utc(value).isoformat(timespec="microseconds")


def plain_prefix(session: Session, batch: int = 5000) -> int:
    """How many rows from the start are an intact plain SHA-256 chain (written before keying); 0 for a keyed one."""
    prev_hash, last_seq = GENESIS, 0
    while True:
        rows = session.execute(select(AuditEvent.__table__).where(AuditEvent.seq > last_seq)
                               .order_by(AuditEvent.seq).limit(batch)).all()
        if not rows:
            return last_seq
        for ev in rows:
            if ev.mac is not None:  # sealed by the sealer: keyed, so the plain prefix ended before it
                return last_seq
            digest = event_digest(ev, prev_hash, ev.seq, None)
            if ev.seq != last_seq + 1 or ev.prev_hash != prev_hash or digest != ev.hash:
                return last_seq
            prev_hash, last_seq = ev.hash, ev.seq
