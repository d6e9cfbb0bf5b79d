"""Authorization, in one place. Roles are per project; site admins act as project admins everywhere.

A project the caller is not a member of answers 404 (as if it did not exist), and the attempt is audited.
"""
from __future__ import annotations

from flask import g
from sqlalchemy import and_, bindparam, literal, select

from server import audit
from server.errors import ApiError
from server.extensions import db
from server.models import Item, Membership, Project
from server.statements import once

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


def can(role: str | None, permission: str) -> bool:
    return role is not None and role in PERMISSIONS[permission]


def deny_not_found(what: str, object_id, project_id: int | None = None) -> ApiError:
    """Audit a denied access and return the 404 to raise (same answer as a missing object)."""
    audit.record_now(db, actor=g.user.username if g.get("user") else "anonymous", action=f"{what}.access",
                     outcome="denied", object_type=what, object_id=object_id, project_id=project_id)
    return ApiError(404, f"{what} {object_id} not found")


def _with_role(stmt, project_id_column, admin: bool):
    """Add the caller's role in the project to `stmt` (one statement instead of a second look-up per request):
    None when not a member; site admins act as project admins everywhere."""
    if admin:
        return stmt.add_columns(literal("admin"))
    return stmt.add_columns(Membership.role).outerjoin(Membership, and_(
        Membership.project_id == project_id_column, Membership.user_id == bindparam("user_id")))


def _project_statement(admin: bool):
    return once(("project+role", admin), lambda: _with_role(select(Project), Project.id, admin).where(
        Project.id == bindparam("project_id")))


def _object_statement(model, with_item: bool, lock: bool, admin: bool):
    def build():
        stmt = select(model, Project).join(Project, Project.id == model.project_id)
        if with_item:
            stmt = stmt.add_columns(Item).join(Item, Item.id == model.item_id)
        stmt = _with_role(stmt, model.project_id, admin).where(model.id == bindparam("object_id"))
        # PostgreSQL locks the object's row; SQLite renders no lock clause (its writing requests hold the
        # database's write lock already).
        return stmt.with_for_update(of=model.__table__) if lock else stmt

    return once(("object+project+role", model, with_item, lock, admin), build)


def _check(user, project_id: int, role: str, permission: str) -> None:
    if not can(role, permission):
        audit.record_now(db, actor=user.username, action=permission, outcome="forbidden", object_type="project",
                         object_id=project_id, project_id=project_id)
        raise ApiError(403, f"your role '{role}' in this project does not allow {permission}")
    g.project_role = role


def require_project(project_id: int, permission: str) -> tuple[Project, str]:
    user = require_user()
    row = db.session.execute(_project_statement(user.is_admin), {"project_id": project_id, "user_id": user.id}).first()
    project, role = row if row is not None else (None, None)
    if project is None or role is None:
        raise deny_not_found("project", project_id, project_id if project is not None else None)
    _check(user, project_id, role, permission)
    return project, role


def require_object(model, object_id: int, permission: str, what: str, lock: bool = False, with_item: bool = False):
    """Load an object that belongs to a project and check the caller's permission there (404 if not a member).

    One statement reads the object, its project and the caller's role; the project (and with `with_item`, the
    object's item) land in the session's identity map, so a later `db.session.get(Project, ...)` costs nothing.
    `lock`: on PostgreSQL the object's row is locked (FOR UPDATE) from this first read on; SQLite's writing
    requests hold the database's write lock already."""
    user = require_user()
    row = db.session.execute(_object_statement(model, with_item, lock, user.is_admin),
                             {"object_id": object_id, "user_id": user.id}).first()
    # The session's identity map holds objects weakly: the row keeps the project (and item) read here alive for
    # the rest of the request, so the route's own look-ups of them are answered from memory.
    g.permission_row = row
    obj, role = (row[0], row[-1]) if row is not None else (None, None)
    if obj is None or role is None:
        raise deny_not_found(what, object_id, obj.project_id if obj is not None else None)
    _check(user, obj.project_id, role, permission)
    return obj, role
