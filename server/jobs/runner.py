"""Running a job exactly once in effect: claim with a lease, heartbeat, progress, cancel, re-run after a crash."""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from datetime import timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.exc import OperationalError

from server.extensions import db
from server.jobs import kinds
from server.jobs.celery_app import celery, declare_embedded_queues
from server.jobs.kinds import JobCancelled, JobFailed  # noqa: F401  (handlers import them from here too)
from server.models import Job, utcnow

log = logging.getLogger("clinlabel.jobs")
MAX_ATTEMPTS = 3
# A transient database conflict (SQLite's lock, PostgreSQL's serialization failure or deadlock) is retried with
# back-off; a job never fails because another writer was busy for a moment.
TRANSIENT_RETRIES = 6
_TRANSIENT = ("database is locked", "database table is locked", "could not serialize", "deadlock detected")


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError) and any(t in str(exc.orig if hasattr(exc, "orig") else exc).lower()
                                                     for t in _TRANSIENT)


def with_retries(action, what: str):
    """Run `action()`; on a transient conflict roll back, wait 0.2 s, 0.4 s, 0.8 s ... and run it again."""
    for attempt in range(TRANSIENT_RETRIES):
        try:
            return action()
        except OperationalError as exc:
            if not is_transient(exc) or attempt == TRANSIENT_RETRIES - 1:
                raise
            db.session.rollback()
            delay = 0.2 * 2 ** attempt
            log.info("%s: transient database conflict, retrying in %.1f s", what, delay)
            time.sleep(delay)


def worker_id() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _owner_is_dead(owner: str | None) -> bool:
    """A lease held by a process on this host that no longer exists can be taken over at once."""
    if not owner or ":" not in owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def lease_seconds() -> int:
    return int(celery.flask_app.config["JOB_LEASE_S"])


def claim(job_id: int) -> Job | None:
    me, now = worker_id(), utcnow()
    expires = now + timedelta(seconds=lease_seconds())
    job = db.session.get(Job, job_id)
    if job is None or job.status in ("succeeded", "failed", "cancelled"):
        db.session.rollback()
        return None
    # End the read before writing: on SQLite the worker's transactions are deferred, and a deferred transaction that
    # has read cannot wait for the write lock: it fails with "database is locked" at once, busy_timeout or not.
    db.session.commit()
    condition = or_(Job.status == "queued", Job.lease_expires_at < now)
    if job.status == "running" and _owner_is_dead(job.lease_owner):
        condition = Job.lease_owner == job.lease_owner

    def take():
        result = db.session.execute(update(Job).where(Job.id == job_id, Job.status.in_(("queued", "running")),
                                                      condition)
                                    .values(status="running", lease_owner=me, lease_expires_at=expires,
                                            attempts=Job.attempts + 1, started_at=now))
        db.session.commit()
        return result

    # A claim that lost to a busy writer must wait its turn: an error here would ack the message and leave the job
    # queued until the reaper's re-send.
    claimed = with_retries(take, f"claiming job {job_id}")
    if claimed.rowcount != 1:
        return None  # another worker holds a live lease: this delivery is a duplicate
    db.session.refresh(job)
    return job


class JobContext:
    """Handed to handlers: progress reporting that also renews the lease and notices cancellation."""

    def __init__(self, job: Job):
        self.job = job
        self.owner = worker_id()
        # Kept across the handler's re-runs after a transient conflict (the same context is handed to each), so a
        # handler can resume from what its earlier run committed instead of redoing and miscounting it.
        self.state: dict = {}

    def progress(self, done: float, total: float, detail: dict | None = None) -> None:
        """`detail` (JSON) says what is counted, e.g. {"done": 5400, "total": 7200, "unit": "media seconds"}."""
        pct = 100 if total <= 0 else max(0, min(99, int(done * 100 / total)))
        expires = utcnow() + timedelta(seconds=lease_seconds())
        values = {"progress": pct, "lease_expires_at": expires}
        db.session.commit()  # a read the handler left open would turn this write into SQLite's "database is locked"
        if detail is not None:
            values["progress_detail"] = detail

        def write() -> bool:
            db.session.execute(update(Job).where(Job.id == self.job.id, Job.lease_owner == self.owner)
                               .values(**values))
            db.session.commit()
            cancelled = db.session.execute(select(Job.cancel_requested).where(Job.id == self.job.id)).scalar_one()
            db.session.commit()  # end the read at once: an open transaction would hold SQLite's lock meanwhile
            return cancelled

        cancel = with_retries(write, f"progress of job {self.job.id}")
        if cancel:
            raise JobCancelled()
        delay = int(celery.flask_app.config.get("WORKER_BATCH_DELAY_MS") or 0)
        if delay:
            threading.Event().wait(delay / 1000)


