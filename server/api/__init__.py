"""REST API under /api/v1. Every request resolves its caller once, before the view runs."""
from apiflask import APIBlueprint

from server.auth import load_api_user

api_bp = APIBlueprint("api", __name__, tag="api")


@api_bp.before_request
def _authenticate():
    load_api_user()


from server.api import (  # noqa: E402,F401  (routes register themselves on api_bp)
    account, analytics, annotations, audit_log, drafts, items, jobs, ontologies, projects, review,
)
