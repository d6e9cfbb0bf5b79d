"""The annotator queue: which item a user gets next, leases, skips and submissions.

Slots are taken with a conditional UPDATE (`slots_taken` as read), so two annotators racing for the last slot of an
item cannot both get it, on SQLite and PostgreSQL alike.
"""
from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import and_, bindparam, case, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from server.db import execute_plain, insert_unless_exists, write_now
from server.extensions import db
from server.models import Assignment, Item, as_utc, utcnow
from server.statements import once
from server.workflow_config import merged_workflow

EXPIRE_BATCH = 500


def _expire(stale: list[Assignment], now) -> None:
    """Return the slots of abandoned leases to the pool."""
    for assignment in stale:
        done = db.session.execute(update(Assignment).where(
            Assignment.id == assignment.id, Assignment.status == "active").values(status="expired", finished_at=now))
        if done.rowcount:
            db.session.execute(update(Item).where(Item.id == assignment.item_id, Item.slots_taken > 0)
                               .values(slots_taken=Item.slots_taken - 1))


def release_leases_of(project_id: int, user_id: int) -> int:
    """A removed member's active leases go back to the pool (their submitted work stays)."""
    active = db.session.execute(select(Assignment).where(
        Assignment.project_id == project_id, Assignment.user_id == user_id, Assignment.status == "active")).scalars()
    count = 0
    for assignment in active:
        assignment.status = "expired"
        assignment.finished_at = utcnow()
        db.session.execute(update(Item).where(Item.id == assignment.item_id, Item.slots_taken > 0)
                           .values(slots_taken=Item.slots_taken - 1))
        count += 1
    return count


def _leases_statement():
    """The caller's active leases at this stage (with their items, first) and the project's expired leases, in one
    statement. Each side of the OR repeats the common terms, so each is answered from its own index
    (ix_assignments_user, ix_assignments_lease) instead of a scan of the project's assignments."""
    mine = and_(Assignment.project_id == bindparam("project_id"), Assignment.user_id == bindparam("user_id"),
                Assignment.stage == bindparam("stage"), Assignment.status == "active")
    stale = and_(Assignment.status == "active", Assignment.lease_expires_at < bindparam("now"),
                 Assignment.project_id == bindparam("project_id"))
    return (select(Assignment, Item).join(Item, Item.id == Assignment.item_id).where(or_(mine, stale))
            .order_by(case((Assignment.user_id == bindparam("user_id"), 0), else_=1), Assignment.id)
            .limit(EXPIRE_BATCH + 1))


def _take_statement(uncertain: bool, from_start: bool):
    """Take a slot of the next open item with `slots` slots taken, and read the item, in one statement: an
    UPDATE of the first candidate (RETURNING the row). SQLite runs it under the request's write lock, so no
    one else takes the slot in between; on PostgreSQL the candidate row is locked and rows other annotators are
    taking right now are skipped (the queue pattern), so concurrent callers never wait on each other."""
    def build():
        candidate = aliased(Item, name="candidate")
        mine = exists().where(Assignment.item_id == candidate.id, Assignment.user_id == bindparam("w_user_id"),
                              Assignment.stage == bindparam("w_stage"))
        pick = select(candidate.id).where(
            candidate.project_id == bindparam("w_project_id"), candidate.stage == bindparam("w_stage"),
            candidate.status == "ready", candidate.slots_taken == bindparam("w_slots"), ~mine)
        if from_start:
            pick = pick.where(candidate.id >= bindparam("w_start"))
        pick = pick.order_by(candidate.priority, candidate.id) if uncertain else pick.order_by(candidate.id)
        # SQLite renders no lock clause (the write lock is held already).
        pick = pick.limit(1).with_for_update(skip_locked=True, of=candidate)
        items = Item.__table__
        return update(items).where(items.c.id == pick.scalar_subquery(), items.c.slots_taken == bindparam("w_slots"),
                                   items.c.stage == bindparam("w_stage")).values(
            slots_taken=bindparam("taken")).returning(*items.c)

    return once(("next.take", uncertain, from_start), build)


def _leases(project_id: int, user_id: int, stage: str, now) -> list[tuple[Assignment, Item]]:
    return db.session.execute(once("next.leases", _leases_statement), {
        "project_id": project_id, "user_id": user_id, "stage": stage, "now": now}).all()


def _take(project, user_id: int, stage: str, slots: int, ordering: str, start: int | None = None):
    """The taken item as a row (its attributes are the item's columns: enough for the reply), or None."""
    # (An UPDATE reserves bind names equal to its table's columns: hence w_.)
    params = {"w_project_id": project.id, "w_user_id": user_id, "w_stage": stage, "w_slots": slots,
              "taken": slots + 1, "w_start": start}
    # A plain statement: building an ORM object of the row cost more than the UPDATE.
    return execute_plain(db.session, _take_statement(ordering == "uncertain", start is not None), params).first()


def _take_in_order(project, user_id: int, stage: str, slots: int, ordering: str):
    if ordering != "random":
        return _take(project, user_id, stage, slots, ordering)
    lo, hi = db.session.execute(select(func.min(Item.id), func.max(Item.id))
                                .where(Item.project_id == project.id)).one()
    if lo is None:
        return None
    return (_take(project, user_id, stage, slots, ordering, random.randint(lo, hi))
            or _take(project, user_id, stage, slots, ordering))


