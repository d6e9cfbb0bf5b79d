"""Autosaved work in progress: the annotator's page saves its pending edits here (debounced) so a reload, a crash
or an expired session loses nothing. A draft never changes a submitted annotation; it is deleted when the
annotation is saved."""
from __future__ import annotations

from apiflask import Schema, fields
from apiflask.validators import OneOf, Range
from flask import g
from sqlalchemy import bindparam, delete, select, update

from server import audit
from server.api.blueprint import api_bp
from server.api.schemas import DB_ID, PAYLOAD_MAX, UI_STATE_MAX, JsonSize
from server.auth import actor_name
from server.errors import ApiError
from server.db import insert_unless_exists
from server.extensions import db
from server.models import AnnotationDraft, Item, Project, utcnow
from server.permissions import require_object
from server.review import validated_payload

STAGES = ["annotate", "review", "adjudicate"]


class DraftQuery(Schema):
    stage = fields.String(load_default="annotate", validate=OneOf(STAGES))


class DraftIn(Schema):
    stage = fields.String(load_default="annotate", validate=OneOf(STAGES))
    payload = fields.Dict(required=True, validate=JsonSize(PAYLOAD_MAX))
    ui_state = fields.Dict(load_default=None, allow_none=True, validate=JsonSize(UI_STATE_MAX))
    # The revision the page last saw (0 for a first save): a save from a stale tab gets 409.
    revision = fields.Integer(required=True, validate=Range(0, 2**31 - 1))
    base_annotation_id = fields.Integer(load_default=None, allow_none=True, validate=DB_ID)
    base_version = fields.Integer(load_default=None, allow_none=True, validate=DB_ID)


def _out(draft: AnnotationDraft) -> dict:
    return {"stage": draft.stage, "payload": draft.payload, "ui_state": draft.ui_state, "revision": draft.revision,
            "base_annotation_id": draft.base_annotation_id, "base_version": draft.base_version,
            "updated_at": draft.updated_at.isoformat()}


# (w_: an UPDATE reserves bind names equal to its table's columns.)
_THE_DRAFT = (AnnotationDraft.item_id == bindparam("w_item_id"), AnnotationDraft.user_id == bindparam("w_user_id"),
              AnnotationDraft.stage == bindparam("w_stage"))
_MINE = select(AnnotationDraft).where(*_THE_DRAFT)
# An autosave: one conditional UPDATE, built once (server/statements.py); a stale tab's revision matches no row.
_AUTOSAVE = update(AnnotationDraft).where(*_THE_DRAFT, AnnotationDraft.revision == bindparam("sent")).values(
    revision=bindparam("new_revision"), payload=bindparam("new_payload"), ui_state=bindparam("new_ui_state"),
    updated_at=bindparam("new_updated_at"), base_annotation_id=bindparam("new_base_annotation_id"),
    base_version=bindparam("new_base_version"))


def _mine(item_id: int, stage: str) -> AnnotationDraft | None:
    return db.session.execute(_MINE, {"w_item_id": item_id, "w_user_id": g.user.id, "w_stage": stage}
                              ).scalar_one_or_none()


@api_bp.get("/items/<int:item_id>/draft")
@api_bp.input(DraftQuery, location="query")
@api_bp.doc(summary="The caller's autosaved draft of an item at a stage; 204 when there is none")
def get_draft(item_id, query_data):
    item, _ = require_object(Item, item_id, "annotations.write", "item")
    draft = _mine(item.id, query_data["stage"])
    if draft is not None:
        audit.record(db.session, actor=actor_name(), action="draft.read", object_type="item", object_id=item.id,
                     project_id=item.project_id)
        db.session.commit()
    return (_out(draft), 200) if draft else ("", 204)


@api_bp.put("/items/<int:item_id>/draft")
@api_bp.input(DraftIn)
@api_bp.doc(summary="Autosave the caller's pending edits (validated like an annotation; `revision` guards "
                    "against a stale tab: 409)")
def put_draft(item_id, json_data):
    item, _ = require_object(Item, item_id, "annotations.write", "item")
    project = db.session.get(Project, item.project_id)
    payload = validated_payload(project, json_data["payload"])
    stage, sent = json_data["stage"], json_data["revision"]
    values = {"payload": payload, "ui_state": json_data["ui_state"], "updated_at": utcnow(), "base_annotation_id": json_data["base_annotation_id"],
              "base_version": json_data["base_version"]}
    if sent == 0:  # the first save of this item: the draft must not exist yet (two tabs at once: one wins)
        draft = insert_unless_exists(db.session, AnnotationDraft, {
            "project_id": item.project_id, "item_id": item.id, "user_id": g.user.id, "stage": stage, "revision": 1,
            **values}, ["item_id", "user_id", "stage"])
        if draft is None:
            current = _mine(item.id, stage)
            raise ApiError(409, f"your draft is at revision {current.revision if current else 1}, this page sent "
                                "0: it was changed in another tab; reload the item")
    else:  # every later autosave: one conditional UPDATE (the revision guards against a stale tab), no read back
        done = db.session.execute(_AUTOSAVE, {
            "w_item_id": item.id, "w_user_id": g.user.id, "w_stage": stage, "sent": sent, "new_revision": sent + 1,
            **{f"new_{key}": value for key, value in values.items()}}, execution_options={"synchronize_session": False})
        if done.rowcount != 1:
            db.session.rollback()
            current = _mine(item.id, stage)
            if current is None:
                raise ApiError(409, f"there is no draft at revision {sent} any more (it was saved or discarded); "
                                    "reload the item")
            raise ApiError(409, f"your draft is at revision {current.revision}, this page sent "
                                f"{sent}: it was changed in another tab; reload the item")
        draft = AnnotationDraft(stage=stage, revision=sent + 1, **values)  # what the row now holds, for the reply
    audit.record(db.session, actor=actor_name(), action="draft.save", object_type="item", object_id=item.id,
                 project_id=item.project_id, details={"revision": draft.revision})
    db.session.commit()
    return _out(draft)


@api_bp.delete("/items/<int:item_id>/draft")
@api_bp.input(DraftQuery, location="query")
@api_bp.doc(summary="Discard the caller's draft")
def delete_draft(item_id, query_data):
    item, _ = require_object(Item, item_id, "annotations.write", "item")
    db.session.execute(delete(AnnotationDraft).where(
        AnnotationDraft.item_id == item.id, AnnotationDraft.user_id == g.user.id,
        AnnotationDraft.stage == query_data["stage"]))
    audit.record(db.session, actor=actor_name(), action="draft.discard", object_type="item", object_id=item.id,
                 project_id=item.project_id)
    db.session.commit()
    return "", 204
