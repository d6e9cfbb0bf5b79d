"""Celery tasks of the labels modality: none beyond the generic pre-annotate / fit / export jobs in server/jobs.

Keeping the file (and this sentence) tells readers where such tasks would live.
"""
