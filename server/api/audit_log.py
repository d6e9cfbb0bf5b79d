"""The audit trail, read-only (site admins). There is no route that changes it."""
from __future__ import annotations

from sqlalchemy import select

from server import audit
from server.errors import ApiError
from server.api.blueprint import api_bp
from server.api.pagination import page
from server.api.schemas import AuditQuery
from server.api.serialize import iso
from server.extensions import db
from server.models import AuditEvent
from server.permissions import require_site_admin


def event_out(ev: AuditEvent) -> dict:
    return {"id": ev.id, "seq": ev.seq, "sealed": ev.seq is not None, "time": iso(ev.time), "actor": ev.actor, "action": ev.action,
            "object_type": ev.object_type, "object_id": ev.object_id, "project_id": ev.project_id,
            "outcome": ev.outcome, "details": ev.details, "hash": ev.hash, "prev_hash": ev.prev_hash}


@api_bp.get("/audit")
@api_bp.input(AuditQuery, location="query")
@api_bp.doc(summary="Audit events, newest first, cursor-paginated (site admin)")
def list_audit(query_data):
    require_site_admin()
    stmt = select(AuditEvent)
    for key in ("action", "actor", "project_id"):
        if key in query_data:
            stmt = stmt.where(getattr(AuditEvent, key) == query_data[key])
    # Insert order: the sealer chains rows in it, and the newest (not yet sealed, seq null) are listed too.
    rows, nxt = page(db.session, stmt, AuditEvent.id, query_data["limit"], query_data["cursor"], descending=True)
    return {"items": [event_out(e) for e in rows], "next_cursor": nxt}


@api_bp.get("/audit/verify")
@api_bp.doc(summary="Seal, walk the hash chain and name the first altered row; report the unsealed tail (site admin)")
def verify_audit():
    require_site_admin()
    return audit.verify(db.session)


@api_bp.get("/audit/checkpoints")
@api_bp.doc(summary="The signed checkpoints of the chain's head, for a compliance officer to keep (site admin)")
def audit_checkpoints():
    import os

    from flask import current_app, send_file

    admin = require_site_admin()
    path = current_app.config["AUDIT_CHECKPOINT_FILE"]
    audit.record(db.session, actor=admin.username, action="audit.checkpoints.export", object_type="audit")
    db.session.commit()
    from server.audit_anchor import write_checkpoint

    write_checkpoint(db.session)  # the copy handed out ends at the current head, this export included
    if not os.path.exists(path):
        raise ApiError(409, "the checkpoint file could not be written; see the server log")
    return send_file(path, mimetype="application/x-ndjson", as_attachment=True,
                     download_name="audit-checkpoints.jsonl", max_age=0)
