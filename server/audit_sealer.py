"""The audit sealer: chains unsealed audit rows, so requests never wait for one another to append to the trail.

A request inserts its audit row in its own transaction with no chain fields (seq, prev_hash, hash NULL) and a row
MAC; it takes no lock and reads nothing. The sealer gives the committed unsealed rows, in id (insert) order, the
next sequence numbers and the keyed chain hashes, one transaction per batch:

- one sealer at a time: on PostgreSQL a transaction-scoped advisory lock (the background loop only tries it, so
  processes never queue behind one another), on SQLite the write lock (BEGIN IMMEDIATE);
- it runs in a daemon thread of every web process (started on its first request, so forked gunicorn workers and
  `flask` commands get the right one) and of the Celery worker's main process, waking every AUDIT_SEAL_INTERVAL_S
  (0.2 s) or when this process committed an audit event; `seal(session)` runs it synchronously (verify,
  checkpoints, `flask audit seal`);
- a row whose MAC does not match (inserted by someone without the key) is still chained, so the trail never
  stalls, but with a hash that cannot verify: `verify` names it.

Gaps (PostgreSQL): ids come from a sequence, so a transaction can hold id 10 uncommitted while id 11 is committed
and visible, and an aborted transaction leaves id 10 missing for good; the two look the same from outside. Sealing
11 at once would chain it before 10, and seq order would no longer be insert order. So the sealer stops at a gap
after its frontier (the highest id sealed) until the row after the gap is AUDIT_SEAL_GRACE_S (0.25 s) old by its
recorded time, then seals past it. A transaction that commits its row later than that (one that audits early and
runs for longer) is not lost: its row is unsealed, so the next pass seals it, later in the chain than its id.
Every committed row is sealed within interval + grace (< 1 s) while a sealer runs. On SQLite no gap can hide an
uncommitted row: the sealer holds the only write lock, and rowids are reused after a rollback.
"""
from __future__ import annotations

import hmac
import logging
import os
import threading
import time
from datetime import timedelta

from sqlalchemy import bindparam, event, func, select, text, update
from sqlalchemy.orm import Session

from server.audit_chain import GENESIS, event_digest, event_mac
from server.db import immediate_writes
from server.models import AuditEvent, as_utc, utcnow

log = logging.getLogger(__name__)

PG_LOCK_KEY = 0x436C696E  # any constant shared by every sealer of this database
PENDING = "clinlabel_audit_pending"  # session.info flag: this transaction recorded audit events
# Under load every commit wakes the loop: at least this long between passes (the interval's default), so a busy
# second's rows are sealed in a few batches rather than one write transaction per request (on SQLite each pass takes
# the write lock). Each pass costs its process a few statements even when another sealer holds the lock; at 0.05 s
# the three sealers of an install (two web processes and the worker) made up to 60 passes a second under load.
# Rows are still sealed within this gap + the grace + a pass (about half a second).
MIN_GAP_S = 0.2

# Core rows and a Core UPDATE: the ORM objects a caller's session holds are neither reused stale nor touched.
_UNSEALED = select(AuditEvent.__table__).where(AuditEvent.seq.is_(None)).order_by(AuditEvent.id)
_SEAL = update(AuditEvent.__table__).where(AuditEvent.__table__.c.id == bindparam("b_id")).values(
    seq=bindparam("b_seq"), prev_hash=bindparam("b_prev"), hash=bindparam("b_hash"))
_ANY_UNSEALED = select(AuditEvent.id).where(AuditEvent.seq.is_(None)).limit(1)
_HEAD = select(AuditEvent.seq, AuditEvent.hash).where(AuditEvent.seq.is_not(None)) \
    .order_by(AuditEvent.seq.desc()).limit(1)
_FRONTIER = select(func.max(AuditEvent.id)).where(AuditEvent.seq.is_not(None))


def seal(session: Session, *, wait: bool = True, settle: bool = True, grace_s: float | None = None,
         batch: int = 2000) -> int:
    """Chain the committed unsealed rows; returns how many were sealed. Commits the session's transaction first.

    wait: block for another sealer's lock (PostgreSQL) instead of leaving the work to it. settle: wait out the
    grace of a gap rather than leave rows after it unsealed, so that every row committed before the call is sealed
    when it returns."""
    from flask import current_app

    config = current_app.config
    key = config["AUDIT_KEY"].encode()
    grace = float(config.get("AUDIT_SEAL_GRACE_S", 0.25) if grace_s is None else grace_s)
    postgres = session.get_bind().dialect.name == "postgresql"
    total, started = 0, utcnow()
    session.commit()
    while True:
        if session.execute(_ANY_UNSEALED).first() is None:
            session.rollback()
            return total
        session.commit()  # SQLite: the probe's read transaction ends; the sealing one takes the write lock
        sealed, blocked_at = _seal_batch(session, key, grace if postgres else 0.0, postgres, wait, batch)
        if sealed is None:  # another sealer holds the lock: it does this work
            return total
        total += sealed
        if blocked_at is not None:
            if not settle or blocked_at > started:  # rows newer than the call are the background loop's
                return total
            time.sleep(max(0.0, (blocked_at + timedelta(seconds=grace) - utcnow()).total_seconds()) + 0.01)
        elif sealed < batch:
            return total


