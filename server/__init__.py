"""Clinlabel server: the Flask application factory."""
from __future__ import annotations

import logging

from apiflask import APIFlask
from flask import g, request
from werkzeug.exceptions import NotFound
from werkzeug.routing import IntegerConverter

from server.config import load_config
from server.db import Database, set_request_mode
from server.extensions import csrf, db, login_manager

API_PREFIX = "/api/v1"
MAX_DB_ID = 2**31 - 1  # PostgreSQL's integer


def create_app(overrides: dict | None = None) -> APIFlask:
    import os

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    app = APIFlask(
        __name__, title="Clinlabel API", version="1",
        spec_path=f"{API_PREFIX}/openapi.json", docs_path=None,  # docs UIs load scripts from CDNs: not offline
        static_folder=os.path.join(root, "static"), template_folder=os.path.join(root, "templates"),
    )
    from server.json_provider import OrjsonProvider

    app.json = OrjsonProvider(app)
    app.config.update(load_config(overrides))
    app.config["VALIDATION_ERROR_STATUS_CODE"] = 400
    app.config["SECURITY_SCHEMES"] = {"BearerAuth": {"type": "http", "scheme": "bearer"}}
    app.config["AUTO_404_RESPONSE"] = False
    if int(app.config.get("PROXY_COUNT") or 0) > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        # Behind nginx the client address (login throttling, audit) comes from X-Forwarded-For, trusted only as
        # many hops deep as there are proxies we run.
        count = int(app.config["PROXY_COUNT"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=count, x_proto=count, x_host=0)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)

    database = Database(app.config["DATABASE_URL"], sqlite_immediate=not app.config.get("WORKER_PROCESS"))
    db.bind(database)
    app.extensions["clinlabel_db"] = database

    from server.storage import create_store

    app.extensions["media"] = create_store(app.config)

    # Before any route exists: every <int:...> in a URL is a database id, so ids past the 32-bit range (which
    # PostgreSQL's integer columns refuse) and 10,000-digit numbers answer 404 instead of a database error.
    app.url_map.converters["int"] = DatabaseIdConverter

    login_manager.init_app(app)
    login_manager.login_view = "web.login"
    csrf.init_app(app)

    from server.errors import register_error_handlers

    register_error_handlers(app)

    from server.api import api_bp
    from server.web import web_bp

    csrf.exempt(api_bp)  # API requests check CSRF themselves for session callers (server/auth.py)
    app.register_blueprint(api_bp, url_prefix=API_PREFIX)
    app.register_blueprint(web_bp)

    from server.jobs.queue import configure

    configure(app)
    _register_job_kinds()

    from server.cli import register_cli

    register_cli(app)

    from server.audit_sealer import install

    sealer = install(app)

    @app.after_request
    def _security_headers(resp):
        resp.headers.setdefault("X-Content-Type-Options", "nosniff")
        resp.headers.setdefault("X-Frame-Options", "DENY")
        resp.headers.setdefault("Referrer-Policy", "no-referrer")
        # Style elements need this request's nonce: the waveform library (wavesurfer.js) styles its shadow DOM
        # with one; scripts stay 'self' only.
        nonce = g.get("csp_nonce")
        style = f"style-src 'self' 'nonce-{nonce}'" if nonce else "style-src 'self'"
        resp.headers.setdefault(
            "Content-Security-Policy",
            f"default-src 'self'; img-src 'self' data:; media-src 'self' blob:; {style}; "
            "script-src 'self'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'",
        )
        if not request.path.startswith("/static/"):
            # PHI must not linger in browser or proxy caches.
            resp.headers["Cache-Control"] = "no-store"
        resp.headers["X-Robots-Tag"] = "noindex, nofollow"
        return resp

    @app.before_request
    def _transaction_mode():
        # SQLite: reads never take the write lock (see server/db.py); writing requests take it when they start.
        # Authentication reads first (deferred); the API and web blueprints switch writing requests to "immediate"
        # once the caller is known, so a request that fails validation never waits for another's write.
        set_request_mode("deferred")
        if sealer is not None:
            # Started by the first request of each process: gunicorn's forked workers each get one, and `flask`
            # commands (which serve no request) none.
            sealer.ensure_started()

    @app.teardown_request
    def _reset_transaction_mode(exc):
        set_request_mode(None)

    @app.teardown_appcontext
    def _remove_session(exc):
        database.session.remove()

    @app.context_processor
    def _template_globals():
        import secrets

        # Pages only (API responses need none): the CSP header of this response allows styles with this nonce.
        g.csp_nonce = g.get("csp_nonce") or secrets.token_urlsafe(16)
        return {"current_role": g.get("project_role"), "csp_nonce": g.csp_nonce}

    return app


class DatabaseIdConverter(IntegerConverter):
    """<int:...> in URLs: database ids. Out of range is a 404 raised here, not a converter mismatch, because a
    mismatch next to a route with the same path and another method would answer 405."""

    def to_python(self, value: str) -> int:
        if len(value) > 10 or int(value) > MAX_DB_ID:
            raise NotFound(f"no object has id {value[:12]}{'…' if len(value) > 12 else ''}: ids are below 2^31")
        return int(value)


def _register_job_kinds() -> None:
    """Job kinds register where they are defined; importing those modules is what registers them. A modality's
    own kinds live in its package's `tasks` module."""
    import importlib.util

    import server.analytics  # noqa: F401  (agreement)
    import server.derive  # noqa: F401  (derive: probe + derivatives of media items)
    import server.jobs.handlers  # noqa: F401  (fit, export)
    import server.jobs.preannotate  # noqa: F401  (preannotate)
    import server.ontology_service  # noqa: F401  (ontology_load; learns aliases when gold is created)
    import server.review  # noqa: F401  (route)
    import server.file_import  # noqa: F401  (file_import: large uploads)
    import server.server_import  # noqa: F401  (server_import)
    from annotators.base import registry

    for modality in registry.all():
        package = type(modality).__module__.rpartition(".")[0]
        if package and importlib.util.find_spec(f"{package}.tasks") is not None:
            importlib.import_module(f"{package}.tasks")
