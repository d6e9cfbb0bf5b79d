"""Celery tasks of the notes modality: none of its own. Pre-annotation, `fit` (NER training) and exports run as the
generic jobs in server/jobs, which call this package's plugin."""
