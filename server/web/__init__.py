"""Web UI (Jinja pages + plain ES modules). Pages read and write through the same /api/v1 as scripts."""
from server.web import pages, review_pages, views_auth  # noqa: F401  (pages register themselves on web_bp)
from server.web.blueprint import web_bp

__all__ = ["web_bp"]
