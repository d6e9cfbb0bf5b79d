"""Review and adjudication: side-by-side versions with the modality's diff, decisions, comments, the review queue."""
from __future__ import annotations

from apiflask import Schema, fields
from apiflask.validators import Length, OneOf, Range
from flask import g
from sqlalchemy import select

from annotators.base import registry
from server import audit
from server.api.blueprint import api_bp
from server.api.pagination import page
from server.api.schemas import DB_ID, PAYLOAD_MAX, PARAMS_MAX, JsonSize, PageQuery
from server.api.serialize import item_out
from server.auth import actor_name
from server.db import set_request_mode
from server.errors import ApiError
from server.extensions import db
from server.models import Annotation, Asset, Item, ItemAgreement, Project, ReviewComment, User
from server.permissions import require_object, require_project
from server.review import (
    REVIEW_STAGES, curated_payload, decide, item_view, latest_human_versions, latest_model_draft, make_gold,
    validated_payload,
)


class DecisionIn(Schema):
    action = fields.String(required=True, validate=OneOf(["accept", "edit", "merge", "send_back"]))
    annotation_id = fields.Integer(load_default=None, allow_none=True, validate=DB_ID)
    payload = fields.Dict(load_default=None, allow_none=True, validate=JsonSize(PAYLOAD_MAX))
    comment = fields.String(load_default=None, allow_none=True, validate=Length(max=5000))
    # merge: {unit id: option index} from the curation screen; units left out take the majority's option.
    choices = fields.Dict(keys=fields.String(validate=Length(max=200)), values=fields.Integer(validate=Range(0, 10_000)),
                          load_default=None, allow_none=True, validate=JsonSize(PARAMS_MAX * 64))


class CurationIn(Schema):
    choices = fields.Dict(keys=fields.String(validate=Length(max=200)), values=fields.Integer(validate=Range(0, 10_000)),
                          load_default=dict, validate=JsonSize(PARAMS_MAX * 64))


class CommentIn(Schema):
    text = fields.String(required=True, validate=Length(min=1, max=5000))


def _names(ids) -> dict[int, str]:
    ids = {i for i in ids if i}
    return dict(db.session.execute(select(User.id, User.username).where(User.id.in_(ids))).all()) if ids else {}


@api_bp.get("/items/<int:item_id>/review")
@api_bp.doc(summary="The k versions side by side, the model's draft, the modality's diff and the agreement")
def review_item(item_id):
    item, _ = require_object(Item, item_id, "review.decide", "item")
    project = db.session.get(Project, item.project_id)
    modality = registry.get(project.modality)
    versions = latest_human_versions(item.id)
    names = _names(v.author_id for v in versions)
    draft = latest_model_draft(item.id)
    measured = db.session.execute(select(ItemAgreement).where(ItemAgreement.item_id == item.id)).scalar_one_or_none()
    comments = db.session.execute(select(ReviewComment).where(ReviewComment.item_id == item.id)
                                  .order_by(ReviewComment.id)).scalars().all()
    cnames = _names([c.from_user_id for c in comments] + [c.to_user_id for c in comments])
    gold = db.session.execute(select(Annotation).where(Annotation.item_id == item.id, Annotation.stage == "gold",
                                                       Annotation.status == "accepted")).scalar_one_or_none()
    audit.record(db.session, actor=actor_name(), action="item.review.read", object_type="item", object_id=item.id,
                 project_id=item.project_id)
    db.session.commit()
    shown = item_out(item, with_content=True)
    # the media modalities' read-only players need the derived assets (frame index, proxy, waveform peaks)
    shown["assets"] = [{"name": a.name, "media_type": a.media_type, "meta": a.meta,
                        "url": f"/api/v1/items/{item.id}/media?variant={a.name}"}
                       for a in db.session.execute(select(Asset).where(Asset.item_id == item.id)
                                                   .order_by(Asset.name)).scalars()]
    return {
        "item": shown,
        "versions": [{"annotation_id": v.id, "author": names.get(v.author_id), "payload": v.payload,
                      "version": v.version, "status": v.status} for v in versions],
        "model": {"payload": draft.payload, "model_version": draft.model_version} if draft else None,
        "diff": modality.diff([v.payload for v in versions], item_view(item), project.label_config)
        if len(versions) > 1 else [],
        "agreement": {"agreement": measured.agreement, "model_agreement": measured.model_agreement,
                      "reason": measured.reason, "pairs": measured.pairs, "layers": measured.layers,
                      "conflicts": measured.conflicts} if measured else None,
        "gold": {"annotation_id": gold.id, "payload": gold.payload, "source": gold.source} if gold else None,
        "comments": [{"from": cnames.get(c.from_user_id), "to": cnames.get(c.to_user_id), "kind": c.kind,
                      "text": c.text, "created_at": c.created_at.isoformat()} for c in comments],
    }