class _Heartbeat(threading.Thread):
    """Renews the lease while a long step (one big file) runs without reporting progress."""

    def __init__(self, app, job_id: int, owner: str):
        super().__init__(daemon=True)
        self.app, self.job_id, self.owner = app, job_id, owner
        self.stopped = threading.Event()

    def run(self) -> None:
        interval = max(1.0, lease_seconds() / 3)
        while not self.stopped.wait(interval):
            try:
                with self.app.app_context():
                    db.session.execute(update(Job).where(Job.id == self.job_id, Job.lease_owner == self.owner)
                                       .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds())))
                    db.session.commit()
            except Exception:  # noqa: BLE001 - a missed heartbeat only risks an early re-run, which is idempotent
                log.warning("heartbeat for job %s failed", self.job_id)


def finish(job_id: int, status: str, error: str | None = None, result: dict | None = None) -> None:
    with_retries(lambda: _finish_once(job_id, status, error, result), f"finishing job {job_id}")


def _finish_once(job_id: int, status: str, error: str | None, result: dict | None) -> None:
    db.session.rollback()
    values = {"status": status, "finished_at": utcnow(), "lease_expires_at": None, "error": error}
    if status == "succeeded":
        values["progress"] = 100
    if result is not None:
        values["result"] = result
    db.session.execute(update(Job).where(Job.id == job_id).values(**values))
    db.session.commit()


def execute(job_id: int) -> str:
    job = claim(job_id)
    if job is None:
        return "skipped"
    if job.attempts > MAX_ATTEMPTS:
        finish(job.id, "failed", f"gave up after {MAX_ATTEMPTS} attempts (the worker was lost each time)")
        return "failed"
    kind_entry = kinds.get(job.kind)
    handler = kind_entry.handler if kind_entry else None
    if handler is None:
        finish(job.id, "failed", f"unknown job kind {job.kind!r}")
        return "failed"
    kind = job.kind  # plain values: after a failed flush the session is unusable and `job` cannot be reloaded
    heartbeat = _Heartbeat(celery.flask_app, job_id, worker_id())
    if not celery.conf.task_always_eager:  # an eager job runs inside its caller's request: no lease to keep alive
        heartbeat.start()
    try:
        # Handlers are idempotent (a lost worker's job is re-run), so a transient conflict re-runs the handler.
        context = JobContext(job)
        result = with_retries(lambda: handler(context), f"job {job_id} ({kind})")
        finish(job_id, "succeeded", result=result or {})
        return "succeeded"
    except JobCancelled:
        finish(job_id, "cancelled", "cancelled by a user")
        return "cancelled"
    except JobFailed as exc:
        finish(job_id, "failed", str(exc)[:2000])
        return "failed"
    except Exception as exc:  # noqa: BLE001 - a job failure must never kill the worker
        log.exception("job %s (%s) failed with %s", job_id, kind, type(exc).__name__)
        finish(job_id, "failed", f"internal error in {kind} job ({type(exc).__name__}); see the worker log")
        return "failed"
    finally:
        heartbeat.stopped.set()


@celery.task(name="clinlabel.run_job", acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_job(job_id: int) -> str:
    if not isinstance(job_id, int):
        return "rejected"
    return execute(job_id)  # inside the app context: the task base (celery_app.FlaskTask) enters it


def enqueue(job: Job) -> None:
    prefix = celery.flask_app.config.get("QUEUE_PREFIX") or ""
    if not celery.conf.task_always_eager:
        declare_embedded_queues()
    result = run_job.apply_async(args=[job.id], queue=prefix + job.queue)
    job.celery_id = result.id


UNSENT_RESEND_S = 10


def reap(resend_after_s: int = 120) -> dict:
    """Re-queue jobs whose lease expired (worker lost) and re-send queued jobs whose message may be lost: soon when
    the broker never took it (no Celery id), after `resend_after_s` otherwise."""
    now = utcnow()
    counts = {"requeued": 0, "failed": 0, "resent": 0}
    expired = db.session.query(Job).filter(Job.status == "running", Job.lease_expires_at < now).limit(100).all()
    for job in expired:
        if job.attempts >= MAX_ATTEMPTS:
            job.status, job.finished_at = "failed", now
            job.error = f"gave up after {job.attempts} attempts (the worker was lost each time)"
            counts["failed"] += 1
        else:
            job.status, job.lease_owner = "queued", None
            job.lease_expires_at = now + timedelta(seconds=resend_after_s)
            counts["requeued"] += 1
    db.session.commit()
    stale = db.session.query(Job).filter(
        Job.status == "queued",
        or_(Job.lease_expires_at.is_(None) & (Job.created_at < now - timedelta(seconds=resend_after_s)),
            Job.lease_expires_at.is_(None) & Job.celery_id.is_(None)
            & (Job.created_at < now - timedelta(seconds=UNSENT_RESEND_S)),
            Job.lease_expires_at < now)).limit(100).all()
    for job in stale + [j for j in expired if j.status == "queued"]:
        if job in stale:
            counts["resent"] += 1
        job.lease_expires_at = now + timedelta(seconds=resend_after_s)
        db.session.commit()
        enqueue(job)
        db.session.commit()
    return counts

