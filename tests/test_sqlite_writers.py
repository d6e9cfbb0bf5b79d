"""SQLite's writers queue for their turn (server/sqlite_writers.py): every way a transaction ends gives the turn
back, a killed process gives it back, many writers at once all get through, and a forked child starts afresh."""
from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import sys
import threading
import time

import pytest
from sqlalchemy import text

from server.db import Database
from server.sqlite_writers import _NoQueue, queue_writers


@pytest.fixture()
def database(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'q.sqlite'}")
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, writer TEXT, n INTEGER)")
    yield db
    db.dispose()


def lock_file_is_free(db) -> bool:
    """Whether another process could take the file lock now (a fresh open file conflicts like one)."""
    fd = os.open(db.engine._clinlabel_write_queue.lock_path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    finally:
        os.close(fd)
    return True


def turn_is_free(db) -> bool:
    queue = db.engine._clinlabel_write_queue
    return not queue._local.locked() and queue._holder is None and lock_file_is_free(db)


def test_a_write_holds_the_turn_until_commit(database):
    conn = database.engine.connect()
    conn.begin()  # the engine's default: BEGIN IMMEDIATE
    conn.execute(text("INSERT INTO t (writer, n) VALUES ('a', 1)"))
    assert not turn_is_free(database)
    conn.commit()
    assert turn_is_free(database)
    conn.close()


@pytest.mark.parametrize("ending", ["rollback", "return_to_pool", "close_session", "invalidate", "error"])
def test_every_end_of_a_transaction_gives_the_turn_back(database, ending):
    session = database.session()
    session.execute(text("INSERT INTO t (writer, n) VALUES ('a', 1)"))
    assert not turn_is_free(database)
    if ending == "rollback":
        session.rollback()
    elif ending == "return_to_pool":
        database.session.remove()
    elif ending == "close_session":
        session.close()
    elif ending == "invalidate":
        session.connection().invalidate()
    else:
        with pytest.raises(Exception):
            session.execute(text("INSERT INTO t (nope) VALUES (1)"))
        session.rollback()
    assert turn_is_free(database)
    database.session.remove()
    with database.engine.begin() as conn:
        assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0


def test_reads_do_not_queue(tmp_path, database):
    reader = Database(f"sqlite:///{tmp_path / 'q.sqlite'}", sqlite_immediate=False)
    with database.engine.connect() as writer:
        writer.begin()
        writer.execute(text("INSERT INTO t (writer, n) VALUES ('a', 1)"))
        with reader.engine.connect() as conn:  # a deferred (reading) transaction while the writer has its turn
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 0
        writer.commit()
    reader.dispose()


def test_many_writers_at_once_all_get_through_in_turn(database):
    """16 threads each make 40 read-then-write transactions: none fails with "database is locked", none loses an
    update (each reads the counter and writes it plus one under its turn)."""
    with database.engine.begin() as conn:
        conn.execute(text("INSERT INTO t (id, writer, n) VALUES (1, 'counter', 0)"))
    errors = []

    def write(name):
        try:
            for _ in range(40):
                with database.engine.begin() as conn:
                    n = conn.execute(text("SELECT n FROM t WHERE id = 1")).scalar()
                    conn.execute(text("UPDATE t SET n = :n WHERE id = 1"), {"n": n + 1})
                    conn.execute(text("INSERT INTO t (writer, n) VALUES (:w, :n)"), {"w": name, "n": n})
        except Exception as exc:  # noqa: BLE001 - the test reports it
            errors.append(repr(exc))

    threads = [threading.Thread(target=write, args=(f"w{i}",)) for i in range(16)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert errors == []
    with database.engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM t WHERE id = 1")).scalar() == 640
        assert conn.execute(text("SELECT count(DISTINCT n) FROM t WHERE id > 1")).scalar() == 640
    assert turn_is_free(database)


WRITER = """
import sys, time
from sqlalchemy import text
from server.db import Database
db = Database("sqlite:///" + sys.argv[1])
conn = db.engine.connect()
conn.begin()
conn.execute(text("INSERT INTO t (writer, n) VALUES ('killed', 1)"))
print("holding", flush=True)
time.sleep(60)
"""


def test_a_killed_writer_gives_its_turn_back(tmp_path, database):
    proc = subprocess.Popen([sys.executable, "-c", WRITER, str(tmp_path / "q.sqlite")], stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    try:
        assert proc.stdout.readline().strip() == b"holding"
        assert not lock_file_is_free(database)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        with database.engine.begin() as conn:  # waits its turn, then writes: the kernel let the lock go
            conn.execute(text("INSERT INTO t (writer, n) VALUES ('after', 1)"))
        with database.engine.connect() as conn:
            assert conn.execute(text("SELECT writer FROM t")).scalars().all() == ["after"]  # the killed one's rolled back
    finally:
        if proc.poll() is None:
            proc.kill()


def test_another_process_waits_for_the_turn(tmp_path, database):
    """A writer in another process asks while this one has the turn: it waits (no "database is locked"), and
    writes once the turn is given back."""
    conn = database.engine.connect()
    conn.begin()
    conn.execute(text("INSERT INTO t (writer, n) VALUES ('first', 1)"))
    script = (WRITER.replace("'killed'", "'second'").replace("time.sleep(60)", "conn.commit()")
              .replace("conn.begin()", "print('asking', flush=True)\nconn.begin()"))
    proc = subprocess.Popen([sys.executable, "-c", script, str(tmp_path / "q.sqlite")], stdout=subprocess.PIPE,
                            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)})
    assert proc.stdout.readline().strip() == b"asking"
    time.sleep(0.5)
    assert proc.poll() is None  # waiting for the turn
    conn.commit()
    conn.close()
    assert proc.stdout.readline().strip() == b"holding"  # its INSERT went through once the turn was free
    assert proc.wait(timeout=30) == 0
    with database.engine.connect() as c:
        assert c.execute(text("SELECT writer FROM t ORDER BY id")).scalars().all() == ["first", "second"]


def test_a_forked_child_starts_with_a_queue_of_its_own(database):
    conn = database.engine.connect()
    conn.begin()
    conn.execute(text("INSERT INTO t (writer, n) VALUES ('parent', 1)"))
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: not holding the parent's turn, nor sharing its lock file
        queue = database.engine._clinlabel_write_queue
        ok = not queue._local.locked() and queue._fd is None and queue._holder is None
        os.write(write, b"1" if ok and not lock_file_is_free(database) else b"0")
        os._exit(0)
    os.close(write)
    assert os.read(read, 1) == b"1"
    os.waitpid(pid, 0)
    conn.commit()
    conn.close()
    assert turn_is_free(database)


def test_the_queue_can_be_turned_off(tmp_path, monkeypatch):
    monkeypatch.setenv("CLINLABEL_SQLITE_WRITE_QUEUE", "0")
    db = Database(f"sqlite:///{tmp_path / 'off.sqlite'}")
    assert not hasattr(db.engine, "_clinlabel_write_queue")
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    db.dispose()


def test_an_in_memory_database_has_no_queue():
    db = Database("sqlite://")
    assert not hasattr(db.engine, "_clinlabel_write_queue")
    assert isinstance(queue_writers(db.engine), _NoQueue)
    db.dispose()


def test_the_lock_file_takes_the_database_permissions(tmp_path):
    path = tmp_path / "shared.sqlite"
    path.touch()
    os.chmod(path, 0o660)
    db = Database(f"sqlite:///{path}")
    with db.engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    assert os.stat(f"{path}-writers").st_mode & 0o777 == 0o660
    db.dispose()


def test_an_unopenable_lock_file_still_queues_this_process_and_writes(tmp_path, database, caplog):
    queue = database.engine._clinlabel_write_queue
    queue._reset()
    os.unlink(queue.lock_path)
    os.mkdir(queue.lock_path)  # a folder where the file should be: open() fails
    try:
        with database.engine.begin() as conn:
            conn.execute(text("INSERT INTO t (writer, n) VALUES ('a', 1)"))
            assert queue._local.locked()
        assert not queue._local.locked()
        assert "cannot open" in caplog.text
        with database.engine.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM t")).scalar() == 1
    finally:
        os.rmdir(queue.lock_path)
        queue._reset()
