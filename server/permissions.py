"""Authorization, in one place. Roles are per project; site admins act as project admins everywhere.

A project the caller is not a member of answers 404 (as if it did not exist), and the attempt is audited.
"""
from __future__ import annotations

from flask import g
from sqlalchemy import select

from server import audit
from server.errors import ApiError
from server.extensions import db
from server.models import Membership, Project

ALL = frozenset({"admin", "manager", "reviewer", "annotator"})
STAFF = frozenset({"admin", "manager"})

PERMISSIONS: dict[str, frozenset[str]] = {
    "project.view": ALL,
    "project.edit": STAFF,
    "project.delete": frozenset({"admin"}),
    "members.view": ALL,
    "members.edit": frozenset({"admin"}),
    "items.read": ALL,
    "items.upload": STAFF,
    "items.delete": STAFF,
    "annotations.write": ALL,
    "annotations.see_all": frozenset({"admin", "manager", "reviewer"}),
    "review.decide": frozenset({"admin", "manager", "reviewer"}),
    "jobs.view": ALL,
    "jobs.start": STAFF,
    "exports.create": STAFF,
    "agreement.view": frozenset({"admin", "manager", "reviewer"}),
    "quality.view": STAFF,
}


def require_user():
    if g.get("user") is None:
        raise ApiError(401, "authentication required: log in or send 'Authorization: Bearer <token>'")
    return g.user


def require_site_admin():
    user = require_user()
    if not user.is_admin:
        raise ApiError(403, "site administrator only")
    return user


def role_in(project_id: int, user) -> str | None:
    if user.is_admin:
        return "admin"
    return db.session.execute(
        select(Membership.role).where(Membership.project_id == project_id, Membership.user_id == user.id)
    ).scalar_one_or_none()


def can(role: str | None, permission: str) -> bool:
    return role is not None and role in PERMISSIONS[permission]


def deny_not_found(what: str, object_id, project_id: int | None = None) -> ApiError:
    """Audit a denied access and return the 404 to raise (same answer as a missing object)."""
    audit.record_now(db, actor=g.user.username if g.get("user") else "anonymous", action=f"{what}.access",
                     outcome="denied", object_type=what, object_id=object_id, project_id=project_id)
    return ApiError(404, f"{what} {object_id} not found")


def require_project(project_id: int, permission: str) -> tuple[Project, str]:
    user = require_user()
    project = db.session.get(Project, project_id)
    role = role_in(project_id, user) if project is not None else None
    if project is None or role is None:
        raise deny_not_found("project", project_id, project_id if project is not None else None)
    if not can(role, permission):
        audit.record_now(db, actor=user.username, action=permission, outcome="forbidden", object_type="project",
                         object_id=project_id, project_id=project_id)
        raise ApiError(403, f"your role '{role}' in this project does not allow {permission}")
    g.project_role = role
    return project, role


def require_object(model, object_id: int, permission: str, what: str):
    """Load an object that belongs to a project and check the caller's permission there (404 if not a member)."""
    require_user()
    obj = db.session.get(model, object_id)
    project_id = getattr(obj, "project_id", None) if obj is not None else None
    if obj is None or project_id is None or role_in(project_id, g.user) is None:
        raise deny_not_found(what, object_id, project_id)
    _, role = require_project(project_id, permission)
    return obj, role
