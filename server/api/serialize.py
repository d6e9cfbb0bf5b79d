"""ORM rows → JSON-ready dicts (one place, so every endpoint shows the same fields)."""
from __future__ import annotations

from server.models import Annotation, Item, Job, Project, User, as_utc


def iso(value) -> str | None:
    return as_utc(value).isoformat() if value is not None else None


def user_out(u: User) -> dict:
    return {"id": u.id, "username": u.username, "is_admin": u.is_admin, "is_active": u.is_active,
            "created_at": iso(u.created_at), "last_login_at": iso(u.last_login_at)}


def project_out(p: Project, role: str | None = None) -> dict:
    out = {"id": p.id, "name": p.name, "description": p.description, "modality": p.modality,
           "label_config": p.label_config, "workflow": p.workflow, "created_at": iso(p.created_at),
           "archived": p.archived}
    if role is not None:
        out["role"] = role
    return out


# Lists select only these columns (an item's text may be a megabyte), as plain rows; item_row_out gives the same
# fields as item_out without content.
_LIST_FIELDS = ("id", "project_id", "kind", "name", "content_hash", "media_type", "size", "meta", "status",
                "status_reason", "deid_state", "stage", "media", "created_at")
ITEM_LIST_COLUMNS = tuple(Item.__table__.c[name if name != "media" else "media_info"] for name in _LIST_FIELDS)


def item_row_out(row) -> dict:
    out = dict(zip(_LIST_FIELDS, row))
    out["created_at"] = iso(out["created_at"])
    return out


def item_out(i: Item, with_content: bool = False) -> dict:
    out = {"id": i.id, "project_id": i.project_id, "kind": i.kind, "name": i.name, "content_hash": i.content_hash,
           "media_type": i.media_type, "size": i.size, "meta": i.meta, "status": i.status,
           "status_reason": i.status_reason, "deid_state": i.deid_state, "stage": i.stage,
           "media": i.media_info, "created_at": iso(i.created_at)}
    if with_content:
        out["text"] = i.text
        out["media_url"] = f"/api/v1/items/{i.id}/media" if i.storage_key or i.source_path else None
    return out


def annotation_out(a: Annotation, author: str | None, blind: bool = False) -> dict:
    return {"id": a.id, "item_id": a.item_id, "project_id": a.project_id,
            "author": None if blind else author, "source": None if blind else a.source,
            "model_version": None if blind else a.model_version, "stage": a.stage, "status": a.status,
            "payload": a.payload, "score": a.score, "version": a.version, "supersedes": a.supersedes_id,
            "comment": a.comment, "time_spent_ms": a.time_spent_ms,
            "created_at": iso(a.created_at), "updated_at": iso(a.updated_at)}


def job_out(j: Job) -> dict:
    return {"id": j.id, "project_id": j.project_id, "kind": j.kind, "status": j.status, "progress": j.progress,
            "progress_detail": j.progress_detail, "error": j.error, "model_version": j.model_version, "queue": j.queue, "params": j.params,
            "result": j.result, "attempts": j.attempts, "cancel_requested": j.cancel_requested,
            "created_at": iso(j.created_at), "started_at": iso(j.started_at), "finished_at": iso(j.finished_at)}
