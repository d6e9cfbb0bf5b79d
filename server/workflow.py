"""The annotator queue: which item a user gets next, leases, skips and submissions.

Slots are taken with a conditional UPDATE (`slots_taken < k`), so two annotators racing for the last slot of an item
cannot both get it, on SQLite and PostgreSQL alike.
"""
from __future__ import annotations

import random
from datetime import timedelta

from sqlalchemy import and_, exists, func, select, update
from sqlalchemy.exc import IntegrityError

from server.extensions import db
from server.models import Assignment, Item, utcnow
from server.workflow_config import merged_workflow

CANDIDATES_PER_TRY = 16
MAX_ROUNDS = 5


def expire_leases(project_id: int) -> int:
    """Return the slots of abandoned items to the pool. Cheap when nothing expired (indexed)."""
    now = utcnow()
    stale = db.session.execute(
        select(Assignment.id, Assignment.item_id).where(
            Assignment.status == "active", Assignment.lease_expires_at < now, Assignment.project_id == project_id)
        .limit(500)
    ).all()
    for assignment_id, item_id in stale:
        done = db.session.execute(update(Assignment).where(
            Assignment.id == assignment_id, Assignment.status == "active").values(status="expired", finished_at=now))
        if done.rowcount:
            db.session.execute(update(Item).where(Item.id == item_id, Item.slots_taken > 0)
                               .values(slots_taken=Item.slots_taken - 1))
    return len(stale)


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


def _limit() -> int:
    return 1 if db.dialect == "postgresql" else CANDIDATES_PER_TRY


def _candidate_ids(project, user_id: int, stage: str, slots: int, ordering: str) -> list[int]:
    mine = exists().where(Assignment.item_id == Item.id, Assignment.user_id == user_id, Assignment.stage == stage)
    base = select(Item.id).where(Item.project_id == project.id, Item.stage == stage, Item.status == "ready",
                                 Item.slots_taken == slots, ~mine)
    if db.dialect == "postgresql":
        # The queue pattern: lock the candidate row, skip rows other annotators are taking right now. Without it,
        # concurrent callers queue up behind each other's row locks on the same first candidates.
        base = base.with_for_update(skip_locked=True, of=Item)
    if ordering == "uncertain":
        return list(db.session.execute(base.order_by(Item.priority, Item.id).limit(_limit())).scalars())
    if ordering == "random":
        lo, hi = db.session.execute(select(func.min(Item.id), func.max(Item.id))
                                    .where(Item.project_id == project.id)).one()
        if lo is None:
            return []
        start = random.randint(lo, hi)
        ids = list(db.session.execute(base.where(Item.id >= start).order_by(Item.id)
                                      .limit(_limit())).scalars())
        return ids or list(db.session.execute(base.order_by(Item.id).limit(_limit())).scalars())
    return list(db.session.execute(base.order_by(Item.id).limit(_limit())).scalars())


def next_assignment(project, user, stage: str = "annotate") -> Assignment | None:
    """The caller's current lease, or a new one on the next open item; None when the queue is empty for them."""
    workflow = merged_workflow(project.workflow, None)
    now = utcnow()
    lease = timedelta(minutes=int(workflow["lease_minutes"]))
    current = db.session.execute(select(Assignment).where(
        Assignment.project_id == project.id, Assignment.user_id == user.id, Assignment.stage == stage,
        Assignment.status == "active", Assignment.lease_expires_at >= now).order_by(Assignment.id).limit(1)
    ).scalar_one_or_none()
    if current is not None:
        current.lease_expires_at = now + lease
        return current
    expire_leases(project.id)
    k = int(workflow["annotators_per_item"]) if stage == "annotate" else 1
    # Fill partly annotated items first, so finished items reach review sooner.
    for slots in range(k - 1, -1, -1):
        for attempt in range(MAX_ROUNDS):
            ordering = workflow["ordering"] if stage == "annotate" else "uncertain"  # riskiest reviews first
            candidates = _candidate_ids(project, user.id, stage, slots, ordering)
            if not candidates:
                break
            if attempt:
                random.shuffle(candidates)  # concurrent annotators: stop racing for the same few items
            assignment = _take_first_free(project, user, stage, slots, candidates, now + lease)
            if assignment is not None:
                return assignment
    return None


def _take_first_free(project, user, stage: str, slots: int, candidates: list[int], expires) -> Assignment | None:
    for item_id in candidates:
        taken = db.session.execute(update(Item).where(
            Item.id == item_id, Item.slots_taken == slots, Item.stage == stage).values(slots_taken=slots + 1))
        if taken.rowcount != 1:
            continue  # someone else took this slot in the meantime
        previous = db.session.execute(select(Assignment).where(
            Assignment.item_id == item_id, Assignment.user_id == user.id, Assignment.stage == stage)
        ).scalar_one_or_none()
        if previous is not None:  # an expired lease of this user: take it up again
            previous.status, previous.lease_expires_at, previous.finished_at = "active", expires, None
            return previous
        assignment = Assignment(item_id=item_id, project_id=project.id, user_id=user.id, stage=stage,
                                status="active", lease_expires_at=expires)
        db.session.add(assignment)
        db.session.flush()
        return assignment
    return None


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
