"""Terminologies: list, search (type-ahead and linking), concept detail, admin import of user-supplied files."""
from __future__ import annotations

import os
import uuid

from apiflask import fields
from apiflask.validators import Length, Range
from flask import current_app, g, request

from server import audit
from server.api.blueprint import api_bp
from server.api.schemas import DB_ID, StrictQuery
from server.api.serialize import job_out
from server.auth import actor_name
from server.errors import ApiError
from server.extensions import db
from server.ingest import check_name
from server.jobs.queue import start_job
from server.ontology_service import aliases_for, store
from server.permissions import require_project, require_site_admin, require_user


class SearchQuery(StrictQuery):
    q = fields.String(required=True, validate=Length(max=10000))
    terminology = fields.List(fields.String(validate=Length(max=64)), load_default=None)
    limit = fields.Integer(load_default=10, validate=Range(1, 50))
    billable_only = fields.Boolean(load_default=False)
    semantic_type = fields.String(load_default=None, validate=Length(max=120))
    project_id = fields.Integer(load_default=None, validate=DB_ID)


@api_bp.get("/ontologies")
@api_bp.doc(summary="Loaded terminologies with versions, licences and sizes")
def list_ontologies():
    require_user()
    from ontologies import FORMATS

    return {"items": store().available(), "import_formats": list(FORMATS)}


@api_bp.get("/ontologies/search")
@api_bp.input(SearchQuery, location="query")
@api_bp.doc(summary="Search concepts by name, synonym, abbreviation or code; aliases learned in a project rank first")
def search_ontologies(query_data):
    from ontologies import QueryError

    require_user()
    project = None
    if query_data["project_id"] is not None:
        project, _ = require_project(query_data["project_id"], "project.view")
    terminologies = query_data["terminology"] or None
    if terminologies and len(terminologies) > 1:
        # A label bound to several terminologies (PROBLEM: icd10cm, hpo, mondo, doid) searches those loaded here;
        # only a request naming none that is loaded is refused.
        loaded = set(store().names())
        terminologies = [t for t in terminologies if t in loaded] or terminologies
    try:
        results = store().search(query_data["q"], terminologies, limit=query_data["limit"],
                                 billable_only=query_data["billable_only"],
                                 semantic_type=query_data["semantic_type"], aliases=aliases_for(project))
    except QueryError as exc:
        raise ApiError(400, str(exc)) from None
    except KeyError as exc:
        raise ApiError(400, f"unknown terminology {exc.args[0]!r}; loaded: {', '.join(store().names())}") from None
    return {"items": results}


@api_bp.get("/ontologies/<string:terminology>/concepts/<path:code>")
@api_bp.doc(summary="A concept with synonyms, attributes, parents, children and ancestors")
def get_concept(terminology, code):
    require_user()
    if terminology not in store().names():
        raise ApiError(404, f"terminology {terminology!r} is not loaded")
    concept = store().concept(terminology, code)
    if concept is None:
        raise ApiError(404, f"no concept {code!r} in {terminology}")
    return concept


@api_bp.post("/ontologies/imports")
@api_bp.doc(summary="Load a terminology from uploaded files as a queued job (site admin). Form fields: format, "
                    "name, version, files")
def import_ontology():
    from ontologies import FORMATS

    admin = require_site_admin()
    fmt = (request.form.get("format") or "").strip().lower()
    if fmt not in FORMATS:
        raise ApiError(400, f"unknown format {fmt!r}; expected one of: {', '.join(FORMATS)}")
    name = (request.form.get("name") or "").strip() or None
    version = (request.form.get("version") or "").strip() or None
    files = request.files.getlist("files")
    if not files:
        raise ApiError(400, "no 'files' part in the upload")
    folder = os.path.join(current_app.config["DATA_DIR"], "ontology-uploads", uuid.uuid4().hex)
    os.makedirs(folder)
    try:
        for upload in files:
            try:
                safe = check_name(upload.filename or "")
            except ValueError as exc:
                raise ApiError(400, str(exc)) from None
            if not safe:
                raise ApiError(400, "an uploaded file has no name")
            upload.save(os.path.join(folder, safe))
    except BaseException:
        for leftover in os.listdir(folder):
            os.unlink(os.path.join(folder, leftover))
        os.rmdir(folder)
        raise
    job = start_job(None, "ontology_load", {"folder": folder, "format": fmt, "name": name, "version": version},
                    actor_name(), created_by=admin.id)
    return job_out(job), 202


@api_bp.get("/ontology-jobs/<int:job_id>")
@api_bp.doc(summary="Status of an ontology load job (site admin)")
def get_ontology_job(job_id):
    from server.models import Job

    require_site_admin()
    job = db.session.get(Job, job_id)
    if job is None or job.kind != "ontology_load":
        raise ApiError(404, f"ontology job {job_id} not found")
    return job_out(job)