@api_bp.get("/items/<int:item_id>/curation")
@api_bp.doc(summary="Curation units of the versions (span by span for notes): the options, who chose each, and the "
                    "majority's default (null when tied: a person must choose)")
def curation(item_id):
    item, _ = require_object(Item, item_id, "review.decide", "item")
    project = db.session.get(Project, item.project_id)
    versions = latest_human_versions(item.id)
    names = _names(v.author_id for v in versions)
    units = registry.get(project.modality).curation_units([v.payload for v in versions], item_view(item),
                                                          project.label_config) if versions else []
    return {"versions": [{"annotation_id": v.id, "author": names.get(v.author_id)} for v in versions],
            "units": units, "tied": sum(1 for u in units if u["default"] is None)}


@api_bp.post("/items/<int:item_id>/curation/preview")
@api_bp.input(CurationIn)
@api_bp.doc(summary="The payload a merge with these choices would make (nothing is saved)")
def curation_preview(item_id, json_data):
    # A POST only for its body: it reads and merges, so it runs without SQLite's write lock (a merge of a long note
    # is many milliseconds, which every writer waited out before), as a GET would.
    set_request_mode("deferred")
    item, _ = require_object(Item, item_id, "review.decide", "item")
    project = db.session.get(Project, item.project_id)
    return {"payload": curated_payload(project, item, latest_human_versions(item.id), json_data["choices"])}


@api_bp.post("/items/<int:item_id>/decision")
@api_bp.input(DecisionIn)
@api_bp.doc(summary="Accept a version, save an edited one, merge, or send back with a comment (one decision wins; "
                    "a concurrent second decision gets 409)")
def decide_item(item_id, json_data):
    item, _ = require_object(Item, item_id, "review.decide", "item")
    project = db.session.get(Project, item.project_id)
    stage = item.stage
    try:
        outcome = decide(project, item, g.user, json_data["action"], json_data["annotation_id"],
                         json_data["payload"], json_data["comment"], json_data["choices"])
    except ApiError as exc:
        if exc.status_code == 409:
            audit.record_now(db, actor=actor_name(), action="review.decide", outcome="conflict", object_type="item",
                             object_id=item_id, project_id=project.id, details={"action": json_data["action"]})
        raise
    audit.record(db.session, actor=actor_name(), action="review.decide", object_type="item", object_id=item.id,
                 project_id=project.id, details={**outcome, "from_stage": stage})
    db.session.commit()
    return outcome


class GoldIn(Schema):
    payload = fields.Dict(required=True, validate=JsonSize(PAYLOAD_MAX))
    comment = fields.String(required=True, validate=Length(min=3, max=5000))


@api_bp.put("/items/<int:item_id>/gold")
@api_bp.input(GoldIn)
@api_bp.doc(summary="Managers: replace an item's gold directly (the reason is required and audited with the "
                    "previous gold's id); others edit a version, which goes through review")
