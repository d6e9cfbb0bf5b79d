"""Process-wide handles, bound to the app in create_app (one app per process)."""
from __future__ import annotations

from flask_login import LoginManager
from flask_wtf import CSRFProtect

from server.db import Database


class _DatabaseProxy:
    """`db.session` / `db.engine` for the Database bound by create_app."""

    _db: Database | None = None

    def bind(self, database: Database) -> None:
        self._db = database

    def __getattr__(self, name):
        if self._db is None:
            raise RuntimeError("database not bound; call create_app() first")
        return getattr(self._db, name)


db = _DatabaseProxy()
login_manager = LoginManager()
csrf = CSRFProtect()
