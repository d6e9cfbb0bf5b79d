"""The one Celery app object (configured by server.jobs.queue.configure from the Flask app's settings).

Tasks run inside the Flask app's context through the task base class (Flask's documented Celery pattern), so a
task body never builds or resets app state itself.
"""
from __future__ import annotations

from celery import Celery, Task
from flask import has_app_context


class FlaskTask(Task):
    def __call__(self, *args, **kwargs):
        if has_app_context():  # eager mode (tests, CLINLABEL_JOBS_EAGER): the caller's context
            return self.run(*args, **kwargs)
        with self.app.flask_app.app_context():
            return self.run(*args, **kwargs)


celery = Celery("clinlabel", task_cls=FlaskTask)


_declared: set[tuple] = set()


def declare_embedded_queues() -> None:
    """Create the embedded (SQLite) broker's tables and queue rows once per process, one process at a time.

    kombu's SQLite transport creates a queue row on first use with a check-then-insert guarded only by an in-process
    lock: a web process publishing while a worker starts both insert it, and the loser's worker dies at start-up with
    "UNIQUE constraint failed: kombu_queue.name". A file lock next to the broker serialises the first declaration;
    afterwards every process finds the rows."""
    import fcntl

    from sqlalchemy.engine import make_url

    broker = celery.conf.broker_url or ""
    queues = tuple(celery.conf.task_queues or ())
    key = (broker, tuple(q.name for q in queues))
    if not broker.startswith("sqla+sqlite") or key in _declared:
        return
    path = make_url(broker.removeprefix("sqla+")).database
    if not path or path == ":memory:":
        return
    with open(path + ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with celery.connection_for_write() as conn:
            channel = conn.default_channel
            for queue in queues:
                queue(channel).declare()
    _declared.add(key)