def replace_gold(item_id, json_data):
    item, _ = require_object(Item, item_id, "project.edit", "item")
    project = db.session.get(Project, item.project_id)
    payload = validated_payload(project, json_data["payload"])
    previous = db.session.execute(select(Annotation.id).where(
        Annotation.item_id == item.id, Annotation.stage == "gold", Annotation.status == "accepted")).scalar()
    gold = make_gold(project, item, payload, g.user.id, "review", previous)
    db.session.add(ReviewComment(project_id=project.id, item_id=item.id, from_user_id=g.user.id, kind="gold_edit",
                                 text=json_data["comment"]))
    audit.record(db.session, actor=actor_name(), action="gold.replace", object_type="item", object_id=item.id,
                 project_id=project.id, details={"gold": gold.id, "previous_gold": previous})
    db.session.commit()
    return {"gold": gold.id, "previous_gold": previous, "stage": item.stage}


@api_bp.get("/projects/<int:project_id>/review-queue")
@api_bp.input(PageQuery, location="query")
@api_bp.doc(summary="Items awaiting review or adjudication, riskiest first, with the reason")
def review_queue(project_id, query_data):
    require_project(project_id, "review.decide")
    rows = db.session.execute(
        select(Item, ItemAgreement).outerjoin(ItemAgreement, ItemAgreement.item_id == Item.id)
        .where(Item.project_id == project_id, Item.stage.in_(REVIEW_STAGES))
        .order_by(Item.priority, Item.id).limit(query_data["limit"])).all()
    audit.record(db.session, actor=actor_name(), action="review.queue.read", object_type="project",
                 object_id=project_id, project_id=project_id,
                 details={"count": len(rows), "items": [i.id for i, _ in rows][:500]})
    db.session.commit()
    return {"items": [{"id": i.id, "name": i.name, "stage": i.stage, "priority": i.priority,
                       "agreement": a.agreement if a else None, "model_agreement": a.model_agreement if a else None,
                       "reason": a.reason if a else "peer review"} for i, a in rows]}


@api_bp.get("/projects/<int:project_id>/comments")
@api_bp.input(PageQuery, location="query")
@api_bp.doc(summary="Comments for the caller (sent-back work) or, for reviewers and managers, all of the project")
def list_comments(project_id, query_data):
    from server.permissions import can

    _, role = require_project(project_id, "project.view")
    stmt = select(ReviewComment).where(ReviewComment.project_id == project_id)
    if not can(role, "annotations.see_all"):
        stmt = stmt.where(ReviewComment.to_user_id == g.user.id)
    rows, nxt = page(db.session, stmt, ReviewComment.id, query_data["limit"], query_data["cursor"], descending=True)
    names = _names([c.from_user_id for c in rows] + [c.to_user_id for c in rows])
    audit.record(db.session, actor=actor_name(), action="comments.read", object_type="project",
                 object_id=project_id, project_id=project_id,
                 details={"count": len(rows), "items": sorted({c.item_id for c in rows})[:500]})
    db.session.commit()
    return {"items": [{"id": c.id, "item_id": c.item_id, "kind": c.kind, "text": c.text,
                       "from": names.get(c.from_user_id), "to": names.get(c.to_user_id),
                       "created_at": c.created_at.isoformat()} for c in rows], "next_cursor": nxt}


@api_bp.post("/items/<int:item_id>/comments")
@api_bp.input(CommentIn)
@api_bp.doc(summary="Ask a guideline question about an item (shown in the pilot report)")
def add_comment(item_id, json_data):
    item, _ = require_object(Item, item_id, "annotations.write", "item")
    comment = ReviewComment(project_id=item.project_id, item_id=item.id, from_user_id=g.user.id, kind="question",
                            text=json_data["text"])
    db.session.add(comment)
    db.session.flush()
    audit.record(db.session, actor=actor_name(), action="comment.create", object_type="item", object_id=item.id,
                 project_id=item.project_id)
    db.session.commit()
    return {"id": comment.id}, 201
