"""Items: bulk upload (multipart or JSON), list with filters, get, media with HTTP Range, delete."""
from __future__ import annotations

import json
import os

from flask import current_app, g, request, send_file
from sqlalchemy import bindparam, exists, select

from annotators.base import ItemInput, registry
from server import audit
from server.api.blueprint import api_bp
from server.api.pagination import page_of_rows
from server.api.schemas import ItemQuery
from server.api.serialize import ITEM_LIST_COLUMNS, item_out, item_row_out
from server.auth import actor_name
from server.errors import ApiError
from server.extensions import db
from server.db import begin_writes, set_request_mode
from server.file_import import keep_for_job, needs_job
from server.import_labels import effective_plan, map_labels, may_add, requested_plan, store_config
from server.ingest import spool, stage_inputs, store_staged
from server.uploads import consumable_uploads, mark_consumed
from server.models import Annotation, Asset, Item, Project
from server.permissions import require_object, require_project
from server.statements import once

MAX_JSON_RECORDS = 10_000  # more records: upload them as a JSONL file (imported by a job)


def _inputs_from_request(project, spooled: list[str]) -> tuple[list[ItemInput], list]:
    """The upload as ItemInputs (files spooled to disk, paths in `spooled` for the caller to delete), and the tus
    uploads it consumes."""
    if request.mimetype == "application/json":
        body = request.get_json(silent=True)
        if body is None:
            raise ApiError(400, "request body is not valid JSON")
        if isinstance(body, dict) and "uploads" in body:
            return consumable_uploads(project, body["uploads"])
        records = body.get("items") if isinstance(body, dict) else body
        if not isinstance(records, list):
            raise ApiError(400, "JSON body must be a list of item records or {\"items\": [...]}")
        if not records:
            raise ApiError(400, "no items given")
        if len(records) > MAX_JSON_RECORDS:
            raise ApiError(413, f"at most {MAX_JSON_RECORDS:,} records per JSON request; upload them as a JSONL "
                                "file instead (a large file is imported by a background job)")
        return [ItemInput(name=f"record {i + 1}", record=r) for i, r in enumerate(records)], []
    if request.mimetype == "multipart/form-data":
        files = request.files.getlist("files") + request.files.getlist("file")
        if not files:
            raise ApiError(400, "multipart upload has no 'files' part")
        inputs = []
        for f in files:
            path = spool(f.stream)
            spooled.append(path)
            inputs.append(ItemInput(name=f.filename or "", path=path, size=os.path.getsize(path),
                                    content_type=f.mimetype))
        return inputs, []
    raise ApiError(415, "upload items as multipart/form-data (field 'files'), a JSON list, or {\"uploads\": [ids]}")


def start_server_import(project, spec, plan: dict | None = None, adding: bool = False):
    """{"import": {"root": name, "glob": "**/*.txt"}}: a queued job copies matching files under a configured root."""
    from server.jobs.queue import start_job
    from server.server_import import check_request

    if not isinstance(spec, dict) or not isinstance(spec.get("root"), str) or not isinstance(spec.get("glob"), str):
        raise ApiError(400, "'import' must be {\"root\": <import root name>, \"glob\": <pattern under it>}")
    try:
        check_request(spec["root"], spec["glob"])
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None
    mode = spec.get("mode", "copy")
    if mode not in ("copy", "reference"):
        raise ApiError(400, "'mode' must be \"copy\" (into storage) or \"reference\" (keep files in place)")
    job = start_job(project, "server_import", {"root": spec["root"], "glob": spec["glob"], "mode": mode,
                                               "label_plan": plan, "may_add_labels": adding},
                    actor_name(), created_by=g.user.id)
    from server.api.serialize import job_out

    return {"job": job_out(job)}, 202


@api_bp.get("/projects/<int:project_id>/import-roots")
@api_bp.doc(summary="Server folders this project's managers may import from (configured by the site admin)")
def list_import_roots(project_id):
    require_project(project_id, "items.upload")
    from server.server_import import import_roots

    return {"items": [{"name": name} for name in sorted(import_roots())]}


