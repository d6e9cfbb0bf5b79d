"""Engine and session handling (SQLAlchemy 2 style, one scoped session per request or task)."""
from __future__ import annotations

import contextlib
import contextvars

from sqlalchemy import create_engine, event
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, scoped_session, sessionmaker


class Base(DeclarativeBase):
    pass


_immediate = contextvars.ContextVar("clinlabel_sqlite_immediate", default=False)


@contextlib.contextmanager
def immediate_writes():
    """In a worker, transactions begun inside this block take SQLite's write lock up front (BEGIN IMMEDIATE), so
    a read-then-write waits for the lock instead of failing with "database is locked". Keep the block short."""
    token = _immediate.set(True)
    try:
        yield
    finally:
        _immediate.reset(token)


def make_engine(url: str, sqlite_immediate: bool = True) -> Engine:
    if url.startswith("sqlite"):
        # hide_parameters: error messages and logs never carry the statement's values (note text, names)
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False}, hide_parameters=True)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):
            # WAL + busy timeout: the web server and the worker write concurrently (see notes/queue-and-browser.md).
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (below)
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        @event.listens_for(engine, "begin")
        def _begin(conn):
            # Web requests take the write lock up front: a deferred transaction that reads and then writes fails
            # with SQLITE_BUSY instead of waiting, and the audit chain's read-then-append must be serialised.
            # Workers begin deferred so their reads never block the web server; they commit before writing.
            conn.exec_driver_sql("BEGIN IMMEDIATE" if sqlite_immediate or _immediate.get() else "BEGIN")

        return engine
    return create_engine(url, pool_size=20, max_overflow=20, pool_pre_ping=True, hide_parameters=True)


class Database:
    """Holds the engine and a scoped session for one app (web process or worker)."""

    def __init__(self, url: str, sqlite_immediate: bool = True):
        self.url = url
        self.engine = make_engine(url, sqlite_immediate)
        self.session = scoped_session(sessionmaker(bind=self.engine, expire_on_commit=False))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    def dispose(self) -> None:
        self.session.remove()
        self.engine.dispose()
