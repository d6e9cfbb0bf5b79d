"""Pages: projects, project (items, upload, jobs), annotate, audit. Data comes from the API; pages are shells."""
from __future__ import annotations

from flask import g, render_template, request, url_for
from jinja2.utils import htmlsafe_json_dumps
from sqlalchemy import func, select

from annotators.base import registry
from server import audit
from server.api.pagination import page
from server.extensions import db
from server.models import AuditEvent, Item, Membership, Project
from server.permissions import can, require_project, require_site_admin
from server.web.blueprint import web_bp


@web_bp.get("/")
def projects():
    user = g.user
    stmt = select(Project)
    if not user.is_admin:
        stmt = stmt.join(Membership, Membership.project_id == Project.id).where(Membership.user_id == user.id)
    rows = db.session.execute(stmt.order_by(Project.id)).scalars().all()
    counts = dict(db.session.execute(select(Item.project_id, func.count()).where(
        Item.project_id.in_([p.id for p in rows])).group_by(Item.project_id)).all()) if rows else {}
    return render_template("projects.html", projects=rows, counts=counts)


@web_bp.get("/projects/new")
def new_project():
    require_site_admin()
    modalities = [{**m.describe(), "ui_module_url": url_for("static", filename=m.ui_module) if m.ui_module else None}
                  for m in registry.all()]
    # Not the `tojson` filter: it sorts keys, and the form lays out schema properties in their declared order.
    return render_template("project_new.html", modalities=modalities,
                           modalities_json=htmlsafe_json_dumps(modalities, sort_keys=False))


@web_bp.get("/projects/<int:project_id>")
def project(project_id: int):
    proj, role = require_project(project_id, "project.view")
    modality = registry.get(proj.modality)
    stmt = select(Item).where(Item.project_id == proj.id)
    stage = request.args.get("stage")
    if stage in {"annotate", "routing", "review", "adjudicate", "done"}:
        stmt = stmt.where(Item.stage == stage)
    items, next_cursor = page(db.session, stmt, Item.id, 50, request.args.get("cursor"))
    stages = dict(db.session.execute(select(Item.stage, func.count()).where(Item.project_id == proj.id)
                                     .group_by(Item.stage)).all())
    return render_template("project.html", project=proj, role=role, modality=modality.describe(), items=items,
                           next_cursor=next_cursor, stages=stages, stage=stage,
                           can_manage=can(role, "items.upload"), can_review=can(role, "review.decide"),
                           can_dashboard=can(role, "agreement.view"), can_settings=can(role, "project.edit"))


@web_bp.get("/projects/<int:project_id>/annotate")
def annotate(project_id: int):
    proj, role = require_project(project_id, "annotations.write")
    modality = registry.get(proj.modality)
    item_id = request.args.get("item", type=int)
    return render_template("annotate.html", project=proj, role=role, modality=modality.describe(),
                           ui_module=modality.ui_module, item_id=item_id,
                           stage=request.args.get("stage", "annotate"))


@web_bp.get("/audit")
def audit_page():
    require_site_admin()
    rows, next_cursor = page(db.session, select(AuditEvent), AuditEvent.id, 100, request.args.get("cursor"),
                             descending=True)
    audit.record(db.session, actor=g.user.username, action="audit.read", object_type="audit", object_id="")
    db.session.commit()
    return render_template("audit.html", events=rows, next_cursor=next_cursor)