def _unlink(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


@api_bp.post("/projects/<int:project_id>/items")
@api_bp.doc(summary="Upload items: multipart files (one or many), a JSON list, or {uploads: [tus upload ids]}; "
                    "?atomic=true for all-or-nothing")
def upload_items(project_id):
    # Reads and parsing run without SQLite's write lock; only storing the items takes it (db.begin_writes).
    set_request_mode("deferred")
    project, role = require_project(project_id, "items.upload")
    modality = registry.get(project.modality)
    atomic = request.args.get("atomic", "false").lower() in {"1", "true", "yes"}
    keep_valid = (request.args.get("keep_valid") or (request.form.get("keep_valid") if request.mimetype ==
                  "multipart/form-data" else None) or "false").lower() in {"1", "true", "yes"}
    if atomic and keep_valid:
        raise ApiError(400, "atomic=true (all files or nothing) and keep_valid=true (keep a file's valid documents) "
                            "contradict each other; choose one")
    body = request.get_json(silent=True) if request.mimetype == "application/json" else None
    plan = effective_plan(project, requested_plan(request, body))
    adding = may_add(role)
    if isinstance(body, dict) and "import" in body:
        begin_writes(db.session)
        return start_server_import(project, body["import"], plan, adding)
    spooled: list[str] = []
    report = None
    try:
        inputs, uploads = _inputs_from_request(project, spooled)
        if uploads and all(u.status == "consumed" for u in uploads):  # a retried request: same answer, nothing new
            return {"created": [{"id": i} for u in uploads for i in (u.item_ids or [])], "failed": [],
                    "job_id": None}, 201
        if needs_job(inputs):
            return _import_as_job(project, inputs, uploads, spooled, atomic, plan, adding, keep_valid)
        db.session.commit()  # parsing below holds no transaction
        staged, failed = stage_inputs(project, modality, inputs, keep_valid)
        try:
            new_config, report = map_labels(project, modality, staged, plan, adding)
        except ValueError as exc:
            raise ApiError(422, f"imported labels: {exc}") from None
        created = []
        if not (atomic and failed):
            begin_writes(db.session)
            store_config(project, new_config, report, actor_name(), db.session)
            created, errors = store_staged(project, modality, inputs, staged)
            failed += errors
    finally:
        for path in spooled:
            _unlink(path)
    if created and uploads:
        mark_consumed(uploads, inputs, created)
    if not created:
        db.session.rollback()
        reason = "; ".join(f"{f['name']}: {f['error']}" for f in failed[:5]) or "nothing to import"
        return {"error": {"code": "unprocessable", "message": f"no item was created ({reason})"},
                "created": [], "failed": failed, "labels": report}, 422
    audit.record(db.session, actor=actor_name(), action="items.upload", object_type="project",
                 object_id=project.id, project_id=project.id,
                 details={"created": len(created), "failed": len(failed)})
    db.session.commit()
    job = None
    from server.derive import start_derive

    statuses = {i.id: i.status for i in created}  # as created (an eager derive job may have finished below)
    derive = start_derive(project, created, actor_name())  # media: probe + derivatives, then pre-annotation
    ready = [i for i, state in statuses.items() if state == "ready"]
    if ready and project.workflow.get("auto_preannotate"):
        from server.jobs.queue import start_job

        job = start_job(project, "preannotate", {"items": ready}, actor_name())
    return {"created": [{"id": i.id, "name": i.name, "kind": i.kind, "status": statuses[i.id]} for i in created],
            "failed": failed, "job_id": job.id if job else None,
            "derive_job_id": derive.id if derive else None, "labels": report}, 201


def _import_as_job(project, inputs, uploads, spooled, atomic, plan, adding, keep_valid=False):
    """A large upload: keep the files, answer 202 with the job that imports them (poll GET /jobs/{id})."""
    from server.jobs.queue import start_job

    kept = iter(keep_for_job(spooled))
    files = [{"path": next(kept) if i.path and not uploads else i.path, "name": i.name} for i in inputs]
    begin_writes(db.session)
    for upload in uploads:
        upload.status = "importing"
    job = start_job(project, "file_import", {"files": files, "atomic": atomic, "uploads": [u.id for u in uploads],
                                             "label_plan": plan, "may_add_labels": adding, "keep_valid": keep_valid},
                    actor_name(), created_by=g.user.id)
    return {"created": [], "failed": [], "job_id": job.id, "import_job_id": job.id,
            "message": "large upload: a background job imports it; poll GET /api/v1/jobs/{id}"}, 202


@api_bp.get("/projects/<int:project_id>/items")
@api_bp.input(ItemQuery, location="query")
@api_bp.doc(summary="List items (filters: status, stage, kind, annotated; keyset cursor)")
def list_items(project_id, query_data):
    require_project(project_id, "items.read")
    filters = tuple(key for key in ("status", "stage", "kind") if key in query_data)
    annotated = query_data.get("annotated")

    def statement(after: bool):
        # Only the listed columns, as rows: no note text, no ORM objects; built once per shape.
        def build():
            t = Item.__table__
            stmt = select(*ITEM_LIST_COLUMNS).where(t.c.project_id == bindparam("project_id"),
                                                    *(t.c[key] == bindparam(key) for key in filters))
            if annotated is not None:
                has = exists().where(Annotation.item_id == t.c.id, Annotation.source == "human")
                stmt = stmt.where(has if annotated else ~has)
            stmt = stmt.where(t.c.id > bindparam("after")) if after else stmt
            return stmt.order_by(t.c.id).limit(bindparam("limit"))

        return once(("items.list", filters, annotated, after), build)

    rows, nxt = page_of_rows(db.session, statement, {"project_id": project_id, **{k: query_data[k] for k in filters}},
                             query_data["limit"], query_data["cursor"])
    # names and metadata may identify patients: a list is a PHI read like an item's detail
    audit.record(db.session, actor=actor_name(), action="items.list", object_type="project", object_id=project_id,
                 project_id=project_id, details={"count": len(rows), "items": [i.id for i in rows][:500]})
    db.session.commit()
    return {"items": [item_row_out(i) for i in rows], "next_cursor": nxt}


@api_bp.get("/items/<int:item_id>")
def get_item(item_id):
    item, _ = require_object(Item, item_id, "items.read", "item")
    out = item_out(item, with_content=True)
    # Assets are derivatives of an item's media file (server/derive.py): an item without one has none to read.
    assets = db.session.execute(select(Asset).where(Asset.item_id == item.id).order_by(Asset.name)).scalars() \
        if item.storage_key or item.source_path else ()
    out["assets"] = [{"name": a.name, "media_type": a.media_type, "size": a.size, "producer": a.producer,
                      "meta": a.meta, "url": f"/api/v1/items/{item.id}/media?variant={a.name}"} for a in assets]
    audit.record(db.session, actor=actor_name(), action="item.read", object_type="item", object_id=item.id,
                 project_id=item.project_id)  # last: SQLite's write lock is held from here to the commit
    db.session.commit()
    return out


@api_bp.get("/items/<int:item_id>/media")
@api_bp.doc(summary="Stream an item's media or one of its derived assets (?variant=NAME); supports HTTP Range")
def get_item_media(item_id):
    item, role = require_object(Item, item_id, "items.read", "item")
    variant = request.args.get("variant")
    unknown = set(request.args) - {"variant"}
    if unknown:
        raise ApiError(400, f"unknown query parameter(s): {', '.join(sorted(unknown))}")
    store = current_app.extensions["media"]
    if not variant and role in ("annotator", "reviewer"):
        project = db.session.get(Project, item.project_id)  # in the identity map since require_object
        if registry.get(project.modality).original_hidden(project.label_config):
            raise ApiError(403, f"item {item_id}: this project shows its annotators and reviewers the derived "
                                "media only (faces masked); a manager can download the original")
    if variant:
        asset = db.session.execute(select(Asset).where(Asset.item_id == item.id, Asset.name == variant)
                                   ).scalar_one_or_none()
        if asset is None:
            names = db.session.execute(select(Asset.name).where(Asset.item_id == item.id)).scalars().all()
            raise ApiError(404, f"item {item_id} has no variant {variant[:64]!r}; available: "
                                f"{', '.join(sorted(names)) or 'none'}")
        key, mimetype, etag = asset.storage_key, asset.media_type, asset.content_hash
    elif item.storage_key or item.source_path:
        key, mimetype, etag = item.storage_key, item.media_type or "application/octet-stream", item.content_hash
    else:
        raise ApiError(404, f"item {item_id} has no media")
    audit.record(db.session, actor=actor_name(), action="item.media", object_type="item", object_id=item.id,
                 project_id=item.project_id, details={"variant": variant} if variant else None)
    db.session.commit()
    if key:
        resp = store.send(key, mimetype, etag)
    else:  # imported in place: served from the import root it was found under
        if not os.path.isfile(item.source_path):
            raise ApiError(410, f"the file of item {item_id} is no longer in its import folder")
        resp = send_file(item.source_path, mimetype=mimetype, conditional=True, etag=etag, max_age=0)
    resp.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    resp.headers["Cache-Control"] = "no-store"
    return resp


@api_bp.delete("/items/<int:item_id>")
def delete_item(item_id):
    item, _ = require_object(Item, item_id, "items.delete", "item")
    audit.record(db.session, actor=actor_name(), action="item.delete", object_type="item", object_id=item.id,
                 project_id=item.project_id)
    db.session.delete(item)
    db.session.commit()
    return "", 204


PREVIEW_ITEMS = 5
PREVIEW_CHARS = 20_000


@api_bp.post("/projects/<int:project_id>/items/preview")
@api_bp.doc(summary="Parse an upload without storing it: item count, per-file errors, labels the project lacks (with "
                    "counts and what the label plan does with them) and the first items with their spans")
def preview_items(project_id):
    set_request_mode("deferred")
    project, role = require_project(project_id, "items.upload")
    modality = registry.get(project.modality)
    body = request.get_json(silent=True) if request.mimetype == "application/json" else None
    plan = effective_plan(project, requested_plan(request, body))
    spooled: list[str] = []
    try:
        inputs, _uploads = _inputs_from_request(project, spooled)
        db.session.commit()
        staged, failed = stage_inputs(project, modality, inputs)
    finally:
        for path in spooled:
            _unlink(path)
    shown = [{"name": ingested.name or inputs[index].name, "kind": ingested.kind,
              "text": (ingested.text or "")[:PREVIEW_CHARS], "truncated": len(ingested.text or "") > PREVIEW_CHARS,
              "annotations": json.loads(json.dumps(ingested.annotations))}
             for index, ingested in staged[:PREVIEW_ITEMS]]
    error = None
    annotations = sum(len(ingested.annotations) for _, ingested in staged)  # as in the files, before the plan
    try:
        _config, report = map_labels(project, modality, staged, plan, may_add(role))
    except ValueError as exc:
        report, error = None, f"imported labels: {exc}"
    return {"items": len(staged), "failed": failed, "labels": report, "label_error": error, "plan": plan,
            "may_add_labels": may_add(role), "preview": shown,
            "annotations": annotations}
