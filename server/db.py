"""Engine and session handling (SQLAlchemy 2 style, one scoped session per request or task)."""
from __future__ import annotations

import contextlib
import contextvars
import json
import time

import orjson
from sqlalchemy import create_engine, event, exc
from sqlalchemy.engine import Engine
from sqlalchemy.orm import DeclarativeBase, scoped_session, sessionmaker

from server.sqlite_writers import queue_writers


class Base(DeclarativeBase):
    pass


_immediate = contextvars.ContextVar("clinlabel_sqlite_immediate", default=False)
# Per web request: "deferred" while a request only reads (WAL readers never wait for, or block, the writer) and
# "immediate" once it writes. None (CLI, workers, tests without a request) keeps the engine's default.
_request_mode: contextvars.ContextVar[str | None] = contextvars.ContextVar("clinlabel_sqlite_mode", default=None)


# Writing requests whose route reads what it checks (the caller's role, the project's workflow) in the
# authentication's read transaction and takes SQLite's write lock itself (begin_writes) just before the reads its
# writes depend on: the lock, held by one request at a time, is then held for less. Only for routes whose early
# reads may be a moment old without harm (a role or workflow changed a millisecond earlier), or that check again
# under the lock (logins check a password first, outside the lock: server.auth.verify_credentials).
READ_BEFORE_LOCK = {"api.next_item", "api.create_token", "api.renew_session", "web.login"}


# Reading requests an annotator makes all day that write at most one row (their audit event) and use no lock, no
# server-side cursor and no SET LOCAL. On PostgreSQL they run in autocommit: under READ COMMITTED each statement
# sees its own snapshot inside a transaction too, so the reads are the same, and the BEGIN and COMMIT (or ROLLBACK)
# round trips that psycopg sends around them are saved (two of a GET's five).
AUTOCOMMIT_READS = {"api.get_item", "api.list_annotations", "api.get_draft", "api.list_items", "api.get_project",
                    "api.me"}


def autocommit_if_postgresql(session: scoped_session) -> None:
    """Run the session's next transaction in autocommit on PostgreSQL: from a session bound to the engine that has
    not begun yet (a request's), not one bound to a caller's connection (tests in a rolled-back transaction)."""
    bind = session.get_bind()
    if isinstance(bind, Engine) and bind.dialect.name == "postgresql" and not session().in_transaction():
        session.connection(execution_options={"isolation_level": "AUTOCOMMIT"})


def set_request_mode(mode: str | None) -> None:
    _request_mode.set(mode)


def begin_writes(session) -> None:
    """The request is about to write. On SQLite a read transaction cannot safely become a write transaction (it
    fails with "database is locked" when another connection wrote meanwhile), so the read transaction is ended
    and the next one takes the write lock up front. Call it before the reads that the write depends on."""
    if _request_mode.get() == "deferred" and session.get_bind().dialect.name == "sqlite":
        session.commit()
        _request_mode.set("immediate")


def value_binds(keys) -> dict:
    """{column: bindparam("v_<column>")} for a plain statement's values, and (value_params) the parameters that
    fill them: the prefix keeps them apart from binds an UPDATE reserves for its own columns."""
    from sqlalchemy import bindparam

    return {key: bindparam(f"v_{key}") for key in keys}


def value_params(values: dict) -> dict:
    return {f"v_{key}": value for key, value in values.items()}


def _on_conflict(session, kind: str, model, values: dict, unique: list[str], finish):
    """An INSERT of `values` (as v_<key> parameters) into `model`'s table in the session's dialect, finished by
    `finish(insert)` with its ON CONFLICT clause; built once per shape (server/statements.py) and executed as a
    plain statement (execute_plain)."""
    from sqlalchemy.dialects import postgresql, sqlite

    from server.statements import once

    dialect = session.get_bind().dialect.name
    dialect_insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    stmt = once((kind, model, tuple(values), tuple(unique), dialect), lambda: finish(
        dialect_insert(model.__table__).values(value_binds(values))))
    return execute_plain(session, stmt, value_params(values))


def execute_plain(session, statement, params: dict | None = None):
    """Run a Core statement on the session's connection, in its transaction, after the same autoflush the
    session's own execute does (none inside a `no_autoflush` block), so it comes after pending ORM changes. On the
    hot paths this costs a fraction of `session.execute`, whose ORM statement path and unit of work cost several
    times the statement itself (benchmarks/bench_hot_path.py)."""
    if session.autoflush:
        session.flush()
    return session.connection().execute(statement, params)


def insert_row(session, model, values: dict):
    """INSERT one row (the columns' defaults fill the rest) RETURNING it, as an instance of `model` that holds the
    row as written (for replies; not added to the session)."""
    from sqlalchemy import insert

    from server.statements import once

    table = model.__table__
    stmt = once(("insert_row", model, tuple(values)), lambda: insert(table).values(
        value_binds(values)).returning(*table.c))
    row = execute_plain(session, stmt, value_params(values)).one()
    return model(**row._mapping)


