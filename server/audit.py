"""The tamper-evident audit trail: append, verify, and who-is-acting helpers.

A request appends its event unsealed, in its own transaction (it commits or rolls back with the action it
records), with an HMAC of the row under CLINLABEL_AUDIT_KEY (or a key generated once into the data folder); it
takes no lock and reads nothing, so writing requests never queue behind one another for the trail. The sealer
(server/audit_sealer.py) then chains the rows in insert order within a second: each sealed row's hash is an HMAC
over the previous hash, the row and its MAC. The database never holds the key, so someone who can write the table
cannot re-hash an edited chain or add a row that verifies (an unsealed row without a valid MAC is sealed as
forged). Signed checkpoints of the head outside the database (server/audit_anchor.py) catch a deleted tail. Rows
written before the chain was keyed are plain SHA-256 and are accepted only up to the legacy boundary the first
checkpoint recorded.
"""
from __future__ import annotations

import hmac
import secrets
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from server.audit_chain import GENESIS, _row_digest, _time_iso, audit_key, event_digest, event_mac, row_mac  # noqa: F401
from server.audit_sealer import PENDING, seal, unsealed_tail  # noqa: F401  (re-exported)
from server.db import begin_writes, execute_plain
from server.models import AuditEvent, utcnow


# The ORM's unit of work costs several times the INSERT itself; every request appends one row and reads nothing
# back, so it goes in as a plain statement, built once at import.
_APPEND = AuditEvent.__table__.insert()


def record(session: Session, actor: str, action: str, outcome: str = "success", object_type: str = "",
           object_id: Any = "", project_id: int | None = None, details: dict | None = None) -> int:
    """Append one event inside the caller's transaction (it commits or rolls back with the action it records);
    returns its id.

    `details` must hold ids and counts only, never note text or names from uploads.
    """
    begin_writes(session)  # a reading request (GET) that audits: its write transaction starts here
    now = utcnow()
    details = details or {}
    actor, object_id, nonce = actor[:120], str(object_id)[:120], secrets.token_hex(8)
    mac = row_mac(_time_iso(now), actor, action, object_type, object_id, project_id, outcome, details, nonce,
                  audit_key())
    # After the pending ORM changes (execute_plain flushes them first), so the event follows the action.
    inserted = execute_plain(session, _APPEND, {
        "time": now, "actor": actor, "action": action, "object_type": object_type, "object_id": object_id,
        "project_id": project_id, "outcome": outcome, "details": details, "nonce": nonce, "mac": mac})
    session.info[PENDING] = True  # wakes this process's sealer after the commit
    return inserted.inserted_primary_key[0]


def record_now(database, **kwargs) -> None:
    """Append in a transaction of its own: for failures whose request transaction is rolled back."""
    session = database.session
    session.rollback()
    record(session, **kwargs)
    session.commit()


def verify(session: Session, batch: int = 5000, seal_first: bool = True) -> dict:
    """Seal what is committed, walk the chain in order and name the first row whose hash or link does not match;
    check the signed checkpoints outside the database (a deleted tail, a chain re-hashed from an earlier row);
    then look at the unsealed tail: rows the sealer has not reached (count, age of the oldest, each one's MAC)."""
    from flask import current_app

    from server.audit_anchor import check_checkpoints, read_checkpoints

    alert_s = float(current_app.config.get("AUDIT_UNSEALED_ALERT_S", 60))
    before = unsealed_tail(session)
    stale_before = before["count"] if before["oldest_age_s"] > alert_s else 0
    sealed_now = seal(session) if seal_first else 0
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
    tail = _check_tail(session, key, alert_s)
    out = {"ok": tail["reason"] is None, "checked": result["checked"], "first_bad_seq": None,
           "reason": tail.pop("reason"), "checkpoints": len(checkpoints),
           "unanchored_tail": result["last_seq"] - max(wanted, default=0), "unsealed": tail,
           "sealed_now": sealed_now}
    if stale_before:
        out["warning"] = (f"{stale_before} events had waited over {alert_s:g} s to be sealed: no sealer was running "
                          "(the web server and the worker run one); this check sealed them")
    return out


def _check_tail(session: Session, key: bytes, alert_s: float) -> dict:
    tail = unsealed_tail(session)
    tail["reason"] = None
    for ev in session.execute(select(AuditEvent.__table__).where(AuditEvent.seq.is_(None)).order_by(AuditEvent.id)
                              .limit(10000)):
        if ev.prev_hash is not None or ev.hash is not None or ev.mac is None \
                or not hmac.compare_digest(event_mac(ev, key), ev.mac):
            tail["reason"] = (f"unsealed row id {ev.id} is malformed or was inserted without the audit key "
                              "(its MAC does not match)")
            break
    session.rollback()
    if tail["reason"] is None and tail["count"] and tail["oldest_age_s"] > alert_s:
        tail["reason"] = (f"{tail['count']} events have waited {tail['oldest_age_s']:.0f} s to be sealed "
                          f"(over {alert_s:g} s): is a sealer stuck? Run `flask audit seal`")
    return tail


def _walk(session: Session, batch: int, key: bytes, legacy_until: int, heads: dict, wanted: set) -> dict:
    prev_hash, expected_seq, checked = GENESIS, 1, 0
    last_seq = 0
    while True:
        rows = session.execute(
            select(AuditEvent.__table__).where(AuditEvent.seq > last_seq).order_by(AuditEvent.seq).limit(batch)
        ).all()  # rows, not ORM objects: an object this session still holds may predate its sealing
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
            if ev.mac is not None and not hmac.compare_digest(event_mac(ev, key), ev.mac):
                return {"ok": False, "checked": checked, "first_bad_seq": ev.seq,
                        "reason": f"row {ev.seq} was altered or forged (its row MAC does not match its content "
                                  "under this deployment's audit key)"}
            legacy = ev.mac is None and ev.seq <= legacy_until
            digest = event_digest(ev, ev.prev_hash, ev.seq, None if legacy else key)
            if digest != ev.hash:
                return {"ok": False, "checked": checked, "first_bad_seq": ev.seq,
                        "reason": f"row {ev.seq} was altered, forged or re-hashed (its hash does not match its "
                                  "content under this deployment's audit key)"}
            if ev.seq in wanted:
                heads[ev.seq] = ev.hash
            prev_hash, expected_seq, checked, last_seq = ev.hash, ev.seq + 1, checked + 1, ev.seq
        session.rollback()  # release the read snapshot between batches
