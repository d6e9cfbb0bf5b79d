"""One error shape for the whole API: {"error": {"code", "message"}} with a status that names the problem."""
from __future__ import annotations

import logging

from apiflask import HTTPError
from flask import Flask, jsonify, render_template, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

log = logging.getLogger("clinlabel")

CODES = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 410: "gone", 412: "precondition_failed", 413: "too_large", 415: "unsupported_media_type", 416: "range_not_satisfiable",
    422: "unprocessable", 423: "locked", 429: "too_many_requests", 500: "internal_error", 503: "unavailable",
    507: "insufficient_storage",
}


class ApiError(HTTPError):
    def __init__(self, status: int, message: str, code: str | None = None, headers: dict | None = None):
        super().__init__(status, message, headers=headers)
        self.code = code or CODES.get(status, "error")


def error_response(status: int, message: str, code: str | None = None, headers: dict | None = None):
    resp = jsonify({"error": {"code": code or CODES.get(status, "error"), "message": message}})
    resp.status_code = status
    for k, v in (headers or {}).items():
        resp.headers[k] = v
    return resp


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _validation_message(detail) -> str:
    """Flatten marshmallow's nested messages into 'json.field: problem; ...' (field names only, never values)."""
    parts: list[str] = []

    def walk(prefix: str, node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(f"{prefix}.{key}" if prefix else str(key), value)
        elif isinstance(node, list):
            parts.append(f"{prefix}: {' '.join(str(x) for x in node)}")
        else:
            parts.append(f"{prefix}: {node}")

    walk("", detail)
    return "; ".join(parts)[:1000] or "invalid input"


def register_error_handlers(app: Flask) -> None:
    @app.error_processor
    def _apiflask_errors(error):
        status = error.status_code
        if error.detail:
            message = _validation_message(error.detail)
            code = "validation_error"
        else:
            message = error.message
            code = getattr(error, "code", None) or CODES.get(status, "error")
        if status >= 500:
            log.error("error %s on %s %s", status, request.method, request.url_rule)
        return {"error": {"code": code, "message": message}}, status, error.headers

    @app.errorhandler(HTTPException)
    def _http_errors(exc: HTTPException):
        status = exc.code or 500
        message = exc.description or CODES.get(status, "error")
        if status == 413:
            message = f"request body exceeds the upload limit of {app.config['MAX_UPLOAD_MB']} MB (CLINLABEL_MAX_UPLOAD_MB)"
        if status == 400 and "CSRF" in (exc.description or ""):
            message = f"CSRF check failed: {exc.description}"
        if _wants_json():
            return error_response(status, message)
        return render_template("error.html", status=status, message=message), status

    @app.errorhandler(OperationalError)
    def _db_unavailable(exc: OperationalError):
        # A locked or unreachable database is a retryable condition, never a 500 with a trace.
        from server.extensions import db

        db.session.rollback()
        log.warning("database unavailable on %s %s: %s", request.method, request.url_rule, type(exc.orig).__name__)
        if _wants_json():
            return error_response(503, "database temporarily unavailable; retry", headers={"Retry-After": "5"})
        return render_template("error.html", status=503, message="Database temporarily unavailable"), 503

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception):
        from server.extensions import db

        db.session.rollback()
        # Log the type, route and stack only: exception messages may quote PHI from the request (a database
        # error's message holds the statement; its parameters are hidden by the engine, but keep none of it).
        import traceback

        stack = "".join(traceback.format_tb(exc.__traceback__, limit=30))
        log.error("unhandled %s on %s %s\n%s", type(exc).__name__, request.method, request.url_rule, stack)
        if _wants_json():
            return error_response(500, "internal error")
        return render_template("error.html", status=500, message="Internal error"), 500
