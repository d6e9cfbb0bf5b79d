"""Annotations (versioned; stale writes get 409), the caller's next item, skipping."""
from __future__ import annotations

from flask import g
from sqlalchemy import bindparam, delete, exists, insert, or_, select, update
from sqlalchemy.orm.attributes import set_committed_value

from server import audit
from server.api.blueprint import api_bp
from server.api.schemas import AnnotationIn, AnnotationPut, NextQuery, RevisionIn, SkipIn
from server.api.serialize import annotation_out, item_out
from server.auth import actor_name
from server.db import begin_writes, execute_plain, value_params
from server.errors import ApiError
from server.extensions import db
from server.models import Annotation, AnnotationDraft, Item, Project, User, utcnow
from server.permissions import can, require_object, require_project
from server.review import after_submission, reopen_for_review, start_routing, validated_payload
from server.statements import once
from server.workflow import mark_submitted, next_assignment, skip


def _visible_statement(see_all: bool):
    """An item's annotations with their authors' names (one statement); annotators see their own and the
    models' and imports' (blind to each other's)."""
    def build():
        stmt = select(Annotation, User.username).outerjoin(User, User.id == Annotation.author_id).where(
            Annotation.item_id == bindparam("item_id"))
        if not see_all:
            stmt = stmt.where(or_(Annotation.author_id == bindparam("user_id"),
                                  Annotation.source.in_(("model", "import"))))
        return stmt.order_by(Annotation.id)

    return once(("annotations.visible", see_all), build)


_MINE_AT_STAGE = select(Annotation.id).where(
    Annotation.item_id == bindparam("item_id"), Annotation.author_id == bindparam("user_id"),
    Annotation.stage == bindparam("stage"), Annotation.source == "human")
# Plain statements (db.execute_plain): no ORM object of these rows is held in a save's session.
_SPEND_DRAFT = delete(AnnotationDraft.__table__).where(
    AnnotationDraft.item_id == bindparam("item_id"), AnnotationDraft.user_id == bindparam("user_id"),
    AnnotationDraft.stage == bindparam("stage"))
_FIRST_FIELDS = ("item_id", "project_id", "author_id", "source", "stage", "status", "payload", "time_spent_ms",
                 "comment", "version", "created_at", "updated_at")


def _insert_first_statement():
    """The caller's first annotation of an item at a stage, inserted only if they have none there yet: the check
    and the write in one statement (RETURNING the new id; no row when one exists)."""
    table = Annotation.__table__
    values = select(*(bindparam(f"v_{name}", type_=table.c[name].type) for name in _FIRST_FIELDS)).where(~exists(
        select(table.c.id).where(table.c.item_id == bindparam("v_item_id"),
                                 table.c.author_id == bindparam("v_author_id"),
                                 table.c.stage == bindparam("v_stage"), table.c.source == "human")))
    return insert(table).from_select(_FIRST_FIELDS, values).returning(table.c.id)


def _update_statement(keys: tuple[str, ...]):
    """The optimistic update (the sent version must be current; frozen is re-checked in the write itself: a
    reviewer's accept may land between the read and this update), for the fields a request sets."""
    def build():
        # (w_: an UPDATE reserves bind names equal to its table's columns.)
        item_open = ~select(Item.id).where(Item.id == bindparam("w_item_id"), Item.stage == "done").exists()
        table = Annotation.__table__
        return update(table).where(
            table.c.id == bindparam("annotation_id"), table.c.version == bindparam("sent_version"),
            table.c.status.notin_(FROZEN_STATUSES), item_open).values(
            version=table.c.version + 1, **{key: bindparam(f"new_{key}") for key in keys})

    return once(("annotations.update", keys), build)


@api_bp.get("/items/<int:item_id>/annotations")
@api_bp.doc(summary="Annotations of an item the caller may see (annotators: their own and model drafts, blind)")
def list_annotations(item_id):
    item, role = require_object(Item, item_id, "items.read", "item")
    see_all = can(role, "annotations.see_all")
    rows = db.session.execute(_visible_statement(see_all), {"item_id": item.id, "user_id": g.user.id}).all()
    audit.record(db.session, actor=actor_name(), action="annotations.read", object_type="item", object_id=item.id,
                 project_id=item.project_id, details={"count": len(rows)})
    db.session.commit()
    return {"items": [annotation_out(a, name or a.model_version, blind=not see_all and a.author_id != g.user.id)
                      for a, name in rows]}


