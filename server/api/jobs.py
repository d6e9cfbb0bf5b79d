"""Jobs (pre-annotation, training, exports): start, status, cancel; export files."""
from __future__ import annotations


from flask import current_app, g
from sqlalchemy import select

from server import audit
from server.api.blueprint import api_bp
from server.api.pagination import page
from server.api.schemas import ExportIn, JobIn, PageQuery
from server.api.serialize import job_out
from server.auth import actor_name
from server.errors import ApiError
from server.extensions import db
from server.jobs import kinds
from server.jobs.queue import start_job
from server.models import Item, Job
from server.permissions import require_object, require_project

# gold: reviewed/consensus gold only · reviewed: gold, else people's submitted versions · all: also model drafts
EXPORT_STAGES = ("gold", "reviewed", "all")


@api_bp.post("/projects/<int:project_id>/jobs")
@api_bp.input(JobIn)
@api_bp.doc(summary="Start a job: preannotate (whole project or `items`) or fit")
def create_job(project_id, json_data):
    project, _ = require_project(project_id, "jobs.start")
    kind = json_data["kind"]
    if kind not in kinds.user_startable():
        raise ApiError(400, f"unknown job kind {kind!r}; available: {', '.join(kinds.user_startable())}")
    problem = kinds.check_params(kind, json_data["params"])
    if problem:
        raise ApiError(400, problem)
    params = dict(json_data["params"])
    if json_data["items"]:
        wanted = set(json_data["items"])
        found = set(db.session.execute(select(Item.id).where(Item.project_id == project.id,
                                                             Item.id.in_(wanted))).scalars())
        if found != wanted:
            raise ApiError(400, f"{len(wanted - found)} of the given items are not in this project")
        params["items"] = sorted(wanted)
    key = json_data["idempotency_key"]
    job = start_job(project, kind, params, actor_name(), f"{project.id}:{kind}:{key}" if key else None, g.user.id)
    return job_out(job), 202


@api_bp.get("/projects/<int:project_id>/jobs")
@api_bp.input(PageQuery, location="query")
def list_jobs(project_id, query_data):
    require_project(project_id, "jobs.view")
    rows, nxt = page(db.session, select(Job).where(Job.project_id == project_id), Job.id, query_data["limit"],
                     query_data["cursor"], descending=True)
    return {"items": [job_out(j) for j in rows], "next_cursor": nxt}


@api_bp.get("/jobs/<int:job_id>")
@api_bp.doc(summary="Job status, progress 0-100, error, model version")
def get_job(job_id):
    job, _ = require_object(Job, job_id, "jobs.view", "job")
    return job_out(job)


@api_bp.post("/jobs/<int:job_id>/cancel")
@api_bp.doc(summary="Ask a job to stop; it stops at its next progress report")
def cancel_job(job_id):
    job, _ = require_object(Job, job_id, "jobs.start", "job")
    if job.status in ("succeeded", "failed", "cancelled"):
        raise ApiError(409, f"job {job.id} has already ended ({job.status})")
    job.cancel_requested = True
    if job.status == "queued":
        job.status, job.error = "cancelled", "cancelled by a user"
    audit.record(db.session, actor=actor_name(), action="job.cancel", object_type="job", object_id=job.id,
                 project_id=job.project_id)
    db.session.commit()
    return job_out(job), 202


@api_bp.post("/projects/<int:project_id>/exports")
@api_bp.input(ExportIn)
@api_bp.doc(summary="Export annotations asynchronously; poll the job, then GET /exports/{job id}/file")
def create_export(project_id, json_data):
    from annotators.base import registry

    project, _ = require_project(project_id, "exports.create")
    formats = registry.get(project.modality).exporters()
    if json_data["format"] not in formats:
        raise ApiError(400, f"unknown export format {json_data['format']!r}; available: {', '.join(sorted(formats))}")
    options = dict(json_data["options"])
    if "include_unreviewed" in options and "stage" not in options:  # the option's earlier name
        options["stage"] = "all" if options.pop("include_unreviewed") else "reviewed"
    stage = options.setdefault("stage", "all")
    if stage not in EXPORT_STAGES:
        raise ApiError(400, f"options.stage must be one of {', '.join(EXPORT_STAGES)} (got {stage!r})")
    if not isinstance(options.get("gzip", False), bool):
        raise ApiError(400, f"options.gzip must be true or false (got {options['gzip']!r})")
    if options.get("gzip") and formats[json_data["format"]].media_type == "application/zip":
        raise ApiError(400, f"options.gzip: the {json_data['format']} export is a zip archive already")
    job = start_job(project, "export", {"format": json_data["format"], "options": options},
                    actor_name(), created_by=g.user.id)
    return job_out(job), 202


@api_bp.get("/exports/<int:job_id>/file")
@api_bp.doc(summary="Download a finished export (an audited PHI event)")
def export_file(job_id):
    job, _ = require_object(Job, job_id, "exports.create", "export")
    if job.kind != "export":
        raise ApiError(404, f"export {job_id} not found")
    if job.status != "succeeded":
        raise ApiError(409, f"export {job_id} is {job.status}; wait until it has succeeded")
    resp = current_app.extensions["media"].send_export(
        current_app.config, job.result["file"], job.result.get("media_type", "application/octet-stream"),
        f"project-{job.project_id}-{job.result['file'].lstrip('.')}")
    if resp is None:
        raise ApiError(404, f"the file of export {job_id} is gone")
    audit.record(db.session, actor=actor_name(), action="export.download", object_type="job", object_id=job.id,
                 project_id=job.project_id, details={"format": job.result.get("format")})
    db.session.commit()
    return resp
