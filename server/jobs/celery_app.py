"""The one Celery app object (configured by server.jobs.queue.configure from the Flask app's settings)."""
from __future__ import annotations

from celery import Celery

celery = Celery("clinlabel")