@api_bp.post("/items/<int:item_id>/annotations")
@api_bp.input(AnnotationIn)
@api_bp.doc(summary="Create the caller's annotation of an item at a stage")
def create_annotation(item_id, json_data):
    # Two saves of the same first annotation at once (double click, retry, two tabs) must not both pass the checks
    # below: on PostgreSQL the item's row lock, taken by this first read, orders them (SQLite's write lock already
    # does).
    item, role = require_object(Item, item_id, "annotations.write", "item", lock=True)
    stage = json_data["stage"]
    if stage != "annotate" and not can(role, "review.decide"):
        raise ApiError(403, f"your role '{role}' cannot write {stage} annotations")
    project = db.session.get(Project, item.project_id)  # read with the item: no statement
    payload = validated_payload(project, json_data["payload"])
    if item.status != "ready":
        raise ApiError(409, f"item {item.id} is {item.status} and cannot be annotated")
    if item.stage == "done":
        raise ApiError(409, f"item {item.id} is done (its gold was decided in review) and is frozen; to change "
                            "your version, POST /annotations/{your annotation id}/revisions: it goes to a new "
                            "review round", code="frozen")
    now = utcnow()
    values = {"item_id": item.id, "project_id": item.project_id, "author_id": g.user.id, "source": "human",
              "stage": stage, "status": json_data["status"], "payload": payload,
              "time_spent_ms": json_data["time_spent_ms"], "comment": json_data["comment"], "version": 1,
              "created_at": now, "updated_at": now}
    new_id = execute_plain(db.session, once("annotations.insert_first", _insert_first_statement),
                           value_params(values)).scalar()
    if new_id is None:
        existing = db.session.execute(_MINE_AT_STAGE, {"item_id": item.id, "user_id": g.user.id,
                                                       "stage": stage}).scalar()
        raise ApiError(409, f"you already have annotation {existing} on this item at stage {stage}; "
                            f"update it with PUT /annotations/{existing}")
    ann = Annotation(id=new_id, **values)  # the row as written, for the reply (not added to the session)
    routing = _on_saved(project, item, ann)
    audit.record(db.session, actor=actor_name(), action="annotation.create", object_type="annotation",
                 object_id=ann.id, project_id=item.project_id, details={"item": item.id, "status": ann.status})
    db.session.commit()
    if routing:
        start_routing(project, item, actor_name(), g.user.id)
    return annotation_out(ann, g.user.username), 201


FROZEN_STATUSES = ("accepted", "superseded")


def _frozen_reason(ann: Annotation, item: Item) -> str | None:
    if ann.stage == "gold" or ann.status in FROZEN_STATUSES or item.stage == "done":
        return (f"annotation {ann.id} belongs to a decided review (item {item.id} is done) and is frozen; send the "
                f"change with POST /annotations/{ann.id}/revisions: it becomes a new version for a new review "
                "round, and gold stays as it is until a reviewer decides")
    return None


def _on_saved(project: Project, item: Item, ann: Annotation) -> bool:
    """Workflow after a save: the autosaved draft is spent; a submission closes the lease and may complete the
    item (True: routing is queued after commit)."""
    execute_plain(db.session, _SPEND_DRAFT, {"item_id": item.id, "user_id": g.user.id, "stage": ann.stage})
    if ann.status != "submitted":
        return False
    mark_submitted(project, g.user, item, ann.stage)
    return after_submission(project, item, ann.stage)


@api_bp.put("/annotations/<int:annotation_id>")
@api_bp.input(AnnotationPut)
@api_bp.doc(summary="Update the caller's annotation; `version` must be the current one (else 409)")
def update_annotation(annotation_id, json_data):
    ann, role = require_object(Annotation, annotation_id, "annotations.write", "annotation", with_item=True)
    if ann.author_id != g.user.id:
        if not can(role, "annotations.see_all"):
            raise ApiError(404, f"annotation {annotation_id} not found")
        raise ApiError(403, "only the author can edit an annotation; reviewers create a review version")
    item = db.session.get(Item, ann.item_id)  # read with the annotation, as its project: no statement
    frozen = _frozen_reason(ann, item)
    if frozen:
        raise ApiError(409, frozen, code="frozen")
    project = db.session.get(Project, ann.project_id)
    payload = validated_payload(project, json_data["payload"])
    values = {"payload": payload, "updated_at": utcnow()}
    for key in ("status", "time_spent_ms", "comment"):
        if key in json_data:
            values[key] = json_data[key]
    result = execute_plain(db.session, _update_statement(tuple(values)), {
        "annotation_id": ann.id, "sent_version": json_data["version"], "w_item_id": ann.item_id,
        **{f"new_{key}": value for key, value in values.items()}})
    if result.rowcount != 1:
        db.session.rollback()
        current = db.session.get(Annotation, annotation_id)
        frozen = _frozen_reason(current, db.session.get(Item, current.item_id))
        if frozen:
            raise ApiError(409, frozen, code="frozen")
        audit.record_now(db, actor=actor_name(), action="annotation.update", outcome="conflict",
                         object_type="annotation", object_id=annotation_id, project_id=ann.project_id,
                         details={"sent_version": json_data["version"], "current_version": current.version})
        raise ApiError(409, f"annotation {annotation_id} is at version {current.version}, you sent version "
                            f"{json_data['version']}; reload and apply your change again")
    # The row is now exactly what was written (the version matched): no read back.
    values["version"] = json_data["version"] + 1
    for key, value in values.items():
        set_committed_value(ann, key, value)
    routing = _on_saved(project, item, ann)
    audit.record(db.session, actor=actor_name(), action="annotation.update", object_type="annotation",
                 object_id=ann.id, project_id=ann.project_id, details={"version": ann.version})
    db.session.commit()
    if routing:
        start_routing(project, item, actor_name(), g.user.id)
    return annotation_out(ann, g.user.username)


