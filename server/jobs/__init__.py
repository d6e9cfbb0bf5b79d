"""Background jobs: the Celery app, the job runner (leases, progress, cancel), handlers by kind."""