def insert_unless_exists(session, model, values: dict, unique: list[str]):
    """INSERT ... ON CONFLICT (unique) DO NOTHING RETURNING the new row, as an instance of `model` that holds the
    row as written (for the reply; not added to the session); None when such a row exists already. A first write
    racing with another one (two tabs, a retry) gets an answer instead of an IntegrityError, without a savepoint
    or a read before it."""
    row = _on_conflict(session, "insert_unless_exists", model, values, unique, lambda insert: insert
                       .on_conflict_do_nothing(index_elements=unique).returning(*model.__table__.c)).first()
    return model(**row._mapping) if row is not None else None


def upsert(session, model, values: dict, unique: list[str]) -> None:
    """INSERT ... ON CONFLICT (unique) DO UPDATE the other columns: one statement instead of a read and a write.
    An instance of the row the session holds is expired, so it is read again rather than written back stale."""
    _on_conflict(session, "upsert", model, values, unique, lambda insert: insert.on_conflict_do_update(
        index_elements=unique, set_={key: insert.excluded[key] for key in values if key not in unique}))
    for held in list(session.identity_map.values()):
        if isinstance(held, model) and all(getattr(held, key) == values[key] for key in unique):
            session.expire(held)


def write_now(session, obj, keys: tuple[str, ...]) -> None:
    """Write the changed attributes among `keys` of a loaded object with one plain UPDATE by id, now, and mark them
    written: the ORM's flush of the same change costs several times the statement (hot paths only; the object's
    row is the caller's to write: locked, or under SQLite's write lock)."""
    from sqlalchemy import bindparam, inspect, update
    from sqlalchemy.orm.attributes import set_committed_value

    from server.statements import once

    state = inspect(obj)
    changed = tuple(key for key in keys if state.attrs[key].history.has_changes())
    if not changed:
        return
    table = obj.__table__
    stmt = once(("write_now", table.name, changed), lambda: update(table).where(
        table.c.id == bindparam("w_id")).values(value_binds(changed)))
    values = {key: getattr(obj, key) for key in changed}
    # Not execute_plain: its autoflush would write these very changes through the ORM first.
    session.connection().execute(stmt, {"w_id": obj.id, **value_params(values)})
    for key, value in values.items():
        set_committed_value(obj, key, value)


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
        writers = queue_writers(engine)

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
            # Writing web requests take the write lock up front: a deferred transaction that reads and then writes
            # fails with SQLITE_BUSY instead of waiting.
            # Reading requests (GET) and workers begin deferred so their reads never wait; they call
            # begin_writes() / commit before writing.
            mode = _request_mode.get()
            immediate = (sqlite_immediate if mode is None else mode == "immediate") or _immediate.get()
            if not immediate:
                conn.exec_driver_sql("BEGIN")
                return
            with writers.turn_for(conn):
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    engine = create_engine(url, pool_size=20, max_overflow=20, hide_parameters=True,
                           json_serializer=json_for_postgresql)
    ping_when_idle(engine)
    return engine


_JSON_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def json_for_postgresql(value) -> str:
    """JSON/JSONB values as psycopg sends them (payloads, item metadata, an import's COPY rows): orjson, several
    times faster than the standard encoder psycopg uses by default. What orjson will not write as the standard
    encoder does (an integer past 64 bits, a datetime or dataclass, which the standard one refuses) goes to the
    standard encoder, so what is stored and what is refused stay the same. (NaN and infinities, which PostgreSQL
    refused as the standard encoder wrote them, are stored as null.)"""
    try:
        return orjson.dumps(value, option=_JSON_OPTIONS).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return json.dumps(value)


# A pooled connection idle for longer than this is pinged before use. SQLAlchemy's pool_pre_ping pings at every
# checkout: one more round trip in each request (about a tenth of a PostgreSQL request's wall time under load),
# although a connection checked in milliseconds ago has had no time to go stale. A server restarted within this
# window fails that connection's request with a 503 (errors.py) and the pool drops its older connections.
PING_AFTER_IDLE_S = 1.0


def ping_when_idle(engine: Engine) -> None:
    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn, record):
        if record is not None:
            record.info["clinlabel_checked_in"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn, record, _proxy):
        last = record.info.get("clinlabel_checked_in")
        if last is not None and time.monotonic() - last < PING_AFTER_IDLE_S:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except engine.dialect.loaded_dbapi.Error as error:
            if engine.dialect.is_disconnect(error, dbapi_conn, None):
                # The pool invalidates this connection and checks out another (a new one), as pre-ping does.
                raise exc.DisconnectionError("stale pooled connection") from error
            raise


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