@api_bp.post("/annotations/<int:annotation_id>/revisions")
@api_bp.input(RevisionIn)
@api_bp.doc(summary="Propose a change to your version of a decided (frozen) item: a new version for a new review "
                    "round; the accepted version and gold stay unchanged until a reviewer decides")
def revise_annotation(annotation_id, json_data):
    ann, role = require_object(Annotation, annotation_id, "annotations.write", "annotation")
    if ann.author_id != g.user.id or ann.source != "human" or ann.stage == "gold":
        if not can(role, "annotations.see_all"):
            raise ApiError(404, f"annotation {annotation_id} not found")
        raise ApiError(403, "only the author can revise their version; reviewers decide in review")
    item = db.session.get(Item, ann.item_id)
    if not _frozen_reason(ann, item):
        raise ApiError(409, f"annotation {annotation_id} is not frozen; update it with PUT /annotations/{ann.id}")
    newer = db.session.execute(select(Annotation.id).where(
        Annotation.item_id == item.id, Annotation.author_id == g.user.id, Annotation.source == "human",
        Annotation.stage == ann.stage, Annotation.id > ann.id).order_by(Annotation.id.desc()).limit(1)).scalar()
    if newer is not None:
        raise ApiError(409, f"your newer version {newer} of this item exists; edit that one")
    project = db.session.get(Project, ann.project_id)
    payload = validated_payload(project, json_data["payload"])
    revision = Annotation(item_id=item.id, project_id=item.project_id, author_id=g.user.id, source="human",
                          stage=ann.stage, status="submitted", payload=payload, supersedes_id=ann.id,
                          time_spent_ms=json_data["time_spent_ms"], comment=json_data["comment"])
    db.session.add(revision)
    db.session.flush()
    db.session.execute(delete(AnnotationDraft).where(
        AnnotationDraft.item_id == item.id, AnnotationDraft.user_id == g.user.id, AnnotationDraft.stage == ann.stage))
    # Claim the move out of "done" so two revisions (or a revision and a decision) cannot both reopen it.
    moved = db.session.execute(update(Item).where(Item.id == item.id, Item.stage == "done").values(stage="review"))
    if moved.rowcount == 1:
        db.session.refresh(item)
        reopen_for_review(project, item, revision)
    audit.record(db.session, actor=actor_name(), action="annotation.revise", object_type="annotation",
                 object_id=revision.id, project_id=item.project_id,
                 details={"item": item.id, "revises": ann.id})
    db.session.commit()
    return annotation_out(revision, g.user.username), 201


@api_bp.post("/projects/<int:project_id>/next")
@api_bp.input(NextQuery, location="query")
@api_bp.doc(summary="Take the caller's next item (respects k, blind, leases; takes a lease, so POST); 204 when nothing is left")
def next_item(project_id, query_data):
    project, role = require_project(project_id, "annotations.write")
    stage = query_data["stage"]
    if stage != "annotate" and not can(role, "review.decide"):
        raise ApiError(403, f"your role '{role}' cannot take {stage} work")
    begin_writes(db.session)  # SQLite's write lock from here (READ_BEFORE_LOCK in server/db.py)
    taken = next_assignment(project, g.user, stage)
    if taken is None:
        db.session.commit()
        return "", 204
    assignment, item = taken
    audit.record(db.session, actor=actor_name(), action="item.read", object_type="item", object_id=item.id,
                 project_id=project.id, details={"via": "next", "stage": stage})
    db.session.commit()
    out = item_out(item, with_content=True)
    out["assignment"] = {"id": assignment.id, "stage": assignment.stage,
                         "lease_expires_at": assignment.lease_expires_at.isoformat()}
    return out


@api_bp.post("/items/<int:item_id>/skip")
@api_bp.input(SkipIn)
def skip_item(item_id, json_data):
    item, _ = require_object(Item, item_id, "annotations.write", "item")
    project = db.session.get(Project, item.project_id)
    done = skip(project, g.user, item.id, item.stage if item.stage != "done" else "annotate", json_data["reason"])
    if done is None:
        raise ApiError(409, "you hold no active lease on this item")
    audit.record(db.session, actor=actor_name(), action="item.skip", object_type="item", object_id=item.id,
                 project_id=item.project_id)
    db.session.commit()
    return "", 204
