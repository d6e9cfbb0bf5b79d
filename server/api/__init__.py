"""REST API under /api/v1: the blueprint and the modules whose routes register on it."""
from server.api import (  # noqa: F401  (routes register themselves on api_bp)
    account, account_security, analytics, annotations, audit_log, drafts, items, jobs, ontologies, projects, review, uploads,
)
from server.api.blueprint import api_bp

__all__ = ["api_bp"]
