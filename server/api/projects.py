"""Modalities, projects and memberships."""
from __future__ import annotations

from flask import g
from sqlalchemy import func, select

from annotators.base import UnknownModality, registry
from server import audit
from server.api.blueprint import api_bp
from server.api.pagination import page
from server.api.schemas import MemberDelete, MemberIn, PageQuery, ProjectIn, ProjectPatch
from server.api.serialize import project_out
from server.auth import actor_name
from server.errors import ApiError
from server.text_checks import identifier_key, label_config_problem
from server.extensions import db
from server.models import Assignment, Membership, Project, User
from server.permissions import require_project, require_site_admin, require_user
from server.workflow_config import merged_workflow


def modality_or_400(name: str):
    try:
        return registry.get(name)
    except UnknownModality as exc:
        raise ApiError(400, str(exc)) from None


def validated_label_config(modality, config: dict | None) -> dict:
    config = modality.default_label_config if config is None else config
    problem = label_config_problem(config)
    if problem:
        raise ApiError(400, problem)
    try:
        return modality.validate_label_config(config)
    except ValueError as exc:
        raise ApiError(400, str(exc)) from None


@api_bp.get("/modalities")
@api_bp.doc(summary="Registered modalities with their label-config schema")
def list_modalities():
    require_user()
    return {"items": [m.describe() for m in registry.all()]}


@api_bp.post("/projects")
@api_bp.input(ProjectIn)
@api_bp.doc(summary="Create a project (site admin); the creator becomes its admin")
def create_project(json_data):
    user = require_site_admin()
    modality = modality_or_400(json_data["modality"])
    project = Project(
        name=json_data["name"], description=json_data["description"], modality=modality.name,
        label_config=validated_label_config(modality, json_data["label_config"]),
        workflow=merged_workflow(None, json_data["workflow"]), created_by=user.id,
    )
    db.session.add(project)
    db.session.flush()
    db.session.add(Membership(project_id=project.id, user_id=user.id, role="admin"))
    audit.record(db.session, actor=user.username, action="project.create", object_type="project",
                 object_id=project.id, project_id=project.id, details={"modality": modality.name})
    db.session.commit()
    return project_out(project, "admin"), 201


@api_bp.get("/projects")
@api_bp.input(PageQuery, location="query")
def list_projects(query_data):
    user = require_user()
    if user.is_admin:
        stmt = select(Project)
    else:
        stmt = select(Project).join(Membership, Membership.project_id == Project.id).where(
            Membership.user_id == user.id)
    rows, nxt = page(db.session, stmt, Project.id, query_data["limit"], query_data["cursor"])
    roles = dict(db.session.execute(
        select(Membership.project_id, Membership.role).where(Membership.user_id == user.id)).all())
    return {"items": [project_out(p, "admin" if user.is_admin else roles.get(p.id)) for p in rows],
            "next_cursor": nxt}


@api_bp.get("/projects/<int:project_id>")
def get_project(project_id):
    project, role = require_project(project_id, "project.view")
    return project_out(project, role)


@api_bp.patch("/projects/<int:project_id>")
@api_bp.input(ProjectPatch)
def patch_project(project_id, json_data):
    project, role = require_project(project_id, "project.edit")
    if "label_config" in json_data:
        modality = modality_or_400(project.modality)
        project.label_config = validated_label_config(modality, json_data["label_config"])
    if "workflow" in json_data:
        # Applies to items not yet started: assignments already handed out keep their slots.
        project.workflow = merged_workflow(project.workflow, json_data["workflow"])
    for key in ("name", "description", "archived"):
        if key in json_data:
            setattr(project, key, json_data[key])
    audit.record(db.session, actor=actor_name(), action="project.update", object_type="project",
                 object_id=project.id, project_id=project.id, details={"fields": sorted(json_data)})
    db.session.commit()
    return project_out(project, role)


@api_bp.delete("/projects/<int:project_id>")
def delete_project(project_id):
    project, _ = require_project(project_id, "project.delete")
    audit.record(db.session, actor=actor_name(), action="project.delete", object_type="project",
                 object_id=project.id, project_id=project.id)
    db.session.delete(project)
    db.session.commit()
    return "", 204


@api_bp.get("/projects/<int:project_id>/members")
def list_members(project_id):
    require_project(project_id, "members.view")
    rows = db.session.execute(
        select(Membership, User).join(User, User.id == Membership.user_id)
        .where(Membership.project_id == project_id).order_by(Membership.id)
    ).all()
    leases = dict(db.session.execute(select(Assignment.user_id, func.count()).where(
        Assignment.project_id == project_id, Assignment.status == "active").group_by(Assignment.user_id)).all())
    return {"items": [{"user_id": u.id, "username": u.username, "role": m.role, "active_leases": leases.get(u.id, 0)}
                      for m, u in rows]}


@api_bp.post("/projects/<int:project_id>/members")
@api_bp.input(MemberIn)
@api_bp.doc(summary="Add a member or change a member's role")
def add_member(project_id, json_data):
    require_project(project_id, "members.edit")
    user = db.session.execute(select(User).where(User.username_key == identifier_key(json_data["username"]))).scalar_one_or_none()
    if user is None:
        raise ApiError(400, f"no user named {json_data['username']!r}")
    membership = db.session.execute(select(Membership).where(
        Membership.project_id == project_id, Membership.user_id == user.id)).scalar_one_or_none()
    before = membership.role if membership else None
    if membership is None:
        membership = Membership(project_id=project_id, user_id=user.id, role=json_data["role"])
        db.session.add(membership)
    else:
        membership.role = json_data["role"]
    audit.record(db.session, actor=actor_name(), action="member.set", object_type="user", object_id=user.id,
                 project_id=project_id, details={"role": json_data["role"], "previous_role": before})
    db.session.commit()
    return {"user_id": user.id, "username": user.username, "role": membership.role}, 201 if before is None else 200


@api_bp.delete("/projects/<int:project_id>/members")
@api_bp.input(MemberDelete)
def remove_member(project_id, json_data):
    require_project(project_id, "members.edit")
    user = db.session.execute(select(User).where(User.username_key == identifier_key(json_data["username"]))).scalar_one_or_none()
    membership = None if user is None else db.session.execute(select(Membership).where(
        Membership.project_id == project_id, Membership.user_id == user.id)).scalar_one_or_none()
    if membership is None:
        raise ApiError(404, f"{json_data['username']!r} is not a member of this project")
    if user.id == g.user.id and membership.role == "admin":
        raise ApiError(400, "you cannot remove yourself as project admin")
    from server.workflow import release_leases_of

    from server.auth import end_sessions

    released = release_leases_of(project_id, user.id)
    end_sessions(user)  # an open page of the removed member must stop working now, not at its idle timeout
    db.session.delete(membership)
    audit.record(db.session, actor=actor_name(), action="member.remove", object_type="user", object_id=user.id,
                 project_id=project_id, details={"role": membership.role, "released_leases": released})
    db.session.commit()
    return "", 204
