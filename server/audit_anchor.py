"""Anchoring the audit chain outside the database: signed checkpoints of its head.

Every minute (worker housekeeping) and on `flask audit checkpoint`, the head row's sequence number and hash are
appended to a file outside the database (CLINLABEL_AUDIT_CHECKPOINT_FILE, default DATA_DIR/audit-checkpoints.jsonl),
each line signed with the audit key. `flask audit verify` then detects a deleted tail (the chain ends before a
checkpointed row) and a chain rewritten from an earlier row, even by someone who could write both the table and
the file but not read the key. Compliance officers keep copies: `GET /api/v1/audit/checkpoints` (site admin) or
`flask audit export-checkpoints FILE`. What a checkpoint cannot see: rows appended after the newest checkpoint and
then deleted (at most a minute of events when the worker runs); copies kept elsewhere shrink that window too.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os

from flask import current_app
from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit_chain import plain_prefix
from server.models import AuditEvent, utcnow


def _path() -> str:
    return current_app.config["AUDIT_CHECKPOINT_FILE"]


def _mac(entry: dict) -> str:
    body = json.dumps({k: v for k, v in entry.items() if k != "mac"}, sort_keys=True, separators=(",", ":"))
    return hmac.new(current_app.config["AUDIT_KEY"].encode(), body.encode(), hashlib.sha256).hexdigest()


def read_checkpoints(path: str | None = None) -> tuple[list[dict], str | None]:
    """(checkpoints, problem): a line that does not parse or is not signed with our key is a problem."""
    path = path or _path()
    if not os.path.exists(path):
        return [], None
    out = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
                valid = isinstance(entry, dict) and hmac.compare_digest(str(entry.get("mac", "")), _mac(entry))
            except ValueError:
                valid = False
            if not valid:
                return [], f"audit checkpoint line {number} is not signed with this deployment's audit key"
            out.append(entry)
    return out, None


def check_checkpoints(checkpoints: list[dict], heads: dict[int, str], last_seq: int) -> str | None:
    for entry in checkpoints:
        if entry["seq"] > last_seq:
            return (f"the chain ends at row {last_seq}, but the checkpoint of {entry['time']} saw row {entry['seq']}: "
                    "rows were deleted")
        if heads.get(entry["seq"]) != entry["hash"]:
            return f"row {entry['seq']} differs from the checkpoint of {entry['time']}: the chain was rewritten"
    return None


def write_checkpoint(session: Session) -> dict | None:
    """Seal what is committed, then append a signed checkpoint of the head when it moved since the last one;
    returns it (or None)."""
    from server.audit_sealer import seal

    seal(session)
    head = session.execute(select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.is_not(None))
                           .order_by(AuditEvent.seq.desc()).limit(1)).first()
    existing, problem = read_checkpoints()
    if head is None or problem or (existing and existing[-1]["seq"] == head[0]):
        session.rollback()
        return None
    entry = {"seq": head[0], "hash": head[1], "time": utcnow().isoformat(timespec="seconds")}
    if not existing:
        legacy = plain_prefix(session)  # rows from before the chain was keyed, vouched for from now on
        if legacy:
            entry["legacy_until"] = legacy
    session.rollback()
    entry["mac"] = _mac(entry)
    path = _path()
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, sort_keys=True) + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    return entry
