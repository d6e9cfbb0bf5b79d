"""Worker entry point: `celery -A server.jobs.worker worker -Q cpu,gpu`.

The worker's main process runs a housekeeping thread: heartbeat for /health, the lease reaper, and pruning of the
embedded broker's consumed messages; and the audit sealer's thread (server/audit_sealer.py).
"""
from __future__ import annotations

import logging
import os
import sys
import threading
import time
from datetime import datetime, timedelta

# `celery -A` puts the working directory on sys.path only while it imports the app, then removes that entry; the
# project's other packages (annotators, ontologies) are imported later, inside tasks. `_keep_root_importable`
# (worker_init, after the app is loaded and before the pool forks) puts the root back for good.
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Workers announce their device from the main process; torch.cuda.is_available() there would initialise CUDA
# and break it in the forked pool children, unless torch asks NVML instead (no CUDA context).
os.environ.setdefault("PYTORCH_NVML_BASED_CUDA_CHECK", "1")

from celery import signals  # noqa: E402
from sqlalchemy import text  # noqa: E402

from server import create_app  # noqa: E402
from server.db import immediate_writes  # noqa: E402
from server.extensions import db  # noqa: E402
from server.jobs.celery_app import declare_embedded_queues  # noqa: E402
from server.jobs.handlers import pick_device  # noqa: E402
from server.jobs.queue import configure  # noqa: E402
from server.jobs.runner import reap, worker_id  # noqa: E402
from server.models import WorkerHeartbeat, utcnow  # noqa: E402

log = logging.getLogger("clinlabel.worker")
flask_app = create_app({"WORKER_PROCESS": True})
celery = configure(flask_app)
HOUSEKEEPING_S = 5.0
UPLOAD_SWEEP_S = 60.0


def _housekeeping(stop: threading.Event, queues: str) -> None:
    device = pick_device()
    me = worker_id()
    next_sweep = next_checkpoint = 0.0
    while not stop.is_set():
        try:
            # Every step here reads then writes (heartbeat, reaper, sweeps): on SQLite a deferred transaction cannot
            # upgrade while a busy job writes ("database is locked" at once, and /health would lose the worker),
            # so these short transactions take the write lock up front and wait for it.
            with flask_app.app_context(), immediate_writes():
                beat = db.session.get(WorkerHeartbeat, me) or WorkerHeartbeat(worker=me, queues=queues, device=device)
                beat.seen_at, beat.queues, beat.device = utcnow(), queues, device
                db.session.merge(beat)
                db.session.commit()
                counts = reap()
                if any(counts.values()):
                    log.info("reaper: %s", counts)
                if time.monotonic() >= next_sweep:
                    from server.api.uploads import sweep_expired

                    from server.login_guard import prune

                    swept = sweep_expired()
                    if swept:
                        log.info("removed %d expired upload(s)", swept)
                    prune()  # old login attempts
                    db.session.commit()
                    next_sweep = time.monotonic() + UPLOAD_SWEEP_S
                if time.monotonic() >= next_checkpoint:
                    from server.audit_anchor import write_checkpoint

                    write_checkpoint(db.session)  # the chain's head, signed, outside the database
                    next_checkpoint = time.monotonic() + float(flask_app.config["AUDIT_CHECKPOINT_S"])
                if flask_app.config["BROKER_URL"].startswith("sqla+sqlite"):
                    _prune_broker()
        except Exception as exc:  # noqa: BLE001 - housekeeping must outlive a database hiccup
            log.warning("housekeeping failed: %s", type(exc).__name__)
        stop.wait(HOUSEKEEPING_S)


def _prune_broker() -> None:
    """The SQLite transport never deletes consumed messages; drop those older than an hour."""
    # kombu stamps messages with naive local time (datetime.now), so compare the same way.
    cutoff = datetime.now() - timedelta(hours=1)
    with celery.connection_for_write() as conn:
        session = conn.default_channel.session
        session.execute(text("DELETE FROM kombu_message WHERE visible = 0 AND timestamp < :cutoff"),
                        {"cutoff": cutoff})
        session.commit()


_stop = threading.Event()


@signals.worker_init.connect
def _keep_root_importable(**_):
    if _ROOT not in sys.path:
        sys.path.append(_ROOT)
    declare_embedded_queues()  # before the consumer declares them, racing a web process that publishes
    if os.environ.get("CLINLABEL_WORKER_WARM", "1") != "0":
        warm_up()


def warm_up() -> dict:
    """Models loaded in the main process before the pool forks (shared copy-on-write by the pool processes, so a
    new upload's first pre-annotation does not wait for them); gc.freeze() keeps the collector from touching, and so
    copying, those objects in every child. Returns seconds per modality (logged)."""
    import gc

    from annotators.base import registry
    from server.jobs.handlers import resources

    took = {}
    with flask_app.app_context():
        for modality in registry.all():
            started = time.monotonic()
            try:
                modality.warm_up(resources())
            except Exception as exc:  # noqa: BLE001 - a model that cannot load fails its jobs, not the worker
                log.warning("warm-up of %s failed: %s", modality.name, type(exc).__name__)
            took[modality.name] = round(time.monotonic() - started, 2)
    gc.freeze()
    log.info("models warmed before the pool forks: %s", took)
    return took


@signals.worker_ready.connect
def _start_housekeeping(sender=None, **_):
    queues = ",".join(sorted(q.name for q in sender.app.amqp.queues.consume_from.values())) if sender else "cpu"
    threading.Thread(target=_housekeeping, args=(_stop, queues), daemon=True, name="housekeeping").start()
    sealer = flask_app.extensions.get("audit_sealer")
    if sealer is not None:  # jobs audit too; and rows of `flask` commands get sealed with no web server running
        sealer.ensure_started()


@signals.worker_shutdown.connect
def _stop_housekeeping(**_):
    _stop.set()
    sealer = flask_app.extensions.get("audit_sealer")
    if sealer is not None:
        sealer.stop(2.0)


@signals.worker_process_init.connect
def _fresh_connections(**_):
    # A forked pool child must not share the parent's database connections.
    db.engine.dispose(close=False)
