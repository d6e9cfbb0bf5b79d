"""Celery tasks of the surgical modality: none of its own. Deriving (frame index, proxy, sprite), exports and
agreement run as the generic jobs in server/jobs, which call this package's plugin."""