def next_assignment(project, user, stage: str = "annotate") -> tuple[Assignment, Item] | None:
    """The caller's current lease (renewed), or a new one on the next open item, with its item (read in the same
    statements: the loaded Item, or for a new lease the taken row, which reads the same); None when the queue is
    empty for them."""
    workflow = merged_workflow(project.workflow, None)
    now = utcnow()
    lease = timedelta(minutes=int(workflow["lease_minutes"]))
    leases = _leases(project.id, user.id, stage, now)
    current = next(((a, i) for a, i in leases if a.user_id == user.id and a.stage == stage
                    and as_utc(a.lease_expires_at) >= now), None)
    if current is not None:
        current[0].lease_expires_at = now + lease
        write_now(db.session, current[0], ("lease_expires_at",))
        return current
    _expire([a for a, _ in leases if as_utc(a.lease_expires_at) < now][:EXPIRE_BATCH], now)
    k = int(workflow["annotators_per_item"]) if stage == "annotate" else 1
    ordering = workflow["ordering"] if stage == "annotate" else "uncertain"  # riskiest reviews first
    # Fill partly annotated items first, so finished items reach review sooner.
    for slots in range(k - 1, -1, -1):
        for _attempt in range(3):
            item = _take_in_order(project, user.id, stage, slots, ordering)
            if item is None:
                break
            assignment = _insert_lease(item, user.id, stage, now + lease)
            if assignment is not None:
                return assignment, item
            # The caller's own submit of this item (without a lease, from another tab) wrote its row just now:
            # give the slot back and take another item.
            db.session.execute(update(Item).where(Item.id == item.id).values(slots_taken=Item.slots_taken - 1))
    return None


def _insert_lease(item: Item, user_id: int, stage: str, expires) -> Assignment | None:
    """The candidate query excludes items the caller ever held at this stage, so the row is new, unless a
    concurrent submit of the caller's inserted it meanwhile (None then; uq_assignment, no error)."""
    return insert_unless_exists(db.session, Assignment, {
        "item_id": item.id, "project_id": item.project_id, "user_id": user_id, "stage": stage, "status": "active",
        "lease_expires_at": expires}, ["item_id", "user_id", "stage"])


def skip(project, user, item_id: int, stage: str, reason: str) -> Assignment:
    assignment = db.session.execute(select(Assignment).where(
        Assignment.item_id == item_id, Assignment.user_id == user.id, Assignment.stage == stage,
        Assignment.status == "active")).scalar_one_or_none()
    if assignment is None:
        return None
    assignment.status, assignment.reason, assignment.finished_at = "skipped", reason, utcnow()
    db.session.execute(update(Item).where(Item.id == item_id, Item.slots_taken > 0)
                       .values(slots_taken=Item.slots_taken - 1))
    return assignment


def mark_submitted(project, user, item: Item, stage: str) -> None:
    """Close the caller's lease on submit. A submit after the lease expired is kept (nothing lost) and re-counted."""
    now = utcnow()
    # The usual case, a submit under the caller's active lease, in one statement; the others read the row below.
    # A plain statement (no lease object is held in a submit's session).
    closed = execute_plain(db.session, once("submit.close_lease", lambda: update(Assignment.__table__).where(
        Assignment.item_id == bindparam("w_item_id"), Assignment.user_id == bindparam("w_user_id"),
        Assignment.stage == bindparam("w_stage"), Assignment.status == "active").values(
        status="submitted", finished_at=bindparam("now"))),
        {"w_item_id": item.id, "w_user_id": user.id, "w_stage": stage, "now": now})
    if closed.rowcount == 1:
        return
    assignment = db.session.execute(select(Assignment).where(
        Assignment.item_id == item.id, Assignment.user_id == user.id, Assignment.stage == stage)
    ).scalar_one_or_none()
    if assignment is None:
        try:
            # A concurrent lease of the same item by the same user (another tab asking for "next") may insert the
            # row first: the savepoint keeps this transaction usable and the row found is completed below.
            with db.session.begin_nested():
                db.session.add(Assignment(item_id=item.id, project_id=project.id, user_id=user.id, stage=stage,
                                          status="submitted", lease_expires_at=now, finished_at=now))
            db.session.execute(update(Item).where(Item.id == item.id).values(slots_taken=Item.slots_taken + 1))
            db.session.flush()
            return
        except IntegrityError:
            assignment = db.session.execute(select(Assignment).where(
                Assignment.item_id == item.id, Assignment.user_id == user.id, Assignment.stage == stage)
            ).scalar_one()
    if assignment.status != "submitted":
        if assignment.status in ("expired", "skipped"):
            db.session.execute(update(Item).where(Item.id == item.id).values(slots_taken=Item.slots_taken + 1))
        assignment.status, assignment.finished_at = "submitted", now
    db.session.flush()


def submitted_count(item_id: int, stage: str = "annotate") -> int:
    return db.session.execute(select(func.count()).select_from(Assignment).where(
        and_(Assignment.item_id == item_id, Assignment.stage == stage, Assignment.status == "submitted"))
    ).scalar_one()
