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