def _seal_batch(session: Session, key: bytes, grace: float, postgres: bool, wait: bool, batch: int):
    """(rows sealed or None when the lock is taken, the time of the row held back by a gap or None)."""
    with immediate_writes():
        if postgres:
            lock = "pg_advisory_xact_lock" if wait else "pg_try_advisory_xact_lock"
            got = session.execute(text(f"SELECT {lock}(:k)"), {"k": PG_LOCK_KEY}).scalar()
            if got is False:
                session.rollback()
                return None, None
        head = session.execute(_HEAD).first()
        seq, prev = (head[0], head[1]) if head else (0, GENESIS)
        frontier = session.execute(_FRONTIER).scalar() or 0
        rows = session.execute(_UNSEALED.limit(batch)).all()
        cutoff = utcnow() - timedelta(seconds=grace)
        updates, blocked_at = [], None
        for ev in rows:
            if grace and ev.id > frontier + 1 and as_utc(ev.time) > cutoff:
                blocked_at = as_utc(ev.time)
                break  # the ids below it may belong to a transaction still running
            seq += 1
            if ev.mac is not None and ev.nonce is not None and hmac.compare_digest(event_mac(ev, key), ev.mac):
                digest = event_digest(ev, prev, seq, key)
            else:  # no key behind it: chained so the trail goes on, under a hash that never verifies
                log.warning("audit row id %s has no valid row MAC: sealed as forged (seq %s)", ev.id, seq)
                digest = event_digest(ev, prev, seq, b"forged:" + key)
            updates.append({"b_id": ev.id, "b_seq": seq, "b_prev": prev, "b_hash": digest})
            prev, frontier = digest, max(frontier, ev.id)
        if updates:
            session.execute(_SEAL, updates)
        session.commit()
        return len(updates), blocked_at


def unsealed_tail(session: Session) -> dict:
    """How many rows wait for the sealer, and the age in seconds of the oldest (by its recorded time)."""
    count, oldest = session.execute(select(func.count(), func.min(AuditEvent.time)).where(AuditEvent.seq.is_(None))
                                    ).one()
    age = round((utcnow() - as_utc(oldest)).total_seconds(), 3) if oldest is not None else 0.0
    return {"count": count, "oldest_age_s": max(age, 0.0)}


class Sealer:
    """The background loop of one process."""

    def __init__(self, app, interval_s: float) -> None:
        self.app, self.interval_s = app, interval_s
        self.wake, self.stopped = threading.Event(), threading.Event()
        self.pid: int | None = None
        self.thread: threading.Thread | None = None
        self._guard = threading.Lock()

    def ensure_started(self) -> None:
        if self.pid == os.getpid():
            return
        with self._guard:
            if self.pid != os.getpid():  # first call in this process (a fork copies the attribute, not the thread)
                self.pid = os.getpid()
                self.thread = threading.Thread(target=self._run, daemon=True, name="audit-sealer")
                self.thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        self.stopped.set()
        self.wake.set()
        if self.thread is not None and self.pid == os.getpid():
            self.thread.join(timeout_s)

    def _run(self) -> None:
        from server.db import set_request_mode

        # Its own app's database, not the process-wide proxy (which follows the app created last).
        database = self.app.extensions["clinlabel_db"]
        # SQLite: the probe for work is a deferred read, so an idle sealer never takes the write lock.
        set_request_mode("deferred")
        failures = 0
        while not self.stopped.is_set():
            self.wake.wait(self.interval_s)
            self.wake.clear()
            if self.stopped.is_set():
                break
            try:
                with self.app.app_context():
                    seal(database.session, wait=False, settle=False)
                failures = 0
            except Exception as exc:  # noqa: BLE001 - the loop must outlive a database hiccup
                failures += 1
                if failures in (1, 10) or failures % 300 == 0:  # no flood while the database is down
                    log.warning("audit sealer failed (%d in a row): %s", failures, type(exc).__name__)
            finally:
                database.session.remove()
            self.stopped.wait(MIN_GAP_S)


_sealer: Sealer | None = None


def install(app) -> Sealer | None:
    """Called by the app factory: this process's sealer for this app, unless AUDIT_SEALER is off (tests)."""
    global _sealer
    _sealer = Sealer(app, float(app.config["AUDIT_SEAL_INTERVAL_S"])) if app.config.get("AUDIT_SEALER") else None
    if _sealer is not None:
        app.extensions["audit_sealer"] = _sealer
    return _sealer


@event.listens_for(Session, "after_commit")
def _wake_after_audit(session: Session) -> None:
    if session.info.pop(PENDING, False) and _sealer is not None and _sealer.pid == os.getpid():
        _sealer.wake.set()


@event.listens_for(Session, "after_rollback")
def _forget_rolled_back(session: Session) -> None:
    session.info.pop(PENDING, None)
