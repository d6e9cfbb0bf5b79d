"""Many rows into one table inside the caller's transaction, faster than SQLAlchemy's executemany: sqlite3's own
executemany on SQLite, a binary COPY on PostgreSQL (psycopg). Used by imports (server/ingest.py), where a batch
holds thousands of items; both paths give back the new rows' ids in the order of `rows` when asked.

Column values go in as they are, with each missing column's Python-side default computed once per batch (columns
without one are left to the database). Types are the plain ones of our tables (text, numbers, booleans, JSON,
datetimes): on SQLite each goes through its SQLAlchemy bind processor, on PostgreSQL through psycopg's binary
dumper for the column's own type. A database error is raised as the SQLAlchemy exception SQLAlchemy itself would
raise (IntegrityError, DataError, OperationalError...), so callers handle both paths alike; the caller rolls back.
"""
from __future__ import annotations

from itertools import repeat

from sqlalchemy import insert
from sqlalchemy.exc import DBAPIError


def insert_rows(connection, table, rows: list[dict], want_ids: bool = True) -> list[int] | None:
    """Insert `rows` (dicts with the same keys, no primary key) into `table` on `connection` (a SQLAlchemy
    Connection inside a transaction). Returns the new ids in the order of `rows` when `want_ids`."""
    if not rows:
        return [] if want_ids else None
    dialect = connection.dialect
    if dialect.name == "sqlite":
        ids = _sqlite_insert(connection, table, rows, want_ids)
        return list(ids) if want_ids else None
    if dialect.name == "postgresql" and dialect.driver == "psycopg":
        return _pg_copy(connection, table, rows, want_ids)
    pk = next(c for c in table.columns if c.primary_key)
    if not want_ids:
        connection.execute(insert(table), rows)
        return None
    return list(connection.execute(insert(table).returning(pk, sort_by_parameter_order=True), rows).scalars())


def _columns(table, rows: list[dict], process=None) -> tuple[list, list]:
    """(columns, value sequences) for the non-key columns that `rows` name or that have a Python-side default."""
    keys = rows[0].keys()
    columns, values = [], []
    for column in table.columns:
        if column.primary_key:
            continue
        convert = process(column) if process is not None else None
        if column.key in keys:
            value = [row[column.key] for row in rows]
            if convert is not None:
                value = list(map(convert, value))
        elif column.default is not None and (column.default.is_scalar or column.default.is_callable):
            default = column.default.arg(None) if column.default.is_callable else column.default.arg
            value = repeat(convert(default) if convert is not None else default, len(rows))
        else:
            continue
        columns.append(column)
        values.append(value)
    return columns, values


def _sqlite_insert(connection, table, rows: list[dict], want_ids: bool) -> range | None:
    """sqlite3's executemany. The ids are computed: the write transaction holds SQLite's only write lock, and our
    integer primary keys have no AUTOINCREMENT, so each insert takes max(id) + 1 and the batch gets the consecutive
    ids after the max before it. That is checked (last_insert_rowid() must be max + n), not assumed."""
    dialect = connection.dialect
    columns, values = _columns(table, rows, lambda column: column.type._cached_bind_processor(dialect))
    quote = dialect.identifier_preparer.quote
    pk = quote(next(c for c in table.columns if c.primary_key).name)
    sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c.name) for c in columns)}) "
           f"VALUES ({', '.join('?' * len(columns))})")
    dbapi_connection = connection.connection.dbapi_connection
    cursor = dbapi_connection.cursor()
    try:
        before = None
        if want_ids:
            cursor.execute(f"SELECT max({pk}) FROM {quote(table.name)}")
            before = cursor.fetchone()[0] or 0
        cursor.executemany(sql, zip(*values))
        if want_ids:
            cursor.execute("SELECT last_insert_rowid()")
            last = cursor.fetchone()[0]
    except dialect.loaded_dbapi.Error as exc:
        raise _wrapped(connection, sql, exc, dbapi_connection, cursor) from exc
    finally:
        cursor.close()
    if not want_ids:
        return None
    if last != before + len(rows):
        raise RuntimeError(f"{table.name}: rows inserted with unexpected ids "
                           f"(max {before} before {len(rows)} rows, last {last})")
    return range(before + 1, last + 1)


def _pg_copy(connection, table, rows: list[dict], want_ids: bool) -> list[int] | None:
    """A binary COPY, the ids reserved first from the key's sequence in the same transaction (ascending, so the
    order of `rows` is the order of their ids, as an ordered INSERT ... RETURNING gave)."""
    columns, values = _columns(table, rows)
    pk = next(c for c in table.columns if c.primary_key)
    quote = connection.dialect.identifier_preparer.quote
    dbapi_connection = connection.connection.dbapi_connection
    sql = ""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SELECT attname, atttypid FROM pg_attribute WHERE attrelid = %s::regclass AND attnum > 0 "
                       "AND NOT attisdropped", (quote(table.name),))
        oids = dict(cursor.fetchall())
        ids = None
        if want_ids:
            cursor.execute("SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
                           (quote(table.name), pk.name, len(rows)))
            ids = sorted(i for (i,) in cursor.fetchall())
            columns, values = [pk, *columns], [ids, *values]
        sql = (f"COPY {quote(table.name)} ({', '.join(quote(c.name) for c in columns)}) "
               f"FROM STDIN WITH (FORMAT BINARY)")
        with cursor.copy(sql) as copy:
            copy.set_types([oids[c.name] for c in columns])
            for row in zip(*values):
                copy.write_row(row)
    except connection.dialect.loaded_dbapi.Error as exc:
        raise _wrapped(connection, sql, exc, dbapi_connection, cursor) from exc
    finally:
        cursor.close()
    return ids


def _wrapped(connection, sql: str, exc: Exception, dbapi_connection, cursor) -> DBAPIError:
    """The SQLAlchemy exception for a driver error, as SQLAlchemy builds it (parameters hidden: they are note
    text). A lost connection is invalidated so the pool does not hand it out again."""
    dialect = connection.dialect
    disconnect = dialect.is_disconnect(exc, dbapi_connection, cursor)
    wrapped = DBAPIError.instance(sql, None, exc, dialect.loaded_dbapi.Error, hide_parameters=True,
                                  connection_invalidated=disconnect, dialect=dialect, ismulti=True)
    if disconnect:
        connection.invalidate(wrapped)
    return wrapped
