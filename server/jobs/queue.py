"""The one Celery app, its configuration, and how the web process enqueues jobs.

Task arguments are job ids only (no PHI in the broker); the Job row is the source of truth.
"""
from __future__ import annotations

import logging

import kombu.pools
from celery import Celery
from kombu import Exchange, Queue
from sqlalchemy.exc import IntegrityError

from server.extensions import db
from server.jobs import kinds
from server.jobs.celery_app import celery
from server.jobs.runner import enqueue
from server.models import Job

log = logging.getLogger("clinlabel.jobs")
__all__ = ["broker_reachable", "celery", "configure", "enqueue", "start_job"]
_configured_for: tuple | None = None


def _reset_broker_pools() -> None:
    if celery._pool is not None:
        celery._pool.force_close_all()
        celery._pool = None
    celery.__dict__.pop("amqp", None)
    kombu.pools.reset()


EMBEDDED_POLL_S = 0.1


def configure(app) -> Celery:
    """Point the Celery app at the Flask app's broker; safe to call twice."""
    global _configured_for
    broker = app.config["BROKER_URL"]
    prefix = app.config.get("QUEUE_PREFIX") or ""
    if _configured_for is not None and _configured_for != (broker, prefix):
        # Another app in this process (tests) used another broker or queue names: drop what Celery cached for it
        # (connection pool, producer pool, declared queues, router).
        _reset_broker_pools()
    if broker.startswith("sqla+sqlite"):
        # How long the worker sleeps when every queue was empty (kombu's default: 1 s, so a job waited 0.5 s on
        # average before it started). The SQLite transport passes unknown transport options to create_engine, which
        # refuses them, so the interval is set on the transport class that drain_events reads it from.
        import kombu.transport.sqlalchemy as sqla

        sqla.Transport.polling_interval = EMBEDDED_POLL_S
    celery.conf.update(
        broker_url=broker,
        task_serializer="json", accept_content=["json"], result_serializer="json",
        task_ignore_result=True, result_backend=None,
        task_acks_late=True, task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_default_queue=prefix + "cpu",
        task_queues=tuple(Queue(prefix + name, Exchange(prefix + name), routing_key=prefix + name)
                          for name in ("cpu", "gpu")),
        task_default_exchange=prefix + "cpu", task_default_routing_key=prefix + "cpu",
        broker_connection_retry_on_startup=True,
        broker_transport_options={} if broker.startswith("sqla") else {"visibility_timeout": 3600},
        worker_hijack_root_logger=False,
        task_always_eager=bool(app.config.get("JOBS_EAGER", False)),
    )
    celery.flask_app = app
    _configured_for = (broker, prefix)
    return celery


LIVE_WORKER_S = 30


def gpu_worker_live() -> bool:
    """A worker consuming queue "gpu" sent a heartbeat recently (workers announce queues and device)."""
    from datetime import timedelta

    from sqlalchemy import select

    from server.models import WorkerHeartbeat, as_utc, utcnow

    since = utcnow() - timedelta(seconds=LIVE_WORKER_S)
    prefix = celery.flask_app.config.get("QUEUE_PREFIX") or "" if hasattr(celery, "flask_app") else ""
    for queues, seen_at in db.session.execute(select(WorkerHeartbeat.queues, WorkerHeartbeat.seen_at)):
        names = {q.strip() for q in queues.split(",")}
        if as_utc(seen_at) >= since and ("gpu" in names or prefix + "gpu" in names):
            return True
    return False


def broker_reachable() -> bool:
    try:
        with celery.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=2)
        return True
    except Exception:  # noqa: BLE001 - any failure means "not reachable" for /health
        return False


def start_job(project, kind: str, params: dict, actor: str, idempotency_key: str | None = None,
              created_by: int | None = None) -> Job:
    """Create the Job row, commit it, then enqueue (a lost message is re-sent by the reaper)."""
    from server import audit
    from server.db import begin_writes

    begin_writes(db.session)  # a GET that starts a job (a stale agreement refresh) writes from here on
    if idempotency_key:
        existing = db.session.query(Job).filter_by(idempotency_key=idempotency_key).one_or_none()
        if existing is not None:
            return existing
    queue, note = kinds.queue_for(kind, project, gpu_worker_live)
    if note:
        params = {**params, "routing": note}
    job = Job(project_id=project.id if project else None, kind=kind, params=params, status="queued",
              queue=queue, idempotency_key=idempotency_key, created_by=created_by)
    db.session.add(job)
    try:
        db.session.flush()
    except IntegrityError:
        db.session.rollback()
        return db.session.query(Job).filter_by(idempotency_key=idempotency_key).one()
    audit.record(db.session, actor=actor, action=f"job.{kind}", object_type="job", object_id=job.id,
                 project_id=job.project_id, details={"queue": job.queue})
    db.session.commit()
    job_id = job.id
    for attempt in (1, 2):
        try:
            enqueue(job)
            db.session.commit()
            break
        except Exception as exc:  # noqa: BLE001 - the job row stays queued; the reaper re-sends it
            db.session.rollback()
            log.warning("could not enqueue job %s now (%s, attempt %d)%s", job_id, type(exc).__name__, attempt,
                        "; the reaper will retry" if attempt == 2 else "", exc_info=True)
            if attempt == 1:  # a broken pooled broker connection: the next try opens a fresh one
                _reset_broker_pools()
                job = db.session.get(Job, job_id)
    job = db.session.get(Job, job_id)
    db.session.refresh(job)
    return job
