"""Large uploads are imported by a queued job, not inside the request: the web request only stores the files and
answers 202; the worker parses them and creates items in batches, each batch one short transaction that also
records where the import stands (so a worker killed mid-way resumes after the last committed batch, creating
nothing twice), while other users' requests go on. Small uploads stay synchronous (server/api/items.py)."""
from __future__ import annotations

import os

from flask import current_app
from sqlalchemy import update

from annotators.base import ItemInput, registry
from server.extensions import db
from server.import_labels import map_labels, merge_reports, store_config
from server.ingest import stage_inputs, store_staged
from server.jobs.kinds import JobFailed, job_kind
from server.models import Job, Project, Upload

INLINE_MAX_BYTES = 16 * 1024 * 1024
INLINE_MAX_LINES = 10_000
BATCH = 1000
# Formats with a record per line (a .txt file is one item, however long).
_TEXTUAL = (".jsonl", ".ndjson", ".csv", ".tsv", ".json", ".conll", ".conllu", ".conll03", ".iob", ".bio", ".bioes",
            ".bioc", ".xml", ".pubtator")


def _lines(path: str, stop_after: int) -> int:
    count = 0
    with open(path, "rb") as fh:
        while chunk := fh.read(1024 * 1024):
            count += chunk.count(b"\n")
            if count > stop_after:
                break
    return count


def needs_job(inputs: list[ItemInput]) -> bool:
    """Whether an upload is too big to import inside the request (bytes, or records counted as lines)."""
    paths = [i.path for i in inputs if i.path]
    if sum(os.path.getsize(p) for p in paths) > INLINE_MAX_BYTES:
        return True
    lines = 0
    for item_input in inputs:
        if item_input.path and item_input.name.lower().endswith(_TEXTUAL):
            lines += _lines(item_input.path, INLINE_MAX_LINES)
            if lines > INLINE_MAX_LINES:
                return True
    return False


def keep_for_job(spooled: list[str]) -> list[str]:
    """Spooled request files renamed so the request's clean-up leaves them for the job (which deletes them)."""
    kept = []
    for path in spooled:
        target = path.replace("spool-", "import-", 1)
        os.replace(path, target)
        kept.append(target)
    spooled.clear()
    return kept


def _record_position(job_id: int, detail: dict) -> None:
    db.session.execute(update(Job).where(Job.id == job_id).values(progress_detail=detail))


@job_kind("file_import")
def file_import_job(ctx) -> dict:
    project = db.session.get(Project, ctx.job.project_id)
    if project is None:
        raise JobFailed("the project of this import no longer exists")
    modality = registry.get(project.modality)
    files = ctx.job.params.get("files") or []
    atomic = bool(ctx.job.params.get("atomic"))
    plan = ctx.job.params.get("label_plan") or {"unknown": "drop"}
    adding = bool(ctx.job.params.get("may_add_labels"))
    position = dict(ctx.job.progress_detail or {})
    labels = position.get("labels")
    db.session.commit()
    folder = os.path.realpath(os.path.join(current_app.config["DATA_DIR"], "uploads"))
    created_total, failed, prepared, ready = int(position.get("created", 0)), list(position.get("failed", [])), [], []
    inputs: list[tuple[int, ItemInput]] = []
    for file_index, entry in enumerate(files):
        path = os.path.realpath(entry["path"])
        if not path.startswith(folder + os.sep) or not os.path.isfile(path):
            failed.append({"index": file_index, "name": entry.get("name", ""), "error": "the uploaded file is gone"})
            continue
        inputs.append((file_index, ItemInput(name=entry.get("name") or "", path=path, size=os.path.getsize(path))))
    if atomic:
        if position.get("finished"):
            return {"created": created_total, "failed": failed, "failed_count": len(failed)}
        staged, errors = stage_inputs(project, modality, [i for _, i in inputs])
        if errors or failed:
            raise JobFailed(f"{(errors or failed)[0]['error']} (atomic import: nothing was created)")
        new_config, labels = _map(project, modality, staged, plan, adding)
        store_config(project, new_config, labels, f"system:file_import job {ctx.job.id}", db.session)
        created, errors = store_staged(project, modality, [i for _, i in inputs], staged)
        if errors:
            db.session.rollback()
            raise JobFailed(f"{errors[0]['error']} (atomic import: nothing was created)")
        created_total = len(created)
        prepared, ready = [i for i in created if i.status == "processing"], [i.id for i in created if i.status == "ready"]
        _record_position(ctx.job.id, {"finished": True, "created": created_total, "failed": [], "labels": labels})
        db.session.commit()
        inputs = []
    for file_index, item_input in inputs:
        if file_index < int(position.get("file", 0)):
            continue
        staged, errors = stage_inputs(project, modality, [item_input], bool(ctx.job.params.get("keep_valid")))
        failed.extend({**e, "index": file_index} for e in errors)
        start = int(position.get("record", 0)) if file_index == int(position.get("file", 0)) else 0
        try:
            new_config, report = _map(project, modality, staged, plan, adding)
        except JobFailed as exc:
            failed.append({"index": file_index, "name": item_input.name, "error": str(exc)})
            continue
        labels = merge_reports(labels, report)
        for begin in range(start, len(staged), BATCH):
            store_config(project, new_config, report, f"system:file_import job {ctx.job.id}", db.session)
            new_config = None
            created, store_errors = store_staged(project, modality, [item_input], staged[begin:begin + BATCH])
            failed.extend({**e, "index": file_index} for e in store_errors)
            created_total += len(created)
            prepared += [i for i in created if i.status == "processing"]
            ready += [i.id for i in created if i.status == "ready"]
            position = {"file": file_index, "record": begin + BATCH, "created": created_total, "failed": failed[:200],
                        "done": min(begin + BATCH, len(staged)), "total": len(staged), "unit": "records",
                        "labels": labels}
            _record_position(ctx.job.id, position)  # in the batch's own transaction: exactly once
            db.session.commit()
            ctx.progress(file_index * 1000 + min(1000, 1000 * (begin + BATCH) // max(1, len(staged))),
                         1000 * len(files), position)
        _record_position(ctx.job.id, {**position, "file": file_index + 1, "record": 0, "failed": failed[:200]})
        db.session.commit()
    _finish(project, ctx, prepared, ready)
    for entry in files:
        if os.path.isfile(entry["path"]):
            os.unlink(entry["path"])
    if created_total == 0:
        raise JobFailed(f"no item was created ({'; '.join(str(f['error']) for f in failed[:3]) or 'empty files'})")
    return {"created": created_total, "failed": failed[:200], "failed_count": len(failed), "labels": labels}


def _map(project, modality, staged, plan, adding):
    try:
        return map_labels(project, modality, staged, plan, adding)
    except ValueError as exc:
        raise JobFailed(f"imported labels: {exc}") from None


def _finish(project, ctx, prepared, ready) -> None:
    ids = ctx.job.params.get("uploads") or []
    if ids:
        for upload in db.session.query(Upload).filter(Upload.id.in_(ids)):
            upload.status, upload.filename = "consumed", ""
        db.session.commit()
    if prepared:
        from server.derive import start_derive

        start_derive(project, prepared, "system:file_import")
    if ready and (project.workflow or {}).get("auto_preannotate"):
        from server.jobs.queue import start_job

        start_job(project, "preannotate", {"items": ready[:100_000]}, "system:file_import")
