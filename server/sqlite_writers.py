"""SQLite writers wait their turn in a queue before BEGIN IMMEDIATE, instead of in SQLite's busy handler.

SQLite lets one transaction write at a time; a writer that finds the lock taken sleeps in the busy handler (1, 2,
5, 10 ... 100 ms between tries) and the lock sits idle while the waiters sleep. Under 20 annotators on one
project, the lock was free about 30 % of the time while writers waited, and one wait in ten took over 100 ms
(benchmarks/bench_server.py, latency phase). Here a waiter sleeps in the kernel and wakes as soon as the writer
before it is done: threads of one process wait on a lock, and the one of them whose turn is next waits for the
other processes (gunicorn workers, the Celery worker, the CLI) on flock() of a file beside the database, which the
kernel lets go when a process dies, killed or not.

SQLite's own lock is still what keeps the data right: the queue only decides who asks next. A writer that does not
queue (another program, a read transaction that starts writing) still meets SQLite's lock and its busy timeout.
A thread that waits longer than the busy timeout for its process's turn goes on to SQLite's lock and its
"database is locked" answer, as without the queue. `CLINLABEL_SQLITE_WRITE_QUEUE=0` turns the queue off.
"""
from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
import weakref

log = logging.getLogger(__name__)
BUSY_TIMEOUT_S = 30.0  # as SQLite's busy_timeout (server.db)

_queues: "weakref.WeakValueDictionary[str, WriteQueue]" = weakref.WeakValueDictionary()
_queues_guard = threading.Lock()


class WriteQueue:
    """One per database file and process, shared by every engine on that file in the process (a test's app and
    its worker app, say), so a process never queues against itself on the file lock."""

    def __init__(self, database_path: str):
        self.database_path, self.lock_path = database_path, database_path + "-writers"
        self._reset()

    def _reset(self) -> None:
        self._local = threading.Lock()
        self._fd: int | None = None
        self._no_lock_file = False
        self._holder = None  # the DBAPI connection whose transaction has the turn

    def _lock_file(self) -> int | None:
        """The open lock file; None when it cannot be opened (a read-only folder, another account's file): then
        only this process's threads queue, and other processes meet at SQLite's lock as before."""
        if self._fd is None and not self._no_lock_file:
            try:
                # Created with the database's permissions, as SQLite creates its -wal and -shm files: a web server
                # and a worker running as two accounts that share the database share this file too.
                mode = os.stat(self.database_path).st_mode & 0o666 if os.path.exists(self.database_path) else 0o600
                self._fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, mode)
                if os.fstat(self._fd).st_mode & 0o777 != mode:  # the umask narrowed a new file (SQLite fixes it too)
                    with contextlib.suppress(OSError):
                        os.fchmod(self._fd, mode)
            except OSError as exc:
                log.warning("SQLite writers queue only within this process: cannot open %s (%s)",
                            self.lock_path, exc.strerror)
                self._no_lock_file = True
        return self._fd

    def acquire(self, dbapi_conn) -> None:
        if not self._local.acquire(timeout=BUSY_TIMEOUT_S):
            log.warning("waited %.0f s for SQLite's write turn in this process; going on to SQLite's own lock",
                        BUSY_TIMEOUT_S)
            return
        try:
            fd = self._lock_file()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            self._local.release()
            raise
        self._holder = dbapi_conn

    def release(self, dbapi_conn) -> None:
        """End `dbapi_conn`'s turn, if it has it (every end of a transaction calls this; most hold no turn)."""
        if self._holder is None or self._holder is not dbapi_conn:
            return
        self._holder = None
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._local.release()

    @contextlib.contextmanager
    def turn_for(self, conn):
        """Around BEGIN IMMEDIATE on a SQLAlchemy connection: the turn is kept until the transaction ends, or let
        go here if BEGIN fails."""
        raw = _raw(conn.connection)
        self.acquire(raw)
        try:
            yield
        except BaseException:
            self.release(raw)
            raise


class _NoQueue:
    @contextlib.contextmanager
    def turn_for(self, conn):
        yield


def _after_fork_in_child() -> None:
    # A forked child (Celery's pool) must neither share its parent's open lock file, whose flock the parent may
    # hold, nor inherit a thread lock that a parent's thread held at the fork. Its copy of the file is closed (that
    # lets go of nothing: a flock ends with LOCK_UN or when the last copy closes), so the kernel still frees the
    # parent's lock if the parent dies.
    for queue in list(_queues.values()):
        if queue._fd is not None:
            with contextlib.suppress(OSError):
                os.close(queue._fd)
        queue._reset()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _raw(conn):
    """The DBAPI connection under a pool's proxy (the dialect's hooks get either)."""
    return getattr(conn, "dbapi_connection", conn)


def queue_writers(engine):
    """Make `engine` (SQLite on a file) queue its writers; returns what the engine's BEGIN hook calls."""
    path = engine.url.database
    if not path or path == ":memory:" or path.startswith("file:") or os.environ.get(
            "CLINLABEL_SQLITE_WRITE_QUEUE", "1") == "0":
        return _NoQueue()
    path = os.path.abspath(path)
    with _queues_guard:
        queue = _queues.get(path)
        if queue is None:
            queue = _queues[path] = WriteQueue(path)
    engine._clinlabel_write_queue = queue  # the registry holds queues weakly: the engine keeps its own alive

    dialect = engine.dialect
    plain = {name: getattr(dialect, name) for name in ("do_commit", "do_rollback", "do_close")}

    # The turn ends after the COMMIT or ROLLBACK itself (SQLAlchemy's commit and rollback events come before
    # it), on every path that ends a transaction: Connection.commit() and rollback(), the pool's reset when a
    # connection is returned, and closing a connection.
    def ending(name):
        def end(dbapi_conn):
            try:
                plain[name](dbapi_conn)
            finally:
                queue.release(_raw(dbapi_conn))
        return end

    for name in plain:
        setattr(dialect, name, ending(name))
    return queue
